"""The review APIs the gateway asks the API server: TokenReview, SelfSubjectReview and
SubjectAccessReview, as request bodies and parsed answers.

- ``TokenReview`` (authentication.k8s.io/v1, k8s.io/api/authentication/v1/types.go): ``spec.token``
  and optional ``spec.audiences``; ``status.authenticated``, ``status.user``, ``status.audiences``.
  What kube-apiserver's webhook token authenticator sends
  (k8s.io/apiserver/plugin/pkg/authenticator/token/webhook/webhook.go) and kube-rbac-proxy's
  delegating authenticator asks (brancz/kube-rbac-proxy pkg/authn/delegating.go).
- ``SelfSubjectReview`` (authentication.k8s.io/v1, GA in Kubernetes 1.28): made with the caller's
  own token, it answers who that token is (``status.userInfo``); no permission of the gateway's
  is involved (RBAC's ``system:basic-user`` lets every authenticated user create one).
- ``SubjectAccessReview`` (authorization.k8s.io/v1, k8s.io/api/authorization/v1/types.go): the
  user and ``resourceAttributes`` (namespace, verb, group, version, resource, subresource, name)
  or ``nonResourceAttributes`` (path, verb); ``status.allowed``, ``status.denied``,
  ``status.reason``. What the webhook authorizer sends
  (k8s.io/apiserver/plugin/pkg/authorizer/webhook/webhook.go ``Authorize``).
"""

from __future__ import annotations

from typing import Any

from kubeapi.authn import Attributes, UserInfo

__all__ = [
    "SELF_SUBJECT_REVIEWS",
    "SUBJECT_ACCESS_REVIEWS",
    "TOKEN_REVIEWS",
    "access_review",
    "token_review",
    "user_from_json",
]

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def token_review(token: str, audience: str = "") -> dict[str, Any]:
    """The ``TokenReview`` asking about ``token`` (for ``audience`` when not empty)."""
    spec: dict[str, Any] = {"token": token}
    if audience:
        spec["audiences"] = [audience]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def user_from_json(obj: Any) -> UserInfo | None:
    """A ``UserInfo`` JSON object (``username``, ``uid``, ``groups``, ``extra``) as a
    :class:`UserInfo`; None when it has no string ``username``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("username"), str) or not obj["username"]:
        return None
    groups = obj.get("groups")
    extra = obj.get("extra")
    return UserInfo.of(
        obj["username"],
        str(obj.get("uid") or ""),
        [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else [],
        {str(k): [v for v in vs if isinstance(v, str)] for k, vs in extra.items() if isinstance(vs, list)}
        if isinstance(extra, dict)
        else None,
    )


def access_review(attrs: Attributes) -> dict[str, Any]:
    """The ``SubjectAccessReview`` for ``attrs`` (the user's name, uid, groups and extra, and the
    resource or non-resource attributes), as webhook.go's ``Authorize`` builds it."""
    user = attrs.user
    spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups)}
    if user.uid:
        spec["uid"] = user.uid
    if user.extra:
        spec["extra"] = user.extra_map
    if attrs.resource_request:
        spec["resourceAttributes"] = {
            "namespace": attrs.namespace,
            "verb": attrs.verb,
            "group": attrs.api_group,
            "version": attrs.api_version,
            "resource": attrs.resource,
            "subresource": attrs.subresource,
            "name": attrs.name,
        }
    else:
        spec["nonResourceAttributes"] = {"path": attrs.path, "verb": attrs.verb}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
