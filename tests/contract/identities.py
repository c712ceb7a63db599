"""The test identities of issue 12, the same in refkube and fakekube.

Who they are (``/work/notes/identity-interface.md``; the names are fixed):

- ``admin``: group ``system:masters`` (every request allowed, RBAC bypassed); sets things up.
- ``alice``: bound by the Role ``ray-editor`` in namespace :data:`TEAM_NS` (``team-a``): all
  verbs on ``rayclusters``, ``rayjobs``, ``rayservices``, ``raycronjobs`` (ray.io, with their
  ``status`` subresources), ``configmaps``, ``services/proxy``; read on ``services``, ``pods``
  and ``events`` (core and events.k8s.io). Nothing anywhere else.
- ``bob``: authenticated (a valid token), no bindings at all.
- ``kuberay-gateway``: the gateway's own identity: the ClusterRole ``kuberay-gateway`` allows
  ``impersonate`` on ``users``, ``groups``, ``serviceaccounts`` (core) and on every
  ``authentication.k8s.io`` resource (``uids``, ``userextras/<key>``), ``create`` on
  ``tokenreviews`` and ``subjectaccessreviews``; nothing on Ray objects.

Each has a static bearer token in a kube-apiserver ``--token-auth-file`` (CSV
``token,user,uid,"group1,group2"``: kubernetes.io/docs/reference/access-authn-authz/authentication
``#static-token-file``; k8s.io/apiserver ``plugin/pkg/authenticator/token/tokenfile``). Tokens are
random per test run (:data:`IDENTITIES` is built at import); ``admin``'s token is the one the
server itself generated (refkube writes it to its kubeconfig), so it is not in this file.

How a server is started with them:

- refkube: ``refkube ... --token-auth-file FILE`` (lines added to its own admin line; refkube
  always runs ``--authorization-mode=RBAC`` and ``--anonymous-auth=false``), FILE from
  :func:`write_token_auth_file`; then :func:`apply_rbac` with the admin target creates
  namespace ``team-a`` and the RBAC objects of :func:`rbac_manifests`.
- fakekube: ``fakekube serve --token-auth-file FILE --authorization-mode RBAC`` with a FILE that
  also has an admin line (``write_token_auth_file(path, admin_token=...)``), then the same
  :func:`apply_rbac`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ALICE",
    "BOB",
    "GATEWAY",
    "IDENTITIES",
    "TEAM_NS",
    "Identity",
    "apply_rbac",
    "rbac_manifests",
    "token_auth_line",
    "write_kubeconfig",
    "write_token_auth_file",
]

#: The namespace where alice may work on Ray objects.
TEAM_NS = "team-a"


@dataclass(frozen=True)
class Identity:
    """One test user: ``name``, ``uid``, ``groups`` as the token file gives them, and its token.

    The server adds ``system:authenticated`` to the groups of every authenticated user
    (k8s.io/apiserver ``pkg/authentication/group/authenticated_group_adder.go``).
    """

    name: str
    uid: str
    groups: tuple[str, ...] = ()
    token: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def groups_seen(self) -> list[str]:
        """The groups a server reports for this user (token file groups + system:authenticated)."""
        return [*self.groups, "system:authenticated"]


ALICE = Identity("alice", "uid-alice", ("ray-users",))
BOB = Identity("bob", "uid-bob")
GATEWAY = Identity("kuberay-gateway", "uid-kuberay-gateway", ("kuberay-gateways",))
#: Every non-admin identity, by name.
IDENTITIES: dict[str, Identity] = {i.name: i for i in (ALICE, BOB, GATEWAY)}


def token_auth_line(token: str, name: str, uid: str, groups: tuple[str, ...] | list[str]) -> str:
    """One ``--token-auth-file`` CSV line (groups quoted, comma-separated; no groups column for a
    user without groups: kube-apiserver reads an empty column as the one group ``""``)."""
    if not groups:
        return f"{token},{name},{uid}\n"
    return f'{token},{name},{uid},"{",".join(groups)}"\n'


def write_token_auth_file(path: Path, admin_token: str | None = None) -> Path:
    """Write the identities' token file to ``path`` (mode 0600), with an ``admin`` line in
    ``system:masters`` first when ``admin_token`` is given (fakekube needs it; refkube has its
    own). Returns ``path``."""
    lines = [token_auth_line(admin_token, "admin", "admin", ["system:masters"])] if admin_token else []
    lines += [token_auth_line(i.token, i.name, i.uid, i.groups) for i in IDENTITIES.values()]
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path


_RAY_KINDS = ["rayclusters", "rayjobs", "rayservices", "raycronjobs"]


def rbac_manifests() -> list[dict[str, Any]]:
    """The RBAC objects (rbac.authorization.k8s.io/v1) that give the identities their rights."""
    rbac = "rbac.authorization.k8s.io/v1"
    editor_rules: list[dict[str, Any]] = [
        {
            "apiGroups": ["ray.io"],
            "resources": _RAY_KINDS + [f"{k}/status" for k in _RAY_KINDS],
            "verbs": ["*"],
        },
        {"apiGroups": [""], "resources": ["configmaps", "services/proxy"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["services", "pods", "events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    ]
    gateway_rules: list[dict[str, Any]] = [
        {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["*"], "verbs": ["impersonate"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ]
    return [
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": "ray-editor", "namespace": TEAM_NS},
            "rules": editor_rules,
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {"name": "alice-ray-editor", "namespace": TEAM_NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ray-editor"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": ALICE.name}],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": "kuberay-gateway"},
            "rules": gateway_rules,
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "kuberay-gateway"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "kuberay-gateway",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": GATEWAY.name}],
        },
    ]


def _collection(obj: dict[str, Any]) -> str:
    plural = {"Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles"}
    kind = obj["kind"]
    base = "/apis/rbac.authorization.k8s.io/v1"
    ns = obj["metadata"].get("namespace")
    resource = plural.get(kind, "clusterrolebindings")
    return f"{base}/namespaces/{ns}/{resource}" if ns else f"{base}/{resource}"


def apply_rbac(client: httpx.Client) -> None:
    """Create namespace :data:`TEAM_NS` and the objects of :func:`rbac_manifests` through
    ``client`` (an admin client: base URL and credentials set). Idempotent: 409 AlreadyExists is
    accepted. Raises RuntimeError on any other non-201 answer."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TEAM_NS}}
    for path, body in [("/api/v1/namespaces", ns), *((_collection(o), o) for o in rbac_manifests())]:
        r = client.post(path, json=body)
        if r.status_code not in (201, 409):
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:500]}")


def write_kubeconfig(path: Path, server: str, identity: Identity, ca_file: str | None = None) -> Path:
    """A kubeconfig for ``identity`` (its bearer token) against ``server`` (CA file optional);
    e.g. the gateway's own credentials as ``kuberay-gateway``. Returns ``path`` (mode 0600)."""
    import yaml

    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = ca_file
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": identity.name, "user": {"token": identity.token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": identity.name}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path
