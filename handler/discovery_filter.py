"""Discovery and OpenAPI documents, filtered to what the gateway serves.

``kubectl`` learns which resources exist from ``/api`` and ``/apis``: in one round trip each when
they answer aggregated discovery (``apidiscovery.k8s.io/v2``, ``APIGroupDiscoveryList``, what
client-go asks for first: k8s.io/client-go/discovery/discovery_client.go ``acceptDiscoveryFormats``
and aggregated_discovery.go), else from the legacy ``/api``, ``/apis``, ``/api/v1`` and
``/apis/{group}/{version}`` documents, one more request per group-version; it validates with
``/openapi/v3``. The gateway answers both forms (:func:`filter_aggregated` for the first). The upstream's
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


#: The media type of aggregated discovery (``apidiscovery.k8s.io/v2``), asked for and answered.
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#: What the gateway asks the upstream for on ``/api`` and ``/apis`` when its caller asks for
#: aggregated discovery: v2, else the legacy document (client-go's own ``acceptDiscoveryFormats``).
AGGREGATED_ACCEPT = f"{AGGREGATED_V2},application/json"


def is_aggregated(doc: Any) -> bool:
    """Whether a decoded discovery document is an aggregated ``APIGroupDiscoveryList`` (v2)."""
    return (
        isinstance(doc, dict)
        and doc.get("kind") == "APIGroupDiscoveryList"
        and doc.get("apiVersion") == "apidiscovery.k8s.io/v2"
    )


def _aggregated_core_resource(r: Any) -> Any:
    """A core v1 ``APIResourceDiscovery`` reduced as :data:`CORE_RESOURCES` says, or None to drop it.

    A resource served only through a subresource (``services``, for ``services/proxy``) stays with
    no verbs of its own (client-go then lists only the subresource; ``kubectl api-resources`` skips
    resources without verbs), as aggregated discovery cannot name a subresource without its parent.
    """
    if not isinstance(r, dict) or not isinstance(r.get("resource"), str):
        return None
    name = r["resource"]
    subs = [
        sub
        for sub in r.get("subresources") or []
        if isinstance(sub, dict) and f"{name}/{sub.get('subresource')}" in CORE_RESOURCES
    ]
    if name not in CORE_RESOURCES and not subs:
        return None
    out = dict(r)
    verbs = CORE_RESOURCES.get(name, [])
    if verbs is not None:
        out["verbs"] = verbs
    kept_subs = []
    for sub in subs:
        sub_verbs = CORE_RESOURCES[f"{name}/{sub['subresource']}"]
        kept_subs.append(sub if sub_verbs is None else {**sub, "verbs": sub_verbs})
    if kept_subs:
        out["subresources"] = kept_subs
    else:
        out.pop("subresources", None)
    return out


def _aggregated_version(group: str, version: Any) -> Any:
    """An ``APIVersionDiscovery`` of ``group`` reduced to the served resources, or None to drop it."""
    if not isinstance(version, dict) or not isinstance(version.get("resources"), list):
        return None
    resources = version["resources"]
    if group == "":
        if version.get("version") != "v1":
            return None
        kept = [r for r in map(_aggregated_core_resource, resources) if r is not None]
    elif f"{group}/{version.get('version')}" not in SERVED_VERSIONS:
        return None
    elif group == "events.k8s.io":
        kept = [
            {**r, "verbs": ["list", "watch"]}
            for r in resources
            if isinstance(r, dict) and r.get("resource") == "events"
        ]
    else:
        kept = list(resources)
    return {**version, "resources": kept}


def filter_aggregated(doc: Any) -> Any:
    """An aggregated ``APIGroupDiscoveryList`` (``/api`` or ``/apis``, ``apidiscovery.k8s.io/v2``:
    ``items[].metadata.name`` the group, ``items[].versions[].resources[]`` with nested
    ``subresources``) reduced to what the gateway serves: core v1 as :data:`CORE_RESOURCES` says,
    ``ray.io/v1`` whole, ``events.k8s.io/v1`` ``events`` (list, watch). Groups and versions left
    empty are dropped; the versions keep their order (the first is the preferred one)."""
    if not is_aggregated(doc) or not isinstance(doc.get("items"), list):
        return doc
    items = []
    for item in doc["items"]:
        metadata = item.get("metadata") if isinstance(item, dict) else None
        group = metadata.get("name", "") if isinstance(metadata, dict) else None
        if group is None or (group != "" and group not in SERVED_GROUPS):
            continue
        versions = [v for v in (_aggregated_version(group, v) for v in item.get("versions") or []) if v]
        if versions:
            items.append({**item, "versions": versions})
    return {**doc, "items": items}


def _as_is(doc: Any) -> Any:
    """A document kept whole (``/api``'s ``APIVersions``), still fetched as legacy JSON so that no
    caller ``Accept`` can have the upstream answer another form unfiltered."""
    return doc


FILTERS: dict[str, Filter] = {
    "/api": _as_is,
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
