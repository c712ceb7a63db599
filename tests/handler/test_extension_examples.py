"""The extension examples in examples/ (a team-quota step, an audit-log step, extra read-only routes,
ASGI middleware wrapping), each run in a gateway in front of the session's fakekube."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from litestar.testing import TestClient

from fakekube.strategies import raycluster
from handler import Settings, create_app
from handler.credentials import StaticToken, UpstreamCredentials
from kubeapi.authn import UserInfo
from tests.handler.gateway_stub import StubUpstream
from tests.handler.review_stub import GATEWAY_TOKEN, Reviews
from tests.handler.test_readme_templates import section_blocks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> ModuleType:
    """examples/<name>.py under a name of its own (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"kuberay_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_workers(name: str, *replicas: int) -> dict[str, Any]:
    body = raycluster(name)
    body["spec"]["workerGroupSpecs"] = [
        {
            "groupName": f"g{i}",
            "replicas": n,
            "minReplicas": 0,
            "maxReplicas": n,
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.9.0"}]}},
        }
        for i, n in enumerate(replicas)
    ]
    return body


def clusters(namespace: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"


def test_team_quota_refuses_clusters_over_the_namespace_quota(fakekube_url: str, namespace: str) -> None:
    quota = example("team_quota")
    assert quota.worker_replicas(with_workers("x", 2, 3)) == 5
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
        routes=quota.worker_quota({namespace: 4}, default=None),
    )
    steps = [s.name for s in app.state.routes.routes[0].steps]
    assert steps.index("team_quota") == steps.index("object_hooks") + 1
    with TestClient(app) as c:
        over = c.post(clusters(namespace), json=with_workers("big", 2, 3))
        assert over.status_code == 403 and over.json()["reason"] == "Forbidden"
        assert "5 worker replicas exceed the quota of 4" in over.json()["message"]
        assert c.post(clusters(namespace), json=with_workers("fits", 2, 2)).status_code == 201
        assert c.get(clusters(namespace) + "/big").status_code == 404  # nothing was sent upstream
        assert c.get(clusters(namespace) + "/fits").status_code == 200


def test_audit_log_records_every_request_with_its_status(fakekube_url: str, namespace: str) -> None:
    records: list[str] = []
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
        routes=example("audit_log").audit_log(records.append),
    )
    assert all(r.steps[0].name == "audit_log" for r in app.state.routes if r.steps)
    with TestClient(app) as c:
        # --authentication none verifies nobody: a caller's X-Remote-User is not a user
        c.post(clusters(namespace), json=raycluster("a"), headers={"X-Remote-User": "alice"})
        c.get(clusters(namespace) + "/missing")
        c.get("/api/v1/namespaces/default/services/plain/proxy/")
        c.get(clusters(namespace), params={"watch": "0"})
    assert [r.split(" (")[0] for r in records] == [
        f"- create {clusters(namespace)} -> 201",
        f"- get {clusters(namespace)}/missing -> 404",
        "- get /api/v1/namespaces/default/services/plain/proxy/ -> 404",
        f"- list {clusters(namespace)} -> 200",
    ]


def test_readonly_routes_serve_one_configmap_and_a_static_document(fakekube_url: str, namespace: str) -> None:
    settings_cm = {"metadata": {"name": "ray-settings"}, "data": {"image": "rayproject/ray:2.9.0"}}
    httpx.post(
        f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps", json=settings_cm
    ).raise_for_status()
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
        routes=example("readonly_route").readonly_routes,
    )
    with TestClient(app) as c:
        assert c.get(f"/ray-settings/namespaces/{namespace}").json() == {"image": "rayproject/ray:2.9.0"}
        assert c.put(f"/ray-settings/namespaces/{namespace}", json={}).status_code == 405
        missing = c.get("/ray-settings/namespaces/default")
        assert missing.status_code == 404 and missing.json()["kind"] == "Status"
        assert c.get("/docs/ray").json()["name"] == "kuberay-apiserver"
        # the ConfigMap itself stays out of reach on the Kubernetes path (not a compute template)
        assert c.get(f"/api/v1/namespaces/{namespace}/configmaps/ray-settings").status_code == 404


def test_asgi_middleware_wraps_every_response(fakekube_url: str, namespace: str) -> None:
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
        middleware=[example("asgi_wrap").request_id],
    )
    assert not app.direct_lane_enabled
    with TestClient(app) as c:
        assert len(c.get("/healthz").headers["x-request-id"]) == 32
        r = c.get(clusters(namespace), headers={"X-Request-Id": "abc"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "abc"


def test_readme_extension_example(stub: StubUpstream) -> None:
    """The README's example under the default authentication (passthrough): each call carries the
    caller's token, and ``/whoami`` answers the user the API server verified, not a header."""
    (code,) = section_blocks("Extending the gateway", "python")
    code = code.replace(
        'Settings(upstream="https://my-apiserver:6443", token_file="/run/token")',
        f'Settings(upstream="{stub.url}", accept_hosts=r"testserver\\.local")',
    )
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    stub.reset()
    reviews = Reviews({"alice-token": UserInfo.of("alice", groups=["team-a"])})
    stub.responder = reviews
    alice = {"Authorization": "Bearer alice-token"}
    merge = {**alice, "Content-Type": "application/merge-patch+json"}
    base = "/apis/ray.io/v1/namespaces/default/rayclusters/a"
    with TestClient(scope["app"]) as c:
        refused = c.patch(base, json={"spec": {"suspend": True}}, headers=merge)
        assert refused.status_code == 403 and refused.json()["message"].startswith("suspending")
        assert c.patch(base, json={"metadata": {}}, headers=merge).status_code == 200
        who = c.get("/whoami", headers={**alice, "X-Remote-User": "bob"})
        assert who.json() == {"user": "alice", "groups": ["team-a"]}
        assert c.get("/whoami").status_code == 401
    assert [s.method for s in stub.seen if "selfsubjectreviews" not in s.path] == ["PATCH"]
    stub.reset()


def test_audit_log_records_the_verified_user(stub: StubUpstream) -> None:
    """Under token-review the record names the reviewed user; a caller's X-Remote-User is ignored
    and a request refused before authentication is recorded as nobody's (it never reaches a step)."""
    stub.reset()
    stub.responder = Reviews({"alice-token": UserInfo.of("alice")}, [lambda spec: spec["user"] == "alice"])
    records: list[str] = []
    app = create_app(
        Settings(upstream=stub.url, authentication="token-review", accept_hosts=".*"),
        routes=example("audit_log").audit_log(records.append),
        credentials=UpstreamCredentials(stub.url, StaticToken(GATEWAY_TOKEN)),
    )
    path = "/apis/ray.io/v1/namespaces/team-a/rayclusters"
    with TestClient(app) as c:
        c.get(path, headers={"Authorization": "Bearer alice-token", "X-Remote-User": "admin"})
        assert c.get(path, headers={"X-Remote-User": "admin"}).status_code == 401
    assert [r.split(" (")[0] for r in records] == [f"alice list {path} -> 200"]
    stub.reset()
