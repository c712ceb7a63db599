"""Retries of transient upstream failures, through a real gateway in front of a failing stub.

The rule under test (README "Retries"): GET/HEAD and lists are retried on 408/429/500/502/503/504
and on transport errors; writes only on 429 or when the connection failed before the request was
sent; never once the response has started; ``Retry-After`` honoured. The stub gateway retries 3
times at 50/100/200 ms (``FAST_RETRY``). The last section tests the rule itself (``handler.retry``:
which statuses and errors, backoff, ``Retry-After`` parsing) without a gateway.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from handler import retry
from handler.settings import RetrySettings
from tests.handler.gateway_procs import GatewayFactory
from tests.handler.gateway_stub import Reply, StubUpstream
from tests.procs import free_port

LIST = "/apis/ray.io/v1/namespaces/default/rayclusters"
BODY = b'{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"a"}}'
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_get_is_retried_on_each_transient_status(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, code: int
) -> None:
    stub.script(Reply(code), Reply(code))
    r = http.get(stub_gateway + LIST)
    assert r.status_code == 200
    assert r.json()["kind"] == "RayClusterList"
    assert [s.method for s in stub.seen] == ["GET"] * 3


def test_get_not_retried_on_other_errors(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    stub.script(Reply(404, body=b'{"kind":"Status","code":404}'))
    r = http.get(stub_gateway + LIST + "/missing")
    assert r.status_code == 404
    assert len(stub.seen) == 1


def test_retries_stop_after_three_and_pass_the_last_answer(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(*[Reply(503, body=f'{{"attempt":{i}}}'.encode()) for i in range(6)])
    r = http.get(stub_gateway + LIST)
    assert r.status_code == 503
    assert r.json() == {"attempt": 3}  # first try + 3 retries, the last answer relayed as is
    assert len(stub.seen) == 4


def test_backoff_doubles(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    stub.script(Reply(503), Reply(503), Reply(503))
    t0 = time.monotonic()
    assert http.get(stub_gateway + LIST).status_code == 200
    # 50 + 100 + 200 ms of backoff
    assert time.monotonic() - t0 >= 0.35


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("code", [500, 502, 503, 504, 408])
def test_writes_not_retried_when_upstream_may_have_acted(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, method: str, code: int
) -> None:
    stub.script(Reply(code))
    r = http.request(
        method, stub_gateway + LIST + ("/a" if method != "POST" else ""), content=BODY, headers=JSON
    )
    assert r.status_code == code
    assert len(stub.seen) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_retried_on_429_with_the_same_body(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, method: str
) -> None:
    stub.script(Reply(429), Reply(201, body=b'{"ok":true}'))
    r = http.request(method, stub_gateway + LIST, content=BODY, headers=JSON)
    assert r.status_code == 201
    assert [s.method for s in stub.seen] == [method, method]
    assert stub.seen[0].body == stub.seen[1].body == BODY


def test_retry_after_is_honoured(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    stub.script(Reply(429, headers={"Retry-After": "1", "Content-Type": "application/json"}))
    t0 = time.monotonic()
    r = http.get(stub_gateway + LIST)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200
    assert len(stub.seen) == 2
    assert elapsed >= 1.0  # the stub gateway's own backoff would have been 50 ms


def test_chunked_response_cut_mid_stream_is_cut_for_the_caller(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(Reply(200, body=b'{"type":"ADDED","object":{}}\n', gate=threading.Event(), cut=True))
    with pytest.raises(httpx.RemoteProtocolError):
        # A resourceVersion no shared watch has seen: the gateway opens a dedicated upstream watch.
        http.get(stub_gateway + LIST, params={"watch": "1", "resourceVersion": "5"})
    time.sleep(0.3)
    assert len(stub.seen) == 1


def test_shared_watch_cut_mid_stream_is_cut_for_every_caller(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    """The shared upstream watch (handler.watch_fanout: a list, then a watch) failing mid-stream cuts the
    callers' responses too, rather than ending them as if the watch had closed normally."""
    listed = (
        b'{"kind":"RayClusterList","apiVersion":"ray.io/v1","metadata":{"resourceVersion":"1"},"items":[]}'
    )
    stub.script(
        Reply(200, body=listed),
        Reply(
            200,
            body=b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n',
            gate=threading.Event(),
            cut=True,
        ),
    )
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(stub_gateway + LIST, params={"watch": "1"})
    assert [s.path.split("?")[0] for s in stub.seen] == [LIST, LIST]
    assert "resourceVersion=1" in stub.seen[1].path


def test_transport_error_before_the_response_is_retried_for_a_get(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    # The connection dropped before any response byte: nothing was relayed, a GET may be replayed.
    stub.script(Reply(drop=True))
    r = http.get(stub_gateway + LIST)
    assert r.status_code == 200
    assert r.json() == {"kind": "RayClusterList", "items": []}
    assert len(stub.seen) == 2


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_write_dropped_after_it_was_sent_is_not_retried(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, method: str
) -> None:
    # The upstream received the whole request, then the connection dropped: it may have acted.
    stub.script(Reply(drop=True))
    r = http.request(method, stub_gateway + LIST, content=BODY, headers=JSON)
    assert r.status_code == 503
    assert r.json()["reason"] == "ServiceUnavailable"
    assert len(stub.seen) == 1


def test_retry_after_beyond_the_overall_budget_is_not_waited(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(Reply(503, headers={"Retry-After": "60", "Content-Type": "application/json"}))
    t0 = time.monotonic()
    r = http.get(stub_gateway + LIST)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "60"
    assert time.monotonic() - t0 < 2
    assert len(stub.seen) == 1


def test_never_retried_after_the_response_started(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    # A 200 whose body is cut short: the gateway has relayed the headers and the first bytes, so
    # it must abort the response (the caller sees a truncated body), not replay it.
    stub.script(Reply(200, body=b'{"kind":"RayClusterList","items":[', truncate=1000))
    with pytest.raises(httpx.HTTPError):
        http.get(stub_gateway + LIST).raise_for_status()
    time.sleep(0.3)
    assert len(stub.seen) == 1


def test_connection_refused_is_retried_for_a_write(
    gateway_factory: GatewayFactory, http: httpx.Client
) -> None:
    """POST to an upstream that is not listening yet: refused before send, so replayed."""
    port = free_port()
    url = gateway_factory(f"http://127.0.0.1:{port}", env={"KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.3"})
    late: list[StubUpstream] = []

    def start_late() -> None:
        time.sleep(0.4)  # first attempt at 0 s and first retry at 0.3 s are refused; the one at 0.9 s lands
        late.append(StubUpstream(port))
        late[0].script(Reply(201, body=b'{"created":true}'))

    t = threading.Thread(target=start_late)
    t.start()
    try:
        r = http.post(url + LIST, content=BODY, headers=JSON)
        t.join()
        assert r.status_code == 201, r.text
        assert [s.method for s in late[0].seen] == ["POST"]
        assert late[0].seen[0].body == BODY
        metrics = http.get(url + "/metrics").text
        key = 'kuberay_apiserver_upstream_retries_total{reason="connect",route="ray"}'
        retried = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(key))
        assert retried >= 1.0  # refused at least once (exactly when depends on the machine's load)
    finally:
        t.join()
        for s in late:
            s.close()


def test_unreachable_upstream_is_a_503_status(gateway_factory: GatewayFactory, http: httpx.Client) -> None:
    url = gateway_factory(f"http://127.0.0.1:{free_port()}")
    r = http.get(url + LIST)
    assert r.status_code == 503
    status = r.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1"
    assert (
        status["status"] == "Failure" and status["reason"] == "ServiceUnavailable" and status["code"] == 503
    )
    assert "unavailable" in status["message"]
    assert 'reason="connect"' in http.get(url + "/metrics").text
    ready = http.get(url + "/readyz")
    assert ready.status_code == 503


# -- the rule itself (handler.retry), without a gateway  -----------------------------------------------------


POLICY = RetrySettings()


POLICY = RetrySettings()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_safe_methods_retry_on_every_transient_status(status: int) -> None:
    assert retry.may_retry_status("GET", status, POLICY) and retry.may_retry_status("HEAD", status, POLICY)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_retry_only_on_429(method: str) -> None:
    assert retry.may_retry_status(method, 429, POLICY)
    assert not any(retry.may_retry_status(method, s, POLICY) for s in (408, 500, 502, 503, 504))
    assert retry.may_retry_error(method, before_send=True)
    assert not retry.may_retry_error(method, before_send=False)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 409, 410, 422, 501])
def test_no_retry_on_other_statuses(status: int) -> None:
    assert not retry.may_retry_status("GET", status, POLICY)


def test_backoff_is_500ms_doubling_capped_at_10s() -> None:
    assert [retry.backoff(i, POLICY) for i in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_next_delay_respects_count_and_overall_timeout() -> None:
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=None, clock=100.0) == 0.5
    assert retry.next_delay(2, POLICY, started=100.0, retry_after=None, clock=100.0) == 2.0
    assert retry.next_delay(3, POLICY, started=100.0, retry_after=None, clock=100.0) is None  # 3 retries
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=7.0, clock=100.0) == 7.0
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=None, clock=129.8) is None  # past 30 s
    assert retry.next_delay(1, POLICY, started=100.0, retry_after=31.0, clock=100.0) is None


def test_parse_retry_after() -> None:
    assert retry.parse_retry_after("3") == 3.0
    assert retry.parse_retry_after(None) is None
    assert retry.parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 5))
    assert retry.parse_retry_after(date, now=now) == pytest.approx(5.0)
    past = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now - 50))
    assert retry.parse_retry_after(past, now=now) == 0.0
