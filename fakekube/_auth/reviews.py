"""The review APIs: created, answered, never stored.

- ``authentication.k8s.io/v1`` ``TokenReview`` (``pkg/registry/authentication/tokenreview/storage.go``):
  ``spec.token`` is required (400); the token is checked with the server's authenticator for
  ``spec.audiences`` (default: the server's API audiences; a static token is audience-agnostic,
  ``authenticator.WrapAudienceAgnosticToken``: it authenticates for the requested audiences that
  are among the API audiences and not at all when none is); the answer is the request with
  ``status.authenticated``, ``status.user`` and ``status.audiences``, or ``status.user: {}`` and
  ``status.error: "invalid bearer token"``.
- ``SelfSubjectReview`` (authentication.k8s.io/v1): ``status.userInfo`` is the requesting user.
- ``authorization.k8s.io/v1`` ``SubjectAccessReview``, ``SelfSubjectAccessReview``,
  ``LocalSubjectAccessReview`` (``pkg/registry/authorization/*/rest.go`` and
  ``pkg/apis/authorization/validation``): the spec's attributes are decided by the server's
  authorizer; the answer is the request with ``status.allowed`` and ``status.reason`` (omitted
  when empty). Validation errors are 422 ``Invalid`` for the empty kind in the group (Go passes
  the internal kind, so the message reads ``.authorization.k8s.io "" is invalid: ...``).

``metadata.managedFields`` of the answer holds the ``Update`` entry of the request's field manager,
as kube-apiserver's create handler computes it before the review's ``Create`` runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from fakekube._auth.authentication import TokenFile
from fakekube._auth.rbac import Decision
from fakekube._registry import managedfields
from fakekube._registry.objects import now
from fakekube._resources import (
    LOCALSUBJECTACCESSREVIEWS,
    SELFSUBJECTACCESSREVIEWS,
    SELFSUBJECTREVIEWS,
    TOKENREVIEWS,
    ResourceType,
)
from kubeapi.authn import Attributes, UserInfo
from kubeapi.status import new_bad_request, new_invalid, status_cause
from kubeapi.types import JSON

__all__ = ["answer_review"]

_AUTHZ = "authorization.k8s.io"


# Go struct field order of the specs (the order kube-apiserver writes them in).
_SPEC_ORDER = {
    "TokenReview": ("token", "audiences"),
    "SubjectAccessReview": ("resourceAttributes", "nonResourceAttributes", "user", "groups", "extra", "uid"),
}
_RESOURCE_ATTRIBUTES_ORDER = (
    "namespace",
    "verb",
    "group",
    "version",
    "resource",
    "subresource",
    "name",
    "fieldSelector",
    "labelSelector",
)


def _ordered(kind: str, spec: JSON) -> JSON:
    """``spec`` with its fields in Go struct order (unknown fields dropped, as decoding drops them)."""
    order = _SPEC_ORDER["TokenReview" if kind == "TokenReview" else "SubjectAccessReview"]
    out: JSON = {k: spec[k] for k in order if k in spec}
    ra = out.get("resourceAttributes")
    if isinstance(ra, dict):
        out["resourceAttributes"] = {k: ra[k] for k in _RESOURCE_ATTRIBUTES_ORDER if k in ra}
    return out


def _invalid(field: str, value: Any, detail: str) -> Exception:
    shown = "null" if value is None else json.dumps(value)
    return new_invalid(
        _AUTHZ, "", "", [status_cause("FieldValueInvalid", f"Invalid value: {shown}: {detail}", field)]
    )


def _attributes(user: UserInfo, spec: JSON) -> Attributes:
    """The authorizer attributes of a SubjectAccessReview spec (``authorizationutil.ResourceAttributesFrom``
    / ``NonResourceAttributesFrom``)."""
    ra = spec.get("resourceAttributes")
    if ra is not None:
        return Attributes(
            user,
            ra.get("verb", ""),
            api_group=ra.get("group", ""),
            api_version=ra.get("version", ""),
            namespace=ra.get("namespace", ""),
            resource=ra.get("resource", ""),
            subresource=ra.get("subresource", ""),
            name=ra.get("name", ""),
        )
    na = spec.get("nonResourceAttributes") or {}
    return Attributes(user, na.get("verb", ""), resource_request=False, path=na.get("path", ""))


def _check_one_of(spec: JSON) -> None:
    if (spec.get("resourceAttributes") is None) == (spec.get("nonResourceAttributes") is None):
        raise _invalid(
            "spec", None, "exactly one of nonResourceAttributes or resourceAttributes must be specified"
        )


def _status(d: Decision) -> JSON:
    out: JSON = {"allowed": d.allowed}
    if d.reason:
        out["reason"] = d.reason
    return out


def answer_review(
    rt: ResourceType,
    body: JSON,
    namespace: str,
    requestor: UserInfo | None,
    tokens: TokenFile | None,
    authorize: Callable[[Attributes], Decision],
    api_audiences: Sequence[str],
    manager: str,
) -> JSON:
    """The answer (201 body) of creating the review ``body`` of kind ``rt`` in ``namespace`` (only
    LocalSubjectAccessReview has one) for ``requestor`` (None when authentication is off); raises
    the 400/422 StatusError of an invalid review."""
    raw_spec = body.get("spec")
    spec: JSON = _ordered(rt.kind, raw_spec) if isinstance(raw_spec, dict) else {}
    out: JSON = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": dict(body.get("metadata") or {})}
    if rt is TOKENREVIEWS:
        status = _token_review(spec, tokens, api_audiences)
    elif rt is SELFSUBJECTREVIEWS:
        # selfsubjectreview REST: ObjectMeta{CreationTimestamp: now}, the caller's user info.
        out["metadata"]["creationTimestamp"] = now()
        status = {"userInfo": (requestor or UserInfo("")).to_json()}
    elif rt is SELFSUBJECTACCESSREVIEWS:
        _check_one_of(spec)
        status = _status(authorize(_attributes(requestor or UserInfo(""), spec)))
    else:
        if not spec.get("user") and not spec.get("groups"):
            raise _invalid("spec.user", "", "at least one of user or group must be specified")
        _check_one_of(spec)
        if rt is LOCALSUBJECTACCESSREVIEWS:
            if spec.get("nonResourceAttributes") is not None:
                raise _invalid(
                    "spec.nonResourceAttributes",
                    spec["nonResourceAttributes"],
                    "disallowed on this kind of request",
                )
            ns = spec["resourceAttributes"].get("namespace", "")
            if ns != namespace:
                raise _invalid("spec.resourceAttributes.namespace", ns, "must match metadata.namespace")
            out["metadata"]["namespace"] = namespace
        user = UserInfo.of(
            spec.get("user", ""), spec.get("uid", ""), spec.get("groups") or (), spec.get("extra")
        )
        status = _status(authorize(_attributes(user, spec)))
    fields = managedfields.created_fields({"spec": spec} if spec else {}, managedfields.schema_root(rt, None))
    fields.get("f:spec", {}).pop(".", None)  # a struct field of the typed object: no "." entry
    if fields and manager:
        entry = managedfields.make_entry(manager, "Update", rt.api_version, now(), frozenset(), None)
        entry["fieldsV1"] = fields
        out["metadata"]["managedFields"] = [entry]
    if rt is not SELFSUBJECTREVIEWS:
        out["spec"] = spec
    out["status"] = status
    return out


def _token_review(spec: JSON, tokens: TokenFile | None, api_audiences: Sequence[str]) -> JSON:
    token = spec.get("token") or ""
    if not token:
        raise new_bad_request("token is required for TokenReview in authentication")
    wanted = list(spec.get("audiences") or api_audiences)
    user = tokens.lookup(token) if tokens is not None else None
    granted = [a for a in wanted if a in api_audiences]
    if user is None or not granted:
        return {"user": {}, "error": "invalid bearer token"}
    status: JSON = {"authenticated": True, "user": user.to_json()}
    status["audiences"] = granted
    return status
