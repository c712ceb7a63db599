"""Smoke test of the built images, from their unpacked roots (infra/image/run_rootfs.py): fakekube's
image serves, the gateway's image proxies to it, ``/readyz`` answers, SIGTERM ends it; and the cold
start: milliseconds from starting the gateway image's entry point to its first proxied 200 (a
RayCluster list), measured ``--runs`` times (polling every 5 ms, so each figure is within 5 ms).

Usage (root; after ``make image``): python3 infra/image/smoke.py [--runs 3]. Prints one line per
fact; exits 1 when something does not answer. ``make image-smoke`` runs it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_rootfs import command  # noqa: E402


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    """(status, body) of GET ``url``; (0, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        return 0, str(e)


def wait(url: str, proc: subprocess.Popen[bytes], timeout: float, interval: float = 0.005) -> float:
    """Seconds until GET ``url`` answers 200; raises RuntimeError when ``proc`` exits or time runs out."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        if get(url)[0] == 200:
            return time.monotonic() - t0
        time.sleep(interval)
    raise RuntimeError(f"{url} not 200 after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM the image's entry point (``unshare``'s child: unshare itself ignores SIGTERM while it
    waits, as a container runtime's shim would pass it on); seconds until it exited."""
    t0 = time.monotonic()
    children = [
        int(pid)
        for task in Path(f"/proc/{proc.pid}/task").glob("*")
        for pid in (task / "children").read_text().split()
    ]
    for pid in children or [proc.pid]:
        os.kill(pid, signal.SIGTERM)
    proc.wait(30)
    return time.monotonic() - t0


def main() -> int:
    """Run the smoke test; 0 when every step answered."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    fk_port = free_port()
    fk = subprocess.Popen(command("kuberay-fakekube", [], ["--host", "127.0.0.1", "--port", str(fk_port)]))
    try:
        print(f"smoke: fakekube image up in {wait(f'http://127.0.0.1:{fk_port}/healthz', fk, 60):.2f} s")
        env = [
            f"KUBERAY_APISERVER_UPSTREAM=http://127.0.0.1:{fk_port}",
            "KUBERAY_APISERVER_AUTHENTICATION=none",
            "KUBERAY_APISERVER_ALLOW_UNAUTHENTICATED=true",
        ]
        colds = []
        for run in range(a.runs):
            port = free_port()
            gw = subprocess.Popen(command("kuberay-apiserver", [*env, f"KUBERAY_APISERVER_PORT={port}"], []))
            try:
                url = f"http://127.0.0.1:{port}"
                cold = wait(f"{url}/apis/ray.io/v1/namespaces/default/rayclusters", gw, 60)
                colds.append(cold)
                status, body = get(f"{url}/readyz")
                ms = cold * 1000
                print(f"smoke: run {run + 1}: first proxied 200 in {ms:.0f} ms; /readyz: {status} {body!r}")
                if status != 200:
                    return 1
            finally:
                print(f"smoke: run {run + 1}: SIGTERM -> exited in {stop(gw):.2f} s")
        print(
            f"smoke: cold start to first proxied 200: median {statistics.median(colds) * 1000:.0f} ms "
            f"(runs: {', '.join(f'{c * 1000:.0f}' for c in colds)} ms; goal <= 400 ms)"
        )
    finally:
        stop(fk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
