"""The gateway's steps: the small pieces a route in :mod:`handler.routes` is made of.

Each step is a :class:`handler.routing.Step`: ``await step(request, next)`` returns the response,
either by changing the request and calling ``next`` (the rest of the route), or by answering
itself (a shared watch, a locally filtered list), or by raising a ``GatewayError`` (answered as a
``Status``; nothing goes upstream). Each can be built and run alone (tests/handler/test_steps.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from handler import hooks, local_selection, watch_fanout
from handler.field_selectors import plan as selector_plan
from handler.hooks import ObjectHook
from handler.request import GatewayRequest, RequestRule, SharedReceive
from handler.responses import AnyResponse, SharedWatchResponse
from handler.routing import Handler, Step
from handler.upstream_client import cancel_on_disconnect
from kubeapi import meta
from kubeapi.query import Query
from kubeapi.status import StatusError, from_status_object

log = logging.getLogger("handler.steps")

#: The selector each events API gets forced (the field name differs between the two Event APIs).
EVENTS_SELECTOR = {
    "events.k8s.io": "regarding.apiVersion=ray.io/v1",
    "core": "involvedObject.apiVersion=ray.io/v1",
}

#: The label a Service needs before the gateway proxies to it (KubeRay's own Services carry it).
KUBERAY_SERVICE_LABEL = ("app.kubernetes.io/name", "kuberay")


class ReadApiBody(Step):
    """Read a Kubernetes API request body whole (bounded by ``Settings.max_body_bytes``; 413 above),
    so that a write refused with 429 can be replayed and hooks can parse it. The apiserver itself
    refuses bodies above 3 MiB."""

    name = "read_api_body"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Read the body (when there is one), then go on."""
        if request.raw_body.has_body:
            await request.body()
        return await next(request)


class RequestRules(Step):
    """Run the request rules (``create_app(middleware=[...])``'s async functions of a request), in
    order, for every request of the route."""

    name = "request_rules"

    def __init__(self, rules: Sequence[RequestRule]) -> None:
        self.rules = list(rules)

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Run every rule, then go on."""
        for rule in self.rules:
            await rule(request)
        return await next(request)


class ObjectHooks(Step):
    """Run the object hooks matching the request (:mod:`handler.hooks`), in order, on its parsed body.

    The gateway's own come first: ``apply_defaults`` (:mod:`handler.defaults`, when configured),
    then ``apply_compute_templates`` (:mod:`handler.templates`), then the caller's. The body is
    parsed only when a hook matches and wants it; a rewritten body is sent upstream as JSON. A
    hook's StatusError is answered as its ``Status``; any other exception as a 500 ``Status``.
    """

    name = "object_hooks"

    def __init__(self, object_hooks: Sequence[ObjectHook]) -> None:
        self.hooks = list(object_hooks)

    def __repr__(self) -> str:
        names = ", ".join(getattr(h.function, "__name__", "?") for h in self.hooks)
        return f"<step object_hooks: {names}>"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Run the matching hooks, then go on."""
        if self.hooks:
            target = request.route
            verb = hooks.verb_of(request.method, target, request.watch)
            matched = hooks.matching(self.hooks, verb, target)
            if matched:  # (most requests match none: no coroutine for them)
                await self._run(request, verb, matched)
        return await next(request)

    async def _run(self, request: GatewayRequest, verb: str, matched: list[ObjectHook]) -> None:
        target = request.route
        has_body = request.raw_body.has_body
        raw = await request.body() if has_body else None
        if not any(h.wants(raw) for h in matched):
            return  # every hook said the body is none of its business: it stays bytes
        obj = await request.json() if has_body else None
        query, user = request.params.pairs, request.user
        ctx = hooks.context(verb, target, query, request.headers, user, request.get_json)
        for hook in matched:
            try:
                result = await hook(ctx, obj)
            except hooks.HookError as e:
                raise hooks.with_target(e, ctx, obj) from None
            except StatusError:
                raise
            except Exception as e:
                name = getattr(hook.function, "__name__", repr(hook.function))
                log.exception("object hook %s failed", name)
                # Worded as the API server's NewInternalError (k8s.io/apimachinery/pkg/api/errors).
                raise StatusError(
                    500, "InternalError", f"Internal error occurred: object hook {name} failed: {e}"
                ) from e
            if result is not None:
                obj = result
        if has_body and verb == "patch":
            # A patch keeps its patch type (merge, JSON patch, apply); JSON is valid YAML for apply.
            request.set_body(json.dumps(obj, separators=(",", ":")).encode())
        elif has_body:
            await request.set_json_off_loop(obj)


def _force_selector(query: Query, param: str, forced: str) -> str:
    """``query`` as a raw query string with ``forced`` ANDed into selector parameter ``param``.

    The forced requirement comes **first**, so that it is a whole requirement whatever the caller
    wrote after it: the caller's part can only narrow it, or make the selector invalid (the
    upstream's 400). Placed last, it would depend on the caller's text ending cleanly (a field
    selector ending in ``\\`` escapes the ``,`` that follows; an unclosed ``in (`` takes the next
    term into its set); Go's parsers then reject the result because the swallowed term holds an
    unescaped ``=``, so first is defence in depth rather than a fix. Several values of ``param`` are
    joined with ``,`` (AND), as a caller may have split theirs; every other parameter is kept as
    the caller wrote it.
    """
    selectors = [v for v in query.values(param) if v]
    return query.replace(param, [",".join([forced, *selectors])]).encode()


def force_field_selector(query: Query, forced: str) -> str:
    """``query`` as a raw query string with ``forced`` ANDed into ``fieldSelector`` (first, see
    :func:`_force_selector`; Go's ``fields.ParseSelector``)."""
    return _force_selector(query, "fieldSelector", forced)


def force_label_selector(query: Query, forced: str) -> str:
    """``query`` as a raw query string with ``forced`` ANDed into ``labelSelector`` (first, see
    :func:`_force_selector`; Go's ``labels.Parse``: requirements separated by ``,`` outside
    parentheses are ANDed)."""
    return _force_selector(query, "labelSelector", forced)


class ForceEventsSelector(Step):
    """AND ``regarding.apiVersion=ray.io/v1`` (``events.k8s.io``) or
    ``involvedObject.apiVersion=ray.io/v1`` (core) into the ``fieldSelector`` of an events list or
    watch, so no caller selector can widen it to events about other objects. Placed after the
    request rules, so no rule can undo it."""

    name = "force_events_selector"

    def __init__(self, api: str) -> None:
        self.forced = EVENTS_SELECTOR[api]

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Rewrite the query, then go on."""
        request.query = force_field_selector(request.params, self.forced)
        return await next(request)


def is_kuberay_service(service: dict[str, object]) -> bool:
    """Whether a Service object carries ``app.kubernetes.io/name=kuberay`` in ``metadata.labels``."""
    key, value = KUBERAY_SERVICE_LABEL
    return meta.labels(service).get(key) == value


class RequireKubeRayService(Step):
    """Refuse the services proxy (404, as if the Service did not exist) unless the Service exists
    and carries ``app.kubernetes.io/name=kuberay``; KubeRay APIServer V2's ``requireKubeRayService``
    (apiserversdk/proxy.go). Also a WebSocket check (:meth:`check`).

    The check and the proxied request are two upstream calls, so a label removed between them
    cannot be seen by the first (issue 13 finding 8). The Service is read again once the proxied
    response's headers arrived: if it is no longer a KubeRay Service the response is dropped
    unread and the caller gets the same 404. What is left: the backend may still receive a
    request sent within that window (between the first read and the label change reaching the
    API server) and act on it; the Kubernetes API offers no compare-and-proxy. Measured (label
    toggled every ~10 ms, 4 proxying clients, 20 s, gateway over ``fakekube serve``): 906 of
    4,576 requests reached the backend after a removal had completed (issue 13 saw 438 of 3,637
    before the second read; that read stops the relaying, not the sending).

    Both reads are made as the caller (:meth:`GatewayRequest.get_json`: their token in
    ``passthrough``, impersonation otherwise), never from a view fed by a watch of the gateway's
    own: such a view would read Services with the gateway's credentials for a caller (which the
    identity modes forbid; in ``passthrough`` the gateway may hold none that can watch Services)
    and would not shrink the window, which is the proxied request's own trip to the backend (a
    watch event arrives no sooner than this read's answer).
    """

    name = "require_kuberay_service"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Check the Service, go on, and check it again before the answer is relayed."""
        await self.check(request)
        response = await next(request)
        try:
            await self.check(request)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def check(self, request: GatewayRequest) -> None:
        """Raise StatusError 404 unless the request's Service is a KubeRay Service."""
        target = request.route
        assert target.namespace is not None and target.service is not None
        path = f"/api/v1/namespaces/{quote(target.namespace)}/services/{quote(target.service)}"
        status, obj = await request.get_json(path)
        details = {"name": target.service, "kind": "services"}
        if status == 404:
            raise StatusError(404, "NotFound", f'services "{target.service}" not found', details)
        if status != 200:
            raise from_status_object(status, obj, f"cannot read service {target.service}")
        if not isinstance(obj, dict) or not is_kuberay_service(obj):
            raise StatusError(
                404,
                "NotFound",
                f'services "{target.service}" not found: the gateway only proxies to services labelled '
                "app.kubernetes.io/name=kuberay",
                details,
            )


def _field_selector(request: GatewayRequest) -> str:
    """The request's ``fieldSelector`` values joined with ``,`` (AND); ``""`` without a query."""
    if not request.query:
        return ""  # the common case, without parsing anything
    return ",".join(v for v in request.params.values("fieldSelector") if v)


class ShareWatches(Step):
    """Serve a collection watch from a shared upstream watch (:mod:`handler.watch_fanout`) when it
    can be; otherwise go on. Not for watches with a field selector the gateway evaluates itself
    (``fields``: the allowlist), with a body, or on one object or a subresource."""

    name = "share_watches"

    def __init__(self, cache: watch_fanout.WatchCache | None, fields: Sequence[str] = ()) -> None:
        self.cache = cache
        self.fields = tuple(fields)

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """A :class:`SharedWatchResponse`, or the rest of the route's."""
        if self.cache is None or request.method != "GET" or not request.watch:
            return await next(request)
        target = request.route
        if target.object_name or target.subresource or request.raw_body.has_body:
            return await next(request)
        if self.fields:
            selector = _field_selector(request)
            if selector and selector_plan(selector, self.fields).local:
                return await next(request)
        p = watch_fanout.plan(request.path, request.params.pairs, request.headers)
        if p is None:
            return await next(request)
        # Opening the shared watch (a list, then the upstream watch) waits on the upstream: a caller
        # leaving meanwhile cancels it, and with it those upstream requests (issue 13 finding 4).
        # Once joined, the shared watch response waits for the disconnect itself.
        # The watcher's receive() call, if still pending when it is cancelled, is the one the
        # response (or the rest of the route) reads next (SharedReceive).
        watcher = None
        if request.receive is not None:
            request.receive = receive = SharedReceive(request.receive)
            watcher = asyncio.ensure_future(
                cancel_on_disconnect(request.raw_body, receive, request.disconnected, asyncio.current_task())
            )
        try:
            sub = await self.cache.subscribe(p, request.upstream, request.identity)
        finally:
            if watcher is not None:
                watcher.cancel()
        if sub is None or sub.entry is None:
            return await next(request)
        return SharedWatchResponse(sub, sub.entry.headers, p.timeout)


#: Seconds a request runs before its disconnect watcher starts (:class:`DisconnectWatch`).
DISCONNECT_WATCH_DELAY = 0.1


class DisconnectWatch:
    """The disconnect watcher of one request, started once the request ran ``delay`` seconds.

    Watching for ``http.disconnect`` takes a task and a pending ASGI ``receive()`` per request;
    under granian each such ``receive`` is a future on the server's runtime too, and together they
    were ~30 % of the CPU of a proxied GET (CPU time per request against the benchmark nginx,
    ``benchmarks/cpu_cost.py``). Most requests are answered well within ``delay``: for them no
    watcher is ever started; the request is only entered in and removed from its event loop's
    :class:`_WatchStarter` (a dict, no timer of its own). A caller that leaves a longer request (a
    watch, a large list, the services proxy) still cancels it and its upstream call
    (:func:`handler.upstream_client.cancel_on_disconnect`), at most ``delay`` later than it
    otherwise would. (A request that is not long-running cannot free its upstream connection
    before the upstream answers in any case: see :mod:`handler.upstream_client`.)

    ``task`` is the request's task (cancelled on a disconnect); :meth:`cancel` withdraws the
    pending start or stops the running watcher (the pipeline calls it once the response was sent).
    """

    __slots__ = ("_request", "_starter", "_target", "_watcher")

    def __init__(
        self, request: GatewayRequest, task: asyncio.Task[Any] | None, starter: _WatchStarter
    ) -> None:
        self._request = request
        self._target = task
        self._watcher: asyncio.Task[None] | None = None
        self._starter: _WatchStarter | None = starter
        starter.add(self)

    def _start(self) -> None:
        self._starter = None
        request = self._request
        if request.receive is None:
            return
        self._watcher = asyncio.ensure_future(
            cancel_on_disconnect(request.raw_body, request.receive, request.disconnected, self._target)
        )

    @property
    def started(self) -> bool:
        """Whether the watcher task was started (the request outlived the delay)."""
        return self._watcher is not None

    def cancel(self) -> None:
        """Stop watching: withdraw the pending start, or cancel the watcher task if it started."""
        starter, self._starter = self._starter, None
        if starter is not None:
            starter.discard(self)
        if self._watcher is not None:
            self._watcher.cancel()


class _WatchStarter:
    """Starts the :class:`DisconnectWatch` es of one event loop's requests ``delay`` seconds after
    each was made: they wait in a dict in the order they were made (so in due order), and one
    timer at a time (at the earliest due) starts those due. Forgets itself (``owner``) when none
    waits, so a closed loop leaves nothing behind."""

    __slots__ = ("_due", "_loop", "_owner", "_timer", "delay")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        delay: float,
        owner: dict[asyncio.AbstractEventLoop, _WatchStarter],
    ) -> None:
        self._loop = loop
        self.delay = delay
        self._owner = owner
        self._due: dict[DisconnectWatch, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, watch: DisconnectWatch) -> None:
        """Start ``watch`` ``delay`` seconds from now, unless it is discarded first."""
        self._due[watch] = self._loop.time() + self.delay
        if self._timer is None:
            self._timer = self._loop.call_later(self.delay, self._start_due)

    def discard(self, watch: DisconnectWatch) -> None:
        """Forget ``watch`` (its request was answered before it was due)."""
        self._due.pop(watch, None)

    def _start_due(self) -> None:
        self._timer = None
        due, now = self._due, self._loop.time()
        while due:
            watch, at = next(iter(due.items()))
            if at > now:
                self._timer = self._loop.call_at(at, self._start_due)
                return
            del due[watch]
            watch._start()
        if self._owner.get(self._loop) is self:
            del self._owner[self._loop]


class CancelOnDisconnect(Step):
    """Cancel the request (and its upstream call) when the caller disconnects: for watches, and for
    every request when ``always`` (the services proxy, whose answers may take long). The watcher
    starts once the request ran ``delay`` seconds (:class:`DisconnectWatch`) and lives until the
    response was sent (:mod:`handler._pipeline` stops it)."""

    name = "cancel_on_disconnect"

    def __init__(self, always: bool = False, delay: float = DISCONNECT_WATCH_DELAY) -> None:
        self.always = always
        self.delay = delay
        self._starters: dict[asyncio.AbstractEventLoop, _WatchStarter] = {}

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Arrange for the caller's disconnect to be watched, then go on."""
        if (self.always or request.watch) and request.receive is not None:
            loop = asyncio.get_running_loop()
            starter = self._starters.get(loop)
            if starter is None:
                starter = self._starters[loop] = _WatchStarter(loop, self.delay, self._starters)
            request.disconnect_watcher = DisconnectWatch(request, asyncio.current_task(), starter)
        return await next(request)


class EvaluateFieldSelectorsLocally(Step):
    """Serve a Ray list or watch whose ``fieldSelector`` names allowlisted fields (``fields``) the
    upstream cannot select on: the gateway filters the upstream's answer itself
    (:mod:`handler.local_selection`). Any other request goes on."""

    name = "evaluate_field_selectors_locally"

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """The locally filtered list or watch, or the rest of the route's."""
        target = request.route
        if request.method != "GET" or target.object_name or target.subresource:
            return await next(request)
        selector = _field_selector(request)
        if not selector:
            return await next(request)
        split = selector_plan(selector, self.fields)
        if not split.local:
            return await next(request)
        if request.watch:
            return await local_selection.filtered_watch(request, split.upstream, split.local)
        return await local_selection.filtered_list(request, split.upstream, split.local)
