"""Who a request is made by, and how that identity travels: shared by the gateway and fakekube.

- :class:`UserInfo` is k8s.io/apiserver ``pkg/authentication/user.Info`` (name, uid, groups,
  extra): what an authenticator returns, what a ``TokenReview`` reports in ``status.user``, what
  impersonation headers carry and what a ``SubjectAccessReview`` asks about.
- Impersonation headers (k8s.io/apiserver ``pkg/endpoints/filters/impersonation.go`` and client-go
  ``transport/round_trippers.go``): ``Impersonate-User``, ``Impersonate-Uid``,
  ``Impersonate-Group`` (repeated) and ``Impersonate-Extra-<key>`` (repeated), the key
  percent-encoded where it is not a legal header-name character (client-go ``headerKeyForExtra``)
  and lower-cased on the way in (``unescapeExtraKey``).
- :class:`Attributes` is ``authorizer.Attributes`` (``pkg/authorization/authorizer/interfaces.go``)
  and :func:`forbidden` the 403 ``Status`` kube-apiserver answers when they are denied
  (``pkg/endpoints/handlers/responsewriters/errors.go`` ``Forbidden``/``forbiddenMessage``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from kubeapi.requestinfo import RequestInfo
from kubeapi.status import StatusError, new_forbidden, new_unauthorized

__all__ = [
    "ALL_AUTHENTICATED",
    "ALL_UNAUTHENTICATED",
    "ANONYMOUS",
    "IMPERSONATE_EXTRA_PREFIX",
    "IMPERSONATE_GROUP",
    "IMPERSONATE_UID",
    "IMPERSONATE_USER",
    "Attributes",
    "UserInfo",
    "forbidden",
    "forbidden_message",
    "impersonation_headers",
    "request_attributes",
    "unauthorized",
    "unescape_extra_key",
]

IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_EXTRA_PREFIX = "Impersonate-Extra-"

#: user.Anonymous and the two groups kube-apiserver adds (``pkg/authentication/user/user.go``).
ANONYMOUS = "system:anonymous"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"

# client-go transport/round_trippers.go legalHeaderKeyBytes: RFC 7230 token characters except '%'.
_LEGAL_HEADER_KEY = frozenset("!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated user (``user.Info``): ``name``, ``uid`` (``""`` when unknown), ``groups``
    in order, ``extra`` as sorted ``(key, values)`` pairs so the value is hashable (decision caches
    key on it). Build from a mapping with :meth:`of`."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @classmethod
    def of(
        cls,
        name: str,
        uid: str = "",
        groups: Iterable[str] = (),
        extra: Mapping[str, Iterable[str]] | None = None,
    ) -> UserInfo:
        """A UserInfo from plain values (``extra`` keys sorted, values kept in order)."""
        pairs = tuple(sorted((k, tuple(v)) for k, v in (extra or {}).items()))
        return cls(name, uid, tuple(groups), pairs)

    @property
    def extra_map(self) -> dict[str, list[str]]:
        """``extra`` as the JSON shape of ``UserInfo.extra`` in TokenReview/SubjectAccessReview."""
        return {k: list(v) for k, v in self.extra}

    def to_json(self) -> dict[str, object]:
        """The ``authentication.k8s.io/v1`` ``UserInfo`` object (empty fields omitted, as Go's
        ``omitempty``)."""
        out: dict[str, object] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = self.extra_map
        return out


def _header_key_for_extra(key: str) -> str:
    """client-go ``headerKeyForExtra``: percent-encode bytes outside the legal header-key set."""
    return "".join(c if c in _LEGAL_HEADER_KEY else quote(c, safe="") for c in key)


def unescape_extra_key(encoded: str) -> str:
    """impersonation.go ``unescapeExtraKey``: percent-decode (the key as given when that fails)."""
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return encoded


def impersonation_headers(user: UserInfo) -> list[tuple[str, str]]:
    """The headers that make an API server act as ``user`` (client-go's ``ImpersonationConfig``):
    ``Impersonate-User``, ``Impersonate-Uid`` when set, one ``Impersonate-Group`` per group and
    one ``Impersonate-Extra-<key>`` per extra value."""
    headers = [(IMPERSONATE_USER, user.name)]
    if user.uid:
        headers.append((IMPERSONATE_UID, user.uid))
    headers.extend((IMPERSONATE_GROUP, g) for g in user.groups)
    for key, values in user.extra:
        name = IMPERSONATE_EXTRA_PREFIX + _header_key_for_extra(key)
        headers.extend((name, v) for v in values)
    return headers


@dataclass(frozen=True, slots=True)
class Attributes:
    """``authorizer.Attributes``: what one request (or one lookup made for it) does.

    For a resource request ``resource_request`` is True and ``verb`` is the API verb (get, list,
    watch, create, update, patch, delete, deletecollection, or a path verb such as proxy);
    otherwise ``path`` is the non-resource URL and ``verb`` the lower-cased HTTP method.
    """

    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


def request_attributes(info: RequestInfo, user: UserInfo) -> Attributes:
    """The authorizer attributes of a request read as ``info``, made by ``user``
    (filters/authorization.go ``GetAuthorizerAttributes``): resource attributes for a resource
    request, else the path and the lower-cased method as verb. Used by the gateway's
    SubjectAccessReviews and fakekube's RBAC alike."""
    if not info.is_resource_request:
        return Attributes(user, info.verb, resource_request=False, path=info.path)
    return Attributes(
        user,
        info.verb,
        api_group=info.api_group,
        api_version=info.api_version,
        namespace=info.namespace,
        resource=info.resource,
        subresource=info.subresource,
        name=info.name,
    )


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters ``forbiddenMessage``: ``User "u" cannot VERB resource "R[/sub]" in API
    group "G" in the namespace "ns"`` (``at the cluster scope`` without a namespace), or ``User "u"
    cannot VERB path "/p"`` for a non-resource request."""
    who = attrs.user.name
    if not attrs.resource_request:
        return f'User "{who}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{who}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'


def forbidden(attrs: Attributes, reason: str = "") -> StatusError:
    """The 403 kube-apiserver answers for denied ``attrs`` (responsewriters ``Forbidden``): the
    message of :func:`forbidden_message`, ``: reason`` appended when the authorizer gave one,
    wrapped by ``NewForbidden(group/resource, name)``."""
    err = forbidden_message(attrs) + (f": {reason}" if reason else "")
    if not attrs.resource_request:
        return new_forbidden("", "", "", err)
    return new_forbidden(attrs.api_group, attrs.resource, attrs.name, err)


def unauthorized() -> StatusError:
    """The 401 kube-apiserver answers when no authenticator accepts the request
    (``filters.Unauthorized``): message and reason ``Unauthorized``."""
    return new_unauthorized("Unauthorized")
