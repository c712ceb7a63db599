"""A scripted upstream for tests that need one failing on purpose or recording what it received.

``StubUpstream`` runs a threaded ``http.server`` on a free loopback port in the test process.
Each request is recorded (method, path with query, headers, body) and answered by the next
scripted reply for its path prefix, or by the default 200 JSON reply. A ``responder`` (a function
of the :class:`Seen` request returning a :class:`Reply` or None) answers before the script: the
TokenReview/SubjectAccessReview stub of ``tests.handler.review_stub`` is one.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: HTTP ``status``, ``headers`` and ``body`` bytes."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b"{}"
    #: Announce this many more bytes than ``body`` then close: a response cut mid-stream.
    truncate: int = 0
    #: Close the connection without answering (a reset before any response byte).
    drop: bool = False
    #: Sent after ``body`` once ``gate`` is set (chunked): shows whether the first part was relayed early.
    tail: bytes = b""
    gate: threading.Event | None = None
    #: With ``gate``: after ``body``, close the connection without the final chunk.
    cut: bool = False


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubUpstream:
    """A test upstream on ``url``; script replies with :meth:`script`, inspect :attr:`seen`."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        self._replies: deque[Reply] = deque()
        self.responder: Callable[[Seen], Reply | None] | None = None
        self.default = Reply(body=json.dumps({"kind": "RayClusterList", "items": []}).encode())
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if isinstance(self.connection, ssl.SSLSocket):
                    # The client certificate's CN, so tests can see which identity was presented.
                    cert = self.connection.getpeercert() or {}
                    subject = dict(pair[0] for pair in cert.get("subject", ()))
                    headers["x-stub-client-cn"] = str(subject.get("commonName", ""))
                seen = Seen(self.command, self.path, headers, body)
                stub.seen.append(seen)
                reply = stub.responder(seen) if stub.responder is not None else None
                if reply is None:
                    reply = stub._replies.popleft() if stub._replies else stub.default
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.gate is not None:
                    self._send_gated(reply, reply.gate)
                    return
                self.send_header("Content-Length", str(len(reply.body) + reply.truncate))
                self.end_headers()
                self.wfile.write(reply.body)
                if reply.truncate:
                    self.wfile.flush()
                    self.close_connection = True

            def _send_gated(self, reply: Reply, gate: threading.Event) -> None:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (reply.body, reply.tail):
                    if part is reply.tail and (reply.cut or not gate.wait(10)):
                        self.close_connection = True
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _read_chunked(self) -> bytes:
                out = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order before falling back to :attr:`default`."""
        self._replies.extend(replies)

    def reset(self) -> None:
        """Forget recorded requests, queued replies and the responder."""
        self.seen.clear()
        self._replies.clear()
        self.responder = None

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()
