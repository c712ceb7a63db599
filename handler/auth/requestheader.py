"""``request-header`` mode: an authenticating front proxy names the user in ``X-Remote-*`` headers,
believed only on a connection whose client certificate proves it is that proxy.

Follows k8s.io/apiserver ``pkg/authentication/request/headerrequest/requestheader.go`` (v0.37)
and the ``x509.Verifier`` it is wrapped in (``NewDynamicVerifyOptionsSecure``):

- No client certificate → not handled (None: the headers are not looked at, the gateway answers
  401 and its header hygiene drops them before anything goes upstream). A certificate that does
  not verify against ``--requestheader-client-ca-file``, or whose CommonName is not in
  ``--requestheader-allowed-names`` when that is set (``x509: subject with cn=... is not in the
  allowed list``), is an error: 401, headers not trusted.
- ``AuthenticateRequest``: the user is the first non-empty value of the first username header
  that has one (``headerValue``); none → not handled. The uid likewise from the uid headers;
  groups are every non-empty value of every group header, in header order (``allHeaderValues``);
  extra: for each prefix, every header starting with it (case-insensitive), keyed by the rest of
  the name lower-cased then percent-unescaped (``newExtra``/``unescapeExtraKey``), all values kept.
- Header names given in settings are trimmed; an empty one is a settings error (``trimHeaders``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.x509.oid import NameOID

from handler.auth.x509 import ClientCertificateVerifier, peer_chain
from kubeapi.authn import UserInfo, unauthorized, unescape_extra_key

__all__ = ["RequestHeaderAuthenticator", "split_header_names", "user_from_headers"]

log = logging.getLogger("handler.auth")


def split_header_names(value: str, flag: str) -> tuple[str, ...]:
    """Comma-separated header names (or prefixes) of ``flag``, trimmed (``trimHeaders``):
    ValueError naming the flag for an empty entry."""
    names = tuple(n.strip() for n in value.split(",")) if value else ()
    if any(not n for n in names):
        raise ValueError(f"{flag}: empty header name in {value!r}")
    return names


def user_from_headers(
    headers: Sequence[tuple[bytes, bytes]],
    username_headers: Sequence[str],
    uid_headers: Sequence[str],
    group_headers: Sequence[str],
    extra_prefixes: Sequence[str],
) -> UserInfo | None:
    """``requestHeaderAuthRequestHandler.AuthenticateRequest`` over ASGI ``headers`` (lower-case
    byte names): the user they name, None when no username header has a value."""
    by_name: dict[str, list[str]] = {}
    for k, v in headers:
        by_name.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))

    def first(names: Sequence[str]) -> str:
        for n in names:
            values = by_name.get(n.lower())
            if values and values[0]:  # http.Header.Get: the first value only
                return values[0]
        return ""

    name = first(username_headers)
    if not name:
        return None
    groups = [v for n in group_headers for v in by_name.get(n.lower(), ()) if v]
    extra: dict[str, list[str]] = {}
    for prefix in extra_prefixes:
        p = prefix.lower()
        for header, values in by_name.items():
            if header.startswith(p):
                extra.setdefault(unescape_extra_key(header[len(p) :]), []).extend(values)
    return UserInfo.of(name, uid=first(uid_headers), groups=groups, extra=extra)


class RequestHeaderAuthenticator:
    """The ``request-header`` :class:`handler.auth.authenticator.Authenticator` (module docstring).

    ``client_ca_file`` is ``--requestheader-client-ca-file``; ``allowed_names`` the allowed proxy
    CommonNames (empty: any certificate the CA signed); the header lists as the flags of the same
    names. Raises ValueError for a missing CA file or an empty header name.
    """

    def __init__(
        self,
        client_ca_file: str,
        allowed_names: Sequence[str] = (),
        username_headers: Sequence[str] = ("X-Remote-User",),
        uid_headers: Sequence[str] = ("X-Remote-Uid",),
        group_headers: Sequence[str] = ("X-Remote-Group",),
        extra_prefixes: Sequence[str] = ("X-Remote-Extra-",),
    ) -> None:
        if not client_ca_file:
            raise ValueError("--authentication request-header needs --requestheader-client-ca-file")
        self.verifier = ClientCertificateVerifier(client_ca_file)
        self.allowed_names = frozenset(allowed_names)
        self.username_headers = tuple(username_headers)
        self.uid_headers = tuple(uid_headers)
        self.group_headers = tuple(group_headers)
        self.extra_prefixes = tuple(extra_prefixes)

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The user the front proxy names; None on a connection without a client certificate
        or a request without a username header; 401 for a certificate that does not verify or
        whose CN is not allowed."""
        chain = peer_chain(scope)
        if not chain:
            return None
        leaf = self.verifier.verify(chain)
        if self.allowed_names:
            cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            cn = str(cns[-1].value) if cns else ""
            if cn not in self.allowed_names:
                log.info("x509: subject with cn=%s is not in the allowed list", cn)
                raise unauthorized()
        return user_from_headers(
            scope.get("headers") or (),
            self.username_headers,
            self.uid_headers,
            self.group_headers,
            self.extra_prefixes,
        )
