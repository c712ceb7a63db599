"""The RayJob state machine (fakekube._controllers.kuberay.rayjob_machine) over a dict world, branch
by branch,
against the transitions of KubeRay's rayjob_controller.go (feeaf72)."""

from __future__ import annotations

import datetime as dt
import random

from fakekube._controllers.kuberay import rayjob_rules, submitter
from fakekube._controllers.kuberay.rayjob_machine import FINALIZER, reconcile
from fakekube._controllers.kuberay.rayjobs_model import DURATION_KEY, OUTCOME_KEY
from kubeapi.types import JSON
from tests.fakekube.simulation.world import FakeWorld, rayjob

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Driver:
    """Runs reconciles like the controller: applies the status, follows requeues, runs the submitter."""

    def __init__(self, job: JSON, world: FakeWorld) -> None:
        self.job, self.world, self.now = job, world, T0
        self.rng = random.Random(7)
        self.seen: list[str] = []

    def step(self) -> float | None:
        out = reconcile(self.job, self.world, self.now, self.rng)
        if out.status is not None:
            self.job["status"] = out.status
            self.seen.append(out.status.get("jobDeploymentStatus", ""))
        wait = out.requeue_after
        sub = self.world.submitters.get(self.job["metadata"]["name"])
        if sub is not None and "rayClusterName" in self.job.get("status", {}):
            manager = self.world.dashboard("default", self.job["status"]["rayClusterName"])
            if manager is not None:
                req = rayjob_rules.submit_request(self.job, self.job["status"]["jobId"])
                st, nxt = submitter.advance(sub, manager, req, rayjob_rules.script_of(self.job), self.now)
                if st is not None:
                    sub["status"] = st
                    wait = 0.0
                if nxt is not None:
                    left = (nxt - self.now).total_seconds()
                    wait = left if wait is None else min(wait, left)
        return wait

    def run(self, until: float = 60.0, ready_after: float | None = 0.0) -> None:
        """Reconcile until ``until`` s after T0, making new clusters ready ``ready_after`` s in."""
        end = T0 + dt.timedelta(seconds=until)
        while self.now <= end:
            for name, c in self.world.clusters.items():
                if ready_after is not None and (c.get("status") or {}).get("state") != "ready":
                    self.world.make_ready(name)
            wait = self.step()
            if wait is None:
                wait = 0.5
            self.now = min(
                self.now + dt.timedelta(seconds=max(wait, 0.01)), end + dt.timedelta(milliseconds=1)
            )

    @property
    def status(self) -> JSON:
        return self.job["status"]


def test_success_path_k8sjobmode_names_and_fields() -> None:
    d = Driver(rayjob(), FakeWorld())
    d.run(until=10)
    s = d.status
    assert d.seen[:2] == ["Initializing", "Running"]
    assert s["jobDeploymentStatus"] == "Complete" and s["jobStatus"] == "SUCCEEDED"
    assert s["jobId"].startswith("demo-") and len(s["jobId"]) == len("demo-") + 5
    assert s["rayClusterName"].startswith("demo-") and s["rayClusterName"] != s["jobId"]
    assert s["dashboardURL"] == f"{s['rayClusterName']}-head-svc.default.svc.cluster.local:8265"
    assert s["succeeded"] == 1 and s["failed"] == 0
    assert s["startTime"] and s["endTime"] and s["rayJobInfo"]["startTime"] and s["rayJobInfo"]["endTime"]
    assert s["message"] == "Job finished successfully."
    assert FINALIZER in d.job["metadata"]["finalizers"]
    sub = d.world.submitters["demo"]
    assert sub["spec"]["backoffLimit"] == 2
    env = {e["name"]: e["value"] for e in sub["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAY_JOB_SUBMISSION_ID"] == s["jobId"] and env["RAY_DASHBOARD_ADDRESS"] == s["dashboardURL"]
    assert [c["type"] for c in sub["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    cluster = d.world.clusters[s["rayClusterName"]]
    assert cluster["metadata"]["labels"]["ray.io/originated-from-crd"] == "RayJob"
    assert cluster["metadata"]["ownerReferences"][0]["kind"] == "RayJob"
    assert "demo-head-svc" in d.world.services
    assert {"CreatedRayCluster", "CreatedRayJobSubmitter", "CreatedService"} <= set(d.world.reasons())


def test_waits_for_cluster_ready_and_mirrors_its_status() -> None:
    d = Driver(rayjob(), FakeWorld())
    d.run(until=5, ready_after=None)
    assert d.status["jobDeploymentStatus"] == "Initializing"
    assert "dashboardURL" not in d.status


def test_scripted_failure_is_app_failed() -> None:
    job = rayjob()
    job["metadata"]["annotations"] = {OUTCOME_KEY: "FAILED", DURATION_KEY: "2s"}
    d = Driver(job, FakeWorld())
    d.run(until=10)
    s = d.status
    assert s["jobDeploymentStatus"] == "Failed" and s["jobStatus"] == "FAILED" and s["reason"] == "AppFailed"
    assert s["failed"] == 1
    assert d.world.submitters["demo"]["status"]["conditions"][-1]["reason"] == "BackoffLimitExceeded"


def test_scripted_duration_sets_ray_job_times() -> None:
    job = rayjob(submissionMode="HTTPMode")
    job["metadata"]["annotations"] = {DURATION_KEY: "7s"}
    d = Driver(job, FakeWorld())
    d.run(until=20)
    info = d.status["rayJobInfo"]
    took = dt.datetime.fromisoformat(info["endTime"]) - dt.datetime.fromisoformat(info["startTime"])
    assert took == dt.timedelta(seconds=8)  # 1 s pending + 7 s running
    assert d.world.submitters == {}


def test_active_deadline_exceeded_is_not_retried() -> None:
    job = rayjob(activeDeadlineSeconds=3, backoffLimit=2)
    job["metadata"]["annotations"] = {DURATION_KEY: "30s"}
    d = Driver(job, FakeWorld())
    d.run(until=10)
    s = d.status
    assert s["jobDeploymentStatus"] == "Failed" and s["reason"] == "DeadlineExceeded"
    assert s["message"].startswith("The RayJob has passed the activeDeadlineSeconds.")
    assert "Retrying" not in d.seen


def test_backoff_limit_retries_with_new_clusters() -> None:
    job = rayjob(backoffLimit=2)
    job["metadata"]["annotations"] = {OUTCOME_KEY: "FAILED", DURATION_KEY: "1s"}
    world = FakeWorld()
    clusters: set[str] = set()
    d = Driver(job, world)
    end = T0 + dt.timedelta(seconds=60)
    while d.now < end and d.status.get("jobDeploymentStatus") if "status" in d.job else True:
        clusters |= set(world.clusters)
        d.run(until=(d.now - T0).total_seconds() + 0.05)
        if d.job.get("status", {}).get("jobDeploymentStatus") == "Failed":
            break
    assert d.seen.count("Retrying") == 2
    assert d.status["failed"] == 3 and d.status["jobDeploymentStatus"] == "Failed"
    assert len(clusters) == 3
    assert "DeletedRayCluster" in world.reasons() and "DeletedRayJobSubmitter" in world.reasons()


def test_suspend_and_resume() -> None:
    job = rayjob(shutdownAfterJobFinishes=True)
    job["metadata"]["annotations"] = {DURATION_KEY: "30s"}
    d = Driver(job, FakeWorld())
    d.run(until=5)
    assert d.status["jobDeploymentStatus"] == "Running"
    job["spec"]["suspend"] = True
    d.run(until=12)
    assert d.seen[-2:] == ["Suspending", "Suspended"]
    assert d.world.clusters == {} and d.world.submitters == {}
    assert "jobId" not in d.status and "rayClusterName" not in d.status
    job["spec"]["suspend"] = False
    d.run(until=20)
    assert d.status["jobDeploymentStatus"] == "Running" and len(d.world.clusters) == 1


def test_ttl_deletes_cluster_after_finish() -> None:
    d = Driver(rayjob(shutdownAfterJobFinishes=True, ttlSecondsAfterFinished=5), FakeWorld())
    d.run(until=9)
    assert d.status["jobDeploymentStatus"] == "Complete" and len(d.world.clusters) == 1
    end = dt.datetime.fromisoformat(d.status["endTime"].replace("Z", "+00:00"))
    d.run(until=(end - T0).total_seconds() + 4)
    assert len(d.world.clusters) == 1  # before the TTL
    d.run(until=(end - T0).total_seconds() + 6)
    assert d.world.clusters == {} and "demo" in d.world.submitters  # the submitter Job is kept


def test_cluster_selector_uses_existing_cluster_and_keeps_it() -> None:
    world = FakeWorld()
    world.clusters["shared"] = {"metadata": {"name": "shared", "namespace": "default"}, "spec": {}}
    world.make_ready("shared")
    job = rayjob(
        clusterSelector={"ray.io/cluster": "shared"}, shutdownAfterJobFinishes=True, submissionMode="HTTPMode"
    )
    del job["spec"]["rayClusterSpec"]
    d = Driver(job, world)
    d.run(until=10)
    assert d.status["rayClusterName"] == "shared" and d.status["jobDeploymentStatus"] == "Complete"
    assert list(world.clusters) == ["shared"] and "demo-head-svc" not in world.services


def test_interactive_mode_waits_for_job_id() -> None:
    job = rayjob(submissionMode="InteractiveMode")
    d = Driver(job, FakeWorld())
    d.run(until=5)
    assert d.status["jobDeploymentStatus"] == "Waiting" and "jobId" not in d.status
    manager = d.world.dashboard("default", d.status["rayClusterName"])
    assert manager is not None
    manager.submit({"entrypoint": "python x.py", "submission_id": "mine"}, d.now)
    job["spec"]["jobId"] = "mine"
    d.run(until=12)
    assert d.status["jobId"] == "mine" and d.status["jobDeploymentStatus"] == "Complete"


def test_validation_failed() -> None:
    d = Driver(rayjob(suspend=True), FakeWorld())
    d.step()
    assert d.status["jobDeploymentStatus"] == "ValidationFailed" and d.status["reason"] == "ValidationFailed"
    assert "not allowed to be suspended" in d.status["message"]
    assert d.world.reasons() == ["InvalidRayJobSpec"]


def test_deletion_removes_finalizer_and_stops_job() -> None:
    job = rayjob(submissionMode="HTTPMode")
    job["metadata"]["annotations"] = {DURATION_KEY: "30s"}
    d = Driver(job, FakeWorld())
    d.run(until=5)
    job["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:03Z"
    d.step()
    assert FINALIZER not in job["metadata"]["finalizers"]
    manager = d.world.managers[d.status["rayClusterName"]]
    assert manager.status(d.status["jobId"], d.now) == "STOPPED"


def test_deletion_rules_delete_self() -> None:
    job = rayjob(
        deletionStrategy={
            "deletionRules": [
                {"policy": "DeleteSelf", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 1}}
            ]
        }
    )
    d = Driver(job, FakeWorld())
    d.run(until=10)
    assert d.world.deleted_self


def test_sidecar_mode_submits_from_the_head_and_completes() -> None:
    job = rayjob(submissionMode="SidecarMode")
    job["metadata"]["annotations"] = {OUTCOME_KEY: "FAILED", DURATION_KEY: "1s"}
    d = Driver(job, FakeWorld())
    d.run(until=12)
    s = d.status
    assert (s["jobDeploymentStatus"], s["jobStatus"], s["reason"]) == ("Failed", "FAILED", "AppFailed")
    cluster = d.world.clusters[s["rayClusterName"]]
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert [c["name"] for c in head["containers"]] == ["ray-head", "ray-job-submitter"]
    assert head["restartPolicy"] == "Never"
    assert cluster["metadata"]["annotations"]["ray.io/disable-provisioned-head-restart"] == "true"
    assert d.world.submitters == {}
