"""A TLS upstream that speaks HTTP/2 (ALPN ``h2``) and counts connections, streams and resets.

``H2Upstream`` listens on a free loopback port over TLS (a throwaway CA from :mod:`tests.handler.pki`,
its PEM in :attr:`H2Upstream.ca_pem`), offers ``h2`` (and, with ``http1=True``, ``http/1.1``, which
it then refuses to serve: the test is about what the client picks) through ALPN, and answers
each stream by its path, as kube-apiserver would over HTTP/2 (RFC 9113):

- a path containing ``stall-headers``: nothing at all (no HEADERS frame) until the client resets;
- a path containing ``stall-body`` or ``watch=``: a 200 HEADERS frame, then (for ``watch=``) one
  ``ADDED`` event line, then nothing more until the client resets the stream;
- anything else: a 200 ``application/json`` empty ``RayClusterList``.

It counts TCP connections (accepted, still open) and, per connection, streams opened and
``RST_STREAM`` frames received (h2's ``StreamReset`` events), so tests can assert that distinct
concurrent requests share a few connections and that a cancelled request resets its stream
without closing the connection the others use. Written on the ``h2`` package's sans-IO
``H2Connection`` over asyncio streams, on a loop of its own thread.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from tests.handler.pki import CA

LIST = json.dumps(
    {"kind": "RayClusterList", "apiVersion": "ray.io/v1", "metadata": {"resourceVersion": "1"}, "items": []}
).encode()
EVENT = b'{"type":"ADDED","object":{"kind":"RayCluster","apiVersion":"ray.io/v1","metadata":{"name":"a"}}}\n'


@dataclass
class H2Connection:
    """What one upstream connection saw: streams opened (their paths) and the ones reset."""

    number: int
    paths: dict[int, str] = field(default_factory=dict)
    resets: set[int] = field(default_factory=set)
    open: bool = True


class H2Upstream:
    """The HTTP/2 upstream on :attr:`url`; :meth:`close` stops it."""

    def __init__(self, http1: bool = False) -> None:
        ca = CA.new("h2-upstream-ca")
        leaf = ca.issue("127.0.0.1", server=True)
        self.ca_pem: str = ca.pem
        self.connections: list[H2Connection] = []
        self._lock = threading.Lock()
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as d:
            self._ctx.load_cert_chain(*leaf.write(Path(d), "tls"))
        self._ctx.set_alpn_protocols(["h2", "http/1.1"] if http1 else ["h2"])
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._run, name="h2-upstream", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        assert self._server is not None
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> list[H2Connection]:
        """The connections still open."""
        with self._lock:
            return [c for c in self.connections if c.open]

    def streams(self, part: str) -> list[tuple[H2Connection, int]]:
        """``(connection, stream id)`` of every stream whose path contains ``part``."""
        with self._lock:
            return [(c, s) for c in self.connections for s, p in c.paths.items() if part in p]

    def wait_for(self, predicate: object, timeout: float) -> float | None:
        """Seconds until ``predicate()`` held (polled every 10 ms), or None after ``timeout``."""
        assert callable(predicate)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if predicate():
                return time.monotonic() - t0
            time.sleep(0.01)
        return None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", 0, ssl=self._ctx, backlog=1024
            )
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            record = H2Connection(len(self.connections) + 1)
            self.connections.append(record)
        ssl_obj = writer.get_extra_info("ssl_object")
        try:
            if ssl_obj is None or ssl_obj.selected_alpn_protocol() != "h2":
                return  # an HTTP/1.1 client: not served (see the module docstring)
            conn = h2.connection.H2Connection(
                h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            )
            conn.local_settings = h2.settings.Settings(
                client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000}
            )
            conn.initiate_connection()
            writer.write(conn.data_to_send())
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                for event in conn.receive_data(data):
                    self._on_event(conn, record, event)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError, h2.exceptions.ProtocolError):
            return
        finally:
            record.open = False
            writer.close()

    def _on_event(
        self, conn: h2.connection.H2Connection, record: H2Connection, event: h2.events.Event
    ) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = dict(event.headers or [])
            path = str(headers.get(":path", ""))
            sid = event.stream_id
            assert sid is not None
            with self._lock:
                record.paths[sid] = path
            if "stall-headers" in path:
                return
            response = [(":status", "200"), ("content-type", "application/json")]
            if "stall-body" in path or "watch=" in path:
                conn.send_headers(sid, response)
                if "watch=" in path:
                    conn.send_data(sid, EVENT)
                return
            conn.send_headers(sid, [*response, ("content-length", str(len(LIST)))])
            conn.send_data(sid, LIST, end_stream=True)
        elif isinstance(event, h2.events.StreamReset):
            with self._lock:
                record.resets.add(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
