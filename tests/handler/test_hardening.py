"""Issue 13 against the gateway: no request stalls, bloats or leaks it; every answer is a Status.

Each ``test_findingN_*`` is the issue's numbered finding N, run against ``kuberay-apiserver serve``
in front of the fault-injecting upstream (:mod:`tests.faults`) or the session's fakekube. The
others exercise the fault upstream's failure modes (resets, stalls, truncation, 5xx/429 with
``Retry-After``, slow drip) counting upstream attempts, connections and the gateway's file
descriptors before and after.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from handler import hooks
from tests.fakekube.objects import RC_PATH
from tests.fakekube.test_hardening import MAX_BLOCKED, blocked_while, heavy_raycluster
from tests.faults import Attempt, Fault, FaultUpstream, Script, child_pids, ok_list, open_fds, status_body
from tests.handler.gateway_procs import FAST_RETRY, serve_gateway
from tests.procs import free_port, start_server, stop_server

RC = "/apis/ray.io/v1/namespaces/default/rayclusters"
SVC = "/api/v1/namespaces/default/services/raycluster-head-svc"
KUBERAY_SERVICE = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {
        "name": "raycluster-head-svc",
        "namespace": "default",
        "labels": {"app.kubernetes.io/name": "kuberay"},
    },
}


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultUpstream]:
    """The fault-injecting upstream, shared by the module (reset by ``gateway``)."""
    f = FaultUpstream()
    yield f
    f.close()


@pytest.fixture(scope="module")
def _gateway_proc(faults: FaultUpstream) -> Iterator[tuple[int, str]]:
    proc, url = serve_gateway(faults.url, env=FAST_RETRY)
    yield proc.pid, url
    stop_server(proc)


@pytest.fixture
def gateway(_gateway_proc: tuple[int, str], faults: FaultUpstream) -> str:
    """The gateway's URL in front of ``faults``, reset to its default script."""
    faults.reset()
    return _gateway_proc[1]


def gateway_fds(pid: int) -> int:
    """Open file descriptors of the gateway's processes (main and granian worker)."""
    return sum(open_fds(p) for p in child_pids(pid))


def _script(prefix: str, fault: Fault) -> Script:
    """Answer ``fault`` for paths under ``prefix`` (for a ``?watch`` prefix: the watches under its
    path, lists being answered at once); the Service check sees a KubeRay Service."""
    path_prefix, _, query = prefix.partition("?")

    def script(method: str, path: str) -> Fault:
        if path.startswith(SVC) and "/proxy" not in path:
            return Fault(body=json.dumps(KUBERAY_SERVICE).encode())
        if path.startswith(path_prefix) and (not query or "watch=" in path):
            return fault
        return ok_list()

    return script


def _leave_and_time(gateway: str, faults: FaultUpstream, pid: int, target: str, fault: Fault) -> float | None:
    """Send ``GET target``, leave once the upstream has it (and 0.2 s more, for the headers to
    reach the gateway), and return how long the upstream connection then stayed open (None: over
    1 s). Also checks that the gateway's file descriptors come back to where they were."""
    path = target.split("?")[0]
    faults.reset(_script(target, fault))
    httpx.get(gateway + "/apis/ray.io/v1/namespaces/warm/rayclusters")  # the pool is warm
    # and so is the HTTP/1.1 lane of long-running requests (its first request opens one file
    # descriptor for the process's lifetime, /dev/null): a services-proxy request answered at once
    httpx.get(gateway + SVC + "/proxy/warm")
    time.sleep(0.2)
    base_fds = gateway_fds(pid)
    host, port = gateway.removeprefix("http://").split(":")
    watch = "watch=" in target

    def seen() -> list[Attempt]:
        return [a for a in faults.attempts_for(path) if not watch or "watch=" in a.path]

    before = len(seen())
    with socket.create_connection((host, int(port))) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        deadline = time.monotonic() + 5
        while len(seen()) <= before:
            assert time.monotonic() < deadline, f"the upstream never saw {target}"
            time.sleep(0.01)
        time.sleep(0.2)
        conn = seen()[-1].connection
    took = faults.wait_closed(conn, 1.0)
    deadline = time.monotonic() + 1
    while gateway_fds(pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gateway_fds(pid) <= base_fds, "the gateway holds more file descriptors than before"
    return took


#: An answer that trickles (one byte every 0.3 s): a watch's events, a slow proxied download.
TRICKLE = Fault("drip", body=b'{"type":"ADDED","object":{"kind":"RayCluster"}}\n' * 4, drip=0.3, chunked=True)


@pytest.fixture(scope="module")
def _short_timeout_gateway(faults: FaultUpstream) -> Iterator[tuple[int, str]]:
    env = {**FAST_RETRY, "KUBERAY_APISERVER_UPSTREAM_REQUEST_TIMEOUT": "1"}
    proc, url = serve_gateway(faults.url, env=env)
    yield proc.pid, url
    stop_server(proc)


@pytest.mark.parametrize(
    ("target", "fault"),
    [(f"{RC}/a", Fault("stall")), (RC, Fault("stall"))],
    ids=["get", "list"],
)
def test_finding4_a_stalled_get_or_list_is_freed_by_the_request_timeout(
    target: str, fault: Fault, faults: FaultUpstream, _short_timeout_gateway: tuple[int, str]
) -> None:
    """A caller leaves while the upstream is silent before its headers: the upstream connection is
    closed by ``upstream_request_timeout`` (1 s here; kube-apiserver's own is 60 s), not held for
    as long as the upstream stays silent (as on main), and the gateway's file descriptors come
    back. (pyreqwest cannot abort a request before the upstream's headers, see
    handler.upstream_http1: for plain requests this timeout is the bound.)"""
    pid, url = _short_timeout_gateway
    took = _leave_and_time(url, faults, pid, target, fault)
    assert took is not None, "the stalled upstream connection outlived the 1 s request timeout"


def test_finding4_a_caller_that_stays_gets_the_504_timeout_status(
    faults: FaultUpstream, _short_timeout_gateway: tuple[int, str]
) -> None:
    """The request timeout's answer is kube-apiserver's: 504 ``Timeout`` as a Status."""
    faults.reset(_script(RC, Fault("stall")))
    r = httpx.get(_short_timeout_gateway[1] + RC, timeout=30)
    assert (r.status_code, r.json()["kind"], r.json()["reason"]) == (504, "Status", "Timeout")


@pytest.mark.parametrize(
    "target",
    [f"{RC}?watch=1", f"{RC}?watch=TRUE", f"{SVC}/proxy/api/jobs/"],
    ids=["watch", "watch-TRUE", "proxy"],
)
def test_finding4_a_long_running_request_is_freed_at_the_upstreams_next_byte(
    target: str, gateway: str, faults: FaultUpstream, _gateway_proc: tuple[int, str]
) -> None:
    """Watches and the services proxy have no request timeout: once the caller left, the upstream
    connection closes as soon as the upstream sends anything (here within 1 s), and the gateway's
    file descriptors come back."""
    took = _leave_and_time(gateway, faults, _gateway_proc[0], target, TRICKLE)
    assert took is not None, "the upstream connection is still open 1 s after the caller left"


#: The ways an upstream stalls: it sends nothing at all, its response headers and then nothing (a
#: watch's headers come at once), or some of the body and then nothing (chunked: the gateway streams it).
STALLS = {
    "nothing-at-all": Fault("stall"),
    "headers-then-nothing": Fault("stall_after_headers", body=b"", chunked=True),
    # a watch that sent an event and went quiet: the common case (an idle watch)
    "some-body-then-nothing": Fault("stall_after_headers", body=TRICKLE.body[:48], chunked=True),
}

#: Plain requests stay on pyreqwest, which cannot abort a request (handler.upstream_http1): the
#: connection is freed at the upstream's next byte or by the 60 s request timeout, not in 1 s.
#: Measured, not hidden: these cases must keep failing until pyreqwest aborts on cancellation.
_PYREQWEST_CANNOT_ABORT = pytest.mark.xfail(
    strict=True,
    reason="plain requests use pyreqwest 0.15, which cannot abort an in-flight request "
    "(spawn_handled drops its JoinHandle without abort); aiohttp would cost ~2x CPU per request",
)


@pytest.mark.parametrize(
    ("target", "stall"),
    [
        pytest.param(target, stall, id=f"{name}-{stall}", marks=marks)
        for name, target in [
            ("get", f"{RC}/a"),
            ("list", RC),
            ("watch", f"{RC}?watch=1"),
            ("services-proxy", f"{SVC}/proxy/api/jobs/"),
        ]
        for stall in STALLS
        for marks in [
            [_PYREQWEST_CANNOT_ABORT] if name in ("get", "list") and stall == "nothing-at-all" else []
        ]
    ],
)
def test_finding4_a_caller_leaving_a_stalled_upstream_frees_its_connection_within_1s(
    target: str, stall: str, gateway: str, faults: FaultUpstream, _gateway_proc: tuple[int, str]
) -> None:
    """Issue 13 finding 4: a caller leaves while the upstream is stalled (nothing at all, or headers
    and then nothing): the upstream connection the request used, as the fault server counts its
    connections, is closed within 1 s of the caller leaving, with no upstream byte to wake the
    gateway and the request timeout at its 60 s default; the gateway's file descriptors come back."""
    took = _leave_and_time(gateway, faults, _gateway_proc[0], target, STALLS[stall])
    assert took is not None, (
        f"the upstream connection of a stalled {target} is still open 1 s after the caller left"
    )


def test_finding8_a_label_removed_while_proxying_gets_404_not_the_backends_answer(
    gateway: str, faults: FaultUpstream
) -> None:
    """The Service loses ``app.kubernetes.io/name=kuberay`` while its proxied request is in flight:
    the gateway reads the Service again before relaying, drops the backend's answer and answers
    the 404 it gives for a Service that is not KubeRay's (on main the answer was relayed)."""
    reads = []
    unlabeled = {**KUBERAY_SERVICE, "metadata": {**KUBERAY_SERVICE["metadata"], "labels": {}}}  # type: ignore[dict-item]

    def script(method: str, path: str) -> Fault:
        if path.startswith(SVC) and "/proxy" not in path:
            reads.append(path)
            return Fault(body=json.dumps(KUBERAY_SERVICE if len(reads) == 1 else unlabeled).encode())
        if "/proxy" in path:
            return Fault(body=b'{"secret": "from the backend"}', delay=0.2)
        return ok_list()

    faults.reset(script)
    r = httpx.get(f"{gateway}{SVC}/proxy/api/jobs/", timeout=10)
    assert r.status_code == 404 and r.json()["kind"] == "Status" and r.json()["reason"] == "NotFound"
    assert "secret" not in r.text
    assert len(reads) == 2 and len(faults.attempts_for(f"{SVC}/proxy")) == 1


def test_finding8_a_kuberay_service_is_proxied_after_both_reads(gateway: str, faults: FaultUpstream) -> None:
    """The second read costs one more upstream GET and changes nothing for a KubeRay Service."""
    faults.reset(_script(f"{SVC}/proxy", Fault(body=b'{"jobs": []}')))
    r = httpx.get(f"{gateway}{SVC}/proxy/api/jobs/", timeout=10)
    assert (r.status_code, r.json()) == (200, {"jobs": []})
    assert len([a for a in faults.attempts if a.path == SVC]) == 2


@pytest.mark.parametrize("value", ["TRUE", "yes", "", "maybe", "1", "true"])
def test_finding3_watch_TRUE_is_a_watch_for_the_gateway(value: str) -> None:
    """Any ``watch`` value but ``0``/``false`` (any case) is a watch, as ``Convert_Slice_string_To_bool``
    reads it: object hooks see the verb ``watch`` and disconnect handling applies (the
    ``watch-TRUE`` case of the finding 4 test above)."""
    from tests.handler.test_steps import request

    r = request("GET", "/apis/ray.io/v1/namespaces/ns/rayclusters", f"watch={value}")
    assert r.watch
    assert hooks.verb_of(r.method, r.route, r.watch) == "watch"
    for false in ("0", "false", "FALSE", "False"):
        f = request("GET", "/apis/ray.io/v1/namespaces/ns/rayclusters", f"watch={false}")
        assert not f.watch and hooks.verb_of(f.method, f.route, f.watch) == "list"


def test_an_upstream_header_pyreqwest_cannot_read_is_left_out_not_a_500(
    gateway: str, faults: FaultUpstream
) -> None:
    """kube-apiserver quotes a non-ASCII unknown field name in its ``Warning`` header; the gateway
    relays the answer without that header rather than failing with a 500 that is not a Status."""
    warning = '299 - "unknown field \\"\u00a0\\""'
    headers = {"Content-Type": "application/json", "Warning": warning, "X-Kept": "1"}
    faults.reset(lambda method, path: Fault(body=b'{"kind":"RayClusterList","items":[]}', headers=headers))
    r = httpx.get(gateway + RC, timeout=10)
    assert r.status_code == 200 and r.json()["kind"] == "RayClusterList"
    assert r.headers["x-kept"] == "1" and "warning" not in r.headers


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        (Fault("reset_before_headers"), 4),  # a GET is retried (3 retries), then 503
        (Fault("reset_after_headers"), 1),  # headers came: not replayed, 503 Status
        (Fault(status=503, body=status_body(503, "ServiceUnavailable", "busy"), retry_after="0"), 4),
        (Fault(status=429, body=status_body(429, "TooManyRequests", "slow down"), retry_after="0"), 4),
    ],
    ids=["reset-before-headers", "reset-after-headers", "503-retry-after", "429-retry-after"],
)
def test_faults_are_statuses_with_the_attempts_counted(
    fault: Fault, attempts: int, gateway: str, faults: FaultUpstream, _gateway_proc: tuple[int, str]
) -> None:
    """Every failure reaches the caller as a Status; the upstream sees exactly the attempts the
    retry policy allows; no connection or file descriptor is left behind."""
    faults.reset(lambda method, path: fault)
    pid = _gateway_proc[0]
    fds = gateway_fds(pid)
    r = httpx.get(gateway + RC, timeout=30)
    assert r.status_code >= 400 and r.json()["kind"] == "Status"
    assert len(faults.attempts_for(RC)) == attempts
    time.sleep(0.3)
    assert gateway_fds(pid) <= fds + 1  # at most one pooled keep-alive connection more


def test_a_write_is_never_replayed_after_a_reset(gateway: str, faults: FaultUpstream) -> None:
    """A POST whose connection was reset after it was sent reaches the upstream once (the 503
    Status tells the caller; a replay could create twice)."""
    faults.reset(lambda method, path: Fault("reset_after_headers") if method == "POST" else ok_list())
    r = httpx.post(gateway + RC, json={"apiVersion": "ray.io/v1", "kind": "RayCluster"}, timeout=30)
    assert r.status_code == 503 and r.json()["kind"] == "Status"
    assert len([a for a in faults.attempts_for(RC) if a.method == "POST"]) == 1


@pytest.mark.parametrize("fault", ["reset_before_headers", "reset_after_headers"])
def test_a_services_proxy_write_over_the_http1_lane_reaches_the_upstream_once(
    fault: str, gateway: str, faults: FaultUpstream
) -> None:
    """A POST through the services proxy (long-running: the aiohttp lane to an HTTP/1.1 upstream)
    whose connection is reset after it was sent is not replayed, by the gateway's retry rules nor
    by aiohttp (which replays only idempotent methods): one attempt, and a 503 Status."""
    proxy = f"{SVC}/proxy/api/jobs/"
    faults.reset(
        lambda method, path: (
            Fault(fault)  # type: ignore[arg-type]
            if method == "POST"
            else Fault(body=json.dumps(KUBERAY_SERVICE).encode())
        )
    )
    r = httpx.post(gateway + proxy, json={"entrypoint": "echo hi"}, timeout=30)
    assert r.status_code == 503 and r.json()["kind"] == "Status", r.text
    assert len([a for a in faults.attempts_for(proxy) if a.method == "POST"]) == 1


def test_a_slow_drip_is_relayed_whole(gateway: str, faults: FaultUpstream) -> None:
    body = b'{"kind":"RayClusterList","apiVersion":"ray.io/v1","items":[]}'
    faults.reset(lambda method, path: Fault("drip", body=body, drip=0.005))
    r = httpx.get(gateway + RC, timeout=30)
    assert (r.status_code, r.content) == (200, body)


def test_a_truncated_body_is_cut_for_the_caller_too(gateway: str, faults: FaultUpstream) -> None:
    """Content-Length promised more than came: the caller's response is cut as well (it sees an
    incomplete body, never a spliced or padded one)."""
    faults.reset(lambda method, path: Fault("truncate", body=b'{"kind":"RayClusterList","items":[]}'))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(gateway + RC, timeout=30)


def test_finding2_deep_json_naming_a_compute_template_gets_kube_apiservers_422(
    gateway_url: str, namespace: str
) -> None:
    """A body that names ``computeTemplate`` is decoded by the gateway (the template hook): nested
    5,000 levels in an unknown field it is decoded as Go decodes it, and the upstream's answer is
    kube-apiserver's 422 for the object (refkube: 422 Invalid, the deep field pruned), not the
    gateway's own 400/500."""
    nested = "[" * 4997 + "]" * 4997
    body = (
        '{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"deep"},'
        f'"spec":{{"computeTemplate":"none","x":{nested}}}}}'
    ).encode()
    r = httpx.post(f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters", content=body,
                   headers={"Content-Type": "application/json"}, timeout=30)  # fmt: skip
    assert r.status_code == 422 and r.json()["kind"] == "Status" and r.json()["reason"] == "Invalid"


def test_finding6_a_reset_right_after_the_upstreams_headers_is_a_503_status(
    gateway: str, faults: FaultUpstream
) -> None:
    """The upstream resets the connection after its headers (Content-Length announced, no byte
    of body): the caller gets the gateway's 503 Status (on main: granian's text/plain 500)."""
    faults.reset(lambda method, path: Fault("reset_after_headers"))
    r = httpx.get(gateway + RC, timeout=30)
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert (r.json()["kind"], r.json()["reason"]) == ("Status", "ServiceUnavailable")


def test_finding6_a_bad_chunk_size_in_the_callers_body_is_a_500_status(gateway: str) -> None:
    """refkube answers a malformed chunked body with a 500 Status (``invalid byte in chunk
    length``, reason unset); the gateway now too (on main: granian's text/plain 500)."""
    host, port = gateway.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            f"POST {RC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".encode()
        )
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500")
    status = json.loads(body)
    assert status["kind"] == "Status" and status["code"] == 500 and "reason" not in status


@pytest.fixture(scope="module")
def gateway_with_defaults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kuberay-apiserver serve --defaults`` (so the defaults hook parses every RayCluster body)
    over ``fakekube serve``, both in their own processes: the gateway's URL."""
    defaults = tmp_path_factory.mktemp("defaults") / "defaults.yaml"
    defaults.write_text("kinds:\n  RayCluster:\n    metadata: {labels: {team: unknown}}\n")
    port = free_port()
    upstream = start_server(["fakekube", "serve", "--port", str(port)], port)
    proc, url = serve_gateway(f"http://127.0.0.1:{port}", ["--defaults", str(defaults)])
    yield url
    stop_server(proc)
    stop_server(upstream)


def test_a_heavy_body_a_hook_parses_does_not_block_the_gateway(gateway_with_defaults: str) -> None:
    """The gateway decodes and re-encodes a 2.5 MB body for its hooks in a worker thread
    (kubeapi.offload): ``/livez`` answers meanwhile. A regression guard more than a before/after
    test: on the loop that work was 60-100 ms (decode 40-80 ms, encode 20-25 ms), below what
    CPU contention with the client and fakekube adds on a shared 2-core machine (``/livez``
    peaks of 50-150 ms even while the body goes to fakekube directly, not through the gateway;
    measured peaks with this test: 0.085 s before, 0.044-0.275 s after)."""
    codes: list[int] = []

    def create() -> None:
        with httpx.Client(base_url=gateway_with_defaults, timeout=60) as c:
            r = c.post(RC_PATH, json=heavy_raycluster("heavy", 30_000))
            codes.append(r.status_code)
            assert r.json()["metadata"]["labels"] == {"team": "unknown"}

    assert blocked_while(gateway_with_defaults, create, "/livez") < MAX_BLOCKED
    assert codes == [201]
