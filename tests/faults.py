"""A fault-injecting upstream: an HTTP/1.1 server that fails on purpose and counts what it saw.

``FaultUpstream`` listens on a free loopback port, on an asyncio loop of its own thread, and
answers each request with the :class:`Fault` its script gives for ``(method, path)``: a normal
answer, a 5xx/429 with ``Retry-After``, a stall (no answer until the caller closes; or, for
``stall_after_headers``, the response headers and the body's first bytes, if any, then nothing
until the caller closes), a reset
before or after the response headers, a truncated body, a slow drip, or a bad chunk. It counts
connections accepted and still open and the requests (attempts) received, so tests can assert
that a caller's disconnect closes the upstream connection, that a write was attempted once, and
so on. Written on raw asyncio streams (not ``http.server``) so every byte and every close is the
test's to choose; a reset is a close with ``SO_LINGER`` 0 (an RST, not a FIN).

Used by the hardening tests (``tests/handler/test_hardening.py``) and the soak (``benchmarks/soak.py``
brings its own). Imported by package name: ``from tests.faults import Fault, FaultUpstream``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal[
    "ok",
    "stall",
    "stall_after_headers",
    "reset_before_headers",
    "reset_after_headers",
    "truncate",
    "drip",
    "bad_chunk",
]


@dataclass
class Fault:
    """How to answer one request: ``kind`` (see the module docstring), the answer's ``status``,
    ``headers`` and ``body``; ``retry_after`` adds that header; ``delay`` seconds before the
    answer; ``drip`` seconds between body bytes for ``kind="drip"``; ``chunked`` sends the body
    chunked (a watch-like stream, kept open for ``hold`` seconds after the body)."""

    kind: FaultKind = "ok"
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    retry_after: str | None = None
    delay: float = 0.0
    drip: float = 0.05
    chunked: bool = False
    hold: float = 0.0


@dataclass
class Attempt:
    """One request the upstream received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    #: The connection it came on (``FaultUpstream.open_connections`` holds the open ones).
    connection: int = 0


Script = Callable[[str, str], Fault]


def status_body(code: int, reason: str, message: str) -> bytes:
    """A Kubernetes ``Status`` as an API server sends it for ``code``."""
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    ).encode()


def ok_list(kind: str = "RayClusterList") -> Fault:
    """A 200 empty list of ``kind``."""
    body = {"kind": kind, "apiVersion": "ray.io/v1", "metadata": {"resourceVersion": "1"}, "items": []}
    return Fault(body=json.dumps(body).encode())


class FaultUpstream:
    """The fault-injecting upstream on :attr:`url`; ``script(method, path)`` picks each answer
    (default: a 200 empty RayClusterList). :meth:`close` stops it."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda method, path: ok_list())
        self.attempts: list[Attempt] = []
        self.connections_total = 0
        self.connections_open = 0
        self.open_connections: set[int] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._run, name="fault-upstream", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def close(self) -> None:
        """Stop serving and close every connection."""

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def reset(self, script: Script | None = None) -> None:
        """Forget the attempts seen and set a new script (None: the default 200 list)."""
        with self._lock:
            self.attempts.clear()
        self.script = script or (lambda method, path: ok_list())

    def attempts_for(self, prefix: str) -> list[Attempt]:
        """The attempts whose path starts with ``prefix``."""
        with self._lock:
            return [a for a in self.attempts if a.path.startswith(prefix)]

    def wait_open(self, at_most: int, timeout: float) -> float | None:
        """Wait until at most ``at_most`` connections are open; the seconds it took, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.connections_open <= at_most:
                return time.monotonic() - t0
            time.sleep(0.01)
        return None

    def wait_closed(self, connection: int, timeout: float) -> float | None:
        """Wait until ``connection`` is closed; the seconds it took, or None after ``timeout``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if connection not in self.open_connections:
                return time.monotonic() - t0
            time.sleep(0.01)
        return None

    # -- serving -----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections_total += 1
            self.connections_open += 1
            conn = self.connections_total
            self.open_connections.add(conn)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                with self._lock:
                    self.attempts.append(Attempt(method, path, headers, body, time.monotonic(), conn))
                if not await self._answer(self.script(method, path), reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with self._lock:
                self.connections_open -= 1
                self.open_connections.discard(conn)
            writer.close()

    async def _answer(self, f: Fault, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Write the answer ``f``; False when the connection is to be closed."""
        if f.delay:
            await asyncio.sleep(f.delay)
        if f.kind == "stall":
            await reader.read()  # until the caller closes
            return False
        if f.kind == "reset_before_headers":
            _reset(writer)
            return False
        headers = dict(f.headers)
        if f.retry_after is not None:
            headers["Retry-After"] = f.retry_after
        chunked = f.chunked or f.kind == "bad_chunk"
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            extra = 100 if f.kind in ("truncate", "stall_after_headers") else 0
            headers["Content-Length"] = str(len(f.body) + extra)
        head = f"HTTP/1.1 {f.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode())
        await writer.drain()
        if f.kind == "reset_after_headers":
            await asyncio.sleep(0.05)
            _reset(writer)
            return False
        if f.kind == "stall_after_headers":  # the body's first bytes, if any, then nothing
            if f.body:
                writer.write(b"%x\r\n%s\r\n" % (len(f.body), f.body) if chunked else f.body)
                await writer.drain()
            await reader.read()  # until the caller closes
            return False
        if f.kind == "bad_chunk":
            writer.write(b"zz\r\n" + f.body + b"\r\n0\r\n\r\n")
            await writer.drain()
            return False
        if f.kind == "drip":
            for i in range(len(f.body)):
                writer.write(f.body[i : i + 1] if not chunked else b"1\r\n" + f.body[i : i + 1] + b"\r\n")
                await writer.drain()
                await asyncio.sleep(f.drip)
        elif chunked:
            if f.body:
                writer.write(b"%x\r\n%s\r\n" % (len(f.body), f.body))
            await writer.drain()
        else:
            writer.write(f.body)
            await writer.drain()
        if f.kind == "truncate":
            await asyncio.sleep(0.05)
            writer.close()
            return False
        if chunked:
            if f.hold:
                try:
                    await asyncio.wait_for(reader.read(), f.hold)  # EOF: the caller went away
                    return False
                except TimeoutError:
                    pass
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    """One request (method, path with query, lower-case headers, body), or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif headers.get("content-length"):
        body = await reader.readexactly(int(headers["content-length"]))
    return method, path, headers, body


def open_fds(pid: int) -> int:
    """How many file descriptors process ``pid`` has open (Linux ``/proc``)."""
    import os

    return len(os.listdir(f"/proc/{pid}/fd"))


def child_pids(pid: int) -> list[int]:
    """``pid`` and its children (granian's workers are children of the gateway's main process)."""
    import os

    out = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out
