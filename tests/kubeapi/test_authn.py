"""kubeapi.authn: impersonation headers as client-go writes them, 403/401 as kube-apiserver words them."""

from __future__ import annotations

from kubeapi.authn import (
    Attributes,
    UserInfo,
    forbidden,
    impersonation_headers,
    unauthorized,
    unescape_extra_key,
)


def test_impersonation_headers_percent_encode_extra_keys_as_client_go() -> None:
    user = UserInfo.of("alice", "u-1", ["team-a", "dev"], {"example.com/scopes": ["a", "b"], "k": ["v"]})
    assert impersonation_headers(user) == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Uid", "u-1"),
        ("Impersonate-Group", "team-a"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Extra-example.com%2Fscopes", "a"),
        ("Impersonate-Extra-example.com%2Fscopes", "b"),
        ("Impersonate-Extra-k", "v"),
    ]
    assert unescape_extra_key("example.com%2Fscopes") == "example.com/scopes"


def test_user_info_json_omits_empty_fields() -> None:
    assert UserInfo.of("bob").to_json() == {"username": "bob"}
    assert hash(UserInfo.of("bob", extra={"a": ["1"]})) == hash(UserInfo.of("bob", extra={"a": ["1"]}))


def test_forbidden_words_the_denial_as_kube_apiserver() -> None:
    alice = UserInfo.of("alice")
    err = forbidden(
        Attributes(
            alice, "list", api_group="ray.io", api_version="v1", namespace="default", resource="rayclusters"
        )
    )
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == (
        'rayclusters.ray.io is forbidden: User "alice" cannot list resource "rayclusters" '
        'in API group "ray.io" in the namespace "default"'
    )
    named = forbidden(
        Attributes(alice, "get", resource="configmaps", subresource="", name="x"), "no RBAC policy matched"
    )
    assert named.message == (
        'configmaps "x" is forbidden: User "alice" cannot get resource "configmaps" in API group "" '
        "at the cluster scope: no RBAC policy matched"
    )
    path = forbidden(Attributes(alice, "get", resource_request=False, path="/metrics"))
    assert path.message == 'forbidden: User "alice" cannot get path "/metrics"'
    assert unauthorized().code == 401 and unauthorized().message == "Unauthorized"
