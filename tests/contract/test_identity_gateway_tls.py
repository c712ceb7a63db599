"""Identity through the gateway over the real kube-apiserver, for the modes that need TLS serving:
``oidc``, ``client-certificate`` and ``request-header`` (issue 12).

The gateway serves HTTPS (certificates made in the test) in front of refkube (TLS, RBAC, the
identities of ``tests.contract.identities``) with ``kuberay-gateway``'s token as its own
credentials. A caller is alice or bob as each mode names them: an ID token from a local issuer
(``sub``, no username prefix), a client certificate (``CN``), or the front proxy's certificate
with ``X-Remote-User``. Each answer is compared with refkube's answer to the same request made
with that user's own token (normalised as tests/contract/test_identity_gateway.py does; recorded
as ``identity-gateway-tls:<mode>:<scenario>``):

- alice creates and lists RayClusters in ``team-a`` (201, 200): the create is refkube acting as
  alice (the gateway's own identity may not create them: test_identity_gateway.py checks it);
- alice gets refkube's 403 in ``default``, bob gets 403 in ``team-a``, in refkube's words;
- no credentials: 401 (refkube's own 401 ``Unauthorized`` for a request without a token);
- request-header: ``X-Remote-User: alice`` on a connection without the proxy's certificate is
  not believed (401).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.contract.client import RefKube, Target
from tests.contract.identities import ALICE, BOB, GATEWAY, TEAM_NS, Identity
from tests.contract.results import RESULTS, Comparison
from tests.handler.oidc_issuer import CLIENT_ID, Issuer
from tests.handler.pki import CA
from tests.handler.test_tls_serving import Pki, serve
from tests.procs import stop_server

MODES = ["oidc", "client-certificate", "request-header"]
RAY = "/apis/ray.io/v1"
_VOLATILE = {"time", "resourceVersion", "creationTimestamp", "uid", "managedFields", "generation"}

#: A caller of the gateway: (identity or None) → (TLS context, headers).
Caller = Callable[[Identity | None], tuple[ssl.SSLContext, dict[str, str]]]


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k not in _VOLATILE}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    serving_ca, client_ca = CA.new("serving-ca"), CA.new("client-ca")
    serving = serving_ca.issue("gateway", server=True)
    cert_file, key_file = serving.write(d, "serving")
    (d / "serving-ca.pem").write_text(serving_ca.pem)
    (d / "client-ca.pem").write_text(client_ca.pem)
    return Pki(
        d, serving_ca, serving, cert_file, key_file, str(d / "serving-ca.pem"), client_ca,
        str(d / "client-ca.pem"), CA.new("client-ca"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    i = Issuer(tmp_path_factory.mktemp("issuer"))
    yield i
    i.close()


def _tls(pki: Pki, cn: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.serving_ca_file)
    if cn is not None:
        c, k = pki.client_ca.issue(cn).write(pki.dir, "client-" + cn)
        ctx.load_cert_chain(c, k)
    return ctx


@pytest.fixture(scope="module", params=MODES)
def gateway(
    request: pytest.FixtureRequest,
    refkube: RefKube,
    pki: Pki,
    issuer: Issuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, Caller]]:
    """``(mode, base URL, caller)`` of a TLS gateway in the parametrised mode over refkube."""
    ref = refkube.target
    mode: str = request.param
    caller: Caller
    if mode == "oidc":
        args = ["--oidc-issuer-url", issuer.url, "--oidc-client-id", CLIENT_ID]
        args += ["--oidc-ca-file", issuer.ca_file, "--oidc-username-prefix", "-"]

        def caller(who: Identity | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            token = {"Authorization": f"Bearer {issuer.token(sub=who.name)}"} if who else {}
            return _tls(pki, None), token

    elif mode == "client-certificate":
        args = ["--client-ca-file", pki.client_ca_file]

        def caller(who: Identity | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            return _tls(pki, who.name if who else None), {}

    else:
        args = ["--requestheader-client-ca-file", pki.client_ca_file]
        args += ["--requestheader-allowed-names", "front-proxy"]

        def caller(who: Identity | None) -> tuple[ssl.SSLContext, dict[str, str]]:
            if who is None:
                return _tls(pki, None), {}
            return _tls(pki, "front-proxy"), {"X-Remote-User": who.name}

    args = ["--authentication", mode, "--ca-file", str(ref.verify), *args]
    proc, port = serve(ref.url, pki, args, tmp_path_factory.mktemp(mode), GATEWAY.token)
    try:
        yield mode, f"https://127.0.0.1:{port}", caller
    finally:
        stop_server(proc)


def _via_gateway(gateway: tuple[str, str, Caller], who: Identity | None, **headers: str) -> httpx.Client:
    _, url, caller = gateway
    ctx, sent = caller(who)
    return httpx.Client(base_url=url, verify=ctx, headers={**sent, **headers}, timeout=30)


def _direct(refkube: RefKube, who: Identity | None) -> httpx.Client:
    ref = refkube.target
    return Target(ref.name, ref.url, token=who.token if who else None, verify=ref.verify).client()


def _answer(r: httpx.Response) -> tuple[int, Any]:
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def _compare(mode: str, scenario: str, got: tuple[int, Any], want: tuple[int, Any]) -> None:
    diffs = [] if _norm(got) == _norm(want) else [f"gateway {_norm(got)!r} != refkube {_norm(want)!r}"[:600]]
    RESULTS.add(Comparison(f"identity-gateway-tls:{mode}:{scenario}", f"gateway-refkube-{mode}", diffs))
    assert not diffs, diffs[0]


def _raycluster(name: str) -> dict[str, Any]:
    container = {"name": "ray-head", "image": "rayproject/ray:2.9.0"}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}}},
    }


def test_alice_creates_and_lists_in_team_a(gateway: tuple[str, str, Caller], refkube: RefKube) -> None:
    mode = gateway[0]
    name = f"tls-{mode[:4]}-{uuid.uuid4().hex[:8]}"
    with _via_gateway(gateway, ALICE) as c:
        created = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
        assert created.status_code == 201, created.text
        listed = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
        assert listed.status_code == 200 and name in [i["metadata"]["name"] for i in listed.json()["items"]]
    with _direct(refkube, ALICE) as c:
        direct = _answer(c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters/{name}"))
    _compare(mode, "alice-create-team-a", (201, created.json()), (201, direct[1]))


@pytest.mark.parametrize(
    ("scenario", "who", "method", "namespace"),
    [
        ("alice-list-default", ALICE, "GET", "default"),
        ("alice-create-default", ALICE, "POST", "default"),
        ("bob-list-team-a", BOB, "GET", TEAM_NS),
        ("bob-create-team-a", BOB, "POST", TEAM_NS),
    ],
)
def test_forbidden_as_the_apiserver_words_it(
    gateway: tuple[str, str, Caller],
    refkube: RefKube,
    scenario: str,
    who: Identity,
    method: str,
    namespace: str,
) -> None:
    body = _raycluster("nope") if method == "POST" else None
    path = f"{RAY}/namespaces/{namespace}/rayclusters"
    with _via_gateway(gateway, who) as c:
        got = _answer(c.request(method, path, json=body))
    with _direct(refkube, who) as c:
        want = _answer(c.request(method, path, json=body))
    assert got[0] == 403
    _compare(gateway[0], scenario, got, want)


def test_no_credentials_are_401(gateway: tuple[str, str, Caller], refkube: RefKube) -> None:
    path = f"{RAY}/namespaces/{TEAM_NS}/rayclusters"
    with _via_gateway(gateway, None) as c:
        got = _answer(c.get(path))
    with _direct(refkube, None) as c:
        want = _answer(c.get(path))
    assert got[0] == 401
    _compare(gateway[0], "401-none", got, want)


def test_remote_user_without_the_proxy_certificate_is_not_believed(
    gateway: tuple[str, str, Caller], refkube: RefKube
) -> None:
    """Every mode: ``X-Remote-User: alice`` from a connection that is not the front proxy's
    authenticates nobody (401, as refkube answers a request carrying only that header)."""
    path = f"{RAY}/namespaces/{TEAM_NS}/rayclusters"
    with _via_gateway(
        gateway, None, **{"X-Remote-User": ALICE.name, "X-Remote-Group": "system:masters"}
    ) as c:
        got = _answer(c.get(path))
    with _direct(refkube, None) as c:
        c.headers.update({"X-Remote-User": ALICE.name, "X-Remote-Group": "system:masters"})
        want = _answer(c.get(path))
    assert got[0] == 401
    _compare(gateway[0], "401-remote-user-untrusted", got, want)
