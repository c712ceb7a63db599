"""Platform behaviour (handler.lifecycle): the watch cap and the drain on SIGTERM / SIGINT.

Real processes on real sockets: ``kuberay-apiserver serve`` in front of a scripted upstream
(tests.handler.gateway_stub: a watch that stays open, a list that takes 1.5 s) or fakekube, and
``kuberay-apiserver dev`` with its fakekube child. The drain is tested on both serving paths:
granian (``--authentication none``) and uvicorn (``client-certificate`` over TLS, one worker and
two). Timings are bounded generously for a loaded 2-core machine; each bound is what the behaviour
promises (exit within the grace period), not a performance figure.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handler.lifecycle import DEFAULT_MAX_WATCH_SECONDS, DRAIN_SIGNAL, Drain, cap_watch_query
from handler.settings import Settings
from kubeapi.query import Query
from tests.handler.gateway_procs import serve_gateway
from tests.handler.gateway_stub import Reply, Seen, StubUpstream
from tests.handler.review_stub import Reviews, resource_rule
from tests.handler.test_tls_serving import Pki, client_context, https, pki, serve
from tests.procs import BIN, free_port, kill_group, wait_healthy

__all__ = ["pki"]  # the fixture, imported from test_tls_serving

EVENT = (
    json.dumps(
        {
            "type": "ADDED",
            "object": {
                "kind": "RayCluster",
                "apiVersion": "ray.io/v1",
                "metadata": {"name": "a", "resourceVersion": "7"},
            },
        }
    ).encode()
    + b"\n"
)
LIST = json.dumps({"kind": "RayClusterList", "apiVersion": "ray.io/v1", "metadata": {}, "items": []}).encode()


# -- the cap, as a function ------------------------------------------------------------------------


def test_default_cap_is_below_the_platforms_300_s() -> None:
    """The default must end watches before Knative's and Cloud Run's 300 s request timeout."""
    assert 0 < Settings().max_watch_seconds == DEFAULT_MAX_WATCH_SECONDS < 300


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("watch=1", "watch=1&timeoutSeconds=270"),
        ("watch=1&timeoutSeconds=0", "watch=1&timeoutSeconds=270"),
        ("watch=1&timeoutSeconds=", "watch=1&timeoutSeconds=270"),
        ("watch=1&timeoutSeconds=-5", "watch=1&timeoutSeconds=270"),
        ("watch=1&timeoutSeconds=9999&resourceVersion=5", "watch=1&resourceVersion=5&timeoutSeconds=270"),
        ("watch=1&timeoutSeconds=30", None),
        ("watch=1&timeoutSeconds=270", None),
        ("watch=1&timeoutSeconds=abc", None),  # left for the API server's 400
    ],
)
def test_cap_watch_query(query: str, expected: str | None) -> None:
    """timeoutSeconds is set to the cap when absent, zero, negative or above it; kept otherwise."""
    capped = cap_watch_query(Query.parse(query), 270)
    assert (capped.encode() if capped is not None else None) == expected


@given(st.one_of(st.none(), st.integers(-(2**40), 2**40)), st.integers(1, 10_000))
def test_cap_never_lets_a_watch_outlive_the_cap(given_timeout: int | None, cap: int) -> None:
    """Whatever the caller asks, the upstream's timeoutSeconds ends up in 1..cap."""
    q = Query.parse("watch=true" + ("" if given_timeout is None else f"&timeoutSeconds={given_timeout}"))
    out = cap_watch_query(q, cap) or q
    sent = out.get("timeoutSeconds")
    assert sent is not None and 1 <= int(sent) <= cap
    assert cap_watch_query(q, 0) is None  # 0 disables the cap


def test_drain_ends_tracked_watches_and_late_ones() -> None:
    """Drain.start cancels every tracked task with its message; a task tracked after is ended at once."""
    import asyncio

    async def scenario() -> list[bool]:
        drain = Drain()
        results: list[bool] = []

        async def watch() -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                results.append(task is not None and drain.ended(task))
                raise

        first = asyncio.ensure_future(watch())
        await asyncio.sleep(0)
        drain.track(first)  # type: ignore[arg-type]
        drain.start()
        late = asyncio.ensure_future(watch())
        await asyncio.sleep(0)
        drain.track(late)  # type: ignore[arg-type]
        await asyncio.gather(first, late, return_exceptions=True)
        return results

    assert asyncio.run(scenario()) == [True, True]


# -- the cap, through the gateway ------------------------------------------------------------------


@pytest.mark.parametrize("fanout", ["--watch-fanout", "--no-watch-fanout"])
def test_watch_cap_ends_watch_cleanly(
    fakekube_url: str, namespace: str, gateway_factory: object, fanout: str
) -> None:
    """--max-watch-seconds 1: a watch with no timeoutSeconds (and one asking 600) ends by itself
    after about a second, its body complete (httpx raises on a cut chunked body), shared or not."""
    url = gateway_factory(fakekube_url, ["--max-watch-seconds", "1", fanout])  # type: ignore[operator]
    base = f"{url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    with httpx.Client(timeout=30) as c:
        for query in ("watch=1", "watch=1&timeoutSeconds=600"):
            t0 = time.monotonic()
            with c.stream("GET", f"{base}?{query}") as r:
                assert r.status_code == 200
                body = r.read()
            elapsed = time.monotonic() - t0
            assert 0.8 <= elapsed < 10, (query, elapsed)
            assert body == b""  # nothing happened in the namespace: no events, a clean end


def test_watch_cap_reaches_the_upstream() -> None:
    """The upstream sees timeoutSeconds=cap on a dedicated watch that gave none."""
    stub = StubUpstream()
    try:
        proc, url = serve_gateway(stub.url, ["--max-watch-seconds", "42", "--no-watch-fanout"])
        try:
            stub.script(Reply(body=EVENT))
            httpx.get(f"{url}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1", timeout=30)
            watches = [s.path for s in stub.seen if "watch=1" in s.path]
            assert watches and watches[-1].endswith("timeoutSeconds=42"), watches
        finally:
            _stop(proc)
    finally:
        stub.close()


# -- the drain -------------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the gateway and its workers (its whole process group; killing only granian's main
    process left a worker running after the test)."""
    kill_group(proc)


def _slow_responder(gate: threading.Event) -> Callable[[Seen], Reply | None]:
    """Watches send EVENT then stay open until ``gate`` (never set by the tests) or 10 s; lists in
    namespace ``slow`` answer after 1.5 s, in ``stuck`` after 30 s (or once ``gate`` is set)."""

    def respond(seen: Seen) -> Reply | None:
        if "watch=" in seen.path:
            return Reply(body=EVENT, tail=b"{}\n", gate=gate)  # tail: never sent (gate unset)
        if "/namespaces/slow/" in seen.path:
            time.sleep(1.5)
            return Reply(body=LIST)
        if "/namespaces/stuck/" in seen.path:
            gate.wait(30)
            return Reply(body=LIST)
        return None

    return respond


@pytest.fixture
def slow_stub() -> Iterator[tuple[StubUpstream, threading.Event]]:
    """A stub upstream answering as :func:`_slow_responder` says."""
    stub = StubUpstream()
    gate = threading.Event()
    stub.responder = _slow_responder(gate)
    yield stub, gate
    gate.set()
    stub.close()


def _get_in_thread(url: str, out: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            out["response"] = httpx.get(url, timeout=60)
        except httpx.HTTPError as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _wait_seen(stub: StubUpstream, part: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not any(part in s.path for s in stub.seen):
        assert time.monotonic() < deadline, f"upstream never saw {part}"
        time.sleep(0.02)


@pytest.mark.parametrize("fanout", ["--watch-fanout", "--no-watch-fanout"])
def test_sigterm_drains(slow_stub: tuple[StubUpstream, threading.Event], fanout: str) -> None:
    """SIGTERM: the open watch ends cleanly after the event it had (no cut chunked body), the
    in-flight 1.5 s request finishes with 200, and the process exits well within the grace."""
    stub, _ = slow_stub
    grace = 8
    proc, url = serve_gateway(stub.url, ["--shutdown-grace-seconds", str(grace), fanout])
    try:
        with (
            httpx.Client(timeout=30) as c,
            c.stream("GET", f"{url}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1") as watch,
        ):
            lines = watch.iter_lines()
            assert next(lines).encode() + b"\n" == EVENT
            slow: dict[str, object] = {}
            thread = _get_in_thread(f"{url}/apis/ray.io/v1/namespaces/slow/rayclusters", slow)
            _wait_seen(stub, "/namespaces/slow/")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rest = list(lines)  # raises httpx.RemoteProtocolError if the stream is cut
            ended = time.monotonic() - t0
        thread.join(30)
        assert rest == []
        assert ended < grace, ended  # the drain ended the watch; it did not wait for the kill
        response = slow.get("response")
        assert isinstance(response, httpx.Response), slow
        assert response.status_code == 200
        proc.wait(grace + 5)
        assert time.monotonic() - t0 < grace + 3
    finally:
        _stop(proc)


def test_sigterm_exits_within_grace_whatever_is_open(slow_stub: tuple[StubUpstream, threading.Event]) -> None:
    """A request that would take 30 s does not hold the process: it exits within the grace (2 s)."""
    stub, _ = slow_stub
    proc, url = serve_gateway(stub.url, ["--shutdown-grace-seconds", "2"])
    try:
        stuck: dict[str, object] = {}
        _get_in_thread(f"{url}/apis/ray.io/v1/namespaces/stuck/rayclusters", stuck)
        _wait_seen(stub, "/namespaces/stuck/")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert time.monotonic() - t0 < 2 + 3
    finally:
        _stop(proc)


def test_readyz_is_503_while_draining() -> None:
    """The drain flag turns /readyz to 503 ``draining`` (in-process app, no upstream call made)."""
    from litestar.testing import TestClient

    from handler.factory import create_app

    app = create_app(Settings(upstream="http://127.0.0.1:9", authentication="none", host="127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        app.state.drain.start()
        r = client.get("/readyz")
    assert (r.status_code, r.text) == (503, "draining")


# -- the drain on the uvicorn path (client-certificate) ---------------------------------------------


@pytest.fixture
def tls_slow_stub() -> Iterator[StubUpstream]:
    """The slow stub behind a client-certificate gateway: it also answers the gateway's
    SubjectAccessReviews, allowing user ``alice`` to list and watch rayclusters in every
    namespace the tests use."""
    stub = StubUpstream()
    gate = threading.Event()
    slow = _slow_responder(gate)
    rules = [
        resource_rule("alice", {"list", "watch"}, "ray.io", "rayclusters", ns)
        for ns in ("default", "slow", "stuck")
    ]
    reviews = Reviews({}, rules)
    stub.responder = lambda seen: reviews(seen) or slow(seen)
    yield stub
    gate.set()
    stub.close()


def _tls_gateway(
    stub: StubUpstream, pki: Pki, tmp: Path, grace: float, extra: list[str]
) -> tuple[subprocess.Popen[bytes], str, ssl.SSLContext]:
    """A client-certificate gateway (uvicorn) in front of ``stub``: (process, base URL, an SSL
    context presenting alice's certificate)."""
    args = ["--authentication", "client-certificate", "--client-ca-file", pki.client_ca_file]
    args += ["--shutdown-grace-seconds", str(grace), *extra]
    proc, port = serve(stub.url, pki, args, tmp)
    alice = pki.client_ca.issue("alice")
    return proc, f"https://127.0.0.1:{port}", client_context(pki, alice, "alice")


def _get_tls_in_thread(url: str, ctx: ssl.SSLContext, out: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            out["response"] = httpx.get(url, timeout=60, verify=ctx)
        except httpx.HTTPError as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(
    ("fanout", "workers"), [("--watch-fanout", 1), ("--no-watch-fanout", 1), ("--watch-fanout", 2)]
)
def test_sigterm_drains_client_certificate_mode(
    tls_slow_stub: StubUpstream, pki: Pki, tmp_path: Path, fanout: str, workers: int
) -> None:
    """The uvicorn path drains as granian's does: on SIGTERM the open watch ends cleanly after the
    event it had (a cut chunked body raises in httpx), before the grace period, the in-flight 1.5 s
    request finishes with 200, and the process exits within the grace."""
    grace = 8
    proc, url, ctx = _tls_gateway(tls_slow_stub, pki, tmp_path, grace, [fanout, "--workers", str(workers)])
    try:
        with (
            httpx.Client(timeout=30, verify=ctx) as c,
            c.stream("GET", f"{url}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1") as watch,
        ):
            assert watch.status_code == 200
            lines = watch.iter_lines()
            assert next(lines).encode() + b"\n" == EVENT
            slow: dict[str, object] = {}
            thread = _get_tls_in_thread(f"{url}/apis/ray.io/v1/namespaces/slow/rayclusters", ctx, slow)
            _wait_seen(tls_slow_stub, "/namespaces/slow/")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rest = list(lines)  # raises httpx.RemoteProtocolError if the stream is cut
            ended = time.monotonic() - t0
        thread.join(30)
        assert rest == []
        assert ended < grace, ended  # the drain ended the watch; uvicorn's timeout did not
        response = slow.get("response")
        assert isinstance(response, httpx.Response), slow
        assert response.status_code == 200
        proc.wait(grace + 5)
        assert time.monotonic() - t0 < grace + 3
    finally:
        _stop(proc)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_exits_within_grace_client_certificate_mode(
    tls_slow_stub: StubUpstream, pki: Pki, tmp_path: Path, workers: int
) -> None:
    """With a watch open and a request that would take 30 s, the uvicorn-served gateway still exits
    within the grace (2 s), and the watch ends with its final chunk, not cut."""
    proc, url, ctx = _tls_gateway(tls_slow_stub, pki, tmp_path, 2, ["--workers", str(workers)])
    try:
        stuck: dict[str, object] = {}
        _get_tls_in_thread(f"{url}/apis/ray.io/v1/namespaces/stuck/rayclusters", ctx, stuck)
        _wait_seen(tls_slow_stub, "/namespaces/stuck/")
        with (
            httpx.Client(timeout=30, verify=ctx) as c,
            c.stream("GET", f"{url}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1") as watch,
        ):
            lines = watch.iter_lines()
            assert next(lines).encode() + b"\n" == EVENT
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert list(lines) == []
        proc.wait(15)
        assert time.monotonic() - t0 < 2 + 3
    finally:
        _stop(proc)


def test_readyz_is_503_while_draining_client_certificate_mode(
    tls_slow_stub: StubUpstream, pki: Pki, tmp_path: Path
) -> None:
    """The uvicorn worker takes the drain signal SIGTERM sends it: ``/readyz`` answers 503
    ``draining`` over TLS (while the process still serves) and the open watch has ended cleanly."""
    proc, url, ctx = _tls_gateway(tls_slow_stub, pki, tmp_path, 8, [])
    port = int(url.rsplit(":", 1)[1])
    try:
        assert https(port, ctx, "/readyz")[:2] == (200, "ok")
        with (
            httpx.Client(timeout=30, verify=ctx) as c,
            c.stream("GET", f"{url}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1") as watch,
        ):
            lines = watch.iter_lines()
            assert next(lines).encode() + b"\n" == EVENT
            proc.send_signal(DRAIN_SIGNAL)
            assert list(lines) == []
        assert https(port, ctx, "/readyz")[:2] == (503, "draining")
        assert https(port, ctx, "/healthz")[0] == 200  # alive, not ready
        assert proc.poll() is None
    finally:
        _stop(proc)


# -- dev -------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-group"])
def test_dev_exits_promptly_with_its_fakekube(how: str) -> None:
    """``kuberay-apiserver dev`` with an open watch exits within its grace (3 s) + 5 s on SIGTERM,
    and on Ctrl-C (SIGINT to the whole process group, as a terminal sends it); its fakekube child
    and granian worker are gone too."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "kuberay-apiserver"), "dev", "--port", str(port), "--shutdown-grace-seconds", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=60)
        children = _children(proc.pid)
        assert children  # fakekube and the granian worker
        with (
            httpx.Client(timeout=30) as c,
            c.stream(
                "GET", f"http://127.0.0.1:{port}/apis/ray.io/v1/namespaces/default/rayclusters?watch=1"
            ) as watch,
        ):
            assert watch.status_code == 200
            t0 = time.monotonic()
            if how == "SIGTERM":
                proc.send_signal(signal.SIGTERM)
            else:
                os.killpg(proc.pid, signal.SIGINT)
            proc.wait(3 + 5)
            elapsed = time.monotonic() - t0
        assert elapsed < 3 + 5
        deadline = time.monotonic() + 5
        while not all(_gone(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(c) for c in children), children
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
