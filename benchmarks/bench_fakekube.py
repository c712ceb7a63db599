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
from urllib.parse import urlsplit

from benchmarks import asgi
from benchmarks.bench_writes import LUA, create_body, create_env
from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal, median
from benchmarks.rounds import Rounds
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
#: Selector lists per round (the round's sample is their median).
LIST_ROUND_REPEATS = 5


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


def server_side_list_ms(ctx: Context) -> tuple[Rounds[float], float]:
    """In-process selector-list times over 10,000 seeded RayClusters in ``ctx.rounds`` quiet rounds
    (each the median of :data:`LIST_ROUND_REPEATS` lists, ms), and the seeding creates/s."""
    import fakekube  # imported here: the HTTP figures must not depend on importing it in-process

    app = fakekube.create_app()
    loop = asyncio.new_event_loop()
    try:
        lifespan = asgi.lifespan(app)
        loop.run_until_complete(lifespan.__aenter__())
        try:
            start = time.perf_counter()
            for i in range(SEED):
                resp = loop.run_until_complete(asgi.request(app, "POST", COLLECTION, seed_body(i)))
                if resp.status != 201:
                    raise RuntimeError(f"in-process create answered {resp.status}: {resp.body[:200]!r}")
            seed_rate = SEED / (time.perf_counter() - start)

            def one_round(_side: str) -> float:
                times = []
                for _ in range(LIST_ROUND_REPEATS):
                    resp = loop.run_until_complete(asgi.request(app, "GET", SELECTOR_LIST))
                    if resp.status != 200 or len(json.loads(resp.body)["items"]) != SEED // 100:
                        raise RuntimeError(f"in-process selector list answered {resp.status}")
                    times.append(resp.seconds * 1e3)
                return median(times)

            one_round("fakekube")  # warm-up
            rounds = ctx.alternate("list-in-process", ["fakekube"], one_round)
        finally:
            loop.run_until_complete(lifespan.__aexit__(None, None, None))
    finally:
        loop.close()
    return rounds, seed_rate


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
    errors = []
    with contextlib.ExitStack() as stack:
        # Both servers stay up for the whole benchmark (refkube takes many seconds to start):
        # each is seeded once, then the rounds alternate between them.
        apis: dict[str, Api] = {}
        for side, starter in starters.items():
            svc, apis[side] = starter(ctx)
            stack.enter_context(running(svc))
        for api in apis.values():
            seed_http(api, seed)
        ops = ctx.alternate("wrk", list(apis), lambda side: _wrk_ops(ctx, apis[side], f"{COLLECTION}/rc-0"))
        for side, results in ops.samples.items():
            errors += [
                f"{side} round {i}: {c.errors} create errors, {g.errors} get errors"
                for i, (c, g) in enumerate(results)
                if c.errors or g.errors
            ]
        lists = None
        if seed == SEED:
            # Each round: LIST_ROUND_REPEATS lists per server, their median the round's sample.
            lists = ctx.alternate(
                "list", list(apis), lambda side: median(time_list_http(apis[side], LIST_ROUND_REPEATS))
            )
    creates = {side: [c.rps for c, _g in results] for side, results in ops.samples.items()}
    gets = {side: [g.rps for _c, g in results] for side, results in ops.samples.items()}
    ref = "refkube" if "refkube" in starters else ""

    def fig(
        key: str, label: str, unit: str, better: str, data: dict[str, list[float]], rounds: str
    ) -> Figure:
        return Figure(
            key=key,
            label=label,
            unit=unit,
            better="higher" if better == "higher" else "lower",
            subject_raw=data["fakekube"],
            reference_raw=data.get(ref, []),
            reference_name=ref,
            rounds=rounds,
        )

    figures = [
        fig(
            "fakekube.creates.rps",
            f"creates/s over HTTP (c{CONNECTIONS})",
            "req/s",
            "higher",
            creates,
            ops.name,
        ),
        fig("fakekube.gets.rps", f"gets/s over HTTP (c{CONNECTIONS})", "req/s", "higher", gets, ops.name),
    ]
    figures[0].goal = Goal("≥ 2,000/s", figures[0].subject >= 2000)
    if lists is not None:
        figures.append(
            fig(
                "fakekube.list_selector_http_ms",
                "labelSelector list of 10,000 over HTTP",
                "ms",
                "lower",
                lists.samples,
                lists.name,
            )
        )
        server_side, seed_rate = server_side_list_ms(ctx)
        inproc = Figure(
            key="fakekube.list_selector_server_ms",
            label="labelSelector list of 10,000, server-side (in-process ASGI)",
            unit="ms",
            better="lower",
            subject_raw=server_side.samples["fakekube"],
            rounds=server_side.name,
        )
        inproc.goal = Goal("≤ 50 ms", inproc.subject <= 50)
        figures.append(inproc)
        notes.append(f"in-process seeding rate (ASGI, no socket): {seed_rate:,.0f} creates/s")
        notes.append(
            f"selector list: {LIST_ROUND_REPEATS} requests per round on a keep-alive connection, "
            "their median the round's sample"
        )
    notes.append(
        f"wrk -t1 -c{CONNECTIONS}, {ctx.duration_s:g} s per run; fakekube and refkube on the server CPU"
    )
    if errors:
        notes.append("wrk reported errors: " + "; ".join(errors))
    return Outcome(figures, notes)
