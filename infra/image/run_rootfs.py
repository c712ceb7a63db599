"""Run a built image's own entry point from its unpacked root filesystem, without a container engine.

For machines where ``podman run`` cannot start containers (on the build machine of this repository
crun and runc both fail to set RLIMIT_NOFILE for the container's process: README "Deploy: container
image"). It reads the OCI archive ``infra/image/build.sh`` wrote (``build/image/NAME.oci.tar``):
the image config's ``Entrypoint``, ``Env``, ``User`` and ``WorkingDir``, and its layers, unpacked
into ``build/image/unpacked/NAME`` (again only when the image changed). Then, in new mount and PID
namespaces (``unshare``), the root is bind-mounted READ-ONLY with tmpfs on ``/tmp`` and
``/dev/shm`` and a fresh ``/proc`` (what a pod with ``readOnlyRootFilesystem`` and an emptyDir
``/tmp`` has), and the entry point runs chrooted as the image's user with exactly the image's
environment plus ``-e`` pairs. The network is the host's (loopback reaches test servers).

Usage: python3 infra/image/run_rootfs.py NAME [-e KEY=VALUE ...] [-- ARGS...]   (root needed)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "image"


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    algo, _, hexd = digest.partition(":")
    f = archive.extractfile(f"blobs/{algo}/{hexd}")
    assert f is not None
    return f.read()


def unpack(name: str) -> tuple[Path, dict[str, object]]:
    """Unpack image ``name``'s layers (cached by manifest digest); return (root, image config)."""
    with tarfile.open(OUT / f"{name}.oci.tar") as archive:
        index = json.loads(_blob_index(archive))
        manifest_digest = index["manifests"][0]["digest"]
        manifest = json.loads(_blob(archive, manifest_digest))
        config = json.loads(_blob(archive, manifest["config"]["digest"]))["config"]
        root = OUT / "unpacked" / name
        stamp = root.parent / f"{name}.digest"
        if not (root.is_dir() and stamp.is_file() and stamp.read_text() == manifest_digest):
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            for layer in manifest["layers"]:
                blob = archive.extractfile("blobs/" + layer["digest"].replace(":", "/"))
                assert blob is not None
                with tarfile.open(fileobj=blob, mode="r|*") as t:
                    t.extractall(root, numeric_owner=True, filter="fully_trusted")
            stamp.write_text(manifest_digest)
    return root, config


def _blob_index(archive: tarfile.TarFile) -> bytes:
    f = archive.extractfile("index.json")
    assert f is not None
    return f.read()


def _host_tool(name: str) -> str:
    """The absolute path of the host's ``name`` (coreutils), found before the image's PATH applies."""
    found = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise SystemExit(f"run_rootfs: {name} not found on this machine")
    return found


def command(name: str, env: list[str], args: list[str]) -> list[str]:
    """The ``unshare ... chroot`` command line that runs image ``name`` read-only."""
    root, config = unpack(name)
    entry = [*config.get("Entrypoint", []), *(args or config.get("Cmd") or [])]  # type: ignore[misc]
    user = str(config.get("User") or "0:0")
    environment = [*config.get("Env", []), *env]  # type: ignore[misc]
    r = shlex.quote(str(root))
    script = " && ".join(
        [
            f"mount --bind {r} {r}",
            f"mount -o remount,bind,ro {r}",
            f"mount -t proc proc {r}/proc",
            f"mount -t tmpfs -o size=16m,mode=1777 tmpfs {r}/tmp",
            f"mount -t tmpfs -o size=16m,mode=1777 tmpfs {r}/dev/shm",
            # The host's env and chroot: the image has neither (no coreutils, no shell).
            f"exec {shlex.quote(_host_tool('env'))} -i "
            + " ".join(shlex.quote(e) for e in environment)
            + f" {shlex.quote(_host_tool('chroot'))} --userspec="
            + shlex.quote(user)
            + f" {r} "
            + " ".join(shlex.quote(a) for a in entry),
        ]
    )
    return [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child=SIGTERM",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ]


def main() -> None:
    """Parse the command line and exec the image's entry point (does not return)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("name", help="kuberay-apiserver or kuberay-fakekube")
    p.add_argument("-e", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("args", nargs="*", help="replace the image's Cmd (after --)")
    a = p.parse_args()
    argv = command(a.name, a.e, a.args)
    sys.stdout.flush()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
