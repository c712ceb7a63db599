"""Request rules: low-level middleware that inspects or rewrites any request before it goes upstream.

Most rules are about objects and are better written as object hooks (:mod:`handler.hooks`: an
async ``hook(ctx, obj) -> obj`` registered for verbs and resources). A request rule is the
lower-level form: any async callable ``(request: GatewayRequest) -> None`` passed to
``handler.create_app(settings, middleware=[...])`` (object hooks and ordinary Litestar/ASGI
middleware may be mixed in the same list, see :func:`handler.factory.split_middleware`). Rules run
in order for every request, after the route matched and before any object hook. A rule may

- read ``request.method``, ``request.path``, ``request.query``, ``request.headers`` and
  ``request.route`` (what was matched: ``Kind.RAY``, ``Kind.EVENTS``, ``Kind.SERVICE_PROXY``);
- parse the body with ``await request.json()`` (JSON or, for ``application/yaml``, YAML) and
  replace it with ``request.set_json(obj)``; a body nobody asked for is never parsed and is passed
  through as bytes;
- look things up on the upstream with ``await request.upstream.get_json(path)`` (gateway's
  credentials);
- refuse the request by raising :class:`handler.errors.GatewayError` (answered as a ``Status``;
  nothing is sent upstream).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import yaml

from handler.body import RequestBody
from handler.errors import GatewayError
from handler.routes import Route
from handler.upstream import Upstream

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
#: Server-side apply bodies are YAML (JSON is a subset).
APPLY_PATCH_YAML = "application/apply-patch+yaml"


class GatewayRequest:
    """One request on its way upstream; fields are mutable by middleware.

    ``path`` is the raw (percent-encoded) upstream path, ``query`` the raw query string,
    ``headers`` lower-case ``(name, value)`` pairs already stripped of hop-by-hop and credential
    headers. ``max_body_bytes`` bounds :meth:`body`.
    """

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        route: Route,
        body: RequestBody,
        upstream: Upstream,
        max_body_bytes: int,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.route = route
        self.upstream = upstream
        self.max_body_bytes = max_body_bytes
        self._body = body

    @property
    def raw_body(self) -> RequestBody:
        """The underlying body reader (used by the proxy)."""
        return self._body

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def set_header(self, name: str, value: str) -> None:
        """Replace every value of header ``name`` with ``value``."""
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    async def body(self) -> bytes:
        """The whole body as bytes; GatewayError 413 above ``max_body_bytes``."""
        return await self._body.read(self.max_body_bytes)

    async def json(self) -> Any:
        """The body decoded as JSON, or YAML when ``Content-Type`` is a YAML type; None when empty.

        Raises GatewayError 400 ``BadRequest`` for a body that does not decode, with the message
        shape of the API server's decoder errors.
        """
        raw = await self.body()
        if not raw.strip():
            return None
        ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
        try:
            if ctype in YAML_TYPES or ctype == APPLY_PATCH_YAML:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise GatewayError(
                400, "BadRequest", f"the body of the request was in an unknown format: {e}"
            ) from None

    def set_body(self, data: bytes) -> None:
        """Replace the body with ``data`` (Content-Type unchanged)."""
        self._body.replace(data)

    def set_json(self, obj: Any) -> None:
        """Replace the body with ``obj`` encoded as JSON and set ``Content-Type: application/json``."""
        self._body.replace(json.dumps(obj, separators=(",", ":")).encode())
        self.set_header("content-type", "application/json")


GatewayMiddleware = Callable[[GatewayRequest], Awaitable[None]]
"""A middleware: ``async def rule(request: GatewayRequest) -> None`` (raise GatewayError to refuse)."""
