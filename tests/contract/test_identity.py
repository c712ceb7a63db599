"""Identity and authorization against the real kube-apiserver and fakekube (issue 12).

Targets: ``refkube`` (RBAC, static tokens, anonymous access off: see ``tests.contract.conftest``)
and ``fakekube-auth`` (``fakekube serve --token-auth-file F --authorization-mode RBAC``, with the
same identities and RBAC objects, and refkube's API audiences: ``tests.contract.targets``). Who the identities are and what
they may do: ``tests.contract.identities``.

Every check runs on both targets; where the issue asks for "the same answer as refkube" the
fakekube answer is compared with refkube's (normalised: times, uids and resourceVersions
dropped) and recorded in the conformance summary as scenario ``identity:<name>``.
"""

# ruff: noqa: E501  (the case tables read best one case a line)
from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.contract.client import Target
from tests.contract.identities import (
    ALICE,
    BOB,
    GATEWAY,
    IDENTITIES,
    TEAM_NS,
    Identity,
)
from tests.contract.results import RESULTS, Comparison
from tests.contract.targets import AUDIT_LOGS, audit_events

TARGETS = ["refkube", "fakekube-auth"]
RAY = "/apis/ray.io/v1"
UA = {"User-Agent": "identity-contract/1.0"}


def _target(request: pytest.FixtureRequest, name: str) -> Target:
    if name == "refkube":
        return request.getfixturevalue("refkube").target  # type: ignore[no-any-return]
    return request.getfixturevalue("fakekube_auth")  # type: ignore[no-any-return]


def _client(t: Target, who: Identity | None, **headers: str) -> httpx.Client:
    """A client of ``t`` as ``who`` (no credentials when None) with extra ``headers``."""
    base = Target(t.name, t.url, token=who.token if who else None, verify=t.verify)
    c = base.client()
    c.headers.update({**UA, **headers})
    return c


def _raycluster(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}},
            }
        },
    }


_VOLATILE = {"time", "resourceVersion", "creationTimestamp", "token"}


def _norm(v: Any, parent: str = "") -> Any:
    """A body without per-run values (times, object uids, resourceVersions, tokens)."""
    if isinstance(v, dict):
        drop = _VOLATILE | ({"uid"} if parent == "metadata" else set())
        return {k: _norm(x, k) for k, x in v.items() if k not in drop}
    if isinstance(v, (list, tuple)):
        return [_norm(x, parent) for x in v]
    return v


def _agree(request: pytest.FixtureRequest, scenario: str, target: str, got: Any, send: Any) -> None:
    """On fakekube-auth: ``got`` (normalised) must equal refkube's answer to ``send(refkube)``;
    recorded in the conformance summary. On refkube: nothing to compare."""
    if target == "refkube":
        return
    want = send(_target(request, "refkube"))
    diffs = [] if _norm(got) == _norm(want) else [f"fakekube {_norm(got)!r} != refkube {_norm(want)!r}"[:600]]
    RESULTS.add(Comparison(f"identity:{scenario}", target, diffs))
    assert not diffs, diffs[0]


def _answer(r: httpx.Response) -> tuple[int, Any]:
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


# -- direct: RBAC, authentication -------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_alice_creates_and_lists_rayclusters_in_team_a(request: pytest.FixtureRequest, target: str) -> None:
    t = _target(request, target)
    name = f"rc-{uuid.uuid4().hex[:8]}"
    with _client(t, ALICE) as c:
        r = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
        assert r.status_code == 201, r.text
        r = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
        assert r.status_code == 200, r.text
        assert name in [i["metadata"]["name"] for i in r.json()["items"]]


def _list_default(t: Target, who: Identity | None, ns: str = "default") -> tuple[int, Any]:
    with _client(t, who) as c:
        return _answer(c.get(f"{RAY}/namespaces/{ns}/rayclusters"))


@pytest.mark.parametrize("target", TARGETS)
def test_alice_is_forbidden_in_default_with_the_apiservers_status(
    request: pytest.FixtureRequest, target: str
) -> None:
    t = _target(request, target)
    got = _list_default(t, ALICE)
    assert got[0] == 403
    assert got[1]["message"] == (
        'rayclusters.ray.io is forbidden: User "alice" cannot list resource "rayclusters" '
        'in API group "ray.io" in the namespace "default"'
    )
    _agree(request, "alice-list-default", target, got, lambda ref: _list_default(ref, ALICE))
    with _client(t, ALICE) as c:
        r = c.post(f"{RAY}/namespaces/default/rayclusters", json=_raycluster("x"))
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("target", TARGETS)
def test_bob_without_bindings_is_forbidden(request: pytest.FixtureRequest, target: str) -> None:
    t = _target(request, target)
    got = _list_default(t, BOB, TEAM_NS)
    assert got[0] == 403
    _agree(request, "bob-list-team-a", target, got, lambda ref: _list_default(ref, BOB, TEAM_NS))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("credentials", ["none", "unknown-token", "empty-bearer", "basic"])
def test_no_or_bad_credentials_are_401(request: pytest.FixtureRequest, target: str, credentials: str) -> None:
    t = _target(request, target)
    headers = {
        "none": {},
        "unknown-token": {"Authorization": "Bearer not-a-token"},
        "empty-bearer": {"Authorization": "Bearer  x"},  # Go: SplitN gives an empty token
        "basic": {"Authorization": "Basic YWxpY2U6cHc="},
    }[credentials]

    def send(tt: Target) -> tuple[int, Any]:
        with _client(tt, None, **headers) as c:
            return _answer(c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters"))

    got = send(t)
    assert got[0] == 401
    assert got[1]["reason"] == "Unauthorized"
    _agree(request, f"401-{credentials}", target, got, send)


# -- TokenReview, SubjectAccessReview ----------------------------------------------------------


def _token_review(t: Target, token: str, audiences: list[str] | None = None) -> tuple[int, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    with _client(t, GATEWAY) as c:
        return _answer(c.post("/apis/authentication.k8s.io/v1/tokenreviews", json=body))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("token", ["alice", "bob", "kuberay-gateway", "unknown", "wrong-audience"])
def test_token_review_answers_agree(request: pytest.FixtureRequest, target: str, token: str) -> None:
    t = _target(request, target)
    secret = IDENTITIES[token].token if token in IDENTITIES else ALICE.token if token != "unknown" else "nope"
    audiences = ["somebody-else"] if token == "wrong-audience" else None
    got = _token_review(t, secret, audiences)
    assert got[0] == 201, got
    status = got[1]["status"]
    if token in IDENTITIES:
        who = IDENTITIES[token]
        assert status["authenticated"] is True
        assert status["user"] == {"username": who.name, "uid": who.uid, "groups": who.groups_seen}
    else:
        assert "authenticated" not in status
    _agree(request, f"tokenreview-{token}", target, got, lambda ref: _token_review(ref, secret, audiences))


@pytest.mark.parametrize("target", TARGETS)
def test_token_review_needs_create_on_tokenreviews(request: pytest.FixtureRequest, target: str) -> None:
    t = _target(request, target)

    def send(tt: Target) -> tuple[int, Any]:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": ALICE.token},
        }
        with _client(tt, BOB) as c:
            return _answer(c.post("/apis/authentication.k8s.io/v1/tokenreviews", json=body))

    got = send(t)
    assert got[0] == 403
    _agree(request, "tokenreview-by-bob", target, got, send)


# (user, resourceAttributes or nonResourceAttributes)
_SAR_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "alice-create-team-a": ("alice", {"namespace": TEAM_NS, "verb": "create", "group": "ray.io", "resource": "rayclusters"}),
    "alice-list-default": ("alice", {"namespace": "default", "verb": "list", "group": "ray.io", "resource": "rayclusters"}),
    "alice-status-team-a": ("alice", {"namespace": TEAM_NS, "verb": "update", "group": "ray.io", "resource": "rayclusters", "subresource": "status"}),
    "alice-proxy": ("alice", {"namespace": TEAM_NS, "verb": "get", "resource": "services", "subresource": "proxy", "name": "x"}),
    "alice-delete-pods": ("alice", {"namespace": TEAM_NS, "verb": "delete", "resource": "pods"}),
    "bob-get": ("bob", {"namespace": TEAM_NS, "verb": "get", "group": "ray.io", "resource": "rayclusters", "name": "a"}),
    "bob-self-review": ("bob", {"verb": "create", "group": "authorization.k8s.io", "resource": "selfsubjectaccessreviews"}),
    "gateway-impersonate": ("kuberay-gateway", {"verb": "impersonate", "resource": "users", "name": "alice"}),
    "gateway-impersonate-uid": ("kuberay-gateway", {"verb": "impersonate", "group": "authentication.k8s.io", "resource": "uids", "name": "u"}),
    "gateway-tokenreviews": ("kuberay-gateway", {"verb": "create", "group": "authentication.k8s.io", "resource": "tokenreviews"}),
    "gateway-rayclusters": ("kuberay-gateway", {"namespace": TEAM_NS, "verb": "list", "group": "ray.io", "resource": "rayclusters"}),
    "bob-impersonate": ("bob", {"verb": "impersonate", "resource": "users", "name": "alice"}),
    "bob-healthz": ("bob", {"path": "/healthz", "verb": "get"}),
    "bob-metrics": ("bob", {"path": "/metrics", "verb": "get"}),
    "alice-apis": ("alice", {"path": "/apis/ray.io/v1", "verb": "get"}),
}  # fmt: skip


#: Cases allowed by more than one binding (/healthz: system:discovery and system:public-info-viewer).
_SEVERAL_BINDINGS_ALLOW = frozenset({"bob-healthz"})


def _sar(t: Target, case: str) -> tuple[int, Any]:
    name, attrs = _SAR_CASES[case]
    who = IDENTITIES[name]
    key = "nonResourceAttributes" if "path" in attrs else "resourceAttributes"
    spec = {key: attrs, "user": who.name, "uid": who.uid, "groups": who.groups_seen}
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    with _client(t, GATEWAY) as c:
        return _answer(c.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=body))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(_SAR_CASES))
def test_subject_access_review_answers_agree(request: pytest.FixtureRequest, target: str, case: str) -> None:
    t = _target(request, target)

    def answer(tt: Target) -> tuple[int, Any]:
        code, body = _sar(tt, case)
        if case in _SEVERAL_BINDINGS_ALLOW:
            # kube-apiserver visits ClusterRoleBindings in informer-cache (map) order, so which of
            # the allowing bindings the reason names varies from call to call: keep only its form.
            reason = body["status"].pop("reason")
            assert reason.startswith("RBAC: allowed by ClusterRoleBinding "), reason
        return code, body

    got = answer(t)
    assert got[0] == 201, got
    _agree(request, f"sar-{case}", target, got, answer)


def _self_sar(t: Target, who: Identity, attrs: dict[str, Any]) -> tuple[int, Any]:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    with _client(t, who) as c:
        return _answer(c.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_self_subject_access_review_agrees(request: pytest.FixtureRequest, target: str, who: str) -> None:
    t = _target(request, target)
    attrs = {"namespace": TEAM_NS, "verb": "list", "group": "ray.io", "resource": "rayclusters"}
    got = _self_sar(t, IDENTITIES[who], attrs)
    assert got[0] == 201
    assert got[1]["status"]["allowed"] is (who == "alice")
    _agree(request, f"ssar-{who}", target, got, lambda ref: _self_sar(ref, IDENTITIES[who], attrs))


_LSAR_CASES: dict[str, dict[str, Any]] = {
    "same-namespace": {"user": "alice", "resourceAttributes": {"namespace": TEAM_NS, "verb": "get", "resource": "configmaps"}},
    "other-namespace": {"user": "alice", "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "configmaps"}},
    "no-namespace": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "configmaps"}},
    "no-user": {"resourceAttributes": {"namespace": TEAM_NS, "verb": "get", "resource": "configmaps"}},
    "no-attributes": {"user": "alice"},
}  # fmt: skip


def _lsar(t: Target, case: str) -> tuple[int, Any]:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "spec": _LSAR_CASES[case],
    }
    with t.client() as c:
        c.headers.update(UA)
        return _answer(
            c.post(f"/apis/authorization.k8s.io/v1/namespaces/{TEAM_NS}/localsubjectaccessreviews", json=body)
        )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(_LSAR_CASES))
def test_local_subject_access_review_agrees(request: pytest.FixtureRequest, target: str, case: str) -> None:
    t = _target(request, target)
    got = _lsar(t, case)
    assert got[0] == (201 if case == "same-namespace" else 422), got
    _agree(request, f"lsar-{case}", target, got, lambda ref: _lsar(ref, case))


# -- impersonation -----------------------------------------------------------------------------


def _as(
    t: Target, who: Identity, headers: dict[str, str], path: str = f"{RAY}/namespaces/{TEAM_NS}/rayclusters"
) -> tuple[int, Any]:
    with _client(t, who, **headers) as c:
        return _answer(c.get(path))


_IMPERSONATION_CASES: dict[str, tuple[Identity, dict[str, str], int]] = {
    "bob-as-alice": (BOB, {"Impersonate-User": "alice"}, 403),
    "bob-as-sa": (BOB, {"Impersonate-User": "system:serviceaccount:team-a:default"}, 403),
    "alice-as-alice-masters": (ALICE, {"Impersonate-User": "alice", "Impersonate-Group": "system:masters"}, 403),
    "bob-group-only": (BOB, {"Impersonate-Group": "system:masters"}, 400),
    "gateway-as-alice": (GATEWAY, {"Impersonate-User": "alice", "Impersonate-Uid": "uid-alice", "Impersonate-Group": "ray-users"}, 200),
    "gateway-as-bob": (GATEWAY, {"Impersonate-User": "bob"}, 403),
    "gateway-as-alice-extra": (GATEWAY, {"Impersonate-User": "alice", "Impersonate-Extra-Scopes": "view"}, 200),
}  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(_IMPERSONATION_CASES))
def test_impersonation_is_checked_as_the_apiserver_does(
    request: pytest.FixtureRequest, target: str, case: str
) -> None:
    """A user without ``impersonate`` gets 403 for ``Impersonate-User``; the gateway identity may
    impersonate alice (then alice's RBAC applies: bob has none, so 403)."""
    t = _target(request, target)
    who, headers, code = _IMPERSONATION_CASES[case]
    got = _as(t, who, headers)
    assert got[0] == code, got

    def answer(tt: Target) -> tuple[int, Any]:
        code, body = _as(tt, who, headers)
        return (code, body["kind"]) if code == 200 else (code, body)  # lists differ: other tests write

    _agree(request, f"impersonate-{case}", target, answer(t), answer)


def _whoami(t: Target, who: Identity, headers: dict[str, str]) -> tuple[int, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    with _client(t, who, **headers) as c:
        return _answer(c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=body))


@pytest.mark.parametrize("target", TARGETS)
def test_impersonated_requests_run_as_the_impersonated_user(
    request: pytest.FixtureRequest, target: str
) -> None:
    """What the server sees (SelfSubjectReview, the audit log's impersonatedUser) is alice, not
    the gateway (the audit log's user); the
    managedFields manager of an impersonated create is the User-Agent's, as kube-apiserver records
    it (the field manager never names a user)."""
    t = _target(request, target)
    headers = {"Impersonate-User": "alice", "Impersonate-Uid": "uid-alice", "Impersonate-Group": "ray-users"}
    got = _whoami(t, GATEWAY, headers)
    assert got[0] == 201, got
    assert got[1]["status"]["userInfo"] == {
        "username": "alice",
        "uid": "uid-alice",
        "groups": ALICE.groups_seen,
    }
    _agree(request, "selfsubjectreview-impersonated", target, got, lambda ref: _whoami(ref, GATEWAY, headers))
    name = f"rc-{uuid.uuid4().hex[:8]}"
    with _client(t, GATEWAY, **headers) as c:
        r = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
        assert r.status_code == 201, r.text
        assert [m["manager"] for m in r.json()["metadata"]["managedFields"]] == ["identity-contract"]
        (event,) = audit_events(AUDIT_LOGS[t.url], "create", "rayclusters", name)
        assert event["user"]["username"] == "kuberay-gateway"
        assert event["impersonatedUser"] == {
            "username": "alice",
            "uid": "uid-alice",
            "groups": ALICE.groups_seen,
        }
        r = c.post(f"{RAY}/namespaces/default/rayclusters", json=_raycluster(name))
        assert r.status_code == 403
        assert 'User "alice" cannot create' in r.json()["message"]
