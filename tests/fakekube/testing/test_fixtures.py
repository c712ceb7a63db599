"""The ``fakekube``, ``fakekube_server`` and ``fakekube_asgi`` fixtures of the pytest plugin."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, watch

from fakekube.pytest_plugin import AsgiFakeKube, FakeKubeServer
from fakekube.strategies import raycluster
from fakekube.testing import FakeKubeError

SAMPLE_YAML = """
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: from-yaml, namespace: team-a}
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams: {}
    template: {spec: {containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]}}
status:
  state: ready
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
"""


def test_plugin_is_registered_by_the_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("fakekube")
    assert plugin is not None and plugin.__name__ == "fakekube.pytest_plugin"


def test_kubernetes_client_against_the_served_fakekube(fakekube: FakeKubeServer) -> None:
    assert fakekube.url.startswith("http://127.0.0.1:")
    api = client.CustomObjectsApi(fakekube.api_client)
    created = api.create_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", raycluster("a"))
    assert created["metadata"]["uid"]
    got = api.get_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", "a")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert [n.metadata.name for n in client.CoreV1Api(fakekube.api_client).list_namespace().items] == [
        "default",
        "kube-public",
        "kube-system",
    ]


def test_state_is_reset_between_tests_part_1(fakekube: FakeKubeServer) -> None:
    fakekube.seed(raycluster("leftover"))
    assert fakekube.get("RayCluster", "leftover") is not None


def test_state_is_reset_between_tests_part_2(fakekube: FakeKubeServer) -> None:
    assert fakekube.get("RayCluster", "leftover") is None
    assert fakekube.list("rayclusters") == []


def test_reset_ends_open_watches(fakekube: FakeKubeServer) -> None:
    api = client.CustomObjectsApi(fakekube.api_client)
    events: list[str] = []

    def watch_all() -> None:
        w = watch.Watch()
        for ev in w.stream(
            api.list_namespaced_custom_object, "ray.io", "v1", "default", "rayclusters", timeout_seconds=20
        ):
            events.append(ev["type"])

    t = threading.Thread(target=watch_all)
    t.start()
    fakekube.seed(raycluster("w"))
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fakekube.reset()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - started < 5
    assert events == ["ADDED"]


def test_seed_yaml_with_status_and_namespaces(fakekube: FakeKubeServer) -> None:
    fakekube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    rc, cm = fakekube.seed(SAMPLE_YAML)
    assert rc["metadata"]["namespace"] == "team-a" and rc["status"] == {"state": "ready"}
    assert cm["metadata"]["namespace"] == "default" and cm["data"] == {"a": "1"}
    status = client.CustomObjectsApi(fakekube.api_client).get_namespaced_custom_object_status(
        "ray.io", "v1", "team-a", "rayclusters", "from-yaml"
    )
    assert status["status"]["state"] == "ready"


def test_seed_refused_object_raises_the_status(fakekube: FakeKubeServer) -> None:
    bad = raycluster("bad")
    del bad["spec"]["headGroupSpec"]
    with pytest.raises(FakeKubeError) as e:
        fakekube.seed(bad)
    assert e.value.code == 422 and e.value.status["reason"] == "Invalid"
    assert fakekube.get("RayCluster", "bad") is None


def test_unknown_kind_is_a_lookup_error(fakekube: FakeKubeServer) -> None:
    with pytest.raises(LookupError, match="RayThing"):
        fakekube.get("RayThing", "x")


def test_wait_for_sees_a_change_made_by_another_thread(fakekube: FakeKubeServer) -> None:
    fakekube.seed(raycluster("w"))
    api = client.CustomObjectsApi(fakekube.api_client)

    def controller() -> None:
        time.sleep(0.2)
        api.patch_namespaced_custom_object_status(
            "ray.io", "v1", "default", "rayclusters", "w", {"status": {"state": "ready"}}
        )

    threading.Thread(target=controller).start()
    obj = fakekube.wait_for(
        "rayclusters", "w", predicate=lambda o: o.get("status", {}).get("state") == "ready"
    )
    assert obj["status"]["state"] == "ready"
    with pytest.raises(TimeoutError, match="condition not met"):
        fakekube.wait_for("RayCluster", "w", predicate=lambda o: False, timeout=0.1)


def test_kubeconfig_for_kubectl(fakekube: FakeKubeServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    fakekube.seed(raycluster("for-kubectl"))
    cfg = fakekube.write_kubeconfig(tmp_path / "config")
    kubectl = Path(sys.executable).parent / "kubectl"
    out = subprocess.run(
        [str(kubectl), "--kubeconfig", str(cfg), "get", "rayclusters", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "raycluster.ray.io/for-kubectl"


def test_asgi_variant_sync_client(fakekube_asgi: AsgiFakeKube) -> None:
    r = fakekube_asgi.client.post("/apis/ray.io/v1/namespaces/default/rayclusters", json=raycluster("x"))
    assert r.status_code == 201
    assert fakekube_asgi.get("RayCluster", "x") is not None
    missing = fakekube_asgi.client.get("/apis/ray.io/v1/namespaces/default/rayclusters/nope")
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"


async def test_asgi_variant_async_client_streams_a_watch(fakekube_asgi: AsgiFakeKube) -> None:
    import asyncio
    import json

    path = "/apis/ray.io/v1/namespaces/default/rayclusters"
    params = {"watch": "true", "timeoutSeconds": "10"}
    async with fakekube_asgi.async_client() as c, c.stream("GET", path, params=params) as r:
        assert r.status_code == 200
        created = await c.post(path, json=raycluster("y"))
        assert created.status_code == 201
        lines = r.aiter_lines()
        line = await asyncio.wait_for(lines.__anext__(), 5)
        assert json.loads(line)["type"] == "ADDED"


def test_seed_a_crd_then_its_objects(fakekube: FakeKubeServer) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    assert fakekube.list("RayCluster") == []  # discovery read before the CRD exists
    fakekube.seed(crd)
    fakekube.seed({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "size": 3})
    assert fakekube.get("widgets.example.com", "w1")["size"] == 3  # type: ignore[index]
