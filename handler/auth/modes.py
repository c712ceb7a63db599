"""The ``--authentication`` modes: a registry of named modes and :func:`build_authenticator`.

Each :class:`Mode` names how the gateway authenticates callers and whether it then forwards with
its own credentials plus impersonation headers (``impersonates``) or with the caller's own
credentials (``passthrough``) or with its own and no user (``none``). Modes register themselves
with :func:`register_mode`; this module registers the built-in ones:

=====================  ===========  ================================================
mode                   impersonates  who the caller is
=====================  ===========  ================================================
``passthrough``        no           the caller's bearer token, sent upstream as is
``token-review``       yes          a ``TokenReview`` of the caller's bearer token
``oidc``               yes          an OpenID Connect JWT (see :mod:`handler.auth`)
``client-certificate`` yes          the TLS client certificate (CN user, O groups)
``request-header``     yes          ``X-Remote-*`` from an authenticating front proxy
``none``               no           nobody: every request uses the gateway's credentials
=====================  ===========  ================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handler.auth.authenticator import Authenticator
from handler.settings import Settings, SettingsError

if TYPE_CHECKING:
    from handler.upstream_client import UpstreamClient

__all__ = [
    "CLIENT_CERTIFICATE_MODES",
    "MODES",
    "Mode",
    "ModeFactory",
    "build_authenticator",
    "get_mode",
    "register_mode",
]

ModeFactory = Callable[[Settings, "UpstreamClient | None"], "Authenticator | None"]
"""``factory(settings, upstream) -> Authenticator | None``: ``upstream`` is the gateway's upstream
client (for modes that ask the API server, e.g. TokenReview); raises SettingsError for settings
the mode cannot work with."""


@dataclass(frozen=True)
class Mode:
    """One ``--authentication`` value: ``name``, whether requests are forwarded with the gateway's
    credentials plus ``Impersonate-*`` headers (``impersonates``), whether requests are forwarded
    with the caller's own ``Authorization`` (``passes_token``), and the ``factory`` that builds its
    authenticator (None for ``none``)."""

    name: str
    impersonates: bool
    factory: ModeFactory
    passes_token: bool = False


#: The registered modes by name (:func:`register_mode` adds to it).
MODES: dict[str, Mode] = {}


def register_mode(mode: Mode) -> None:
    """Add (or replace) ``mode`` under ``mode.name``."""
    MODES[mode.name] = mode


def get_mode(name: str) -> Mode:
    """The mode called ``name``; SettingsError naming the known ones otherwise."""
    mode = MODES.get(name)
    if mode is None:
        known = ", ".join(sorted(MODES))
        raise SettingsError(f"--authentication {name!r} is not a mode (one of: {known})")
    return mode


def build_authenticator(settings: Settings, upstream: UpstreamClient | None = None) -> Authenticator | None:
    """The authenticator of ``settings.authentication`` (None for ``none``); ``upstream`` is the
    client the mode may ask (TokenReview, SelfSubjectReview). Raises SettingsError for an unknown
    mode or settings the mode cannot work with."""
    return get_mode(settings.authentication).factory(settings, upstream)


def _none(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    return None


def _not_built(name: str) -> ModeFactory:
    """A factory for a mode whose implementation is not in this build (SettingsError at start)."""

    def factory(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
        raise SettingsError(f"--authentication {name} is not available in this build")

    return factory


def _passthrough(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    from handler.auth.passthrough import PassthroughAuthenticator

    return PassthroughAuthenticator(settings, upstream)


def _token_review(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    from handler.auth.token_review import TokenReviewAuthenticator

    return TokenReviewAuthenticator(settings, upstream)


def _oidc(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    from handler.auth.oidc import OIDCAuthenticator, OIDCOptions

    if not settings.oidc_issuer_url:
        raise SettingsError("--authentication oidc needs --oidc-issuer-url")
    try:
        options = OIDCOptions.parse(
            settings.oidc_issuer_url,
            settings.oidc_client_id,
            settings.oidc_username_claim,
            settings.oidc_username_prefix,
            settings.oidc_groups_claim,
            settings.oidc_groups_prefix,
            settings.oidc_required_claims,
            settings.oidc_ca_file,
            settings.oidc_signing_algs,
        )
    except ValueError as e:
        raise SettingsError(str(e)) from e
    return OIDCAuthenticator(options)


def _client_certificate(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    from handler.auth.x509 import ClientCertificateAuthenticator

    if not settings.client_ca_file:
        raise SettingsError("--authentication client-certificate needs --client-ca-file")
    if not settings.tls_cert_file:
        raise SettingsError("--authentication client-certificate needs --tls-cert-file")
    try:
        return ClientCertificateAuthenticator(settings.client_ca_file)
    except ValueError as e:
        raise SettingsError(str(e)) from e


def _request_header(settings: Settings, upstream: UpstreamClient | None) -> Authenticator | None:
    from handler.auth.requestheader import RequestHeaderAuthenticator, split_header_names

    if not settings.tls_cert_file:
        raise SettingsError("--authentication request-header needs --tls-cert-file")
    try:
        return RequestHeaderAuthenticator(
            settings.requestheader_client_ca_file,
            split_header_names(settings.requestheader_allowed_names, "--requestheader-allowed-names"),
            split_header_names(settings.requestheader_username_headers, "--requestheader-username-headers"),
            split_header_names(settings.requestheader_uid_headers, "--requestheader-uid-headers"),
            split_header_names(settings.requestheader_group_headers, "--requestheader-group-headers"),
            split_header_names(
                settings.requestheader_extra_headers_prefix, "--requestheader-extra-headers-prefix"
            ),
        )
    except ValueError as e:
        raise SettingsError(str(e)) from e


#: The modes whose callers are identified by their TLS client certificate: served by
#: :mod:`handler.tls`'s uvicorn path, which hands the app the peer certificate; the value is the
#: Settings field naming the CA bundle the TLS handshake verifies client certificates against.
CLIENT_CERTIFICATE_MODES: dict[str, str] = {
    "client-certificate": "client_ca_file",
    "request-header": "requestheader_client_ca_file",
}

register_mode(Mode("passthrough", impersonates=False, factory=_passthrough, passes_token=True))
register_mode(Mode("token-review", impersonates=True, factory=_token_review))
register_mode(Mode("none", impersonates=False, factory=_none))
register_mode(Mode("oidc", impersonates=True, factory=_oidc))
register_mode(Mode("client-certificate", impersonates=True, factory=_client_certificate))
register_mode(Mode("request-header", impersonates=True, factory=_request_header))
