"""kuberay-apiserver's gateway: a Kubernetes-API-speaking HTTP proxy for Ray objects.

``create_app(settings, middleware=...)`` builds the Litestar application; ``handler.app.app`` is
one built from environment variables. See DESIGN.md §1 and the README for what it serves.
"""

from __future__ import annotations

from handler.errors import GatewayError
from handler.factory import create_app
from handler.middleware import GatewayMiddleware, GatewayRequest
from handler.settings import RetrySettings, Settings

__all__ = ["GatewayError", "GatewayMiddleware", "GatewayRequest", "RetrySettings", "Settings", "create_app"]
