#!/bin/sh
# Build infra/kuberay-operator/bin/kuberay-operator (the real KubeRay operator v1.5.0 as a Go module
# dependency, plus the harness and fake dashboard here), only when the sources changed.
# Same scheme as infra/refkube/build.sh: a stamp (sha256 of *.go, go.mod, go.sum, this script, Go
# version) in bin/.stamp; one build at a time (flock on bin/.lock).
# Prints "kuberay-operator-build: cached" or "kuberay-operator-build: built in N s".
# Env: GO (default go), OPERATOR_BUILD_FLAGS (default "-p 2"), NICE (default "nice -n 10").
# Fails (exit 1, message on stderr) when Go is missing or the build fails; never skips.
set -eu
cd "$(dirname "$0")"
GO=${GO:-go}
NICE=${NICE:-nice -n 10}
FLAGS=${OPERATOR_BUILD_FLAGS:--p 2}
if ! goversion=$("$GO" version 2>/dev/null); then
    echo "kuberay-operator-build: FAILED: '$GO' not found; Go >= $(awk '$1 == "go" {print $2}' go.mod) is needed" >&2
    exit 1
fi
mkdir -p bin
exec 9>bin/.lock
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
stamp=$( (cat go.mod go.sum build.sh ./*.go; echo "$goversion") | sha256sum | cut -d' ' -f1)
if [ -x bin/kuberay-operator ] && [ "$(cat bin/.stamp 2>/dev/null)" = "$stamp" ]; then
    echo "kuberay-operator-build: cached"
    exit 0
fi
start=$(date +%s)
# shellcheck disable=SC2086
if ! $NICE "$GO" build $FLAGS -o bin/kuberay-operator.tmp .; then
    echo "kuberay-operator-build: FAILED: go build exited non-zero (output above)" >&2
    exit 1
fi
mv bin/kuberay-operator.tmp bin/kuberay-operator
echo "$stamp" > bin/.stamp
echo "kuberay-operator-build: built in $(( $(date +%s) - start )) s"
