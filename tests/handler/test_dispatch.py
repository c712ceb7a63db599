"""The direct lane (:mod:`handler._direct_lane`): proxied requests skip Litestar's layers, same answers.

The reference is the same app with a pass-through ASGI middleware, which turns the lane off, so
every request goes through Litestar's router and exception handling as before the lane existed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar.exceptions import LitestarException, NotAuthorizedException
from litestar.testing import TestClient
from litestar.types import ASGIApp

from handler import GatewayRequest, Route, RouteFamily, RouteTable, Settings, create_app
from handler._direct_lane import GatewayApp
from handler.responses import AnyResponse, Response
from tests.handler.gateway_stub import StubUpstream

BASE = "/apis/ray.io/v1/namespaces/default/rayclusters"


def passthrough(app: ASGIApp) -> ASGIApp:
    """An ASGI middleware factory that changes nothing (but makes Litestar wrap every request)."""
    return app


async def refuse_by_header(request: GatewayRequest) -> None:
    """A request rule that fails the way third-party code does: plain and Litestar exceptions."""
    if request.header("x-boom") == "value":
        raise ValueError("rule bug")
    if request.header("x-boom") == "litestar":
        raise NotAuthorizedException("no entry")


def _apps(stub: StubUpstream, **settings: object) -> tuple[GatewayApp, GatewayApp]:
    s = Settings(authentication="none", accept_hosts=".*", upstream=stub.url, **settings)  # type: ignore[arg-type]
    return create_app(s, [refuse_by_header]), create_app(s, [refuse_by_header, passthrough])


@pytest.fixture
def clients(stub: StubUpstream) -> Iterator[tuple[TestClient[GatewayApp], TestClient[GatewayApp]]]:
    stub.reset()
    direct, reference = _apps(stub)
    assert direct.direct_lane_enabled and not reference.direct_lane_enabled
    with TestClient(direct) as d, TestClient(reference) as r:
        yield d, r


CASES = [
    ("GET", BASE, {}),
    ("GET", BASE + "/", {}),
    ("GET", BASE + "/a", {}),
    ("DELETE", BASE + "/a", {}),
    ("GET", "/healthz", {}),
    ("GET", "/healthz//", {}),
    ("GET", "/readyz/x/..", {}),
    ("GET", "/livez/", {}),
    ("POST", "/healthz", {}),
    ("GET", "/healthz/more", {}),
    ("GET", "/not/served", {}),
    ("GET", "/apis/ray.io/v1/%2e%2e/secrets", {}),
    ("GET", BASE, {"host": "bad host{}"}),
    ("GET", BASE, {"x-boom": "value"}),
    ("GET", BASE, {"x-boom": "litestar"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), CASES)
def test_direct_lane_answers_as_litestar_does(
    clients: tuple[TestClient[GatewayApp], TestClient[GatewayApp]],
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    direct, reference = clients
    got = direct.request(method, path, headers=headers)
    want = reference.request(method, path, headers=headers)
    assert (got.status_code, got.headers.get("content-type"), got.content) == (
        want.status_code,
        want.headers.get("content-type"),
        want.content,
    )


def test_rule_errors_get_litestars_answers(
    clients: tuple[TestClient[GatewayApp], TestClient[GatewayApp]],
) -> None:
    direct, _ = clients
    assert direct.get(BASE, headers={"x-boom": "value"}).status_code == 500
    assert direct.get(BASE, headers={"x-boom": "litestar"}).status_code == 401
    assert direct.get(BASE, headers={"host": "bad host{}"}).status_code == 400


def test_direct_lane_requests_are_counted_in_metrics(stub: StubUpstream) -> None:
    stub.reset()
    app = create_app(Settings(authentication="none", accept_hosts=".*", upstream=stub.url))
    with TestClient(app) as c:
        for _ in range(3):
            assert c.get(BASE).status_code == 200
        text = c.get("/metrics").text
    assert app.direct_lane_enabled
    assert 'kuberay_apiserver_requests_total{code="200",method="GET",route="ray"} 3.0' in text


def test_cors_and_asgi_middleware_turn_the_lane_off(stub: StubUpstream) -> None:
    with_cors = create_app(
        Settings(
            authentication="none",
            accept_hosts=".*",
            upstream=stub.url,
            cors_allow_origin=("https://ui.example",),
        )
    )
    assert not with_cors.direct_lane_enabled
    assert not create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=stub.url), [passthrough]
    ).direct_lane_enabled
    stub.reset()
    with TestClient(with_cors) as c:
        r = c.get(BASE, headers={"origin": "https://ui.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ui.example"


def _boom_routes(table: RouteTable) -> None:
    """A route whose backend fails before answering (``/boom/early``) or after its response started
    (``/boom/late``: the body fails after its first chunk)."""

    async def backend(request: GatewayRequest) -> AnyResponse:
        if request.path.endswith("/early"):
            raise ValueError("backend bug before the response")

        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            raise ValueError("backend bug mid-body")

        return Response(200, [(b"content-type", b"text/plain")], body())

    table.add(Route("/boom/{name}", None, "boom", RouteFamily.CUSTOM, (), backend), before="ray")


def test_an_exception_after_the_response_started_propagates_from_both_lanes(stub: StubUpstream) -> None:
    """Before the response started, an escaping exception gets Litestar's 500 in either lane; after
    it started, the direct lane does not hand it to Litestar (which would start a second response)
    but lets it reach the server, as Litestar does."""
    s = Settings(authentication="none", accept_hosts=".*", upstream=stub.url)
    direct = create_app(s, routes=_boom_routes)
    reference = create_app(s, [passthrough], routes=_boom_routes)
    assert direct.direct_lane_enabled and not reference.direct_lane_enabled
    for app in (direct, reference):
        with TestClient(app, raise_server_exceptions=False) as c:
            assert c.get("/boom/early").status_code == 500
    with TestClient(direct) as c, pytest.raises(ValueError, match="mid-body"):
        c.get("/boom/late")  # the backend's own exception, not handed to Litestar's handlers
    with TestClient(reference) as c, pytest.raises(LitestarException) as e:
        c.get("/boom/late")  # Litestar's middleware wraps it: "Exception caught after response started"
    causes: list[BaseException] = []
    cause: BaseException | None = e.value
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert any(isinstance(c, ValueError) for c in causes)
