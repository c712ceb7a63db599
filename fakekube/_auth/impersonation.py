"""Impersonation: ``Impersonate-User``/``-Uid``/``-Group``/``-Extra-*`` as kube-apiserver checks them.

Follows k8s.io/apiserver ``pkg/endpoints/filters/impersonation`` of v0.37 (``constrained_impersonation.go``
and ``mode.go``, KEP-5284 constrained impersonation, on by default in kube-apiserver 1.37):

1. :func:`wanted_user` reads the headers (``processImpersonationHeaders``): the first
   ``Impersonate-User`` and ``Impersonate-Uid``, every ``Impersonate-Group``, and each
   ``Impersonate-Extra-<key>`` with the key lower-cased and percent-decoded. A uid, group or extra
   without a user name is a 400 ``requested &user.DefaultInfo{...} without impersonating a user
   name``; no user name at all means no impersonation.
2. :class:`Impersonator` tries the modes in order, the one that last succeeded for this requestor
   first (``impersonationModesTracker``): ``arbitrary-node`` (only a ``system:node:<name>`` user
   name), ``serviceaccount`` (only a ``system:serviceaccount:<ns>:<name>`` user name),
   ``user-info`` (any other user), each needing ``impersonate-on:<mode>:<verb>`` on the request
   itself and then ``impersonate:<mode>`` on what is impersonated (users and groups in
   ``authentication.k8s.io``), and ``legacy`` (``impersonate`` on ``users``, ``groups``,
   ``serviceaccounts`` in the core group, ``uids`` and ``userextras/<key>`` in
   ``authentication.k8s.io``). The first error is the answer when no mode allows it: for a user
   with no impersonation rights that is ``User "bob" cannot impersonate-on:user-info:list
   resource ...``. (``associated-node`` needs service-account tokens bound to nodes, which
   fakekube does not issue: not implemented.)
3. The impersonated user gets ``system:authenticated`` (``system:unauthenticated`` for
   ``system:anonymous``) unless it has either group already; a service account without
   impersonated groups gets ``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``; a node
   in ``arbitrary-node`` mode gets ``system:nodes``.

The Forbidden answers are :func:`kubeapi.authn.forbidden` of the denied attributes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace

from fakekube._auth.rbac import SYSTEM_MASTERS, Decision
from kubeapi.authn import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    Attributes,
    UserInfo,
    forbidden,
    unescape_extra_key,
)
from kubeapi.status import new_bad_request
from kubeapi.validation import is_dns1123_subdomain, name_is_dns1123_label

__all__ = ["Authorizer", "Impersonator", "wanted_user"]

#: Decides one set of attributes (the server's authorizer chain).
Authorizer = Callable[[Attributes], Decision]

_AUTHN_GROUP = "authentication.k8s.io"
_SA_PREFIX = "system:serviceaccount:"
_NODE_PREFIX = "system:node:"
_MANY = 4  # manyAuthorizationChecksInLoop


def _go_strings(values: Iterable[str] | None) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def _go_default_info(name: str, uid: str, groups: list[str], extra: dict[str, list[str]]) -> str:
    """Go's ``%#v`` of ``*user.DefaultInfo`` (for the 400 message)."""
    ex = (
        "map[string][]string{"
        + ", ".join(f"{json.dumps(k)}:{_go_strings(v)}" for k, v in sorted(extra.items()))
        + "}"
        if extra
        else "map[string][]string(nil)"
    )
    return (
        f"&user.DefaultInfo{{Name:{json.dumps(name)}, UID:{json.dumps(uid)}, "
        f"Groups:{_go_strings(groups or None)}, Extra:{ex}}}"
    )


def wanted_user(headers: Iterable[tuple[str, str]]) -> UserInfo | None:
    """The user the impersonation headers ask for (``headers``: (lower-case name, value) pairs in
    order), None without ``Impersonate-User``; raises the 400 StatusError for a uid, group or extra
    without a user name."""
    name = uid = ""
    has_name = has_uid = False
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for k, v in headers:
        if k == "impersonate-user" and not has_name:
            name, has_name = v, True
        elif k == "impersonate-uid" and not has_uid:
            uid, has_uid = v, True
        elif k == "impersonate-group":
            groups.append(v)
        elif k.startswith("impersonate-extra-"):
            extra.setdefault(unescape_extra_key(k[len("impersonate-extra-") :]), []).append(v)
    if not name:
        if uid or groups or extra:
            raise new_bad_request(
                f"requested {_go_default_info(name, uid, groups, extra)} without impersonating a user name"
            )
        return None
    return UserInfo.of(name, uid, groups, extra)


def _service_account(name: str) -> tuple[str, str] | None:
    """``serviceaccount.SplitUsername``: (namespace, name) or None."""
    if not name.startswith(_SA_PREFIX):
        return None
    parts = name[len(_SA_PREFIX) :].split(":")
    if len(parts) != 2 or name_is_dns1123_label(parts[0]) or is_dns1123_subdomain(parts[1]) or not all(parts):
        return None
    return parts[0], parts[1]


def _node(name: str) -> str | None:
    """``isNodeUsername``: the node name or None."""
    if not name.startswith(_NODE_PREFIX):
        return None
    node = name[len(_NODE_PREFIX) :]
    return None if is_dns1123_subdomain(node) else node


def _only_name(u: UserInfo) -> bool:
    return not u.uid and not u.groups and not u.extra


def _ensure(groups: tuple[str, ...], group: str) -> tuple[str, ...]:
    return groups if group in groups else (*groups, group)


def _valid_extra_key(key: str) -> str:
    """``validateExtra`` of constrained modes: "" when ``key`` is acceptable, else the reason."""
    if not key:
        return "impersonating the empty string key in extra is not allowed"
    domain, sep, path = key.partition("/")
    if not sep or not path or is_dns1123_subdomain(domain):
        return (
            "impersonating an invalid key in extra is not allowed: extra.key: Invalid value: "
            f'"{key}": must be a domain-prefixed path (such as "acme.io/foo")'
        )
    if key != key.lower():
        return f'impersonating a non-lowercase key in extra is not allowed: "{key}"'
    return ""


class Impersonator:
    """Checks impersonation requests with ``authorize`` (the server's authorizer chain); keeps the
    index of the mode that last succeeded per requestor."""

    MODES = ("arbitrary-node", "serviceaccount", "user-info", "legacy")

    def __init__(self, authorize: Authorizer) -> None:
        self._authorize = authorize
        self._last_mode: dict[str, int] = {}  # by requestor name (modeIndexCacheKey)

    def _check(self, attrs: Attributes) -> None:
        """``checkAuthorization``: raise the 403 of ``attrs`` unless allowed."""
        d = self._authorize(attrs)
        if not d.allowed:
            raise forbidden(attrs, d.reason)

    def impersonate(self, wanted: UserInfo, request: Attributes) -> UserInfo:
        """The user ``request.user`` may act as when asking for ``wanted``; raises the 403 of the
        first failed check when no mode allows it."""
        first: Exception | None = None
        last = self._last_mode.get(request.user.name)
        order = ([last] if last is not None else []) + [i for i in range(len(self.MODES)) if i != last]
        for i in order:
            try:
                got = self._mode(self.MODES[i], wanted, request)
            except Exception as e:  # a StatusError: remember the first
                if first is None:
                    first = e
                continue
            if got is not None:
                self._last_mode[request.user.name] = i
                return got
        assert first is not None  # the legacy mode applies to every user
        raise first

    def _mode(self, mode: str, wanted: UserInfo, request: Attributes) -> UserInfo | None:
        sa, node = _service_account(wanted.name), _node(wanted.name)
        if mode == "arbitrary-node" and not (node and _only_name(wanted)):
            return None
        if mode == "serviceaccount" and not (sa and _only_name(wanted)):
            return None
        if mode == "user-info" and (sa or node):
            return None
        constrained = mode != "legacy"
        if constrained:
            self._check(replace(request, verb=f"impersonate-on:{mode}:{request.verb}"))
        verb = f"impersonate:{mode}" if constrained else "impersonate"
        return self._state(verb, constrained, wanted, request.user)

    def _state(self, verb: str, constrained: bool, wanted: UserInfo, requestor: UserInfo) -> UserInfo:
        """``impersonationModeState.check``: one check per impersonated field."""
        gv_group = _AUTHN_GROUP if constrained else ""

        def attrs(
            resource: str, name: str, group: str = gv_group, namespace: str = "", sub: str = ""
        ) -> Attributes:
            return Attributes(
                requestor,
                verb,
                api_group=group,
                api_version="v1",
                resource=resource,
                name=name,
                namespace=namespace,
                subresource=sub,
            )

        groups = wanted.groups
        user_attrs = attrs("users", wanted.name)
        node, sa = (_node(wanted.name) if constrained else None), _service_account(wanted.name)
        if node:
            user_attrs = replace(user_attrs, resource="nodes", name=node)
            groups = ("system:nodes",)
        if sa:
            user_attrs = replace(user_attrs, resource="serviceaccounts", namespace=sa[0], name=sa[1])
            if not wanted.groups:
                groups = ("system:serviceaccounts", f"system:serviceaccounts:{sa[0]}")
        self._check(user_attrs)
        if wanted.uid:
            self._check(attrs("uids", wanted.uid, _AUTHN_GROUP))
        self._check_groups(attrs("groups", ""), wanted.groups, constrained)
        self._check_extra(attrs("userextras", "", _AUTHN_GROUP), wanted, constrained)
        if wanted.name == ANONYMOUS:
            groups = _ensure(groups, ALL_UNAUTHENTICATED)
        elif ALL_UNAUTHENTICATED not in groups:
            groups = _ensure(groups, ALL_AUTHENTICATED)
        return UserInfo(wanted.name, wanted.uid, groups, wanted.extra)

    def _check_groups(self, base: Attributes, groups: tuple[str, ...], constrained: bool) -> None:
        if not groups:
            return
        if constrained:
            if "" in groups:
                raise forbidden(base, "impersonating the empty string group is not allowed")
            if SYSTEM_MASTERS in groups:
                raise forbidden(
                    replace(base, name=SYSTEM_MASTERS),
                    "impersonating the system:masters group is not allowed",
                )
            if len(groups) >= _MANY and self._authorize(replace(base, name="*")).allowed:
                return
        for g in groups:
            self._check(replace(base, name=g))

    def _check_extra(self, base: Attributes, wanted: UserInfo, constrained: bool) -> None:
        if not wanted.extra:
            return
        if constrained:
            for key, values in wanted.extra:
                why = _valid_extra_key(key)
                if not why and (not values or "" in values):
                    why = (
                        "impersonating the empty string value in extra is not allowed"
                        if values
                        else "impersonating empty values in extra is not allowed"
                    )
                if why:
                    raise forbidden(base, why)
            count = sum(len(v) for _, v in wanted.extra)
            if (len(wanted.extra) >= _MANY or count >= _MANY) and self._authorize(
                replace(base, subresource="*", name="*")
            ).allowed:
                return
        for key, values in wanted.extra:
            for v in values:
                self._check(replace(base, subresource=key, name=v))
