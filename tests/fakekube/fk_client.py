"""A tiny synchronous in-process client for the fakekube ASGI app (no sockets, no threads).

Used by the property tests, which run hundreds of requests per example; the socket-level
behaviour is covered by the tests that run ``fakekube serve``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fakekube import FakeKube


@dataclass
class Response:
    """Status code, headers (lower-case names) and body of one response."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class AsgiClient:
    """Call ``app`` directly: ``client.request("GET", "/api/v1/namespaces", query={...})``."""

    def __init__(self, app: FakeKube) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Close the private event loop."""
        self.loop.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request; ``body`` is bytes/str (sent as is) or any JSON value."""
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        hdrs = [(b"content-type", content_type.encode())] if raw else []
        for k, v in (headers or {}).items():
            hdrs.append((k.lower().encode(), v.encode()))
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(query or {}).encode(),
            "headers": hdrs,
        }
        resp = Response(0)
        chunks: list[bytes] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                resp.status = msg["status"]
                resp.headers = {k.decode(): v.decode() for k, v in msg["headers"]}
            else:
                chunks.append(msg.get("body", b""))

        self.loop.run_until_complete(self.app(scope, receive, send))
        resp.body = b"".join(chunks)
        return resp

    def get(self, path: str, **query: str) -> Response:
        """GET with query parameters."""
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any, **kw: Any) -> Response:
        """POST a body."""
        return self.request("POST", path, body, **kw)
