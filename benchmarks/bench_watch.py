"""1,000 concurrent watches through the gateway over fakekube: RSS per watch and event delay.

Per side (gateway, kubectl proxy, and fakekube directly as the floor), with a fresh fakekube:
warm the proxy up (a few watches and one event), take the proxy tree's RSS, open 1,000 watches of
``rayclusters`` in ``default``, wait for their response heads and 1 s more, take the RSS again:
(after - before) / 1,000 is the RSS per open watch.  Then a writer creates RayClusters directly in
fakekube, one every 250 ms, noting the time just before each POST; every watch client notes when the
event's line arrived.  Delay = arrival - write start, over all (watch, event) pairs; p99 reported.
Clients and writer are one asyncio process on the load generator's CPU together with fakekube.
Goals (issue 6): ≤ 30 KB RSS per watch at 1,000 watches; p99 event delay ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import time
from dataclasses import dataclass, field

from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal, percentile
from benchmarks.servers import start_fakekube, start_gateway, start_kubectl_proxy
from benchmarks.system import Service, free_port, running, start_service, tree_rss_kb, venv_tool, wait_ready
from benchmarks.upstream import raycluster
from benchmarks.watchclient import WatchProtocol, open_watches, wait_heads
from handler.settings import DEFAULT_HTTP1_BUFFER_BYTES

TITLE = "1,000 concurrent watches over fakekube: RSS per watch and event delay"
NAMESPACE = "default"
COLLECTION = f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters"
WATCH_PATH = f"{COLLECTION}?watch=1&timeoutSeconds=600"
SIDES = ("gateway", "kubectl proxy", "fakekube direct")


@dataclass
class WatchRun:
    """One side's outcome: RSS per watch (KB), all delays (ms), and what did not arrive."""

    rss_per_watch_kb: float
    delays_ms: list[float]
    expected: int
    heads: dict[int, int] = field(default_factory=dict)


def _create(port: int, name: str, sent: dict[str, int]) -> None:
    """POST one RayCluster straight to fakekube, noting the time just before sending."""
    obj = raycluster(name, NAMESPACE, 0)
    del obj["status"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        del obj["metadata"][key]
    body = json.dumps(obj).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent[name] = time.perf_counter_ns()
        conn.request("POST", COLLECTION, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create {name}: {resp.status}")
    finally:
        conn.close()


def _delays(watches: list[WatchProtocol], sent: dict[str, int]) -> list[float]:
    """Delay in ms of every received event whose object the writer created."""
    out = []
    for w in watches:
        for when, line in w.events():
            name = json.loads(line).get("object", {}).get("metadata", {}).get("name")
            if name in sent:
                out.append((when - sent[name]) / 1e6)
    return out


async def _fire(fake_port: int, prefix: str, count: int, interval: float, sent: dict[str, int]) -> None:
    loop = asyncio.get_running_loop()
    for i in range(count):
        start = time.perf_counter()
        await loop.run_in_executor(None, _create, fake_port, f"{prefix}-{i}", sent)
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - start)))


async def _open_weighed(
    rss_of: Service, port: int, path: str, count: int
) -> tuple[list[WatchProtocol], dict[int, int], float]:
    """Open ``count`` watches; returns them, their head statuses and the RSS growth per watch (KB)."""
    before = tree_rss_kb(rss_of.pid)
    opened = await open_watches(port, path, count)
    heads = await wait_heads(opened, 30)
    await asyncio.sleep(1.0)  # let lazily allocated per-connection state settle before weighing
    return opened, heads, (tree_rss_kb(rss_of.pid) - before) / count


async def _measure(
    rss_of: Service, port: int, fake_port: int, watches: int, events: int, tag: str
) -> WatchRun:
    # Warm-up: first watches and first event through this server, so the RSS baseline includes
    # lazily imported code and pools rather than charging them to the 1,000 watches.
    warm = await open_watches(port, WATCH_PATH, 10)
    await wait_heads(warm, 10)
    await _fire(fake_port, f"warm-{tag}", 1, 0.2, {})
    for w in warm:
        w.close()
    await asyncio.sleep(1.0)
    opened, heads, rss_per_watch = await _open_weighed(rss_of, port, WATCH_PATH, watches)
    sent: dict[str, int] = {}
    await _fire(fake_port, f"ev-{tag}", events, 0.25, sent)
    expected = watches * events
    deadline = time.perf_counter() + 15
    delays = _delays(opened, sent)
    while len(delays) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        delays = _delays(opened, sent)
    for w in opened:
        w.close()
    await asyncio.sleep(0.2)
    return WatchRun(rss_per_watch, delays, expected, heads)


def _one_side(ctx: Context, side: str, watches: int, events: int, tag: str) -> WatchRun:
    with running(start_fakekube(ctx.workdir, ctx.layout.client, backlog=4096)) as fake:
        if side == "fakekube direct":
            return asyncio.run(_measure(fake, fake.port, fake.port, watches, events, tag))
        if side == "gateway":
            proxy = start_gateway(fake.url, ctx.workdir, ctx.layout.server, ctx.workers, COLLECTION)
        else:
            proxy = start_kubectl_proxy(fake.url, ctx.workdir, ctx.layout.server, ready_path=COLLECTION)
        with running(proxy):
            return asyncio.run(_measure(proxy, proxy.port, fake.port, watches, events, tag))


async def _idle_floor(svc: Service, watches: int) -> float:
    warm = await open_watches(svc.port, "/", 10)
    await wait_heads(warm, 10)
    for w in warm:
        w.close()
    await asyncio.sleep(1.0)
    opened, _heads, per_watch = await _open_weighed(svc, svc.port, "/", watches)
    for w in opened:
        w.close()
    await asyncio.sleep(0.2)
    return per_watch


def idle_floor_kb(ctx: Context, watches: int) -> float:
    """RSS per open connection of granian serving ``benchmarks.idle_app`` (one worker, server CPU),
    with the gateway's default HTTP/1 buffer size, so the floor is the same server configuration."""
    port = free_port()
    cmd = [
        venv_tool("granian"),
        "--interface=asgi",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--backlog=4096",
        f"--http1-buffer-size={DEFAULT_HTTP1_BUFFER_BYTES}",
        "--log-level=warning",
        "benchmarks.idle_app:app",
    ]
    with running(start_service("idle-asgi", cmd, port, ctx.workdir, ctx.layout.server)) as svc:
        wait_ready(svc, "/version", timeout=30)
        return asyncio.run(_idle_floor(svc, watches))


def run(ctx: Context) -> Outcome:
    """``ctx.rounds`` quiet rounds, the three sides in rotating order, each with a fresh fakekube."""
    watches = 100 if ctx.quick else 1000
    events = 5 if ctx.quick else 20
    attempt = iter(range(1_000_000))

    def measure(side: str) -> WatchRun:
        return _one_side(ctx, side, watches, events, f"{next(attempt)}")

    rounds = ctx.alternate("watches", list(SIDES), measure)
    runs = rounds.samples

    def pcts(side: str, pct: float) -> list[float]:
        # An event that never arrived counts as infinitely late, so losses cannot flatter a percentile.
        return [
            percentile(r.delays_ms + [float("inf")] * (r.expected - len(r.delays_ms)), pct)
            for r in runs[side]
        ]

    rss = Figure(
        key="watch.rss_per_watch_kb",
        label=f"RSS per open watch at {watches} watches",
        unit="KB",
        better="lower",
        subject_raw=[r.rss_per_watch_kb for r in runs["gateway"]],
        reference_raw=[r.rss_per_watch_kb for r in runs["kubectl proxy"]],
        reference_name="kubectl proxy",
        rounds=rounds.name,
    )
    rss.goal = Goal("≤ 30 KB", rss.subject <= 30)
    delay = Figure(
        key="watch.p99_delay_ms",
        label=f"p99 event delay, {watches} watches x {events} events",
        unit="ms",
        better="lower",
        subject_raw=pcts("gateway", 99),
        reference_raw=pcts("kubectl proxy", 99),
        reference_name="kubectl proxy",
        rounds=rounds.name,
    )
    # Every round counts: an event lost (inf) in any round fails the goal, whatever the median.
    lossless = all(math.isfinite(v) for v in delay.subject_raw)
    delay.goal = Goal("≤ 50 ms", lossless and delay.subject <= 50)
    p50 = Figure(
        key="watch.p50_delay_ms",
        label="p50 event delay",
        unit="ms",
        better="lower",
        subject_raw=pcts("gateway", 50),
        reference_raw=pcts("kubectl proxy", 50),
        reference_name="kubectl proxy",
        rounds=rounds.name,
    )
    floor = Figure(
        key="watch.p99_delay_vs_direct_ms",
        label="p99 event delay vs fakekube direct (floor: fakekube fan-out + client)",
        unit="ms",
        better="lower",
        subject_raw=pcts("gateway", 99),
        reference_raw=pcts("fakekube direct", 99),
        reference_name="fakekube direct",
        checked=False,
        rounds=rounds.name,
    )
    floor_kb = idle_floor_kb(ctx, watches)
    notes = [
        f"floor of the server stack: granian (1 worker) holding {watches} idle streamed responses of a "
        f"bare ASGI app (benchmarks/idle_app.py), HTTP/1 buffer {DEFAULT_HTTP1_BUFFER_BYTES} B as the "
        f"gateway's, costs {floor_kb:.1f} KB RSS per connection",
        "received / expected events: "
        + "; ".join(f"{s}: {[f'{len(r.delays_ms)}/{r.expected}' for r in runs[s]]}" for s in SIDES),
        "response heads by status (-1 = not sent before the first event): "
        + "; ".join(f"{s}: {[r.heads for r in runs[s]]}" for s in SIDES),
        "fakekube's own RSS per watch (direct side): "
        + ", ".join(f"{r.rss_per_watch_kb:.1f} KB" for r in runs["fakekube direct"]),
    ]
    return Outcome([rss, delay, p50, floor], notes)
