"""The caller's request body, read from ASGI ``receive`` either whole (bounded) or as a stream.

Kubernetes API bodies are read whole, up to ``max_body_bytes`` (the kube-apiserver itself refuses
bodies above 3 MiB with 413), so that a write the upstream refused with 429 can be replayed.
Services-proxy bodies (Ray job submission uploads, which can be large) are streamed through and
never held whole; :attr:`RequestBody.stream_started` tells the retry logic whether a replay is
still possible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.types import Receive

from kubeapi.status import StatusError, new_request_entity_too_large_limit

#: How much of an oversized body is read and discarded before the 413 is sent. A caller still
#: sending sees a connection reset instead of the answer when the server stops reading early
#: (seen under load with httpx against a 3 MB body); beyond this the reset is accepted.
DRAIN_BYTES = 64 * 1024 * 1024


class ClientDisconnected(Exception):
    """The caller went away while its request body was being read."""


class RequestBody:
    """The body of one ASGI request; ``content_length`` from the header, or None when absent.

    ``has_body`` is false when the request declares no body (no ``Content-Length`` and no
    ``Transfer-Encoding``, or ``Content-Length: 0``).
    """

    def __init__(self, receive: Receive, content_length: int | None, chunked: bool) -> None:
        self._receive = receive
        self.content_length = content_length
        self.has_body = bool(content_length) or (content_length is None and chunked)
        self._data: bytes | None = None if self.has_body else b""
        self.stream_started = False
        self.done = not self.has_body

    async def read(self, limit: int) -> bytes:
        """The whole body (cached); raises StatusError 413 above ``limit`` bytes."""
        if self._data is not None:
            return self._data
        if self.stream_started:
            raise StatusError(500, "InternalError", "request body already streamed")
        if self.content_length is not None and self.content_length > limit:
            await self._discard(self._chunks())
            raise new_request_entity_too_large_limit(limit)
        parts: list[bytes] = []
        size = 0
        chunks = self._chunks()
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                await self._discard(chunks)
                raise new_request_entity_too_large_limit(limit)
            parts.append(chunk)
        self._data = b"".join(parts)
        return self._data

    @staticmethod
    async def _discard(chunks: AsyncIterator[bytes]) -> None:
        """Read what is left of an oversized body (at most DRAIN_BYTES) and drop it."""
        drained = 0
        async for chunk in chunks:
            drained += len(chunk)
            if drained > DRAIN_BYTES:
                return

    def replace(self, data: bytes) -> None:
        """Replace the body (middleware that rewrote it)."""
        self._data = data
        self.has_body = True
        self.done = True

    @property
    def buffered(self) -> bytes | None:
        """The body if it has been read whole (or there is none), else None."""
        return self._data

    async def _chunks(self) -> AsyncIterator[bytes]:
        more = True
        while more:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            assert isinstance(chunk, bytes)
            more = bool(message.get("more_body", False))
            if chunk:
                yield chunk
        self.done = True

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as chunks straight from the caller; marks :attr:`stream_started` on first pull."""
        if self._data is not None:
            if self._data:
                yield self._data
            return
        self.stream_started = True
        async for chunk in self._chunks():
            yield chunk
