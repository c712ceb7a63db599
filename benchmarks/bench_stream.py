"""Streaming a 50 MB list: the gateway's peak RSS growth and its time to first byte.

Peak RSS growth = Σ VmHWM over the server's process tree after the request - Σ VmRSS before it,
with every VmHWM reset just before the request (``/proc/PID/clear_refs``), so a short-lived peak
between samples is not missed.  Each side gets one warm-up request first (reported in the notes,
not in the median): the figure is what serving a 50 MB list costs, not what first-use imports
cost.  TTFB is measured on a fresh connection from the request's first byte sent to the
response's first byte received, for the gateway, kubectl proxy and nginx itself (the upstream).
Every fetch starts 0.3 s after the previous one ended, so TTFB is that of an idle server.
Goals (issue 6): RSS growth ≤ 10 MB; gateway TTFB - upstream TTFB ≤ 5 ms.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal, median
from benchmarks.servers import start_gateway, start_kubectl_proxy
from benchmarks.system import Service, reset_tree_hwm, running, tree_hwm_kb, tree_rss_kb
from benchmarks.upstream import TARGETS

TITLE = "Streaming a 50 MB list: peak RSS growth and time to first byte"
SETTLE_S = 0.3


@dataclass(frozen=True)
class Fetch:
    """One GET on a fresh connection: seconds to first byte and to the end, bytes received (headers too)."""

    status: int
    ttfb_s: float
    total_s: float
    received: int


def fetch(port: int, path: str, bufsize: int = 1 << 20) -> Fetch:
    """GET ``path`` with ``Connection: close`` and read to EOF. Raises OSError on socket failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n"
        )
        start = time.perf_counter()
        sock.sendall(request.encode())
        first = sock.recv(bufsize)
        ttfb = time.perf_counter() - start
        received = len(first)
        while chunk := sock.recv(bufsize):
            received += len(chunk)
        total = time.perf_counter() - start
    status = int(first.split(b" ", 2)[1]) if first.startswith(b"HTTP/") else 0
    return Fetch(status, ttfb, total, received)


def _measured_fetch(svc: Service, path: str) -> tuple[Fetch, float]:
    """A fetch through ``svc`` and the growth of its tree's peak RSS during it, in MB.

    Starts after a pause, so the server has finished the previous response's tail work (freeing
    its buffers) and the TTFB is that of an idle server, as a first request would see it.
    """
    time.sleep(SETTLE_S)
    reset_tree_hwm(svc.pid)
    before = tree_rss_kb(svc.pid)
    result = fetch(svc.port, path)
    return result, (tree_hwm_kb(svc.pid) - before) / 1024


def run(ctx: Context) -> Outcome:
    """Gateway / kubectl proxy / direct nginx fetches of the 50 MB list in ``max(rounds, 5)`` quiet
    rounds, the order rotating."""
    nginx = ctx.nginx()
    path = TARGETS["list-50m"].path
    gateway = start_gateway(nginx.url, ctx.workdir, ctx.layout.server, ctx.workers, TARGETS["get"].path)
    with running(gateway), running(start_kubectl_proxy(nginx.url, ctx.workdir, ctx.layout.server)) as kproxy:
        proxies = {"gateway": gateway, "kubectl proxy": kproxy}
        first_growth = {side: _measured_fetch(svc, path)[1] for side, svc in proxies.items()}

        def measure(side: str) -> tuple[Fetch, float]:
            if side == "upstream":
                time.sleep(SETTLE_S)
                return fetch(nginx.port, path), 0.0
            return _measured_fetch(proxies[side], path)

        rounds = ctx.alternate("list-50m", [*proxies, "upstream"], measure, rounds=max(ctx.rounds, 5))
        growth = {side: [g for _f, g in rounds.samples[side]] for side in proxies}
        ttfb = {side: [f.ttfb_s * 1e3 for f, _g in rounds.samples[side]] for side in rounds.sides}
        seconds = {side: [f.total_s for f, _g in rounds.samples[side]] for side in proxies}
        bad = [
            f"{side}: status {f.status}, {f.received} bytes"
            for side in rounds.sides
            for f, _g in rounds.samples[side]
            if f.status != 200 or f.received < ctx.body_sizes["list-50m"]
        ]
    added = [g - u for g, u in zip(ttfb["gateway"], ttfb["upstream"], strict=True)]
    rss = Figure(
        key="stream.rss_growth_mb",
        label="peak RSS growth serving 50 MB list",
        unit="MB",
        better="lower",
        subject_raw=growth["gateway"],
        reference_raw=growth["kubectl proxy"],
        reference_name="kubectl proxy",
        checked=False,  # near-zero reference: the ratio is noise; the goal is absolute
        rounds=rounds.name,
    )
    rss.goal = Goal("≤ 10 MB", rss.subject <= 10)
    ttfb_fig = Figure(
        key="stream.ttfb_ms",
        label="TTFB of 50 MB list",
        unit="ms",
        better="lower",
        subject_raw=ttfb["gateway"],
        reference_raw=ttfb["upstream"],
        reference_name="upstream (nginx direct)",
        checked=False,  # sub-millisecond reference
        rounds=rounds.name,
    )
    ttfb_added = Figure(
        key="stream.ttfb_added_ms",
        label="TTFB added over upstream (gateway - nginx, same round)",
        unit="ms",
        better="lower",
        subject_raw=added,
        checked=False,
        rounds=rounds.name,
    )
    ttfb_added.goal = Goal("≤ 5 ms", ttfb_added.subject <= 5)
    kp_ttfb = Figure(
        key="stream.ttfb_vs_kubectl_ms",
        label="TTFB of 50 MB list vs kubectl proxy",
        unit="ms",
        better="lower",
        subject_raw=ttfb["gateway"],
        reference_raw=ttfb["kubectl proxy"],
        reference_name="kubectl proxy",
        checked=False,
        rounds=rounds.name,
    )
    transfer = Figure(
        key="stream.transfer_s",
        label="time to receive the whole 50 MB list",
        unit="s",
        better="lower",
        subject_raw=seconds["gateway"],
        reference_raw=seconds["kubectl proxy"],
        reference_name="kubectl proxy",
        rounds=rounds.name,
    )
    notes = [
        f"warm-up request's growth (not in the median): gateway {first_growth['gateway']:.1f} MB, "
        f"kubectl proxy {first_growth['kubectl proxy']:.1f} MB",
        f"upstream TTFB median {median(ttfb['upstream']) if ttfb['upstream'] else float('nan'):.2f} ms; "
        "the client reads as fast as it can (1 MiB recv)",
    ]
    if bad:
        notes.append("incomplete responses: " + "; ".join(bad))
    return Outcome([rss, ttfb_fig, ttfb_added, kp_ttfb, transfer], notes)
