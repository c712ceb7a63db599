"""The simulation through the test-support API: ``fakekube.mock(simulate_operator=...)`` and the
pytest fixtures with ``fakekube_options`` overridden; the official ``kubernetes`` client sees the
Ray Pods and the RayCluster become ready on the real clock (timers on the app's loop)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import fakekube
from fakekube import Simulation
from fakekube.pytest_plugin import AsgiFakeKube
from tests.fakekube.simulation.helpers import raycluster


@pytest.fixture(scope="session")
def fakekube_options() -> dict[str, Any]:
    """The simulation on, Pods starting after 0.2 s (this module only)."""
    return {"namespace_finalize_delay": 0.0, "simulate_operator": Simulation(pod_start_delay=0.2)}


def _wait_ready(get: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        rc = get()
        if (rc.get("status") or {}).get("state") == "ready":
            return rc
        assert time.monotonic() < deadline, rc.get("status")
        time.sleep(0.05)


def test_mock_with_the_kubernetes_client() -> None:
    from kubernetes import client, config

    with fakekube.mock(simulate_operator=Simulation(pod_start_delay=0.2)):
        config.load_kube_config()
        api = client.CustomObjectsApi()
        api.create_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", raycluster(replicas=1))
        rc = _wait_ready(
            lambda: api.get_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", "rc")
        )
        assert rc["status"]["readyWorkerReplicas"] == 1
        pods = client.CoreV1Api().list_namespaced_pod("default", label_selector="ray.io/cluster=rc").items
        assert sorted(p.metadata.labels["ray.io/node-type"] for p in pods) == ["head", "worker"]
        assert all(p.status.phase == "Running" for p in pods)


def test_fixture_options(fakekube_asgi: AsgiFakeKube) -> None:
    fakekube_asgi.request("POST", "/apis/ray.io/v1/namespaces/default/rayclusters", raycluster(replicas=0))
    rc = _wait_ready(lambda: fakekube_asgi.get("RayCluster", "rc") or {})
    assert rc["status"]["head"]["podIP"].startswith("10.244.")


def test_mock_with_a_manual_clock() -> None:
    """``Client.advance`` (here the mock's) moves a manual clock on the app's own loop."""
    with fakekube.mock(simulate_operator=Simulation(pod_start_delay=5, manual_clock=True)) as m:
        m.request("POST", "/apis/ray.io/v1/namespaces/default/rayclusters", raycluster(replicas=0))
        assert "state" not in (m.get("RayCluster", "rc") or {})["status"]
        m.advance(4.9)
        assert "state" not in (m.get("RayCluster", "rc") or {})["status"]
        m.advance(0.1)
        assert (m.get("RayCluster", "rc") or {})["status"]["state"] == "ready"
    with fakekube.mock() as m, pytest.raises(RuntimeError):
        m.advance(1)
