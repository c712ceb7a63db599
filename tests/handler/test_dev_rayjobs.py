"""``kuberay-apiserver dev`` with the simulated operator: a RayJob created through the gateway runs
to SUCCEEDED, and the Ray dashboard's Jobs REST API reached through the gateway's services proxy
(what ``ray job submit --address http://GATEWAY/api/v1/namespaces/NS/services/HEAD-SVC:dashboard/proxy``
and the KubeRay Dashboard's links use) reports the same job and takes new submissions."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.procs import free_port, start_server, stop_server

RJ = "/apis/ray.io/v1/namespaces/default/rayjobs"


@pytest.fixture(scope="module")
def dev() -> Iterator[str]:
    """``kuberay-apiserver dev --port P``: the gateway URL."""
    port = free_port()
    proc: subprocess.Popen[bytes] = start_server(["kuberay-apiserver", "dev", "--port", str(port)], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def _until(fn: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_rayjob_and_dashboard_jobs_api_through_the_gateway(dev: str) -> None:
    body = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "gw-job", "annotations": {"fakekube.kuberay.io/simulate-duration": "1s"}},
        "spec": {
            "entrypoint": "python -c 'print(42)'",
            "submissionMode": "HTTPMode",
            "rayClusterSpec": {
                "headGroupSpec": {
                    "rayStartParams": {},
                    "template": {
                        "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}
                    },
                }
            },
        },
    }
    r = httpx.post(dev + RJ, json=body)
    assert r.status_code == 201, r.text

    def done() -> Any:
        s = httpx.get(f"{dev}{RJ}/gw-job").json().get("status") or {}
        return s if s.get("jobDeploymentStatus") == "Complete" else None

    status = _until(done, "the RayJob never completed")
    assert status["jobStatus"] == "SUCCEEDED"
    proxy = f"{dev}/api/v1/namespaces/default/services/{status['rayClusterName']}-head-svc:dashboard/proxy"
    info = httpx.get(f"{proxy}/api/jobs/{status['jobId']}").json()
    assert info["status"] == "SUCCEEDED" and info["submission_id"] == status["jobId"]
    assert info["message"] == status["message"]
    # what `ray job submit` sends: the version check, the submission, then polling
    assert httpx.get(f"{proxy}/api/version").json()["version"] == "4"
    sub = httpx.post(f"{proxy}/api/jobs/", json={"entrypoint": "echo hi", "metadata": {"owner": "me"}}).json()
    sid = sub["submission_id"]

    def finished() -> Any:
        got = httpx.get(f"{proxy}/api/jobs/{sid}").json()
        return got if got["status"] in ("SUCCEEDED", "FAILED", "STOPPED") else None

    assert _until(finished, "the submitted job never finished")["status"] == "SUCCEEDED"
    assert "echo hi" in httpx.get(f"{proxy}/api/jobs/{sid}/logs").json()["logs"]
    listed = {j["submission_id"] for j in httpx.get(f"{proxy}/api/jobs/").json()}
    assert listed == {status["jobId"], sid}
    assert httpx.delete(f"{proxy}/api/jobs/{sid}").json() == {"deleted": True}
    httpx.delete(f"{dev}{RJ}/gw-job")
