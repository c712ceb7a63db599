"""``client-certificate`` and ``request-header`` authenticators (handler.auth.x509,
handler.auth.requestheader) on ASGI scopes carrying the TLS extension, with certificates made in
the test: what kube-apiserver's x509 and requestheader authenticators would answer."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from handler.auth.requestheader import RequestHeaderAuthenticator, split_header_names, user_from_headers
from handler.auth.x509 import CREDENTIAL_ID_KEY, UID_OID, ClientCertificateAuthenticator
from kubeapi.authn import UserInfo
from kubeapi.status import StatusError
from tests.handler.pki import CA, Issued

CA_A = CA.new("client-ca")
CA_B = CA.new("client-ca")  # same name, another key: an attacker's CA


def scope(cert: Issued | None, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    ext = {"tls": {"client_cert_chain": [cert.pem] if cert else [], "tls_version": 0x0304}}
    return {"type": "http", "headers": headers or [], "extensions": ext}


def ca_file(tmp_path: Path, ca: CA = CA_A) -> str:
    p = tmp_path / "ca.pem"
    p.write_text(ca.pem)
    return str(p)


async def refused(auth: Any, s: dict[str, Any]) -> None:
    with pytest.raises(StatusError) as e:
        await auth.authenticate(s)
    assert e.value.code == 401 and e.value.reason == "Unauthorized"


def fingerprint(cert: Issued) -> str:
    return "X509SHA256=" + hashlib.sha256(cert.cert.public_bytes(Encoding.DER)).hexdigest()


# --- client-certificate --------------------------------------------------------------------------


async def test_cn_is_the_user_and_organizations_the_groups(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    alice = CA_A.issue("alice", ("team-a-devs", "system:masters-not-really"))
    user = await auth.authenticate(scope(alice))
    assert user is not None
    assert user.name == "alice"
    # pkix.Name.Organization keeps the subject's order (cryptography gives attributes in order).
    assert set(user.groups) == {"team-a-devs", "system:masters-not-really"}
    assert user.extra_map == {CREDENTIAL_ID_KEY: [fingerprint(alice)]}


async def test_uid_attribute_is_the_uid_and_a_repeated_one_is_refused(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    one = CA_A.issue("carol", extra_names=(x509.NameAttribute(UID_OID, "uid-carol"),))
    user = await auth.authenticate(scope(one))
    assert user is not None and user.uid == "uid-carol"
    two = CA_A.issue(
        "carol", extra_names=(x509.NameAttribute(UID_OID, "a"), x509.NameAttribute(UID_OID, "b"))
    )
    await refused(auth, scope(two))


async def test_no_certificate_or_no_common_name_is_not_handled(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    assert await auth.authenticate({"type": "http", "headers": []}) is None
    assert await auth.authenticate(scope(None)) is None
    assert await auth.authenticate(scope(CA_A.issue("", ("team-a",)))) is None


async def test_certificate_of_another_ca_is_refused(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    await refused(auth, scope(CA_B.issue("alice", ("system:masters",))))


async def test_expired_or_server_only_certificate_is_refused(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    await refused(auth, scope(CA_A.issue("alice", expired=True)))
    # x509.VerifyOptions{KeyUsages: ClientAuth}: a server certificate is no client identity.
    await refused(auth, scope(CA_A.issue("alice", server=True)))


async def test_garbage_chain_is_refused(tmp_path: Path) -> None:
    auth = ClientCertificateAuthenticator(ca_file(tmp_path))
    s = scope(None)
    s["extensions"]["tls"]["client_cert_chain"] = [
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    ]
    await refused(auth, s)


# --- request-header ------------------------------------------------------------------------------

PROXY = CA_A.issue("front-proxy")
HEADERS = [
    (b"x-remote-user", b"alice"),
    (b"x-remote-group", b"team-a-devs"),
    (b"x-remote-group", b"oncall"),
    (b"x-remote-extra-scopes", b"view"),
    (b"x-remote-extra-scopes", b"edit"),
    (b"x-remote-extra-acme.com%2Fproject", b"ray"),
    (b"x-remote-uid", b"uid-alice"),
]


def rh(tmp_path: Path, allowed: tuple[str, ...] = (), **names: Any) -> RequestHeaderAuthenticator:
    return RequestHeaderAuthenticator(ca_file(tmp_path), allowed, **names)


async def test_trusted_proxy_names_user_groups_uid_and_extra(tmp_path: Path) -> None:
    user = await rh(tmp_path, ("front-proxy",)).authenticate(scope(PROXY, HEADERS))
    assert user == UserInfo.of(
        "alice",
        "uid-alice",
        ["team-a-devs", "oncall"],
        # keys lower-cased then percent-unescaped (headerrequest newExtra/unescapeExtraKey)
        {"scopes": ["view", "edit"], "acme.com/project": ["ray"]},
    )


async def test_headers_on_a_connection_without_a_certificate_are_not_trusted(tmp_path: Path) -> None:
    assert await rh(tmp_path).authenticate(scope(None, HEADERS)) is None
    assert await rh(tmp_path).authenticate({"type": "http", "headers": HEADERS}) is None


async def test_proxy_certificate_of_another_ca_is_refused(tmp_path: Path) -> None:
    await refused(rh(tmp_path), scope(CA_B.issue("front-proxy"), HEADERS))


async def test_proxy_cn_not_in_allowed_names_is_refused(tmp_path: Path) -> None:
    # A client certificate of the same CA that is not the proxy's (say, a user's own).
    await refused(rh(tmp_path, ("front-proxy",)), scope(CA_A.issue("alice"), HEADERS))
    # Without --requestheader-allowed-names any certificate of the CA is a proxy.
    assert await rh(tmp_path).authenticate(scope(CA_A.issue("alice"), HEADERS)) is not None


async def test_no_username_header_is_not_handled(tmp_path: Path) -> None:
    headers = [(k, v) for k, v in HEADERS if k != b"x-remote-user"]
    assert await rh(tmp_path).authenticate(scope(PROXY, headers)) is None
    assert await rh(tmp_path).authenticate(scope(PROXY, [(b"x-remote-user", b"")])) is None


async def test_configured_header_names_are_used_in_order(tmp_path: Path) -> None:
    auth = rh(
        tmp_path,
        username_headers=("X-Auth-Request-User", "X-Forwarded-User"),
        group_headers=("X-Auth-Request-Groups",),
        extra_prefixes=("X-Auth-Extra-",),
        uid_headers=(),
    )
    headers = [
        (b"x-forwarded-user", b"second"),
        (b"x-auth-request-user", b"first"),
        (b"x-auth-request-groups", b"g1"),
        (b"x-remote-user", b"ignored"),
        (b"x-remote-group", b"ignored"),
        (b"x-auth-extra-Team", b"a"),
    ]
    assert await auth.authenticate(scope(PROXY, headers)) == UserInfo.of(
        "first", groups=["g1"], extra={"team": ["a"]}
    )


def test_empty_header_names_are_a_settings_error() -> None:
    assert split_header_names(" X-A , X-B", "--f") == ("X-A", "X-B")
    assert split_header_names("", "--f") == ()
    with pytest.raises(ValueError, match="--f"):
        split_header_names("X-A,,X-B", "--f")


_token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.%", min_size=1, max_size=20
)


@given(
    user=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30),
    extras=st.lists(st.tuples(_token, st.text(max_size=10)), max_size=5),
)
def test_extra_keys_are_lowercase_and_unescaped_for_any_header(
    user: str, extras: list[tuple[str, str]]
) -> None:
    from urllib.parse import unquote

    headers = [(b"x-remote-user", user.encode("latin-1"))]
    headers += [(b"x-remote-extra-" + k.lower().encode(), v.encode("utf-8")) for k, v in extras]
    info = user_from_headers(headers, ("X-Remote-User",), (), ("X-Remote-Group",), ("X-Remote-Extra-",))
    assert info is not None and info.name == user
    for key, _ in info.extra:
        assert key in {unquote(k.lower(), errors="strict") if _valid(k) else k.lower() for k, _ in extras}


def _valid(k: str) -> bool:
    from urllib.parse import unquote

    try:
        unquote(k.lower(), errors="strict")
    except UnicodeDecodeError:
        return False
    return True


async def test_client_ca_file_is_reloaded_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handler.auth.x509 as mod

    monkeypatch.setattr(mod, "RELOAD_INTERVAL", 0.0)
    path = ca_file(tmp_path, CA_A)
    auth = ClientCertificateAuthenticator(path)
    a_user, b_user = CA_A.issue("alice"), CA_B.issue("bob")
    assert await auth.authenticate(scope(a_user)) is not None
    await refused(auth, scope(b_user))
    # The CA is rotated: the file now holds CA_B only. Remembered verifications go with CA_A.
    Path(path).write_text(CA_B.pem)
    assert await auth.authenticate(scope(b_user)) is not None
    await refused(auth, scope(a_user))
    # A broken bundle keeps the last good one.
    Path(path).write_text("not a certificate")
    assert await auth.authenticate(scope(b_user)) is not None
