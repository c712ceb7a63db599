"""Identity through the gateway over the real kube-apiserver (refkube, TLS, RBAC; issue 12).

For each gateway mode implemented here (``passthrough``, ``token-review``; the TLS-based modes are
tested with their serving in tests/handler/test_tls_serving.py), a gateway runs in front of refkube
with ``kuberay-gateway``'s token as its own credentials and refkube's CA. Each scenario sends the
same request through the gateway and straight to refkube and compares the answers (normalised:
times, uids and resourceVersions dropped; recorded as ``identity-gateway:<scenario>``):

- alice creates and lists RayClusters in ``team-a`` (201, 200);
- alice gets refkube's own 403 in ``default``, bob gets 403 in ``team-a``;
- no credentials and an unknown token get 401;
- alice's ``Impersonate-*`` / ``X-Remote-*`` headers make the gateway act for nobody else: she is
  still alice (refkube itself would refuse her impersonation with 403; through the gateway the
  headers are dropped, so the answer is the one alice gets without them);
- the real user reaches the API server: the gateway's own identity may not create RayClusters,
  yet alice's create through the token-review gateway (sent with the gateway's token and
  ``Impersonate-User: alice``) succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.contract.client import RefKube, Target
from tests.contract.identities import ALICE, BOB, GATEWAY, TEAM_NS, Identity
from tests.contract.results import RESULTS, Comparison
from tests.procs import free_port, start_server, stop_server

MODES = ["passthrough", "token-review"]
RAY = "/apis/ray.io/v1"
_VOLATILE = {"time", "resourceVersion", "creationTimestamp", "uid", "managedFields", "generation"}


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k not in _VOLATILE}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


@pytest.fixture(scope="module", params=MODES)
def gateway(
    request: pytest.FixtureRequest, refkube: RefKube, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Target]]:
    """``(mode, gateway target)``: ``kuberay-apiserver serve --authentication MODE`` over refkube."""
    ref = refkube.target
    token = tmp_path_factory.mktemp("gateway-identity") / "token"
    token.write_text(GATEWAY.token)
    port = free_port()
    argv = [
        *["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", ref.url],
        *["--token-file", str(token), "--ca-file", str(ref.verify), "--authentication", request.param],
    ]
    proc = start_server(argv, port)
    try:
        yield request.param, Target(f"gateway-refkube-{request.param}", f"http://127.0.0.1:{port}", admin=ref)
    finally:
        stop_server(proc)


def _client(t: Target, who: Identity | None, **headers: str) -> httpx.Client:
    c = Target(t.name, t.url, token=who.token if who else None, verify=t.verify).client()
    c.headers.update(headers)
    return c


def _answer(r: httpx.Response) -> tuple[int, Any]:
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def _compare(scenario: str, target: Target, got: tuple[int, Any], want: tuple[int, Any]) -> None:
    diffs = [] if _norm(got) == _norm(want) else [f"gateway {_norm(got)!r} != refkube {_norm(want)!r}"[:600]]
    RESULTS.add(Comparison(f"identity-gateway:{scenario}", target.name, diffs))
    assert not diffs, diffs[0]


def _raycluster(name: str) -> dict[str, Any]:
    container = {"name": "ray-head", "image": "rayproject/ray:2.9.0"}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}}},
    }


def _both(
    gateway: tuple[str, Target], refkube: RefKube, send: Callable[[Target], tuple[int, Any]]
) -> tuple[tuple[int, Any], tuple[int, Any]]:
    return send(gateway[1]), send(refkube.target)


def test_alice_creates_and_lists_in_team_a(gateway: tuple[str, Target], refkube: RefKube) -> None:
    mode, gw = gateway
    name = f"gw-{mode[:4]}-{uuid.uuid4().hex[:8]}"
    with _client(gw, ALICE) as c:
        created = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(name))
        assert created.status_code == 201, created.text
        listed = c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters")
        assert listed.status_code == 200 and name in [i["metadata"]["name"] for i in listed.json()["items"]]
    with _client(refkube.target, ALICE) as c:
        direct = _answer(c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters/{name}"))
    _compare("alice-create-team-a", gw, (201, created.json()), (201, direct[1]))


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
    gateway: tuple[str, Target], refkube: RefKube, scenario: str, who: Identity, method: str, namespace: str
) -> None:
    def send(t: Target) -> tuple[int, Any]:
        with _client(t, who) as c:
            body = _raycluster("nope") if method == "POST" else None
            return _answer(c.request(method, f"{RAY}/namespaces/{namespace}/rayclusters", json=body))

    got, want = _both(gateway, refkube, send)
    assert got[0] == 403
    _compare(scenario, gateway[1], got, want)


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_no_or_bad_credentials_are_401(
    gateway: tuple[str, Target], refkube: RefKube, authorization: str | None
) -> None:
    def send(t: Target) -> tuple[int, Any]:
        headers = {"Authorization": authorization} if authorization else {}
        with _client(t, None, **headers) as c:
            return _answer(c.get(f"{RAY}/namespaces/{TEAM_NS}/rayclusters"))

    got, want = _both(gateway, refkube, send)
    assert got[0] == 401
    _compare("401-" + ("none" if authorization is None else "unknown-token"), gateway[1], got, want)


@pytest.mark.parametrize(
    "claim",
    [
        {"Impersonate-User": "admin", "Impersonate-Group": "system:masters"},
        {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"},
    ],
)
def test_a_caller_cannot_make_the_gateway_impersonate_for_them(
    gateway: tuple[str, Target], refkube: RefKube, claim: dict[str, str]
) -> None:
    with _client(gateway[1], ALICE, **claim) as c:
        got = _answer(c.get(f"{RAY}/namespaces/default/rayclusters"))
    with _client(refkube.target, ALICE) as c:  # alice as she is, without the claim
        want = _answer(c.get(f"{RAY}/namespaces/default/rayclusters"))
    assert got[0] == 403 and 'User "alice"' in got[1]["message"]
    _compare("alice-claims-admin", gateway[1], got, want)
    if "Impersonate-User" in claim:  # refkube itself refuses alice's own impersonation
        with _client(refkube.target, ALICE, **claim) as c:
            direct = c.get(f"{RAY}/namespaces/default/rayclusters")
        assert direct.status_code == 403 and "cannot impersonate" in direct.json()["message"]


def test_the_upstream_sees_the_real_user(gateway: tuple[str, Target], refkube: RefKube) -> None:
    """The gateway's own identity may not create RayClusters in team-a, so alice's create through
    the gateway (test_alice_creates_and_lists_in_team_a) was made as alice."""
    with _client(refkube.target, GATEWAY) as c:
        r = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster("as-gateway"))
    assert r.status_code == 403 and 'User "kuberay-gateway"' in r.json()["message"]
    with _client(refkube.target, GATEWAY, **{"Impersonate-User": ALICE.name}) as c:
        r = c.post(f"{RAY}/namespaces/{TEAM_NS}/rayclusters", json=_raycluster(f"imp-{uuid.uuid4().hex[:6]}"))
    assert r.status_code == 201, r.text  # what the token-review gateway sends: allowed as alice
