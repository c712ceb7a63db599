"""WebSocket upgrades through the services proxy (e.g. ``ray job logs --follow`` via the dashboard).

The kube-apiserver's services proxy passes upgrade requests through (its ``UpgradeAwareHandler``,
k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go); the gateway does the same for KubeRay
Services: it opens a WebSocket to the upstream as the request's upstream identity (the caller's
token, the gateway's with impersonation headers, or the gateway's own in ``none``), accepts the caller's
only once the upstream accepted, and relays messages both ways until either side closes. A
handshake the upstream refuses is answered with the upstream's status and body (ASGI
``websocket.http.response`` extension); an upstream that cannot be reached gets a 503 ``Status``.
No retries: a handshake is cheap for the caller to repeat. The ``websockets`` package is
imported only when the first upgrade arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from litestar.types import Message, Receive, Scope, Send

from handler._headers import HOP_BY_HOP, REQUEST_DROP_PREFIXES, client_address, forwarded_for
from handler.upstream_client import UpstreamClient, UpstreamIdentity, websocket_connect
from kubeapi.status import StatusError, new_upstream_unavailable

#: Handshake headers the websockets client writes itself, or that must not reach the upstream.
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "authorization",
    "content-length",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "sec-websocket-accept",
}

#: Close codes that may not be sent in a close frame (RFC 6455 §7.4.1) and what to send instead.
_RESERVED = {1005: 1000, 1006: 1011, 1015: 1011}


def _event(**fields: Any) -> Message:
    """An ASGI message (the TypedDict unions of litestar.types are too narrow to build one inline)."""
    return cast(Message, fields)


#: kube-apiserver's WebSocket bearer-token subprotocol prefix (k8s.io/apiserver
#: ``pkg/authentication/request/websocket/protocol.go``): a token carried as a subprotocol.
BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io."


def handshake_headers(raw: Iterable[tuple[bytes, bytes]], client: str | None = None) -> list[tuple[str, str]]:
    """The caller's handshake headers worth forwarding upstream (cookies, origin, user agent...):
    never ``Authorization``, ``Impersonate-*`` or ``X-Remote-*`` (:mod:`handler._headers`), and
    ``client`` appended to ``X-Forwarded-For``."""
    out = []
    for k, v in raw:
        name = k.decode("latin-1").lower()
        if name not in NOT_FORWARDED and not name.startswith(REQUEST_DROP_PREFIXES):
            out.append((name, v.decode("latin-1")))
    return forwarded_for(out, client)


def upstream_subprotocols(offered: list[Any], keep_token: bool) -> list[Any]:
    """The subprotocols to offer upstream: the caller's (empty names dropped), less any
    bearer-token one (:data:`BEARER_PROTOCOL_PREFIX`) unless ``keep_token`` (passthrough: the
    caller's credential)."""
    return [p for p in offered if p and (keep_token or not str(p).startswith(BEARER_PROTOCOL_PREFIX))]


async def deny(
    scope: Scope, send: Send, code: int, body: bytes, content_type: bytes = b"application/json"
) -> None:
    """Refuse the caller's handshake with HTTP ``code`` and ``body`` (or a policy close if unsupported)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            _event(
                type="websocket.http.response.start",
                status=code,
                headers=[(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
            )
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send(_event(type="websocket.close", code=1008))


async def deny_error(scope: Scope, send: Send, err: StatusError) -> None:
    """Refuse the handshake with a ``Status`` body."""
    await deny(scope, send, err.code, err.body())


async def relay(
    scope: Scope,
    receive: Receive,
    send: Send,
    upstream: UpstreamClient,
    path: str,
    query: str,
    identity: UpstreamIdentity | None = None,
    keep_token_subprotocol: bool = False,
) -> int:
    """Open the upstream WebSocket for ``path``/``query`` (through ``upstream``, as ``identity``;
    None: the gateway's), accept the caller's, relay until either side closes. A bearer-token
    subprotocol of the caller's is offered upstream only with ``keep_token_subprotocol``.

    Returns the HTTP status of the handshake as the caller saw it (101 when relayed).
    """
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    headers = handshake_headers(scope["headers"], client_address(scope))
    subprotocols = upstream_subprotocols(
        cast(list[Any], scope.get("subprotocols") or []), keep_token_subprotocol
    )
    try:
        conn = await websocket_connect(upstream, path, query, headers, subprotocols, identity)
    except InvalidStatus as e:
        ctype = e.response.headers.get("content-type", "text/plain").encode("latin-1")
        await deny(scope, send, e.response.status_code, bytes(e.response.body or b""), ctype)
        return int(e.response.status_code)
    except (OSError, TimeoutError, InvalidHandshake) as e:
        err = new_upstream_unavailable(str(e) or type(e).__name__)
        await deny_error(scope, send, err)
        return err.code

    await send(_event(type="websocket.accept", subprotocol=conn.subprotocol))

    async def caller_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                await conn.send(text if text is not None else message.get("bytes") or b"")
            elif message["type"] == "websocket.disconnect":
                return

    async def upstream_to_caller() -> None:
        try:
            async for data in conn:
                key = "text" if isinstance(data, str) else "bytes"
                await send(_event(type="websocket.send", **{key: data}))
        except ConnectionClosed:
            pass
        code = conn.close_code if conn.close_code is not None else 1000
        await send(
            {"type": "websocket.close", "code": _RESERVED.get(code, code), "reason": conn.close_reason or ""}
        )

    tasks = [asyncio.ensure_future(caller_to_upstream()), asyncio.ensure_future(upstream_to_caller())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await conn.close()
    return 101
