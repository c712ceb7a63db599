"""uvicorn serving for the client-certificate modes: protocols that put the peer certificate into
``scope["extensions"]["tls"]`` and a config whose TLS context reloads (see :mod:`handler.tls`).

Imported only when ``--authentication`` is ``client-certificate`` or ``request-header``. The
classes live at module level so uvicorn can pickle the config into its worker processes.

SIGTERM/SIGINT drain as on the granian path (:mod:`handler.lifecycle`): with one process,
:class:`DrainingServer` signals itself :data:`handler.lifecycle.DRAIN_SIGNAL` before uvicorn's own
shutdown; with several, :class:`DrainingMultiprocess` signals each worker before it terminates them,
and kills a worker still alive after the grace period.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from handler.lifecycle import request_drain
from handler.tls import ReloadingContext, tls_extension

__all__ = [
    "DrainingMultiprocess",
    "DrainingServer",
    "ReloadingConfig",
    "TLSHttpProtocol",
    "TLSWebSocketProtocol",
    "serve",
]


def _with_tls(app: Any, extension: dict[str, Any]) -> Any:
    """``app`` with ``extension`` set as ``scope["extensions"]["tls"]`` of every scope."""

    async def tls_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope.setdefault("extensions", {})["tls"] = extension
        await app(scope, receive, send)

    return tls_app


class TLSHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol; each request of the connection carries the ASGI TLS
    extension of its TLS session (computed once, when the connection is made)."""

    def connection_made(self, transport: Any) -> None:
        """As uvicorn's, then wrap the app with the connection's TLS extension."""
        super().connection_made(transport)
        ext = tls_extension(transport.get_extra_info("ssl_object"))
        if ext is not None:
            self.app = _with_tls(self.app, ext)


class TLSWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with the same TLS extension (an upgraded
    connection is handed this protocol with the same transport)."""

    def connection_made(self, transport: Any) -> None:
        """As uvicorn's, then wrap the app with the connection's TLS extension."""
        super().connection_made(transport)
        ext = tls_extension(transport.get_extra_info("ssl_object"))
        if ext is not None:
            self.app = _with_tls(self.app, ext)


class ReloadingConfig(uvicorn.Config):
    """A uvicorn config whose ``ssl`` is a :class:`handler.tls.ReloadingContext` over the same
    files (``client_ca_file`` verified with ``CERT_OPTIONAL``)."""

    def __init__(self, *args: Any, client_ca_file: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_ca_file = client_ca_file

    def load(self) -> None:
        """uvicorn's load, then the reloading context in place of the one it built."""
        super().load()
        assert self.ssl_certfile and self.ssl_keyfile
        self.ssl = ReloadingContext.create(str(self.ssl_certfile), str(self.ssl_keyfile), self.client_ca_file)


class DrainingServer(uvicorn.Server):
    """uvicorn's server (one process) whose SIGTERM/SIGINT handler first starts this process's
    drain (:func:`handler.lifecycle.request_drain` to itself: ``/readyz`` 503, open watches end
    cleanly), then runs uvicorn's: stop accepting, let requests finish within
    ``timeout_graceful_shutdown``, cancel the rest (uvicorn/server.py ``shutdown``)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Drain, then uvicorn's handler (a second SIGINT still forces the exit)."""
        request_drain(os.getpid())
        super().handle_exit(sig, frame)


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor of ``config.workers`` processes that drains them before it terminates
    them, and kills any still alive ``grace`` seconds after that: the analogue of granian's
    ``workers_kill_timeout``. SIGTERM and SIGINT stop it at once (uvicorn's supervisor would notice
    them at its next half-second tick)."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], grace: float | None) -> None:
        super().__init__(config, sockets)
        self.grace = grace
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self.signal_queue.append(sig)
        self.should_exit.set()

    def terminate_all(self) -> None:
        """:data:`handler.lifecycle.DRAIN_SIGNAL` to every worker, then uvicorn's SIGTERM."""
        for process in self.processes:
            if process.pid is not None and process.exitcode is None:
                request_drain(process.pid)
        super().terminate_all()

    def join_all(self) -> None:
        """Wait for the workers, killing those still alive after the grace period (None: wait)."""
        deadline = None if self.grace is None else time.monotonic() + self.grace
        for process in self.processes:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            process.process.join(timeout)
            if process.exitcode is None:
                process.kill()
                process.process.join()


def serve(
    app: str,
    host: str,
    port: int,
    workers: int,
    cert_file: str,
    key_file: str,
    client_ca_file: str,
    log_level: str,
    log_config: dict[str, Any],
    shutdown_grace_seconds: float | None = None,
) -> None:
    """Serve ASGI app import path ``app`` over TLS on ``host:port`` with ``workers`` processes
    until SIGINT/SIGTERM; raises :class:`handler.tls.TLSConfigError` for files that do not load.
    SIGTERM drains (:mod:`handler.lifecycle`: ``/readyz`` 503, watches end cleanly), then requests
    still open after ``shutdown_grace_seconds`` are cancelled (uvicorn's
    ``timeout_graceful_shutdown``; None: wait for them) and the process exits."""
    ReloadingContext.create(cert_file, key_file, client_ca_file)  # fail now, with the file's name
    config = ReloadingConfig(
        app,
        host=host,
        port=port,
        workers=workers,
        http=TLSHttpProtocol,
        ws=TLSWebSocketProtocol,
        lifespan="auto",
        log_level=log_level,
        log_config=log_config,
        access_log=False,
        # The gateway appends the connection's address to X-Forwarded-For itself: uvicorn must
        # not replace scope["client"] with a caller's X-Forwarded-For (it trusts 127.0.0.1 by
        # default), nor announce itself.
        proxy_headers=False,
        server_header=False,
        ssl_certfile=cert_file,
        ssl_keyfile=key_file,
        client_ca_file=client_ca_file,
        timeout_graceful_shutdown=None
        if shutdown_grace_seconds is None
        else math.ceil(shutdown_grace_seconds),
    )
    if workers > 1:
        sock = config.bind_socket()
        DrainingMultiprocess(config, [sock], shutdown_grace_seconds).run()
    else:
        DrainingServer(config).run()
