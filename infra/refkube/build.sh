#!/bin/sh
# Build infra/refkube/bin/refkube from the Go sources here, only when they changed.
#
# The binary is cached in bin/ (gitignored) with a stamp holding the sha256 of every source
# (*.go, go.mod, go.sum, this script) and the Go version; an unchanged stamp means no rebuild.
# Prints one line: "refkube-build: cached" or "refkube-build: built in N s".
# Go's own build cache ($GOCACHE) makes a rebuild after a source edit much faster than a cold one.
# Env: GO (default go), REFKUBE_BUILD_FLAGS (extra `go build` flags, default "-p 2"),
#      NICE (default "nice -n 10": builds yield the CPU to tests running beside them).
set -eu
cd "$(dirname "$0")"
GO=${GO:-go}
NICE=${NICE:-nice -n 10}
FLAGS=${REFKUBE_BUILD_FLAGS:--p 2}
stamp=$( (cat go.mod go.sum build.sh *.go; "$GO" version) | sha256sum | cut -d' ' -f1)
if [ -x bin/refkube ] && [ "$(cat bin/.stamp 2>/dev/null)" = "$stamp" ]; then
    echo "refkube-build: cached"
    exit 0
fi
mkdir -p bin
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
$NICE "$GO" build $FLAGS -ldflags "$ldflags" -o bin/refkube.tmp .
mv bin/refkube.tmp bin/refkube
echo "$stamp" > bin/.stamp
echo "refkube-build: built in $(( $(date +%s) - start )) s"
