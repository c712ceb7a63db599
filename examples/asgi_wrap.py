"""Wrapping the whole gateway in ASGI middleware: a request-id header on every response.

Anything in ``create_app(middleware=[...])`` that is not an object hook or a request rule is
Litestar/ASGI middleware and wraps the whole application, ``/healthz`` and ``/metrics``
included, as KubeRay's ``MuxConfig.Middleware`` wraps its mux in Go. Here a plain ASGI factory
(``app -> app``) adds ``X-Request-Id`` (the caller's, or a new one) to every HTTP response.
With ASGI middleware configured, requests go through Litestar's layers (the direct lane is off).

    from handler import Settings, create_app
    from asgi_wrap import request_id

    app = create_app(Settings(...), middleware=[request_id])
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"


def request_id(app: ASGIApp) -> ASGIApp:
    """An ASGI middleware factory: ``X-Request-Id`` on every HTTP response."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), None)
        rid = given or uuid.uuid4().hex.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Any = [*message.get("headers", []), (HEADER, rid)]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_id)

    return wrapped
