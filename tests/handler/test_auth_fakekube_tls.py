"""``oidc``, ``client-certificate`` and ``request-header`` end to end: the gateway served over real
TLS in a subprocess, in front of fakekube with authentication, impersonation and RBAC on (the
identities of ``tests.contract.identities``).

For each mode alice (a JWT with ``sub: alice``, a client certificate ``CN=alice``, or
``X-Remote-User: alice`` from the front proxy) creates and lists RayClusters in ``team-a`` (201,
200) and gets the API server's 403 in ``default``; bob gets 403; no credentials get 401. The
gateway's own identity may not create RayClusters (tests/handler/test_auth_fakekube.py checks it),
so alice's 201 is fakekube acting as the impersonated alice.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from fakekube.strategies import raycluster
from tests.contract.identities import GATEWAY, TEAM_NS
from tests.handler.oidc_issuer import CLIENT_ID, Issuer
from tests.handler.pki import CA
from tests.handler.test_auth_fakekube import secured_fakekube  # noqa: F401 - the fixture
from tests.handler.test_tls_serving import Pki, serve
from tests.procs import stop_server

# A caller: (who or None) -> (TLS context, headers).
Caller = Callable[[str | None], tuple[ssl.SSLContext, dict[str, str]]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    serving_ca = CA.new("serving-ca")
    serving = serving_ca.issue("gateway", server=True)
    cert_file, key_file = serving.write(d, "serving")
    (d / "serving-ca.pem").write_text(serving_ca.pem)
    client_ca = CA.new("client-ca")
    (d / "client-ca.pem").write_text(client_ca.pem)
    return Pki(
        d,
        serving_ca,
        serving,
        cert_file,
        key_file,
        str(d / "serving-ca.pem"),
        client_ca,
        str(d / "client-ca.pem"),
        CA.new("client-ca"),
    )


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    i = Issuer(tmp_path_factory.mktemp("issuer"))
    yield i
    i.close()


def _context(pki: Pki, cn: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.serving_ca_file)
    if cn is not None:
        c, k = pki.client_ca.issue(cn).write(pki.dir, "client-" + cn)
        ctx.load_cert_chain(c, k)
    return ctx


@pytest.fixture(scope="module", params=["oidc", "client-certificate", "request-header"])
def gateway(
    request: pytest.FixtureRequest,
    secured_fakekube: tuple[str, str],  # noqa: F811
    pki: Pki,
    issuer: Issuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Caller]]:
    """``(base URL, caller)`` of a TLS gateway in the parametrised mode over secured fakekube."""
    url, _ = secured_fakekube
    mode = request.param
    if mode == "oidc":
        args = ["--oidc-issuer-url", issuer.url, "--oidc-client-id", CLIENT_ID]
        args += ["--oidc-ca-file", issuer.ca_file, "--oidc-username-prefix", "-"]

        def caller(who: str | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            headers = {"Authorization": f"Bearer {issuer.token(sub=who)}"} if who else {}
            return _context(pki, None), headers

    elif mode == "client-certificate":
        args = ["--client-ca-file", pki.client_ca_file]

        def caller(who: str | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            return _context(pki, who), {}

    else:
        args = ["--requestheader-client-ca-file", pki.client_ca_file]
        args += ["--requestheader-allowed-names", "front-proxy"]

        def caller(who: str | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            # The front proxy's connection, naming the user it authenticated; no user: a direct
            # connection (no certificate) that claims alice.
            if who is None:
                return _context(pki, None), {"X-Remote-User": "alice"}
            return _context(pki, "front-proxy"), {"X-Remote-User": who}

    proc, port = serve(
        url, pki, ["--authentication", mode, *args], tmp_path_factory.mktemp(mode), GATEWAY.token
    )
    yield f"https://127.0.0.1:{port}", caller
    stop_server(proc)


def call(gateway: tuple[str, Caller], who: str | None) -> httpx.Client:
    base, caller = gateway
    ctx, headers = caller(who)
    return httpx.Client(base_url=base, verify=ctx, headers=headers, timeout=30)


def rayclusters(namespace: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"


def test_alice_creates_and_lists_in_team_a(gateway: tuple[str, Caller]) -> None:
    name = "c-" + uuid.uuid4().hex[:8]
    with call(gateway, "alice") as c:
        created = c.post(rayclusters(TEAM_NS), json=raycluster(name))
        assert created.status_code == 201, created.text
        listed = c.get(rayclusters(TEAM_NS))
        assert listed.status_code == 200
        assert name in [i["metadata"]["name"] for i in listed.json()["items"]]
        assert c.delete(rayclusters(TEAM_NS) + "/" + name).status_code == 200


def test_alice_is_forbidden_in_default(gateway: tuple[str, Caller]) -> None:
    with call(gateway, "alice") as c:
        r = c.post(rayclusters("default"), json=raycluster("nope"))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'rayclusters.ray.io is forbidden: User "alice" cannot create resource "rayclusters" in API group '
        '"ray.io" in the namespace "default"'
    )


def test_bob_is_forbidden(gateway: tuple[str, Caller]) -> None:
    with call(gateway, "bob") as c:
        assert c.get(rayclusters(TEAM_NS)).status_code == 403
        assert c.post(rayclusters(TEAM_NS), json=raycluster("bobs")).status_code == 403


def test_no_credentials_are_401(gateway: tuple[str, Caller]) -> None:
    with call(gateway, None) as c:
        r = c.get(rayclusters(TEAM_NS))
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
