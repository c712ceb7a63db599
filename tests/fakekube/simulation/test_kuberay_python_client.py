"""The KubeRay Python client (``../shared/kuberay/python-client``) against ``fakekube.mock`` with
the simulated operator: ``wait_until_ray_cluster_running`` returns True once the Pods are up (it
timed out before: nothing set ``status.state``), and ``get_ray_cluster_status`` shows the
operator's fields."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fakekube
from fakekube import Simulation
from tests.fakekube.simulation.helpers import raycluster

DELAY = 0.5


@pytest.fixture
def cluster_api(kuberay_dir: Path) -> Iterator[Any]:
    """``RayClusterApi`` of the KubeRay Python client, inside an active simulated mock."""
    sys.path.insert(0, str(kuberay_dir / "python-client"))
    try:
        from python_client import kuberay_cluster_api

        with fakekube.mock(simulate_operator=Simulation(pod_start_delay=DELAY)):
            yield kuberay_cluster_api.RayClusterApi()
    finally:
        sys.path.remove(str(kuberay_dir / "python-client"))


def test_wait_until_ray_cluster_running(cluster_api: Any) -> None:
    assert cluster_api.create_ray_cluster(raycluster(replicas=1), k8s_namespace="default")
    started = time.monotonic()
    assert cluster_api.wait_until_ray_cluster_running("rc", "default", timeout=10, delay_between_attempts=0.1)
    assert time.monotonic() - started < 2 * DELAY + 1
    status = cluster_api.get_ray_cluster_status("rc", "default", timeout=5, delay_between_attempts=0.1)
    assert status["state"] == "ready" and status["head"]["serviceName"] == "rc-head-svc"
    assert status["availableWorkerReplicas"] == 1
