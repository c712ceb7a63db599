"""What the gateway's own service account must be allowed, per authentication mode, and a set of
things it must NOT be allowed: the expectations of the chart's RBAC (infra/helm/kuberay-apiserver
templates/rbac.yaml), checked statically (tests/deploy/test_chart.py) and against refkube's RBAC
authorizer with SubjectAccessReviews (tests/contract/test_deploy_refkube.py).

Derived from the gateway, not from the chart: whether a mode impersonates comes from
``handler.auth.modes.MODES``; what ``none`` serves with its own rights comes from the route table
(handler/routes.py: the Ray kinds with every verb, template ConfigMaps without patch, events read,
``services`` get for the KubeRay Service check, ``services/proxy`` every method); TokenReview only in
``token-review`` (handler/auth/token_review.py), SubjectAccessReview in every impersonating mode
(handler/auth/authorizer.py), as README "Security" lists.
"""

from __future__ import annotations

from typing import NamedTuple

from handler.auth.modes import get_mode

RAY_KINDS = ("rayclusters", "rayjobs", "rayservices", "raycronjobs")
RAY_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


class Access(NamedTuple):
    """One SubjectAccessReview question: verb on group/resource[/subresource] in namespace ('' = cluster)."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""


def impersonation_needs(mode: str) -> set[Access]:
    """The cluster-scoped rights of an impersonating ``mode`` (empty for the others)."""
    if not get_mode(mode).impersonates:
        return set()
    needs = {
        Access("impersonate", "", "users"),
        Access("impersonate", "", "groups"),
        Access("impersonate", "", "serviceaccounts"),
        Access("impersonate", "authentication.k8s.io", "uids"),
        Access("impersonate", "authentication.k8s.io", "userextras", "scopes"),
        Access("create", "authorization.k8s.io", "subjectaccessreviews"),
    }
    if mode == "token-review":
        needs.add(Access("create", "authentication.k8s.io", "tokenreviews"))
    return needs


def ray_needs(namespace: str) -> set[Access]:
    """What ``none`` needs in ``namespace``: the API the gateway serves, with its own rights."""
    out = {Access(v, "ray.io", k, "", namespace) for k in RAY_KINDS for v in RAY_VERBS}
    out |= {
        Access(v, "ray.io", k, "status", namespace) for k in RAY_KINDS for v in ("get", "update", "patch")
    }
    out |= {
        Access(v, "", "configmaps", "", namespace)
        for v in ("get", "list", "watch", "create", "update", "delete")
    }
    out |= {
        Access(v, g, "events", "", namespace) for v in ("get", "list", "watch") for g in ("", "events.k8s.io")
    }
    out.add(Access("get", "", "services", "", namespace))
    out |= {
        Access(v, "", "services", "proxy", namespace) for v in ("get", "create", "update", "patch", "delete")
    }
    return out


def needs(mode: str, namespaces: tuple[str, ...]) -> set[Access]:
    """Everything the service account must be allowed in ``mode``; ``namespaces`` are the ones a
    ``none`` install serves (a ClusterRole covers any, so callers pass the ones they probe)."""
    out = impersonation_needs(mode)
    if mode == "none":
        for ns in namespaces:
            out |= ray_needs(ns)
    return out


def must_not(mode: str, served: tuple[str, ...], other: str) -> set[Access]:
    """Rights the service account must NOT have in ``mode``: Ray objects unless ``none`` (and then
    not in ``other``, a namespace a single-namespace install does not serve), secrets, pods, patch
    on ConfigMaps, writes to events and Services, TokenReviews outside token-review, impersonation
    outside the impersonating modes, and anything cluster-wide like nodes. ``other`` is empty for
    a cluster-wide ``none`` install (every namespace is served)."""
    out = {
        Access("get", "", "secrets", "", served[0]),
        Access("list", "", "secrets"),
        Access("create", "", "pods", "", served[0]),
        Access("patch", "", "configmaps", "", served[0]),
        Access("create", "", "events", "", served[0]),
        Access("update", "", "services", "", served[0]),
        Access("get", "", "nodes"),
        Access("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
        Access("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    }
    if mode != "none":
        out |= {Access("get", "ray.io", k, "", served[0]) for k in RAY_KINDS}
        out |= {
            Access("create", "ray.io", "rayclusters", "", other or "default"),
            Access("list", "ray.io", "rayjobs"),
        }
        out.add(Access("get", "", "services", "proxy", served[0]))
        out.add(Access("get", "", "configmaps", "", served[0]))
    elif other:
        out |= {Access("get", "ray.io", k, "", other) for k in RAY_KINDS}
        out |= {Access("list", "ray.io", "rayclusters"), Access("get", "", "configmaps", "", other)}
    if mode != "token-review":
        out.add(Access("create", "authentication.k8s.io", "tokenreviews"))
    if not get_mode(mode).impersonates:
        out |= {Access("impersonate", "", "users"), Access("impersonate", "", "groups")}
        out.add(Access("create", "authorization.k8s.io", "subjectaccessreviews"))
    return out
