"""The official KubeRay Dashboard's own HTTP calls, replayed against ``kuberay-apiserver dev``
(fakekube with the simulated KubeRay operator behind the gateway), with the status fields its
parsers read checked for the values the KubeRay operator gives.

The Dashboard is ``../shared/kuberay/dashboard`` (ray-project/kuberay ``dashboard/``, Next.js); the
browser run of it is ``make e2e-dashboard`` (``e2e/dashboard/run.sh``). What is replayed, from its
sources (read here, so a change there shows up as a failure, not as a stale copy):

- ``src/utils/config-defaults.ts``: the API paths, ``/apis/ray.io/v1`` (rayApiPath) and ``/api/v1``
  (coreApiPath), on the domain ``API_DOMAIN``;
- ``src/hooks/api/useListClusters.ts`` / ``useListJobs.ts``: ``GET {ray}/namespaces/{ns}/rayclusters``
  and ``.../rayjobs`` (every 5 s through SWR); ``transformRayClusterResponse`` reads
  ``status.conditions`` (``parseClusterStatus``: ``HeadPodReady``, ``RayClusterProvisioned``,
  ``RayClusterSuspended``, ``RayClusterSuspending``), ``status.head.podName``/``serviceIP``/
  ``serviceName``, ``status.endpoints``, the replica and desired-resource counts;
  ``convertRayJobItemToJobRow`` reads ``status.jobStatus`` (``PENDING`` when absent, as
  ``utils/v2/filter.ts`` defaults it), ``jobDeploymentStatus``, ``message``, ``rayClusterName``,
  ``jobId`` and ``rayClusterStatus.head.serviceName`` for the Ray dashboard link
  ``{core}/namespaces/{ns}/services/{svc}:{port}/proxy/``;
- ``src/hooks/api/useCreateJob.ts`` + ``components/CreateJobForm.tsx``: ``POST {ray}/namespaces/{ns}/rayjobs``
  with the body the form builds from its defaults (``buildHeadContainer``/``buildWorkerContainer``);
- ``useDeleteJobs.ts`` / ``useDeleteClusters.ts``: ``DELETE {ray}/namespaces/{ns}/rayjobs/{name}``
  (the response must be JSON: the hook calls ``response.json()``);
- the browser's CORS preflight for the JSON POST from the Dashboard's origin
  (``KUBERAY_APISERVER_CORS_ALLOW_ORIGIN``).

The operator's values compared with (ray-operator/apis/ray/v1/rayjob_types.go,
raycluster_types.go; controllers/ray/rayjob_controller.go): jobDeploymentStatus passes
``Initializing`` → ``Running`` → ``Complete``; jobStatus is unset while Initializing
(``JobStatusNew`` = "" is omitted), then ``RUNNING``/``SUCCEEDED`` from the Ray job; the RayJob's
RayCluster carries ``ray.io/originated-from-crd=RayJob`` (what ``clusterIsRayJob`` checks) and
``state: ready`` with ``HeadPodReady``/``RayClusterProvisioned`` True (reasons
``HeadPodRunningAndReady``, ``AllPodRunningAndReadyFirstTime``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.procs import free_port, start_dev, stop_server

ORIGIN = "http://127.0.0.1:3000"  # where `next start` serves the Dashboard in make e2e-dashboard
NS = "default"
POD_DELAY = 0.5
#: jobDeploymentStatus values of rayjob_types.go; jobStatus values of Ray's JobStatus.
DEPLOYMENT_STATUSES = {
    "Initializing",
    "Running",
    "Complete",
    "Failed",
    "Suspending",
    "Suspended",
    "Retrying",
    "Waiting",
}
JOB_STATUSES = {"PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"}


def ts_const(source: str, name: str) -> str:
    """The string value of ``export const NAME = "..."`` (or ``const``) in a TypeScript source."""
    match = re.search(rf'const {name} = "([^"]*)"', source)
    assert match, f"{name} not found in the Dashboard's sources"
    return match.group(1)


def form_default(form: str, setter: str) -> str:
    """The initial value of ``const [x, SETTER] = React.useState("...")`` in CreateJobForm.tsx."""
    match = re.search(rf'{setter}\] = React\.useState\(\s*("(?:[^"\\]|\\.)*"|\'[^\']*\')', form)
    assert match, f"{setter} not found in CreateJobForm.tsx"
    return match.group(1)[1:-1].replace('\\"', '"')


@pytest.fixture(scope="module")
def dashboard_src(kuberay_dir: Path) -> Path:
    """``../shared/kuberay/dashboard/src`` (fails under CI when missing, as ``kuberay_dir`` does)."""
    src = kuberay_dir / "dashboard" / "src"
    assert src.is_dir(), f"the KubeRay Dashboard's sources are missing at {src}"
    return src


@pytest.fixture(scope="module")
def api(dashboard_src: Path) -> Iterator[tuple[str, str]]:
    """``kuberay-apiserver dev`` with the Dashboard's origin allowed; (rayApiUrl, coreApiUrl) as
    the Dashboard builds them from ``config-defaults.ts`` with ``API_DOMAIN`` = the gateway."""
    defaults = (dashboard_src / "utils" / "config-defaults.ts").read_text()
    port = free_port()
    proc = start_dev(
        port, "--simulate-operator-delay", str(POD_DELAY), env={"KUBERAY_APISERVER_CORS_ALLOW_ORIGIN": ORIGIN}
    )
    domain = f"http://127.0.0.1:{port}"
    yield domain + ts_const(defaults, "v2RayApiPath"), domain + ts_const(defaults, "v2CoreApiPath")
    stop_server(proc)


def create_job_body(dashboard_src: Path, name: str) -> dict[str, Any]:
    """The RayJob ``createRayJobRequest`` (useCreateJob.ts) posts for CreateJobForm's defaults."""
    form = (dashboard_src / "components" / "CreateJobForm.tsx").read_text()
    hook = (dashboard_src / "hooks" / "api" / "useCreateJob.ts").read_text()
    assert "`${config.rayApiUrl}/namespaces/${namespace}/rayjobs`" in hook
    image = form_default(form, "setDockerImage")

    def resources(cpu: str, memory: str) -> dict[str, Any]:
        return {"limits": {"cpu": cpu, "memory": memory}, "requests": {"cpu": cpu, "memory": memory}}

    head_ports = [
        {"containerPort": int(port), "name": port_name}
        for port, port_name in re.findall(r'\{ containerPort: (\d+), name: "([^"]+)" \}', hook)
    ]
    assert [p["name"] for p in head_ports] == ["gcs-server", "dashboard", "client"]
    head = {
        "name": "ray-head",
        "image": image,
        "ports": head_ports,
        "resources": resources(form_default(form, "setHeadCpu"), form_default(form, "setHeadMemory")),
    }
    worker = {
        "name": "ray-worker",
        "image": image,
        "resources": resources(form_default(form, "setWorkerCpu"), form_default(form, "setWorkerMemory")),
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "entrypoint": form_default(form, "setEntrypoint"),
            "rayClusterSpec": {
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [head]}}},
                "workerGroupSpecs": [
                    {
                        "groupName": ts_const(hook, "WORKER_GROUP_NAME"),
                        "replicas": int(form_default(form, "setWorkerReplicas")),
                        "minReplicas": int(form_default(form, "setWorkerMinReplicas")),
                        "maxReplicas": int(form_default(form, "setWorkerMaxReplicas")),
                        "rayStartParams": {},
                        "template": {"spec": {"containers": [worker]}},
                    }
                ],
            },
        },
    }


def parse_cluster_status(conditions: list[dict[str, Any]]) -> str:
    """``parseClusterStatus`` of useListClusters.ts, line for line."""
    by_type = {c["type"]: c["status"] for c in conditions}
    if by_type.get("RayClusterSuspended") == "True":
        return "SUSPENDED"
    if by_type.get("RayClusterSuspending") == "True":
        return "SUSPENDING"
    if by_type.get("HeadPodReady") == "True" and by_type.get("RayClusterProvisioned") != "False":
        return "READY"
    if by_type.get("HeadPodReady") == "False" or by_type.get("RayClusterProvisioned") == "False":
        return "FAILED"
    return "PENDING"


def cluster_row(item: dict[str, Any]) -> dict[str, Any]:
    """What ``transformRayClusterResponse`` reads of one item, with its non-null assertions
    (``item.status.conditions``, ``item.status.head!.podName``) as KeyErrors: the issue's
    ``Cannot read properties of undefined (reading 'conditions')``."""
    status = item["status"]
    return {
        "state": parse_cluster_status(status.get("conditions") or []),
        "headPodName": status["head"]["podName"],
        "headServiceIP": status["head"].get("serviceIP"),
        "serviceName": status["head"].get("serviceName"),
        "endpoints": {
            k: status["endpoints"].get(k) for k in ("client", "dashboard", "gcs-server", "metrics")
        },
        "desired": (status.get("desiredCPU"), status.get("desiredMemory"), status.get("desiredGPU")),
        "workers": (status.get("availableWorkerReplicas"), status.get("desiredWorkerReplicas")),
        "isRayJob": (item["metadata"].get("labels") or {}).get("ray.io/originated-from-crd", "").lower()
        == "rayjob",
    }


def test_preflight_allows_the_dashboards_json_post(api: tuple[str, str]) -> None:
    ray, _ = api
    r = httpx.options(
        f"{ray}/namespaces/{NS}/rayjobs",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()


def test_dashboard_creates_a_job_that_succeeds_and_deletes_it(
    api: tuple[str, str], dashboard_src: Path
) -> None:
    ray, core = api
    http = httpx.Client(headers={"Origin": ORIGIN}, timeout=10)
    name = f"test-job{uuid.uuid4().hex[:6]}"
    created = http.post(
        f"{ray}/namespaces/{NS}/rayjobs",
        json=create_job_body(dashboard_src, name),
        headers={"Accept": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == ORIGIN

    seen: list[tuple[str, str | None]] = []
    row: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = http.get(f"{ray}/namespaces/{NS}/rayjobs")  # useListJobs' key
        assert listed.status_code == 200 and listed.json()["kind"] == "RayJobList"
        row = next(i for i in listed.json()["items"] if i["metadata"]["name"] == name)
        status = row.get("status") or {}
        pair = (status.get("jobDeploymentStatus", ""), status.get("jobStatus"))
        if not seen or seen[-1] != pair:
            seen.append(pair)
        if pair == ("Complete", "SUCCEEDED"):
            break
        time.sleep(0.1)
    print("jobDeploymentStatus/jobStatus seen by the Jobs page:", seen)
    assert seen[-1] == ("Complete", "SUCCEEDED"), seen
    assert {d for d, _ in seen} <= DEPLOYMENT_STATUSES | {""}
    assert {j for _, j in seen if j is not None} <= JOB_STATUSES
    # The operator's order: Initializing with no jobStatus yet, a RUNNING Ray job, then Complete.
    deployments = [d for d, _ in seen if d]
    assert deployments[0] == "Initializing" and deployments[-1] == "Complete"
    assert deployments.index("Running") < deployments.index("Complete")
    assert all(j is None for d, j in seen if d == "Initializing")
    assert ("Running", "RUNNING") in seen

    status = row["status"]
    assert status["message"] and status["jobId"] and status["rayClusterName"].startswith(name)
    assert status["startTime"] and status["endTime"]
    # The Jobs page's Ray dashboard and Logs links.
    svc = status["rayClusterStatus"]["head"]["serviceName"]
    port = next(
        p["containerPort"]
        for p in row["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
        if p["name"] == "dashboard"
    )
    link = f"{core}/namespaces/{NS}/services/{svc}:{port}/proxy/"
    assert svc == f"{status['rayClusterName']}-head-svc"
    page = http.get(link)
    assert page.status_code == 200 and "Ray Dashboard" in page.text
    ray_job = http.get(f"{link}api/jobs/{status['jobId']}")  # what the Logs link's page asks
    assert ray_job.status_code == 200 and ray_job.json()["status"] == "SUCCEEDED"

    # The Clusters page: the RayJob's cluster, parsed as transformRayClusterResponse does.
    clusters = http.get(f"{ray}/namespaces/{NS}/rayclusters").json()["items"]
    rows = {i["metadata"]["name"]: cluster_row(i) for i in clusters}
    cluster = rows[status["rayClusterName"]]
    assert cluster["state"] == "READY"
    assert cluster["headPodName"].startswith(f"{status['rayClusterName']}-head-")
    assert cluster["serviceName"] == svc and cluster["headServiceIP"]
    assert cluster["endpoints"] == {
        "client": "10001",
        "dashboard": "8265",
        "gcs-server": "6379",
        "metrics": "8080",
    }
    # 2 CPUs and 4Gi each for the head and one worker (the form's defaults).
    assert cluster["desired"] == ("4", "8Gi", "0")
    assert cluster["workers"] == (1, 1)
    assert cluster["isRayJob"] is True

    deleted = http.delete(f"{ray}/namespaces/{NS}/rayjobs/{name}")
    assert deleted.status_code == 200, deleted.text
    assert isinstance(deleted.json(), dict)  # useDeleteJobs awaits response.json()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        jobs = [i["metadata"]["name"] for i in http.get(f"{ray}/namespaces/{NS}/rayjobs").json()["items"]]
        names = [
            i["metadata"]["name"] for i in http.get(f"{ray}/namespaces/{NS}/rayclusters").json()["items"]
        ]
        if name not in jobs and status["rayClusterName"] not in names:
            break
        time.sleep(0.2)
    assert name not in jobs
    assert status["rayClusterName"] not in names  # collected through its owner reference


def test_clusters_page_parses_every_cluster_once_the_operator_reconciled(
    api: tuple[str, str], kuberay_dir: Path
) -> None:
    """A RayCluster created from the official sample: after the simulated operator's first
    reconcile, every field the Clusters page dereferences is there, and it turns READY."""
    import yaml

    ray, _ = api
    http = httpx.Client(headers={"Origin": ORIGIN}, timeout=10)
    obj = next(
        d
        for d in yaml.safe_load_all((kuberay_dir / "samples" / "ray-cluster.sample.yaml").read_text())
        if d and "spec" in d
    )
    name = f"dash-{uuid.uuid4().hex[:6]}"
    obj["metadata"] = {"name": name}
    assert http.post(f"{ray}/namespaces/{NS}/rayclusters", json=obj).status_code == 201
    states: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = http.get(f"{ray}/namespaces/{NS}/rayclusters").json()["items"]
        item = next(i for i in items if i["metadata"]["name"] == name)
        if "status" in item:  # the operator's first reconcile has run
            state = cluster_row(item)["state"]
            if not states or states[-1] != state:
                states.append(state)
            if state == "READY":
                break
        time.sleep(0.1)
    print("Clusters page states:", states)
    assert states[-1] == "READY", states
    # The operator reports provisioning as RayClusterProvisioned=False, which this Dashboard
    # version shows as FAILED until the pods are ready (parseClusterStatus): the real behaviour.
    assert set(states) <= {"FAILED", "PENDING", "READY"}
    assert cluster_row(item)["isRayJob"] is False
    assert http.delete(f"{ray}/namespaces/{NS}/rayclusters/{name}").status_code == 200
