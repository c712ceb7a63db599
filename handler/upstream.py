"""The HTTP client to the upstream Kubernetes API server (pyreqwest, one pool per worker).

pyreqwest (Rust reqwest/hyper) rather than httpx's own pool: DESIGN.md §4 measured httpx's pool
collapsing to ~310 req/s under 16 concurrent tasks, pyreqwest at ~10,200. The client is built
with automatic decompression off (``Content-Encoding`` passes through to the caller unchanged)
and redirects off (a redirect is the caller's to follow, through the gateway's allowlist).
Only a connect timeout is set: reads are unbounded because watches are long-lived.
"""

from __future__ import annotations

import json
import ssl
import tempfile
from datetime import timedelta
from typing import Any

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.request import RequestBuilder

from handler.credentials import UpstreamCredentials


class Upstream:
    """A connection pool to one upstream API server with the gateway's credentials.

    ``connect_timeout`` is in seconds. Create inside the running event loop (the Litestar
    start-up hook does) and :meth:`close` on shutdown.
    """

    def __init__(self, credentials: UpstreamCredentials, connect_timeout: float = 10.0) -> None:
        self.credentials = credentials
        self.base_url = credentials.url
        builder = (
            ClientBuilder()
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .follow_redirects(False)
            .referer(False)
            .connect_timeout(timedelta(seconds=connect_timeout))
            .user_agent("kuberay-apiserver/0.1")
        )
        if credentials.ca_pem:
            builder = builder.add_root_certificate_pem(credentials.ca_pem)
        if credentials.identity_pem:
            builder = builder.identity_pem(credentials.identity_pem)
        if credentials.insecure:
            builder = builder.danger_accept_invalid_certs(True)
        self._client: Client = builder.build()
        self._ws_ssl: ssl.SSLContext | None = None

    def request(self, method: str, path: str, query: str, headers: list[tuple[str, str]]) -> RequestBuilder:
        """A request builder for ``method`` on ``path`` (raw, percent-encoded) and raw ``query``.

        ``headers`` are already filtered (see :mod:`handler.headers`); the gateway's bearer token
        is added here. The caller sets the body and builds it (streamed).
        """
        url = self.base_url + path + ("?" + query if query else "")
        # A read-ahead limit of 0 makes the response available as soon as its headers arrive; with
        # pyreqwest's default (64 KiB) a watch would stay silent until that much was buffered.
        builder = self._client.request(method, url).headers(headers).streamed_read_buffer_limit(0)
        token = self.credentials.token.token()
        if token:
            builder = builder.header("authorization", "Bearer " + token, is_sensitive=True)
        return builder

    def websocket_url(self, path: str, query: str) -> str:
        """The ``ws://`` / ``wss://`` URL of ``path`` (raw) and ``query`` on the upstream."""
        scheme, rest = self.base_url.split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest + path + ("?" + query if query else "")

    def websocket_ssl(self) -> ssl.SSLContext | None:
        """The TLS context for WebSocket connections (same trust and identity as the pool), or None."""
        if not self.base_url.startswith("https://"):
            return None
        if self._ws_ssl is None:
            creds = self.credentials
            ctx = ssl.create_default_context()
            if creds.ca_pem:
                ctx.load_verify_locations(cadata=creds.ca_pem.decode())
            if creds.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if creds.identity_pem:
                # ssl wants a file: a private temporary one, removed as soon as it is loaded.
                with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
                    f.write(creds.identity_pem)
                    f.flush()
                    ctx.load_cert_chain(f.name)
            self._ws_ssl = ctx
        return self._ws_ssl

    async def get_json(self, path: str, query: str = "") -> tuple[int, Any]:
        """GET ``path`` (raw) and decode its JSON body: ``(status, object)``, object None if not JSON.

        For middleware lookups (one attempt, no retries). Raises pyreqwest transport errors
        (``ConnectError``, timeouts) to the caller.
        """
        status, obj, _ = await self.fetch_json(path, query)
        return status, obj

    async def fetch_json(
        self, path: str, query: str = "", accept: str = "application/json"
    ) -> tuple[int, Any, str | None]:
        """Like :meth:`get_json`, plus the response's ``Retry-After`` header (or None).

        Asks for ``accept``, by default ``application/json`` only, so discovery endpoints answer
        in their legacy form.
        """
        builder = self.request("GET", path, query, [("accept", accept)])
        resp = await builder.build().send()
        raw = bytes(await resp.bytes())
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        return resp.status, obj, resp.get_header("retry-after")

    async def send_json(self, method: str, path: str, obj: Any = None, query: str = "") -> tuple[int, Any]:
        """``method`` on ``path`` (raw) with ``obj`` as a JSON body (none when None): ``(status, object)``.

        One attempt, for the gateway's own writes (compute templates); raises pyreqwest transport
        errors to the caller.
        """
        headers = [("accept", "application/json")]
        if obj is not None:
            headers.append(("content-type", "application/json"))
        builder = self.request(method, path, query, headers)
        if obj is not None:
            builder = builder.body_bytes(json.dumps(obj, separators=(",", ":")).encode())
        resp = await builder.build().send()
        raw = bytes(await resp.bytes())
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        return resp.status, decoded

    async def close(self) -> None:
        """Close the pool (idempotent)."""
        await self._client.close()
