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


def test_readme_rayjob_watch(dev: str) -> None:
    """The README's RayJob block, run as written (port aside): ``kubectl get -w`` shows the
    RayJob going from Initializing to SUCCEEDED/Complete, as the README's sample output."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("## A RayJob, from Initializing to SUCCEEDED\n")
    blocks = re.findall(r"```(\w*)\n(.*?)```", text[start:], re.S)
    script = blocks[0][1].replace("http://127.0.0.1:31888", dev)
    create, watch = script.rsplit("\n$K get", 1)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", create], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    watch_cmd = create.split("\n", 1)[0] + "\ntimeout 15 $K get" + watch.split("#", 1)[0]
    got = subprocess.run(["bash", "-c", watch_cmd], capture_output=True, text=True, timeout=60)
    rows = [line.split() for line in got.stdout.splitlines()[1:] if line.strip()]
    states = [r[1:3] if len(r) > 2 and r[1] in ("PENDING", "RUNNING", "SUCCEEDED") else r[1:2] for r in rows]
    assert ["Initializing"] in states and ["SUCCEEDED", "Complete"] in states, got.stdout
    assert states.index(["Initializing"]) < states.index(["SUCCEEDED", "Complete"])
    sample = [line.split() for line in blocks[1][1].splitlines()[1:]]
    assert sample[0][1] == "Initializing" and sample[-1][1:3] == ["SUCCEEDED", "Complete"]
    httpx.delete(f"{dev}{RJ}/rayjob-sample")
