#!/bin/sh
# Build infra/helmbin/bin/helm (Helm v4 from its Go module, version pinned in go.mod) only when the
# sources changed: the same pattern as infra/refkube/build.sh.
#
# The binary is cached in bin/ (gitignored) with a stamp holding the sha256 of the sources (main.go,
# go.mod, go.sum, this script) and the Go version; an unchanged stamp means no rebuild.
# Prints one line: "helm-build: cached" or "helm-build: built in N s".
# Env: GO (default go), HELM_BUILD_FLAGS (extra `go build` flags, default "-p 2 -trimpath"),
#      NICE (default "nice -n 10": builds yield the CPU to tests running beside them).
# Fails (exit 1, message on stderr) when Go is missing or the build fails; never skips.
# One build at a time (flock on bin/.lock): `make test` starts this in the background and the chart
# tests run it again; the second caller waits for the first, then finds the stamp fresh.
set -eu
cd "$(dirname "$0")"
GO=${GO:-go}
NICE=${NICE:-nice -n 10}
FLAGS=${HELM_BUILD_FLAGS:--p 2 -trimpath}
if ! goversion=$("$GO" version 2>/dev/null); then
    echo "helm-build: FAILED: '$GO' not found; Go >= $(awk '$1 == "go" {print $2}' go.mod) is needed" \
        "to build Helm (https://go.dev/dl)" >&2
    exit 1
fi
mkdir -p bin
exec 9>bin/.lock
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
stamp=$( (cat go.mod go.sum build.sh ./*.go; echo "$goversion") | sha256sum | cut -d' ' -f1)
if [ -x bin/helm ] && [ "$(cat bin/.stamp 2>/dev/null)" = "$stamp" ]; then
    echo "helm-build: cached"
    exit 0
fi
start=$(date +%s)
ver=$(awk '{for (i = 1; i < NF; i++) if ($i == "helm.sh/helm/v4") {print $(i + 1); exit}}' go.mod)
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$ver"
# shellcheck disable=SC2086
if ! $NICE "$GO" build $FLAGS -ldflags "$ldflags" -o bin/helm.tmp .; then
    echo "helm-build: FAILED: go build exited non-zero (output above)" >&2
    exit 1
fi
mv bin/helm.tmp bin/helm
echo "$stamp" > bin/.stamp
echo "helm-build: built in $(( $(date +%s) - start )) s"
