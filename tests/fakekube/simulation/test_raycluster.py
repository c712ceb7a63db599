"""The simulated KubeRay RayCluster controller: the Pods and head Service it creates (names,
labels, owner references, ports), the status fields over time, scaling (``replicas``,
``workersToDelete``), suspension, deletion through owner references, ``ReplicaFailure``, Events,
the watch seeing each transition, and the Ray dashboard and logs of the head Pod."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakekube import FakeKube
from fakekube.testing import Client, LoopThread
from tests.fakekube.objects import events
from tests.fakekube.simulation.helpers import PODS_PATH, RC_PATH, advance, condition, manual_app, raycluster

SVC_PATH = "/api/v1/namespaces/default/services"


def _setup(connect: Callable[[FakeKube], Client], **kw: Any) -> tuple[FakeKube, Client]:
    app = manual_app(delay=2.0)
    client = connect(app)
    client.request("POST", RC_PATH, raycluster(**kw))
    return app, client


def _pods(client: Client, selector: str = "ray.io/cluster=rc") -> list[Any]:
    return list(client.request("GET", PODS_PATH, query={"labelSelector": selector})["items"])


def _rc(client: Client) -> Any:
    return client.request("GET", f"{RC_PATH}/rc")


def _patch(client: Client, body: Any) -> None:
    client.request("PATCH", f"{RC_PATH}/rc", body, content_type="application/merge-patch+json")


def test_pods_and_head_service_as_the_operator_names_and_labels_them(
    connect: Callable[[FakeKube], Client],
) -> None:
    _, client = _setup(connect)
    rc = _rc(client)
    pods = _pods(client)
    heads = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "head"]
    workers = [p for p in pods if p["metadata"]["labels"]["ray.io/node-type"] == "worker"]
    assert len(heads) == 1 and len(workers) == 2
    head = heads[0]
    assert head["metadata"]["generateName"] == "rc-head-"
    assert (
        head["metadata"]["name"].startswith("rc-head-")
        and len(head["metadata"]["name"]) == len("rc-head-") + 5
    )
    assert {p["metadata"]["generateName"] for p in workers} == {"rc-wg-worker-"}
    assert head["metadata"]["labels"] == {
        "ray.io/is-ray-node": "yes",
        "ray.io/cluster": "rc",
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
        "ray.io/identifier": "rc-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    assert sorted(p["metadata"]["labels"]["ray.io/worker-group-replica-index"] for p in workers) == ["0", "1"]
    assert workers[0]["metadata"]["labels"]["ray.io/identifier"] == "rc-worker"
    assert workers[0]["metadata"]["labels"]["ray.io/group"] == "wg"
    owner = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "rc",
        "uid": rc["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert all(p["metadata"]["ownerReferences"] == [owner] for p in pods)
    ray = head["spec"]["containers"][0]
    assert ray["command"] == ["/bin/bash", "-c", "--"]
    assert ray["args"][0].startswith("ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start --head ")
    assert " --num-cpus=1 " in ray["args"][0] and f" --memory={2 * 1024**3} " in ray["args"][0]
    worker_args = workers[0]["spec"]["containers"][0]["args"][0]
    assert " --address=rc-head-svc.default.svc.cluster.local:6379 " in worker_args
    assert workers[0]["spec"]["initContainers"][0]["name"] == "wait-gcs-ready"
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in ray["ports"]
    # the probes the operator injects (Ray < 2.53: wget of the raylet and GCS health endpoints)
    readiness = ray["readinessProbe"]
    assert readiness["exec"]["command"][:2] == ["bash", "-c"]
    assert "localhost:52365/api/local_raylet_healthz" in readiness["exec"]["command"][2]
    assert "localhost:8265/api/gcs_healthz" in readiness["exec"]["command"][2]
    assert (readiness["initialDelaySeconds"], readiness["timeoutSeconds"], readiness["failureThreshold"]) == (
        10,
        5,
        10,
    )
    assert "gcs_healthz" not in workers[0]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"][2]
    svc = client.request("GET", f"{SVC_PATH}/rc-head-svc")
    assert svc["metadata"]["labels"] == {
        "ray.io/cluster": "rc",
        "ray.io/node-type": "head",
        "ray.io/identifier": "rc-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    assert svc["spec"]["selector"] == svc["metadata"]["labels"]
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"], p["appProtocol"]) for p in svc["spec"]["ports"]] == [
        ("client", 10001, "tcp"),
        ("dashboard", 8265, "tcp"),
        ("gcs-server", 6379, "tcp"),
        ("metrics", 8080, "tcp"),
        ("serve", 8000, "tcp"),
    ]
    assert svc["metadata"]["ownerReferences"] == [owner]


def test_status_over_time(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app, client = _setup(connect)
    st = _rc(client)["status"]
    assert "state" not in st
    assert condition(_rc(client), "RayClusterProvisioned") | {"lastTransitionTime": ""} == {
        "type": "RayClusterProvisioned",
        "status": "False",
        "reason": "RayClusterPodsProvisioning",
        "message": "RayCluster Pods are being provisioned for first time",
        "lastTransitionTime": "",
    }
    head_ready = condition(_rc(client), "HeadPodReady")
    assert (head_ready["status"], head_ready["reason"]) == ("False", "ContainerCreating")
    assert (st["desiredWorkerReplicas"], st["maxWorkerReplicas"]) == (2, 5)
    assert "minWorkerReplicas" not in st  # 0 (minReplicas: 0): omitted, as omitempty
    assert "readyWorkerReplicas" not in st and "availableWorkerReplicas" not in st  # 0: omitted
    assert (st["desiredCPU"], st["desiredMemory"], st["desiredGPU"], st["desiredTPU"]) == (
        "2",
        "4Gi",
        "0",
        "0",
    )
    assert st["endpoints"] == {
        "client": "10001",
        "dashboard": "8265",
        "gcs-server": "6379",
        "metrics": "8080",
        "serve": "8000",
    }
    assert st["head"]["serviceName"] == "rc-head-svc" and "podIP" not in st["head"]
    assert st["observedGeneration"] == 1
    advance(loop_thread, app, 2.0)
    rc = _rc(client)
    st = rc["status"]
    assert st["state"] == "ready" and "ready" in st["stateTransitionTimes"]
    assert (st["readyWorkerReplicas"], st["availableWorkerReplicas"]) == (2, 2)
    head = next(p for p in _pods(client, "ray.io/node-type=head,ray.io/cluster=rc"))
    assert st["head"] == {
        "podName": head["metadata"]["name"],
        "podIP": head["status"]["podIP"],
        "serviceName": "rc-head-svc",
        "serviceIP": head["status"]["podIP"],  # a headless head Service: the head Pod's IP
    }
    assert condition(rc, "RayClusterProvisioned")["reason"] == "AllPodRunningAndReadyFirstTime"
    assert condition(rc, "HeadPodReady")["reason"] == "HeadPodRunningAndReady"
    assert condition(rc, "RayClusterSuspended")["status"] == "False"
    assert condition(rc, "RayClusterSuspending")["status"] == "False"
    reasons = [
        (e["reason"], e["reportingComponent"])
        for e in client.request("GET", "/api/v1/namespaces/default/events")["items"]
    ]
    assert reasons.count(("CreatedWorkerPod", "raycluster-controller")) == 2
    assert ("CreatedHeadPod", "raycluster-controller") in reasons and (
        "CreatedService",
        "raycluster-controller",
    ) in reasons


def test_scaling_replicas_and_workers_to_delete(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app, client = _setup(connect)
    advance(loop_thread, app, 2.0)
    spec = _rc(client)["spec"]
    spec["workerGroupSpecs"][0]["replicas"] = 4
    _patch(client, {"spec": {"workerGroupSpecs": spec["workerGroupSpecs"]}})
    workers = _pods(client, "ray.io/cluster=rc,ray.io/node-type=worker")
    assert len(workers) == 4
    assert sorted(p["metadata"]["labels"]["ray.io/worker-group-replica-index"] for p in workers) == [
        "0",
        "1",
        "2",
        "3",
    ]
    st = _rc(client)["status"]
    assert (st["desiredWorkerReplicas"], st["availableWorkerReplicas"], st["desiredCPU"]) == (4, 2, "3")
    victim = workers[1]["metadata"]["name"]
    spec["workerGroupSpecs"][0]["replicas"] = 3
    spec["workerGroupSpecs"][0]["scaleStrategy"] = {"workersToDelete": [victim]}
    _patch(client, {"spec": {"workerGroupSpecs": spec["workerGroupSpecs"]}})
    names = {p["metadata"]["name"] for p in _pods(client, "ray.io/cluster=rc,ray.io/node-type=worker")}
    assert len(names) == 3 and victim not in names
    spec["workerGroupSpecs"][0]["replicas"] = 1
    spec["workerGroupSpecs"][0]["scaleStrategy"] = {}
    _patch(client, {"spec": {"workerGroupSpecs": spec["workerGroupSpecs"]}})
    assert len(_pods(client, "ray.io/cluster=rc,ray.io/node-type=worker")) == 1
    notes = [
        e["message"]
        for e in client.request("GET", "/api/v1/namespaces/default/events")["items"]
        if e["reason"] == "DeletedWorkerPod"
    ]
    assert f"Deleted pod default/{victim}" in notes and len(notes) == 3


def test_suspend_and_resume(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app, client = _setup(connect)
    advance(loop_thread, app, 2.0)
    _patch(client, {"spec": {"suspend": True}})
    rc = _rc(client)
    assert condition(rc, "RayClusterSuspending")["status"] == "True"
    assert len(_pods(client)) == 3  # deletion waits for the operator's requeue (2 s)
    advance(loop_thread, app, 2.0)
    rc = _rc(client)
    assert _pods(client) == []
    assert rc["status"]["state"] == "suspended"
    assert condition(rc, "RayClusterSuspended")["status"] == "True"
    assert condition(rc, "RayClusterSuspending")["status"] == "False"
    assert condition(rc, "RayClusterProvisioned") | {"lastTransitionTime": ""} == {
        "type": "RayClusterProvisioned",
        "status": "False",
        "reason": "RayClusterPodsProvisioning",
        "message": "RayCluster has been suspended",
        "lastTransitionTime": "",
    }
    _patch(client, {"spec": {"suspend": False}})
    assert condition(_rc(client), "RayClusterSuspended")["status"] == "False"
    advance(loop_thread, app, 2.0)  # the requeue creates the Pods again ...
    assert len(_pods(client)) == 3
    advance(loop_thread, app, 2.0)  # ... which then start
    rc = _rc(client)
    assert rc["status"]["state"] == "ready" and condition(rc, "RayClusterProvisioned")["status"] == "True"


def test_deleting_the_cluster_deletes_its_pods_and_service(connect: Callable[[FakeKube], Client]) -> None:
    _, client = _setup(connect)
    assert len(_pods(client)) == 3
    client.request("DELETE", f"{RC_PATH}/rc")
    assert _pods(client) == []
    assert client.send("GET", f"{SVC_PATH}/rc-head-svc").status == 404


def test_a_pod_that_cannot_be_created_is_a_replica_failure(connect: Callable[[FakeKube], Client]) -> None:
    bad = {"spec": {"containers": [{"name": "ray-worker"}]}}  # no image: the Pod is invalid
    _, client = _setup(connect, template=bad)
    rc = _rc(client)
    failure = condition(rc, "ReplicaFailure")
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreateWorkerPod")
    assert failure["message"].startswith('FailedCreateWorkerPod\nPod "rc-wg-worker-')
    assert "spec.containers[0].image: Required value" in failure["message"]
    warnings = [
        e
        for e in client.request("GET", "/api/v1/namespaces/default/events")["items"]
        if e["type"] == "Warning"
    ]
    assert warnings and warnings[0]["reason"] == "FailedToCreateWorkerPod"


def test_watch_sees_the_status_transitions(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = manual_app(delay=2.0)
    client = connect(app)
    rv = client.request("GET", RC_PATH)["metadata"]["resourceVersion"]
    client.request("POST", RC_PATH, raycluster(replicas=1))
    advance(loop_thread, app, 2.0)
    w = client.send("GET", RC_PATH, query={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"})
    seen = [(e["type"], (e["object"].get("status") or {}).get("state", "")) for e in events(w.read())]
    assert seen[0] == ("ADDED", "") and seen[-1] == ("MODIFIED", "ready")
    provisioned = [
        (condition(e["object"], "RayClusterProvisioned") or {}).get("status") for e in events(w.read())
    ]
    assert "False" in provisioned and provisioned[-1] == "True"


def test_dashboard_and_logs_of_the_head(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app, client = _setup(connect, replicas=0)
    url = f"{SVC_PATH}/rc-head-svc:dashboard/proxy/api/version"
    assert client.send("GET", url).status == 503  # the head Pod is not running yet
    advance(loop_thread, app, 2.0)
    assert client.request("GET", url)["ray_version"] == "2.46.0"
    head = _pods(client)[0]
    log = client.send("GET", f"{PODS_PATH}/{head['metadata']['name']}/log").read().decode()
    assert f"Local node IP: {head['status']['podIP']}" in log and "Ray runtime started." in log


def test_deleting_the_namespace_takes_the_cluster_with_it(connect: Callable[[FakeKube], Client]) -> None:
    """The namespace controller empties the namespace (Pods, Service, RayCluster) and the operator
    does not bring anything back."""
    app = manual_app(delay=0.0)
    client = connect(app)
    client.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}},
    )
    client.request("POST", "/apis/ray.io/v1/namespaces/doomed/rayclusters", raycluster())
    assert len(client.request("GET", "/api/v1/namespaces/doomed/pods")["items"]) == 3
    assert client.send("DELETE", "/api/v1/namespaces/doomed").status == 200
    assert client.send("GET", "/api/v1/namespaces/doomed").status == 404
    assert client.request("GET", "/api/v1/pods")["items"] == []
    assert client.request("GET", "/api/v1/services")["items"] == [
        s
        for s in client.request("GET", "/api/v1/services")["items"]
        if s["metadata"]["namespace"] != "doomed"
    ]


def test_recreate_upgrade_strategy(connect: Callable[[FakeKube], Client]) -> None:
    """With ``upgradeStrategy.type: Recreate`` a spec change (not a replica change) replaces every
    Pod; the head Pod carries the spec hash and the KubeRay version annotations it is compared by."""
    _, client = _setup(connect, replicas=1)
    _patch(client, {"spec": {"upgradeStrategy": {"type": "Recreate"}}})
    before = {p["metadata"]["name"] for p in _pods(client)}
    head = _pods(client, "ray.io/cluster=rc,ray.io/node-type=head")[0]
    assert set(head["metadata"]["annotations"]) == {
        "ray.io/upgrade-strategy-recreate-hash",
        "ray.io/kuberay-version",
    }
    spec = _rc(client)["spec"]
    spec["workerGroupSpecs"][0]["replicas"] = 2
    _patch(client, {"spec": {"workerGroupSpecs": spec["workerGroupSpecs"]}})
    assert before < {p["metadata"]["name"] for p in _pods(client)}  # scaling keeps the Pods
    spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.47.0"
    _patch(client, {"spec": {"workerGroupSpecs": spec["workerGroupSpecs"]}})
    after = _pods(client)
    assert len(after) == 3 and not before & {p["metadata"]["name"] for p in after}
    images = {
        p["spec"]["containers"][0]["image"]
        for p in after
        if p["metadata"]["labels"]["ray.io/node-type"] == "worker"
    }
    assert images == {"rayproject/ray:2.47.0"}
    notes = [e["message"] for e in client.request("GET", "/api/v1/namespaces/default/events")["items"]]
    assert (
        "Deleted all Pods for RayCluster default/rc due to spec change with Recreate upgradeStrategy" in notes
    )
