"""API discovery documents: ``/api``, ``/apis``, ``/apis/{group}``, ``/apis/{group}/{version}``,
``/api/v1`` and ``/version``, in the legacy (unaggregated) shapes of ``meta/v1`` ``APIVersions``,
``APIGroupList``, ``APIGroup`` and ``APIResourceList``.

The served groups and resources come from a :class:`fakekube._registry.kinds.ServedKinds` (built-in kinds
plus installed CRDs); a group's versions are listed preferred first, in kube-aware version order
(``ray.io``: ``v1``, then ``v1alpha1``). Aggregated discovery (``apidiscovery.k8s.io/v2``, what
kubectl asks for first) is built from the same per-version documents (:func:`aggregated`).
"""

from __future__ import annotations

import base64
import hashlib

from fakekube._registry.kinds import ServedKinds
from fakekube._resources import ResourceType
from kubeapi.types import JSON

#: The Kubernetes version fakekube answers on /version (the client the project tests with).
KUBE_MAJOR, KUBE_MINOR = "1", "37"


def version_info() -> JSON:
    """``/version``: a ``version.Info``."""
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": f"v{KUBE_MAJOR}.{KUBE_MINOR}.0-fakekube",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> JSON:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(registry: ServedKinds, group: str) -> JSON | None:
    """``/apis/{group}``: an ``APIGroup``, or None when not served."""
    versions = registry.group_versions().get(group)
    if not versions:
        return None
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": gvs,
        "preferredVersion": gvs[0],
    }


def api_group_list(registry: ServedKinds) -> JSON:
    """``/apis``: every served non-core group."""
    groups = [api_group(registry, g) for g in sorted(registry.group_versions())]
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{k: v for k, v in g.items() if k not in ("kind", "apiVersion")} for g in groups if g],
    }


def _hash(rt: ResourceType) -> str:
    """storageVersionHash: base64 of the first 8 bytes of sha256("group/version/Kind") of the
    storage version (``apiserver/pkg/endpoints/discovery.StorageVersionHash``)."""
    group = "" if rt.storage == "events" else rt.group  # events.k8s.io Events are stored as core v1
    version = rt.stored_version or rt.version
    digest = hashlib.sha256(f"{group}/{version}/{rt.kind}".encode()).digest()[:8]
    return base64.b64encode(digest).decode()


# The CRD handler lists verbs in this order; built-in resources sort them.
_CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


def _entry(rt: ResourceType) -> JSON:
    e: JSON = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(_CRD_VERBS) if rt.custom else sorted(rt.verbs),
    }
    if rt.short_names:
        e["shortNames"] = list(rt.short_names)
    if rt.categories:
        e["categories"] = list(rt.categories)
    e["storageVersionHash"] = _hash(rt)
    return e


def api_resource_list(registry: ServedKinds, group: str, version: str) -> JSON | None:
    """``/apis/{group}/{version}`` or ``/api/v1``: an ``APIResourceList``, or None when not served."""
    types = registry.group_version(group, version)
    if not types:
        return None
    resources: list[JSON] = []
    for rt in types.values():
        resources.append(_entry(rt))
        for sub in sorted(rt.subresources):
            if sub == "proxy":
                resources.append(
                    {
                        "name": f"{rt.plural}/proxy",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": "ServiceProxyOptions",
                        "verbs": ["create", "delete", "get", "patch", "update"],
                    }
                )
            elif sub == "scale":
                resources.append(
                    {
                        "name": f"{rt.plural}/scale",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "group": "autoscaling",
                        "version": "v1",
                        "kind": "Scale",
                        "verbs": ["get", "patch", "update"],
                    }
                )
            else:
                resources.append(
                    {
                        "name": f"{rt.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        # pods/log is read-only (log.go implements rest.GetterWithOptions only)
                        "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                    }
                )
    resources.sort(key=lambda r: str(r["name"]))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


#: The media type of aggregated discovery documents (``apidiscovery.k8s.io/v2``).
AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def aggregated(registry: ServedKinds, core: bool) -> JSON:
    """``/api`` (``core``) or ``/apis`` as an aggregated ``APIGroupDiscoveryList``: every group with
    its versions (preferred first) and their resources, subresources nested under their resource
    (``k8s.io/api/apidiscovery/v2`` types; served by ``apiserver/pkg/endpoints/discovery/aggregated``).
    Built from the same per-version documents as the unaggregated discovery."""
    groups = {"": ["v1"]} if core else dict(sorted(registry.group_versions().items()))
    items: list[JSON] = []
    for group, versions in groups.items():
        out_versions: list[JSON] = []
        for version in versions:
            doc = api_resource_list(registry, group, version)
            if doc is None:
                continue
            resources: dict[str, JSON] = {}
            for r in doc["resources"]:
                name, _, sub = r["name"].partition("/")
                # a subresource of another kind (scale: autoscaling/v1 Scale) names its group/version
                kind = {"group": r.get("group", group), "version": r.get("version", version)}
                kind["kind"] = r["kind"]
                if sub:
                    entry = {"subresource": sub, "responseKind": kind, "verbs": r["verbs"]}
                    resources[name].setdefault("subresources", []).append(entry)
                    continue
                e: JSON = {
                    "resource": name,
                    "responseKind": kind,
                    "scope": "Namespaced" if r["namespaced"] else "Cluster",
                    "singularResource": r["singularName"],
                    "verbs": r["verbs"],
                }
                for k in ("shortNames", "categories"):
                    if k in r:
                        e[k] = r[k]
                resources[name] = e
            out_versions.append(
                {"version": version, "resources": list(resources.values()), "freshness": "Current"}
            )
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": out_versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
