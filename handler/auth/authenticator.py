"""The ``Authenticator`` protocol every ``--authentication`` mode implements, and the bearer token.

An authenticator reads an ASGI HTTP or WebSocket scope (headers in ``scope["headers"]`` as
lower-case ``(bytes, bytes)`` pairs; a client certificate chain verified by the TLS layer in
``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings, leaf first) and answers

- a :class:`kubeapi.authn.UserInfo` when the request carries credentials it accepts;
- None when the request carries no credentials of its kind (the gateway then answers 401);
- raises :class:`kubeapi.status.StatusError` (:func:`kubeapi.authn.unauthorized`) when the
  credentials are present but invalid.

This is k8s.io/apiserver ``pkg/authentication/authenticator.Request`` (``AuthenticateRequest``
returns ``(response, ok, err)``: here ``ok=false`` is None and ``err`` is the raised 401).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from kubeapi.authn import UserInfo

__all__ = ["Authenticator", "bearer_token", "header_values"]


@runtime_checkable
class Authenticator(Protocol):
    """Authenticates one request from its ASGI scope (see the module docstring)."""

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The verified user, None without credentials of this kind; StatusError 401 when invalid."""
        ...


def header_values(scope: Mapping[str, Any], name: bytes) -> list[str]:
    """Every value of request header ``name`` (lower-case bytes) in ``scope``, in order, as str."""
    return [
        v.decode("latin-1")
        for k, v in scope.get("headers") or ()
        if len(k) == len(name) and k.lower() == name
    ]


def bearer_token(scope: Mapping[str, Any]) -> str | None:
    """The bearer token of the request's first ``Authorization`` header, or None.

    As k8s.io/apiserver ``pkg/authentication/request/bearertoken`` ``AuthenticateRequest``: the
    value is trimmed, split on spaces into at most three parts; the first must be ``bearer`` in any
    case and the second non-empty, else the request carries no bearer token (None).
    """
    for k, v in scope.get("headers") or ():
        if len(k) == 13 and k.lower() == b"authorization":  # the length first: most headers skip lower()
            parts: list[str] = v.decode("latin-1").strip().split(" ", 2)
            if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
                return None
            return parts[1]
    return None
