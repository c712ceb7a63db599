"""The proxy: an ASGI handler that streams allowed requests to the upstream and back.

Flow per request: route match (:mod:`handler.routes`) → body policy (:mod:`handler.body`) →
middleware chain (:mod:`handler.middleware`) → route rewrites (events field selector, services
label check) → upstream with retries (:mod:`handler.retry`) → response streamed chunk by chunk.

Streaming: the upstream response is relayed as pyreqwest yields it (``read_chunk``), so a watch
event reaches the caller when the upstream sends it and a large list is never held whole. For
watches and services-proxy requests a small task waits for the caller's ``http.disconnect`` and
cancels the relay, so the upstream watch is closed when the caller goes away.

Every error produced here is a ``Status`` (:mod:`handler.errors`); once the response has started,
an upstream failure can only abort the connection (the caller sees a truncated body, never a
response spliced from two attempts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from litestar.enums import ScopeType
from litestar.types import Receive, Scope, Send
from pyreqwest.exceptions import ConnectError, ConnectTimeoutError, RequestError, RequestTimeoutError
from pyreqwest.response import Response

from handler import discovery, filtering, hooks, retry, selectors, template_api, watchcache, websocket
from handler.body import ClientDisconnected, RequestBody
from handler.errors import (
    GatewayError,
    RelayAborted,
    from_upstream,
    not_found_path,
    upstream_timeout,
    upstream_unavailable,
)
from handler.headers import caller_response_headers, upstream_request_headers
from handler.hooks import ObjectHook
from handler.metrics import Metrics
from handler.middleware import GatewayMiddleware, GatewayRequest
from handler.routes import Kind, Route, force_field_selector, is_kuberay_service, match
from handler.settings import Settings
from handler.upstream import Upstream

log = logging.getLogger("handler.proxy")

JSON_HEADERS = [(b"content-type", b"application/json")]


class Responder:
    """Sends the ASGI response and remembers whether it started, its status and when."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.code = 0
        self.headers_at: float | None = None

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Send the status line and headers."""
        self.started = True
        self.code = status
        self.headers_at = time.monotonic()
        await self._guarded({"type": "http.response.start", "status": status, "headers": headers})

    @property
    def send(self) -> Send:
        """The raw ASGI send (the watch fan-out writes events through it directly)."""
        return self._send

    async def body(self, chunk: bytes, more: bool = True) -> None:
        """Send a body chunk (``more=False`` ends the response)."""
        await self._guarded({"type": "http.response.body", "body": chunk, "more_body": more})

    async def _guarded(self, message: Any) -> None:
        try:
            await self._send(message)
        except (OSError, RuntimeError) as e:  # the server reports a closed connection this way
            raise ClientDisconnected() from e

    async def json(self, status: int, payload: bytes) -> None:
        """A whole JSON response."""
        await self.start(status, [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())])
        await self.body(payload, more=False)

    async def error(self, err: GatewayError) -> None:
        """The error as a ``Status`` response."""
        await self.json(err.code, err.body())


def _body_framing(raw: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """``(Content-Length or None, whether Transfer-Encoding is present)`` of the caller's request."""
    length: int | None = None
    chunked = False
    for k, v in raw:
        name = k.lower()
        if name == b"content-length" and v.strip().isdigit():
            length = int(v)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def _target(scope: Scope) -> tuple[str, str]:
    """The raw (percent-encoded) path and query string of the request, as the caller sent them."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else quote(str(scope["path"]))
    # ASGI's raw_path excludes the query, but some servers (Litestar's TestClient) include it.
    return path.split("?", 1)[0], scope["query_string"].decode("latin-1")


#: Routes whose bodies are Kubernetes API objects (read whole, bounded).
API_KINDS = frozenset({Kind.RAY, Kind.TEMPLATE_CONFIGMAPS, Kind.COMPUTE_TEMPLATES})

Relay = Callable[[Response, "Responder", str], Awaitable[None]]


_USER_HEADER = hooks.USER_HEADER.encode()


def _user(raw: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The caller's ``X-Remote-User`` (read before the header is stripped from the upstream request)."""
    for k, v in raw:
        if k.lower() == _USER_HEADER:
            return v.decode("latin-1")
    return None


def _is_watch(query: str) -> bool:
    return any(k == "watch" and v in ("1", "true", "True") for k, v in parse_qsl(query))


class Proxy:
    """The ASGI callable mounted at ``/`` of the Litestar app (explicit routes win over it).

    ``get_upstream`` returns the worker's :class:`Upstream` (created at start-up). ``middleware``
    are request rules (run first, in order), ``hooks`` the object hooks in their run order
    (defaults, compute templates, then the caller's; see :mod:`handler.hooks`).
    """

    def __init__(
        self,
        settings: Settings,
        middleware: Sequence[GatewayMiddleware],
        metrics: Metrics,
        get_upstream: Callable[[], Upstream],
        hooks: Sequence[ObjectHook] = (),
    ) -> None:
        self.settings = settings
        self.middleware = list(middleware)
        self.hooks = list(hooks)
        self.metrics = metrics
        self._get_upstream = get_upstream
        self.watches = (
            watchcache.WatchCache(metrics, settings.watch_buffer_bytes, settings.watch_history)
            if settings.watch_fanout
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI HTTP request, or a WebSocket upgrade (services proxy only)."""
        if scope["type"] == ScopeType.WEBSOCKET:
            await self._websocket(scope, receive, send)
            return
        t0 = time.monotonic()
        method: str = scope["method"]
        path, query = _target(scope)
        responder = Responder(send)
        route_name = "refused"
        disconnected = asyncio.Event()
        self.metrics.inflight.inc()
        try:
            route = match(method, path)
            route_name = route.name
            await self._serve(route, method, path, query, scope, receive, responder, disconnected)
        except GatewayError as e:
            if not responder.started:
                await responder.error(e)
        except ClientDisconnected:
            pass
        except RelayAborted as e:
            log.warning("upstream failed mid-response for %s %s: %s", method, path, e.__cause__)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not disconnected.is_set() or task is None:
                raise
            task.uncancel()
        finally:
            self.metrics.inflight.dec()
            done = responder.headers_at or time.monotonic()
            self.metrics.observe(route_name, method, responder.code or 499, done - t0)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: allowed on the services proxy of KubeRay Services only."""
        t0 = time.monotonic()
        path, query = _target(scope)
        route_name = "refused"
        code = 0
        self.metrics.inflight.inc()
        try:
            if (await receive())["type"] != "websocket.connect":
                return
            try:
                route = match("GET", path)
                if route.kind is not Kind.SERVICE_PROXY:
                    raise not_found_path()
                route_name = route.name
                upstream = self._get_upstream()
                await self._check_service(route, upstream)
            except GatewayError as e:
                code = e.code
                await websocket.deny_error(scope, send, e)
                return
            self.metrics.observe(route_name, "WEBSOCKET", 101, time.monotonic() - t0)
            code = await websocket.relay(
                scope, receive, send, upstream, path, query, self.settings.upstream_timeout
            )
        finally:
            self.metrics.inflight.dec()
            if code != 101:
                self.metrics.observe(route_name, "WEBSOCKET", code or 499, time.monotonic() - t0)

    async def _serve(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        scope: Scope,
        receive: Receive,
        responder: Responder,
        disconnected: asyncio.Event,
    ) -> None:
        upstream = self._get_upstream()
        headers = upstream_request_headers(scope["headers"])
        content_length, chunked = _body_framing(scope["headers"])
        body = RequestBody(receive, content_length, chunked)
        if route.kind is Kind.DISCOVERY:
            await self._discovery(route, method, path, query, headers, body, upstream, responder)
            return
        request = GatewayRequest(
            method, path, query, headers, route, body, upstream, self.settings.max_body_bytes
        )
        if route.kind in API_KINDS and body.has_body:
            # Kubernetes API bodies are bounded (3 MiB in the apiserver): read them whole so a
            # write refused with 429 can be replayed.
            await request.body()
        for rule in self.middleware:
            await rule(request)

        async def lookup(p: str, q: str) -> tuple[int, Any]:
            return await self._get_json(upstream, p, q, route)

        if route.kind in (Kind.RAY, Kind.TEMPLATE_CONFIGMAPS):
            await self._run_hooks(request, route, _user(scope["headers"]), lookup)
        if route.kind is Kind.EVENTS:
            # After the middleware, so no rule can undo it.
            api = "events.k8s.io" if route.name == "events" else "core"
            request.query = force_field_selector(request.query, api)
        elif route.kind is Kind.SERVICE_PROXY:
            await self._check_service(route, upstream)
        watch = _is_watch(request.query)
        if watch and await self._shared_watch(request, route, receive, responder):
            return
        watcher: asyncio.Task[None] | None = None
        if watch or route.kind is Kind.SERVICE_PROXY:
            main = asyncio.current_task()
            watcher = asyncio.ensure_future(self._watch_disconnect(body, receive, disconnected, main))

        async def forward(r: GatewayRequest) -> None:
            await self._forward(r, responder)

        try:
            if route.kind is Kind.TEMPLATE_CONFIGMAPS:
                await template_api.serve_configmaps(request, route, responder, lookup, forward)
            elif route.kind is Kind.COMPUTE_TEMPLATES:
                await template_api.serve_v1(request, route, responder, lookup, self._sender(upstream))
            elif not await self._selected(request, route, responder, lookup):
                await self._forward(request, responder)
        finally:
            if watcher is not None:
                watcher.cancel()

    def _local_selector(self, query: str) -> bool:
        """Whether ``query``'s field selector has terms the gateway evaluates itself."""
        selector = ",".join(
            v for k, v in parse_qsl(query, keep_blank_values=True) if k == "fieldSelector" and v
        )
        return bool(selector) and bool(selectors.plan(selector, self.settings.field_selector_fields).local)

    async def _shared_watch(
        self, request: GatewayRequest, route: Route, receive: Receive, responder: Responder
    ) -> bool:
        """Serve a watch (``request`` has ``watch=true``) from a shared upstream watch
        (:mod:`handler.watchcache`).

        False (nothing sent) when fan-out is off or this watch needs its own upstream watch.
        """
        if (
            self.watches is None
            or route.kind not in (Kind.RAY, Kind.EVENTS)
            or request.method != "GET"
            or route.object_name
            or route.subresource
            or request.raw_body.has_body
            or (route.kind is Kind.RAY and self._local_selector(request.query))
        ):
            return False
        p = watchcache.plan(request.path, request.query, request.headers)
        if p is None:
            return False
        sub = await self.watches.subscribe(p, request.upstream)
        if sub is None or sub.entry is None:
            return False
        headers = sub.entry.headers
        try:
            await watchcache.serve(sub, headers, p.timeout, responder.start, responder.send, receive)
        except (OSError, RuntimeError) as e:  # how the server reports a closed connection
            raise ClientDisconnected() from e
        return True

    async def _run_hooks(
        self, request: GatewayRequest, route: Route, user: str | None, lookup: hooks.Lookup
    ) -> None:
        """Run the object hooks matching the request, in order, on its parsed body (if any).

        The body is parsed only when a hook matches; a rewritten body is sent upstream as JSON. A
        hook's GatewayError is answered as its ``Status``; any other exception as a 500 ``Status``.
        """
        verb = hooks.request_verb(request.method, route, request.query)
        matched = hooks.matching(self.hooks, verb, route)
        has_body = request.raw_body.has_body
        raw = await request.body() if has_body and matched else None
        if not any(h.wants(raw) for h in matched):
            return  # every hook said the body is none of its business: it stays bytes
        obj = await request.json() if has_body else None
        ctx = hooks.context(verb, route, request.query, request.headers, user, lookup)
        for hook in matched:
            try:
                result = await hook(ctx, obj)
            except hooks.HookError as e:
                raise hooks.with_target(e, ctx, obj) from None
            except GatewayError:
                raise
            except Exception as e:
                name = getattr(hook.function, "__name__", repr(hook.function))
                log.exception("object hook %s failed", name)
                # Worded as the API server's NewInternalError (k8s.io/apimachinery/pkg/api/errors).
                raise GatewayError(
                    500, "InternalError", f"Internal error occurred: object hook {name} failed: {e}"
                ) from e
            if result is not None:
                obj = result
        if has_body and verb == "patch":
            # A patch keeps its patch type (merge, JSON patch, apply); JSON is valid YAML for apply.
            request.set_body(json.dumps(obj, separators=(",", ":")).encode())
        elif has_body:
            request.set_json(obj)

    async def _selected(
        self, request: GatewayRequest, route: Route, responder: Responder, lookup: hooks.Lookup
    ) -> bool:
        """Serve a Ray list or watch whose field selector the gateway evaluates; False if it has none."""
        if route.kind is not Kind.RAY or request.method != "GET" or route.object_name or route.subresource:
            return False
        pairs = parse_qsl(request.query, keep_blank_values=True)
        selector = ",".join(v for k, v in pairs if k == "fieldSelector" and v)
        if not selector:
            return False
        plan = selectors.plan(selector, self.settings.field_selector_fields)
        if not plan.local:
            return False
        accept = request.header("accept") or "application/json"
        shape = filtering.Shape.for_request(accept, pairs)
        upstream_pairs = shape.upstream_params([(k, v) for k, v in pairs if k != "fieldSelector"])
        if _is_watch(request.query):
            path, upstream = request.path, request.upstream

            async def listing(q: str) -> tuple[int, Any]:
                return await self._get_json(upstream, path, q, route)

            known = await filtering.seed(request.query, plan.upstream, plan.local, listing)
            if plan.upstream:
                upstream_pairs.append(("fieldSelector", plan.upstream))
            request.query = urlencode(upstream_pairs)
            terms = plan.local

            async def relay(resp: Response, responder: Responder, method: str) -> None:
                await filtering.relay_watch(resp, terms, shape, responder, known)

            await self._forward(request, responder, relay)
        else:
            path, upstream = request.path, request.upstream

            async def page(q: str) -> tuple[int, Any]:
                return await self._get_json(upstream, path, q, route, accept)

            query = urlencode(upstream_pairs)
            await filtering.serve_list(query, plan.upstream, plan.local, shape, page, responder)
        return True

    def _sender(self, upstream: Upstream) -> template_api.Send:
        """``send(method, path, obj)`` for the gateway's own writes; transport errors as 503/504."""

        async def send(method: str, path: str, obj: Any) -> tuple[int, Any]:
            try:
                return await upstream.send_json(method, path, obj)
            except RequestError as e:
                raise _transport_error(e) from e

        return send

    async def _watch_disconnect(
        self, body: RequestBody, receive: Receive, disconnected: asyncio.Event, task: asyncio.Task[Any] | None
    ) -> None:
        """Cancel ``task`` (the request's) when the caller disconnects, once its body was read."""
        while not body.done:
            await asyncio.sleep(0.05)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                if task is not None:
                    task.cancel()
                return

    async def _check_service(self, route: Route, upstream: Upstream) -> None:
        """404 ``Status`` unless the Service exists and has ``app.kubernetes.io/name=kuberay``."""
        assert route.namespace is not None and route.service is not None
        path = f"/api/v1/namespaces/{quote(route.namespace)}/services/{quote(route.service)}"
        status, obj = await self._get_json(upstream, path, "", route)
        if status == 404:
            raise GatewayError(
                404,
                "NotFound",
                f'services "{route.service}" not found',
                {"name": route.service, "kind": "services"},
            )
        if status != 200:
            raise from_upstream(status, obj, f"cannot read service {route.service}")
        if not isinstance(obj, dict) or not is_kuberay_service(obj):
            raise GatewayError(
                404,
                "NotFound",
                f'services "{route.service}" not found: the gateway only proxies to services labelled '
                "app.kubernetes.io/name=kuberay",
                {"name": route.service, "kind": "services"},
            )

    async def _get_json(
        self, upstream: Upstream, path: str, query: str, route: Route, accept: str = "application/json"
    ) -> tuple[int, Any]:
        """GET ``path`` upstream as JSON under the GET retry rule: ``(status, object)`` of the last answer.

        ``accept`` is the ``Accept`` header sent. Raises GatewayError 503/504 when the upstream could
        not be reached within the retries.
        """
        policy = self.settings.retry
        started = time.monotonic()
        attempt = 0
        while True:
            failure: RequestError | None = None
            retry_after: float | None = None
            try:
                status, obj, retry_after_header = await upstream.fetch_json(path, query, accept)
                if not retry.may_retry_status("GET", status, policy):
                    return status, obj
                retry_after = retry.parse_retry_after(retry_after_header)
                reason = str(status)
            except RequestError as e:
                failure, reason = e, "transport"
            delay = retry.next_delay(attempt, policy, started, retry_after, time.monotonic())
            if delay is None:
                if failure is not None:
                    raise _transport_error(failure) from failure
                return status, obj
            self.metrics.retries.labels(route.name, reason).inc()
            await asyncio.sleep(delay)
            attempt += 1

    async def _discovery(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: RequestBody,
        upstream: Upstream,
        responder: Responder,
    ) -> None:
        """Serve a discovery/OpenAPI path: filtered JSON, or passed through unchanged."""
        if not discovery.allowed(path):
            raise not_found_path()
        keep = discovery.filter_for(path)
        if keep is None:
            request = GatewayRequest(method, path, query, headers, route, body, upstream, 0)
            await self._forward(request, responder)
            return
        status, doc = await self._get_json(upstream, path, query, route)
        if status != 200:
            raise from_upstream(status, doc, f"the upstream answered {status} for {path}")
        await responder.json(status, json.dumps(keep(doc), separators=(",", ":")).encode())

    async def _forward(
        self, request: GatewayRequest, responder: Responder, relay: Relay | None = None
    ) -> None:
        """Send ``request`` upstream with retries and relay the response as it streams.

        ``relay`` replaces the plain relay (the field-selector watch filter uses it).
        """
        policy = self.settings.retry
        upstream = request.upstream
        body = request.raw_body
        method = request.method
        started = time.monotonic()
        attempt = 0
        while True:
            buffered = body.buffered
            builder = upstream.request(method, request.path, request.query, request.headers)
            if buffered:
                builder = builder.body_bytes(buffered)
            elif buffered is None:
                builder = builder.body_stream(body.stream())
            delay: float | None = None
            reason = ""
            try:
                async with builder.build_streamed() as resp:
                    # A streamed body the upstream has started reading cannot be sent again.
                    replayable = buffered is not None or not body.stream_started
                    if replayable and retry.may_retry_status(method, resp.status, policy):
                        retry_after = retry.parse_retry_after(resp.get_header("retry-after"))
                        delay = retry.next_delay(attempt, policy, started, retry_after, time.monotonic())
                        reason = str(resp.status)
                    if delay is None:
                        await (relay or self._relay)(resp, responder, method)
                        return
            except (ClientDisconnected, RelayAborted):
                raise
            except RequestError as e:
                if responder.started:
                    raise RelayAborted() from e  # too late for a Status: cut the caller's response too
                before_send = never_sent(e)
                replayable = buffered is not None or not body.stream_started
                if not (replayable and retry.may_retry_error(method, before_send)):
                    raise _transport_error(e) from e
                delay = retry.next_delay(attempt, policy, started, None, time.monotonic())
                if delay is None:
                    raise _transport_error(e) from e
                reason = "connect" if before_send else "transport"
            self.metrics.retries.labels(request.route.name, reason).inc()
            log.info("retrying %s %s in %.2fs (%s)", method, request.path, delay, reason)
            await asyncio.sleep(delay)
            attempt += 1

    async def _relay(self, resp: Response, responder: Responder, method: str) -> None:
        """Relay status, headers and body chunks of an upstream response as they arrive."""
        await responder.start(resp.status, caller_response_headers(resp.headers.items()))
        if method == "HEAD":
            await responder.body(b"", more=False)
            return
        length = resp.get_header("content-length")
        remaining = int(length) if length is not None and length.isdigit() else None
        if remaining is None:
            # A body of unknown length (a watch, a streamed list): granian holds the headers back
            # until the first body message, so an empty one sends them now, as the apiserver
            # flushes a watch's headers before its first event.
            await responder.body(b"")
        elif remaining == 0:
            await responder.body(b"", more=False)
            return
        reader = resp.body_reader
        while True:
            chunk = await reader.read_chunk()
            if chunk is None:
                break
            data = bytes(chunk)
            if remaining is not None:
                remaining -= len(data)
                if remaining <= 0:  # the last chunk ends the response: one ASGI message fewer
                    await responder.body(data, more=False)
                    return
            await responder.body(data)
        await responder.body(b"", more=False)


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


def _transport_error(e: RequestError) -> GatewayError:
    """A transport failure as 504 (timeout) or 503 (unreachable) ``Status``."""
    if isinstance(e, RequestTimeoutError):
        return upstream_timeout(e.message)
    return upstream_unavailable(e.message)
