"""From a request's :class:`kubeapi.requestinfo.RequestInfo` to the resource it targets and the
verbs that resource serves there.

Paths follow the apiserver (``/api/v1/...``,
``/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]``); verbs map as in
``k8s.io/apiserver/pkg/endpoints/installer.go`` (built-in kinds: only the routes it registers,
anything else 405) and ``k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_handler.go``
(custom resources: every verb of the main resource, ``create`` also on an object URL; ``/status``
and ``/scale`` only get/update/patch; any other verb ``MethodNotSupported``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fakekube import _apierrors as errors
from fakekube._registry.kinds import ServedKinds
from fakekube._resources import ResourceType
from kubeapi.requestinfo import RequestInfo


@dataclass(frozen=True, slots=True)
class Target:
    """A resource URL: the resource ``rt``, its ``namespace`` (None = all / cluster-scoped), the
    object ``name`` (None = the collection), the subresource ``sub`` and, for ``proxy``, the raw
    rest of the path ``rest``."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None
    rest: str


def resolve(kinds: ServedKinds, info: RequestInfo) -> Target:
    """The target of a resource request. Raises 404: the core group's (go-restful) Status or,
    under a served group, the mux's plain-text ``404 page not found``; an unknown subresource of
    a custom resource is a NotFound of the object, as the CRD handler answers."""
    group = info.api_group
    missing = errors.page_not_found() if group else errors.path_not_found()
    if info.verb_via_path:
        raise missing  # the legacy /watch/ and /proxy/ prefixes are not served
    parts = info.parts
    # requestinfo.go also gives a namespace object's own name (``namespaces/NAME[/status]``) as
    # the namespace: it is the target's only when ``namespaces/NS/`` came before the resource.
    base = 2 if info.api_prefix == "api" else 3
    consumed = info.path.strip("/").count("/") + 1 - len(parts) - base == 2
    ns: str | None = info.namespace if consumed else None
    rt = kinds.lookup(group, info.api_version, info.resource)
    if rt is None or (ns is not None and not rt.namespaced):
        raise missing
    name = info.name or None
    sub = info.subresource or None
    if len(parts) > 3 and sub != "proxy":
        raise missing
    if sub is not None and sub not in rt.subresources:
        raise errors.not_found(rt, name or "") if rt.custom else missing
    if ns is None and rt.namespaced and name is not None:
        raise missing
    return Target(rt, ns, name, sub, info.proxy_path if sub == "proxy" else "")


def verb_of(info: RequestInfo) -> str:
    """The Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection), or
    the lower-case method for one without (``options``; ``head``, which requestinfo.go reads as
    ``get`` but no fakekube route serves, as go-restful registers GET routes only)."""
    if info.method == "HEAD":
        return "head"
    return info.verb or info.method.lower()


def check_verb(t: Target, verb: str) -> None:
    """Raise 404/405 unless ``verb`` is served at ``t`` (see the module docstring)."""
    rt = t.rt
    if rt.custom:
        if t.namespace is None and rt.namespaced and verb not in ("list", "watch"):
            raise errors.page_not_found()
        if t.sub in ("status", "scale") and verb not in ("get", "update", "patch"):
            raise errors.method_not_supported(rt, verb)
        if verb not in _VERBS:
            raise errors.method_not_supported(rt, verb)
        if verb in ("update", "patch") and t.name is None:
            raise errors.bad_request("name must be provided")
        return
    if t.name is None:
        allowed = {"list", "watch", "deletecollection"} | (
            {"create"} if t.namespace or not rt.namespaced else set()
        )
    elif t.sub == "status":
        allowed = {"get", "update", "patch"}
    elif t.sub == "log":
        allowed = {"get"}
    else:
        allowed = {"get", "update", "patch", "delete"}
    if verb not in allowed or verb not in {*rt.verbs, "get"}:
        raise errors.method_not_allowed()


_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})
