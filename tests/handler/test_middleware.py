"""``create_app(settings, middleware=[...])``: request rules run in order before the upstream call."""

from __future__ import annotations

import json

from litestar.testing import TestClient

from handler import GatewayError, GatewayRequest, Settings, create_app
from handler.target import RouteFamily
from tests.handler.gateway_stub import StubUpstream

BASE = "/apis/ray.io/v1/namespaces/default/rayclusters"


async def stamp_team(request: GatewayRequest) -> None:
    """Label every created Ray object with the caller's X-Team header (parses the body)."""
    if request.route.family is RouteFamily.RAY and request.method == "POST":
        obj = await request.json()
        obj.setdefault("metadata", {}).setdefault("labels", {})["team"] = request.header("x-team") or "none"
        request.set_json(obj)


async def no_deletes(request: GatewayRequest) -> None:
    """Refuse DELETE with a Forbidden Status."""
    if request.method == "DELETE":
        raise GatewayError(403, "Forbidden", "deletes are disabled by policy")


def test_middleware_rewrites_and_refuses(stub: StubUpstream) -> None:
    stub.reset()
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=stub.url),
        middleware=[stamp_team, no_deletes],
    )
    with TestClient(app) as c:
        yaml_body = "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata:\n  name: a\n"
        r = c.post(BASE, content=yaml_body, headers={"Content-Type": "application/yaml", "X-Team": "ml"})
        assert r.status_code == 200
        sent = stub.seen[-1]
        assert sent.headers["content-type"] == "application/json"
        assert json.loads(sent.body)["metadata"] == {"name": "a", "labels": {"team": "ml"}}

        r = c.delete(BASE + "/a")
        assert r.status_code == 403
        assert r.json()["reason"] == "Forbidden" and r.json()["kind"] == "Status"
        assert stub.seen[-1].method == "POST"  # the DELETE never left the gateway


def test_body_passes_through_untouched_without_middleware(stub: StubUpstream) -> None:
    stub.reset()
    raw = b'{"kind":"RayCluster",  "metadata":{"name":"b"}}  \n'  # odd spacing survives as bytes
    with TestClient(create_app(Settings(authentication="none", accept_hosts=".*", upstream=stub.url))) as c:
        assert c.post(BASE, content=raw, headers={"Content-Type": "application/json"}).status_code == 200
    assert stub.seen[-1].body == raw


def test_undecodable_body_is_a_400_status_when_middleware_parses_it(stub: StubUpstream) -> None:
    stub.reset()
    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=stub.url), middleware=[stamp_team]
        )
    ) as c:
        r = c.post(BASE, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert stub.seen == []


def test_litestar_asgi_middleware_wraps_the_app_next_to_rules(stub: StubUpstream) -> None:
    from litestar.middleware import ASGIMiddleware
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    class ServedBy(ASGIMiddleware):
        """Stamps ``x-served-by`` on every response (an ordinary Litestar middleware)."""

        async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
            async def stamped(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-served-by", b"gateway-test")]
                await send(message)

            await next_app(scope, receive, stamped)

    class TeamRule:
        """A rule written as an object with an async ``__call__``."""

        async def __call__(self, request: GatewayRequest) -> None:
            request.set_header("x-team", "platform")

    stub.reset()
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=stub.url),
        middleware=[ServedBy(), TeamRule(), no_deletes],
    )
    with TestClient(app) as c:
        r = c.get(BASE)
        assert r.status_code == 200 and r.headers["x-served-by"] == "gateway-test"
        assert stub.seen[-1].headers["x-team"] == "platform"
        assert c.delete(BASE + "/a").status_code == 403
        assert c.get("/healthz").headers["x-served-by"] == "gateway-test"
