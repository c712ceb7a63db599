"""Identity through the gateway, for each ``--authentication`` mode, over refkube and fakekube (issue 12).

The gateway (``kuberay-apiserver serve``) serves TLS (a test CA's certificate) in front of

- ``refkube``: the real kube-apiserver with RBAC (upstream over TLS, its CA), and
- ``fakekube-auth``: ``fakekube serve --token-auth-file ... --authorization-mode RBAC``,

with the ``kuberay-gateway`` identity's token as its own credentials (``tests.contract.identities``:
it may impersonate and create reviews but has no rights on Ray objects, so a Ray object created
through an impersonating mode can only have been created as the caller). Callers prove who they are
as each mode wants it:

=====================  =====================================================================
mode                   how alice / bob authenticate
=====================  =====================================================================
passthrough            their static bearer token (sent upstream as is)
token-review           their static bearer token (the gateway asks a TokenReview upstream)
oidc                   an ID token (``sub``) from a local issuer (``tests.handler.oidc_issuer``)
client-certificate     a client certificate (CN = user, O = groups) of the client CA
request-header         ``X-Remote-User`` from the front proxy's certificate (requestheader CA)
=====================  =====================================================================

Each (mode, target) pair checks: alice creates (201) and lists (200) rayclusters in team-a and gets 403
in default; bob gets 403; no credentials get 401; bob's own ``Impersonate-*`` headers do not make
the gateway act as alice (stripped: the answer is bob's 403); and the create is recorded as
alice's: refkube's audit log shows ``impersonatedUser`` alice with the gateway as ``user`` (or
alice as ``user`` in passthrough), and so does fakekube's (``--audit-log-path``); the
managedFields manager is the client's User-Agent (never a user, as kube-apiserver derives it); and
the gateway's own identity may not create Ray objects, so the 201 itself shows it ran as alice.
``none`` is checked apart: every request runs as the gateway's own identity.
"""

from __future__ import annotations

import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.client import Target
from tests.contract.identities import ALICE, BOB, GATEWAY, TEAM_NS, Identity
from tests.contract.results import RESULTS, Comparison
from tests.contract.targets import AUDIT_LOGS, audit_events
from tests.handler.oidc_issuer import CLIENT_ID, Issuer
from tests.handler.pki import CA, Issued
from tests.procs import BIN, free_port, stop_server

MODES = ["passthrough", "token-review", "oidc", "client-certificate", "request-header"]
TARGETS = ["refkube", "fakekube-auth"]
RAY = "/apis/ray.io/v1"
UA = "identity-gateway-contract/1.0"
FRONT_PROXY = "front-proxy"


@dataclass
class Pki:
    """Serving certificate of the gateway, the client CA (client-certificate mode) and the
    requestheader CA with the front proxy's certificate (request-header mode)."""

    dir: Path
    serving_ca_file: str
    cert_file: str
    key_file: str
    client_ca: CA
    client_ca_file: str
    front_proxy: Issued
    requestheader_ca_file: str
    certs: dict[str, tuple[str, str]] = field(default_factory=dict)

    def client_cert(self, who: Identity) -> tuple[str, str]:
        """(cert, key) files of ``who``'s client certificate (CN = name, O = groups)."""
        if who.name not in self.certs:
            self.certs[who.name] = self.client_ca.issue(who.name, who.groups).write(
                self.dir, f"client-{who.name}"
            )
        return self.certs[who.name]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("gateway-pki")
    serving_ca = CA.new("gateway-serving-ca")
    cert_file, key_file = serving_ca.issue("gateway", server=True).write(d, "serving")
    (d / "serving-ca.pem").write_text(serving_ca.pem)
    client_ca = CA.new("client-ca")
    (d / "client-ca.pem").write_text(client_ca.pem)
    rh_ca = CA.new("requestheader-ca")
    (d / "requestheader-ca.pem").write_text(rh_ca.pem)
    return Pki(
        d,
        str(d / "serving-ca.pem"),
        cert_file,
        key_file,
        client_ca,
        str(d / "client-ca.pem"),
        rh_ca.issue(FRONT_PROXY),
        str(d / "requestheader-ca.pem"),
    )


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    i = Issuer(tmp_path_factory.mktemp("oidc"))
    yield i
    i.close()


def _mode_flags(mode: str, pki: Pki, issuer: Issuer) -> list[str]:
    flags = ["--authentication", mode]
    if mode == "oidc":
        flags += [
            "--oidc-issuer-url",
            issuer.url,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-ca-file",
            issuer.ca_file,
            "--oidc-username-prefix",
            "-",  # kube-apiserver's "no prefix" (else sub is prefixed "issuer#")
        ]
    elif mode == "client-certificate":
        flags += ["--client-ca-file", pki.client_ca_file]
    elif mode == "request-header":
        flags += ["--requestheader-client-ca-file", pki.requestheader_ca_file]
        flags += ["--requestheader-allowed-names", FRONT_PROXY]
    return flags


@dataclass
class Gateway:
    """A running gateway: ``mode``, ``target`` behind it, its https ``url``, the backend ``admin``."""

    mode: str
    target: str
    url: str
    backend: Target
    proc: subprocess.Popen[bytes]


class Gateways:
    """Gateways started on first use, one per (mode, target), stopped at the end of the session."""

    def __init__(self, request: pytest.FixtureRequest, pki: Pki, issuer: Issuer, tmp: Path) -> None:
        self.request, self.pki, self.issuer, self.tmp = request, pki, issuer, tmp
        self.running: dict[tuple[str, str], Gateway] = {}

    def get(self, mode: str, target: str) -> Gateway:
        key = (mode, target)
        if key not in self.running:
            self.running[key] = self._start(mode, target)
        return self.running[key]

    def _start(self, mode: str, target: str) -> Gateway:
        if target == "refkube":
            backend: Target = self.request.getfixturevalue("refkube").target
        else:
            backend = self.request.getfixturevalue("fakekube_auth")
        token = self.tmp / "gateway-token"
        token.write_text(GATEWAY.token)
        port = free_port()
        argv = [str(BIN / "kuberay-apiserver"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--upstream", backend.url, "--token-file", str(token)]
        if isinstance(backend.verify, str):
            argv += ["--ca-file", backend.verify]
        argv += ["--tls-cert-file", self.pki.cert_file, "--tls-private-key-file", self.pki.key_file]
        argv += _mode_flags(mode, self.pki, self.issuer)
        log = (self.tmp / f"gateway-{mode}-{target}.log").open("wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        url = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=self.pki.serving_ca_file)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"gateway ({mode}) exited {proc.returncode}: {Path(log.name).read_text()[-3000:]}"
                )
            try:
                if httpx.get(url + "/healthz", verify=ctx, timeout=2).status_code == 200:
                    return Gateway(mode, target, url, backend, proc)
            except httpx.HTTPError:
                time.sleep(0.1)
        stop_server(proc)
        raise RuntimeError(
            f"gateway ({mode}) over {target} not healthy: {Path(log.name).read_text()[-3000:]}"
        )

    def close(self) -> None:
        for g in self.running.values():
            stop_server(g.proc)


@pytest.fixture(scope="session")
def gateways(
    request: pytest.FixtureRequest, pki: Pki, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateways]:
    gw = Gateways(request, pki, issuer, tmp_path_factory.mktemp("gateways"))
    yield gw
    gw.close()


def caller(gw: Gateway, pki: Pki, issuer: Issuer, who: Identity | None, **headers: str) -> httpx.Client:
    """A client of ``gw`` authenticated as ``who`` the way ``gw.mode`` wants (nothing when None)."""
    ctx = ssl.create_default_context(cafile=pki.serving_ca_file)
    h = {"User-Agent": UA, **headers}
    if who is not None:
        if gw.mode in ("passthrough", "token-review"):
            h["Authorization"] = f"Bearer {who.token}"
        elif gw.mode == "oidc":
            h["Authorization"] = f"Bearer {issuer.token(sub=who.name)}"
        elif gw.mode == "client-certificate":
            ctx.load_cert_chain(*pki.client_cert(who))
        elif gw.mode == "request-header":
            ctx.load_cert_chain(*pki.front_proxy.write(pki.dir, FRONT_PROXY))
            h["X-Remote-User"] = who.name
    return httpx.Client(base_url=gw.url, verify=ctx, headers=h, timeout=30)


def _raycluster(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}},
            }
        },
    }


@pytest.fixture(params=[(m, t) for m in MODES for t in TARGETS], ids=lambda p: f"{p[0]}-{p[1]}")
def gw(request: pytest.FixtureRequest, gateways: Gateways) -> Gateway:
    mode, target = request.param
    return gateways.get(mode, target)


def _record(gw: Gateway, check: str, ok: bool, detail: str) -> None:
    RESULTS.add(Comparison(f"gateway-identity:{gw.mode}:{check}", gw.target, [] if ok else [detail[:300]]))


def test_alice_creates_and_lists_in_team_a(gw: Gateway, pki: Pki, issuer: Issuer) -> None:
    name = f"rc-{uuid.uuid4().hex[:8]}"
    with caller(gw, pki, issuer, ALICE) as c:
        created = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
        listed = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
    ok = created.status_code == 201 and listed.status_code == 200
    _record(gw, "alice-201-200", ok, f"{created.status_code} {created.text[:200]} / {listed.status_code}")
    assert created.status_code == 201, created.text
    assert listed.status_code == 200, listed.text
    assert name in [i["metadata"]["name"] for i in listed.json()["items"]]


def test_alice_is_forbidden_in_default(gw: Gateway, pki: Pki, issuer: Issuer) -> None:
    with caller(gw, pki, issuer, ALICE) as c:
        r = c.get(f"{RAY}/namespaces/default/rayclusters")
    _record(gw, "alice-default-403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
    assert r.status_code == 403, r.text
    assert r.json()["message"] == (
        'rayclusters.ray.io is forbidden: User "alice" cannot list resource "rayclusters" '
        'in API group "ray.io" in the namespace "default"'
    )


def test_bob_without_bindings_is_forbidden(gw: Gateway, pki: Pki, issuer: Issuer) -> None:
    with caller(gw, pki, issuer, BOB) as c:
        r = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
    _record(gw, "bob-403", r.status_code == 403, f"{r.status_code} {r.text[:200]}")
    assert r.status_code == 403, r.text
    assert 'User "bob" cannot list resource "rayclusters"' in r.json()["message"]


def test_no_credentials_is_401(gw: Gateway, pki: Pki, issuer: Issuer) -> None:
    codes = []
    for headers in ({}, {"Impersonate-User": "alice"}, {"X-Remote-User": "alice"}):
        with caller(gw, pki, issuer, None, **headers) as c:
            r = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
        codes.append(r.status_code)
        if r.status_code == 401:
            assert r.json()["reason"] == "Unauthorized"
    _record(gw, "anonymous-401", codes == [401] * 3, f"{codes}")
    assert codes == [401, 401, 401]


def test_bob_cannot_make_the_gateway_impersonate_for_him(gw: Gateway, pki: Pki, issuer: Issuer) -> None:
    """bob's own ``Impersonate-*`` headers are dropped: the answer is bob's 403 (he may not list,
    let alone impersonate), never alice's 200 or the gateway's."""
    headers = {
        "Impersonate-User": "alice",
        "Impersonate-Group": "system:masters",
        "Impersonate-Uid": "uid-alice",
    }
    with caller(gw, pki, issuer, BOB, **headers) as c:
        listed = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
        created = c.post(
            f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(f"rc-{uuid.uuid4().hex[:8]}")
        )
    ok = listed.status_code == 403 and created.status_code == 403
    _record(
        gw,
        "bob-impersonate-stripped",
        ok,
        f"{listed.status_code} {listed.text[:200]} / {created.status_code}",
    )
    assert listed.status_code == 403, listed.text
    assert listed.json()["message"].startswith('rayclusters.ray.io is forbidden: User "bob" cannot list')
    assert created.status_code == 403, created.text
    assert 'User "bob" cannot create' in created.json()["message"]


def test_the_create_is_recorded_as_alices(
    request: pytest.FixtureRequest, gw: Gateway, pki: Pki, issuer: Issuer
) -> None:
    name = f"rc-{uuid.uuid4().hex[:8]}"
    with caller(gw, pki, issuer, ALICE) as c:
        r = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
    assert r.status_code == 201, r.text
    # kube-apiserver's manager is the client's User-Agent product, never a user (and never the gateway's)
    assert [m["manager"] for m in r.json()["metadata"]["managedFields"]] == ["identity-gateway-contract"]
    # The gateway's own identity may not create Ray objects: the 201 was alice's doing.
    with (
        gw.backend.client() as admin,
        Target("gw", gw.backend.url, GATEWAY.token, gw.backend.verify).client() as own,
    ):
        denied = own.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name + "-own"))
        assert denied.status_code == 403
        assert admin.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters/{name}").status_code == 200
    events = audit_events(AUDIT_LOGS[gw.backend.url], "create", "rayclusters", name)
    assert len(events) == 1, events
    e = events[0]
    if gw.mode == "passthrough":
        seen = (e["user"]["username"], e.get("impersonatedUser"))
        want: tuple[Any, Any] = ("alice", None)
    else:
        seen = (e["user"]["username"], (e.get("impersonatedUser") or {}).get("username"))
        want = ("kuberay-gateway", "alice")
    _record(gw, "create-as-alice", seen == want, f"audit user/impersonatedUser {seen}")
    assert seen == want
    assert e["responseStatus"]["code"] == 201


@pytest.mark.parametrize("target", TARGETS)
def test_none_mode_acts_as_the_gateway_itself(
    request: pytest.FixtureRequest, target: str, tmp_path: Path, pki: Pki
) -> None:
    """``--authentication none`` (``dev``): nobody is authenticated, every request runs with the
    gateway's own credentials, so what the gateway's RBAC allows is what anyone reaching it gets
    (here: nothing on Ray objects), and a caller's token changes nothing."""
    backend: Target = (
        request.getfixturevalue("refkube").target
        if target == "refkube"
        else request.getfixturevalue("fakekube_auth")
    )
    token = tmp_path / "token"
    token.write_text(GATEWAY.token)
    port = free_port()
    argv = [str(BIN / "kuberay-apiserver"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--upstream", backend.url, "--token-file", str(token), "--authentication", "none"]
    if isinstance(backend.verify, str):
        argv += ["--ca-file", backend.verify]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        for headers in ({}, {"Authorization": f"Bearer {ALICE.token}"}):
            r = httpx.get(f"http://127.0.0.1:{port}{RAY}/namespaces/{TEAM_NS}/rayclusters", headers=headers)
            assert r.status_code == 403, r.text
            assert 'User "kuberay-gateway" cannot list' in r.json()["message"]
    finally:
        stop_server(proc)
