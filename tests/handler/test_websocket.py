"""WebSocket upgrades through the services proxy, against a stub upstream that speaks both HTTP
(the Service lookups) and WebSocket (the dashboard's log tail behind the Service's proxy path)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from handler import Settings, create_app
from handler.auth.authenticator import bearer_token
from handler.credentials import StaticToken, UpstreamCredentials
from kubeapi.authn import UserInfo
from tests.handler.gateway_procs import GatewayFactory

NS = "/api/v1/namespaces/default/services"
TAIL = "/proxy/api/jobs/raysubmit_1/logs/tail"


class WsUpstream:
    """A loop in a thread serving Service objects over HTTP and an echo WebSocket; records handshakes."""

    def __init__(self) -> None:
        self.handshakes: list[dict[str, str]] = []
        self.lookups: list[tuple[str, dict[str, str]]] = []  # plain HTTP requests: path, headers
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Future[None] = self.loop.create_future()
        ready = threading.Event()
        self.port = 0

        async def main() -> None:
            async with serve(
                self._echo, "127.0.0.1", 0, process_request=self._http, compression=None
            ) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                ready.set()
                await self._stop

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(main()), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            self.handshakes.append({k.lower(): v for k, v in request.headers.raw_items()})
            return None
        self.lookups.append((request.path, {k.lower(): v for k, v in request.headers.raw_items()}))
        name = request.path.rsplit("/", 1)[-1]
        if name not in ("ray-head-svc", "plain-svc"):
            return Response(404, "Not Found", Headers({"Content-Type": "application/json"}), b"{}")
        labels = {"app.kubernetes.io/name": "kuberay"} if name == "ray-head-svc" else {}
        body = json.dumps({"kind": "Service", "metadata": {"name": name, "labels": labels}}).encode()
        return Response(200, "OK", Headers({"Content-Type": "application/json"}), body)

    async def _echo(self, ws: ServerConnection) -> None:
        await ws.send("log line 1")
        async for message in ws:
            if message == "bye":
                await ws.close(4000, "done")
                return
            await ws.send(message)

    def close(self) -> None:
        """Stop serving and wait for the thread."""
        self.loop.call_soon_threadsafe(self._stop.set_result, None)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def ws_upstream() -> Iterator[WsUpstream]:
    u = WsUpstream()
    yield u
    u.close()


def _ws(gateway: str, path: str) -> str:
    return "ws://" + gateway.removeprefix("http://") + path


def test_websocket_relayed_both_ways_for_a_kuberay_service(
    ws_upstream: WsUpstream, gateway_factory: GatewayFactory, tmp_path: Any
) -> None:
    (tmp_path / "token").write_text("gw-token")
    gw = gateway_factory(ws_upstream.url, ["--token-file", str(tmp_path / "token")])

    async def session() -> tuple[list[Any], int | None, str | None]:
        got: list[Any] = []
        async with connect(
            _ws(gw, NS + "/ray-head-svc:8265" + TAIL),
            additional_headers={"Authorization": "Bearer caller", "Cookie": "a=b"},
        ) as c:
            got.append(await c.recv())
            await c.send("ping")
            got.append(await c.recv())
            await c.send(b"\x00\x01binary")
            got.append(await c.recv())
            await c.send("bye")
            with pytest.raises(ConnectionClosed):
                await c.recv()
            return got, c.close_code, c.close_reason

    got, code, reason = asyncio.run(session())
    assert got == ["log line 1", "ping", b"\x00\x01binary"]
    assert (code, reason) == (4000, "done")  # the upstream's close code reaches the caller
    shake = ws_upstream.handshakes[-1]
    assert shake["authorization"] == "Bearer gw-token" and shake["cookie"] == "a=b"


@pytest.mark.parametrize("service", ["plain-svc", "no-such-svc"])
def test_websocket_to_other_services_is_refused_with_a_status(
    ws_upstream: WsUpstream, gateway_factory: GatewayFactory, service: str
) -> None:
    gw = gateway_factory(ws_upstream.url)
    before = len(ws_upstream.handshakes)

    async def attempt() -> None:
        async with connect(_ws(gw, NS + f"/{service}" + TAIL)):
            pass

    with pytest.raises(InvalidStatus) as err:
        asyncio.run(attempt())
    assert err.value.response.status_code == 404
    status = json.loads(err.value.response.body or b"{}")
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert len(ws_upstream.handshakes) == before  # nothing reached the upstream


def test_websocket_outside_the_services_proxy_is_404(
    ws_upstream: WsUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(ws_upstream.url)

    async def attempt() -> None:
        async with connect(_ws(gw, "/apis/ray.io/v1/namespaces/default/rayclusters?watch=1")):
            pass

    with pytest.raises(InvalidStatus) as err:
        asyncio.run(attempt())
    assert err.value.response.status_code == 404


BEARER_PROTOCOL = "base64url.bearer.authorization.k8s.io.Y2FsbGVy"


def test_websocket_never_forwards_the_callers_identity_headers(
    ws_upstream: WsUpstream, gateway_factory: GatewayFactory, tmp_path: Any
) -> None:
    """--authentication none: the gateway's token upstream; the caller's Impersonate-*, X-Remote-*,
    Authorization and bearer-token subprotocol never reach it; X-Forwarded-For is appended to."""
    (tmp_path / "token").write_text("gw-token")
    gw = gateway_factory(ws_upstream.url, ["--token-file", str(tmp_path / "token")])

    async def session() -> None:
        async with connect(
            _ws(gw, NS + "/ray-head-svc:8265" + TAIL),
            additional_headers={
                "Authorization": "Bearer caller",
                "Impersonate-User": "system:admin",
                "Impersonate-Group": "system:masters",
                "Impersonate-Extra-Scopes": "all",
                "X-Remote-User": "system:admin",
                "X-Remote-Group": "system:masters",
                "X-Forwarded-For": "10.1.2.3",
            },
            subprotocols=[BEARER_PROTOCOL, "v4.channel.k8s.io"],  # type: ignore[list-item]
        ) as c:
            await c.recv()
            await c.send("bye")
            with pytest.raises(ConnectionClosed):
                await c.recv()

    asyncio.run(session())
    shake = ws_upstream.handshakes[-1]
    assert shake["authorization"] == "Bearer gw-token"
    assert not [k for k in shake if k.startswith(("impersonate-", "x-remote-"))]
    assert shake["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert shake["sec-websocket-protocol"] == "v4.channel.k8s.io"


class AnyToken:
    """An authenticator standing in for the SelfSubjectReview (tested in test_auth_modes.py): the
    websockets server here cannot answer a POST."""

    async def authenticate(self, scope: Any) -> UserInfo | None:
        return UserInfo("alice") if bearer_token(scope) else None


def test_websocket_passthrough_needs_a_token_and_sends_it(ws_upstream: WsUpstream) -> None:
    """--authentication passthrough: no token, 401 before any upstream call; with one, the Service
    label check and the upgrade both carry the caller's token, never the gateway's."""
    app = create_app(
        Settings(upstream=ws_upstream.url, accept_hosts=".*"),
        credentials=UpstreamCredentials(ws_upstream.url, StaticToken("gw-token")),
    )
    assert app.state.access.mode.name == "passthrough"
    app.state.access.authenticator = AnyToken()
    before = (len(ws_upstream.handshakes), len(ws_upstream.lookups))
    path = NS + "/ray-head-svc:8265" + TAIL
    with TestClient(app) as c:
        with pytest.raises(WebSocketDisconnect), c.websocket_connect(path) as ws:
            ws.receive_text()
        assert (len(ws_upstream.handshakes), len(ws_upstream.lookups)) == before
        headers = {"Authorization": "Bearer caller", "Impersonate-User": "system:admin"}
        with c.websocket_connect(path, headers=headers) as ws:
            assert ws.receive_text() == "log line 1"
            ws.send_text("bye")
    shake = ws_upstream.handshakes[-1]
    assert shake["authorization"] == "Bearer caller" and "impersonate-user" not in shake
    lookups = ws_upstream.lookups[before[1] :]
    assert lookups and {h.get("authorization") for _, h in lookups} == {"Bearer caller"}
