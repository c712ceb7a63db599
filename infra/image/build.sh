#!/bin/sh
# Build the gateway and fakekube container images on this machine, from Debian packages and the
# wheel built from this repository: no registry image is pulled (`make image` runs this).
#
# 1. the project's wheel (pip wheel --no-deps) and its dependencies' wheels (binary only);
# 2. a Debian root filesystem made by mmdebstrap (variant "essential": dpkg's Essential set plus
#    python3 and ca-certificates; no apt, no compiler, docs/man/locales excluded);
# 3. the wheels installed into /opt/kuberay/lib (pip --target with the rootfs' Python version),
#    byte-compiled ahead of time (the root filesystem is read-only at run time, so Python could not
#    write __pycache__), two launchers /usr/local/bin/kuberay-apiserver and /usr/local/bin/fakekube,
#    and a non-root user kuberay (uid/gid 65532);
# 4. buildah: FROM scratch + that tree -> kuberay-apiserver:$TAG (entry point `kuberay-apiserver
#    serve`, port 8888, USER 65532) and kuberay-fakekube:$TAG (entry point `fakekube serve`, command
#    `--host 0.0.0.0 --port 8001`), both in podman's local storage, plus OCI archives under build/image/.
#
# Env: SUITE (Debian suite, default bookworm: python3.11, the project's minimum), TAG (default
#      dev), OUT (default build/image), PYTHON (host python with pip, default .venv/bin/python),
#      MIRROR (optional Debian mirror URL for mmdebstrap; default: the host's apt sources).
# Needs root (or rootless podman/buildah set up), mmdebstrap, buildah. Prints the image sizes.
set -eu
cd "$(dirname "$0")/../.."
SUITE=${SUITE:-bookworm}
TAG=${TAG:-dev}
OUT=${OUT:-build/image}
PYTHON=${PYTHON:-.venv/bin/python}
NICE=${NICE:-nice -n 10}
for tool in mmdebstrap buildah; do
    command -v "$tool" >/dev/null || { echo "image: FAILED: $tool not found (apt-get install -y mmdebstrap buildah podman)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT/wheels"
rootfs="$OUT/rootfs"
start=$(date +%s)

echo "image: [1/4] wheels"
$NICE "$PYTHON" -m pip wheel -q --no-deps -w "$OUT/wheels" .
wheel=$(ls "$OUT"/wheels/kuberay_apiserver-*.whl)

echo "image: [2/4] Debian $SUITE root filesystem (mmdebstrap, variant essential)"
# shellcheck disable=SC2086
$NICE mmdebstrap --quiet --variant=essential --include=python3,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$SUITE" "$rootfs" ${MIRROR:-}
pyver=$(chroot "$rootfs" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
hostver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

echo "image: [3/4] install the wheel and its dependencies for Python $pyver"
lib="$rootfs/opt/kuberay/lib"
mkdir -p "$lib"
# Binary wheels only (no compiler anywhere); the platform tag is the rootfs' glibc (bookworm 2.36).
$NICE "$PYTHON" -m pip install -q --no-compile --no-cache-dir --target "$lib" \
    --python-version "$pyver" --only-binary=:all: --implementation cp \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64 \
    "$wheel"
rm -rf "$lib/bin"  # console scripts with the host's interpreter path; replaced below
for pair in "kuberay-apiserver:handler.cli" "fakekube:fakekube.cli"; do
    name=${pair%%:*}
    module=${pair#*:}
    cat > "$rootfs/usr/local/bin/$name" <<LAUNCH
#!/usr/bin/python3 -I
import sys
sys.path.insert(0, "/opt/kuberay/lib")
from $module import main
sys.exit(main())
LAUNCH
    chmod 0755 "$rootfs/usr/local/bin/$name"
done
# Byte-compile with the image's own interpreter: a read-only root filesystem cannot take __pycache__.
chroot "$rootfs" /usr/bin/python3 -m compileall -q -j 0 /opt/kuberay/lib >/dev/null
echo "kuberay:x:65532:65532:kuberay-apiserver:/nonexistent:/usr/sbin/nologin" >> "$rootfs/etc/passwd"
echo "kuberay:x:65532:" >> "$rootfs/etc/group"
# What no runtime needs: package caches, dpkg's logs.
rm -rf "$rootfs/var/cache/"* "$rootfs/var/log/"* "$rootfs/var/lib/apt/lists/"*
for cc in gcc cc c++ g++ clang ld; do
    if [ -e "$rootfs/usr/bin/$cc" ]; then echo "image: FAILED: a compiler ($cc) is in the image" >&2; exit 1; fi
done
[ "$pyver" = "$hostver" ] || echo "image: note: host Python $hostver, image Python $pyver"

echo "image: [4/4] buildah: kuberay-apiserver:$TAG and kuberay-fakekube:$TAG"
tar -C "$rootfs" --numeric-owner -cf "$OUT/rootfs.tar" .
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$OUT/rootfs.tar" / >/dev/null
buildah config \
    --user 65532:65532 --workingdir / --port 8888 \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 \
    --env KUBERAY_APISERVER_HOST=0.0.0.0 --env KUBERAY_APISERVER_PORT=8888 \
    --label org.opencontainers.image.title=kuberay-apiserver \
    --label org.opencontainers.image.source=infra/image/build.sh \
    --entrypoint '["/usr/local/bin/kuberay-apiserver", "serve"]' --cmd '' "$ctr"
buildah commit --quiet --rm "$ctr" "localhost/kuberay-apiserver:$TAG" >/dev/null
ctr=$(buildah from "localhost/kuberay-apiserver:$TAG")
buildah config --port 8001 --label org.opencontainers.image.title=kuberay-fakekube \
    --entrypoint '["/usr/local/bin/fakekube", "serve"]' \
    --cmd '["--host", "0.0.0.0", "--port", "8001"]' "$ctr"
buildah commit --quiet --rm "$ctr" "localhost/kuberay-fakekube:$TAG" >/dev/null
buildah push --quiet "localhost/kuberay-apiserver:$TAG" "oci-archive:$OUT/kuberay-apiserver.oci.tar" >/dev/null
buildah push --quiet "localhost/kuberay-fakekube:$TAG" "oci-archive:$OUT/kuberay-fakekube.oci.tar" >/dev/null
echo "image: rootfs $(du -sh "$rootfs" | cut -f1), OCI archive $(du -h "$OUT/kuberay-apiserver.oci.tar" | cut -f1) (compressed layers)"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E 'kuberay-(apiserver|fakekube)' || true
echo "image: built in $(( $(date +%s) - start )) s"
