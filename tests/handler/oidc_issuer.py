"""A small OpenID Connect issuer for tests: HTTPS (a certificate from :mod:`tests.handler.pki`)
serving ``/.well-known/openid-configuration`` and ``/jwks`` from a thread, and signing tokens
with joserfc.

``issuer.keys`` is the JWKS it publishes (change it to rotate); ``issuer.hits`` counts requests
per path; ``issuer.token(claims, key=...)`` signs an ID token with the defaults of a valid one.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.handler.pki import CA

CLIENT_ID = "kuberay-gateway"


def new_key(kid: str) -> RSAKey:
    """A fresh RSA-2048 signing key with ``kid``."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, auto_kid=False)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """An ``alg: none`` JWT (empty signature), as an attacker would send it."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


class Issuer:
    """The issuer at ``url`` (https://127.0.0.1:PORT), trusted through ``ca_file``."""

    def __init__(self, directory: Path, issuer_override: str | None = None) -> None:
        ca = CA.new("oidc-test-ca")
        server_cert = ca.issue("127.0.0.1", server=True)
        self.ca_file = str(directory / "oidc-ca.pem")
        Path(self.ca_file).write_text(ca.pem)
        cert_file, key_file = server_cert.write(directory, "oidc-server")
        self.signing_key = new_key("k1")
        self.keys: list[RSAKey] = [self.signing_key]
        self.hits: Counter[str] = Counter()
        self.issuer_override = issuer_override
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {
                        "issuer": issuer.issuer_override or issuer.url,
                        "jwks_uri": issuer.url + "/jwks",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/jwks":
                    body = {"keys": [k.as_dict(private=False) for k in issuer.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of a valid token for user ``alice`` (groups ``team-a``), with ``overrides``
        (a value of None removes the claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "alice",
            "aud": CLIENT_ID,
            "exp": now + 600,
            "iat": now,
            "nbf": now - 5,
            "email": "alice@example.com",
            "email_verified": True,
            "groups": ["team-a", "devs"],
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: RSAKey | None = None, alg: str = "RS256", **overrides: Any) -> str:
        """A token signed by ``key`` (the issuer's current one by default) over :meth:`claims`."""
        key = key or self.signing_key
        header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, self.claims(**overrides), key, algorithms=[alg])

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
