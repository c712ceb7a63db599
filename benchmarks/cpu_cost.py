"""CPU per request of the gateway, and the latency it adds at one connection: figures that stay
meaningful on a shared machine, where same-run throughput ratios do not.

For each source tree (``--src LABEL=DIR``: a directory holding ``handler/`` and ``kubeapi/``, put
first on the gateway's ``PYTHONPATH``; default: this checkout) and each ``--authentication`` mode
(``none`` and ``token-review``, as :mod:`benchmarks.bench_authn` runs them, warm caches), one
gateway (``kuberay-apiserver serve --workers 1``) runs in front of the benchmarks' static nginx
(:mod:`benchmarks.upstream`, which also answers the review APIs). For GET of one RayCluster and the
2 KB RayClusterList, wrk (``-t1 -c32``, a bearer token) loads each gateway in turn, the order
rotating every round, and the harness reads from ``/proc``, before and after each run:

- CPU seconds (utime + stime of every thread of every process of the gateway's tree) per 10,000
  requests served: what the gateway spends per request, whatever else the machine runs (other load
  makes it somewhat higher, so compare trees in the same run, by the median or the minimum);
- context switches (voluntary + involuntary, every thread) per request: how often a request hands
  work between threads (granian's runtime, the event loop, pyreqwest's runtime), which costs more
  than most Python code on the path.

Then, per target, single-connection latency: ``--latency-n`` sequential keep-alive requests to
nginx directly and to each gateway, in interleaved blocks; the minimum, 10th percentile and median,
and the latency each gateway adds over direct (percentile minus percentile).

``--kubectl-proxy`` measures ``kubectl proxy`` in front of the same nginx beside them (the
reference of :mod:`benchmarks.bench_proxy`). ``--profile DIR`` also records a py-spy profile
(``--native``, raw collapsed stacks) of each gateway's worker under the same load. Usage::

    .venv/bin/python -m benchmarks.cpu_cost --src base=../old-tree --src new=. --rounds 5
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.servers import gateway_command, start_kubectl_proxy
from benchmarks.system import REPO, Service, free_port, process_tree, start_service, wait_ready
from benchmarks.upstream import TARGETS, start_nginx
from benchmarks.wrk import run_wrk

MODES = ("none", "token-review")
COST_TARGETS = ("get", "list-2k")
_TICKS = os.sysconf("SC_CLK_TCK")
_PY_SPY = ("py-spy", "record", "--native", "-r", "500", "-d", "10", "--format", "raw")


def tree_cpu_seconds(root: int) -> float:
    """utime + stime (seconds) of every process in ``root``'s tree, all threads included (fields
    14 and 15 of ``/proc/PID/stat``); processes that vanish meanwhile are skipped."""
    ticks = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS


def tree_context_switches(root: int) -> int:
    """Voluntary plus involuntary context switches of every thread in ``root``'s tree so far."""
    total = 0
    for pid in process_tree(root):
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                lines = (task / "status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 ≤ q ≤ 1) of ``values`` by the nearest lower rank; ValueError when empty."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def _read_response(sock: socket.socket, buf: bytearray) -> None:
    """Read one HTTP/1.1 response (Content-Length or chunked) from ``sock``; ``buf`` keeps the rest."""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf += chunk
    head = bytes(buf[:end]).lower()
    start = end + 4
    if b"content-length:" in head:
        length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(buf) < start + length:
            buf += sock.recv(65536)
        del buf[: start + length]
        return
    while (last := buf.find(b"\r\n0\r\n\r\n", start - 2)) < 0:
        buf += sock.recv(65536)
    del buf[: last + 7]


def latencies(port: int, path: str, n: int, token: str) -> list[float]:
    """Seconds each of ``n`` sequential GETs of ``path`` took on one keep-alive connection."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    data = request.encode()
    out: list[float] = []
    buf = bytearray()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendall(data)
            _read_response(sock, buf)
            out.append(time.perf_counter() - t0)
    return out


def _start_gateways(
    sources: dict[str, str], modes: Sequence[str], upstream: str, workdir: Path, token: str
) -> dict[tuple[str, str], Service]:
    gateway_token = workdir / "gateway-token"
    gateway_token.write_text(secrets.token_urlsafe(32))
    gateways: dict[tuple[str, str], Service] = {}
    for label, src in sources.items():
        for mode in modes:
            port = free_port()
            cmd = gateway_command(upstream, port, 1, mode, [f"--token-file={gateway_token}"])
            svc = start_service(f"gateway-{label}-{mode}", cmd, port, workdir, "", env={"PYTHONPATH": src})
            gateways[(label, mode)] = svc
            wait_ready(svc, TARGETS["get"].path, timeout=60, headers={"Authorization": f"Bearer {token}"})
    return gateways


def _profile(gateways: dict[tuple[str, str], Service], targets: Sequence[str], token: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for target in targets:
        for (label, mode), svc in gateways.items():
            worker = max(process_tree(svc.pid))  # granian's worker, started after the main process
            file = out / f"{label}-{mode}-{target}.txt"
            spy = subprocess.Popen(
                [*_PY_SPY, "-o", str(file), "-p", str(worker)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            run_wrk(
                "wrk",
                svc.url + TARGETS[target].path,
                32,
                9,
                "",
                extra=["-H", f"Authorization: Bearer {token}"],
            )
            spy.wait()
            print(f"profile: {file}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurements the module docstring describes and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", default=[], help="LABEL=DIR (default: this checkout)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--targets", default=",".join(COST_TARGETS))
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-n", type=int, default=2000, help="0: no latency measurement")
    parser.add_argument("--profile", type=Path, help="directory for py-spy profiles")
    parser.add_argument(
        "--kubectl-proxy", action="store_true", help="measure kubectl proxy beside them (the reference)"
    )
    args = parser.parse_args(argv)
    sources = dict(s.split("=", 1) for s in args.src) or {"this": str(REPO)}
    modes, targets = args.modes.split(","), args.targets.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on the way out
    workdir = Path(tempfile.mkdtemp(prefix="cpu-cost-"))
    nginx, _sizes = start_nginx("nginx", workdir, "")
    token = secrets.token_urlsafe(32)
    header = ["-H", f"Authorization: Bearer {token}"]
    gateways: dict[tuple[str, str], Service] = {}
    try:
        gateways = _start_gateways(sources, modes, nginx.url, workdir, token)
        if args.kubectl_proxy:
            gateways[("kubectl", "proxy")] = start_kubectl_proxy(nginx.url, workdir, "", TARGETS["get"].path)
        keys = list(gateways)
        cpu: dict[tuple[str, str, str], list[float]] = {}
        switches: dict[tuple[str, str, str], list[float]] = {}
        for target in targets:
            url_path = TARGETS[target].path
            for svc in gateways.values():  # warm-up: connection pools, decision caches
                run_wrk("wrk", svc.url + url_path, 32, 1, "", extra=header)
            for rnd in range(args.rounds):
                for key in keys[rnd % len(keys) :] + keys[: rnd % len(keys)]:
                    svc = gateways[key]
                    c0, s0 = tree_cpu_seconds(svc.pid), tree_context_switches(svc.pid)
                    res = run_wrk("wrk", svc.url + url_path, 32, args.seconds, "", extra=header)
                    c1, s1 = tree_cpu_seconds(svc.pid), tree_context_switches(svc.pid)
                    if res.errors or not res.requests:
                        print(f"warning: {key} {target}: {res.errors} errors, {res.requests} requests")
                        continue
                    cpu.setdefault((*key, target), []).append((c1 - c0) / res.requests * 1e4)
                    switches.setdefault((*key, target), []).append((s1 - s0) / res.requests)
        print(
            f"\nCPU seconds per 10,000 requests at 32 connections "
            f"({args.rounds} rounds of {args.seconds:g} s):"
        )
        for (label, mode, target), values in sorted(
            cpu.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])
        ):
            print(
                f"  {target:8} {mode:13} {label:8} median {statistics.median(values):.3f}"
                f"  min {min(values):.3f}"
                f"  context switches/request {statistics.median(switches[(label, mode, target)]):.2f}"
                f"  [{', '.join(f'{v:.3f}' for v in values)}]"
            )
        if args.latency_n:
            print(f"\nOne connection, {args.latency_n} sequential requests each (ms; added = over direct):")
            for target in targets:
                url_path = TARGETS[target].path
                samples: dict[str, list[float]] = {"direct": []}
                for _block in range(10):
                    samples["direct"] += latencies(nginx.port, url_path, args.latency_n // 10, token)
                    for (label, mode), svc in gateways.items():
                        name = f"{label}/{mode}"
                        samples.setdefault(name, [])
                        samples[name] += latencies(svc.port, url_path, args.latency_n // 10, token)
                direct = samples["direct"]
                for name, values in samples.items():
                    lo, p10, p50 = (quantile(values, q) * 1e3 for q in (0.0, 0.1, 0.5))
                    added10 = p10 - quantile(direct, 0.1) * 1e3
                    added50 = p50 - quantile(direct, 0.5) * 1e3
                    print(
                        f"  {target:8} {name:22} min {lo:.3f} p10 {p10:.3f} p50 {p50:.3f}"
                        f"   added p10 {added10:+.3f} p50 {added50:+.3f}"
                    )
        if args.profile:
            _profile({k: v for k, v in gateways.items() if k[0] != "kubectl"}, targets, token, args.profile)
    finally:
        for svc in gateways.values():
            svc.stop()
        nginx.stop()


if __name__ == "__main__":
    main()
