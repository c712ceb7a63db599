"""The README's "Security" paragraphs on ``oidc``, ``client-certificate``, ``request-header`` and
TLS say what the code does: the defaults they quote are the settings' defaults, and the limits
they quote are the modules' constants."""

from __future__ import annotations

from handler import Settings
from handler.auth.oidc import ALLOWED_SIGNING_ALGS, MIN_REFRESH_INTERVAL, NBF_LEEWAY
from handler.auth.x509 import CREDENTIAL_ID_KEY, UID_OID
from tests.handler.test_readme_security import section


def text() -> str:
    return " ".join(section().split())


def test_oidc_paragraph_quotes_the_codes_defaults_and_limits() -> None:
    s, t = Settings(), text()
    assert f"`--oidc-signing-algs` (default `{s.oidc_signing_algs}`" in t
    assert f"`--oidc-username-claim` (default `{s.oidc_username_claim}`)" in t
    assert f"no `nbf` more than {NBF_LEEWAY / 60:g} minutes ahead" in t
    assert f"at most once every {MIN_REFRESH_INTERVAL:g} seconds" in t
    assert "none" not in ALLOWED_SIGNING_ALGS and "HS256" not in ALLOWED_SIGNING_ALGS


def test_client_certificate_paragraph_names_the_uid_and_credential_id() -> None:
    t = text()
    assert f"`{UID_OID.dotted_string}` attribute as uid" in t
    assert f"`{CREDENTIAL_ID_KEY}`" in t


def test_request_header_paragraph_quotes_the_default_header_names() -> None:
    s, t = Settings(), text()
    assert f"`--requestheader-username-headers` (default `{s.requestheader_username_headers}`)" in t
    assert f"`--requestheader-group-headers` (`{s.requestheader_group_headers}`)" in t
    assert f"`--requestheader-uid-headers` (`{s.requestheader_uid_headers}`)" in t
    assert f"`--requestheader-extra-headers-prefix` (`{s.requestheader_extra_headers_prefix}`;" in t
