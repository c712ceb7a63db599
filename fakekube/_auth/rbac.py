"""The RBAC authorizer over the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.

Follows k8s.io/kubernetes ``plugin/pkg/auth/authorizer/rbac/rbac.go`` (``RBACAuthorizer``) and
``pkg/registry/rbac/validation/rule.go`` (``DefaultRuleResolver.VisitRulesFor``):
ClusterRoleBindings first, then (for a namespaced request) the RoleBindings of that namespace (in
name order here; kube-apiserver lists its informer cache, a map, so when several bindings allow a
request the one its reason names varies from call to call); a
binding applies when one of its subjects is the user (``User``), one of its groups (``Group``) or
its service account (``ServiceAccount``, namespace defaulted to the binding's); the first rule of
the referenced role that allows the request decides (``pkg/apis/rbac/v1/evaluation_helpers.go``:
verbs, apiGroups, resources with ``resource/subresource`` and ``*/subresource``, resourceNames;
nonResourceURLs with ``*`` and trailing-``*`` prefixes). The reason of an allow is
``RBAC: allowed by RoleBinding "name/ns" of Role "r" to User "u"``; a denial has no reason unless a
binding referred to a missing role (``RBAC: <error>``, several errors as ``[e1, e2]``). RBAC never
denies outright (``NoOpinion``).

:func:`authorize` puts the ``system:masters`` bypass first (kube-apiserver's
``authorizerfactory.NewPrivilegedGroups``, reason ``""``). :data:`BOOTSTRAP_POLICY` are the objects
of ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`` a user-facing test relies on
(``cluster-admin``, ``system:discovery``, ``system:basic-user``, ``system:public-info-viewer`` and
their bindings); the rest of the bootstrap policy (controller roles, aggregated ``admin``/``edit``/
``view``) is not created. Not done either: the escalation check on writes of roles and bindings
(``pkg/registry/rbac/*/policybased``) — fakekube stores them as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fakekube._resources import CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES
from fakekube._storage.store import Store, object_key
from kubeapi.authn import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, Attributes, UserInfo

__all__ = ["BOOTSTRAP_POLICY", "SYSTEM_MASTERS", "Decision", "authorize", "rule_allows"]

#: user.SystemPrivilegedGroup: allowed everything without RBAC.
SYSTEM_MASTERS = "system:masters"
_SA_PREFIX = "system:serviceaccount:"
_RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorizer's answer: ``allowed`` and the ``reason`` (``""`` when none)."""

    allowed: bool
    reason: str = ""


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """``RuleAllows``: whether one PolicyRule (JSON) allows ``attrs``."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    if not _resource_matches(rule.get("resources") or [], combined, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _resource_matches(resources: list[str], combined: str, subresource: str) -> bool:
    for r in resources:
        if r == "*" or r == combined:
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def _url_matches(urls: list[str], path: str) -> bool:
    for u in urls:
        if u == "*" or u == path:
            return True
        if u.endswith("*") and path.startswith(u.rstrip("*")):
            return True
    return False


def _applies(user: UserInfo, subject: dict[str, Any], namespace: str) -> bool:
    """``appliesToUser``."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or namespace
        return bool(ns) and user.name == f"{_SA_PREFIX}{ns}:{name}"
    return False


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    """``describeSubject``: ``User "alice"``, ``ServiceAccount "name/ns"``."""
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name", "")}/{subject.get("namespace") or binding_ns}"'
    return f'{subject.get("kind", "")} "{subject.get("name", "")}"'


def _role_rules(store: Store, ref: dict[str, Any], binding_ns: str) -> tuple[list[dict[str, Any]], str]:
    """``GetRoleReferenceRules``: the rules of the referenced role, or ``([], error text)``."""
    kind, name = ref.get("kind"), ref.get("name", "")
    if kind == "Role":
        found = store.get(ROLES.storage_key, object_key(binding_ns, name))
        missing = f'role.rbac.authorization.k8s.io "{name}" not found'
    elif kind == "ClusterRole":
        found = store.get(CLUSTERROLES.storage_key, object_key(None, name))
        missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
    else:
        return [], f'unsupported role reference kind: "{kind}"'
    if found is None:
        return [], missing
    return list(found.obj.get("rules") or []), ""


def _bindings(store: Store, namespace: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(binding namespace or "", binding) pairs: ClusterRoleBindings, then the namespace's RoleBindings."""
    for _, s in store.scan(CLUSTERROLEBINDINGS.storage_key):
        yield "", s.obj
    if namespace:
        for _, s in store.scan(ROLEBINDINGS.storage_key, prefix=namespace + "/"):
            yield namespace, s.obj


def rbac_authorize(store: Store, attrs: Attributes) -> Decision:
    """``RBACAuthorizer.Authorize`` over the objects in ``store`` (never a denial, see module)."""
    errors: list[str] = []
    for binding_ns, binding in _bindings(store, attrs.namespace):
        subject = next(
            (s for s in binding.get("subjects") or [] if _applies(attrs.user, s, binding_ns)), None
        )
        if subject is None:
            continue
        ref = binding.get("roleRef") or {}
        rules, err = _role_rules(store, ref, binding_ns)
        if err:
            errors.append(err)
            continue
        for rule in rules:
            if rule_allows(attrs, rule):
                name = binding["metadata"]["name"]
                what = f'RoleBinding "{name}/{binding_ns}"' if binding_ns else f'ClusterRoleBinding "{name}"'
                who = _describe_subject(subject, binding_ns)
                return Decision(
                    True, f'RBAC: allowed by {what} of {ref.get("kind")} "{ref.get("name")}" to {who}'
                )
    if not errors:
        return Decision(False)
    return Decision(False, "RBAC: " + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"))


def authorize(store: Store, attrs: Attributes) -> Decision:
    """kube-apiserver's authorizer chain for ``--authorization-mode=RBAC``: ``system:masters``
    allowed (reason ``""``), else :func:`rbac_authorize`."""
    if SYSTEM_MASTERS in attrs.user.groups:
        return Decision(True)
    return rbac_authorize(store, attrs)


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    }


def _cluster_binding(name: str, *groups: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "subjects": [{"kind": "Group", "apiGroup": _RBAC_GROUP, "name": g} for g in groups],
        "roleRef": {"apiGroup": _RBAC_GROUP, "kind": "ClusterRole", "name": name},
    }


_HEALTH = ["/livez", "/readyz", "/healthz", "/version", "/version/"]

#: (ClusterRoles, ClusterRoleBindings) of the bootstrap policy fakekube creates (see module).
BOOTSTRAP_POLICY: tuple[list[dict[str, Any]], list[dict[str, Any]]] = (
    [
        _cluster_role(
            "cluster-admin",
            [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["*"], "nonResourceURLs": ["*"]},
            ],
        ),
        _cluster_role(
            "system:discovery",
            [
                {
                    "verbs": ["get"],
                    "nonResourceURLs": [
                        *_HEALTH[:3],
                        "/version",
                        "/version/",
                        "/openapi",
                        "/openapi/*",
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                    ],
                }
            ],
        ),
        _cluster_role(
            "system:basic-user",
            [
                {
                    "verbs": ["create"],
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                },
                {
                    "verbs": ["create"],
                    "apiGroups": ["authentication.k8s.io"],
                    "resources": ["selfsubjectreviews"],
                },
            ],
        ),
        _cluster_role("system:public-info-viewer", [{"verbs": ["get"], "nonResourceURLs": _HEALTH}]),
    ],
    [
        _cluster_binding("cluster-admin", SYSTEM_MASTERS),
        _cluster_binding("system:discovery", ALL_AUTHENTICATED),
        _cluster_binding("system:basic-user", ALL_AUTHENTICATED),
        _cluster_binding("system:public-info-viewer", ALL_AUTHENTICATED, ALL_UNAUTHENTICATED),
    ],
)
