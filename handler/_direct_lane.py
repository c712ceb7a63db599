"""``GatewayApp``: the gateway's Litestar application with a direct lane to the pipeline.

Almost every request the gateway serves is proxied, and Litestar's layers in front of the pipeline
mount (exception middleware, router, route handler) cost ~6 µs of a ~75 µs request on the
benchmark machine (``benchmarks/`` proxy, py-spy profile of a worker at 32 connections). So an
HTTP request that Litestar would hand to the pipeline mount anyway is handed to the pipeline
(:class:`handler._pipeline.Pipeline`) directly, when that is indistinguishable from going through
Litestar:

- only when the application has no user ASGI middleware, no CORS and no ``before_send`` hook
  (:meth:`GatewayApp.enable_direct_lane` is not called otherwise): those wrap every request,
  so with any of them configured every request goes through Litestar as before;
- only ``http`` scopes (WebSockets and lifespan go through Litestar), with an empty
  ``root_path``, whose path is not one of the app's own routes (``/healthz``, ``/livez``,
  ``/readyz``, ``/metrics``, compared after the same normalisation as Litestar's router:
  leading/trailing and repeated slashes do not matter), and whose ``Host`` header, if any,
  passes Litestar's own validity check (an invalid one gets Litestar's 400 as before);
- an exception escaping the pipeline before the response started is re-raised inside Litestar's
  pipeline mount (:func:`raise_escaped`), so Litestar's exception handling answers it exactly as
  it would have; after the response started (the pipeline marks the scope, :data:`RESPONSE_STARTED`)
  it propagates to the server, as Litestar's does.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar._asgi.utils import is_valid_host  # the router's own Host check, so both lanes agree
from litestar.enums import ScopeType
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send
from litestar.types.asgi_types import LifeSpanReceive, LifeSpanScope, LifeSpanSend

#: Scope key carrying an exception from the direct lane into the pipeline mount (see raise_escaped).
ESCAPED = "kuberay_apiserver.escaped"
#: Scope key the pipeline sets when an exception escapes it after the response started (then the
#: direct lane lets it propagate to the server, as Litestar would); read only on that rare path,
#: so the lane does not wrap ``send`` to watch for the response start on every request.
RESPONSE_STARTED = "kuberay_apiserver.response_started"
_HTTP = ScopeType.HTTP.value  # a plain str: comparing to the enum member costs an attribute lookup


def raise_escaped(scope: Scope) -> None:
    """Re-raise the exception the direct lane hit for this request, if any (call first in the mount)."""
    escaped = cast(dict[str, Any], scope).pop(ESCAPED, None)
    if escaped is not None:
        raise escaped


class GatewayApp(Litestar):
    """A Litestar app whose proxied HTTP requests may skip Litestar's layers (see the module docstring)."""

    _direct: ASGIApp | None = None
    _own_paths: frozenset[str] = frozenset()

    def enable_direct_lane(self, proxy: ASGIApp) -> None:
        """Serve HTTP requests for anything but the app's own routes with ``proxy`` directly.

        The caller guarantees that ``proxy`` is what the app mounts at ``/`` and that no ASGI
        middleware, CORS or ``before_send`` hook is configured. Raises ValueError when an own
        route has path parameters (the lane compares plain paths).
        """
        own = {route.path.strip("/") for route in self.routes} - {""}
        if any("{" in p for p in own):
            raise ValueError(f"the direct lane needs plain route paths, got {sorted(own)}")
        self._own_paths = frozenset(own)
        self._direct = proxy

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        """Litestar's default plugins less the pydantic and attrs ones (overrides Litestar's).

        The gateway's own handlers take no arguments and return ``str``/``bytes`` responses, so
        they need neither; importing them (``litestar.plugins.pydantic``, ``litestar.plugins.attrs``
        with pydantic and attrs) is ~100 ms of the ~380 ms cold start.
        """
        plugins.append(MsgspecDIPlugin())
        return plugins

    @property
    def direct_lane_enabled(self) -> bool:
        """Whether proxied requests take the direct lane (False: every request goes through Litestar)."""
        return self._direct is not None

    def _direct_lane(self, scope: Scope) -> bool:
        if scope.get("root_path") or scope["path"].strip("/") in self._own_paths:
            return False
        for name, value in scope["headers"]:
            if name == b"host":  # Litestar's router checks the first Host header only
                return is_valid_host(value)
        return True

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        """ASGI entry point: the direct lane when it applies, else Litestar."""
        direct = self._direct
        http_scope = cast(HTTPScope, scope)
        if direct is None or scope["type"] != _HTTP or not self._direct_lane(http_scope):
            await super().__call__(scope, receive, send)
            return
        try:
            await direct(http_scope, cast(Receive, receive), cast(Send, send))
        except Exception as e:
            if RESPONSE_STARTED in scope:
                raise
            cast(dict[str, Any], scope)[ESCAPED] = e
            await super().__call__(scope, receive, send)
