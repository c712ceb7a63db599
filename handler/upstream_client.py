"""The one client to the upstream Kubernetes API server: every upstream call goes through here.

Proxied requests (:meth:`UpstreamClient.stream`), the gateway's own reads (template and Service
lookups, discovery documents, readiness, field-selector pages: :meth:`UpstreamClient.get_json`),
its own writes (KubeRay V1 compute templates: :meth:`UpstreamClient.send_json`), shared watches
(``retry=False``) and WebSocket handshakes (:func:`websocket_connect`). It owns:

- retries: ONE loop (:meth:`UpstreamClient._retrying`) under the policy of :mod:`handler.retry`
  (which statuses and errors may be replayed, backoff, ``Retry-After``, the overall timeout),
  counting ``kuberay_apiserver_upstream_retries_total{route,reason}``;
- timeouts: the connect timeout (``Settings.upstream_timeout``); a request that is not long-running
  (not a watch, not the services proxy: kube-apiserver's ``LongRunningFunc``) must be answered in
  full within ``Settings.upstream_request_timeout`` (60 s, kube-apiserver's ``--request-timeout``
  default), else 504 ``Timeout``; long-running reads are unbounded;
- cancellation: :func:`cancel_on_disconnect` cancels a request's task when the caller goes away.
  pyreqwest cannot abort a request (a detached tokio task; :mod:`handler.upstream_http1` has the
  details), so a long-running request (watch, services proxy) to an upstream that speaks
  HTTP/1.1 goes through :class:`handler.upstream_http1.Http1Lane` (aiohttp), where cancelling
  closes the connection at once; over HTTP/2 closing the response resets its stream
  (``RST_STREAM``) and the shared connection stays. Other requests stay on pyreqwest (the hot
  path: aiohttp costs about 2x its CPU per request); a caller leaving one of those before the
  upstream answered frees its connection at the upstream's first byte or at the request timeout
  above (issue 13 finding 4; ``tests/handler/test_hardening.py`` measures each case);
- HTTP/2: the pool offers ``h2`` and ``http/1.1`` through TLS ALPN, as client-go's transport
  does (``http2.ConfigureTransports`` in k8s.io/apimachinery/pkg/util/net/http.go), so against
  kube-apiserver distinct concurrent watches and requests share a few connections; a plain-HTTP
  upstream is spoken to in HTTP/1.1 (no h2c). client-go's health check of an HTTP/2 connection
  (a PING after 30 s without frames, the connection dropped when unanswered in 15 s) is
  hyper's keep-alive here;
- transport errors as a ``Status``: 504 ``Timeout`` for a timeout, 503 ``ServiceUnavailable``
  otherwise (:func:`transport_error`);
- credentials: each call takes an ``identity`` (:class:`UpstreamIdentity`); None means the
  gateway's own (its bearer token). Request-scoped identities (a caller's own bearer token,
  impersonation headers) plug in there: set ``GatewayRequest.identity``.

The pool is pyreqwest (Rust reqwest/hyper) rather than httpx: measured on the benchmark machine,
httpx's pool fell to ~310 req/s under 16 concurrent tasks where pyreqwest held ~10,200. Automatic
decompression is off (``Content-Encoding`` passes through unchanged) and redirects are not
followed (a redirect is the caller's to follow, through the gateway's allowlist).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import ConnectError, ConnectTimeoutError, RequestError, RequestTimeoutError
from pyreqwest.request import RequestBuilder

from handler import retry
from handler.credentials import TokenSource, UpstreamCredentials
from handler.metrics import Metrics
from handler.responses import UpstreamResponse
from handler.settings import RetrySettings
from kubeapi.status import StatusError, new_upstream_timeout, new_upstream_unavailable

if TYPE_CHECKING:
    from litestar.types import Receive

    from handler._body import RequestBody
    from handler.upstream_http1 import Http1Lane

log = logging.getLogger("handler.upstream_client")

_T = TypeVar("_T")
Headers = list[tuple[str, str]]


class UpstreamIdentity:
    """Who the upstream sees a request as: a bearer token (from ``token``) and extra headers.

    The gateway's own identity is its credentials' token. Request-scoped ones (a caller's
    passthrough bearer token, the gateway's token plus ``Impersonate-*`` headers: built by
    :mod:`handler.auth.access`) are set on the request (``GatewayRequest.identity``). ``key`` is a
    hashable name for who this is (never the token itself: a digest of it, or the impersonated
    user), so that things shared between requests (shared watches) are shared only between
    requests made as the same identity; None for the gateway's own.
    """

    __slots__ = ("headers", "key", "token")

    def __init__(
        self, token: TokenSource, headers: tuple[tuple[str, str], ...] = (), key: Hashable = None
    ) -> None:
        self.token = token
        self.headers = headers
        self.key = key

    def authorization(self) -> str | None:
        """The ``Authorization`` header value, or None to send none."""
        value = self.token.token()
        return "Bearer " + value if value else None


class _Answer:
    """One buffered upstream answer: status, decoded JSON (None when not JSON), ``Retry-After``."""

    __slots__ = ("obj", "retry_after", "status")

    def __init__(self, status: int, obj: Any, retry_after: str | None) -> None:
        self.status = status
        self.obj = obj
        self.retry_after = retry_after

    async def aclose(self) -> None:
        """Nothing held: the body was read whole."""


def never_sent(e: RequestError) -> bool:
    """Whether a transport error happened before the request was written (so no upstream saw it).

    pyreqwest raises ``ConnectError`` both for a failed connect (refused, reset during the
    handshake, DNS: hyper's ``client error (Connect)`` cause) and for a connection closed while the
    request was in flight (``client error (SendRequest)``); only the former is safe to replay.
    hyper's pool itself replays requests on a pooled connection that closed before any byte was
    written, so what reaches here as ``SendRequest`` may have been received.
    """
    if isinstance(e, ConnectTimeoutError):
        return True
    if not isinstance(e, ConnectError):
        return False
    causes = (e.details or {}).get("causes") or []
    return any(c.get("message") == "client error (Connect)" for c in causes)


def transport_error(e: RequestError) -> StatusError:
    """A transport failure as a 504 ``Timeout`` (timeouts) or 503 ``ServiceUnavailable`` ``Status``."""
    if isinstance(e, RequestTimeoutError):
        return new_upstream_timeout(e.message)
    return new_upstream_unavailable(e.message)


def _request_timeout(e: ConnectTimeoutError, timeout: float | None, started: float) -> RequestError:
    """``e`` as the request timeout it is when the attempt ran into ``timeout`` (pyreqwest reports
    reqwest's whole-request timeout as a ``ConnectTimeoutError`` even after the request was sent,
    which :func:`never_sent` would take as safe to replay), else ``e`` itself."""
    if timeout is not None and time.monotonic() - started >= timeout * 0.9:
        return RequestTimeoutError(f"the upstream did not answer within {timeout:g}s", e.details)
    return e


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


#: The ``User-Agent`` of the gateway's own requests (a caller's own is passed on).
USER_AGENT = "kuberay-apiserver/0.1"

#: client-go's HTTP/2 health check (k8s.io/apimachinery/pkg/util/net/http.go: ``readIdleTimeout``
#: 30 s, ``pingTimeout`` 15 s): a PING on a connection silent that long, dropped if unanswered.
HTTP2_PING_INTERVAL = timedelta(seconds=30)
HTTP2_PING_TIMEOUT = timedelta(seconds=15)


def _with_body(builder: RequestBuilder, body: RequestBody | None) -> RequestBuilder:
    """``builder`` with ``body``: its bytes when it was read whole (so it can be replayed), else
    streamed from the caller; nothing for no body."""
    if body is not None:
        buffered = body.buffered
        if buffered:
            return builder.body_bytes(buffered)
        if buffered is None:
            return builder.body_stream(body.stream())
    return builder


def build_pool(credentials: UpstreamCredentials, connect_timeout: float) -> Client:
    """The pyreqwest pool for ``credentials`` (TLS trust, client certificate) with the gateway's
    settings: no automatic decompression, no redirects, ``connect_timeout`` seconds to connect;
    HTTP/2 when the upstream picks ``h2`` through TLS ALPN, else HTTP/1.1 (reqwest's ``http2``
    feature with HTTP/1 left on: no prior knowledge, so a plain-HTTP upstream gets HTTP/1.1)."""
    builder = (
        ClientBuilder()
        .http2(True)
        .http2_keep_alive_interval(HTTP2_PING_INTERVAL)
        .http2_keep_alive_timeout(HTTP2_PING_TIMEOUT)
        .gzip(False)
        .brotli(False)
        .zstd(False)
        .deflate(False)
        .follow_redirects(False)
        .referer(False)
        .connect_timeout(timedelta(seconds=connect_timeout))
        .user_agent(USER_AGENT)
    )
    if credentials.ca_pem:
        builder = builder.add_root_certificate_pem(credentials.ca_pem)
    if credentials.identity_pem:
        builder = builder.identity_pem(credentials.identity_pem)
    if credentials.insecure:
        builder = builder.danger_accept_invalid_certs(True)
    return builder.build()


def websocket_ssl_context(credentials: UpstreamCredentials) -> ssl.SSLContext:
    """The TLS context for WebSocket connections and :class:`handler.upstream_http1.Http1Lane`:
    the same trust and client identity as the pool."""
    ctx = ssl.create_default_context()
    if credentials.ca_pem:
        ctx.load_verify_locations(cadata=credentials.ca_pem.decode())
    if credentials.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if credentials.identity_pem:
        # ssl wants a file: a private temporary one, removed as soon as it is loaded.
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
            f.write(credentials.identity_pem)
            f.flush()
            ctx.load_cert_chain(f.name)
    return ctx


#: Long-running requests (watches, services proxy) at most open at once on one HTTP/2 connection.
#: hyper queues a request beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS instead of opening
#: another connection (Go's transport, client-go's, opens one), and a watch never ends: so the
#: long-running requests are spread over pools of their own, each below the smallest limit a
#: server should announce (RFC 9113 §6.5.2 recommends no less than 100; kube-apiserver announces
#: 1000, ``--http2-max-streams-per-connection``; Go's own default is 250).
STREAMS_PER_CONNECTION = 100


class StreamPools:
    """pyreqwest pools for long-running requests over HTTP/2 (``build()`` makes one), each
    carrying at most ``per_pool`` of them at once: :meth:`lease` picks the first with room, or
    builds another. 1,000 concurrent watches take 10 connections."""

    __slots__ = ("_build", "_clients", "_open", "per_pool")

    def __init__(self, build: Callable[[], Client], per_pool: int = STREAMS_PER_CONNECTION) -> None:
        self._build = build
        self.per_pool = per_pool
        self._clients: list[Client] = []
        self._open: list[int] = []

    def lease(self) -> tuple[Client, Callable[[], None]]:
        """A pool with room and the function that gives the room back (call it once, when the
        response is closed or the request failed)."""
        i = next((k for k, n in enumerate(self._open) if n < self.per_pool), len(self._clients))
        if i == len(self._clients):
            self._clients.append(self._build())
            self._open.append(0)
        self._open[i] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[i] -= 1

        return self._clients[i], release

    async def close(self) -> None:
        """Close every pool."""
        clients, self._clients, self._open = self._clients, [], []
        for client in clients:
            await client.close()


class _Leased:
    """A streamed response's context manager that gives its :class:`StreamPools` room back on exit."""

    __slots__ = ("_context", "_release")

    def __init__(self, context: Any, release: Callable[[], None]) -> None:
        self._context = context
        self._release = release

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._context.__aexit__(*exc)
        finally:
            self._release()


class UpstreamClient:
    """A connection pool to one upstream API server, with the retry policy and the metrics.

    ``credentials`` give the URL, TLS trust and client identity of the pool and the gateway's own
    bearer token; ``connect_timeout`` is in seconds, ``request_timeout`` the bound (seconds) on a
    request that is not long-running (:meth:`stream`'s ``long_running``). The pool is built on
    first use, inside the worker's event loop; :meth:`close` it on shutdown.
    """

    def __init__(
        self,
        credentials: UpstreamCredentials,
        policy: RetrySettings,
        metrics: Metrics,
        connect_timeout: float = 10.0,
        request_timeout: float | None = 60.0,
    ) -> None:
        self.credentials = credentials
        #: Seconds a request that is not long-running may take in full (None: unbounded).
        self.request_timeout = request_timeout
        self.base_url = credentials.url
        self.policy = policy
        self.metrics = metrics
        self.connect_timeout = connect_timeout
        self.identity = UpstreamIdentity(credentials.token)
        self._client: Client | None = None
        self._ws_ssl: ssl.SSLContext | None = None
        self._http1: Http1Lane | None = None
        self._streams = StreamPools(lambda: build_pool(self.credentials, self.connect_timeout))
        #: Long-running requests take the aiohttp lane: plain HTTP, or TLS seen answering HTTP/1.1.
        self.http1_upstream = not credentials.url.startswith("https:")

    def _pool(self) -> Client:
        if self._client is None:
            self._client = build_pool(self.credentials, self.connect_timeout)
        return self._client

    def request(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        identity: UpstreamIdentity | None = None,
        pool: Client | None = None,
    ) -> RequestBuilder:
        """A request builder for ``method`` on ``path`` (raw, percent-encoded) and raw ``query``,
        with ``headers`` (already filtered, :mod:`handler._headers`) and ``identity``'s credentials
        (None: the gateway's), on ``pool`` (None: the main one). One attempt, no retries: prefer
        :meth:`stream` / :meth:`get_json`."""
        url = self.base_url + path + ("?" + query if query else "")
        # A read-ahead limit of 0 makes the response available as soon as its headers arrive; with
        # pyreqwest's default (64 KiB) a watch would stay silent until that much was buffered.
        builder = (pool or self._pool()).request(method, url).headers(headers).streamed_read_buffer_limit(0)
        who = identity or self.identity
        authorization = who.authorization()
        if authorization:
            builder = builder.header("authorization", authorization, is_sensitive=True)
        if who.headers:
            builder = builder.headers(list(who.headers))
        return builder

    async def _retrying(
        self,
        method: str,
        route: str,
        attempt_once: Callable[[], Awaitable[_T]],
        status_of: Callable[[_T], tuple[int, str | None]],
        discard: Callable[[_T], Awaitable[None]],
        replayable: Callable[[], bool] = lambda: True,
        enabled: bool = True,
        first: tuple[float, _T | RequestError] | None = None,
    ) -> _T:
        """Run ``attempt_once`` until an answer may not (or need not) be replayed.

        ``status_of(answer)`` gives its HTTP status and ``Retry-After``; ``discard`` releases an
        answer that is replayed; ``replayable()`` says whether the request can still be sent again
        (a streamed body the upstream started reading cannot). ``route`` labels the retries metric.
        ``first`` is ``(time.monotonic() when it started, outcome)`` of a first attempt the caller
        already made (:meth:`stream`'s fast path), taken as this loop's first outcome.
        Returns the last answer; raises StatusError 503/504 for a transport error not retried.
        """
        policy = self.policy
        started = first[0] if first is not None else time.monotonic()
        attempt = 0
        while True:
            try:
                if first is not None:
                    outcome, first = first[1], None
                    if isinstance(outcome, RequestError):
                        raise outcome
                    answer = outcome
                else:
                    answer = await attempt_once()
            except RequestError as e:
                before_send = never_sent(e)
                if not (enabled and replayable() and retry.may_retry_error(method, before_send)):
                    raise transport_error(e) from e
                delay = retry.next_delay(attempt, policy, started, None, time.monotonic())
                if delay is None:
                    raise transport_error(e) from e
                reason = "connect" if before_send else "transport"
            else:
                status, retry_after = status_of(answer)
                if not (enabled and replayable() and retry.may_retry_status(method, status, policy)):
                    return answer
                wait = retry.parse_retry_after(retry_after)
                delay = retry.next_delay(attempt, policy, started, wait, time.monotonic())
                if delay is None:
                    return answer
                await discard(answer)
                reason = str(status)
            self.metrics.retries.labels(route, reason).inc()
            log.info("retrying %s on route %s in %.2fs (%s)", method, route, delay, reason)
            await asyncio.sleep(delay)
            attempt += 1

    async def stream(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: RequestBody | None,
        route: str,
        identity: UpstreamIdentity | None = None,
        retry_enabled: bool = True,
        long_running: bool = True,
    ) -> UpstreamResponse:
        """Send a request and return its response as soon as the headers arrive, body unread.

        ``body`` is sent as bytes when it was read whole (so it can be replayed), else streamed
        from the caller. Retries as :mod:`handler.retry` says; the returned response must be
        released with ``aclose()`` (the sender does). One not ``long_running`` must complete
        within :attr:`request_timeout`. Raises StatusError 503/504."""
        timeout = None if long_running else self.request_timeout

        started = time.monotonic()
        try:
            outcome: UpstreamResponse | RequestError = await self._open(
                method, path, query, headers, body, identity, timeout
            )
        except RequestError as e:
            outcome = e
        if isinstance(outcome, UpstreamResponse) and (
            not retry_enabled or outcome.upstream.status not in self.policy.statuses
        ):
            return outcome  # the common case: nothing to consider replaying, no closures made

        async def once() -> UpstreamResponse:
            return await self._open(method, path, query, headers, body, identity, timeout)

        def status_of(r: UpstreamResponse) -> tuple[int, str | None]:
            return r.upstream.status, r.upstream.get_header("retry-after")

        async def discard(r: UpstreamResponse) -> None:
            await r.aclose()

        def replayable() -> bool:
            return body is None or body.buffered is not None or not body.stream_started

        return await self._retrying(
            method, route, once, status_of, discard, replayable, retry_enabled, (started, outcome)
        )

    async def _open(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: RequestBody | None,
        identity: UpstreamIdentity | None,
        timeout: float | None,
    ) -> UpstreamResponse:
        """One attempt of :meth:`stream`: the response once its headers arrived (pyreqwest raises
        its transport errors), the whole exchange bounded by ``timeout`` seconds when given."""
        if timeout is None and self.http1_upstream:
            return await _open_http1(self, method, path, query, headers, body, identity)
        pool, release = self._streams.lease() if timeout is None else (None, None)
        builder = self.request(method, path, query, headers, identity, pool)
        if timeout is not None:
            builder = builder.timeout(timedelta(seconds=timeout))
        context = _with_body(builder, body).build_streamed()
        started = time.monotonic()
        try:
            try:
                resp = await context.__aenter__()
            except ConnectTimeoutError as e:
                raise _request_timeout(e, timeout, started) from e
        except BaseException:
            if release is not None:
                release()  # no response to close: the room is given back now
            raise
        if release is None:
            return UpstreamResponse(resp, context, method)
        if resp.version != "HTTP/2.0":
            self.http1_upstream = True  # a TLS upstream without h2: later ones take the aiohttp lane
        return UpstreamResponse(resp, _Leased(context, release), method)

    async def _buffered(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        payload: bytes | None,
        route: str,
        identity: UpstreamIdentity | None,
        retry_enabled: bool,
    ) -> _Answer:
        async def once() -> _Answer:
            builder = self.request(method, path, query, headers, identity)
            if payload is not None:
                builder = builder.body_bytes(payload)
            timeout = self.request_timeout
            if timeout is not None:
                builder = builder.timeout(timedelta(seconds=timeout))
            started = time.monotonic()
            try:
                resp = await builder.build().send()
                raw = bytes(await resp.bytes())
            except ConnectTimeoutError as e:
                raise _request_timeout(e, timeout, started) from e
            return _Answer(resp.status, _decode(raw), resp.get_header("retry-after"))

        def status_of(a: _Answer) -> tuple[int, str | None]:
            return a.status, a.retry_after

        async def discard(a: _Answer) -> None:
            await a.aclose()

        return await self._retrying(method, route, once, status_of, discard, enabled=retry_enabled)

    async def get_json(
        self,
        path: str,
        query: str = "",
        accept: str = "application/json",
        route: str = "internal",
        identity: UpstreamIdentity | None = None,
        retry_enabled: bool = True,
    ) -> tuple[int, Any]:
        """GET ``path`` (raw) asking for ``accept``: ``(status, decoded JSON or None)``.

        Retried as any GET (transient statuses, transport errors); the last answer is returned.
        ``route`` labels the retries metric. Raises StatusError 503/504 when the upstream could
        not be reached.
        """
        answer = await self._buffered(
            "GET", path, query, [("accept", accept)], None, route, identity, retry_enabled
        )
        return answer.status, answer.obj

    async def send_json(
        self,
        method: str,
        path: str,
        obj: Any = None,
        query: str = "",
        route: str = "internal",
        identity: UpstreamIdentity | None = None,
    ) -> tuple[int, Any]:
        """``method`` on ``path`` (raw) with ``obj`` as a JSON body (none when None):
        ``(status, decoded JSON or None)``. Writes are replayed only when the upstream cannot have
        acted (429, or a connection that failed before sending). Raises StatusError 503/504."""
        headers = [("accept", "application/json")]
        payload = None
        if obj is not None:
            headers.append(("content-type", "application/json"))
            payload = json.dumps(obj, separators=(",", ":")).encode()
        answer = await self._buffered(method, path, query, headers, payload, route, identity, True)
        return answer.status, answer.obj

    async def send_bytes(
        self,
        method: str,
        path: str,
        payload: bytes,
        content_type: str,
        query: str = "",
        route: str = "internal",
        identity: UpstreamIdentity | None = None,
    ) -> tuple[int, Any]:
        """``method`` on ``path`` (raw) with body ``payload`` of ``content_type`` (a patch under its
        own patch type): ``(status, decoded JSON or None)``; replayed as :meth:`send_json` is.
        Raises StatusError 503/504."""
        headers = [("accept", "application/json"), ("content-type", content_type)]
        answer = await self._buffered(method, path, query, headers, payload, route, identity, True)
        return answer.status, answer.obj

    async def close(self) -> None:
        """Close the pools and the HTTP/1.1 lane (idempotent)."""
        await self._streams.close()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._http1 is not None:
            await self._http1.close()
            self._http1 = None


async def _open_http1(
    upstream: UpstreamClient,
    method: str,
    path: str,
    query: str,
    headers: Headers,
    body: RequestBody | None,
    identity: UpstreamIdentity | None,
) -> UpstreamResponse:
    """``UpstreamClient._open`` for a long-running request over HTTP/1.1 (raw ``path`` and
    ``query``), through the aiohttp lane that a cancellation aborts (:mod:`handler.upstream_http1`),
    built on first use with the pool's TLS trust and client identity. Raises pyreqwest's
    ``RequestError``. (A function, not a method, so that the class stays one screen.)"""
    if upstream._http1 is None:
        from handler.upstream_http1 import Http1Lane  # aiohttp: imported on first use (cold start)

        tls = upstream.base_url.startswith("https:")
        if tls and upstream._ws_ssl is None:
            upstream._ws_ssl = websocket_ssl_context(upstream.credentials)
        upstream._http1 = Http1Lane(upstream._ws_ssl if tls else None, upstream.connect_timeout, USER_AGENT)
    sent = list(headers)
    who = identity or upstream.identity
    authorization = who.authorization()
    if authorization:
        sent.append(("authorization", authorization))
    sent.extend(who.headers)
    url = upstream.base_url + path + ("?" + query if query else "")
    resp = await upstream._http1.open(method, url, sent, body, None)
    return UpstreamResponse(resp, resp, method)


async def cancel_on_disconnect(
    body: RequestBody, receive: Receive, disconnected: asyncio.Event, task: asyncio.Task[Any] | None
) -> None:
    """Cancel ``task`` (the request's, and with it its upstream call) when the caller disconnects.

    Waits until the request body was read (the body reader owns ``receive`` until then), then for
    ``http.disconnect``; sets ``disconnected`` so the request's task knows why it was cancelled.
    """
    while not body.done:
        await asyncio.sleep(0.05)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            if task is not None:
                task.cancel()
            return


async def read_chunks(response: UpstreamResponse) -> AsyncIterator[bytes]:
    """The body chunks of a streamed upstream response as they arrive (pyreqwest ``read_chunk``)."""
    reader = response.upstream.body_reader
    while True:
        chunk = await reader.read_chunk()
        if chunk is None:
            return
        yield bytes(chunk)


async def websocket_connect(
    upstream: UpstreamClient,
    path: str,
    query: str,
    headers: Headers,
    subprotocols: list[Any] | None,
    identity: UpstreamIdentity | None = None,
) -> Any:
    """Open a WebSocket to ``path``/``query`` on ``upstream`` with ``identity``'s credentials
    (None: the gateway's own), the pool's TLS trust and client certificate. No retries: a
    handshake is cheap for the caller to repeat. Raises the ``websockets`` package's
    ``InvalidStatus`` for a refused handshake, ``OSError`` / ``TimeoutError`` /
    ``InvalidHandshake`` when unreachable. (A function, not a method, so that the class stays one
    screen of retrying HTTP calls.)"""
    from websockets.asyncio.client import connect

    who = identity or upstream.identity
    sent = list(headers)
    authorization = who.authorization()
    if authorization:
        sent.append(("authorization", authorization))
    sent.extend(who.headers)
    scheme, rest = upstream.base_url.split("://", 1)
    url = ("wss" if scheme == "https" else "ws") + "://" + rest + path + ("?" + query if query else "")
    if upstream._ws_ssl is None and scheme == "https":  # built once per client
        upstream._ws_ssl = websocket_ssl_context(upstream.credentials)
    return await connect(
        url,
        additional_headers=sent,
        subprotocols=subprotocols or None,
        ssl=upstream._ws_ssl,
        open_timeout=upstream.connect_timeout,
        max_size=None,
        compression=None,
        user_agent_header=None,
    )
