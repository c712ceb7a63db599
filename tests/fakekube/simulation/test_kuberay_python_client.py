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


JOB_DELAYS = {"job_start_delay": 0.3, "job_duration": 0.6, "submitter_exit_delay": 0.1}


@pytest.fixture
def job_api(kuberay_dir: Path) -> Iterator[Any]:
    """``RayjobApi`` of the KubeRay Python client, inside an active simulated mock."""
    sys.path.insert(0, str(kuberay_dir / "python-client"))
    try:
        from python_client import kuberay_job_api

        with fakekube.mock(simulate_operator=Simulation(pod_start_delay=DELAY, **JOB_DELAYS)):
            yield kuberay_job_api.RayjobApi()
    finally:
        sys.path.remove(str(kuberay_dir / "python-client"))


def _rayjob(name: str, **spec: Any) -> Any:
    cluster = raycluster(replicas=1)["spec"]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name},
        "spec": {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": cluster, **spec},
    }


def test_job_wait_helpers_return_within_twice_the_delays(job_api: Any) -> None:
    """``wait_until_job_running`` and ``wait_until_job_finished`` (they timed out before: nothing
    set a RayJob's status) return within 2x the simulated delays (plus their polling step)."""
    assert job_api.submit_job(job=_rayjob("rj"), k8s_namespace="default")
    started = time.monotonic()
    assert job_api.wait_until_job_running("rj", "default", timeout=10, delay_between_attempts=0.05)
    running = time.monotonic() - started
    assert running < 2 * DELAY + 0.5
    assert job_api.wait_until_job_finished("rj", "default", timeout=10, delay_between_attempts=0.05)
    total = DELAY + sum(JOB_DELAYS.values())
    assert time.monotonic() - started < 2 * total + 0.5
    # The helper returns on jobStatus SUCCEEDED; in K8sJobMode jobDeploymentStatus becomes Complete
    # once the submitter Job has ended too (submitter_exit_delay later), as with the operator.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = job_api.get_job_status("rj", "default", timeout=5, delay_between_attempts=0.1)
        if status["jobDeploymentStatus"] == "Complete":
            break
        time.sleep(0.05)
    assert (status["jobDeploymentStatus"], status["jobStatus"]) == ("Complete", "SUCCEEDED")


def test_suspend_and_resubmit(job_api: Any) -> None:
    assert job_api.submit_job(job=_rayjob("sj", shutdownAfterJobFinishes=True), k8s_namespace="default")
    assert job_api.wait_until_job_running("sj", "default", timeout=10, delay_between_attempts=0.05)
    assert job_api.suspend_job("sj", "default")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = job_api.get_job_status("sj", "default", timeout=5, delay_between_attempts=0.1)
        if status.get("jobDeploymentStatus") == "Suspended":
            break
        time.sleep(0.05)
    assert status["jobDeploymentStatus"] == "Suspended"
    assert job_api.resubmit_job("sj", "default")
    assert job_api.wait_until_job_finished("sj", "default", timeout=15, delay_between_attempts=0.05)
