"""Authorization by ``SubjectAccessReview``: may this user do exactly this (verb, group, version,
resource, subresource, namespace, name; or non-resource path and verb)?

Used by the impersonating modes (``token-review``, ``oidc``, ``client-certificate``,
``request-header``) for each request and for each lookup the gateway makes for it, before anything
goes upstream. As kube-apiserver's webhook authorizer
(k8s.io/apiserver/plugin/pkg/authorizer/webhook/webhook.go ``Authorize``: one review per
attributes, decisions cached with separate allowed and denied TTLs, ``--authorization-webhook-
cache-authorized-ttl`` / ``-unauthorized-ttl``) and kube-rbac-proxy (pkg/filters/auth.go
``WithAuthorization``: a denied request is 403, a review that fails is 500). Decisions are keyed on
the whole :class:`kubeapi.authn.Attributes` (user included), so one user's decision is never
another's.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING

from handler.auth.cache import TTLCache
from handler.auth.reviews import SUBJECT_ACCESS_REVIEWS, access_review
from kubeapi.authn import Attributes, forbidden
from kubeapi.status import StatusError

if TYPE_CHECKING:
    from handler.upstream_client import UpstreamClient

log = logging.getLogger("handler.auth.authorizer")

__all__ = ["Decision", "SubjectAccessReviewer"]

#: ``(allowed, reason)`` of one review.
Decision = tuple[bool, str]


class SubjectAccessReviewer:
    """Reviews attributes with the gateway's own credentials (it needs ``create`` on
    ``subjectaccessreviews``); ``allowed_ttl`` / ``denied_ttl`` are seconds a decision is reused."""

    def __init__(self, upstream: UpstreamClient, allowed_ttl: float, denied_ttl: float) -> None:
        self.upstream = upstream
        self.allowed_ttl = allowed_ttl
        self.denied_ttl = denied_ttl
        self.cache: TTLCache[Decision] = TTLCache()

    def _ttl(self, decision: Decision) -> float:
        return self.allowed_ttl if decision[0] else self.denied_ttl

    async def review(self, attrs: Attributes, key: Hashable = None) -> tuple[Decision, bool]:
        """``((allowed, reason), cached)`` for ``attrs``, cached under ``key`` (default: ``attrs``
        itself; a caller that has the same fields in a cheaper hashable form may pass that);
        StatusError 500 when the review could not be made (503/504 when the upstream cannot be
        reached)."""
        return await self.cache.get(attrs if key is None else key, lambda: self._review(attrs), self._ttl)

    def cached(self, key: Hashable) -> Decision | None:
        """The unexpired decision under ``key``, or None."""
        return self.cache.peek(key)

    async def authorize(self, attrs: Attributes) -> bool:
        """Raise the 403 ``Forbidden`` kube-apiserver words (:func:`kubeapi.authn.forbidden`)
        unless ``attrs`` are allowed; returns whether the decision came from the cache."""
        (allowed, reason), cached = await self.review(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
        return cached

    async def _review(self, attrs: Attributes) -> Decision:
        status, obj = await self.upstream.send_json(
            "POST", SUBJECT_ACCESS_REVIEWS, access_review(attrs), route="authorization"
        )
        answer = obj.get("status") if isinstance(obj, dict) else None
        if status not in (200, 201) or not isinstance(answer, dict):
            log.error(
                "SubjectAccessReview for user %s failed: the API server answered %s", attrs.user.name, status
            )
            raise StatusError(
                500,
                "InternalError",
                "Internal error occurred: the gateway could not review access: "
                f"SubjectAccessReview answered {status}",
            )
        allowed = answer.get("allowed") is True and answer.get("denied") is not True
        reason = answer.get("reason")
        return allowed, reason if isinstance(reason, str) else ""
