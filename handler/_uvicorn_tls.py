"""uvicorn serving for the client-certificate modes: protocols that put the peer certificate into
``scope["extensions"]["tls"]`` and a config whose TLS context reloads (see :mod:`handler.tls`).

Imported only when ``--authentication`` is ``client-certificate`` or ``request-header``. The
classes live at module level so uvicorn can pickle the config into its worker processes.
"""

from __future__ import annotations

import math
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from handler.tls import ReloadingContext, tls_extension

__all__ = ["ReloadingConfig", "TLSHttpProtocol", "TLSWebSocketProtocol", "serve"]


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
    After SIGTERM, requests still open after ``shutdown_grace_seconds`` are cancelled (uvicorn's
    ``timeout_graceful_shutdown``; None: wait for them)."""
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
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()
