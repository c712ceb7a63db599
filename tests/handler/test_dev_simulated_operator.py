"""End to end on ``kuberay-apiserver dev`` (fakekube with the simulated KubeRay operator behind the
gateway): the clients a Ray user runs, through the gateway only.

- kubectl: ``wait --for=condition=RayClusterProvisioned`` and ``--for=jsonpath`` on a RayJob,
  ``get pods -l ray.io/cluster=...``, ``logs`` and ``logs -f`` (streamed);
- the KubeRay Python client (``../shared/kuberay/python-client``): ``wait_until_ray_cluster_running``,
  ``wait_until_job_running`` and ``wait_until_job_finished`` return True within twice the
  simulated delays;
- informers on pods and RayClusters, as client-go's do it (list, then watch from the list's
  ``resourceVersion``), with the official ``kubernetes`` Python client (client-go itself would need
  a Go toolchain in the test run).

The simulated delays: Pods start after ``POD_DELAY`` s (``--simulate-operator-delay``); a Ray job
is PENDING ``JOB_START`` s, then RUNNING ``JOB_RUN`` s (fakekube's ``Simulation`` defaults).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, watch

from tests.procs import KUBECTL, free_port, start_server, stop_server

POD_DELAY = 1.5
JOB_START, JOB_RUN = 1.0, 3.0
NS = "default"


@pytest.fixture(scope="module")
def dev() -> Iterator[str]:
    """``kuberay-apiserver dev`` on a free port with ``POD_DELAY``; its gateway URL."""
    port = free_port()
    argv = ["kuberay-apiserver", "dev", "--port", str(port), "--simulate-operator-delay", str(POD_DELAY)]
    proc = start_server(argv, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def kubectl(
    url: str, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "--server", url, "--kubeconfig", "/dev/null", "-n", NS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sample(kuberay_dir: Path, file: str, name: str) -> dict[str, Any]:
    """The first object of an official sample manifest, renamed ``name``."""
    obj: dict[str, Any] = next(
        d for d in yaml.safe_load_all((kuberay_dir / "samples" / file).read_text()) if d and "spec" in d
    )
    obj["metadata"] = {"name": name}
    return obj


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_kubectl_waits_lists_ray_pods_and_reads_their_logs(dev: str, kuberay_dir: Path) -> None:
    name = unique("kc")
    started = time.monotonic()
    created = kubectl(
        dev, "create", "-f", "-", stdin=json.dumps(sample(kuberay_dir, "ray-cluster.sample.yaml", name))
    )
    assert created.returncode == 0, created.stderr
    waited = kubectl(
        dev, "wait", "--for=condition=RayClusterProvisioned", f"raycluster/{name}", "--timeout=30s"
    )
    elapsed = time.monotonic() - started
    assert waited.returncode == 0, waited.stderr
    print(f"kubectl wait RayClusterProvisioned: {elapsed:.2f}s")
    assert elapsed <= 2 * POD_DELAY, f"provisioned after {elapsed:.2f}s"

    pods = kubectl(dev, "get", "pods", "-l", f"ray.io/cluster={name}", "-o", "json")
    assert pods.returncode == 0, pods.stderr
    items = json.loads(pods.stdout)["items"]
    by_type = {p["metadata"]["labels"]["ray.io/node-type"]: p for p in items}
    assert sorted(by_type) == ["head", "worker"]
    assert all(p["status"]["phase"] == "Running" for p in items)
    head = by_type["head"]["metadata"]["name"]
    assert head.startswith(f"{name}-head-")
    table = kubectl(dev, "get", "pods", "-l", f"ray.io/cluster={name},ray.io/node-type=head")
    assert table.stdout.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and head in table.stdout

    logs = kubectl(dev, "logs", head)
    assert logs.returncode == 0, logs.stderr
    assert "Ray runtime started." in logs.stdout

    follow = subprocess.Popen(
        [
            str(KUBECTL),
            "--server",
            dev,
            "--kubeconfig",
            "/dev/null",
            "-n",
            NS,
            "logs",
            "-f",
            "--tail=1",
            head,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        got: list[str] = []
        reader = threading.Thread(
            target=lambda: got.append(follow.stdout.readline() if follow.stdout else "")
        )
        reader.start()
        reader.join(10)
        assert got and got[0].strip(), "no line from kubectl logs -f within 10s"
        assert follow.poll() is None  # still following: the stream stays open
    finally:
        follow.terminate()
        follow.wait(10)


def test_kubectl_waits_for_a_rayjob_to_succeed(dev: str, kuberay_dir: Path) -> None:
    name = unique("kj")
    job = sample(kuberay_dir, "ray-job.sample.yaml", name)
    job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"].pop("volumes", None)
    for c in job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]:
        c.pop("volumeMounts", None)
    started = time.monotonic()
    created = kubectl(dev, "create", "-f", "-", stdin=json.dumps(job))
    assert created.returncode == 0, created.stderr
    waited = kubectl(
        dev, "wait", "--for=jsonpath={.status.jobStatus}=SUCCEEDED", f"rayjob/{name}", "--timeout=60s"
    )
    elapsed = time.monotonic() - started
    assert waited.returncode == 0, waited.stderr
    print(f"kubectl wait jobStatus=SUCCEEDED: {elapsed:.2f}s")
    assert elapsed <= 2 * (POD_DELAY + JOB_START + JOB_RUN), f"SUCCEEDED after {elapsed:.2f}s"
    cluster = json.loads(kubectl(dev, "get", "rayjob", name, "-o", "json").stdout)["status"]["rayClusterName"]
    pods = kubectl(dev, "get", "pods", "-l", f"ray.io/cluster={cluster}", "-o", "name")
    assert len(pods.stdout.split()) == 2, pods.stdout


KUBERAY_CLIENT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from python_client import kuberay_cluster_api, kuberay_job_api
cluster, job, delay = json.loads(sys.argv[2]), json.loads(sys.argv[3]), 0.2
clusters, jobs = kuberay_cluster_api.RayClusterApi(), kuberay_job_api.RayjobApi()
out = {}
t0 = time.monotonic()
assert clusters.create_ray_cluster(body=cluster, k8s_namespace="default")
out["cluster_running"] = clusters.wait_until_ray_cluster_running(
    cluster["metadata"]["name"], "default", timeout=30, delay_between_attempts=delay)
out["cluster_s"] = time.monotonic() - t0
t0 = time.monotonic()
assert jobs.submit_job(k8s_namespace="default", job=job)
out["job_running"] = jobs.wait_until_job_running(job["metadata"]["name"], "default", 30, delay)
out["job_running_s"] = time.monotonic() - t0
out["job_finished"] = jobs.wait_until_job_finished(job["metadata"]["name"], "default", 60, delay)
out["job_finished_s"] = time.monotonic() - t0
out["job_status"] = jobs.get_job_status(job["metadata"]["name"], "default", 5, delay)["jobStatus"]
print(json.dumps(out))
"""


def test_kuberay_python_client_wait_helpers(dev: str, kuberay_dir: Path, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "dev", "cluster": {"server": dev}}],
                "users": [{"name": "dev", "user": {}}],
                "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev"}}],
                "current-context": "dev",
            }
        )
    )
    cluster = sample(kuberay_dir, "ray-cluster.sample.yaml", unique("py"))
    job = sample(kuberay_dir, "ray-job.sample.yaml", unique("pyjob"))
    spec = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    spec.pop("volumes", None)
    for c in spec["containers"]:
        c.pop("volumeMounts", None)
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            KUBERAY_CLIENT,
            str(kuberay_dir / "python-client"),
            json.dumps(cluster),
            json.dumps(job),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    print("kuberay python client:", out)  # the figures, with pytest -s
    assert out["cluster_running"] is True and out["cluster_s"] <= 2 * POD_DELAY, out
    assert out["job_running"] is True and out["job_running_s"] <= 2 * (POD_DELAY + JOB_START), out
    assert out["job_finished"] is True and out["job_finished_s"] <= 2 * (POD_DELAY + JOB_START + JOB_RUN), out
    assert out["job_status"] == "SUCCEEDED", out


def test_a_pod_informer_through_the_gateway(dev: str, kuberay_dir: Path) -> None:
    """List, then watch from the list's resourceVersion (client-go's ListWatch), the pods of one
    RayCluster: both pods are ADDED, then reported Running and Ready."""
    name = unique("inf")
    core = client.CoreV1Api(client.ApiClient(client.Configuration(host=dev)))
    selector = f"ray.io/cluster={name}"
    listed = core.list_namespaced_pod(NS, label_selector=selector)
    assert listed.items == []
    events: list[tuple[str, str, str, bool]] = []
    done = threading.Event()

    def inform() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_pod,
            NS,
            label_selector=selector,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        ):
            pod = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
            events.append((event["type"], pod.metadata.labels["ray.io/node-type"], pod.status.phase, ready))
            if sum(1 for e in events if e[2] == "Running" and e[3]) >= 2:
                w.stop()
        done.set()

    thread = threading.Thread(target=inform, daemon=True)
    thread.start()
    time.sleep(0.5)
    created = kubectl(
        dev, "create", "-f", "-", stdin=json.dumps(sample(kuberay_dir, "ray-cluster.sample.yaml", name))
    )
    assert created.returncode == 0, created.stderr
    assert done.wait(4 * POD_DELAY + 10), events
    assert sorted(t for kind, t, _, _ in events if kind == "ADDED") == ["head", "worker"]
    assert {t for kind, t, phase, ready in events if kind == "MODIFIED" and phase == "Running" and ready} == {
        "head",
        "worker",
    }


def test_a_raycluster_informer_through_the_gateway(dev: str, kuberay_dir: Path) -> None:
    """The same ListWatch on RayClusters (CustomObjectsApi): ADDED, then MODIFIED up to
    ``status.state=ready`` with the head's ``podIP``, as the operator reports it."""
    name = unique("infc")
    custom = client.CustomObjectsApi(client.ApiClient(client.Configuration(host=dev)))
    args = ("ray.io", "v1", NS, "rayclusters")
    listed = custom.list_namespaced_custom_object(*args)
    states: list[tuple[str, str | None]] = []
    done = threading.Event()

    def inform() -> None:
        w = watch.Watch()
        for event in w.stream(
            custom.list_namespaced_custom_object,
            *args,
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=30,
        ):
            obj = event["object"]
            if obj["metadata"]["name"] != name:
                continue
            status = obj.get("status") or {}
            states.append((event["type"], status.get("state")))
            if status.get("state") == "ready" and status.get("head", {}).get("podIP"):
                w.stop()
        done.set()

    thread = threading.Thread(target=inform, daemon=True)
    thread.start()
    time.sleep(0.5)
    created = kubectl(
        dev, "create", "-f", "-", stdin=json.dumps(sample(kuberay_dir, "ray-cluster.sample.yaml", name))
    )
    assert created.returncode == 0, created.stderr
    assert done.wait(4 * POD_DELAY + 10), states
    assert states[0] == ("ADDED", None)
    assert states[-1] == ("MODIFIED", "ready")
