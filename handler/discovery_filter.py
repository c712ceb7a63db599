"""Discovery and OpenAPI documents, filtered to what the gateway serves.

``kubectl`` learns which resources exist from ``/api``, ``/api/v1``, ``/apis`` and
``/apis/{group}/{version}`` (legacy discovery; the gateway asks the upstream with
``Accept: application/json`` only, so it never receives the aggregated
``apidiscovery.k8s.io/v2`` form and kubectl falls back to legacy discovery, see
k8s.io/client-go/discovery/discovery_client.go), and validates with ``/openapi/v3``. The upstream's
documents are fetched and reduced here so that they list only what the gateway serves:
the ``ray.io`` group, the ``events.k8s.io`` group (``events``, list and watch only) and, in core
``v1``, ``events`` (list and watch), ``services/proxy``, compute-template ``configmaps`` and
Ray ``pods`` (get, list, watch and ``pods/log``, :mod:`handler.raypods`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RAY_GROUP = "ray.io"
SERVED_GROUPS = frozenset({RAY_GROUP, "events.k8s.io"})
SERVED_VERSIONS = frozenset({"ray.io/v1", "events.k8s.io/v1"})
#: Core v1 resources the gateway serves (and the verbs it allows on them).
CORE_RESOURCES = {
    "events": ["list", "watch"],
    "services/proxy": None,
    # Ray pods, read-only (handler.raypods)
    "pods": ["get", "list", "watch"],
    "pods/log": ["get"],
    # compute-template ConfigMaps only (handler.template_api)
    "configmaps": ["create", "delete", "get", "list", "update", "watch"],
}
#: OpenAPI v3 group-version documents the gateway exposes (keys of ``/openapi/v3`` ``paths``).
OPENAPI_V3_PATHS = frozenset({"apis/ray.io/v1", "apis/events.k8s.io/v1", "api/v1", "version"})
#: Path prefixes kept in the OpenAPI v2 document.
OPENAPI_V2_PREFIXES = (
    "/apis/ray.io/",
    "/apis/events.k8s.io/",
    "/api/v1/namespaces/{namespace}/events",
    "/api/v1/namespaces/{namespace}/services/{name}/proxy",
)
#: Paths kept in the OpenAPI v2 document as they are (Ray pods: no other pod subresource).
OPENAPI_V2_PATHS = frozenset(
    {
        "/api/v1/namespaces/{namespace}/pods",
        "/api/v1/namespaces/{namespace}/pods/{name}",
        "/api/v1/namespaces/{namespace}/pods/{name}/log",
        "/api/v1/pods",
    }
)

Filter = Callable[[Any], Any]


def _filter_core_v1(doc: Any) -> Any:
    """``/api/v1`` APIResourceList reduced to :data:`CORE_RESOURCES`, with the verbs it lists."""
    if isinstance(doc, dict) and isinstance(doc.get("resources"), list):
        kept = []
        for r in doc["resources"]:
            if isinstance(r, dict) and r.get("name") in CORE_RESOURCES:
                verbs = CORE_RESOURCES[r["name"]]
                kept.append({**r, "verbs": verbs} if verbs is not None else r)
        doc["resources"] = kept
    return doc


def _filter_events_v1(doc: Any) -> Any:
    """``/apis/events.k8s.io/v1`` reduced to ``events`` with the verbs the gateway allows."""
    if isinstance(doc, dict) and isinstance(doc.get("resources"), list):
        doc["resources"] = [
            {**r, "verbs": ["list", "watch"]}
            for r in doc["resources"]
            if isinstance(r, dict) and r.get("name") == "events"
        ]
    return doc


def _served_group(group: Any) -> Any:
    """An APIGroup reduced to the versions the gateway serves (``ray.io/v1``, ``events.k8s.io/v1``).

    The official Ray CRDs also serve ``v1alpha1``; listing it would send kubectl to a path the
    gateway refuses (and make every kubectl command print a discovery error).
    """
    if isinstance(group, dict) and isinstance(group.get("versions"), list):
        versions = [
            v for v in group["versions"] if isinstance(v, dict) and v.get("groupVersion") in SERVED_VERSIONS
        ]
        group["versions"] = versions
        if versions and group.get("preferredVersion") not in versions:
            group["preferredVersion"] = versions[0]
    return group


def _filter_groups(doc: Any) -> Any:
    """``/apis`` APIGroupList reduced to the served groups and versions."""
    if isinstance(doc, dict) and isinstance(doc.get("groups"), list):
        doc["groups"] = [
            _served_group(g) for g in doc["groups"] if isinstance(g, dict) and g.get("name") in SERVED_GROUPS
        ]
    return doc


def _filter_openapi_v3(doc: Any) -> Any:
    """``/openapi/v3`` root reduced to the served group-versions."""
    if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
        doc["paths"] = {k: v for k, v in doc["paths"].items() if k in OPENAPI_V3_PATHS}
    return doc


def _filter_openapi_v2(doc: Any) -> Any:
    """``/openapi/v2`` with ``paths`` reduced to the served ones (definitions kept for references)."""
    if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
        doc["paths"] = {k: v for k, v in doc["paths"].items() if openapi_v2_path_served(k)}
    return doc


def openapi_v2_path_served(path: str) -> bool:
    """Whether an OpenAPI v2 ``paths`` key is one the gateway serves (kept in ``/openapi/v2``)."""
    return path.startswith(OPENAPI_V2_PREFIXES) or path in OPENAPI_V2_PATHS


FILTERS: dict[str, Filter] = {
    "/api/v1": _filter_core_v1,
    "/apis": _filter_groups,
    "/apis/ray.io": _served_group,
    "/apis/events.k8s.io": _served_group,
    "/apis/events.k8s.io/v1": _filter_events_v1,
    "/openapi/v3": _filter_openapi_v3,
    "/openapi/v2": _filter_openapi_v2,
}


def filter_for(path: str) -> Filter | None:
    """The filter for a discovery ``path`` (no trailing slash), or None to pass the document through."""
    return FILTERS.get(path.rstrip("/") or "/")


def allowed(path: str) -> bool:
    """Whether a discovery path is served at all (``/openapi/v3/<gv>`` only for served group-versions)."""
    path = path.rstrip("/")
    if path.startswith("/openapi/v3/"):
        return path[len("/openapi/v3/") :] in OPENAPI_V3_PATHS
    return True
