"""``--authentication token-review``: the caller's bearer token is checked with a ``TokenReview``.

The gateway (its own credentials: it needs ``create`` on ``tokenreviews``) asks the API server
whether the token is valid, for ``Settings.token_audience`` when set; an authenticated answer's
``status.user`` is the caller. As kube-apiserver's webhook token authenticator
(k8s.io/apiserver/plugin/pkg/authenticator/token/webhook/webhook.go) and kube-rbac-proxy's
delegating authenticator (brancz/kube-rbac-proxy pkg/authn/delegating.go): results are cached by
the token's SHA-256 (k8s.io/apiserver pkg/authentication/token/cache keys on a hash too) for
``Settings.authentication_cache_ttl`` seconds, concurrent requests with one token share one
review, and a review the gateway cannot make (403, 5xx) is a 401 for the caller, logged for the
operator (kube-rbac-proxy pkg/filters/auth.go ``WithAuthentication`` does the same) and not cached.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handler.auth.authenticator import bearer_token
from handler.auth.cache import TTLCache, digest
from handler.auth.reviews import TOKEN_REVIEWS, token_review, user_from_json
from handler.settings import Settings, SettingsError
from kubeapi.authn import UserInfo, unauthorized

if TYPE_CHECKING:
    from handler.upstream_client import UpstreamClient

log = logging.getLogger("handler.auth.token_review")

__all__ = ["TokenReviewAuthenticator"]


class _ReviewFailed(Exception):
    """The TokenReview could not be made (not cached)."""


class TokenReviewAuthenticator:
    """The token-review mode's authenticator (see the module docstring); ``upstream`` is required."""

    def __init__(self, settings: Settings, upstream: UpstreamClient | None) -> None:
        if upstream is None:
            raise SettingsError("--authentication token-review needs the upstream client")
        self.upstream = upstream
        self.audience = settings.token_audience
        self.ttl = settings.authentication_cache_ttl
        self.cache: TTLCache[UserInfo | None] = TTLCache()

    def cached(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The user the request's bearer token was reviewed as, while that review is cached (the
        warm path, without a coroutine: :meth:`handler.auth.access.Access.authenticated`); None
        without a token, for a token not (or no longer) cached, and for a cached refusal, which
        :meth:`authenticate` answers."""
        token = bearer_token(scope)
        return self.cache.peek(digest(token)) if token is not None else None

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The reviewed user; None without a bearer token; StatusError 401 for a token the API
        server does not authenticate (or a review that could not be made)."""
        token = bearer_token(scope)
        if token is None:
            return None
        key = digest(token)
        user = self.cache.peek(key)  # the warm path: no coroutine, no closure
        try:
            if user is None:
                user, _ = await self.cache.get(key, lambda: self._review(token), lambda _: self.ttl)
        except _ReviewFailed:
            raise unauthorized() from None
        if user is None:
            raise unauthorized()
        return user

    async def _review(self, token: str) -> UserInfo | None:
        status, obj = await self.upstream.send_json(
            "POST", TOKEN_REVIEWS, token_review(token, self.audience), route="authentication"
        )
        if status not in (200, 201) or not isinstance(obj, dict):
            reason = obj.get("message") if isinstance(obj, dict) else None
            log.error("TokenReview failed: the API server answered %s (%s)", status, reason or "no message")
            raise _ReviewFailed
        answer = obj.get("status")
        if not isinstance(answer, dict) or answer.get("authenticated") is not True:
            return None
        if self.audience:
            audiences = answer.get("audiences")
            if not isinstance(audiences, list) or self.audience not in audiences:
                return None
        return user_from_json(answer.get("user"))
