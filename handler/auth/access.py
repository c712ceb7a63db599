"""``Access``: who a request is made by, whether they may make it, and who the upstream sees.

One object per application (built by :func:`handler.factory.create_app` from the settings), used
by the pipeline for every request and WebSocket upgrade, and by ``GatewayRequest.get_json`` /
``send_json`` for every lookup made for a caller:

1. :meth:`Access.authenticate`: the mode's :class:`handler.auth.authenticator.Authenticator` reads
   the scope; no credentials or refused ones are a 401 ``Unauthorized`` ``Status``
   (k8s.io/apiserver ``pkg/endpoints/filters/authentication.go``: authentication comes before
   anything else, so an unauthenticated caller learns nothing, not even which paths exist);
2. the upstream identity (:class:`handler.upstream_client.UpstreamIdentity`): the caller's own
   bearer token (``passthrough``), the gateway's token plus ``Impersonate-User``/``-Uid``/
   ``-Group``/``-Extra-*`` for the verified user (the impersonating modes, as Pinniped's
   impersonation proxy does: vmware-tanzu/pinniped internal/concierge/impersonator/impersonator.go
   runs the standard authentication and delegated (SubjectAccessReview) authorization chain, then
   reverse-proxies with its own service account and impersonation headers; client-go's
   ``ImpersonationConfig`` is the header format), or None (``none``: the gateway's);
3. :meth:`Access.authorize`: in the impersonating modes, a ``SubjectAccessReview`` for exactly the
   attributes kube-apiserver's ``RequestInfo`` gives the request (:mod:`kubeapi.requestinfo`;
   ``pkg/endpoints/filters/authorization.go`` ``GetAuthorizerAttributes``), and one for each
   lookup the gateway makes for it (``get configmaps`` for a compute template, ``get services``
   for the services-proxy label check, the V1 compute-template calls), as kube-rbac-proxy
   authorizes before proxying (brancz/kube-rbac-proxy pkg/filters/auth.go ``WithAuthorization``).
   The upstream then sees the impersonated user, so its RBAC, admission and audit apply again.

Outcomes are counted in ``/metrics`` and logged with the user's name, never a token.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from handler.auth.authenticator import Authenticator, bearer_token
from handler.auth.authorizer import SubjectAccessReviewer
from handler.auth.modes import Mode, build_authenticator, get_mode
from handler.auth.passthrough import identity_for
from handler.metrics import Metrics
from handler.settings import Settings
from handler.upstream_client import UpstreamClient, UpstreamIdentity
from kubeapi.authn import (
    UserInfo,
    forbidden,
    impersonation_headers,
    request_attributes,
    unauthorized,
)
from kubeapi.requestinfo import RequestInfo
from kubeapi.status import StatusError

log = logging.getLogger("handler.auth")

__all__ = ["Access"]


class Access:
    """Authentication, authorization and upstream identity for one application (see the module
    docstring). ``mode`` is the :class:`handler.auth.modes.Mode`; ``authenticator`` None in
    ``none``; ``reviewer`` the ``SubjectAccessReview`` client in the impersonating modes."""

    def __init__(
        self,
        settings: Settings,
        upstream: UpstreamClient,
        metrics: Metrics,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.mode: Mode = get_mode(settings.authentication)
        self.authenticator = authenticator or build_authenticator(settings, upstream)
        self.upstream = upstream
        self.metrics = metrics
        self.reviewer = (
            SubjectAccessReviewer(
                upstream, settings.authorization_cache_allowed_ttl, settings.authorization_cache_denied_ttl
            )
            if self.mode.impersonates
            else None
        )
        self._identities: OrderedDict[UserInfo, UpstreamIdentity] = OrderedDict()
        #: The authenticator's synchronous cache lookup, when it has one (see :meth:`authenticated`).
        self._cached: Callable[[Mapping[str, Any]], UserInfo | None] | None = getattr(
            self.authenticator, "cached", None
        )

    @property
    def enabled(self) -> bool:
        """Whether requests are authenticated (False only in ``none``)."""
        return self.authenticator is not None

    def authenticated(self, scope: Mapping[str, Any]) -> tuple[UserInfo, UpstreamIdentity | None] | None:
        """:meth:`authenticate`'s answer without a coroutine when the mode's authenticator has the
        request's credentials in its cache (an optional ``cached(scope) -> UserInfo | None`` of
        the authenticator: ``token-review``'s decision cache), counted and identified the same;
        None when it cannot tell (call :meth:`authenticate`)."""
        cached = self._cached
        if cached is None:
            return None
        user = cached(scope)
        if user is None:
            return None
        return user, self._identified(scope, user)

    async def authenticate(self, scope: Mapping[str, Any]) -> tuple[UserInfo | None, UpstreamIdentity | None]:
        """``(user, upstream identity)`` of the request in ``scope``; ``(None, None)`` in ``none``.
        Raises the 401 ``Unauthorized`` Status for a request without accepted credentials."""
        if self.authenticator is None:
            return None, None
        mode = self.mode.name
        try:
            user = await self.authenticator.authenticate(scope)
        except StatusError as e:
            if e.code == 401:
                self.metrics.authentication(mode, "failure")
                log.info("authentication failed (%s): %s", mode, e.message)
            raise
        if user is None:
            self.metrics.authentication(mode, "no-credentials")
            raise unauthorized()
        return user, self._identified(scope, user)

    def _identified(self, scope: Mapping[str, Any], user: UserInfo) -> UpstreamIdentity | None:
        """Count ``user``'s successful authentication; the upstream identity requests are made as."""
        mode = self.mode.name
        self.metrics.authentication(mode, "success")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("authenticated user %s (%s)", user.name, mode)
        if self.mode.passes_token:
            token = bearer_token(scope)
            assert token is not None  # the authenticator accepted one
            return identity_for(token)
        if self.mode.impersonates:
            return self.impersonating(user)
        return None

    def impersonating(self, user: UserInfo) -> UpstreamIdentity:
        """The gateway's own token plus the impersonation headers of ``user`` (one object per user,
        kept for the most recent 1,000 users)."""
        identity = self._identities.get(user)
        if identity is None:
            identity = UpstreamIdentity(
                self.upstream.credentials.token, tuple(impersonation_headers(user)), key=("as", user)
            )
            self._identities[user] = identity
            if len(self._identities) > 1000:
                self._identities.popitem(last=False)
        return identity

    async def authorize(self, user: UserInfo | None, info: RequestInfo) -> None:
        """Raise the 403 ``Forbidden`` Status when ``user`` may not do what ``info`` reads as
        (impersonating modes only; a no-op otherwise, where the upstream decides)."""
        if self.reviewer is None or user is None:
            return
        # The decision's key: the fields Attributes would hold, without building it (a warm cache
        # then costs a tuple and a lookup; Attributes are built only for a review or a refusal).
        key = (
            user,
            info.verb,
            info.is_resource_request,
            info.api_group,
            info.api_version,
            info.namespace,
            info.resource,
            info.subresource,
            info.name,
            "" if info.is_resource_request else info.path,
        )
        decision = self.reviewer.cached(key)
        cached = decision is not None
        if decision is None:
            attrs = request_attributes(info, user)
            if not attrs.verb:
                # An HTTP method RequestInfo has no verb for (OPTIONS, TRACE...): denied without
                # asking, as Pinniped's impersonation proxy denies an empty verb ("invalid verb").
                self.metrics.authorization(False, False)
                raise forbidden(attrs, "invalid verb")
            decision, cached = await self.reviewer.review(attrs, key)
        allowed, reason = decision
        self.metrics.authorization(allowed, cached)
        if not allowed:
            err = forbidden(request_attributes(info, user), reason)
            log.info("forbidden: %s", err.message)
            raise err
