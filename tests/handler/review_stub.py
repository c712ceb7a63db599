"""A TokenReview / SelfSubjectReview / SubjectAccessReview answerer for :class:`StubUpstream`.

Answers the three review APIs as kube-apiserver would for a static token table (its
``--token-auth-file``) and an allow-list of access rules, so the gateway's authentication modes can
be tested against the stub upstream: ``stub.responder = Reviews(...)``. Only the gateway's own
token may create TokenReviews and SubjectAccessReviews (403 otherwise, as RBAC would answer a
caller without ``create`` on them); a SelfSubjectReview describes whoever's token it carries. Every
other request falls through to the stub's script (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeapi.authn import UserInfo
from tests.handler.gateway_stub import Reply, Seen

GATEWAY_TOKEN = "gateway-token"

#: ``rule(spec) -> bool``: whether a SubjectAccessReview ``spec`` is allowed.
Rule = Callable[[dict[str, Any]], bool]


def _json(status: int, obj: Any) -> Reply:
    return Reply(status=status, body=json.dumps(obj).encode())


def _status(code: int, reason: str, message: str) -> Reply:
    return _json(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def resource_rule(user: str, verbs: set[str], group: str, resource: str, namespace: str) -> Rule:
    """A Role-like rule: ``user`` may ``verbs`` on ``group``/``resource`` in ``namespace``."""

    def rule(spec: dict[str, Any]) -> bool:
        attrs = spec.get("resourceAttributes") or {}
        return (
            spec.get("user") == user
            and attrs.get("verb") in verbs
            and attrs.get("group", "") == group
            and attrs.get("resource") == resource
            and attrs.get("namespace", "") == namespace
        )

    return rule


@dataclass
class Reviews:
    """The responder: ``tokens`` maps a bearer token to its user; ``rules`` allow access reviews;
    ``audiences`` are those every token is valid for (a TokenReview asking another is not
    authenticated). Records what it reviewed in ``token_reviews`` / ``access_reviews`` (specs)."""

    tokens: dict[str, UserInfo]
    rules: list[Rule] = field(default_factory=list)
    audiences: tuple[str, ...] = ("https://kubernetes.default.svc",)
    token_reviews: list[dict[str, Any]] = field(default_factory=list)
    access_reviews: list[dict[str, Any]] = field(default_factory=list)
    self_reviews: int = 0

    def _bearer(self, seen: Seen) -> str:
        return seen.headers.get("authorization", "").removeprefix("Bearer ")

    def __call__(self, seen: Seen) -> Reply | None:
        """The review's answer, or None for any other request."""
        path = seen.path.split("?", 1)[0]
        if seen.method != "POST" or not path.startswith(
            ("/apis/authentication.k8s.io/", "/apis/authorization.k8s.io/")
        ):
            return None
        body = json.loads(seen.body or b"{}")
        spec = body.get("spec") or {}
        if path.endswith("/selfsubjectreviews"):
            self.self_reviews += 1
            user = self.tokens.get(self._bearer(seen))
            if user is None:
                return _status(401, "Unauthorized", "Unauthorized")
            return _json(201, {**body, "status": {"userInfo": user.to_json()}})
        if self._bearer(seen) != GATEWAY_TOKEN:
            return _status(403, "Forbidden", "the caller may not create reviews")
        if path.endswith("/tokenreviews"):
            self.token_reviews.append(spec)
            user = self.tokens.get(spec.get("token", ""))
            wanted = spec.get("audiences") or []
            if user is None or any(a not in self.audiences for a in wanted):
                return _json(
                    201, {**body, "status": {"authenticated": False, "error": "invalid bearer token"}}
                )
            status: dict[str, Any] = {"authenticated": True, "user": user.to_json()}
            status["audiences"] = wanted or list(self.audiences)
            return _json(201, {**body, "status": status})
        if path.endswith("/subjectaccessreviews"):
            self.access_reviews.append(spec)
            allowed = any(rule(spec) for rule in self.rules)
            return _json(201, {**body, "status": {"allowed": allowed}})
        return None
