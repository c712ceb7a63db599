"""An ASGI app that answers with its scope's TLS extension: HTTP as a JSON body, WebSocket as one
text message. Served by :func:`handler._uvicorn_tls.serve` in tests/handler/test_tls_extension.py."""

from __future__ import annotations

import json
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo ``scope["extensions"]["tls"]`` and ``scope["client"]`` (HTTP, WebSocket); lifespan accepted."""
    tls = (scope.get("extensions") or {}).get("tls")
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps(
        {**(tls or {}), "client": scope.get("client"), "headers": len(scope.get("headers", []))}
    )
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": body})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body.encode()})
