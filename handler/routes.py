"""The gateway's allowlist: which paths and verbs it serves, and how it rewrites them.

Everything not matched here is a 404 ``Status``. The allowlist follows KubeRay APIServer V2
(``apiserversdk/proxy.go`` in the KubeRay repository):

- ``/apis/ray.io/v1/...``: every verb, namespaced and cluster-wide lists, subresources, watch;
- ``GET /apis/events.k8s.io/v1/namespaces/{ns}/events`` and ``GET /api/v1/namespaces/{ns}/events``
  with the field selector forced to include ``regarding.apiVersion=ray.io/v1`` /
  ``involvedObject.apiVersion=ray.io/v1`` (field selectors are ANDed, so no caller selector can
  widen the result);
- ``/api/v1/namespaces/{ns}/services/{svc}/proxy[/...]``: every verb, when the Service carries
  ``app.kubernetes.io/name=kuberay`` (checked by the proxy, see :mod:`handler.proxy`);
- discovery and OpenAPI documents, answered (filtered) by :mod:`handler.discovery`;
- compute templates (:mod:`handler.template_api`): ``/api/v1/namespaces/{ns}/configmaps[/{name}]``
  (only ConfigMaps labelled ``ray.io/config-type=compute-template``) and KubeRay APIServer V1's
  ``/apis/v1/namespaces/{ns}/compute_templates[/{name}]`` and ``/apis/v1/compute_templates``.

Paths are matched on the raw, percent-encoded request path; a segment that decodes to ``.``,
``..``, or contains ``/`` is refused, because URL normalisation further along (the upstream
client or the upstream server) would otherwise turn an allowed-looking path into another one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode

from handler.errors import method_not_allowed, not_found_path

RAY_PREFIX = "/apis/ray.io/v1"
ALL_VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
READ_VERBS = frozenset({"GET", "HEAD"})
#: Verbs on compute-template ConfigMaps: create, list (and watch); get, replace, delete one.
TEMPLATE_COLLECTION_VERBS = frozenset({"GET", "HEAD", "POST"})
TEMPLATE_ITEM_VERBS = frozenset({"GET", "HEAD", "PUT", "DELETE"})

#: The selector each events route forces (field name differs between the two Event APIs).
EVENTS_SELECTOR = {
    "events.k8s.io": "regarding.apiVersion=ray.io/v1",
    "core": "involvedObject.apiVersion=ray.io/v1",
}

#: The label a Service needs before the gateway proxies to it (KubeRay's own Services carry it).
KUBERAY_SERVICE_LABEL = ("app.kubernetes.io/name", "kuberay")


class Kind(enum.Enum):
    """What a matched path is."""

    RAY = "ray"  # ray.io API objects: proxied, any verb
    EVENTS = "events"  # event lists: proxied with a forced field selector
    SERVICE_PROXY = "service-proxy"  # services/{svc}/proxy: proxied after the label check
    DISCOVERY = "discovery"  # /api, /apis, /version, /openapi...: answered by handler.discovery
    TEMPLATE_CONFIGMAPS = "template-configmaps"  # compute-template ConfigMaps, label-checked
    COMPUTE_TEMPLATES = "compute-templates"  # KubeRay APIServer V1 compute_templates JSON API


@dataclass(frozen=True)
class Route:
    """A matched request: its ``kind``, a low-cardinality ``name`` for metrics, and path parts.

    ``namespace`` and ``service`` (the Service's name, without the ``scheme:`` / ``:port`` parts
    of a proxy path) are set for the routes that have them. For API objects (``Kind.RAY``,
    ``Kind.TEMPLATE_CONFIGMAPS``, ``Kind.COMPUTE_TEMPLATES``) ``group`` (``""`` for core),
    ``resource`` (the plural), ``object_name`` and ``subresource`` are the decoded path parts.
    """

    kind: Kind
    name: str
    namespace: str | None = None
    service: str | None = None
    group: str | None = None
    resource: str | None = None
    object_name: str | None = None
    subresource: str | None = None


def _segments(path: str) -> list[str]:
    """Split a raw path into segments, refusing dot segments and encoded slashes (404)."""
    if not path.startswith("/"):
        raise not_found_path()
    parts = path[1:].split("/")
    for i, p in enumerate(parts):
        decoded = unquote(p)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            raise not_found_path()
        # Empty segments are only tolerated as a trailing slash.
        if p == "" and i != len(parts) - 1:
            raise not_found_path()
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    return parts


def service_name(segment: str) -> str:
    """The Service name in a proxy path segment ``name``, ``name:port`` or ``scheme:name:port``.

    Same forms as k8s.io/apimachinery/pkg/util/net ``SplitSchemeNamePort``.
    """
    pieces = unquote(segment).split(":")
    if len(pieces) == 3:
        return pieces[1]
    return pieces[0]


#: Discovery and OpenAPI documents (``/openapi/v3/<group-version>`` is matched by prefix).
DISCOVERY_PATHS = frozenset(
    {
        "/api",
        "/api/v1",
        "/apis",
        "/version",
        "/openapi/v2",
        "/openapi/v3",
        "/apis/events.k8s.io",
        "/apis/events.k8s.io/v1",
    }
)


def match(method: str, path: str) -> Route:
    """Match ``method`` and raw ``path`` against the allowlist.

    Returns the :class:`Route`; raises GatewayError 404 (path not served) or 405 (verb not
    allowed on a served path).
    """
    segs = _segments(path)
    norm = "/" + "/".join(segs)
    if norm == RAY_PREFIX or norm == "/apis/ray.io":
        return _check(method, READ_VERBS, Route(Kind.DISCOVERY, "discovery"))
    if norm.startswith(RAY_PREFIX + "/"):
        return _check(method, ALL_VERBS, _ray_route(segs[3:]))
    n = len(segs)
    # /api/v1/namespaces/{ns}/configmaps[/{name}]: compute-template ConfigMaps only
    if n in (5, 6) and segs[:3] == ["api", "v1", "namespaces"] and segs[4] == "configmaps":
        verbs = TEMPLATE_COLLECTION_VERBS if n == 5 else TEMPLATE_ITEM_VERBS
        name = unquote(segs[5]) if n == 6 else None
        route = Route(
            Kind.TEMPLATE_CONFIGMAPS, "template-configmaps", unquote(segs[3]), None, "", "configmaps", name
        )
        return _check(method, verbs, route)
    # KubeRay APIServer V1: /apis/v1/namespaces/{ns}/compute_templates[/{name}], /apis/v1/compute_templates
    if n in (5, 6) and segs[:3] == ["apis", "v1", "namespaces"] and segs[4] == "compute_templates":
        verbs = frozenset({"GET", "POST"}) if n == 5 else frozenset({"GET", "DELETE"})
        name = unquote(segs[5]) if n == 6 else None
        route = Route(
            Kind.COMPUTE_TEMPLATES, "compute-templates", unquote(segs[3]), None, "", "compute_templates", name
        )
        return _check(method, verbs, route)
    if segs == ["apis", "v1", "compute_templates"]:
        route = Route(Kind.COMPUTE_TEMPLATES, "compute-templates", None, None, "", "compute_templates")
        return _check(method, READ_VERBS, route)
    # /api/v1/namespaces/{ns}/services/{svc}/proxy[/...]
    if n >= 7 and segs[:3] == ["api", "v1", "namespaces"] and segs[4] == "services" and segs[6] == "proxy":
        return Route(Kind.SERVICE_PROXY, "service-proxy", segs[3], service_name(segs[5]))
    if n == 5 and segs[:3] == ["api", "v1", "namespaces"] and segs[4] == "events":
        return _check(method, READ_VERBS, Route(Kind.EVENTS, "events-core", segs[3]))
    if n == 6 and segs[:4] == ["apis", "events.k8s.io", "v1", "namespaces"] and segs[5] == "events":
        return _check(method, READ_VERBS, Route(Kind.EVENTS, "events", segs[4]))
    if norm in DISCOVERY_PATHS or norm.startswith("/openapi/v3/"):
        return _check(method, READ_VERBS, Route(Kind.DISCOVERY, "discovery"))
    raise not_found_path()


def _ray_route(rest: list[str]) -> Route:
    """The route of ``/apis/ray.io/v1/<rest>``: namespaced ``namespaces/{ns}/{plural}[/{name}[/{sub}]]``
    or cluster-wide ``{plural}[/...]``; path parts percent-decoded."""
    ns: str | None = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        ns, rest = unquote(rest[1]), rest[2:]
    parts = [unquote(p) for p in rest]
    resource = parts[0] if parts else None
    name = parts[1] if len(parts) >= 2 else None
    sub = "/".join(parts[2:]) if len(parts) >= 3 else None
    return Route(Kind.RAY, "ray", ns, None, "ray.io", resource, name, sub)


def _check(method: str, allowed: frozenset[str], route: Route) -> Route:
    if method not in allowed:
        raise method_not_allowed(method)
    return route


def force_field_selector(query: str, api: str) -> str:
    """Return ``query`` (a raw query string) with the Ray field selector ANDed into ``fieldSelector``.

    ``api`` is ``"events.k8s.io"`` or ``"core"``. Every other parameter (``labelSelector``,
    ``limit``, ``watch``...) is kept; several ``fieldSelector`` parameters are joined with ``,``
    (AND), as the API server reads only one and a caller may have split theirs.
    """
    forced = EVENTS_SELECTOR[api]
    pairs = parse_qsl(query, keep_blank_values=True)
    selectors = [v for k, v in pairs if k == "fieldSelector" and v]
    others = [(k, v) for k, v in pairs if k != "fieldSelector"]
    others.append(("fieldSelector", ",".join([*selectors, forced])))
    return urlencode(others)


def is_kuberay_service(service: dict[str, object]) -> bool:
    """Whether a Service object carries ``app.kubernetes.io/name=kuberay`` in ``metadata.labels``."""
    metadata = service.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    key, value = KUBERAY_SERVICE_LABEL
    return isinstance(labels, dict) and labels.get(key) == value
