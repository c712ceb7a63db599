"""``client-certificate`` mode: the TLS client certificate names the user, as kube-apiserver's
``--client-ca-file`` does.

Follows k8s.io/apiserver ``pkg/authentication/request/x509/x509.go`` (v0.37):

- ``Authenticator.AuthenticateRequest``: no peer certificate → not handled (None); the leaf is
  verified against the CA bundle for client authentication (``ExtKeyUsageClientAuth``), the rest
  of the presented chain as intermediates; a failure is an error (here a 401
  ``Unauthorized``; the reason goes to the log, not to the caller, as kube-apiserver does).
- ``CommonNameUserConversion``: a leaf without a CommonName is not handled; otherwise the user
  is the CN, the groups the subject's Organizations in order, the uid the subject's
  ``1.3.6.1.4.1.57683.2`` attribute when there is exactly one (``parseUIDFromCert``, the
  ``AllowParsingUserUIDFromCertAuth`` gate, on by default since 1.34; several or an empty one
  is an error), and ``extra["authentication.kubernetes.io/credential-id"]`` is
  ``X509SHA256=<hex of the leaf's DER>``.

The TLS layer (:mod:`handler.tls`) already refuses a certificate its CA does not sign; the chain
is verified here again (``cryptography.x509.verification``, the Rust WebPKI verifier, with a
SAN made optional because client certificates rarely carry one) so the authenticator does not
depend on how the server was configured. Python 3.11's ``ssl`` hands over only the leaf of the
chain the client sent, so intermediates a client presents are not available here: an intermediate
CA must be in the CA bundle itself (as a trust anchor). Verified leaves are remembered for
:data:`VERIFIED_TTL` seconds (never past their expiry): one connection's requests verify once.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, ObjectIdentifier
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from handler.tls import RELOAD_INTERVAL, files_digest
from kubeapi.authn import UserInfo, unauthorized

__all__ = [
    "CREDENTIAL_ID_KEY",
    "UID_OID",
    "VERIFIED_TTL",
    "ClientCertificateAuthenticator",
    "ClientCertificateVerifier",
    "peer_chain",
    "user_from_certificate",
]

log = logging.getLogger("handler.auth")

#: user.CredentialIDKey (k8s.io/apiserver pkg/authentication/user/user.go).
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
#: asn1util.X509UID(): the subject attribute carrying the user's uid.
UID_OID = ObjectIdentifier("1.3.6.1.4.1.57683.2")
#: Seconds a verified leaf is trusted without verifying again.
VERIFIED_TTL = 60.0
_CACHE_MAX = 4096


def peer_chain(scope: Mapping[str, Any]) -> list[str]:
    """The client certificate chain the TLS layer put in the scope (ASGI TLS extension
    ``client_cert_chain``: PEM strings, leaf first); empty when there is none."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return list(tls.get("client_cert_chain") or ())


def load_ca_bundle(path: str) -> list[x509.Certificate]:
    """The certificates of PEM bundle ``path``; ValueError naming the file when it has none or
    cannot be read."""
    try:
        with open(path, "rb") as f:
            certs = x509.load_pem_x509_certificates(f.read())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot load CA bundle {path}: {e}") from e
    return certs


class ClientCertificateVerifier:
    """Verifies a presented chain (PEM, leaf first) for client authentication against the CA
    certificates of ``ca_file`` (``x509.VerifyOptions{Roots, Intermediates, KeyUsages:
    ClientAuth}``). :meth:`verify` returns the leaf or raises the 401.

    The bundle is re-read when the file changes (looked at, at most once a second, by
    :func:`handler.tls.files_digest`), as kube-apiserver's ``DynamicFileCAContent`` reloads
    ``--client-ca-file``, and the remembered verifications are dropped with the old bundle; a new
    bundle that does not load is logged and the old one kept.
    """

    def __init__(self, ca_file: str) -> None:
        self.ca_file = ca_file
        self._store = Store(load_ca_bundle(ca_file))
        self._digest = files_digest([ca_file])
        self._checked = time.monotonic()
        self._ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
        )
        self._verified: dict[str, tuple[x509.Certificate, float]] = {}

    def verify(self, chain: Sequence[str]) -> x509.Certificate:
        """The verified leaf of ``chain``; StatusError 401 when it does not verify."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_INTERVAL:
            self._reload(now)
        hit = self._verified.get(chain[0])
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            certs = [x509.load_pem_x509_certificate(p.encode("ascii")) for p in chain]
            verifier = (
                PolicyBuilder()
                .store(self._store)
                .time(datetime.datetime.now(datetime.UTC))
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=self._ee_policy)
                .build_client_verifier()
            )
            verifier.verify(certs[0], certs[1:])
        except (ValueError, VerificationError) as e:
            log.info("client certificate verification failed: %s", e)
            raise unauthorized() from e
        leaf = certs[0]
        left = (leaf.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).total_seconds()
        if len(self._verified) >= _CACHE_MAX:
            self._verified.clear()
        self._verified[chain[0]] = (leaf, now + min(VERIFIED_TTL, max(left, 0.0)))
        return leaf

    def _reload(self, now: float) -> None:
        self._checked = now
        digest = files_digest([self.ca_file])
        if digest == self._digest:
            return
        self._digest = digest
        try:
            self._store = Store(load_ca_bundle(self.ca_file))
        except ValueError as e:
            log.warning("client CA file changed but does not load, keeping the previous one: %s", e)
            return
        self._verified.clear()
        log.info("client CA bundle reloaded from %s", self.ca_file)


def _strings(cert: x509.Certificate, oid: ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def user_from_certificate(cert: x509.Certificate) -> UserInfo | None:
    """``CommonNameUserConversion``: the user of a verified leaf, None without a CommonName;
    StatusError 401 for a malformed uid attribute (several, or empty)."""
    cns = _strings(cert, NameOID.COMMON_NAME)
    # Go's pkix.Name.CommonName is the last CN attribute of the subject.
    name = cns[-1] if cns else ""
    if not name:
        return None
    uids = _strings(cert, UID_OID)
    if len(uids) > 1 or (uids and not uids[0]):
        log.info("client certificate for %s has %d uid attributes or an empty one", name, len(uids))
        raise unauthorized()
    fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    return UserInfo.of(
        name,
        uid=uids[0] if uids else "",
        groups=_strings(cert, NameOID.ORGANIZATION_NAME),
        extra={CREDENTIAL_ID_KEY: ["X509SHA256=" + fingerprint]},
    )


class ClientCertificateAuthenticator:
    """The ``client-certificate`` :class:`handler.auth.authenticator.Authenticator`: the peer
    certificate verified against ``client_ca_file`` names the user (module docstring)."""

    def __init__(self, client_ca_file: str) -> None:
        self.verifier = ClientCertificateVerifier(client_ca_file)

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The certificate's user; None without a client certificate (or without a CN); 401 for
        one that does not verify."""
        chain = peer_chain(scope)
        if not chain:
            return None
        return user_from_certificate(self.verifier.verify(chain))
