"""The gateway reaching an HTTPS upstream: CA bundles, bearer tokens and client certificates.

Certificates are made per test session with the ``openssl`` command: a CA, a server certificate
for 127.0.0.1 and a client certificate (CN ``ray-gateway``), all signed by the CA.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.handler.gateway_procs import GatewayFactory
from tests.handler.gateway_stub import StubUpstream
from tests.procs import free_port, start_server, stop_server

LIST = "/apis/ray.io/v1/namespaces/default/rayclusters"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ca.pem, server.pem/key, client.pem/key."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "san.ext"), ("client", "client.ext")):
        cn = "127.0.0.1" if name == "server" else "ray-gateway"
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    return d


@pytest.fixture(scope="module")
def tls_stub(pki: Path) -> Iterator[StubUpstream]:
    """An HTTPS stub that asks for (but does not require) a client certificate signed by the CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.pem")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    s = StubUpstream(tls=ctx)
    yield s
    s.close()


def test_ca_file_and_token_file(tls_stub: StubUpstream, pki: Path, gateway_factory: GatewayFactory) -> None:
    (pki / "token").write_text("tls-token")
    url = gateway_factory(
        tls_stub.url, ["--ca-file", str(pki / "ca.pem"), "--token-file", str(pki / "token")]
    )
    tls_stub.reset()
    r = httpx.get(url + LIST)
    assert r.status_code == 200, r.text
    assert tls_stub.seen[-1].headers["authorization"] == "Bearer tls-token"
    assert tls_stub.seen[-1].headers["x-stub-client-cn"] == ""  # no client certificate here


def test_untrusted_upstream_certificate_is_refused(
    tls_stub: StubUpstream, gateway_factory: GatewayFactory
) -> None:
    url = gateway_factory(tls_stub.url, env={"KUBERAY_APISERVER_RETRY_RETRIES": "0"})
    tls_stub.reset()
    r = httpx.get(url + LIST)
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    assert tls_stub.seen == []


def test_kubeconfig_with_inline_ca_and_client_certificate(
    tls_stub: StubUpstream, pki: Path, tmp_path: Path
) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": tls_stub.url, "certificate-authority-data": b64("ca.pem")}}
        ],
        "users": [
            {
                "name": "u",
                "user": {"client-certificate-data": b64("client.pem"), "client-key-data": b64("client.key")},
            }
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = start_server(
        [
            *["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port)],
            *["--kubeconfig", str(path), "--authentication", "none"],
        ],
        port,
    )
    try:
        tls_stub.reset()
        r = httpx.get(f"http://127.0.0.1:{port}{LIST}")
        assert r.status_code == 200, r.text
        assert tls_stub.seen[-1].headers["x-stub-client-cn"] == "ray-gateway"
        assert "authorization" not in tls_stub.seen[-1].headers
    finally:
        stop_server(proc)
