"""fakekube's opt-in authentication, impersonation and RBAC authorization (``fakekube._auth``).

The same behaviours are compared with the real kube-apiserver in ``tests/contract/test_identity.py``;
these run without refkube and pin the rules one at a time.
"""

# ruff: noqa: E501  (RBAC objects and expected messages read best on one line)
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakekube import FakeKube, create_app
from fakekube._auth.authentication import TokenFile
from fakekube._auth.rbac import rule_allows
from fakekube.testing import Client
from kubeapi.authn import Attributes, UserInfo

RBAC = "/apis/rbac.authorization.k8s.io/v1"
TOKENS = (
    'admintok,admin,admin,"system:masters"\nalicetok,alice,uid-a,"devs"\nbobtok,bob,uid-b\ngwtok,gw,uid-g\n'
)


def _h(token: str | None, **more: str) -> dict[str, str]:
    return ({"authorization": f"Bearer {token}"} if token else {}) | {
        k.replace("_", "-"): v for k, v in more.items()
    }


@pytest.fixture
def auth_client(tmp_path: Path, connect: Callable[[FakeKube], Client]) -> Client:
    """fakekube with the token file above, RBAC, alice allowed configmaps in team-a and gw allowed
    to impersonate users."""
    f = tmp_path / "tokens.csv"
    f.write_text(TOKENS)
    c = connect(create_app(token_auth_file=f, authorization_mode="RBAC", namespaces=("default", "team-a")))
    admin = _h("admintok")
    objs: list[tuple[str, dict[str, Any]]] = [
        (
            f"{RBAC}/namespaces/team-a/roles",
            {"metadata": {"name": "cm"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]}]},
        ),
        (
            f"{RBAC}/namespaces/team-a/rolebindings",
            {"metadata": {"name": "alice-cm"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"}, "subjects": [{"kind": "User", "name": "alice"}]},
        ),
        (
            f"{RBAC}/clusterroles",
            {"metadata": {"name": "imp"}, "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}]},
        ),
        (
            f"{RBAC}/clusterrolebindings",
            {"metadata": {"name": "gw-imp"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "imp"}, "subjects": [{"kind": "User", "name": "gw"}]},
        ),
    ]  # fmt: skip
    for path, obj in objs:
        kind = {"roles": "Role", "rolebindings": "RoleBinding", "clusterroles": "ClusterRole"}.get(
            path.rsplit("/", 1)[1], "ClusterRoleBinding"
        )
        r = c.send(
            "POST", path, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, **obj}, headers=admin
        )
        assert r.status == 201, r.read()
    return c


CM = "/api/v1/namespaces/team-a/configmaps"


def test_default_app_has_no_authentication(client: Client) -> None:
    assert client.send("GET", CM.replace("team-a", "default")).status == 200
    assert client.send("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles").json()["items"] == []


def test_no_or_unknown_credentials_are_401(auth_client: Client) -> None:
    for headers in ({}, _h("nope"), {"authorization": "Bearer  x"}):
        r = auth_client.send("GET", CM, headers=headers)
        assert r.status == 401
        assert r.json()["message"] == "Unauthorized"
    assert auth_client.send("GET", "/healthz").status == 401  # anonymous access is off


def test_rbac_allows_what_the_role_grants_and_no_more(auth_client: Client) -> None:
    assert auth_client.send("GET", CM, headers=_h("alicetok")).status == 200
    r = auth_client.send("DELETE", CM + "/x", headers=_h("alicetok"))
    assert r.status == 403
    assert r.json()["message"] == (
        'configmaps "x" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" '
        'in the namespace "team-a"'
    )
    r = auth_client.send("GET", CM.replace("team-a", "default"), headers=_h("alicetok"))
    assert r.status == 403
    assert auth_client.send("GET", CM, headers=_h("bobtok")).status == 403
    assert auth_client.send("GET", CM, headers=_h("admintok")).status == 200  # system:masters
    # the bootstrap system:discovery role
    assert auth_client.send("GET", "/apis", headers=_h("bobtok")).status == 200
    r = auth_client.send("GET", "/metrics", headers=_h("bobtok"))
    assert r.status == 403 and r.json()["message"] == 'forbidden: User "bob" cannot get path "/metrics"'


def test_a_binding_to_a_missing_role_is_the_reason_of_a_denial(auth_client: Client) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "dangling"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gone"},
        "subjects": [{"kind": "User", "name": "bob"}],
    }
    assert (
        auth_client.send(
            "POST", f"{RBAC}/namespaces/team-a/rolebindings", binding, headers=_h("admintok")
        ).status
        == 201
    )
    r = auth_client.send("GET", CM, headers=_h("bobtok"))
    assert r.status == 403
    assert r.json()["message"].endswith(': RBAC: role.rbac.authorization.k8s.io "gone" not found')


def test_impersonation_needs_the_impersonate_verb(auth_client: Client) -> None:
    r = auth_client.send("GET", CM, headers=_h("bobtok", impersonate_user="alice"))
    assert r.status == 403
    assert 'User "bob" cannot impersonate-on:user-info:list resource "configmaps"' in r.json()["message"]
    assert auth_client.send("GET", CM, headers=_h("gwtok", impersonate_user="alice")).status == 200
    # the impersonated user's own rights apply
    assert auth_client.send("GET", CM, headers=_h("gwtok", impersonate_user="bob")).status == 403
    # gw may impersonate users but not groups; legacy mode succeeded for gw last, so it is tried
    # first and its error is the answer (modeIndexCache, keyed by the requestor's name)
    r = auth_client.send("GET", CM, headers=_h("gwtok", impersonate_user="alice", impersonate_group="devs"))
    assert r.status == 403
    assert r.json()["message"] == (
        'groups "devs" is forbidden: User "gw" cannot impersonate resource "groups" in API group "" at the cluster scope'
    )
    r = auth_client.send("GET", CM, headers=_h("bobtok", impersonate_group="x"))
    assert r.status == 400 and "without impersonating a user name" in r.json()["message"]


def test_the_impersonated_user_is_who_the_server_sees(auth_client: Client) -> None:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    r = auth_client.send("POST", path, body, headers=_h("gwtok", impersonate_user="alice"))
    assert r.status == 201
    assert r.json()["status"]["userInfo"] == {"username": "alice", "groups": ["system:authenticated"]}
    r = auth_client.send("POST", path, body, headers=_h("alicetok"))
    assert r.json()["status"]["userInfo"] == {
        "username": "alice",
        "uid": "uid-a",
        "groups": ["devs", "system:authenticated"],
    }


def test_token_review_and_access_reviews(auth_client: Client) -> None:
    tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "alicetok"}}
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    status = auth_client.send("POST", path, tr, headers=_h("admintok")).json()["status"]
    assert status["authenticated"] is True
    assert status["user"] == {"username": "alice", "uid": "uid-a", "groups": ["devs", "system:authenticated"]}
    tr["spec"] = {"token": "nope"}
    assert auth_client.send("POST", path, tr, headers=_h("admintok")).json()["status"] == {
        "user": {},
        "error": "invalid bearer token",
    }
    tr["spec"] = {}
    assert auth_client.send("POST", path, tr, headers=_h("admintok")).status == 400
    sar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "resourceAttributes": {"namespace": "team-a", "verb": "get", "resource": "configmaps"},
        },
    }
    path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    assert auth_client.send("POST", path, sar, headers=_h("admintok")).json()["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "alice-cm/team-a" of Role "cm" to User "alice"',
    }
    assert auth_client.send("POST", path, sar, headers=_h("bobtok")).status == 403
    sar["spec"] = {"resourceAttributes": {"verb": "get"}}
    r = auth_client.send("POST", path, sar, headers=_h("admintok"))
    assert r.status == 422
    assert r.json()["message"] == (
        '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified'
    )


def test_token_file_is_read_as_kube_apiserver_reads_it() -> None:
    tf = TokenFile.parse('t1,u1,id1\nt2,u2,id2,""\n\n,skipped,x\nt3,u3,id3,"a,b",extra\n')
    assert tf.lookup("t1") == UserInfo("u1", "id1", ("system:authenticated",))
    assert tf.lookup("t2") == UserInfo("u2", "id2", ("", "system:authenticated"))  # strings.Split("", ",")
    assert tf.lookup("t3") == UserInfo("u3", "id3", ("a", "b", "system:authenticated"))
    assert tf.lookup("") is None and len(tf) == 3
    with pytest.raises(ValueError, match="at least 3 columns"):
        TokenFile.parse("t1,u1\n")


def test_unknown_authorization_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="Webhook"):
        create_app(authorization_mode="Webhook")


_WORD = st.sampled_from(
    ["", "*", "get", "list", "pods", "pods/log", "*/log", "ray.io", "x", "/api", "/api/*"]
)


@given(
    verbs=st.lists(_WORD, max_size=3),
    groups=st.lists(_WORD, max_size=3),
    resources=st.lists(_WORD, max_size=3),
    names=st.lists(_WORD, max_size=2),
    verb=st.sampled_from(["get", "list"]),
    group=st.sampled_from(["", "ray.io"]),
    resource=st.sampled_from(["pods", "x"]),
    sub=st.sampled_from(["", "log"]),
    name=st.sampled_from(["", "x"]),
)
def test_rule_matching_follows_evaluation_helpers(
    verbs: list[str],
    groups: list[str],
    resources: list[str],
    names: list[str],
    verb: str,
    group: str,
    resource: str,
    sub: str,
    name: str,
) -> None:
    """``RuleAllows`` restated from pkg/apis/rbac/v1/evaluation_helpers.go, checked on generated rules."""
    rule = {"verbs": verbs, "apiGroups": groups, "resources": resources, "resourceNames": names}
    attrs = Attributes(UserInfo("u"), verb, api_group=group, resource=resource, subresource=sub, name=name)
    combined = resource + ("/" + sub if sub else "")
    want = (
        ("*" in verbs or verb in verbs)
        and ("*" in groups or group in groups)
        and any(r in ("*", combined) or (sub and r == "*/" + sub) for r in resources)
        and (not names or name in names)
    )
    assert rule_allows(attrs, rule) == bool(want)


def test_audit_log_records_who_and_whom(tmp_path: Path, connect: Callable[[FakeKube], Client]) -> None:
    """kube-apiserver's audit event: ``user`` is who authenticated, ``impersonatedUser`` whom they
    act as; a create's objectRef names the created object; refused requests are logged too."""
    f = tmp_path / "tokens.csv"
    f.write_text(TOKENS)
    log = tmp_path / "audit.log"
    c = connect(create_app(token_auth_file=f, audit_log_path=log))  # AlwaysAllow: gw may impersonate
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}}
    assert (
        c.send(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body,
            headers=_h("gwtok", impersonate_user="alice"),
        ).status
        == 201
    )
    assert c.send("GET", "/api/v1/namespaces/default/configmaps", headers=_h("bobtok")).status == 200
    assert c.send("GET", "/api/v1/namespaces/default/configmaps").status == 401
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [
        (e["verb"], e["user"]["username"], e.get("impersonatedUser", {}).get("username")) for e in events
    ] == [
        ("create", "gw", "alice"),
        ("list", "bob", None),
    ]
    assert events[0]["objectRef"] == {
        "resource": "configmaps",
        "namespace": "default",
        "name": "cm1",
        "apiVersion": "v1",
    }
    assert events[0]["responseStatus"]["code"] == 201
    assert events[0]["impersonatedUser"]["groups"] == ["system:authenticated"]


_EXTRA_KEY = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Lu", "Lt")), min_size=1, max_size=12
)


@given(
    name=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
    uid=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=10),
    groups=st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=10), max_size=4),
    extra=st.dictionaries(
        _EXTRA_KEY,
        st.lists(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8), min_size=1, max_size=3
        ),
        max_size=3,
    ),
)
def test_impersonation_headers_round_trip(
    name: str, uid: str, groups: list[str], extra: dict[str, list[str]]
) -> None:
    """What the gateway sends (``kubeapi.authn.impersonation_headers``, client-go's encoding,
    percent-escaping extra keys) is what fakekube reads back (impersonation.go's decoding: header
    names lower-cased, keys unescaped), for hostile keys (``%``, ``/``, spaces, non-ASCII)."""
    from fakekube._auth.impersonation import wanted_user
    from kubeapi.authn import impersonation_headers

    user = UserInfo.of(name, uid, groups, extra)
    pairs = [(k.lower(), v) for k, v in impersonation_headers(user)]
    assert wanted_user(pairs) == user


def test_impersonation_without_a_user_name_is_400() -> None:
    from fakekube._auth.impersonation import wanted_user
    from kubeapi.status import StatusError

    assert wanted_user([("impersonate-user", "")]) is None
    with pytest.raises(StatusError) as e:
        wanted_user([("impersonate-user", ""), ("impersonate-extra-scopes", "a")])
    assert e.value.code == 400
    assert e.value.status()["message"] == (
        'requested &user.DefaultInfo{Name:"", UID:"", Groups:[]string(nil), '
        'Extra:map[string][]string{"scopes":[]string{"a"}}} without impersonating a user name'
    )
