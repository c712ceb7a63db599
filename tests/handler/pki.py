"""Certificates made in tests (the ``cryptography`` package): a CA, server and client leaves.

``CA.new("name")`` makes a self-signed CA (EC P-256, valid a day); ``ca.issue(cn, orgs, ...)``
a leaf signed by it (client auth by default, server auth with ``server=True`` and SANs for
``localhost``/``127.0.0.1``); ``write(dir, name)`` writes ``name.pem`` and ``name-key.pem``.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NOW = datetime.timedelta(minutes=5)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        """The certificate as PEM text."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM text."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def write(self, directory: Path, name: str) -> tuple[str, str]:
        """Write ``name.pem`` and ``name-key.pem`` into ``directory``; return both paths."""
        cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
        cert.write_text(self.pem)
        key.write_text(self.key_pem)
        return str(cert), str(key)


@dataclass
class CA(Issued):
    """A self-signed certificate authority."""

    @classmethod
    def new(cls, cn: str) -> CA:
        """A fresh CA called ``cn``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _NOW)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def issue(
        self,
        cn: str,
        orgs: tuple[str, ...] = (),
        server: bool = False,
        expired: bool = False,
        extra_names: tuple[x509.NameAttribute, ...] = (),
    ) -> Issued:
        """A leaf for ``cn`` with organizations ``orgs`` (client auth, or server auth for
        localhost/127.0.0.1 with ``server``); ``expired`` makes it a day past its end."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        if expired:
            now -= datetime.timedelta(days=2)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        subject = _name(cn, orgs)
        if extra_names:
            subject = x509.Name([*subject, *extra_names])
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _NOW)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return Issued(b.sign(self.key, hashes.SHA256()), key)
