"""``kuberay-apiserver dev`` (what ``make dev`` runs) serves the README's examples as written.

The README's curl block and Python example are extracted and run unchanged except for the port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import free_port, start_server, stop_server

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(heading: str, lang: str) -> str:
    """The first fenced ``lang`` block after the ``## heading`` line of the README."""
    text = README.read_text()
    start = text.index(f"## {heading}\n")
    match = re.search(rf"```{lang}\n(.*?)```", text[start:], re.S)
    assert match, f"no {lang} block under {heading}"
    return match.group(1)


@pytest.fixture(scope="module")
def dev() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``kuberay-apiserver dev --port P``: (gateway URL, process)."""
    port = free_port()
    proc = start_server(["kuberay-apiserver", "dev", "--port", str(port)], port)
    yield f"http://127.0.0.1:{port}", proc
    stop_server(proc)
    assert proc.returncode is not None


def test_quick_start_commands_are_the_two_make_targets() -> None:
    text = README.read_text()
    block = text[text.index("## Quick start") :].split("\n\n")[1]
    assert [line.split()[:2] for line in block.splitlines()] == [["make", "dev"], ["make", "test"]]


def test_readme_curl_lines(dev: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = dev
    script = readme_block("Try it with curl", "sh").replace("http://127.0.0.1:31888", url)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in re.sub(r"\}\{", "}\n{", out.stdout).splitlines() if line.strip()]
    created, got, listed, patched, events, deleted, missing = docs
    assert created["metadata"]["name"] == got["metadata"]["name"] == "raycluster-kuberay"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["raycluster-kuberay"]
    assert patched["metadata"]["annotations"] == {"example.com/owner": "me"}
    assert events["kind"] == "EventList"
    assert deleted["kind"] in ("Status", "RayCluster")
    assert missing["kind"] == "Status" and missing["code"] == 404 and missing["reason"] == "NotFound"


def test_readme_python_example(dev: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = dev
    code = readme_block("Python", "python").replace("http://127.0.0.1:31888", url)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['py-cluster']"
    assert "ADDED py-cluster" in lines[1:]


def test_dev_serves_discovery_of_the_ray_kinds(dev: tuple[str, subprocess.Popen[bytes]]) -> None:
    import httpx

    url, _ = dev
    groups = httpx.get(url + "/apis").json()["groups"]
    assert sorted(g["name"] for g in groups) == ["events.k8s.io", "ray.io"]
    resources = httpx.get(url + "/apis/ray.io/v1").json()["resources"]
    assert {"rayclusters", "rayjobs", "rayservices", "raycronjobs"} <= {r["name"] for r in resources}


def test_dev_prints_runnable_curl_lines_and_stops_fakekube_with_it() -> None:
    import httpx

    port = free_port()
    proc = start_server(["kuberay-apiserver", "dev", "--port", str(port)], port)
    try:
        # The printed lines come before granian starts, so they are in the pipe by now.
        assert proc.stdout is not None
        printed: list[str] = []
        while not any(line.startswith("Press Ctrl-C") for line in printed):
            printed.append(proc.stdout.readline().decode().rstrip("\n"))
        fakekube_url = next(line.split()[-1] for line in printed if line.startswith("fakekube serving on"))
        curls = [line.strip() for line in printed if line.strip().startswith("curl ")]
        assert len(curls) == 4
        outputs = [
            json.loads(
                subprocess.run(
                    ["bash", "-c", c], capture_output=True, text=True, timeout=30, check=True
                ).stdout
            )
            for c in curls
        ]
        created, listed, got, deleted = outputs
        assert created["kind"] == "RayCluster" and created["metadata"]["uid"]
        assert [i["metadata"]["name"] for i in listed["items"]] == ["raycluster-kuberay"]
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        assert deleted["kind"] in ("Status", "RayCluster")
    finally:
        stop_server(proc)
    with pytest.raises(httpx.ConnectError):
        httpx.get(fakekube_url + "/healthz", timeout=2)


def test_quick_start_rayjob_goes_from_initializing_to_succeeded(
    dev: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """The Quick start's shell block, run as written (port aside): ``kubectl create`` of a RayJob,
    then ``kubectl get rayjob rayjob-sample -w``, whose lines are read until the job is SUCCEEDED
    and Complete (the watch itself never ends: the process group is stopped then, as the
    README's Ctrl-C does). The DEPLOYMENT STATUS column must pass Initializing → Running →
    Complete and JOB STATUS end SUCCEEDED, the order the KubeRay operator reports them in."""
    url, _ = dev
    script = readme_block("Quick start", "sh").replace("http://127.0.0.1:31888", url)
    assert "get rayjob rayjob-sample -w" in script
    repo = README.parent
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if re.match(r"rayjob-sample\s+SUCCEEDED\s+Complete\s", line):
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        subprocess.run(
            [str(repo / ".venv/bin/kubectl"), "--server", url, "delete", "rayjob", "rayjob-sample"],
            capture_output=True,
            timeout=30,
        )
    err = proc.stderr.read() if proc.stderr else ""
    print("\n".join(lines))
    assert lines[0] == "rayjob.ray.io/rayjob-sample created", (lines, err)
    header = lines[1].split()
    assert header[:5] == ["NAME", "JOB", "STATUS", "DEPLOYMENT", "STATUS"], lines
    rows = [line for line in lines[2:] if line.startswith("rayjob-sample ")]
    # A row's columns by the header's offsets (an empty JOB STATUS leaves a gap, not a word).
    job_at, dep_at, cluster_at = (
        lines[1].index(h) for h in ("JOB STATUS", "DEPLOYMENT STATUS", "RAY CLUSTER")
    )
    states = [(r[job_at:dep_at].strip(), r[dep_at:cluster_at].strip()) for r in rows]
    deployments = [d for _, d in states]
    assert "Initializing" in deployments, states
    first_init = deployments.index("Initializing")
    assert all(j == "" for j, d in states if d == "Initializing"), states
    assert "Running" in deployments[first_init:], states
    assert ("RUNNING", "Running") in states, states
    assert states[-1] == ("SUCCEEDED", "Complete"), states


def test_dev_runs_the_simulated_operator(dev: tuple[str, subprocess.Popen[bytes]]) -> None:
    """``dev`` starts fakekube with ``--simulate-operator``: a RayCluster created through the
    gateway gets its status (Pods up after the default 1 s start-up delay)."""
    import time

    import httpx

    url, _ = dev
    api = f"{url}/apis/ray.io/v1/namespaces/default/rayclusters"
    body = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "sim-check"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}
                },
            }
        },
    }
    assert httpx.post(api, json=body).status_code == 201
    deadline = time.monotonic() + 10
    while (httpx.get(f"{api}/sim-check").json().get("status") or {}).get("state") != "ready":
        assert time.monotonic() < deadline, "the simulated operator never made the cluster ready"
        time.sleep(0.1)
    status = httpx.get(f"{api}/sim-check").json()["status"]
    assert status["head"]["serviceName"] == "sim-check-head-svc" and status["head"]["podIP"]
    httpx.delete(f"{api}/sim-check")
