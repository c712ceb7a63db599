"""TLS serving (handler.tls, handler._uvicorn_tls): ``kuberay-apiserver serve`` over real TLS in a
subprocess, in front of a stub upstream that answers the review APIs.

- ``client-certificate``: the verified client certificate's CN/O reach the upstream as
  ``Impersonate-*`` (and in the SubjectAccessReview); a certificate of another CA fails the TLS
  handshake; no certificate is a 401.
- ``request-header``: ``X-Remote-*`` are believed only from the front proxy's certificate (the
  requestheader CA and an allowed CN); from any other connection they are not trusted (401) and
  never reach the upstream.
- reload: replacing the certificate files changes the certificate new connections see, without a
  restart, on both serving paths (uvicorn for the certificate modes, granian otherwise).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeapi.authn import UserInfo
from tests.handler.gateway_stub import StubUpstream
from tests.handler.pki import CA, Issued
from tests.handler.review_stub import GATEWAY_TOKEN, Reviews, resource_rule
from tests.procs import BIN, free_port, stop_server

RAY = "/apis/ray.io/v1/namespaces/team-a/rayclusters"


@dataclass
class Pki:
    """The certificates of one test: serving CA and certificate, client and front-proxy CAs."""

    dir: Path
    serving_ca: CA
    serving: Issued
    cert_file: str
    key_file: str
    serving_ca_file: str
    client_ca: CA
    client_ca_file: str
    other_ca: CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    serving_ca = CA.new("serving-ca")
    serving = serving_ca.issue("gateway", server=True)
    cert_file, key_file = serving.write(tmp_path, "serving")
    (tmp_path / "serving-ca.pem").write_text(serving_ca.pem)
    client_ca = CA.new("client-ca")
    (tmp_path / "client-ca.pem").write_text(client_ca.pem)
    return Pki(
        tmp_path,
        serving_ca,
        serving,
        cert_file,
        key_file,
        str(tmp_path / "serving-ca.pem"),
        client_ca,
        str(tmp_path / "client-ca.pem"),
        CA.new("client-ca"),
    )


def client_context(pki: Pki, cert: Issued | None = None, name: str = "client") -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.serving_ca_file)
    if cert is not None:
        c, k = cert.write(pki.dir, name)
        ctx.load_cert_chain(c, k)
    return ctx


def https(
    port: int, ctx: ssl.SSLContext, path: str = RAY, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    """GET ``path`` on a new TLS connection: status, JSON body (or text), the server's cert (DER)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        raw = r.read()
        der = conn.sock.getpeercert(binary_form=True) or b""
    finally:
        conn.close()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode(errors="replace")
    return r.status, body, der


def serve(
    upstream: str, pki: Pki, args: list[str], tmp: Path, gateway_token: str = GATEWAY_TOKEN
) -> tuple[subprocess.Popen[bytes], int]:
    """``kuberay-apiserver serve`` over TLS (``pki``'s serving files) in front of ``upstream`` with
    ``gateway_token`` as its own credentials and ``args``; ``(process, port)`` once /healthz
    answers over TLS."""
    token = tmp / "gateway-token"
    token.write_text(gateway_token)
    port = free_port()
    argv = [str(BIN / "kuberay-apiserver"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--upstream", upstream, "--token-file", str(token)]
    argv += ["--tls-cert-file", pki.cert_file, "--tls-private-key-file", pki.key_file, *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    ctx = client_context(pki)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{out}")
        try:
            if https(port, ctx, "/healthz")[0] == 200:
                return proc, port
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("gateway not healthy over TLS")


@pytest.fixture
def reviews(stub: StubUpstream) -> Iterator[Reviews]:
    stub.reset()
    r = Reviews({}, [resource_rule("alice", {"get", "list"}, "ray.io", "rayclusters", "team-a")])
    stub.responder = r
    yield r
    stub.reset()


def proxied(stub: StubUpstream) -> list[Any]:
    return [s for s in stub.seen if ".k8s.io/" not in s.path]


def reviewed_user(reviews: Reviews) -> UserInfo:
    spec = reviews.access_reviews[-1]
    return UserInfo.of(spec["user"], spec.get("uid", ""), spec.get("groups", []), spec.get("extra"))


def replace_files(pki: Pki, new: Issued) -> None:
    """Swap the serving files for ``new`` the way a Secret update does: each file replaced whole."""
    for text, path in ((new.key_pem, pki.key_file), (new.pem, pki.cert_file)):
        tmp = path + ".tmp"
        Path(tmp).write_text(text)
        os.replace(tmp, path)


# --- client-certificate ----------------------------------------------------------------------------


def test_client_certificate_user_reaches_the_upstream_impersonated(
    stub: StubUpstream, reviews: Reviews, pki: Pki, tmp_path: Path
) -> None:
    proc, port = serve(
        stub.url,
        pki,
        ["--authentication", "client-certificate", "--client-ca-file", pki.client_ca_file],
        tmp_path,
    )
    try:
        alice = pki.client_ca.issue("alice", ("team-a-devs",))
        status, body, _ = https(port, client_context(pki, alice))
        assert status == 200, body
        [seen] = proxied(stub)
        assert seen.headers["impersonate-user"] == "alice"
        assert seen.headers["impersonate-group"] == "team-a-devs"
        assert seen.headers["authorization"] == f"Bearer {GATEWAY_TOKEN}"
        user = reviewed_user(reviews)
        assert (user.name, user.groups) == ("alice", ("team-a-devs",))
        assert dict(user.extra)["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")

        # bob: a valid certificate, no RBAC → 403 worded as kube-apiserver words it.
        bob = pki.client_ca.issue("bob")
        status, body, _ = https(port, client_context(pki, bob, "bob"))
        assert status == 403
        assert body["message"].startswith('rayclusters.ray.io is forbidden: User "bob" cannot list')

        stub.seen.clear()
        # No certificate: 401, nothing proxied.
        status, body, _ = https(port, client_context(pki))
        assert (status, body["reason"]) == (401, "Unauthorized")
        # Impersonation headers from the caller are not a way around it.
        status, _, _ = https(port, client_context(pki), headers={"Impersonate-User": "system:admin"})
        assert status == 401
        assert proxied(stub) == []
        # A certificate of another CA (same CA name): the TLS handshake fails.
        mallory = pki.other_ca.issue("alice", ("system:masters",))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https(port, client_context(pki, mallory, "mallory"))
        assert proxied(stub) == []
    finally:
        stop_server(proc)


# --- request-header --------------------------------------------------------------------------------

REMOTE = {
    "X-Remote-User": "alice",
    "X-Remote-Group": "team-a-devs",
    "X-Remote-Extra-Acme.com%2Fteam": "ray",
}


def test_request_header_trusted_only_from_the_front_proxy(
    stub: StubUpstream, reviews: Reviews, pki: Pki, tmp_path: Path
) -> None:
    args = [
        "--authentication",
        "request-header",
        "--requestheader-client-ca-file",
        pki.client_ca_file,
        "--requestheader-allowed-names",
        "front-proxy",
    ]
    proc, port = serve(stub.url, pki, args, tmp_path)
    try:
        proxy = pki.client_ca.issue("front-proxy")
        status, body, _ = https(port, client_context(pki, proxy, "proxy"), headers=REMOTE)
        assert status == 200, body
        [seen] = proxied(stub)
        assert seen.headers["impersonate-user"] == "alice"
        assert not any(k.startswith("x-remote-") for k in seen.headers)
        assert reviewed_user(reviews) == UserInfo.of(
            "alice", groups=["team-a-devs"], extra={"acme.com/team": ["ray"]}
        )

        stub.seen.clear()
        # Untrusted: no client certificate → the headers are ignored, 401, nothing upstream.
        status, body, _ = https(port, client_context(pki), headers=REMOTE)
        assert (status, body["reason"]) == (401, "Unauthorized")
        # A certificate of the same CA whose CN is not an allowed proxy name (a user's own).
        alice = pki.client_ca.issue("alice")
        status, _, _ = https(port, client_context(pki, alice, "alice"), headers=REMOTE)
        assert status == 401
        # Another CA's "front-proxy": refused in the handshake.
        fake = pki.other_ca.issue("front-proxy")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https(port, client_context(pki, fake, "fake"), headers=REMOTE)
        assert proxied(stub) == []
    finally:
        stop_server(proc)


# --- reload ----------------------------------------------------------------------------------------


def _reload_seen(pki: Pki, port: int, ctx_for: Any) -> None:
    _, _, before = https(port, ctx_for(), "/healthz")
    assert before == pki.serving.cert.public_bytes(_der())
    renewed = pki.serving_ca.issue("gateway-renewed", server=True)
    replace_files(pki, renewed)
    want = renewed.cert.public_bytes(_der())
    deadline = time.monotonic() + 20
    seen = before
    while time.monotonic() < deadline and seen != want:
        time.sleep(0.2)
        try:
            _, _, seen = https(port, ctx_for(), "/healthz")
        except (OSError, http.client.HTTPException):
            continue  # granian between workers
    assert seen == want


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def test_certificate_reload_without_restart_client_certificate_mode(
    stub: StubUpstream, reviews: Reviews, pki: Pki, tmp_path: Path
) -> None:
    args = ["--authentication", "client-certificate", "--client-ca-file", pki.client_ca_file]
    proc, port = serve(stub.url, pki, args, tmp_path)
    try:
        _reload_seen(pki, port, lambda: client_context(pki))
        assert proc.poll() is None
    finally:
        stop_server(proc)


def test_certificate_reload_plain_tls_on_granian(
    stub: StubUpstream, reviews: Reviews, pki: Pki, tmp_path: Path
) -> None:
    proc, port = serve(stub.url, pki, ["--authentication", "none"], tmp_path)
    try:
        _reload_seen(pki, port, lambda: client_context(pki))
        assert proc.poll() is None
        # Still serving after the workers were respawned.
        assert https(port, client_context(pki), RAY)[0] == 200
    finally:
        stop_server(proc)


def test_mismatched_tls_files_stop_the_start(pki: Pki, tmp_path: Path) -> None:
    other = pki.serving_ca.issue("other", server=True)
    _, other_key = other.write(tmp_path, "other")
    r = subprocess.run(
        [
            str(BIN / "kuberay-apiserver"),
            "serve",
            "--host",
            "127.0.0.1",
            "--upstream",
            "http://127.0.0.1:9",
            "--tls-cert-file",
            pki.cert_file,
            "--tls-private-key-file",
            other_key,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode != 0
    assert "cannot load TLS certificate" in r.stderr


OIDC = "--authentication oidc --oidc-issuer-url https://idp"
CERT_FILES = "--tls-cert-file CERT --tls-private-key-file KEY"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--authentication oidc --oidc-issuer-url http://idp", "must be an https URL"),
        (OIDC, "needs --oidc-client-id"),
        (f"{OIDC} --oidc-client-id c --oidc-signing-algs RS256,none", "unsupported signing alg"),
        ("--authentication client-certificate", "needs --tls-cert-file"),
        (f"--authentication request-header {CERT_FILES}", "needs --requestheader-client-ca-file"),
        (
            f"--authentication client-certificate {CERT_FILES} --client-ca-file /nonexistent/ca.pem",
            "cannot load client CA file /nonexistent/ca.pem",
        ),
        ("--tls-cert-file CERT", "--tls-cert-file and --tls-private-key-file go together"),
    ],
)
def test_bad_identity_settings_stop_the_start_in_one_line(pki: Pki, args: str, message: str) -> None:
    argv = [pki.cert_file if a == "CERT" else pki.key_file if a == "KEY" else a for a in args.split()]
    r = subprocess.run(
        [
            str(BIN / "kuberay-apiserver"),
            "serve",
            "--host",
            "127.0.0.1",
            "--upstream",
            "http://127.0.0.1:9",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode != 0
    assert r.stderr.startswith("kuberay-apiserver: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
