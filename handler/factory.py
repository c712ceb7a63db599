"""``create_app``: the gateway as a Litestar application.

Explicit Litestar routes serve ``/healthz``, ``/livez``, ``/readyz`` and ``/metrics``; every
other path goes to the :class:`handler._pipeline.Pipeline` ASGI handler mounted at ``/`` (Litestar
prefers explicit routes over a mount), which serves the route table (:mod:`handler.routes`).
Without user ASGI middleware and CORS, proxied requests reach the pipeline directly, skipping
Litestar's layers (:mod:`handler._direct_lane`); the answers are the same. The application is
stateless: its only per-process state is the upstream connection pool, the shared watches and
the metrics.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from litestar import MediaType, Response, get
from litestar.config.cors import CORSConfig
from litestar.handlers import asgi
from litestar.types import Middleware, Receive, Scope, Send

from handler import defaults, templates
from handler._direct_lane import GatewayApp, raise_escaped
from handler._pipeline import Pipeline
from handler.auth.access import Access
from handler.auth.hosts import HostFilter
from handler.auth.modes import get_mode
from handler.credentials import UpstreamCredentials, resolve
from handler.hooks import ObjectHook
from handler.lifecycle import Drain
from handler.metrics import Metrics
from handler.request import RequestRule
from handler.routes import gateway_routes
from handler.routing import RouteTable
from handler.settings import Settings, SettingsError
from handler.upstream_client import UpstreamClient
from handler.watch_fanout import WatchCache
from kubeapi.status import StatusError

#: ``create_app(routes=...)``: a function that changes the route table in place.
RouteCustomizer = Callable[[RouteTable], None]


def split_middleware(
    middleware: Sequence[Any],
) -> tuple[list[ObjectHook], list[RequestRule], list[Middleware]]:
    """Sort ``middleware`` into object hooks, request rules and Litestar/ASGI middleware (order kept).

    - an :class:`handler.hooks.ObjectHook` (made with :func:`handler.hooks.object_hook`) is an
      object hook, run for the verbs and resources it was registered for;
    - any other async callable of one request (a coroutine function, or an object whose
      ``__call__`` is one) is a request rule (:mod:`handler.request`), run for every request;
    - anything else (``DefineMiddleware``, an ``ASGIMiddleware`` or ``AbstractMiddleware``, a
      factory ``app -> app``) is handed to Litestar, which wraps the whole application with it.
    """
    hooks: list[ObjectHook] = []
    rules: list[RequestRule] = []
    asgi_middleware: list[Middleware] = []
    for item in middleware:
        call = getattr(item, "__call__", None)  # noqa: B004 - objects with an async __call__ count
        if isinstance(item, ObjectHook):
            hooks.append(item)
        elif inspect.iscoroutinefunction(item) or (
            not inspect.isclass(item) and call is not None and inspect.iscoroutinefunction(call)
        ):
            rules.append(item)
        else:
            asgi_middleware.append(item)
    return hooks, rules, asgi_middleware


def builtin_hooks(settings: Settings) -> list[ObjectHook]:
    """The gateway's own object hooks in their order: default values (when ``settings.defaults``
    names a file), then compute templates. Raises :class:`handler.defaults.DefaultsError` for a
    defaults file that cannot be loaded."""
    hooks: list[ObjectHook] = []
    if settings.defaults:
        hooks.append(defaults.hook(defaults.load(settings.defaults)))
    hooks.append(templates.hook())
    return hooks


def cors_config(origins: Sequence[str]) -> CORSConfig | None:
    """The CORS configuration for ``origins`` (None: CORS off). Credentials (cookies, TLS client
    certificates, HTTP authentication) are allowed only when every origin is listed exactly: a
    ``*`` (Litestar reads it as a wildcard in any part of an origin) turns them off, so no page
    on an origin nobody named can act with a browser's credentials (the Fetch standard forbids
    ``Access-Control-Allow-Origin: *`` with credentials; a pattern would be as wide)."""
    if not origins:
        return None
    listed = not any("*" in o for o in origins)
    return CORSConfig(
        allow_origins=list(origins), allow_methods=["*"], allow_headers=["*"], allow_credentials=listed
    )


def create_app(
    settings: Settings | None = None,
    middleware: Sequence[ObjectHook | RequestRule | Middleware] = (),
    credentials: UpstreamCredentials | None = None,
    routes: RouteCustomizer | Sequence[RouteCustomizer] = (),
) -> GatewayApp:
    """Build the gateway application (a Litestar app, see :mod:`handler._direct_lane`).

    ``settings`` defaults to ``Settings()``. ``middleware`` mixes object hooks
    (:func:`handler.hooks.object_hook`; run after the gateway's defaults and compute templates, in
    the order given), request rules (async functions of a :class:`handler.request.GatewayRequest`,
    run in order before any hook) and ordinary Litestar/ASGI middleware (wrapping the whole app),
    see :func:`split_middleware`. ``routes`` is one function (or several, applied in order) that
    changes the route table (:class:`handler.routing.RouteTable`: add a route, add or replace a
    step) after the gateway's own routes were built. ``credentials`` overrides the upstream
    resolved from settings (tests, embedding). Raises :class:`handler.credentials.CredentialsError`
    when the upstream's credentials cannot be loaded, :class:`handler.defaults.DefaultsError`
    when the defaults file cannot, and :class:`handler.settings.SettingsError` for an unknown
    ``authentication`` mode or an ``accept_hosts`` that is not a regular expression.

    Security defaults (README "Security"): ``Settings()`` authenticates with ``passthrough`` (each
    caller's own bearer token goes upstream; no token, 401) and accepts only loopback ``Host``
    names plus the listen address, as ``kuberay-apiserver serve`` does, so an app built from
    defaults or from the environment (``handler.app``) is never an open proxy with the gateway's
    credentials. An embedding that wants the gateway's own credentials for everyone says so with
    ``Settings(authentication="none")``.
    """
    settings = settings or Settings()
    creds = credentials or resolve(settings)
    mode = get_mode(settings.authentication)
    if mode.passes_token and creds.identity_pem:
        # kube-apiserver tries client certificates before bearer tokens: a certificate of the
        # gateway's on the pool would make every passthrough request the gateway's.
        creds = replace(creds, identity_pem=None)
    metrics = Metrics()
    upstream = UpstreamClient(
        creds, settings.retry, metrics, settings.upstream_timeout, settings.upstream_request_timeout
    )
    access = Access(settings, upstream, metrics)
    try:
        hosts = HostFilter(settings.accept_hosts, settings.host)
    except re.error as e:
        raise SettingsError(
            f"--accept-hosts {settings.accept_hosts!r} is not a regular expression: {e}"
        ) from None
    user_hooks, rules, asgi_middleware = split_middleware(middleware)
    hooks = [*builtin_hooks(settings), *user_hooks]
    watches = (
        WatchCache(metrics, settings.watch_buffer_bytes, settings.watch_history)
        if settings.watch_fanout
        else None
    )
    table = gateway_routes(rules, hooks, watches, settings.field_selector_fields, settings.pod_security)
    for customize in [routes] if callable(routes) else routes:
        customize(table)
    drain = Drain()
    pipeline = Pipeline(
        table, upstream, metrics, settings.max_body_bytes, access, hosts, drain, settings.max_watch_seconds
    )

    @get("/healthz", media_type=MediaType.TEXT, sync_to_thread=False)
    def healthz() -> str:
        """Liveness: the process answers (no upstream call)."""
        return "ok"

    @get("/livez", media_type=MediaType.TEXT, sync_to_thread=False)
    def livez() -> str:
        """Liveness, under the kube-apiserver's newer name."""
        return "ok"

    @get("/readyz", media_type=MediaType.TEXT)
    async def readyz() -> Response[str]:
        """Readiness: 200 ``ok`` when the upstream answers ``GET /version`` with 200, else 503
        (one attempt: readiness says how the upstream is now); 503 ``draining`` once the worker
        drains for shutdown (:mod:`handler.lifecycle`), so no new traffic is sent its way."""
        if drain.draining:
            return Response("draining", status_code=503, media_type=MediaType.TEXT)
        try:
            status, _ = await upstream.get_json("/version", route="readyz", retry_enabled=False)
        except StatusError as e:
            detail = str(getattr(e.__cause__, "message", e.message))  # the transport error's own words
            return Response(f"upstream unreachable: {detail}", status_code=503, media_type=MediaType.TEXT)
        if status != 200:
            return Response(f"upstream answered {status}", status_code=503, media_type=MediaType.TEXT)
        return Response("ok", media_type=MediaType.TEXT)

    @get("/metrics", sync_to_thread=False)
    def metrics_handler() -> Response[bytes]:
        """Prometheus text exposition of the gateway's metrics."""
        return Response(metrics.render(), media_type=metrics.content_type)

    @asgi("/", is_mount=True, copy_scope=False)
    async def pipeline_mount(scope: Scope, receive: Receive, send: Send) -> None:
        """Everything else: the route table."""
        raise_escaped(scope)
        await pipeline(scope, receive, send)

    cors = cors_config(settings.cors_allow_origin)
    app = GatewayApp(
        route_handlers=[healthz, livez, readyz, metrics_handler, pipeline_mount],
        cors_config=cors,
        middleware=asgi_middleware,
        on_startup=[drain.install],
        on_shutdown=[upstream.close],
        openapi_config=None,
        logging_config=None,
    )
    if cors is None and not asgi_middleware:
        app.enable_direct_lane(pipeline)
    app.state.metrics = metrics
    app.state.upstream = upstream
    app.state.access = access
    app.state.routes = table
    app.state.drain = drain
    return app
