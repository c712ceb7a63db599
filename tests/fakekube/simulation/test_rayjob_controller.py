"""The RayJob controller in fakekube (simulation on, manual clock): a RayJob created over HTTP goes
Initializing → Running → Complete/SUCCEEDED with the RayCluster, submitter Job and Events the
operator makes, and the dashboard's Jobs API (through the Service proxy) reports the same job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakekube import FakeKube, Simulation, create_app
from fakekube.testing import Client, LoopThread
from tests.fakekube.simulation.helpers import advance

RJ = "/apis/ray.io/v1/namespaces/default/rayjobs"
RC = "/apis/ray.io/v1/namespaces/default/rayclusters"
SVC = "/api/v1/namespaces/default/services"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events"


def sim_app(**kw: Any) -> FakeKube:
    settings = Simulation(pod_start_delay=1.0, manual_clock=True, job_start_delay=1.0, job_duration=2.0, **kw)
    return create_app(simulate_operator=settings)


def rayjob(name: str = "demo", annotations: dict[str, str] | None = None, **spec: Any) -> Any:
    body = {
        "entrypoint": "python -c 'import ray; ray.init()'",
        "rayClusterSpec": {
            "rayVersion": "2.52.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}
                },
            },
        },
        **spec,
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": body,
    }


def test_rayjob_runs_to_success(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = sim_app()
    client = connect(app)
    client.request("POST", RJ, rayjob())
    job = client.request("GET", f"{RJ}/demo")
    s = job["status"]
    assert s["jobDeploymentStatus"] == "Initializing" and s["jobId"].startswith("demo-")
    assert job["metadata"]["finalizers"] == ["ray.io/rayjob-finalizer"]
    cluster = client.request("GET", f"{RC}/{s['rayClusterName']}")
    assert cluster["metadata"]["ownerReferences"][0]["name"] == "demo"
    assert cluster["metadata"]["labels"]["ray.io/originated-from-crd"] == "RayJob"
    advance(loop_thread, app, 1.0)  # the RayCluster's Pods start (pod_start_delay), it becomes ready
    advance(loop_thread, app, 0.1)
    s = client.request("GET", f"{RJ}/demo")["status"]
    assert s["jobDeploymentStatus"] == "Running"
    assert s["dashboardURL"] == f"{s['rayClusterName']}-head-svc.default.svc.cluster.local:8265"
    sub = client.request("GET", f"{JOBS}/demo")
    assert sub["metadata"]["ownerReferences"][0]["kind"] == "RayJob" and sub["status"]["active"] == 1
    api = f"{SVC}/{s['rayClusterName']}-head-svc:dashboard/proxy/api/jobs/"
    listed = client.request("GET", api)
    assert [j["submission_id"] for j in listed] == [s["jobId"]]
    advance(loop_thread, app, 5.0)
    s = client.request("GET", f"{RJ}/demo")["status"]
    assert (s["jobDeploymentStatus"], s["jobStatus"], s["succeeded"]) == ("Complete", "SUCCEEDED", 1)
    info = client.request("GET", api + s["jobId"])
    assert info["status"] == "SUCCEEDED" and info["message"] == s["message"]
    assert [c["type"] for c in client.request("GET", f"{JOBS}/demo")["status"]["conditions"]] == [
        "SuccessCriteriaMet",
        "Complete",
    ]
    reasons = {
        e["reason"] for e in client.request("GET", EVENTS)["items"] if e["regarding"]["kind"] == "RayJob"
    }
    assert {"CreatedRayCluster", "CreatedRayJobSubmitter", "CreatedService"} <= reasons
    assert client.send("GET", f"{SVC}/demo-head-svc").status == 200


def test_scripted_failure_and_ttl_shutdown(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = sim_app()
    client = connect(app)
    annotations = {
        "fakekube.kuberay.io/simulate-outcome": "FAILED",
        "fakekube.kuberay.io/simulate-duration": "1s",
    }
    client.request(
        "POST",
        RJ,
        rayjob(
            "bad",
            annotations,
            shutdownAfterJobFinishes=True,
            ttlSecondsAfterFinished=3,
            submissionMode="HTTPMode",
        ),
    )
    name = client.request("GET", f"{RJ}/bad")["status"]["rayClusterName"]
    advance(loop_thread, app, 5.0)
    s = client.request("GET", f"{RJ}/bad")["status"]
    assert (s["jobDeploymentStatus"], s["jobStatus"], s["reason"], s["failed"]) == (
        "Failed",
        "FAILED",
        "AppFailed",
        1,
    )
    assert client.send("GET", f"{RC}/{name}").status == 200
    advance(loop_thread, app, 3.5)
    r = client.send("GET", f"{RC}/{name}")
    assert r.status == 404 or r.json()["metadata"].get("deletionTimestamp")


def test_deleting_a_rayjob_removes_its_finalizer(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = sim_app()
    client = connect(app)
    client.request("POST", RJ, rayjob("gone"))
    client.request("DELETE", f"{RJ}/gone")
    advance(loop_thread, app, 0.1)
    assert client.send("GET", f"{RJ}/gone").status == 404
