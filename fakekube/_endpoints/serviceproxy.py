"""The Service proxy subresource: ``/api/v1/namespaces/{ns}/services/{name}/proxy[/path]``.

A real apiserver forwards such requests to one of the Service's endpoints. fakekube has no pods,
so a Service "has endpoints" when a backend URL was registered for it (``--service-backend
NS/NAME=URL``, or ``create_app(service_backends={"NS/NAME": URL})``). Without one the answer is
the real server's for a Service with no ready endpoints: 503 ``ServiceUnavailable``
``no endpoints available for service "NAME"`` (``pkg/registry/core/service/storage`` ResourceLocation).
A backend that cannot be reached is a 503 ``error trying to reach service: ...`` (the proxy
handler's text). Redirects are passed through, not followed.

In-process backends (:data:`LocalBackend`, ``Api.local_backends``) come first: each is asked
with the stored Service and the requested port (a name, a number or ``""``) and may return an
ASGI app that answers instead of an HTTP server (the simulation's Ray dashboard behind a
RayCluster's head Service, :mod:`fakekube._controllers.kuberay.dashboard`). The app sees
``path`` = the rest of the URL after ``/proxy`` (``/`` when empty) and the query string.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from fakekube._apierrors import service_unavailable
from fakekube._storage.store import Stored
from kubeapi.status import StatusError

#: An ASGI application (scope, receive, send).
AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
#: An in-process backend: ``(service, port)`` → the ASGI app serving that port of the stored
#: Service, or None (not this backend's).
LocalBackend = Callable[[Stored, str], AsgiApp | None]

# Request headers that describe one hop, not the message (RFC 9110 §7.6.1).
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class ProxyResponse:
    """What the backend answered: status code, headers (hop-by-hop removed) and body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def backend_for(backends: Mapping[str, str], namespace: str, name: str, port: str) -> str | None:
    """The registered URL for ``namespace/name:port`` or ``namespace/name``, or None."""
    if port and f"{namespace}/{name}:{port}" in backends:
        return backends[f"{namespace}/{name}:{port}"]
    return backends.get(f"{namespace}/{name}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _forward_blocking(
    method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
) -> ProxyResponse:
    req = urllib.request.Request(
        url, data=body if body or method in ("POST", "PUT", "PATCH") else None, method=method
    )
    for k, v in headers.items():
        if k.lower() not in _HOP:
            req.add_header(k, v)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return ProxyResponse(r.status, _headers(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return ProxyResponse(e.code, _headers(e.headers), e.read())


def _headers(msg: Message) -> list[tuple[str, str]]:
    return [(k, v) for k, v in msg.items() if k.lower() not in _HOP]


async def forward(
    method: str,
    base_url: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float = 30.0,
) -> ProxyResponse:
    """Send the request to ``base_url`` + ``path`` (+ ``?query``); raise StatusError 503 when unreachable."""
    url = base_url.rstrip("/") + (path or "/") + (f"?{query}" if query else "")
    try:
        return await asyncio.to_thread(_forward_blocking, method, url, headers, body, timeout)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise service_unavailable(f"error trying to reach service: {reason}") from None


def no_endpoints(name: str) -> StatusError:
    """503 for a Service without a registered backend."""
    return service_unavailable(f'no endpoints available for service "{name}"')


def local_backend_for(backends: list[LocalBackend], service: Stored, port: str) -> AsgiApp | None:
    """The first in-process backend's app for ``port`` of ``service``, or None."""
    for b in backends:
        app = b(service, port)
        if app is not None:
            return app
    return None


async def forward_asgi(
    app: AsgiApp, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
) -> ProxyResponse:
    """Call the ASGI ``app`` with the request and collect its whole response."""
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path or "/",
        "raw_path": (path or "/").encode(),
        "query_string": query.encode(),
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in headers.items()
            if k.lower() not in _HOP
        ],
    }
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the request has no more body: wait for cancellation
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    out: dict[str, Any] = {"status": 500, "headers": [], "body": []}

    async def send(msg: MutableMapping[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
            out["headers"] = [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in msg.get("headers", [])
                if k.decode("latin-1").lower() not in _HOP
            ]
        elif msg["type"] == "http.response.body":
            out["body"].append(msg.get("body", b""))

    await app(scope, receive, send)
    return ProxyResponse(out["status"], out["headers"], b"".join(out["body"]))
