#!/bin/sh
# Build the gateway and fakekube container images on this machine, from Debian packages and the
# wheel built from this repository: no registry image is pulled (`make image` runs this).
#
# 1. the project's wheel (pip wheel --no-deps);
# 2. a Debian root filesystem holding only Python: mmdebstrap's "extract" variant unpacks
#    python3-minimal and libpython3-stdlib with their hard dependencies (no Essential set: no
#    shell, coreutils, perl, apt; no compiler), docs/man/locales/gconv and the stdlib's test suite
#    excluded; the Mozilla CA certificates (the ca-certificates package, its files only) joined
#    into /etc/ssl/certs/ca-certificates.crt as its update-ca-certificates would;
# 3. the gateway's runtime: the wheel and the dependencies pip resolves for it, less those that
#    `kuberay-apiserver serve` never imports (GATEWAY_UNUSED), into /opt/kuberay/lib; fakekube's:
#    the package `fakekube/` and what the `fakekube` extra adds (less FAKEKUBE_UNUSED) into
#    /opt/kuberay/fakekube-lib. Each list is checked: the image's own Python imports every module
#    of handler/ and kubeapi/ from /opt/kuberay/lib alone, and fakekube's server and CEL with both.
#    Extension modules stripped of debug symbols. Everything byte-compiled ahead of time (the root filesystem is read-only at run time, so
#    Python could not write __pycache__); a non-root user kuberay (uid/gid 65532);
# 4. buildah: FROM scratch + the gateway's tree -> kuberay-apiserver:$TAG (entry point
#    `kuberay-apiserver serve`, port 8888, USER 65532); that image + a layer with fakekube's tree
#    -> kuberay-fakekube:$TAG (entry point `fakekube serve`, command `--host 0.0.0.0 --port 8001`),
#    both in podman's local storage, plus OCI archives under build/image/.
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
# Installed by pip as dependencies of dependencies, never imported by `kuberay-apiserver serve`:
# litestar's CLI (rich-click, rich, pygments, markdown-it-py, mdurl), its OpenAPI example
# generator (polyfactory, which brings faker: 25 MB), its test client (httpx, httpcore) and HTMX
# plugin; fakekube's own dependencies (croniter, python-dateutil, six, tzdata, jsonpatch,
# jsonpointer), which go into fakekube's layer instead.
GATEWAY_UNUSED="faker polyfactory rich-click rich pygments markdown-it-py mdurl httpx httpcore
litestar-htmx croniter python-dateutil six tzdata jsonpatch jsonpointer"
# The same litestar leftovers, and pydantic, which typer (the CLI of common-expression-language,
# imported by `import cel`) requires but `import cel` does not import.
FAKEKUBE_UNUSED="faker polyfactory rich-click markdown-it-py mdurl httpx httpcore litestar-htmx
pydantic pydantic-core annotated-types typing-inspection"
for tool in mmdebstrap buildah; do
    command -v "$tool" >/dev/null || { echo "image: FAILED: $tool not found (apt-get install -y mmdebstrap buildah podman)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT/wheels"
rootfs="$OUT/rootfs"
start=$(date +%s)

echo "image: [1/4] wheel"
$NICE "$PYTHON" -m pip wheel -q --no-deps -w "$OUT/wheels" .
wheel=$(ls "$OUT"/wheels/kuberay_apiserver-*.whl)

echo "image: [2/4] Debian $SUITE root filesystem: Python only (mmdebstrap, variant extract)"
# shellcheck disable=SC2086
$NICE mmdebstrap --quiet --variant=extract --include=python3-minimal,libpython3-stdlib \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/lib/*/gconv/*' --dpkgopt='path-exclude=/usr/lib/python3*/test/*' \
    "$SUITE" "$rootfs" ${MIRROR:-}
# The CA certificates alone: ca-certificates' other dependencies (openssl, debconf, perl) are what
# its maintainer script needs to build the bundle, done here instead.
# shellcheck disable=SC2086
$NICE mmdebstrap --quiet --variant=extract --include=ca-certificates \
    --dpkgopt='path-exclude=/*' --dpkgopt='path-include=/usr/share/ca-certificates/*' \
    "$SUITE" "$OUT/ca" ${MIRROR:-}
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/lib/ssl"
cat "$OUT"/ca/usr/share/ca-certificates/mozilla/*.crt > "$rootfs/etc/ssl/certs/ca-certificates.crt"
ln -sfn /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"  # OpenSSL's default paths (OPENSSLDIR)
ln -sfn /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
rm -rf "$OUT/ca"
pyver=$(chroot "$rootfs" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
hostver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

echo "image: [3/4] the gateway's and fakekube's Python packages for Python $pyver"
lib="$rootfs/opt/kuberay/lib"
fklib="$rootfs/opt/kuberay/fakekube-lib"
mkdir -p "$lib" "$fklib"
# Binary wheels only (no compiler anywhere); the platform tag is the rootfs' glibc (bookworm 2.36).
target_pip() {
    $NICE "$PYTHON" -m pip "$@" -q --no-compile --no-cache-dir \
        --python-version "$pyver" --only-binary=:all: --implementation cp \
        --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64
}
# What pip resolves for REQUIREMENT (a name==version per line; the project's wheel as its path),
# less the names in UNUSED and in SKIP (a file of names); its names go to NAMES (a file).
resolve() {
    target_pip install --dry-run --ignore-installed --target "$OUT/resolve" --report "$OUT/report.json" "$1" \
        >/dev/null
    "$PYTHON" - "$OUT/report.json" "$wheel" "$2" "$3" "$4" <<'PY'
import json, re, sys
report, wheel, unused, skip_file, names_file = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
skip = {norm(n) for n in unused.split()}
if skip_file:
    skip |= set(open(skip_file).read().split())
names = []
for item in json.load(open(report))["install"]:
    name = norm(item["metadata"]["name"])
    if name not in skip:
        names.append(name)
        print(wheel if name == "kuberay-apiserver" else f"{name}=={item['metadata']['version']}")
open(names_file, "w").write("\n".join(names) + "\n")
PY
}
resolve "$wheel" "$GATEWAY_UNUSED" "" "$OUT/gateway-names.txt" > "$OUT/gateway-packages.txt"
resolve "$wheel[fakekube]" "$FAKEKUBE_UNUSED" "$OUT/gateway-names.txt" "$OUT/fakekube-names.txt" \
    > "$OUT/fakekube-packages.txt"
# shellcheck disable=SC2046
target_pip install --no-deps --target "$lib" $(cat "$OUT/gateway-packages.txt")
# shellcheck disable=SC2046
target_pip install --no-deps --target "$fklib" $(cat "$OUT/fakekube-packages.txt")
rm -rf "$lib/bin" "$fklib/bin" "$OUT/resolve" "$OUT/report.json"  # console scripts for the host
mv "$lib/fakekube" "$fklib/fakekube"  # the gateway never imports fakekube (ARCHITECTURE.md)
# Debug symbols and static symbol tables out of the extension modules (uvloop 13 -> 1.6 MB,
# cryptography 15 -> 12 MB); their exported (dynamic) symbols stay. With the host's binutils;
# nothing of it goes into the image.
if command -v strip >/dev/null; then
    find "$lib" "$fklib" -name '*.so' -type f -exec strip --strip-unneeded {} +
else
    echo "image: note: no strip on this machine; extension modules keep their debug symbols"
fi
launcher() {  # NAME MODULE PATH...: /usr/local/bin/NAME runs MODULE's main with PATHs first
    name=$1 module=$2
    shift 2
    paths=$(printf '"%s", ' "$@")
    printf '#!/usr/bin/python3 -I\nimport sys\nsys.path[0:0] = [%s]\nfrom %s import main\nsys.exit(main())\n' \
        "${paths%, }" "$module" > "$rootfs/usr/local/bin/$name"
    chmod 0755 "$rootfs/usr/local/bin/$name"
}
mkdir -p "$rootfs/usr/local/bin"
launcher kuberay-apiserver handler.cli /opt/kuberay/lib
launcher fakekube fakekube.cli /opt/kuberay/fakekube-lib /opt/kuberay/lib
# Byte-compile with the image's own interpreter (the standard library too: extracting the Debian
# packages skipped their py3compile): a read-only root filesystem cannot take __pycache__.
chroot "$rootfs" /usr/bin/python3 -m compileall -q -j 0 "/usr/lib/python$pyver" \
    /opt/kuberay/lib /opt/kuberay/fakekube-lib >/dev/null
# The package lists, checked: every gateway module imports without fakekube's tree; fakekube's
# server and CEL import with it.
KUBERAY_APISERVER_UPSTREAM=http://127.0.0.1:9 chroot "$rootfs" /usr/bin/python3 -I -c '
import importlib, pkgutil, sys
sys.path[0:0] = ["/opt/kuberay/lib"]
import granian.server.mp, uvloop, uvicorn.supervisors.multiprocess
for pkg in ("handler", "kubeapi"):
    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        importlib.import_module(m.name)
assert "fakekube" not in sys.modules
' || { echo "image: FAILED: the gateway image lacks a module it imports" >&2; exit 1; }
chroot "$rootfs" /usr/bin/python3 -I -c '
import sys
sys.path[0:0] = ["/opt/kuberay/fakekube-lib", "/opt/kuberay/lib"]
import fakekube.cli, fakekube.server, fakekube.crd.cel
fakekube.crd.cel._cel()
' || { echo "image: FAILED: the fakekube image lacks a module it imports" >&2; exit 1; }
printf 'root:x:0:0:root:/root:/nonexistent\nkuberay:x:65532:65532:kuberay-apiserver:/nonexistent:/nonexistent\n' \
    > "$rootfs/etc/passwd"
printf 'root:x:0:\nkuberay:x:65532:\n' > "$rootfs/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
mkdir -p "$rootfs/tmp" "$rootfs/proc" "$rootfs/dev/shm"
chmod 1777 "$rootfs/tmp"
# What no runtime needs: dpkg's own tools and logs, apt's lists, mmdebstrap's apt setup.
rm -rf "$rootfs/var/cache/"* "$rootfs/var/log/"* "$rootfs/var/lib/apt" "$rootfs/etc/apt" \
    "$rootfs"/usr/bin/dpkg* "$rootfs/usr/bin/update-alternatives" "$rootfs/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
for cc in gcc cc c++ g++ clang ld sh bash; do
    if [ -e "$rootfs/usr/bin/$cc" ] || [ -e "$rootfs/bin/$cc" ]; then
        echo "image: FAILED: $cc is in the image" >&2
        exit 1
    fi
done
[ "$pyver" = "$hostver" ] || echo "image: note: host Python $hostver, image Python $pyver"

echo "image: [4/4] buildah: kuberay-apiserver:$TAG and kuberay-fakekube:$TAG"
tar -C "$rootfs" --numeric-owner --exclude=./opt/kuberay/fakekube-lib --exclude=./usr/local/bin/fakekube \
    -cf "$OUT/rootfs.tar" .
tar -C "$rootfs" --numeric-owner -cf "$OUT/fakekube-layer.tar" ./opt/kuberay/fakekube-lib ./usr/local/bin/fakekube
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$OUT/rootfs.tar" / >/dev/null
buildah config \
    --user 65532:65532 --workingdir / --port 8888 \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --env KUBERAY_APISERVER_HOST=0.0.0.0 --env KUBERAY_APISERVER_PORT=8888 \
    --label org.opencontainers.image.title=kuberay-apiserver \
    --label org.opencontainers.image.source=infra/image/build.sh \
    --entrypoint '["/usr/local/bin/kuberay-apiserver", "serve"]' --cmd '' "$ctr"
buildah commit --quiet --rm "$ctr" "localhost/kuberay-apiserver:$TAG" >/dev/null
ctr=$(buildah from "localhost/kuberay-apiserver:$TAG")
buildah add --quiet "$ctr" "$OUT/fakekube-layer.tar" / >/dev/null
buildah config --port 8001 --label org.opencontainers.image.title=kuberay-fakekube \
    --entrypoint '["/usr/local/bin/fakekube", "serve"]' \
    --cmd '["--host", "0.0.0.0", "--port", "8001"]' "$ctr"
buildah commit --quiet --rm "$ctr" "localhost/kuberay-fakekube:$TAG" >/dev/null
buildah push --quiet "localhost/kuberay-apiserver:$TAG" "oci-archive:$OUT/kuberay-apiserver.oci.tar" >/dev/null
buildah push --quiet "localhost/kuberay-fakekube:$TAG" "oci-archive:$OUT/kuberay-fakekube.oci.tar" >/dev/null
echo "image: gateway tree $(du -sh --exclude=fakekube-lib "$rootfs" | cut -f1), fakekube layer $(du -sh "$fklib" | cut -f1)"
echo "image: OCI archives (compressed layers): $(du -h "$OUT/kuberay-apiserver.oci.tar" | cut -f1) kuberay-apiserver, $(du -h "$OUT/kuberay-fakekube.oci.tar" | cut -f1) kuberay-fakekube"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E 'kuberay-(apiserver|fakekube)' || true
echo "image: built in $(( $(date +%s) - start )) s"
