"""A lean many-connection watch client: asyncio protocols that only timestamp what arrives.

A Kubernetes watch response is newline-delimited JSON events (one per line), usually sent with
``Transfer-Encoding: chunked`` (RFC 9112 §7.1).  While measuring, each connection only records
``(perf_counter_ns, bytes)`` per read, so 1,000 connections cost the client as little as possible;
:class:`LineDecoder` turns the record into ``(arrival time, event line)`` pairs afterwards, where an
event's arrival time is that of the read that completed its line.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


class ChunkedError(ValueError):
    """The body is not valid HTTP/1.1 chunked encoding."""


@dataclass
class LineDecoder:
    """Incremental de-chunking (when ``chunked``) and line splitting of a response body.

    :meth:`feed` takes one read (its time and bytes) and returns the lines it completed, each with
    that read's time, without the trailing newline.
    """

    chunked: bool
    _raw: bytearray = field(default_factory=bytearray)
    _line: bytearray = field(default_factory=bytearray)
    _left: int = 0  # bytes of chunk data still to come in the current chunk
    _need_crlf: bool = False
    _done: bool = False

    def feed(self, when: int, data: bytes) -> list[tuple[int, bytes]]:
        """Consume ``data`` received at ``when``; returns completed lines. Raises ChunkedError."""
        if not self.chunked:
            return self._lines(when, data)
        self._raw += data
        out: list[tuple[int, bytes]] = []
        while self._raw and not self._done:
            if self._left:
                take = bytes(self._raw[: self._left])
                del self._raw[: len(take)]
                self._left -= len(take)
                out += self._lines(when, take)
                if self._left:
                    break
                self._need_crlf = True
                continue
            if self._need_crlf:
                if len(self._raw) < 2:
                    break
                if self._raw[:2] != b"\r\n":
                    raise ChunkedError(f"missing CRLF after chunk data: {bytes(self._raw[:10])!r}")
                del self._raw[:2]
                self._need_crlf = False
                continue
            end = self._raw.find(b"\r\n")
            if end < 0:
                break
            size_text = bytes(self._raw[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise ChunkedError(f"bad chunk size {size_text!r}") from exc
            del self._raw[: end + 2]
            if size == 0:
                self._done = True
            self._left = size
        return out

    def _lines(self, when: int, data: bytes) -> list[tuple[int, bytes]]:
        out = []
        start = 0
        while (nl := data.find(b"\n", start)) >= 0:
            self._line += data[start:nl]
            if self._line.strip():
                out.append((when, bytes(self._line)))
            self._line.clear()
            start = nl + 1
        self._line += data[start:]
        return out


class WatchProtocol(asyncio.Protocol):
    """One watch connection: sends the GET, waits for the response head, then records every read.

    ``opened`` resolves with the HTTP status once the head has arrived; ``reads`` holds
    ``(perf_counter_ns, bytes)`` of the body.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode()
        )
        self.opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.chunked = False
        self.reads: list[tuple[int, bytes]] = []
        self._head = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the request as soon as the connection is up."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        """Parse the response head once; afterwards only timestamp and keep the bytes."""
        if self.opened.done():
            self.reads.append((time.perf_counter_ns(), data))
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._head[:end]).decode("latin-1").split("\r\n")
        rest = bytes(self._head[end + 4 :])
        self.chunked = any(
            h.lower().startswith("transfer-encoding:") and "chunked" in h.lower() for h in head[1:]
        )
        if rest:
            self.reads.append((time.perf_counter_ns(), rest))
        self.opened.set_result(int(head[0].split()[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        """A watch closed before its head arrived counts as status 0."""
        if not self.opened.done():
            self.opened.set_result(0)

    def close(self) -> None:
        """Close the connection (ends the watch)."""
        if self.transport is not None:
            self.transport.close()

    def events(self) -> list[tuple[int, bytes]]:
        """The ``(arrival ns, event line)`` pairs received so far. Raises ChunkedError."""
        decoder = LineDecoder(self.chunked)
        out: list[tuple[int, bytes]] = []
        for when, data in self.reads:
            out += decoder.feed(when, data)
        return out


async def open_watches(port: int, path: str, count: int, batch: int = 100) -> list[WatchProtocol]:
    """Open ``count`` watch connections to ``path`` on 127.0.0.1:port, ``batch`` connects at a time.

    Returns once every connection is up and has sent its request; :meth:`wait_heads` then says
    how many were answered and with what (a server may hold the head until the first event).
    """
    loop = asyncio.get_running_loop()
    watches: list[WatchProtocol] = []
    for start in range(0, count, batch):
        made = await asyncio.gather(
            *(
                loop.create_connection(lambda: WatchProtocol("127.0.0.1", port, path), "127.0.0.1", port)
                for _ in range(min(batch, count - start))
            )
        )
        watches += [proto for _transport, proto in made]
    return watches


async def wait_heads(watches: list[WatchProtocol], timeout: float) -> dict[int, int]:
    """Wait up to ``timeout`` s for every response head; returns {status: count} (-1 = no head yet)."""
    await asyncio.wait([w.opened for w in watches], timeout=timeout)
    counts: dict[int, int] = {}
    for w in watches:
        status = w.opened.result() if w.opened.done() else -1
        counts[status] = counts.get(status, 0) + 1
    return counts
