"""The gateway's identity modes end to end over fakekube with authentication and RBAC on.

fakekube runs as kube-apiserver would with ``--token-auth-file`` and ``--authorization-mode RBAC``
(the identities and RBAC objects of ``tests.contract.identities``: alice edits Ray objects in
``team-a``, bob has no bindings, ``kuberay-gateway`` may impersonate and create reviews but has
nothing on Ray objects). Through a gateway in ``passthrough`` and in ``token-review``: alice
creates and lists in ``team-a`` (201, 200), gets 403 in ``default``; bob gets 403; no or bad
credentials get 401; a caller's own ``Impersonate-*`` headers do not make the gateway act for
anyone else. That alice's create succeeds at all shows the upstream acted as alice: the gateway's
own identity may not create RayClusters (checked directly).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from fakekube.strategies import raycluster
from handler import GatewayRequest, Settings, create_app
from tests.contract.identities import (
    ALICE,
    BOB,
    GATEWAY,
    TEAM_NS,
    Identity,
    apply_rbac,
    write_token_auth_file,
)
from tests.handler.gateway_procs import GatewayFactory
from tests.procs import BIN, free_port, stop_server

MODES = ["passthrough", "token-review"]


def wait_answering(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until ``url/healthz`` answers at all: with anonymous access off it answers 401."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fakekube exited with {proc.returncode}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} not up after {timeout}s")


@pytest.fixture(scope="module")
def secured_fakekube(
    kuberay_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """``(url, admin token)`` of ``fakekube serve --token-auth-file F --authorization-mode RBAC``
    with the KubeRay CRDs, namespace team-a and the identities' RBAC objects."""
    d = tmp_path_factory.mktemp("secured-fakekube")
    admin = uuid.uuid4().hex
    tokens = write_token_auth_file(d / "tokens.csv", admin_token=admin)
    port = free_port()
    argv = [
        *[str(BIN / "fakekube"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        *[
            "--crd",
            str(kuberay_dir / "crds"),
            "--token-auth-file",
            str(tokens),
            "--authorization-mode",
            "RBAC",
        ],
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_answering(url, proc)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            apply_rbac(c)
            c.post("/api/v1/namespaces", json={"metadata": {"name": "default"}})
        yield url, admin
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def gateway_token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gateway") / "token"
    path.write_text(GATEWAY.token)
    return path


@pytest.fixture(params=MODES)
def gateway(
    request: pytest.FixtureRequest,
    secured_fakekube: tuple[str, str],
    gateway_token_file: Path,
    gateway_factory: GatewayFactory,
) -> str:
    """A gateway in the parametrised mode, with kuberay-gateway's token as its own credentials."""
    url, _ = secured_fakekube
    return gateway_factory(url, ["--authentication", request.param, "--token-file", str(gateway_token_file)])


def client(gateway: str, who: Identity | None, **headers: str) -> httpx.Client:
    sent = dict(headers)
    if who is not None:
        sent["Authorization"] = f"Bearer {who.token}"
    return httpx.Client(base_url=gateway, headers=sent, timeout=30)


def rayclusters(namespace: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"


def test_alice_creates_and_lists_in_team_a(gateway: str) -> None:
    name = "c-" + uuid.uuid4().hex[:8]
    with client(gateway, ALICE) as c:
        created = c.post(rayclusters(TEAM_NS), json=raycluster(name))
        assert created.status_code == 201, created.text
        listed = c.get(rayclusters(TEAM_NS))
        assert listed.status_code == 200 and name in [i["metadata"]["name"] for i in listed.json()["items"]]
        assert c.delete(rayclusters(TEAM_NS) + "/" + name).status_code == 200


def test_alice_is_forbidden_in_default_with_the_apiservers_words(gateway: str) -> None:
    with client(gateway, ALICE) as c:
        r = c.post(rayclusters("default"), json=raycluster("nope"))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'rayclusters.ray.io is forbidden: User "alice" cannot create resource "rayclusters" in API group '
        '"ray.io" in the namespace "default"'
    )


def test_bob_without_bindings_is_forbidden(gateway: str) -> None:
    with client(gateway, BOB) as c:
        assert c.get(rayclusters(TEAM_NS)).status_code == 403
        assert c.post(rayclusters(TEAM_NS), json=raycluster("bobs")).status_code == 403


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_no_or_bad_credentials_are_401(gateway: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with client(gateway, None, **headers) as c:
        r = c.get(rayclusters(TEAM_NS))
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"


@pytest.mark.parametrize(
    "claim",
    [
        {"Impersonate-User": "admin", "Impersonate-Group": "system:masters"},
        {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"},
    ],
)
def test_a_caller_cannot_make_the_gateway_impersonate_for_them(gateway: str, claim: dict[str, str]) -> None:
    """alice may not impersonate; her Impersonate-*/X-Remote-* headers are dropped, so she stays
    alice (403 in default), in both modes (the gateway may impersonate, she may not borrow that)."""
    with client(gateway, ALICE, **claim) as c:
        r = c.post(rayclusters("default"), json=raycluster("borrowed"))
    assert r.status_code == 403 and 'User "alice"' in r.json()["message"]
    with client(gateway, BOB, **claim) as c:
        assert c.get(rayclusters(TEAM_NS)).status_code == 403


def test_the_gateways_own_identity_cannot_do_what_alice_did(secured_fakekube: tuple[str, str]) -> None:
    """So alice's 201 through the token-review gateway was the upstream acting as alice."""
    url, _ = secured_fakekube
    r = httpx.post(
        url + rayclusters(TEAM_NS),
        json=raycluster("gw"),
        headers={"Authorization": f"Bearer {GATEWAY.token}"},
    )
    assert r.status_code == 403 and 'User "kuberay-gateway"' in r.json()["message"]


@pytest.mark.parametrize("mode", MODES)
def test_hooks_see_the_user_the_api_server_verified(
    secured_fakekube: tuple[str, str], gateway_token_file: Path, mode: str
) -> None:
    """In-process, both modes over secured fakekube: a request rule sees alice (SelfSubjectReview
    in passthrough, TokenReview in token-review), with the token file's uid and groups."""
    url, _ = secured_fakekube
    seen: list[Any] = []

    async def rule(request: GatewayRequest) -> None:
        seen.append(request.user)

    app = create_app(
        Settings(upstream=url, token_file=str(gateway_token_file), authentication=mode, accept_hosts=".*"),
        middleware=[rule],
    )
    with TestClient(app) as c:
        r = c.get(
            rayclusters(TEAM_NS), headers={"Authorization": f"Bearer {ALICE.token}", "X-Remote-User": "x"}
        )
        assert r.status_code == 200, r.text
    (user,) = seen
    assert (user.name, user.uid) == (ALICE.name, ALICE.uid)
    assert set(ALICE.groups_seen) <= set(user.groups)
