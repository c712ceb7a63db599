"""The simulated Ray dashboard's Jobs REST API (fakekube._controllers.kuberay.rayjobs_api), with Ray's
job_head.py routes and field names, and its consistency with what the RayJob state machine reports."""

from __future__ import annotations

import datetime as dt
import json
import random

from hypothesis import given
from hypothesis import strategies as st

from fakekube._controllers.kuberay.rayjobs_api import handle
from fakekube._controllers.kuberay.rayjobs_model import DURATION_KEY, OUTCOME_KEY, JobManager, Timings
from tests.fakekube.simulation.test_rayjob_machine import Driver
from tests.fakekube.simulation.world import FakeWorld, rayjob

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def call(m: JobManager, method: str, path: str, body: object = None, at: float = 0.0) -> tuple[int, object]:
    raw = b"" if body is None else json.dumps(body).encode()
    r = handle(m, set(), method, path, raw, T0 + dt.timedelta(seconds=at))
    assert r is not None
    return r.status, (json.loads(r.body) if r.content_type == "application/json" else r.body.decode())


def test_submit_get_list_logs_lifecycle() -> None:
    m = JobManager(Timings(job_start_delay=1, job_duration=2), random.Random(3))
    code, resp = call(m, "POST", "/api/jobs/", {"entrypoint": "echo hi", "metadata": {"owner": "me"}})
    assert code == 200 and isinstance(resp, dict)
    sid = resp["submission_id"]
    assert resp["job_id"] == sid and sid.startswith("raysubmit_") and len(sid) == 26
    code, info = call(m, "GET", f"/api/jobs/{sid}", at=0.5)
    assert code == 200 and isinstance(info, dict)
    assert (
        info["status"] == "PENDING"
        and info["job_id"] is None
        and info["start_time"] == int(T0.timestamp() * 1000)
    )
    assert info["metadata"] == {"owner": "me"} and info["type"] == "SUBMISSION" and info["end_time"] is None
    code, info = call(m, "GET", f"/api/jobs/{sid}", at=1.5)
    assert isinstance(info, dict) and info["status"] == "RUNNING" and info["job_id"] == "02000000"
    code, by_driver = call(m, "GET", "/api/jobs/02000000", at=1.5)
    assert code == 200 and isinstance(by_driver, dict) and by_driver["submission_id"] == sid
    code, info = call(m, "GET", f"/api/jobs/{sid}", at=3.5)
    assert (
        isinstance(info, dict)
        and info["status"] == "SUCCEEDED"
        and info["end_time"] == int(T0.timestamp() * 1000) + 3000
    )
    code, listed = call(m, "GET", "/api/jobs/", at=3.5)
    assert isinstance(listed, list) and [j["submission_id"] for j in listed] == [sid]
    code, logs = call(m, "GET", f"/api/jobs/{sid}/logs", at=3.5)
    assert isinstance(logs, dict) and "echo hi" in logs["logs"]
    assert call(m, "DELETE", f"/api/jobs/{sid}", at=4) == (200, {"deleted": True})
    assert call(m, "GET", f"/api/jobs/{sid}", at=4) == (404, f"Job {sid} does not exist")


def test_stop_and_duplicate_and_scripted_failure() -> None:
    m = JobManager(Timings(job_start_delay=0, job_duration=10))
    assert call(m, "POST", "/api/jobs/", {"entrypoint": "x", "submission_id": "a"})[0] == 200
    code, text = call(m, "POST", "/api/jobs/", {"entrypoint": "x", "submission_id": "a"})
    assert code == 500 and "Please use a different submission_id" in str(
        text
    )  # what KubeRay's client matches
    assert call(m, "DELETE", "/api/jobs/a", at=1)[0] == 400
    assert call(m, "POST", "/api/jobs/a/stop", at=1) == (200, {"stopped": True})
    assert call(m, "POST", "/api/jobs/a/stop", at=2) == (200, {"stopped": False})
    assert call(m, "GET", "/api/jobs/a", at=2)[1]["status"] == "STOPPED"  # type: ignore[index]
    body = {"entrypoint": "x", "submission_id": "b", "metadata": {OUTCOME_KEY: "FAILED", DURATION_KEY: "1s"}}
    call(m, "POST", "/api/jobs/", body)
    info = call(m, "GET", "/api/jobs/b", at=2)[1]
    assert isinstance(info, dict) and info["status"] == "FAILED" and info["driver_exit_code"] == 1
    assert info["message"].startswith("Job entrypoint command failed with exit code 1")
    assert call(m, "GET", "/api/jobs/nope/logs")[0] == 404
    assert call(m, "POST", "/api/jobs/nope/stop")[0] == 404


def test_packages_upload_then_found() -> None:
    m, packages = JobManager(), set[str]()
    r = handle(m, packages, "GET", "/api/packages/gcs/_ray_pkg_abc.zip", b"", T0)
    assert r is not None and r.status == 404
    handle(m, packages, "PUT", "/api/packages/gcs/_ray_pkg_abc.zip", b"zip", T0)
    r = handle(m, packages, "GET", "/api/packages/gcs/_ray_pkg_abc.zip", b"", T0)
    assert r is not None and r.status == 200


@given(st.binary(max_size=200))
def test_hostile_submit_bodies_are_400_or_accepted(body: bytes) -> None:
    r = handle(JobManager(), set(), "POST", "/api/jobs/", body, T0)
    assert r is not None and r.status in (200, 400)


def test_dashboard_agrees_with_rayjob_status() -> None:
    job = rayjob(submissionMode="HTTPMode")
    d = Driver(job, FakeWorld())
    d.run(until=4.5)
    s = d.status
    manager = d.world.managers[s["rayClusterName"]]
    code, info = call(manager, "GET", f"/api/jobs/{s['jobId']}", at=(d.now - T0).total_seconds())
    assert code == 200 and isinstance(info, dict)
    assert (
        info["submission_id"] == s["jobId"]
        and info["status"] == s["jobStatus"]
        and info["message"] == s["message"]
    )
    d.run(until=10)
    code, info = call(manager, "GET", f"/api/jobs/{d.status['jobId']}", at=(d.now - T0).total_seconds())
    assert isinstance(info, dict) and info["status"] == d.status["jobStatus"] == "SUCCEEDED"
    end = dt.datetime.fromtimestamp(info["end_time"] / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert d.status["rayJobInfo"]["endTime"] == end
