"""``GatewayRequest``: one request on its way through a route's steps to its backend.

Created once per request by :mod:`handler._pipeline` after the route matched; every step, request
rule and backend reads and changes this one object. It carries the parsed request (method, raw
path, query, filtered headers, the matched route and its path parts), the body reader, the
upstream client and the upstream identity the request is made with.

Request rules (the lower-level form of middleware, see the README "Object hooks") are async
callables ``(request: GatewayRequest) -> None`` passed in ``handler.create_app(settings,
middleware=[...])``; they run for every request, after the route matched and before any object
hook. A rule may

- read ``request.method``, ``request.path``, ``request.query``, ``request.headers``,
  ``request.route`` (a :class:`handler.target.RequestTarget`: ``route.family`` is
  ``RouteFamily.RAY``, ``RouteFamily.EVENTS``, ``RouteFamily.SERVICE_PROXY``...) and
  ``request.user`` (the verified caller, :class:`kubeapi.authn.UserInfo`; None only under
  ``--authentication none``; never taken from a header);
- parse the body with ``await request.json()`` (JSON or, for ``application/yaml``, YAML) and
  replace it with ``request.set_json(obj)``; a body nobody asked for is never parsed and is passed
  through as bytes;
- look things up on the upstream with ``await request.get_json(path)`` (as the caller: the
  request's upstream identity, authorized as theirs in the impersonating modes; retried as any
  GET). ``request.upstream``'s own methods use the gateway's credentials unless given
  ``identity=request.identity``;
- refuse the request by raising :class:`kubeapi.status.StatusError` (answered as a
  ``Status``; nothing is sent upstream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from handler._body import RequestBody
from kubeapi import offload
from kubeapi.authn import UserInfo
from kubeapi.decode import DecodeError, DecodeLimits, decode
from kubeapi.media import JSON as JSON_MEDIA_TYPE
from kubeapi.media import MediaTypeError, parse_media_type
from kubeapi.query import Query
from kubeapi.requestinfo import RequestInfo, request_info
from kubeapi.status import StatusError

if TYPE_CHECKING:
    from litestar.types import Receive

    from handler.auth.access import Access
    from handler.target import RequestTarget
    from handler.upstream_client import UpstreamClient, UpstreamIdentity

#: How many parsed ``RequestInfo`` the process keeps (:attr:`GatewayRequest.info`), and the
#: longest path plus query (characters) it keeps one for.
INFO_CACHE_ENTRIES = 4096
INFO_CACHE_KEY_CHARS = 1024
_INFOS: dict[tuple[str, str, str], RequestInfo] = {}

#: The header an authenticating front proxy names the user in (kube-apiserver's
#: ``--requestheader-username-headers`` default); never forwarded upstream, and never read as the
#: user: only ``--authentication request-header`` trusts it, on verified proxy connections.
USER_HEADER = "x-remote-user"


class Cancellable(Protocol):
    """Something running for a request that the pipeline stops when the response was sent (the
    disconnect watcher, :class:`handler.steps.DisconnectWatch`)."""

    def cancel(self) -> Any:
        """Stop it (idempotent)."""
        ...


class SharedReceive:
    """An ASGI ``receive`` whose pending call outlives a reader that is cancelled: the next reader
    awaits the same call. Used where one reader (the watcher of a shared watch's opening, issue
    13 finding 4) is cancelled and another (:func:`handler.watch_fanout.serve`) reads on.

    A pending ``receive()`` cancelled and then called again lost watches under granian: with
    1,000 watches joining one shared watch (server and clients pinned to one core each, as the
    watch benchmark ``benchmarks/bench_watch.py`` runs them), 102-320 of them in 3 of 6 runs were
    answered 200 and then got no event at all (the benchmark's p99 was ``inf`` in 2 of 5
    rounds); with the pending call shared (``asyncio.shield``), none. Raises what ``receive``
    raises."""

    __slots__ = ("_pending", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._pending: asyncio.Future[Any] | None = None

    async def _next(self) -> Any:
        # A coroutine around the call: granian's receive() returns a native awaitable that
        # asyncio.ensure_future/shield do not wrap usefully (a caller's disconnect was not seen).
        return await self._receive()

    async def __call__(self) -> Any:
        """The next ASGI message (the pending call's, if a cancelled reader left one)."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._next())
        pending = self._pending
        message = await asyncio.shield(pending)
        if self._pending is pending:
            self._pending = None
        return message


class GatewayRequest:
    """One request on its way upstream; fields are mutable by steps and request rules.

    ``path`` is the raw (percent-encoded) upstream path, ``query`` the raw query string (assigning
    it re-parses :attr:`params` on next use), ``headers`` lower-case ``(name, value)`` pairs
    already stripped of hop-by-hop and credential headers, ``route`` the matched route.
    ``max_body_bytes`` bounds :meth:`body`. ``identity`` is who the upstream sees the request as
    (None: the gateway's own credentials, only in ``--authentication none``). ``user`` is the
    caller as the authentication mode verified it (:mod:`handler.auth`; None only in ``none``
    mode), never a header value.
    """

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        route: RequestTarget,
        body: RequestBody,
        upstream: UpstreamClient,
        max_body_bytes: int,
        receive: Receive | None = None,
        raw_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        self.method = method
        self.path = path
        self._query = query
        self._params: Query | None = None
        self._info: RequestInfo | None = None
        self.headers = headers
        self.route = route
        self.upstream = upstream
        self.max_body_bytes = max_body_bytes
        self.identity: UpstreamIdentity | None = None
        self.user: UserInfo | None = None
        self.access: Access | None = None
        self.receive = receive
        self.raw_headers = raw_headers
        self._disconnected: asyncio.Event | None = None
        self.disconnect_watcher: Cancellable | None = None
        self._body = body

    @property
    def disconnected(self) -> asyncio.Event:
        """Set when the caller went away while the request was served (by the disconnect watcher,
        :class:`handler.steps.DisconnectWatch`); made on first use, as most requests never need it."""
        if self._disconnected is None:
            self._disconnected = asyncio.Event()
        return self._disconnected

    @property
    def query(self) -> str:
        """The raw query string sent upstream."""
        return self._query

    @query.setter
    def query(self, value: str) -> None:
        self._query = value
        self._params = None
        self._info = None

    @property
    def params(self) -> Query:
        """The query, parsed once per query string with Go's rules (:class:`kubeapi.query.Query`:
        ``get``, ``values``, ``bool``, ``int``, ``pairs``, ``replace``...)."""
        if self._params is None:
            self._params = Query.parse(self._query)
        return self._params

    @property
    def info(self) -> RequestInfo:
        """The request as kube-apiserver's ``RequestInfo`` reads it (:mod:`kubeapi.requestinfo`:
        verb, API group and version, namespace, resource, name, subresource), built on first use
        from the method, the raw path and :attr:`params`. Raises StatusError for a path
        kube-apiserver cannot read (``/api/v1/watch`` with nothing after it).

        The parse is a pure function of method, path and query and a ``RequestInfo`` is immutable,
        so parses are shared between requests (up to :data:`INFO_CACHE_ENTRIES`, forgotten all at
        once when full; not for a path and query longer than :data:`INFO_CACHE_KEY_CHARS`): the
        impersonating modes read it for every request's ``SubjectAccessReview`` key."""
        info = self._info
        if info is None:
            key = (self.method, self.path, self._query)
            info = _INFOS.get(key)
            if info is None:
                info = request_info(self.method, self.path, self.params)
                if len(self.path) + len(self._query) <= INFO_CACHE_KEY_CHARS:
                    if len(_INFOS) >= INFO_CACHE_ENTRIES:  # many distinct requests: start over
                        _INFOS.clear()
                    _INFOS[key] = info
            self._info = info
        return info

    @property
    def watch(self) -> bool:
        """Whether the query asks for a watch: ``watch`` read as kube-apiserver reads it
        (``Convert_Slice_string_To_bool``: any value but ``0`` / ``false`` in any case)."""
        raw = self._query
        return ("watch" in raw or "%" in raw) and self.params.bool("watch")

    @property
    def raw_body(self) -> RequestBody:
        """The underlying body reader."""
        return self._body

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def set_header(self, name: str, value: str) -> None:
        """Replace every value of header ``name`` with ``value``."""
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    async def body(self) -> bytes:
        """The whole body as bytes; StatusError 413 above ``max_body_bytes``."""
        return await self._body.read(self.max_body_bytes)

    async def json(self) -> Any:
        """The body decoded as JSON, or YAML when ``Content-Type`` is a YAML type (``application/yaml``,
        the apply patch's ``application/apply-patch+yaml``...), with kube-apiserver's decoding rules
        and limits (:mod:`kubeapi.decode`); None when empty.

        Raises StatusError 400 ``BadRequest`` (``the body of the request was in an unknown format:
        ERR``, ERR in Go's words) for a body that does not decode.
        """
        raw = await self.body()
        if not raw.strip():
            return None
        try:
            media_type, _ = parse_media_type(self.header("content-type") or JSON_MEDIA_TYPE)
        except MediaTypeError:
            media_type = JSON_MEDIA_TYPE
        try:
            # A large body is decoded in a worker thread (kubeapi.offload): the loop keeps serving.
            return await offload.run(
                len(raw), decode, raw, media_type, DecodeLimits(max_bytes=self.max_body_bytes)
            )
        except DecodeError as e:
            raise StatusError(
                400, "BadRequest", f"the body of the request was in an unknown format: {e}"
            ) from None

    def set_body(self, data: bytes) -> None:
        """Replace the body with ``data`` (Content-Type unchanged)."""
        self._body.replace(data)

    def set_json(self, obj: Any) -> None:
        """Replace the body with ``obj`` encoded as JSON and set ``Content-Type: application/json``."""
        self._body.replace(json.dumps(obj, separators=(",", ":")).encode())
        self.set_header("content-type", "application/json")

    async def set_json_off_loop(self, obj: Any) -> None:
        """:meth:`set_json`, encoding in a worker thread when the body it replaces is large
        (:mod:`kubeapi.offload`; ``obj`` must not change meanwhile)."""
        size = len(await self.body()) if self._body.has_body else 0
        data = await offload.run(size, lambda: json.dumps(obj, separators=(",", ":")).encode())
        self._body.replace(data)
        self.set_header("content-type", "application/json")

    async def authorize_lookup(self, method: str, path: str, query: str = "") -> None:
        """Raise the 403 Status unless this request's user may make ``method`` on raw ``path``
        (read as kube-apiserver's ``RequestInfo``); a no-op where the gateway does not authorize
        (``passthrough`` and ``none``: the upstream decides, with the caller's token or in ``none``)."""
        access = self.access
        if access is not None and access.reviewer is not None:
            await access.authorize(self.user, request_info(method, path, query))

    async def get_json(self, path: str, query: str = "", accept: str = "application/json") -> tuple[int, Any]:
        """GET ``path`` (raw) upstream as this request's identity, retried as any GET, under this
        route's metrics name: ``(status, decoded JSON or None)``. The lookup is made for the
        caller, so it is authorized as theirs first (:meth:`authorize_lookup`, 403). StatusError
        503/504 when the upstream cannot be reached."""
        await self.authorize_lookup("GET", path, query)
        return await self.upstream.get_json(path, query, accept, self.route.name, self.identity)

    async def send_json(self, method: str, path: str, obj: Any = None, query: str = "") -> tuple[int, Any]:
        """``method`` on ``path`` (raw) upstream with ``obj`` as JSON, as this request's identity,
        authorized as the caller's first (:meth:`authorize_lookup`): ``(status, decoded JSON or
        None)`` (:meth:`handler.upstream_client.UpstreamClient.send_json`)."""
        await self.authorize_lookup(method, path, query)
        return await self.upstream.send_json(method, path, obj, query, self.route.name, self.identity)


RequestRule = Callable[[GatewayRequest], Awaitable[None]]
"""A request rule: ``async def rule(request: GatewayRequest) -> None`` (raise StatusError to refuse)."""

GatewayMiddleware = RequestRule
"""The request rule's earlier name, kept for code written against it."""
