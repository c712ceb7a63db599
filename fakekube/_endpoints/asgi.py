"""Minimal ASGI request/response plumbing (no framework: fast startup, no per-request overhead).

:class:`Request` holds the method, path, headers and the request info (:mod:`kubeapi.requestinfo`:
verb, group, version, namespace, resource, name, subresource and the query with Go's rules,
parsed once) and reads the body on demand,
refusing bodies over :data:`MAX_BODY` (3 MiB, the apiserver's ``MaxRequestBodyBytes`` default)
with 413. :func:`respond` writes one complete response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fakekube._apierrors import too_large
from fakekube._storage.store import dumps
from kubeapi.authn import UserInfo
from kubeapi.decode import MAX_BODY_BYTES
from kubeapi.query import Query
from kubeapi.requestinfo import RequestInfo, request_info_from_scope
from kubeapi.status import StatusError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The apiserver's default limit on request bodies (``--max-resource-write-bytes``), bytes.
MAX_BODY = MAX_BODY_BYTES

JSON_TYPE = b"application/json"


class Request:
    """One HTTP request: ``method``, ``path`` (decoded), ``query`` (a :class:`kubeapi.query.Query`:
    first values, Go's bool/int rules), ``headers`` (lower-case names), and :attr:`info`, its
    :class:`kubeapi.requestinfo.RequestInfo` (raises its 404 ``UnsafePathError`` for a refused path)."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"].upper()
        self.path: str = scope["path"]
        raw_qs = scope.get("query_string", b"")
        self.query_string: str = raw_qs.decode("latin-1") if isinstance(raw_qs, bytes) else str(raw_qs)
        #: What the request asks for (verb, group, version, namespace, resource, name, ...).
        self.info: RequestInfo = request_info_from_scope(scope)
        self.query: Query = self.info.query
        self.headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            self.headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        self._body: bytes | None = None
        #: ``Warning`` header texts to send with the response.
        self.warnings: list[str] = []
        #: The user the request runs as (after impersonation); None when authentication is off.
        self.user: UserInfo | None = None
        #: Who authenticated, then (when impersonating) whom they impersonate; empty without authentication.
        self.identities: list[UserInfo] = []

    @property
    def content_type(self) -> str:
        """The media type of the body without parameters, lower case ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    async def body(self) -> bytes:
        """The whole body; raises StatusError 413 past :data:`MAX_BODY` bytes."""
        if self._body is not None:
            return self._body
        length = self.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            raise too_large(MAX_BODY)
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await self.receive()
            if msg["type"] == "http.disconnect":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large(MAX_BODY)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    def flag(self, name: str) -> bool:
        """A boolean query parameter read as ``Convert_Slice_string_To_bool`` (only ``0`` and
        ``false`` in any case are false; ``watch=``, ``yes``, ``TRUE`` are true)."""
        return self.query.bool(name)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON_TYPE,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response with ``Content-Type`` and ``Content-Length``."""
    hdrs = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        hdrs.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, obj: Any) -> None:
    """Send ``obj`` as JSON."""
    await respond(send, status, dumps(obj))


async def respond_error(send: Send, err: StatusError) -> None:
    """Send the ``Status`` of ``err`` with its code."""
    await respond(send, err.code, dumps(err.status()))
