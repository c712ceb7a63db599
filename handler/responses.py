"""What steps and backends return: responses as values, sent to ASGI by :mod:`handler._sending` only.

Modelled on Starlette's ``responses.py``: a response is a status, headers and a body that is either
``bytes`` (sent whole) or an async iterator of chunks (streamed as produced). Three kinds:

- :class:`Response`: a body the gateway made (a filtered discovery document, a compute template, a
  field-selector list streamed page by page, a ``Status`` error);
- :class:`UpstreamResponse`: an upstream answer relayed as it streams (pyreqwest ``read_chunk``),
  the proxy's common case; its connection is released by :meth:`UpstreamResponse.aclose`;
- :class:`SharedWatchResponse`: a watch served from a shared upstream watch
  (:mod:`handler.watch_fanout`), which writes its events straight to the ASGI ``send`` so that one
  event line reaches every subscriber without a task switch.

Headers are ASGI pairs (lower-case ``bytes`` names and values).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from kubeapi.status import StatusError

if TYPE_CHECKING:
    from pyreqwest.response import Response as PyreqwestResponse

    from handler.upstream_http1 import Http1Response

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]


class RelayAborted(Exception):
    """The upstream failed after the response had started: the caller's response is cut short
    (raised by a streamed body; the pipeline logs it and lets the connection end)."""


class Response:
    """A response the gateway made: ``status`` (HTTP code), ``headers`` (ASGI pairs) and ``body``.

    ``body`` is ``bytes`` (sent whole; ``content-length`` is added when missing) or an async
    iterator of ``bytes`` chunks (sent as they come; the response ends when it is exhausted).
    ``flush_head`` sends an empty body chunk right after the head, so a caller sees the headers of
    a watch before its first event, as the API server flushes them. ``on_close`` (optional) is
    awaited once the response was sent or abandoned (releases an upstream connection).
    """

    __slots__ = ("body", "flush_head", "headers", "on_close", "status")

    def __init__(
        self,
        status: int,
        headers: Headers,
        body: bytes | AsyncIterator[bytes] = b"",
        flush_head: bool = False,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.flush_head = flush_head
        self.on_close = on_close

    async def aclose(self) -> None:
        """Release what the response holds (idempotent)."""
        close, self.on_close = self.on_close, None
        if close is not None:
            await close()


def json_response(status: int, obj: Any) -> Response:
    """``obj`` as a compact JSON body with HTTP ``status``."""
    return Response(status, JSON_HEADERS, json.dumps(obj, separators=(",", ":")).encode())


def status_response(error: StatusError) -> Response:
    """A ``Status`` error (:class:`kubeapi.status.StatusError`) as its JSON response."""
    return Response(error.code, JSON_HEADERS, error.body())


class UpstreamResponse:
    """An upstream response (pyreqwest, streamed) to relay unchanged but for hop-by-hop headers.

    ``method`` is the request's (a ``HEAD`` answer has no body). Built by
    :meth:`handler.upstream_client.UpstreamClient.stream`, which entered ``context`` (the
    ``build_streamed()`` context manager); :meth:`aclose` exits it. A long-running request to an
    HTTP/1.1 upstream has an :class:`handler.upstream_http1.Http1Response` (aiohttp) as both.
    """

    __slots__ = ("_context", "method", "upstream")

    def __init__(self, upstream: PyreqwestResponse | Http1Response, context: Any, method: str) -> None:
        self.upstream = upstream
        self.method = method
        self._context = context

    @property
    def status(self) -> int:
        """The upstream's HTTP status."""
        return self.upstream.status

    async def aclose(self) -> None:
        """Release the upstream connection (idempotent)."""
        context, self._context = self._context, None
        if context is not None:
            await context.__aexit__(None, None, None)


class SharedWatchResponse:
    """A watch served from a shared upstream watch: ``subscriber`` (a
    :class:`handler.watch_fanout.Subscriber`, typed ``Any`` here so this module stays below the
    fan-out in the import graph) joined it, ``headers`` are the shared watch's response headers,
    ``timeout`` the caller's ``timeoutSeconds`` (None: none)."""

    __slots__ = ("headers", "status", "subscriber", "timeout")

    def __init__(self, subscriber: Any, headers: Headers, timeout: float | None) -> None:
        self.status = 200
        self.subscriber = subscriber
        self.headers = headers
        self.timeout = timeout

    async def aclose(self) -> None:
        """Nothing to release: the subscriber leaves when its response ends."""


#: Anything a step or a backend may return.
AnyResponse = Response | UpstreamResponse | SharedWatchResponse
