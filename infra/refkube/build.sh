#!/bin/sh
# Build infra/refkube/bin/refkube from the Go sources here, only when they changed.
#
# The binary is cached in bin/ (gitignored) with a stamp holding the sha256 of every source
# (*.go, go.mod, go.sum, this script) and the Go version; an unchanged stamp means no rebuild.
# Prints one line: "refkube-build: cached" or "refkube-build: built in N s".
# Go's own build cache ($GOCACHE) makes a rebuild after a source edit much faster than a cold one.
# Env: GO (default go), REFKUBE_BUILD_FLAGS (extra `go build` flags, default "-p 2"),
#      NICE (default "nice -n 10": builds yield the CPU to tests running beside them).
# Fails (exit 1, message on stderr) when Go is missing or the build fails; never skips.
# One build at a time (flock on bin/.lock): `make test` starts this script in the background and the
# contract tests run it again; the second caller waits for the first, then finds the stamp fresh.
set -eu
cd "$(dirname "$0")"
GO=${GO:-go}
NICE=${NICE:-nice -n 10}
FLAGS=${REFKUBE_BUILD_FLAGS:--p 2}
if ! goversion=$("$GO" version 2>/dev/null); then
    echo "refkube-build: FAILED: '$GO' not found; Go >= $(awk '$1 == "go" {print $2}' go.mod) is needed" \
        "to build the reference kube-apiserver (https://go.dev/dl)" >&2
    exit 1
fi
mkdir -p bin
exec 9>bin/.lock
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
stamp=$( (cat go.mod go.sum build.sh ./*.go; echo "$goversion") | sha256sum | cut -d' ' -f1)
if [ -x bin/refkube ] && [ "$(cat bin/.stamp 2>/dev/null)" = "$stamp" ]; then
    echo "refkube-build: cached"
    exit 0
fi
start=$(date +%s)
# -trimpath must stay off: the kube-apiserver test harness finds its serving-cert fixtures
# through its own source path (cmd/kube-apiserver/app/testing pkgPath).
# /version reports the kube-apiserver release the modules come from (else "v0.0.0-master", which
# kubectl cannot parse).
ver=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' go.mod)
minor=$(echo "$ver" | cut -d. -f2)
pkg=k8s.io/component-base/version
ldflags="-X $pkg.gitVersion=$ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
# shellcheck disable=SC2086
if ! $NICE "$GO" build $FLAGS -ldflags "$ldflags" -o bin/refkube.tmp .; then
    echo "refkube-build: FAILED: go build exited non-zero (output above)" >&2
    exit 1
fi
mv bin/refkube.tmp bin/refkube
echo "$stamp" > bin/.stamp
echo "refkube-build: built in $(( $(date +%s) - start )) s"
