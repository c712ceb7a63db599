"""kuberay-apiserver's gateway: a Kubernetes-API-speaking HTTP proxy for Ray objects.

``create_app(settings, middleware=...)`` builds the Litestar application; ``handler.app.app`` is
one built from environment variables. See DESIGN.md §1 and the README for what it serves.

The names below are imported on first use (PEP 562), so ``import handler.cli`` stays light and
does not import prometheus-client before the CLI has configured its multiprocess directory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handler.errors import GatewayError
    from handler.factory import create_app
    from handler.hooks import HookError, ObjectHook, RequestContext, object_hook
    from handler.middleware import GatewayMiddleware, GatewayRequest
    from handler.settings import RetrySettings, Settings

_EXPORTS = {
    "GatewayError": "handler.errors",
    "create_app": "handler.factory",
    "HookError": "handler.hooks",
    "ObjectHook": "handler.hooks",
    "RequestContext": "handler.hooks",
    "object_hook": "handler.hooks",
    "GatewayMiddleware": "handler.middleware",
    "GatewayRequest": "handler.middleware",
    "RetrySettings": "handler.settings",
    "Settings": "handler.settings",
}

__all__ = [
    "GatewayError",
    "GatewayMiddleware",
    "GatewayRequest",
    "HookError",
    "ObjectHook",
    "RequestContext",
    "RetrySettings",
    "Settings",
    "create_app",
    "object_hook",
]


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first access; AttributeError for others."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'handler' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
