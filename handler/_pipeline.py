"""The gateway's ASGI entry: match the route, run its steps and backend, send the response.

Per HTTP request, in one direction only::

    ASGI scope ─► RouteTable.match (handler.routes)   404 / 405 Status when not served
               ─► GatewayRequest (handler.request)    parsed once: path, query, headers, body
               ─► route steps ─► backend              return a response value (handler.responses)
               ─► ResponseSender (handler._sending)     the only writer of HTTP responses

Before the route is matched the ``Host`` is checked (:mod:`handler.auth.hosts`, 403) and the
caller authenticated (:mod:`handler.auth.access`, 401), as kube-apiserver authenticates before
anything else; the verified user and the upstream identity go on the request, and in the
impersonating modes the request's own attributes are authorized (403) before any step runs
(the KubeRay V1 compute-template routes, which translate to ConfigMap calls, are authorized per
call instead). A ``GatewayError`` raised anywhere before the response started is answered as its
``Status``. WebSocket upgrades go through the same checks, the route's WebSocket checks and then
:mod:`handler._websocket_relay`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import quote

from litestar.enums import ScopeType
from litestar.types import Receive, Scope, Send

from handler import _websocket_relay as websocket
from handler._body import ClientDisconnected, RequestBody
from handler._direct_lane import RESPONSE_STARTED
from handler._headers import client_address, upstream_request_headers
from handler._sending import ResponseSender
from handler.auth.access import Access
from handler.auth.hosts import HostFilter
from handler.lifecycle import Drain, cap_watch_query
from handler.metrics import Metrics
from handler.request import GatewayRequest
from handler.responses import RelayAborted, status_response
from handler.routing import RouteTable
from handler.target import RouteFamily
from handler.upstream_client import UpstreamClient, UpstreamIdentity
from kubeapi.authn import UserInfo
from kubeapi.recursion import deep_values
from kubeapi.status import StatusError, new_body_unreadable, new_path_not_found, new_service_unavailable

log = logging.getLogger("handler._pipeline")

#: The user and upstream identity of every request under ``--authentication none``.
_NOBODY: tuple[UserInfo | None, UpstreamIdentity | None] = (None, None)


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


async def _end_drained(sender: ResponseSender, receive: Receive) -> None:
    """End a watch the drain cancelled (:class:`handler.lifecycle.Drain`): a started response gets
    its last (empty) body message, so the chunked stream ends cleanly after the events already sent
    and the client re-watches from its last resourceVersion; one not started yet is answered 503
    (kube-apiserver's answer while it shuts down), which clients retry."""
    try:
        if sender.started:
            await sender.end()
        else:
            await sender.send(
                status_response(new_service_unavailable("the gateway is shutting down")), receive
            )
    except ClientDisconnected:
        pass


def request_target(scope: Scope) -> tuple[str, str]:
    """The raw (percent-encoded) path and query string of the request, as the caller sent them."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else quote(str(scope["path"]))
    # ASGI's raw_path excludes the query, but some servers (Litestar's TestClient) include it.
    return path.split("?", 1)[0], scope["query_string"].decode("latin-1")


class Pipeline:
    """The ASGI callable mounted at ``/`` of the Litestar app (explicit routes win over it).

    ``routes`` is the route table, ``upstream`` the worker's upstream client, ``max_body_bytes``
    the bound on a request body read whole, ``access`` the authentication and authorization of
    every request, ``hosts`` the accepted ``Host`` names.
    """

    def __init__(
        self,
        routes: RouteTable,
        upstream: UpstreamClient,
        metrics: Metrics,
        max_body_bytes: int,
        access: Access,
        hosts: HostFilter,
        drain: Drain | None = None,
        max_watch_seconds: int = 0,
    ) -> None:
        self.routes = routes
        self.upstream = upstream
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.access = access
        self.hosts = hosts
        self.drain = drain or Drain()
        self.max_watch_seconds = max_watch_seconds

    def _identify(
        self, request: GatewayRequest, who: tuple[UserInfo | None, UpstreamIdentity | None]
    ) -> bool:
        """Give ``request`` its authenticated user and identity ``who``; whether the request's own
        attributes must then be authorized (:meth:`_authorize`)."""
        access = self.access
        request.access = access
        request.user, request.identity = who
        return access.reviewer is not None and request.route.family is not RouteFamily.COMPUTE_TEMPLATES

    async def _authorize(
        self, request: GatewayRequest, who: tuple[UserInfo | None, UpstreamIdentity | None]
    ) -> None:
        """Give ``request`` its authenticated user and identity ``who`` and authorize it (403)."""
        if self._identify(request, who):
            await self.access.authorize(request.user, request.info)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI HTTP request, or a WebSocket upgrade."""
        if scope["type"] == ScopeType.WEBSOCKET:
            await self._websocket(scope, receive, send)
            return
        t0 = time.monotonic()
        method: str = scope["method"]
        path, query = request_target(scope)
        sender = ResponseSender(send)
        route_name = "refused"
        request: GatewayRequest | None = None
        watch_task: asyncio.Task[Any] | None = None
        self.metrics.inflight.inc()
        try:
            raw_headers = scope["headers"]
            self.hosts.check(raw_headers)
            access = self.access
            if not access.enabled:
                who = _NOBODY
            else:  # a cached authentication without a coroutine when the mode can tell
                who = access.authenticated(scope) or await access.authenticate(scope)
            route, target = self.routes.match(method, path)
            route_name = route.name
            content_length, chunked = _body_framing(raw_headers)
            request = GatewayRequest(
                method,
                path,
                query,
                upstream_request_headers(raw_headers, client_address(scope)),
                target,
                RequestBody(receive, content_length, chunked),
                self.upstream,
                self.max_body_bytes,
                receive,
                raw_headers,
            )
            if self._identify(request, who):  # (no coroutine for the common case: none to authorize)
                await self.access.authorize(request.user, request.info)
            if request.watch:
                capped = cap_watch_query(request.params, self.max_watch_seconds)
                if capped is not None:
                    request.query = capped.encode()
                task = asyncio.current_task()
                if task is not None:
                    watch_task = task
                    self.drain.track(task)
            with deep_values():  # bodies nest as deep as kube-apiserver accepts (kubeapi.recursion)
                response = await self.routes.handler(route)(request)
            try:
                await sender.send(response, request.receive or receive)  # (a step may share it)
            finally:
                await response.aclose()
        except StatusError as e:
            if not sender.started:
                await sender.send(status_response(e), receive)
        except ClientDisconnected:
            # The body could not be read: a caller gone (nobody reads this) or a malformed chunk
            # (granian reports both as http.disconnect): kube-apiserver's 500 Status, not granian's
            # text/plain 500 (issue 13 finding 6).
            if not sender.started:
                await sender.send(status_response(new_body_unreadable()), receive)
        except RelayAborted as e:
            log.warning("upstream failed mid-response for %s %s: %s", method, path, e.__cause__)
        except Exception:
            if sender.started:  # too late for another answer: the direct lane lets it propagate
                cast(dict[str, Any], scope)[RESPONSE_STARTED] = True
            raise
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and watch_task is task and self.drain.ended(task):
                task.uncancel()
                await _end_drained(sender, receive)
            elif request is None or not request.disconnected.is_set() or task is None:
                raise
            else:
                task.uncancel()
        finally:
            if watch_task is not None:
                self.drain.untrack(watch_task)
            if request is not None and request.disconnect_watcher is not None:
                request.disconnect_watcher.cancel()
            self.metrics.inflight.dec()
            done = sender.headers_at or time.monotonic()
            self.metrics.observe(route_name, method, sender.code or 499, done - t0)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: allowed on routes with WebSocket checks (the services proxy)."""
        t0 = time.monotonic()
        path, query = request_target(scope)
        route_name = "refused"
        code = 0
        self.metrics.inflight.inc()
        try:
            if (await receive())["type"] != "websocket.connect":
                return
            try:
                self.hosts.check(scope["headers"])
                who = await self.access.authenticate(scope) if self.access.enabled else _NOBODY
                route, target = self.routes.match("GET", path)
                if route.websocket is None:
                    raise new_path_not_found()
                route_name = route.name
                request = GatewayRequest(
                    "GET", path, query, [], target, RequestBody(receive, 0, False), self.upstream, 0
                )
                await self._authorize(request, who)
                for check in route.websocket:
                    await check(request)
            except StatusError as e:
                code = e.code
                await websocket.deny_error(scope, send, e)
                return
            self.metrics.observe(route_name, "WEBSOCKET", 101, time.monotonic() - t0)
            code = await websocket.relay(
                scope,
                receive,
                send,
                self.upstream,
                path,
                query,
                request.identity,
                keep_token_subprotocol=self.access.mode.passes_token,
            )
        finally:
            self.metrics.inflight.dec()
            if code != 101:
                self.metrics.observe(route_name, "WEBSOCKET", code or 499, time.monotonic() - t0)
