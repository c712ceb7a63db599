"""A dict-backed :class:`fakekube._controllers.kuberay.rayjob_machine.RayJobWorld` for the
state-machine tests."""

from __future__ import annotations

import copy
import random
from typing import Any

from fakekube._controllers.kuberay.rayjobs_model import JobManager, Timings
from kubeapi.types import JSON


class FakeWorld:
    """RayClusters, Services and submitter Jobs in dicts, one JobManager per cluster, Events in a list."""

    def __init__(self, timings: Timings | None = None) -> None:
        self.clusters: dict[str, JSON] = {}
        self.services: dict[str, JSON] = {}
        self.submitters: dict[str, JSON] = {}
        self.managers: dict[str, JobManager] = {}
        self.events: list[tuple[str, str, str]] = []
        self.finalizers: list[str] | None = None
        self.deleted_self = False
        self.timings = timings or Timings(job_start_delay=1.0, job_duration=2.0)

    def make_ready(self, name: str, ns: str = "default") -> None:
        """What the RayCluster controller does: status ready and a head Service with a dashboard port."""
        self.clusters[name].setdefault("status", {})["state"] = "ready"
        self.services[f"{name}-head-svc"] = {
            "metadata": {"name": f"{name}-head-svc", "namespace": ns},
            "spec": {"ports": [{"name": "dashboard", "port": 8265}], "selector": {"ray.io/cluster": name}},
        }

    def get_cluster(self, namespace: str, name: str) -> JSON | None:
        return self.clusters.get(name)

    def create_cluster(self, obj: JSON) -> None:
        self.clusters[obj["metadata"]["name"]] = copy.deepcopy(obj)

    def delete_cluster(self, obj: JSON) -> None:
        self.clusters.pop(obj["metadata"]["name"], None)
        self.managers.pop(obj["metadata"]["name"], None)

    def update_cluster(self, obj: JSON) -> None:
        self.clusters[obj["metadata"]["name"]] = obj

    def get_service(self, namespace: str, name: str) -> JSON | None:
        return self.services.get(name)

    def create_service(self, obj: JSON) -> None:
        self.services[obj["metadata"]["name"]] = obj

    def get_submitter(self, namespace: str, name: str) -> JSON | None:
        return self.submitters.get(name)

    def create_submitter(self, obj: JSON) -> None:
        self.submitters[obj["metadata"]["name"]] = obj

    def delete_submitter(self, obj: JSON) -> None:
        self.submitters.pop(obj["metadata"]["name"], None)

    def dashboard(self, namespace: str, cluster: str) -> JobManager | None:
        c = self.clusters.get(cluster)
        if c is None or (c.get("status") or {}).get("state") != "ready":
            return None
        return self.managers.setdefault(cluster, JobManager(self.timings, random.Random(1)))

    def event(self, rayjob: JSON, type_: str, reason: str, action: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def set_finalizers(self, rayjob: JSON, finalizers: list[str]) -> None:
        rayjob["metadata"]["finalizers"] = finalizers
        self.finalizers = finalizers

    def delete_rayjob(self, rayjob: JSON) -> None:
        self.deleted_self = True

    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.events]


def rayjob(name: str = "demo", **spec: Any) -> JSON:
    """A RayJob with a one-group cluster spec unless ``spec`` says otherwise."""
    body: JSON = {
        "entrypoint": "python -c 'print(1)'",
        "rayClusterSpec": {
            "headGroupSpec": {
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.50.0"}]}}
            },
            "workerGroupSpecs": [{"groupName": "small", "replicas": 1}],
        },
    }
    body.update(spec)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "namespace": "default", "uid": "u-1", "annotations": {}},
        "spec": body,
    }
