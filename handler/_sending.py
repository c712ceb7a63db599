"""The one place HTTP responses are written to ASGI: :class:`ResponseSender`.

Steps and backends return response values (:mod:`handler.responses`); this module turns them into
``http.response.start`` / ``http.response.body`` messages. (The WebSocket relay,
:mod:`handler._websocket_relay`, writes its own ``websocket.*`` messages, and a shared watch's
subscriber writes event bodies straight to the ``send`` handed to it here, see
:mod:`handler.watch_fanout`.)

Streaming: an upstream body is relayed as pyreqwest yields it (``read_chunk``), so a watch event
reaches the caller when the upstream sends it and a large list is never held whole. Once the
response has started, an upstream failure can only abort it (:class:`RelayAborted`: the caller
sees a truncated body, never a response spliced from two attempts).
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import Receive, Send
from pyreqwest.exceptions import RequestError

from handler import watch_fanout
from handler._body import ClientDisconnected
from handler._headers import caller_response_headers, caller_response_headers_of
from handler.responses import (
    AnyResponse,
    Headers,
    RelayAborted,
    Response,
    SharedWatchResponse,
    UpstreamResponse,
)
from handler.upstream_client import transport_error


def _readable_headers(headers: Any) -> list[tuple[str, str]]:
    """The upstream's headers as text pairs. pyreqwest cannot read a header value that is not
    visible ASCII (a ``Warning`` quoting a non-ASCII field name, as kube-apiserver sends it) and
    raises for the whole map: such a header is then left out, so the caller still gets the answer
    (issue 13: a Litestar 500 that is not a Status was answered instead)."""
    try:
        return list(headers.items())
    except ValueError:
        out: list[tuple[str, str]] = []
        for name in headers.keys():  # noqa: SIM118 (a pyreqwest HeaderMap)
            try:
                out.extend((name, v) for v in headers.getall(name))
            except ValueError:
                continue
        return out


def _caller_head(headers: Any) -> tuple[list[tuple[bytes, bytes]], str | None]:
    """The upstream's headers (a pyreqwest HeaderMap) as the caller's ASGI header pairs, hop-by-hop
    ones dropped, and the upstream's ``Content-Length`` value (None when absent)."""
    try:
        return caller_response_headers_of(headers.dict_multi_value())
    except ValueError:  # a value pyreqwest cannot read as text: left out (see _readable_headers)
        pairs = _readable_headers(headers)
        length = next((v for k, v in pairs if k.lower() == "content-length"), None)
        return caller_response_headers(pairs), length


class ResponseSender:
    """Writes one request's response to ASGI ``send``; remembers whether it started, its status and
    when the head went out (``headers_at``, a ``time.monotonic()``), for the metrics."""

    __slots__ = ("_send", "code", "headers_at", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.code = 0
        self.headers_at: float | None = None

    async def send(self, response: AnyResponse, receive: Receive) -> None:
        """Send ``response`` whole (``receive`` is read by shared watches for the disconnect).

        Raises ClientDisconnected when the caller went away, RelayAborted when the upstream failed
        after the response started.
        """
        if type(response) is UpstreamResponse:
            await self._relay(response)
        elif type(response) is SharedWatchResponse:
            await self._shared_watch(response, receive)
        else:
            assert isinstance(response, Response)
            await self._made(response)

    async def end(self) -> None:
        """End a started streamed response now (the last, empty, body message): used when the
        worker drains (:mod:`handler.lifecycle`). Raises ClientDisconnected when the caller left."""
        await self._body(b"", more=False)

    async def _start(self, status: int, headers: Headers) -> None:
        self.started = True
        self.code = status
        self.headers_at = time.monotonic()
        await self._guarded({"type": "http.response.start", "status": status, "headers": headers})

    async def _body(self, chunk: bytes, more: bool = True) -> None:
        await self._guarded({"type": "http.response.body", "body": chunk, "more_body": more})

    async def _guarded(self, message: Any) -> None:
        try:
            await self._send(message)
        except (OSError, RuntimeError) as e:  # the server reports a closed connection this way
            raise ClientDisconnected() from e

    async def _made(self, response: Response) -> None:
        body = response.body
        if isinstance(body, bytes):
            headers = response.headers
            if not any(k == b"content-length" for k, _ in headers):
                headers = [*headers, (b"content-length", str(len(body)).encode())]
            await self._start(response.status, headers)
            await self._body(body, more=False)
            return
        await self._start(response.status, response.headers)
        if response.flush_head:
            await self._body(b"")
        async for chunk in body:
            await self._body(chunk)
        await self._body(b"", more=False)

    async def _relay(self, response: UpstreamResponse) -> None:
        """Relay status, headers and body chunks of an upstream response as they arrive.

        A body of known length is started only once its first chunk arrived, so an upstream that
        fails right after its headers (a reset) is still answered with a ``Status`` (the 503 of
        :func:`handler.upstream_client.transport_error`), not a broken response (issue 13 finding
        6). A body of unknown length (a watch, a streamed list) starts at once, as the apiserver
        flushes a watch's headers before its first event; a failure after that cuts the response.
        """
        resp = response.upstream
        headers, length = _caller_head(resp.headers)
        if response.method == "HEAD":
            await self._start(resp.status, headers)
            await self._body(b"", more=False)
            return
        remaining = int(length) if length is not None and length.isdigit() else None
        reader = resp.body_reader
        if remaining is None:
            # granian holds the headers back until the first body message: an empty one sends them.
            await self._start(resp.status, headers)
            await self._body(b"")
        elif remaining == 0:
            await self._start(resp.status, headers)
            await self._body(b"", more=False)
            return
        else:
            try:
                first = await reader.read_chunk()
            except RequestError as e:
                raise transport_error(e) from e  # nothing sent yet: a Status
            await self._start(resp.status, headers)
            if first is None:
                await self._body(b"", more=False)
                return
            data = bytes(first)
            remaining -= len(data)
            if remaining <= 0:
                await self._body(data, more=False)
                return
            await self._body(data)
        try:
            while True:
                chunk = await reader.read_chunk()
                if chunk is None:
                    break
                data = bytes(chunk)
                if remaining is not None:
                    remaining -= len(data)
                    if remaining <= 0:  # the last chunk ends the response: one ASGI message fewer
                        await self._body(data, more=False)
                        return
                await self._body(data)
        except RequestError as e:
            raise RelayAborted() from e  # too late for a Status: cut the caller's response too
        await self._body(b"", more=False)

    async def _shared_watch(self, response: SharedWatchResponse, receive: Receive) -> None:
        """Hand the connection to the shared watch's subscriber (:func:`handler.watch_fanout.serve`)."""
        try:
            await watch_fanout.serve(
                response.subscriber, response.headers, response.timeout, self._start, self._send, receive
            )
        except (OSError, RuntimeError) as e:  # how the server reports a closed connection
            raise ClientDisconnected() from e
