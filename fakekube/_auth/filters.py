"""The authentication, impersonation and authorization filters fakekube runs before routing.

kube-apiserver's ``DefaultBuildHandlerChain`` (k8s.io/apiserver ``pkg/server/config.go``) runs, from
the outside in, ``WithAuthentication`` (``pkg/endpoints/filters/authentication.go``: no
authenticator accepts the request → 401 ``Unauthorized``), ``WithImpersonation`` (then the
impersonated user is the user from here on, audit and managedFields included) and
``WithAuthorization`` (``pkg/endpoints/filters/authorization.go``: the request's attributes from
its RequestInfo, a denial → ``responsewriters.Forbidden``, i.e. :func:`kubeapi.authn.forbidden`).
:class:`AuthFilter` is that chain for one request: :meth:`AuthFilter.user_of` returns the user the
request runs as or raises the 401/403/400 ``StatusError``.

Off by default: ``create_app()`` without ``token_auth_file`` has no authentication (every request
is anonymous and impersonation headers are ignored) and ``authorization_mode="AlwaysAllow"``
allows everything, as fakekube always did.

The authorizer chain for ``RBAC`` is :func:`fakekube._auth.rbac.authorize` (``system:masters``,
then RBAC); for ``AlwaysAllow`` every decision is allowed with no reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fakekube._auth.authentication import TokenFile
from fakekube._auth.impersonation import Impersonator, wanted_user
from fakekube._auth.rbac import BOOTSTRAP_POLICY, Decision, authorize
from fakekube._resources import CLUSTERROLEBINDINGS, CLUSTERROLES
from fakekube._storage.store import Store
from kubeapi.authn import Attributes, UserInfo, forbidden, request_attributes, unauthorized
from kubeapi.requestinfo import RequestInfo

__all__ = ["AUTHORIZATION_MODES", "AuthFilter"]

#: The ``--authorization-mode`` values fakekube implements.
AUTHORIZATION_MODES = ("AlwaysAllow", "RBAC")
#: kube-apiserver's ``--api-audiences`` default when only a service-account issuer is set (kubeadm's).
DEFAULT_API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)


class AuthFilter:
    """Authentication (a static token file, or none), impersonation and authorization
    (``authorization_mode``: ``AlwaysAllow`` or ``RBAC``) over the objects of ``store``.

    ``api_audiences`` are the audiences tokens are valid for (TokenReview ``status.audiences``).
    Raises ValueError for an unknown mode."""

    def __init__(
        self,
        store: Store,
        tokens: TokenFile | None = None,
        authorization_mode: str = "AlwaysAllow",
        api_audiences: Sequence[str] = DEFAULT_API_AUDIENCES,
    ) -> None:
        if authorization_mode not in AUTHORIZATION_MODES:
            raise ValueError(
                f"authorization mode {authorization_mode!r} is not one of {', '.join(AUTHORIZATION_MODES)}"
            )
        self.store = store
        self.tokens = tokens
        self.mode = authorization_mode
        self.api_audiences = tuple(api_audiences)
        self.impersonator = Impersonator(self.authorize)

    @property
    def enabled(self) -> bool:
        """Whether any request can be refused (authentication on or RBAC)."""
        return self.tokens is not None or self.mode != "AlwaysAllow"

    def authorize(self, attrs: Attributes) -> Decision:
        """The authorizer chain's decision on ``attrs``."""
        if self.mode == "AlwaysAllow":
            return Decision(True)
        return authorize(self.store, attrs)

    def user_of(self, info: RequestInfo, scope: Any) -> UserInfo | None:
        """The user the request runs as (None when authentication is off); raises the 401
        (no or unknown credentials), 400 (impersonation without a user name) or 403 (denied:
        impersonation or the request itself) StatusError."""
        return self.identify(info, scope)[1]

    def identify(
        self, info: RequestInfo, scope: Any, seen: list[UserInfo] | None = None
    ) -> tuple[UserInfo | None, UserInfo | None]:
        """(who authenticated, who the request runs as): as :meth:`user_of`, the requestor too.
        ``seen`` gets the requestor appended as soon as it is known (for the audit log of a
        request refused later)."""
        requestor: UserInfo | None = None
        user: UserInfo | None = None
        if self.tokens is not None:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            requestor = user = self.tokens.authenticate(headers)
            if user is None:
                raise unauthorized()
            if seen is not None:
                seen.append(user)
            pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", [])]
            if any(k.startswith("impersonate-") for k, _ in pairs):
                wanted = wanted_user(pairs)
                if wanted is not None:
                    user = self.impersonator.impersonate(wanted, request_attributes(info, user))
        attrs = request_attributes(
            info, user or UserInfo("system:anonymous", "", ("system:unauthenticated",))
        )
        if seen is not None and user is not requestor and user is not None:
            seen.append(user)
        decision = self.authorize(attrs)
        if not decision.allowed:
            raise forbidden(attrs, decision.reason)
        return requestor, user

    def bootstrap(self) -> list[tuple[Any, dict[str, Any]]]:
        """The (resource type, object) pairs of the bootstrap RBAC policy to create at start
        (none unless the mode is RBAC, as kube-apiserver's ``rbac/bootstrap-roles`` hook)."""
        if self.mode != "RBAC":
            return []
        roles, bindings = BOOTSTRAP_POLICY
        return [(CLUSTERROLES, r) for r in roles] + [(CLUSTERROLEBINDINGS, b) for b in bindings]
