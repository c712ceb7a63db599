"""fakekube's CPU cost per create and per delivered watch event, robust on a shared machine.

Wall-clock rates on a loaded machine say more about the neighbours than about fakekube, so this
measures what fakekube's process itself spends: ``utime + stime`` from ``/proc/PID/stat`` (its
threads included; in seconds of CPU) across a phase, divided by the work done in that phase.

- ``creates``: ``N`` POSTs of the create benchmark's RayCluster (``bench_writes.create_body``,
  ``generateName``) over ``--connections`` keep-alive connections (client threads in this process);
  reports CPU ms per create.
- ``watch``: ``--watches`` open watches of ``rayclusters`` in ``default`` (``bench_watch``'s path and
  client), then ``--events`` creates, one every 100 ms; reports CPU µs per (event, watcher)
  delivered, after subtracting the CPU of the same creates with no watch open (measured first),
  and the wall-clock p50/p99 delay from write start to arrival (as ``bench_watch`` measures it).

Usage: ``python -m benchmarks.cpu_fakekube creates|watch [--count N] ...``; prints one JSON line.
``--py-spy FILE`` records a py-spy profile (raw format) of fakekube during the measured phase.
Not part of ``make bench``: a profiling aid whose figures the lead can compare before/after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_watch import WATCH_PATH, _create, _delays
from benchmarks.bench_writes import COLLECTION, create_body
from benchmarks.servers import start_fakekube
from benchmarks.system import raise_fd_limit, running
from benchmarks.watchclient import open_watches, wait_heads

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) in seconds, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextlib.contextmanager
def py_spy(pid: int, out: str | None) -> Iterator[None]:
    """Record ``pid`` with ``py-spy record --format raw`` into ``out`` while the block runs."""
    if not out:
        yield
        return
    if out.endswith(".perf"):  # perf's software cpu-clock sampling (native frames: granian, uvloop)
        cmd = ["perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", str(pid), "-o", out]
    else:
        cmd = [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "-o",
            out,
            "--nonblocking",
            *os.environ.get("PYSPY_EXTRA", "").split(),  # e.g. "--native --threads"
        ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield
    finally:
        proc.send_signal(2)
        proc.wait(30)


def post_many(port: int, body: bytes, count: int, connections: int) -> None:
    """``count`` POSTs of ``body`` to the RayCluster collection over ``connections`` threads.

    Raises RuntimeError when any is not answered 201."""
    failures: list[str] = []

    def work(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(n):
            conn.request("POST", COLLECTION, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 201:
                failures.append(f"{resp.status} {data[:200]!r}")
                return
        conn.close()

    per = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    pool = [threading.Thread(target=work, args=(n,)) for n in per]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise RuntimeError("create failed: " + failures[0])


def measure_creates(port: int, pid: int, count: int, connections: int, spy: str | None) -> dict[str, float]:
    """CPU ms per create after a warm-up of 500 creates."""
    body = create_body(Path(tempfile.mkdtemp())).read_bytes()
    post_many(port, body, 500, connections)
    with py_spy(pid, spy):
        before = cpu_seconds(pid)
        start = time.perf_counter()
        post_many(port, body, count, connections)
        wall = time.perf_counter() - start
        used = cpu_seconds(pid) - before
    return {"creates": count, "cpu_s": used, "cpu_ms_per_create": used * 1e3 / count, "wall_s": wall}


def _fire(port: int, prefix: str, count: int, interval: float, sent: dict[str, int] | None = None) -> None:
    for i in range(count):
        start = time.perf_counter()
        _create(port, f"{prefix}-{i}", {} if sent is None else sent)
        time.sleep(max(0.0, interval - (time.perf_counter() - start)))


async def _watch_phase(port: int, pid: int, watches: int, events: int, spy: str | None) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    # The creates alone (no watch open), to subtract their own cost.
    await loop.run_in_executor(None, _fire, port, "base", events, 0.1)
    before = cpu_seconds(pid)
    await loop.run_in_executor(None, _fire, port, "alone", events, 0.1)
    alone = cpu_seconds(pid) - before
    sent: dict[str, int] = {}
    opened = await open_watches(port, WATCH_PATH, watches)
    await wait_heads(opened, 30)
    await asyncio.sleep(1.0)
    with py_spy(pid, spy):
        before = cpu_seconds(pid)
        await loop.run_in_executor(None, _fire, port, "ev", events, 0.1, sent)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            got = sum(1 for w in opened for _, line in w.events() if b'"ev-' in line)
            if got >= watches * events:
                break
            await asyncio.sleep(0.2)
        used = cpu_seconds(pid) - before
    for w in opened:
        w.close()
    delays = sorted(_delays(opened, sent))
    delivered = len(delays)
    fanout = used - alone
    return {
        "watches": watches,
        "events": events,
        "delivered": delivered,
        "cpu_s": used,
        "cpu_s_creates_alone": alone,
        "cpu_us_per_delivery": fanout * 1e6 / max(delivered, 1),
        "cpu_ms_per_event_fanout": fanout * 1e3 / events,
        # wall clock, write start to arrival (noisy on a shared machine; the CPU figures are not)
        "delay_p50_ms": delays[len(delays) // 2] if delays else -1.0,
        "delay_p99_ms": delays[int(len(delays) * 0.99)] if delays else -1.0,
    }


def main() -> None:
    """Parse the arguments, start ``fakekube serve``, measure, print one JSON line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("phase", choices=["creates", "watch"])
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--watches", type=int, default=1000)
    p.add_argument("--events", type=int, default=30)
    p.add_argument("--py-spy", dest="spy", default=None)
    p.add_argument("--source", default="", help="a checkout whose fakekube/ and kubeapi/ to serve")
    args = p.parse_args()
    raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="cpu-fakekube-"))
    if args.source:  # fakekube from another checkout (a before/after comparison), this one's venv
        os.environ["PYTHONPATH"] = str(Path(args.source).resolve())
    with running(start_fakekube(workdir, "")) as svc:
        if args.phase == "creates":
            out = measure_creates(svc.port, svc.pid, args.count, args.connections, args.spy)
        else:
            out = asyncio.run(_watch_phase(svc.port, svc.pid, args.watches, args.events, args.spy))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
