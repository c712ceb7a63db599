"""The example hooks (GPU quota, label from a header) and the runnable example gateway in examples/."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from handler import Settings, create_app
from handler.auth.authenticator import bearer_token
from kubeapi.authn import UserInfo
from tests.procs import free_port, start_server, stop_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load_examples() -> ModuleType:
    """examples/hooks.py under a name of its own (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("kuberay_example_hooks", EXAMPLES / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hooks = _load_examples()
gpu_quota = _hooks.gpu_quota
created_by = _hooks.created_by
requested_gpus = _hooks.requested_gpus


def cluster(
    name: str, head_gpus: int, worker_gpus: int, replicas: int, max_replicas: int | None = None
) -> dict[str, Any]:
    """A RayCluster whose head asks for ``head_gpus`` and whose worker pods ask for ``worker_gpus``."""

    def container(cname: str, gpus: int) -> dict[str, Any]:
        c: dict[str, Any] = {"name": cname, "image": "rayproject/ray:2.52.0"}
        if gpus:
            c["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
        return c

    worker: dict[str, Any] = {
        "groupName": "gpu",
        "replicas": replicas,
        "rayStartParams": {},
        "template": {"spec": {"containers": [container("ray-worker", worker_gpus)]}},
    }
    if max_replicas is not None:
        worker["maxReplicas"] = max_replicas
        worker["minReplicas"] = 0
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [container("ray-head", head_gpus)]}},
            },
            "workerGroupSpecs": [worker],
        },
    }


def test_requested_gpus_counts_pods_per_group() -> None:
    assert requested_gpus(cluster("a", 1, 2, replicas=3), "rayclusters")[0] == 7
    assert requested_gpus(cluster("a", 0, 2, replicas=1, max_replicas=4), "rayclusters")[0] == 8
    job = {"spec": {"rayClusterSpec": cluster("a", 1, 1, replicas=2)["spec"]}}
    assert requested_gpus(job, "rayjobs")[0] == 3


def test_gpu_quota_rejects_clusters_over_the_limit(fakekube_url: str, namespace: str) -> None:
    base = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
            middleware=[gpu_quota(4)],
        )
    ) as c:
        assert c.post(base, json=cluster("fits", 0, 1, replicas=4)).status_code == 201
        r = c.post(base, json=cluster("too-big", 1, 1, replicas=1, max_replicas=4))
        assert r.status_code == 403
        status = r.json()
        assert status["kind"] == "Status" and status["reason"] == "Forbidden"
        assert "asks for 5 GPUs, the quota is 4" in status["message"]
        assert {c["message"] for c in status["details"]["causes"]} == {
            "head group: 1 x 1 pods",
            'worker group "gpu": 1 x 4 pods',
        }
        assert c.get(f"{base}/too-big").status_code == 404


def test_gpu_quota_counts_gpus_added_by_compute_templates(
    fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "g8", "labels": {"ray.io/config-type": "compute-template"}},
        "data": {"cpu": "8", "memory": "64", "gpu": "8"},
    }
    assert http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps", json=cm).status_code == 201
    body = cluster("templated", 0, 0, replicas=1)
    body["spec"]["workerGroupSpecs"][0]["computeTemplate"] = "g8"
    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url),
            middleware=[gpu_quota(4)],
        )
    ) as c:
        r = c.post(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=body)
    assert r.status_code == 403 and "asks for 8 GPUs" in r.json()["message"]


class StaticTokens:
    """An authenticator for these in-process tests: fakekube authenticates nobody, so the users of
    a few bearer tokens are fixed here (the modes themselves are tested in test_auth_modes.py)."""

    def __init__(self, users: dict[str, UserInfo]) -> None:
        self.users = users

    async def authenticate(self, scope: Any) -> UserInfo | None:
        token = bearer_token(scope)
        return None if token is None else self.users.get(token, UserInfo(""))


def test_created_by_stamps_the_verified_user_on_every_created_object(
    fakekube_url: str, namespace: str
) -> None:
    app = create_app(Settings(accept_hosts=".*", upstream=fakekube_url), middleware=[created_by()])
    app.state.access.authenticator = StaticTokens({"alice-token": UserInfo.of("alice", groups=["ml"])})
    alice = {"Authorization": "Bearer alice-token", "X-Remote-User": "mallory"}
    with TestClient(app) as c:
        r = c.post(
            f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
            json=cluster("mine", 0, 0, 1),
            headers=alice,
        )
        assert r.status_code == 201 and r.json()["metadata"]["annotations"] == {
            "example.com/created-by": "alice"
        }
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "t", "labels": {"ray.io/config-type": "compute-template"}},
            "data": {"cpu": "1", "memory": "1"},
        }
        r = c.post(f"/api/v1/namespaces/{namespace}/configmaps", json=cm, headers=alice)
        assert (
            r.status_code == 201 and r.json()["metadata"]["annotations"]["example.com/created-by"] == "alice"
        )
        unknown = {"Authorization": "Bearer unverified-token"}  # a user the API server would not name
        r = c.post(
            f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
            json=cluster("anon", 0, 0, 1),
            headers=unknown,
        )
        assert r.status_code == 403 and "needs an authenticated user" in r.json()["message"]
        # The gateway names the object in the Status details when the hook did not.
        assert r.json()["details"] == {"name": "anon", "group": "ray.io", "kind": "rayclusters"}
        # Only creation is stamped: an update keeps what the caller sends.
        got = c.get(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters/mine", headers=alice).json()
        got["metadata"]["annotations"] = {"other": "x"}
        r = c.put(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters/mine", json=got, headers=alice)
        assert r.status_code == 200 and r.json()["metadata"]["annotations"] == {"other": "x"}


def test_created_by_refuses_creates_when_nobody_is_verified(fakekube_url: str, namespace: str) -> None:
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url), middleware=[created_by()]
    )
    with TestClient(app) as c:
        r = c.post(
            f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
            json=cluster("x", 0, 0, 1),
            headers={"X-Remote-User": "alice"},  # a header is not a user
        )
    assert r.status_code == 403


@pytest.fixture
def example_gateway(fakekube_url: str) -> Iterator[str]:
    """``python examples/gateway.py --upstream <fakekube> --port P --max-gpus 2``."""
    port = free_port()
    argv = [
        "python",
        str(EXAMPLES / "gateway.py"),
        "--upstream",
        fakekube_url,
        "--port",
        str(port),
        "--max-gpus",
        "2",
    ]
    # fakekube authenticates nobody: the example runs --authentication none (its default is passthrough).
    env = {"KUBERAY_APISERVER_AUTHENTICATION": "none"}
    proc = start_server(argv, port, env=env)  # the venv's python: the package is installed there
    url = f"http://127.0.0.1:{port}"
    yield url
    stop_server(proc)


def test_example_gateway_runs_with_its_hook(example_gateway: str, namespace: str, http: httpx.Client) -> None:
    base = f"{example_gateway}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    assert http.post(base, json=cluster("small", 1, 1, replicas=1)).status_code == 201
    r = http.post(base, json=cluster("large", 1, 1, replicas=2))
    assert r.status_code == 403 and "the quota is 2" in r.json()["message"]
    assert [i["metadata"]["name"] for i in http.get(base).json()["items"]] == ["small"]
