"""Machine-level plumbing for the benchmarks: tools, CPU pinning, child processes and their memory.

Memory figures come from Linux ``/proc``: ``VmRSS`` (resident set, kB) and ``VmHWM`` (its peak),
whose peak is reset by writing ``5`` to ``/proc/PID/clear_refs`` (see proc(5)).  A server such as
granian runs its workers as child processes, so every figure sums the whole process tree.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    """Path of a console script installed next to the running interpreter (e.g. ``kubectl``).

    Raises FileNotFoundError when it is not installed there nor on PATH.
    """
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is neither in {VENV_BIN} nor on PATH")
    return found


def _which(name: str) -> str | None:
    """Find a system binary, also in the sbin directories a non-login PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def ensure_system_tools() -> dict[str, str]:
    """Return the paths of ``nginx``, ``wrk`` and ``taskset``, installing missing ones with apt-get.

    Installation needs root (the harness runs as root on the benchmark machines); Debian's
    ``nginx-light`` is preferred, ``nginx`` taken where the light flavour no longer exists.
    Raises RuntimeError when a tool is still missing afterwards.
    """
    wanted = {"nginx": ("nginx-light", "nginx"), "wrk": ("wrk",), "taskset": ("util-linux",)}
    missing = [name for name in wanted if _which(name) is None]
    if missing:
        if os.geteuid() != 0:
            raise RuntimeError(f"missing {missing}; install them (apt-get install nginx-light wrk) as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        for name in missing:
            for package in wanted[name]:
                done = subprocess.run(["apt-get", "install", "-y", "-q", package], env=env)
                if done.returncode == 0 and _which(name):
                    break
    paths = {name: _which(name) for name in wanted}
    absent = [name for name, path in paths.items() if path is None]
    if absent:
        raise RuntimeError(f"could not install {absent}")
    return {name: str(path) for name, path in paths.items()}


@dataclass(frozen=True)
class CpuLayout:
    """Which cores servers and load generators run on (``taskset -c`` lists, e.g. ``"0"``).

    The default splits a 2-core machine: the server under test (gateway or ``kubectl proxy``,
    with the upstream's fakekube when it is one) on core 0; wrk, the static nginx upstream and the
    watch clients on core 1.  An empty string means "not pinned".
    """

    server: str = "0"
    client: str = "1"

    def describe(self) -> str:
        """One sentence for RESULTS.md."""
        if not self.server and not self.client:
            return "nothing pinned; the scheduler shares both cores between servers and load generator"
        return (
            f"server under test pinned to CPU {self.server or 'any'}; load generator (wrk), "
            f"nginx upstream and watch clients pinned to CPU {self.client or 'any'} (taskset)"
        )


def pinned(cmd: Sequence[str], cpus: str) -> list[str]:
    """``cmd`` prefixed with ``taskset -c cpus`` (unchanged when cpus is empty)."""
    return ["taskset", "-c", cpus, *cmd] if cpus else list(cmd)


def raise_fd_limit() -> None:
    """Lift this process's open-file limit to the hard limit; children inherit it (1,000 watches)."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A server started by the harness, in its own session so its whole tree can be stopped.

    ``name`` labels logs; ``port`` is where it listens on 127.0.0.1.
    """

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.perf_counter)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the started process (the root of its tree)."""
        return self.proc.pid

    def stop(self) -> None:
        """Stop the process group started for this service: SIGTERM, then SIGKILL after 5 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the service wrote, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_service(
    name: str,
    cmd: Sequence[str],
    port: int,
    workdir: Path,
    cpus: str = "",
    env: Mapping[str, str] | None = None,
) -> Service:
    """Start ``cmd`` (pinned to ``cpus``) with stdout/stderr to ``workdir/name-port.log``.

    It runs in a new session so that :meth:`Service.stop` reaches its children too.
    """
    log = workdir / f"{name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(cmd, cpus),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            cwd=REPO,
        )
    return Service(name=name, port=port, proc=proc, log=log)


def http_get(
    port: int,
    path: str,
    timeout: float = 5.0,
    host: str = "127.0.0.1",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """GET ``path`` on 127.0.0.1:port with ``headers``; returns (status, body). Raises OSError on
    connection failure."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def http_request(
    port: int, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
) -> tuple[int, bytes]:
    """Send one request with a body to 127.0.0.1:port; returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(
    service: Service,
    path: str,
    timeout: float = 30.0,
    interval: float = 0.001,
    headers: Mapping[str, str] | None = None,
) -> float:
    """Poll ``path`` (sending ``headers``, e.g. a bearer token) until it answers 200; returns
    seconds since the service was started.

    Raises RuntimeError (with the service's log) when it exits or does not answer in time.
    """
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited with {service.proc.returncode}:\n{service.log_tail()}")
        try:
            status, _ = http_get(service.port, path, timeout=2.0, headers=headers)
            if status == 200:
                return time.perf_counter() - service.started
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{service.name} not ready at {path} after {timeout}s:\n{service.log_tail()}")


@contextlib.contextmanager
def running(service: Service) -> Iterator[Service]:
    """Stop ``service`` when the block ends, whatever happens inside."""
    try:
        yield service
    finally:
        service.stop()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from the ``ppid`` field of ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: fields resume after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """Sum of ``VmRSS`` (kB) over the process tree under ``root``."""
    return sum(_status_kb(pid, "VmRSS") for pid in process_tree(root))


def tree_hwm_kb(root: int) -> int:
    """Sum of ``VmHWM`` (peak RSS since the last reset, kB) over the process tree under ``root``."""
    return sum(_status_kb(pid, "VmHWM") for pid in process_tree(root))


def reset_tree_hwm(root: int) -> None:
    """Reset the peak RSS of every process in the tree (``echo 5 > /proc/PID/clear_refs``)."""
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def machine_description() -> str:
    """CPU model, core count, memory, kernel and Python, for RESULTS.md."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (
        f"{model}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def tool_versions(tools: Mapping[str, str]) -> dict[str, str]:
    """First line of ``--version``/``-v`` output of nginx, wrk and kubectl."""
    versions: dict[str, str] = {}
    probes = {
        "nginx": [tools["nginx"], "-v"],
        "wrk": [tools["wrk"], "-v"],
        "kubectl": [venv_tool("kubectl"), "version", "--client"],
    }
    for name, cmd in probes.items():
        out = subprocess.run(cmd, capture_output=True, text=True)
        text = (out.stdout + out.stderr).strip().splitlines()
        versions[name] = text[0] if text else "unknown"
    return versions


def git_commit() -> str:
    """Short commit of the checkout being measured, with ``+dirty`` when handler/ or fakekube/ differ."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "handler", "fakekube"], capture_output=True, text=True, cwd=REPO
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
