"""Watch fan-out (handler.watch_fanout): identical watches through the gateway share one upstream watch.

Real sockets end to end: a fakekube served on a loopback port from a thread of this process (so the
upstream watches it serves can be counted), a ``kuberay-apiserver serve`` subprocess in front of
it, and httpx watch clients. Each test works in its own namespace, so shared watches of different
tests never meet. The semantics checked are those of
https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekube.pytest_plugin import FakeKubeServer
from handler.watch_fanout import plan
from tests.handler.gateway_procs import GatewayFactory, serve_gateway
from tests.procs import BIN, create_namespace, stop_server

#: Small limits so tests reach them: a slow watcher is ended past 512 KiB unsent.
GATEWAY_ENV = {"KUBERAY_APISERVER_WATCH_BUFFER_BYTES": "524288", "KUBERAY_APISERVER_WATCH_HISTORY": "50"}


class CountingApp:
    """ASGI wrapper around fakekube's app counting the watch requests it is serving, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open: Counter[str] = Counter()
        self.opened: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        watch = scope["type"] == "http" and b"watch=" in scope.get("query_string", b"")
        path = scope.get("path", "")
        if watch:
            self.open[path] += 1
            self.opened[path] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if watch:
                self.open[path] -= 1


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeKubeServer, CountingApp]]:
    """fakekube with bookmarks every 0.3 s and a history of 20 changes, its watches counted."""
    server = FakeKubeServer({"namespace_finalize_delay": 0.0, "bookmark_interval": 0.3, "history_size": 20})
    counting = CountingApp(server.app.app)
    server.app.app = counting  # type: ignore[assignment]
    yield server, counting
    server.close()


@pytest.fixture(scope="module")
def gateway(upstream: tuple[FakeKubeServer, CountingApp]) -> Iterator[str]:
    proc, url = serve_gateway(upstream[0].url, env=GATEWAY_ENV)
    yield url
    stop_server(proc)


@pytest.fixture
def ns(upstream: tuple[FakeKubeServer, CountingApp]) -> str:
    return create_namespace(upstream[0].url, "fan")


def coll(ns: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{ns}/rayclusters"


def cluster(name: str, labels: dict[str, str] | None = None, pad: int = 0) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if pad:
        meta["annotations"] = {"pad": "x" * pad}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": meta,
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}
                },
            }
        },
    }


class Watch:
    """One watch through httpx: its status, events (decoded, in order) and whether it ended."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.status = 0
        self.events: list[dict[str, Any]] = []
        self.ended = False
        self.opened = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _run(self, client: httpx.AsyncClient) -> None:
        try:
            async with client.stream("GET", self.url, headers=self.headers) as r:
                self.status = r.status_code
                self.opened.set()
                async for line in r.aiter_lines():
                    if line.strip():
                        self.events.append(json.loads(line))
            self.ended = True
        finally:
            self.opened.set()

    def start(self, client: httpx.AsyncClient) -> Watch:
        self.task = asyncio.ensure_future(self._run(client))
        return self

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    def names(self, types: tuple[str, ...] = ("ADDED", "MODIFIED", "DELETED")) -> list[tuple[str, str]]:
        return [(e["type"], e["object"]["metadata"]["name"]) for e in self.events if e["type"] in types]

    def data(self) -> list[tuple[str, str, str]]:
        """(type, name, resourceVersion) of the data events, in order."""
        return [
            (e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
            for e in self.events
            if e["type"] in ("ADDED", "MODIFIED", "DELETED")
        ]


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def opened(*watches: Watch) -> None:
    await asyncio.wait_for(asyncio.gather(*(w.opened.wait() for w in watches)), 10)
    assert all(w.status == 200 for w in watches)


Run = Callable[[httpx.AsyncClient, httpx.AsyncClient], Awaitable[None]]


async def close_all(counting: CountingApp, path: str, *watches: Watch) -> None:
    """Close ``watches``, then wait until no upstream watch of ``path`` is open: the last
    subscriber leaving closes the shared one, and no test leaves one behind for the next."""
    for w in watches:
        await w.close()
    await until(lambda: counting.open[path] == 0)


def run(body: Run, upstream_url: str) -> None:
    """Run ``body(gateway_client, fakekube_client)`` in a fresh event loop."""

    async def main() -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        timeout = httpx.Timeout(30, read=None)
        async with (
            httpx.AsyncClient(timeout=timeout, limits=limits) as gw,
            httpx.AsyncClient(base_url=upstream_url, timeout=30) as fk,
        ):
            await body(gw, fk)

    asyncio.run(main())


async def create(fk: httpx.AsyncClient, ns: str, name: str, pad: int = 0) -> dict[str, Any]:
    r = await fk.post(coll(ns), json=cluster(name, pad=pad))
    assert r.status_code == 201, r.text
    obj: dict[str, Any] = r.json()
    return obj


async def relabel(fk: httpx.AsyncClient, ns: str, name: str, value: str) -> dict[str, Any]:
    r = await fk.patch(
        f"{coll(ns)}/{name}",
        content=json.dumps({"metadata": {"labels": {"v": value}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    obj: dict[str, Any] = r.json()
    return obj


async def delete(fk: httpx.AsyncClient, ns: str, name: str) -> None:
    r = await fk.delete(f"{coll(ns)}/{name}")
    assert r.status_code == 200, r.text


def test_identical_watches_share_one_upstream_watch_and_get_every_event_once_in_order(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        watches = [Watch(f"{gateway}{path}?watch=1").start(gw) for _ in range(6)]
        direct = Watch(f"{server.url}{path}?watch=1").start(gw)
        await opened(*watches, direct)
        assert counting.open[path] == 2  # one shared for the six, plus the direct one
        metrics = (await gw.get(gateway + "/metrics")).text
        assert "kuberay_apiserver_shared_watch_subscribers 6.0" in metrics
        assert "kuberay_apiserver_shared_watches 1.0" in metrics
        await create(fk, ns, "a")
        await create(fk, ns, "b")
        await relabel(fk, ns, "a", "2")
        await delete(fk, ns, "b")
        await until(lambda: all(len(w.events) >= 4 for w in [*watches, direct]))
        await asyncio.sleep(0.3)  # nothing more (no duplicates) arrives
        expected = direct.data()
        assert [t for t, _, _ in expected] == ["ADDED", "ADDED", "MODIFIED", "DELETED"]
        for w in watches:
            assert w.data() == expected
        assert counting.opened[path] == 2
        await close_all(counting, path, *watches, direct)

    run(body, server.url)


def test_watches_made_as_different_callers_never_share(
    upstream: tuple[FakeKubeServer, CountingApp], ns: str, gateway_factory: GatewayFactory
) -> None:
    """In passthrough each watch goes upstream with its caller's token: watches with the same
    token share one upstream watch, watches with another token get their own (a shared watch is
    made as one identity and never serves another)."""
    server, counting = upstream
    path = coll(ns)
    gw_url = gateway_factory(server.url, ["--authentication", "passthrough"], GATEWAY_ENV)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        alice = [
            Watch(f"{gw_url}{path}?watch=1", {"Authorization": "Bearer alice"}).start(gw) for _ in range(3)
        ]
        bob = [Watch(f"{gw_url}{path}?watch=1", {"Authorization": "Bearer bob"}).start(gw) for _ in range(3)]
        await opened(*alice, *bob)
        assert counting.open[path] == 2  # one per caller
        await create(fk, ns, "a")
        await until(lambda: all(len(w.events) >= 1 for w in [*alice, *bob]))
        assert counting.opened[path] == 2
        await close_all(counting, path, *alice, *bob)

    run(body, server.url)


def test_late_joiners_get_state_or_replay_and_unseen_versions_get_the_real_410(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        too_old = (await create(fk, ns, "old"))["metadata"]["resourceVersion"]
        await relabel(fk, ns, "old", "1")  # the shared watch will start after too_old
        first = Watch(f"{gateway}{path}?watch=1").start(gw)
        await opened(first)
        await until(lambda: len(first.events) == 1)  # the initial state: "old"
        a = await create(fk, ns, "a")
        await relabel(fk, ns, "a", "1")
        await create(fk, ns, "b")
        await until(lambda: len(first.events) == 4)
        # resourceVersion unset: the current objects as ADDED, then what follows.
        late = Watch(f"{gateway}{path}?watch=1").start(gw)
        zero = Watch(f"{gateway}{path}?watch=1&resourceVersion=0").start(gw)
        # A resourceVersion the shared watch has seen: exactly the events after it.
        seen = Watch(f"{gateway}{path}?watch=1&resourceVersion={a['metadata']['resourceVersion']}").start(gw)
        await opened(late, zero, seen)
        await until(lambda: len(late.events) == 3 and len(zero.events) == 3 and len(seen.events) == 2)
        assert counting.open[path] == 1
        assert sorted(late.names()) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "old")]
        assert sorted(zero.names()) == sorted(late.names())
        assert seen.data() == first.data()[2:]
        await delete(fk, ns, "a")
        for w in (first, late, zero, seen):
            await until(lambda w=w: w.names()[-1] == ("DELETED", "a"))  # type: ignore[misc]
        # fakekube keeps 20 changes: after 25 more, "old"'s version is gone upstream and was never
        # seen by the shared watch (it started later), so the caller gets the upstream's own 410.
        for i in range(25):
            await create(fk, ns, f"n{i}")
        expired = Watch(f"{gateway}{path}?watch=1&resourceVersion={too_old}").start(gw)
        await opened(expired)
        await until(lambda: expired.ended)
        assert len(expired.events) == 1 and expired.events[0]["type"] == "ERROR"
        status = expired.events[0]["object"]
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
        await close_all(counting, path, first, late, zero, seen)

    run(body, server.url)


def test_timeout_seconds_ends_only_that_client(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        long = Watch(f"{gateway}{path}?watch=1&timeoutSeconds=60").start(gw)
        short = Watch(f"{gateway}{path}?watch=1&timeoutSeconds=1").start(gw)
        await opened(long, short)
        t0 = time.monotonic()
        await until(lambda: short.ended, 5)
        assert 0.8 < time.monotonic() - t0 < 3
        assert counting.open[path] == 1 and not long.ended
        await create(fk, ns, "after")
        await until(lambda: long.names() == [("ADDED", "after")])
        assert short.events == []
        await close_all(counting, path, long)

    run(body, server.url)


def test_bookmarks_go_only_to_watchers_that_asked(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        asked = Watch(f"{gateway}{path}?watch=1&allowWatchBookmarks=true").start(gw)
        plain = Watch(f"{gateway}{path}?watch=1").start(gw)
        await opened(asked, plain)
        await create(fk, ns, "x")
        await until(lambda: any(e["type"] == "BOOKMARK" for e in asked.events) and len(plain.events) == 1)
        await asyncio.sleep(0.8)  # several more upstream bookmarks (every 0.3 s)
        assert counting.open[path] == 1
        assert [e["type"] for e in plain.events] == ["ADDED"]
        assert asked.names() == plain.names()
        await close_all(counting, path, asked, plain)

    run(body, server.url)


def test_plain_watch_with_bookmarks_ends_its_initial_events_with_a_bookmark_as_the_apiserver_does(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    """kube-apiserver v1.37 ends the synthetic ADDED events of a watch without resourceVersion that
    allows bookmarks with a BOOKMARK annotated ``k8s.io/initial-events-end`` (fakekube too); the
    shared watch must send it to each such joiner, and only to those."""
    server, counting = upstream
    path = coll(ns)

    def initial(w: Watch) -> list[tuple[str, Any]]:
        return [(e["type"], e["object"]["metadata"].get("annotations")) for e in w.events[:2]]

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        await create(fk, ns, "a")
        first = Watch(f"{gateway}{path}?watch=1").start(gw)  # opens the shared watch, no bookmarks
        await until(lambda: len(first.events) == 1)
        asked = Watch(f"{gateway}{path}?watch=1&allowWatchBookmarks=true").start(gw)
        direct = Watch(f"{server.url}{path}?watch=1&allowWatchBookmarks=true").start(gw)
        await until(lambda: len(asked.events) >= 2 and len(direct.events) >= 2)
        assert counting.open[path] == 2  # the shared one and the direct one
        end = {"k8s.io/initial-events-end": "true"}
        assert initial(asked) == initial(direct) == [("ADDED", None), ("BOOKMARK", end)]
        bookmark = asked.events[1]["object"]
        assert (bookmark["kind"], bookmark["apiVersion"]) == ("RayCluster", "ray.io/v1")
        # Its resourceVersion is one the shared watch can resume from: a re-watch from it shares.
        rv = bookmark["metadata"]["resourceVersion"]
        again = Watch(f"{gateway}{path}?watch=1&resourceVersion={rv}").start(gw)
        await opened(again)
        await create(fk, ns, "b")
        await until(lambda: len(again.events) == 1 and len(first.events) == 2)
        assert again.names() == [("ADDED", "b")]
        assert counting.opened[path] == 2
        assert [e["type"] for e in first.events] == ["ADDED", "ADDED"]
        await close_all(counting, path, first, asked, direct, again)

    run(body, server.url)


def test_a_late_joiner_gets_the_current_objects_in_key_order_as_a_direct_watch_does(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        await create(fk, ns, "b")
        first = Watch(f"{gateway}{path}?watch=1").start(gw)
        await until(lambda: len(first.events) == 1)
        await create(fk, ns, "a")  # joins the shared state after "b"
        await until(lambda: len(first.events) == 2)
        late = Watch(f"{gateway}{path}?watch=1").start(gw)
        direct = Watch(f"{server.url}{path}?watch=1").start(gw)
        await until(lambda: len(late.events) == 2 and len(direct.events) == 2)
        assert late.data() == direct.data()
        assert late.names() == [("ADDED", "a"), ("ADDED", "b")]
        assert counting.opened[path] == 2
        await close_all(counting, path, first, late, direct)

    run(body, server.url)


def test_slow_watcher_is_ended_without_holding_back_the_others(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    server, counting = upstream
    path = coll(ns)
    host, port = gateway.removeprefix("http://").split(":")

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        fast = Watch(f"{gateway}{path}?watch=1").start(gw)
        await opened(fast)
        # The slow watcher asks and then never reads (a tiny receive buffer fills at once).
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((host, int(port)))
        slow.sendall(
            f"GET {path}?watch=1 HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode()
        )
        await until(lambda: counting.open[path] == 1)
        await asyncio.sleep(0.3)
        count = 100  # ~100 KB per event: far more than the 512 KiB buffer plus what sockets hold
        started = time.monotonic()
        for i in range(count):
            await create(fk, ns, f"big{i}", pad=100_000)
        await until(lambda: len(fast.events) == count, 30)
        assert fast.names() == [("ADDED", f"big{i}") for i in range(count)]
        assert time.monotonic() - started < 20
        # Now read what the slow watcher got: a clean end (last chunk) before all the events.
        slow.setblocking(False)
        got = b""
        loop = asyncio.get_running_loop()
        while not got.endswith(b"0\r\n\r\n"):
            data = await asyncio.wait_for(loop.sock_recv(slow, 1 << 20), 10)
            assert data, "connection closed without the last chunk"
            got += data
        slow.close()
        assert got.startswith(b"HTTP/1.1 200")
        assert 0 < got.count(b'"type":"ADDED"') < count
        await close_all(counting, path, fast)

    run(body, server.url)


def test_field_selector_watches_stay_correct(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ns: str
) -> None:
    """A gateway-evaluated selector (status.state) and an upstream one (metadata.name) next to a plain
    watch: each gets exactly its matching events."""
    server, counting = upstream
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        plain = Watch(f"{gateway}{path}?watch=1").start(gw)
        by_state = Watch(f"{gateway}{path}?watch=1&fieldSelector=status.state%3Dready").start(gw)
        by_name = Watch(f"{gateway}{path}?watch=1&fieldSelector=metadata.name%3Db").start(gw)
        await opened(plain, by_state, by_name)
        await create(fk, ns, "a")
        await create(fk, ns, "b")
        r = await fk.patch(
            f"{path}/a/status",
            content=json.dumps({"status": {"state": "ready"}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        await delete(fk, ns, "b")
        await until(lambda: len(plain.events) == 4)
        await until(lambda: len(by_state.events) == 1 and len(by_name.events) == 2)
        await asyncio.sleep(0.2)
        assert by_state.names() == [("ADDED", "a")]
        assert by_name.names() == [("ADDED", "b"), ("DELETED", "b")]
        await close_all(counting, path, plain, by_state, by_name)

    run(body, server.url)


def test_fanout_off_opens_one_upstream_watch_per_client(
    upstream: tuple[FakeKubeServer, CountingApp], gateway_factory: GatewayFactory, ns: str
) -> None:
    server, counting = upstream
    off = gateway_factory(server.url, ["--no-watch-fanout"])
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        watches = [Watch(f"{off}{path}?watch=1").start(gw) for _ in range(3)]
        await opened(*watches)
        await until(lambda: counting.open[path] == 3)
        for w in watches:
            await w.close()

    run(body, server.url)


Op = tuple[str, int]
OPS = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete", "join"]), st.integers(0, 3)), max_size=14
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_every_subscriber_folds_to_the_store_state(
    upstream: tuple[FakeKubeServer, CountingApp], gateway: str, ops: list[Op]
) -> None:
    """Random creates/updates/deletes interleaved with joins: each subscriber's stream, folded
    (ADDED/MODIFIED set the object, DELETED removes it), ends equal to the store's state."""
    server, counting = upstream
    ns = create_namespace(server.url, "prop")
    path = coll(ns)

    async def body(gw: httpx.AsyncClient, fk: httpx.AsyncClient) -> None:
        watches = [Watch(f"{gateway}{path}?watch=1").start(gw)]
        await opened(*watches)
        alive: set[str] = set()
        for op, i in ops:
            name = f"o{i}"
            if op == "join":
                w = Watch(f"{gateway}{path}?watch=1").start(gw)
                watches.append(w)
                await opened(w)
            elif op == "create" and name not in alive:
                await create(fk, ns, name)
                alive.add(name)
            elif op == "update" and name in alive:
                await relabel(fk, ns, name, str(time.monotonic_ns()))
            elif op == "delete" and name in alive:
                await delete(fk, ns, name)
                alive.discard(name)
        await create(fk, ns, "marker")
        await until(lambda: all(("ADDED", "marker") in w.names() for w in watches))
        listed = (await fk.get(path)).json()["items"]
        state = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listed}
        for w in watches:
            folded: dict[str, str] = {}
            for kind, name, rv in w.data():
                if kind == "DELETED":
                    folded.pop(name, None)
                else:
                    folded[name] = rv
            assert folded == state
        assert counting.open[path] == 1
        await close_all(counting, path, *watches)

    run(body, server.url)


def test_plan_keys_on_the_upstream_request_not_per_client_parameters() -> None:
    base = "/apis/ray.io/v1/namespaces/d/rayclusters"
    a = plan(base, "watch=1&labelSelector=x%3D1&timeoutSeconds=5", [("accept", "application/json")])
    b = plan(base, "labelSelector=x%3D1&watch=true&allowWatchBookmarks=true&resourceVersion=7", [])
    assert a is not None and b is not None and a.key == b.key
    assert (a.timeout, a.bookmarks, a.resource_version) == (5.0, False, "")
    assert (b.timeout, b.bookmarks, b.resource_version) == (None, True, "7")
    assert plan(base, "watch=1&labelSelector=x%3D2", []).key != a.key  # type: ignore[union-attr]
    with_header = plan(base, "watch=1&labelSelector=x%3D1", [("x-custom", "1"), ("user-agent", "k")])
    assert (
        with_header is not None and with_header.key != a.key and with_header.headers == (("x-custom", "1"),)
    )
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    assert plan(base, "watch=1", [("accept", table)]) is None
    assert plan(base, "watch=1", [("accept", "application/vnd.kubernetes.protobuf")]) is None
    assert plan(base, "watch=1&sendInitialEvents=true&allowWatchBookmarks=true", []) is None
    assert plan(base, "watch=1&timeoutSeconds=abc", []) is None


def test_request_heads_above_the_http1_buffer_get_431(gateway: str) -> None:
    """granian's HTTP/1 buffer at 8 KiB (KUBERAY_APISERVER_HTTP1_BUFFER_BYTES, see handler.settings)."""
    with httpx.Client(timeout=10) as c:
        assert c.get(gateway + "/healthz", headers={"X-Pad": "a" * 7000}).status_code == 200
        assert c.get(gateway + "/healthz", headers={"X-Pad": "a" * 9000}).status_code == 431


def test_http1_buffer_below_hypers_minimum_is_refused_at_start() -> None:
    env = {**os.environ, "KUBERAY_APISERVER_HTTP1_BUFFER_BYTES": "4096"}
    done = subprocess.run(
        [str(BIN / "kuberay-apiserver"), "serve", "--upstream", "http://127.0.0.1:1"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert b"KUBERAY_APISERVER_HTTP1_BUFFER_BYTES=4096 is below the minimum of 8192" in done.stderr
