"""What a request addresses once its route matched: :class:`RequestTarget` and :class:`RouteFamily`.

The decoded path parts of a request as kube-apiserver's ``RequestInfo`` has them
(k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: namespace, API group, resource,
name, subresource), plus the gateway's own: which route family matched, the route's metrics name
and, for the services proxy, the Service's name. Request rules, object hooks and steps read it as
``request.route``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RouteFamily(enum.Enum):
    """Which family of the allowlist a route belongs to (what request rules may branch on)."""

    RAY = "ray"  # ray.io API objects: proxied, any verb
    EVENTS = "events"  # event lists: proxied with a forced field selector
    SERVICE_PROXY = "service-proxy"  # services/{svc}/proxy: proxied after the label check
    DISCOVERY = "discovery"  # /api, /apis, /version, /openapi...: filtered documents
    RAY_PODS = "ray-pods"  # pods labelled ray.io/is-ray-node=yes, read-only (handler.raypods)
    TEMPLATE_CONFIGMAPS = "template-configmaps"  # compute-template ConfigMaps, label-checked
    COMPUTE_TEMPLATES = "compute-templates"  # KubeRay APIServer V1 compute_templates JSON API
    CUSTOM = "custom"  # a route a user added


@dataclass(frozen=True)
class RequestTarget:
    """A matched request: its route's ``family`` and metrics ``name``, and the decoded path parts.

    ``namespace`` and ``service`` (the Service's name, without the ``scheme:`` / ``:port`` parts
    of a proxy path) are set for the routes that have them. For API objects ``group`` (``""`` for
    core), ``resource`` (the plural), ``object_name`` and ``subresource`` are the decoded path
    parts (None when absent).
    """

    family: RouteFamily
    name: str
    namespace: str | None = None
    service: str | None = None
    group: str | None = None
    resource: str | None = None
    object_name: str | None = None
    subresource: str | None = None
