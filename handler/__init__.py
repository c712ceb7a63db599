"""kuberay-apiserver's gateway: a Kubernetes-API-speaking HTTP proxy for Ray objects.

``create_app(settings, middleware=..., routes=...)`` builds the Litestar application;
``handler.app.app`` is one built from environment variables. What it serves is the route table of
:mod:`handler.routes`; the README ("What the gateway serves", "Extending the gateway") describes it.

The public API is ``__all__`` below; modules whose names start with ``_`` are private. The names
are imported on first use (PEP 562), so ``import handler.cli`` stays light and does not import
prometheus-client before the CLI has configured its multiprocess directory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handler.factory import RouteCustomizer, create_app
    from handler.hooks import HookError, ObjectHook, RequestContext, object_hook
    from handler.request import GatewayMiddleware, GatewayRequest, RequestRule
    from handler.responses import Response, SharedWatchResponse, UpstreamResponse, json_response
    from handler.routing import Handler, Route, RouteTable, Step, WebSocketCheck, step
    from handler.settings import RetrySettings, Settings
    from handler.target import RequestTarget, RouteFamily
    from handler.upstream_client import UpstreamClient, UpstreamIdentity
    from kubeapi.status import StatusError as GatewayError

_EXPORTS = {
    "create_app": "handler.factory",
    "RouteCustomizer": "handler.factory",
    "HookError": "handler.hooks",
    "ObjectHook": "handler.hooks",
    "RequestContext": "handler.hooks",
    "object_hook": "handler.hooks",
    "GatewayMiddleware": "handler.request",
    "GatewayRequest": "handler.request",
    "RequestRule": "handler.request",
    "Response": "handler.responses",
    "SharedWatchResponse": "handler.responses",
    "UpstreamResponse": "handler.responses",
    "json_response": "handler.responses",
    "Handler": "handler.routing",
    "Route": "handler.routing",
    "RouteTable": "handler.routing",
    "Step": "handler.routing",
    "WebSocketCheck": "handler.routing",
    "step": "handler.routing",
    "RetrySettings": "handler.settings",
    "Settings": "handler.settings",
    "GatewayError": "kubeapi.status",
    "RequestTarget": "handler.target",
    "RouteFamily": "handler.target",
    "UpstreamClient": "handler.upstream_client",
    "UpstreamIdentity": "handler.upstream_client",
}

#: Exported names that are another module's name for the same object.
#: ``GatewayError`` is kubeapi's ``StatusError`` (one Status exception for the gateway and fakekube).
_RENAMED = {"GatewayError": "StatusError"}

__all__ = [
    "GatewayError",
    "GatewayMiddleware",
    "GatewayRequest",
    "Handler",
    "HookError",
    "ObjectHook",
    "RequestContext",
    "RequestRule",
    "RequestTarget",
    "Response",
    "RetrySettings",
    "Route",
    "RouteCustomizer",
    "RouteFamily",
    "RouteTable",
    "Settings",
    "SharedWatchResponse",
    "Step",
    "UpstreamClient",
    "UpstreamIdentity",
    "UpstreamResponse",
    "WebSocketCheck",
    "create_app",
    "json_response",
    "object_hook",
    "step",
]


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first access; AttributeError for others."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'handler' has no attribute {name!r}")
    return getattr(importlib.import_module(module), _RENAMED.get(name, name))
