"""The RayService state machine (fakekube._controllers.kuberay.rayservice_machine): creation to Ready,
blue/green upgrade on a rayClusterConfig change, in-place update on a replicas change, deletion,
against rayservice_controller.go (feeaf72)."""

from __future__ import annotations

import copy
import datetime as dt
import random

from fakekube._controllers.kuberay.rayservice_machine import reconcile
from fakekube._controllers.kuberay.rayservice_rules import FINALIZER, Memory
from fakekube._controllers.kuberay.serve_model import SERVE_OUTCOME_KEY, ServeModel
from kubeapi.types import JSON

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SERVE = """
applications:
  - name: fruit_app
    import_path: fruit.deployment_graph
    route_prefix: /fruit
    deployments:
      - name: MangoStand
      - name: FruitMarket
  - name: math_app
    import_path: conditional_dag.serve_dag
"""


class World:
    """Clusters (made ready by the test, as the RayCluster controller would), Services, Serve models."""

    def __init__(self) -> None:
        self.clusters: dict[str, JSON] = {}
        self.services: dict[str, JSON] = {}
        self.models: dict[str, ServeModel] = {}
        self.events: list[str] = []
        self.updates: list[str] = []
        self.pods: dict[str, JSON] = {}

    def get_cluster(self, namespace: str, name: str) -> JSON | None:
        return self.clusters.get(name)

    def owned_clusters(self, namespace: str, rayservice: str) -> list[JSON]:
        return [
            c
            for c in self.clusters.values()
            if c["metadata"]["labels"]["ray.io/originated-from-cr-name"] == rayservice
        ]

    def create_cluster(self, obj: JSON) -> None:
        self.clusters[obj["metadata"]["name"]] = copy.deepcopy(obj)

    def update_cluster(self, obj: JSON) -> None:
        self.clusters[obj["metadata"]["name"]] = obj
        self.updates.append(obj["metadata"]["name"])

    def delete_cluster(self, obj: JSON) -> None:
        self.clusters.pop(obj["metadata"]["name"])

    def get_service(self, namespace: str, name: str) -> JSON | None:
        return self.services.get(name)

    def put_service(self, obj: JSON) -> None:
        self.services[obj["metadata"]["name"]] = obj

    def serve(self, namespace: str, cluster: str) -> ServeModel:
        return self.models.setdefault(cluster, ServeModel(deploy_delay=1.0))

    def head_pod(self, namespace: str, cluster: str) -> JSON | None:
        if cluster not in self.clusters:
            return None
        return self.pods.setdefault(
            cluster, {"metadata": {"name": f"{cluster}-head-x", "labels": {"ray.io/serve": "false"}}}
        )

    def set_pod_label(self, pod: JSON, key: str, value: str) -> None:
        pod["metadata"]["labels"][key] = value

    def serve_endpoints(self, namespace: str, service: str) -> int:
        svc = self.services.get(service)
        if svc is None or svc["spec"]["selector"]["ray.io/cluster"] not in self.clusters:
            return 0
        head = self.pods.get(svc["spec"]["selector"]["ray.io/cluster"])
        return 1 + (head is not None and head["metadata"]["labels"]["ray.io/serve"] == "true")

    def event(self, obj: JSON, type_: str, reason: str, action: str, message: str) -> None:
        self.events.append(reason)

    def set_finalizers(self, obj: JSON, finalizers: list[str]) -> None:
        obj["metadata"]["finalizers"] = finalizers


def rayservice() -> JSON:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "rs", "namespace": "default", "uid": "s-1", "generation": 1},
        "spec": {
            "serveConfigV2": SERVE,
            "rayClusterConfig": {
                "headGroupSpec": {
                    "template": {
                        "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.50.0"}]}
                    }
                },
                "workerGroupSpecs": [{"groupName": "small", "replicas": 1}],
            },
        },
    }


def drive(rs: JSON, world: World, memory: Memory, start: dt.datetime, seconds: float) -> dt.datetime:
    now, end, rng = start, start + dt.timedelta(seconds=seconds), random.Random(5)
    while now <= end:
        for c in world.clusters.values():
            c["status"] = {"state": "ready", "conditions": [{"type": "HeadPodReady", "status": "True"}]}
        out = reconcile(rs, world, memory, now, rng)
        if out.status is not None:
            rs["status"] = out.status
        wait = 0.5 if out.requeue_after is None else out.requeue_after
        now = min(now + dt.timedelta(seconds=max(wait, 0.01)), end + dt.timedelta(milliseconds=1))
    return now


def test_creation_to_ready() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    rs0 = reconcile(rs, world, memory, T0, random.Random(1))
    assert rs0.status is None and rs["metadata"]["finalizers"] == [FINALIZER]
    drive(rs, world, memory, T0, 0.3)
    assert rs["status"]["pendingServiceStatus"]["rayClusterName"].startswith("rs-")
    assert {c["type"]: c["reason"] for c in rs["status"]["conditions"]} == {
        "Ready": "Initializing",
        "UpgradeInProgress": "Initializing",
    }
    drive(rs, world, memory, T0, 5)
    s = rs["status"]
    active = s["activeServiceStatus"]
    assert s["pendingServiceStatus"] == {} and s["serviceStatus"] == "Running" and s["numServeEndpoints"] == 2
    apps = active["applicationStatuses"]
    assert apps["fruit_app"]["status"] == "RUNNING"
    assert apps["fruit_app"]["serveDeploymentStatuses"] == {
        "MangoStand": {"status": "HEALTHY"},
        "FruitMarket": {"status": "HEALTHY"},
    }
    assert apps["math_app"]["serveDeploymentStatuses"] == {"serve_dag": {"status": "HEALTHY"}}
    conds = {c["type"]: (c["status"], c["reason"]) for c in s["conditions"]}
    assert conds == {
        "Ready": ("True", "NonZeroServeEndpoints"),
        "UpgradeInProgress": ("False", "NoPendingCluster"),
    }
    assert world.services["rs-serve-svc"]["spec"]["selector"] == {
        "ray.io/cluster": active["rayClusterName"],
        "ray.io/serve": "true",
    }
    assert world.services["rs-serve-svc"]["spec"]["ports"] == [{"name": "serve", "port": 8000}]
    assert world.services["rs-head-svc"]["spec"]["selector"]["ray.io/cluster"] == active["rayClusterName"]
    cluster = world.clusters[active["rayClusterName"]]
    assert cluster["metadata"]["annotations"]["ray.io/num-worker-groups"] == "1"
    assert "ray.io/hash-without-replicas-and-workers-to-delete" in cluster["metadata"]["annotations"]
    assert {
        "CreatedRayCluster",
        "UpdatedServeApplications",
        "CreatedService",
        "UpdatedHeadPodServeLabel",
    } <= set(world.events)
    assert world.pods[active["rayClusterName"]]["metadata"]["labels"]["ray.io/serve"] == "true"


def test_upgrade_prepares_pending_cluster_then_switches_and_deletes_old() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    t = drive(rs, world, memory, T0, 5)
    old = rs["status"]["activeServiceStatus"]["rayClusterName"]
    rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = (
        "rayproject/ray:2.51.0"
    )
    rs["metadata"]["generation"] = 2
    seen_upgrade = False
    rng = random.Random(9)
    for _ in range(40):
        for c in world.clusters.values():
            c["status"] = {"state": "ready", "conditions": [{"type": "HeadPodReady", "status": "True"}]}
        out = reconcile(rs, world, memory, t, rng)
        if out.status is not None:
            rs["status"] = out.status
        conds = {c["type"]: c for c in rs["status"]["conditions"]}
        if conds["UpgradeInProgress"]["status"] == "True":
            seen_upgrade = True
            assert conds["UpgradeInProgress"]["reason"] == "BothActivePendingClustersExist"
            assert rs["status"]["activeServiceStatus"]["rayClusterName"] == old
        t += dt.timedelta(seconds=0.5)
    new = rs["status"]["activeServiceStatus"]["rayClusterName"]
    assert seen_upgrade and new != old and rs["status"]["pendingServiceStatus"] == {}
    assert world.services["rs-serve-svc"]["spec"]["selector"]["ray.io/cluster"] == new
    assert old in world.clusters  # kept for rayClusterDeletionDelaySeconds (60 s)
    drive(rs, world, memory, t, 61)
    assert old not in world.clusters and "DeletedRayCluster" in world.events
    assert rs["status"]["observedGeneration"] == 2


def test_replicas_change_updates_in_place() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    t = drive(rs, world, memory, T0, 5)
    name = rs["status"]["activeServiceStatus"]["rayClusterName"]
    rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = 3
    rs["spec"]["rayClusterConfig"]["workerGroupSpecs"].append({"groupName": "big", "replicas": 1})
    drive(rs, world, memory, t, 3)
    assert rs["status"]["activeServiceStatus"]["rayClusterName"] == name and world.updates == [name]
    assert len(world.clusters[name]["spec"]["workerGroupSpecs"]) == 2


def test_scripted_serve_failure_never_ready() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    rs["metadata"]["annotations"] = {SERVE_OUTCOME_KEY: "math_app"}
    drive(rs, world, memory, T0, 6)
    pend = rs["status"]["pendingServiceStatus"]
    assert pend["applicationStatuses"]["math_app"]["status"] == "DEPLOY_FAILED"
    assert "serviceStatus" not in rs["status"] and "rayClusterName" not in rs["status"]["activeServiceStatus"]


def test_deletion_deletes_clusters_then_finalizer() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    t = drive(rs, world, memory, T0, 5)
    rs["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:05Z"
    reconcile(rs, world, memory, t, random.Random(1))
    assert world.clusters == {} and FINALIZER in rs["metadata"]["finalizers"]
    reconcile(rs, world, memory, t, random.Random(1))
    assert FINALIZER not in rs["metadata"]["finalizers"]


def test_validation_failed() -> None:
    rs, world, memory = rayservice(), World(), Memory()
    rs["spec"]["rayClusterDeletionDelaySeconds"] = -1
    drive(rs, world, memory, T0, 1)
    cond = {c["type"]: c for c in rs["status"]["conditions"]}["Ready"]
    assert (cond["status"], cond["reason"]) == ("False", "ValidationFailed")
    assert "RayClusterDeletionDelaySeconds should be a non-negative integer, got -1" in cond["message"]
    assert world.clusters == {} and "InvalidRayServiceSpec" in world.events
