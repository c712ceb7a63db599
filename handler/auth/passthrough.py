"""``--authentication passthrough``: the caller's own bearer token goes upstream; the API server decides.

The gateway's credentials are used for nothing done on a caller's behalf: the request itself,
the template and Service lookups, the KubeRay V1 compute-template calls and shared watches all go
with the caller's token (``UpstreamIdentity`` of :func:`identity_for`), and the upstream pool
presents no client certificate of the gateway's (kube-apiserver tries x509 before bearer tokens,
so a pool certificate would make every passthrough request the gateway's). A request without a
bearer token is answered 401 before anything is sent.

Who the token belongs to is asked of the API server itself with a ``SelfSubjectReview`` made with
that token (authentication.k8s.io/v1; :mod:`handler.auth.reviews`), cached by the token's SHA-256
for ``Settings.authentication_cache_ttl`` seconds, so hooks and request rules see the verified user.
A 401 answer is a 401 for the caller. When the API server does not serve ``SelfSubjectReview``
(404: before Kubernetes 1.28, or a server without it) or refuses it (403), the user is
:data:`UNVERIFIED` (empty name): the request still goes upstream with the caller's token, where the
API server judges it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handler.auth.authenticator import bearer_token
from handler.auth.cache import TTLCache, digest
from handler.auth.reviews import SELF_SUBJECT_REVIEWS, user_from_json
from handler.credentials import StaticToken
from handler.settings import Settings, SettingsError
from kubeapi.authn import UserInfo, unauthorized

if TYPE_CHECKING:
    from handler.upstream_client import UpstreamClient, UpstreamIdentity

log = logging.getLogger("handler.auth.passthrough")

__all__ = ["UNVERIFIED", "PassthroughAuthenticator", "identity_for"]

#: The user of a passthrough request whose token the API server would not describe (no
#: SelfSubjectReview): empty name, no groups. The API server still authenticates the token.
UNVERIFIED = UserInfo("")

_SELF_SUBJECT_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def identity_for(token: str) -> UpstreamIdentity:
    """The upstream identity that sends ``token`` as the bearer token and nothing else."""
    from handler.upstream_client import UpstreamIdentity

    return UpstreamIdentity(StaticToken(token), key=("bearer", digest(token)))


class PassthroughAuthenticator:
    """The passthrough mode's authenticator (see the module docstring); ``upstream`` is required."""

    def __init__(self, settings: Settings, upstream: UpstreamClient | None) -> None:
        if upstream is None:
            raise SettingsError("--authentication passthrough needs the upstream client")
        self.upstream = upstream
        self.ttl = settings.authentication_cache_ttl
        self.cache: TTLCache[UserInfo | None] = TTLCache()

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The token's user (:data:`UNVERIFIED` when the API server would not say); None without a
        bearer token; StatusError 401 when the API server refuses the token."""
        token = bearer_token(scope)
        if token is None:
            return None
        key = digest(token)
        user = self.cache.peek(key)  # the warm path: no coroutine, no closure
        if user is None:
            user, _ = await self.cache.get(key, lambda: self._review(token), lambda _: self.ttl)
        if user is None:
            raise unauthorized()
        return user

    async def _review(self, token: str) -> UserInfo | None:
        status, obj = await self.upstream.send_json(
            "POST",
            SELF_SUBJECT_REVIEWS,
            _SELF_SUBJECT_REVIEW,
            route="authentication",
            identity=identity_for(token),
        )
        if status == 401:
            return None
        if status in (200, 201) and isinstance(obj, dict):
            answer = obj.get("status")
            user = user_from_json(answer.get("userInfo") if isinstance(answer, dict) else None)
            if user is not None:
                return user
        log.warning("SelfSubjectReview answered %s: passthrough users are not verified by name", status)
        return UNVERIFIED
