"""``kuberay-apiserver dev`` (what ``make dev`` runs) serves the README's examples as written.

The README's curl block and Python example are extracted and run unchanged except for the port.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
