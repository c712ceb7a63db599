"""fakekube alone: creates/s, gets/s, and a labelSelector list over 10,000 RayClusters.

``fakekube serve`` (and refkube, when built) run on the server CPU for the whole benchmark, each
seeded with 10,000 RayClusters in ``default`` (label ``shard`` = index mod 100).  Figures: the
client-side time of ``GET ...?labelSelector=shard=7`` (100 matches) on a keep-alive connection;
then wrk at 32 connections, alternating between the servers: creates/s (POST with
``generateName``) and gets/s of one RayCluster.  The reference is refkube (infra/refkube: a real
kube-apiserver with etcd), reached on its own TLS port with its admin token.  Server-side time:
the same list timed in-process on ``fakekube.create_app()`` (ASGI called directly, no socket),
seeded the same way.
Goals (issue 6): list with labelSelector over 10,000 <= 50 ms server-side; >= 2,000 creates/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from benchmarks import asgi
from benchmarks.bench_writes import LUA, create_body, create_env
from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal, median
from benchmarks.servers import refkube_available, start_fakekube, start_refkube
from benchmarks.system import Service, running
from benchmarks.upstream import raycluster
from benchmarks.wrk import WrkResult, run_wrk

TITLE = "fakekube alone: creates/s, gets/s, labelSelector list over 10,000 RayClusters"
NAMESPACE = "default"
COLLECTION = f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters"
SELECTOR_LIST = f"{COLLECTION}?labelSelector=shard%3D7"
SEED = 10_000
CONNECTIONS = 32
LIST_REPEATS = 20


@dataclass(frozen=True)
class Api:
    """Where the requests go: a base URL (http or https) and headers to send with each (a bearer token)."""

    url: str
    headers: dict[str, str]

    def connection(self) -> HTTPConnection:
        """A keep-alive connection to the API (TLS unverified: loopback servers with their own CA)."""
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port
        if parts.scheme == "https":
            tls = ssl.create_default_context()
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
            return HTTPSConnection(host, port, timeout=60, context=tls)
        return HTTPConnection(host, port, timeout=60)

    def wrk_headers(self) -> list[str]:
        """The headers as wrk ``-H`` options."""
        return [opt for name, value in self.headers.items() for opt in ("-H", f"{name}: {value}")]


def seed_body(index: int) -> bytes:
    """RayCluster ``rc-INDEX`` with label ``shard=INDEX mod 100``, as a create body."""
    obj = raycluster(f"rc-{index}", NAMESPACE, index)
    del obj["status"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        del obj["metadata"][key]
    obj["metadata"]["labels"]["shard"] = str(index % 100)
    return json.dumps(obj).encode()


def seed_http(api: Api, count: int, threads: int = 8) -> None:
    """Create ``count`` seed RayClusters over HTTP with ``threads`` keep-alive connections.

    Raises RuntimeError when any create is not answered 201.
    """
    failures: list[str] = []

    def work(first: int) -> None:
        conn = api.connection()
        headers = {**api.headers, "Content-Type": "application/json"}
        for i in range(first, count, threads):
            conn.request("POST", COLLECTION, body=seed_body(i), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 201:
                failures.append(f"rc-{i}: {resp.status} {body[:200]!r}")
                break
        conn.close()

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise RuntimeError("seeding failed: " + "; ".join(failures[:3]))


def time_list_http(api: Api, repeats: int = LIST_REPEATS) -> list[float]:
    """Milliseconds per ``GET`` of the selector list (keep-alive connection, after one warm-up)."""
    conn = api.connection()
    out = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        conn.request("GET", SELECTOR_LIST, headers=api.headers)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = (time.perf_counter() - start) * 1e3
        if resp.status != 200 or len(json.loads(body)["items"]) != SEED // 100:
            raise RuntimeError(f"selector list answered {resp.status} with unexpected items")
        if i:
            out.append(elapsed)
    conn.close()
    return out


async def _in_process(create_app: Callable[[], Any]) -> tuple[list[float], float]:
    app = create_app()
    async with asgi.lifespan(app):
        start = time.perf_counter()
        for i in range(SEED):
            resp = await asgi.request(app, "POST", COLLECTION, seed_body(i))
            if resp.status != 201:
                raise RuntimeError(f"in-process create answered {resp.status}: {resp.body[:200]!r}")
        seed_rate = SEED / (time.perf_counter() - start)
        times = []
        for _ in range(LIST_REPEATS + 1):
            resp = await asgi.request(app, "GET", SELECTOR_LIST)
            if resp.status != 200 or len(json.loads(resp.body)["items"]) != SEED // 100:
                raise RuntimeError(f"in-process selector list answered {resp.status}")
            times.append(resp.seconds * 1e3)
        return times[1:], seed_rate


def server_side_list_ms() -> tuple[list[float], float]:
    """In-process selector-list times (ms) over 10,000 seeded RayClusters, and the seeding creates/s."""
    import fakekube  # imported here: the HTTP figures must not depend on importing it in-process

    return asyncio.run(_in_process(fakekube.create_app))


def _wrk_ops(ctx: Context, api: Api, get_path: str) -> tuple[WrkResult, WrkResult]:
    env = create_env(create_body(ctx.workdir))
    wrk, cpus, extra = ctx.tools["wrk"], ctx.layout.client, api.wrk_headers()
    creates = run_wrk(
        wrk,
        api.url + COLLECTION,
        CONNECTIONS,
        ctx.duration_s,
        cpus,
        script=LUA / "body.lua",
        env=env,
        extra=extra,
    )
    gets = run_wrk(wrk, api.url + get_path, CONNECTIONS, ctx.duration_s, cpus, extra=extra)
    return creates, gets


def _fakekube(ctx: Context) -> tuple[Service, Api]:
    svc = start_fakekube(ctx.workdir, ctx.layout.server)
    return svc, Api(svc.url, {})


def _refkube(ctx: Context) -> tuple[Service, Api]:
    svc, endpoint = start_refkube(ctx.workdir, ctx.layout.server)
    return svc, Api(endpoint.url, {"Authorization": f"Bearer {endpoint.token}"})


def run(ctx: Context) -> Outcome:
    """HTTP figures for fakekube (and refkube when built), alternating; then the in-process list."""
    starters: dict[str, Callable[[Context], tuple[Service, Api]]] = {"fakekube": _fakekube}
    notes = []
    if refkube_available():
        starters["refkube"] = _refkube
    else:
        notes.append("refkube (infra/refkube/bin/refkube): not available, so no reference API server figures")
    seed = 1000 if ctx.quick else SEED
    creates: dict[str, list[float]] = {s: [] for s in starters}
    gets: dict[str, list[float]] = {s: [] for s in starters}
    lists: dict[str, list[float]] = {s: [] for s in starters}
    errors = []
    with contextlib.ExitStack() as stack:
        # Both servers stay up for the whole benchmark (refkube takes many seconds to start):
        # each is seeded and its list timed once, then wrk rounds alternate between them.
        apis: dict[str, Api] = {}
        for side, starter in starters.items():
            svc, apis[side] = starter(ctx)
            stack.enter_context(running(svc))
        for side, api in apis.items():
            seed_http(api, seed)
            if seed == SEED:
                lists[side] += time_list_http(api)
        for rnd in range(ctx.rounds):
            order = list(apis) if rnd % 2 == 0 else list(reversed(apis))
            for side in order:
                c, g = _wrk_ops(ctx, apis[side], f"{COLLECTION}/rc-0")
                creates[side].append(c.rps)
                gets[side].append(g.rps)
                if c.errors or g.errors:
                    errors.append(f"{side} round {rnd}: {c.errors} create errors, {g.errors} get errors")
    ref = "refkube" if "refkube" in starters else ""

    def fig(key: str, label: str, unit: str, better: str, data: dict[str, list[float]]) -> Figure:
        return Figure(
            key=key,
            label=label,
            unit=unit,
            better="higher" if better == "higher" else "lower",
            subject_raw=data["fakekube"],
            reference_raw=data.get(ref, []),
            reference_name=ref,
        )

    figures = [
        fig("fakekube.creates.rps", f"creates/s over HTTP (c{CONNECTIONS})", "req/s", "higher", creates),
        fig("fakekube.gets.rps", f"gets/s over HTTP (c{CONNECTIONS})", "req/s", "higher", gets),
    ]
    figures[0].goal = Goal("≥ 2,000/s", figures[0].subject >= 2000)
    if lists["fakekube"]:
        figures.append(
            fig(
                "fakekube.list_selector_http_ms",
                "labelSelector list of 10,000 over HTTP",
                "ms",
                "lower",
                lists,
            )
        )
        server_side, seed_rate = server_side_list_ms()
        inproc = Figure(
            key="fakekube.list_selector_server_ms",
            label="labelSelector list of 10,000, server-side (in-process ASGI)",
            unit="ms",
            better="lower",
            subject_raw=server_side,
        )
        inproc.goal = Goal("≤ 50 ms", inproc.subject <= 50)
        figures.append(inproc)
        notes.append(f"in-process seeding rate (ASGI, no socket): {seed_rate:,.0f} creates/s")
        notes.append(
            f"HTTP selector list medians: {', '.join(f'{k} {median(v):.1f} ms' for k, v in lists.items())}"
        )
    notes.append(
        f"wrk -t1 -c{CONNECTIONS}, {ctx.duration_s:g} s per run; fakekube and refkube on the server CPU"
    )
    if errors:
        notes.append("wrk reported errors: " + "; ".join(errors))
    return Outcome(figures, notes)
