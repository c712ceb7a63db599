"""The RayService operator's parts (``rayservice_controller.go``, KubeRay feeaf72): the world it
acts on, its in-memory caches, cluster hashing and construction, conditions. The reconcile
itself is :mod:`fakekube._controllers.kuberay.rayservice_machine`; what it does:

A new RayService gets the finalizer ``ray.io/rayservice-finalizer``, then a pending cluster
``<name>-<5 chars>`` (``pendingServiceStatus.rayClusterName``, annotations
``ray.io/hash-without-replicas-and-workers-to-delete``, ``ray.io/num-worker-groups``,
``ray.io/kuberay-version``). Once its ``HeadPodReady`` condition is true the ``serveConfigV2``
is deployed (Event ``UpdatedServeApplications``); when every application is ``RUNNING`` the
``<name>-head-svc`` and ``<name>-serve-svc`` Services point at it and it is promoted to
``activeServiceStatus``. A ``rayClusterConfig`` change (other than replicas, or worker groups
appended, which update the cluster in place) prepares a new pending cluster; the old one is
deleted ``rayClusterDeletionDelaySeconds`` (60) after it stopped being active or pending.
``status``: ``activeServiceStatus``/``pendingServiceStatus`` (``rayClusterName``,
``rayClusterStatus``, ``applicationStatuses`` with ``serveDeploymentStatuses``), conditions
``Ready`` (``Initializing``, ``NonZeroServeEndpoints``, ``ZeroServeEndpoints``) and
``UpgradeInProgress`` (``BothActivePendingClustersExist``, ``NoPendingCluster``),
``serviceStatus`` (``Running`` iff Ready), ``numServeEndpoints``, ``observedGeneration``,
``lastUpdateTime``.

Not simulated: ``NewClusterWithIncrementalUpgrade`` (Gateway API), ``suspend``, the initializing
timeout annotation, rollback; ``upgradeStrategy.type: None`` only updates in place.
The hash annotation is a sha1 of this module's canonical JSON, not Go's byte-identical value.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Protocol

from fakekube._controllers.kuberay.rayjob_machine import rfc3339
from fakekube._controllers.kuberay.rayjob_rules import DNS1035_MESSAGE, is_dns1035
from fakekube._controllers.kuberay.serve_model import ServeModel
from kubeapi.types import JSON

FINALIZER = "ray.io/rayservice-finalizer"
#: ``ServiceDefaultRequeueDuration`` and ``RayClusterDeletionDelayDuration``.
DEFAULT_REQUEUE, DELETION_DELAY = 2.0, 60.0
HASH_KEY = "ray.io/hash-without-replicas-and-workers-to-delete"
NUM_GROUPS_KEY = "ray.io/num-worker-groups"
VERSION_KEY = "ray.io/kuberay-version"
KUBERAY_VERSION = "v1.6.0"


class RayServiceWorld(Protocol):
    """Reads and writes the RayService machine needs (the fakekube controller: the store)."""

    def get_cluster(self, namespace: str, name: str) -> JSON | None:
        """A RayCluster, or None."""

    def owned_clusters(self, namespace: str, rayservice: str) -> list[JSON]:
        """The RayClusters labelled as originated from this RayService."""

    def create_cluster(self, obj: JSON) -> None:
        """Create a RayCluster."""

    def update_cluster(self, obj: JSON) -> None:
        """Update a RayCluster."""

    def delete_cluster(self, obj: JSON) -> None:
        """Delete a RayCluster (background)."""

    def get_service(self, namespace: str, name: str) -> JSON | None:
        """A Service, or None."""

    def put_service(self, obj: JSON) -> None:
        """Create the Service, or update its spec."""

    def serve(self, namespace: str, cluster: str) -> ServeModel:
        """The Serve controller of a cluster."""

    def head_pod(self, namespace: str, cluster: str) -> JSON | None:
        """The cluster's head Pod, or None."""

    def set_pod_label(self, pod: JSON, key: str, value: str) -> None:
        """Set one label of a Pod (an update)."""

    def serve_endpoints(self, namespace: str, service: str) -> int:
        """Ready endpoints of a Service (``calculateNumServeEndpointsFromSlices``)."""

    def event(self, obj: JSON, type_: str, reason: str, action: str, message: str) -> None:
        """Record an Event about the RayService."""

    def set_finalizers(self, obj: JSON, finalizers: list[str]) -> None:
        """Replace ``metadata.finalizers``."""


@dataclass
class Memory:
    """What the operator keeps in memory per RayService: the dangling clusters' deletion times
    (``RayClusterDeletionTimestamps``) and the Serve configs sent per cluster (``ServeConfigs``)."""

    deletions: dict[str, dt.datetime] = field(default_factory=dict)
    serve_configs: dict[str, str] = field(default_factory=dict)


def spec_hash(spec: JSON) -> str:
    """``GenerateHashWithoutReplicasAndWorkersToDelete`` of a ``rayClusterConfig`` (muted: replicas,
    min/maxReplicas, workersToDelete, tolerations, schedulingGates, upgradeStrategy, suspend)."""
    s = copy.deepcopy(spec)
    s.pop("suspend", None)
    s.pop("upgradeStrategy", None)
    for tmpl in [((s.get("headGroupSpec") or {}).get("template") or {})] + [
        wg.get("template") or {} for wg in s.get("workerGroupSpecs") or []
    ]:
        (tmpl.get("spec") or {}).pop("tolerations", None)
        (tmpl.get("spec") or {}).pop("schedulingGates", None)
    for wg in s.get("workerGroupSpecs") or []:
        for k in ("replicas", "minReplicas", "maxReplicas"):
            wg.pop(k, None)
        (wg.get("scaleStrategy") or {}).pop("workersToDelete", None)
    digest = hashlib.sha1(json.dumps(s, sort_keys=True).encode(), usedforsecurity=False).digest()
    return base64.b32hexencode(digest).decode()


def hash_equal(rs: JSON, cluster: JSON, partial: bool) -> bool:
    """``isClusterSpecHashEqual``."""
    goal = copy.deepcopy(rs["spec"].get("rayClusterConfig") or {})
    ann = cluster["metadata"].get("annotations") or {}
    if partial:
        try:
            n = int(ann.get(NUM_GROUPS_KEY, ""))
        except ValueError:
            return True
        groups = goal.get("workerGroupSpecs") or []
        if len(groups) < n:
            return ann.get(HASH_KEY) == ""
        goal["workerGroupSpecs"] = groups[:n]
    return ann.get(HASH_KEY) == spec_hash(goal)


def should_update_cluster(rs: JSON, status: JSON, cluster: JSON, is_active: bool) -> bool:
    """``shouldUpdateCluster``: update ``cluster`` in place (not the active one during an upgrade)
    when its spec differs only by appended worker groups (and replicas)."""
    if is_active and condition_true(status, "UpgradeInProgress"):
        return False
    if hash_equal(rs, cluster, False):
        return False
    return hash_equal(rs, cluster, True)


def upgrade_enabled(rs: JSON) -> bool:
    """``isZeroDowntimeUpgradeEnabled`` (``ENABLE_ZERO_DOWNTIME`` unset: true)."""
    kind = ((rs["spec"].get("upgradeStrategy") or {}).get("type")) or "NewCluster"
    return kind in ("NewCluster", "NewClusterWithIncrementalUpgrade")


def condition_true(status: JSON, type_: str) -> bool:
    """Whether condition ``type_`` is ``True``."""
    return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])


def set_condition(status: JSON, type_: str, value: str, reason: str, message: str, now: dt.datetime) -> None:
    """``meta.SetStatusCondition``: ``lastTransitionTime`` moves only when ``status`` changes."""
    conds: list[JSON] = status.setdefault("conditions", [])
    new = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "observedGeneration": status.get("observedGeneration", 0),
    }
    for c in conds:
        if c["type"] == type_:
            t = c.get("lastTransitionTime") if c.get("status") == value else rfc3339(now)
            c.clear()
            c.update(new, lastTransitionTime=t)
            return
    conds.append({**new, "lastTransitionTime": rfc3339(now)})


#: ``MaxRayServiceNameLength``.
MAX_NAME = 47
_UPGRADE_TYPES = ("NewClusterWithIncrementalUpgrade", "NewCluster", "None")


def validate(rs: JSON) -> tuple[str, str] | None:
    """``validateRayService``: (event reason, message) of the first failed check of
    ``ValidateRayServiceMetadata`` and ``ValidateRayServiceSpec`` that needs no RayCluster
    validation, or None."""
    name = rs["metadata"]["name"]
    if len(name) > MAX_NAME:
        return "InvalidRayServiceMetadata", (
            "The RayService metadata is invalid: "
            f"RayService name should be no more than {MAX_NAME} characters"
        )
    if not is_dns1035(name):
        return "InvalidRayServiceMetadata", (
            "The RayService metadata is invalid: RayService name should be a valid DNS1035 label: "
            + DNS1035_MESSAGE
        )
    spec = rs.get("spec") or {}
    invalid = "The RayService spec is invalid: "
    head_svc = ((spec.get("rayClusterConfig") or {}).get("headGroupSpec") or {}).get("headService") or {}
    if (head_svc.get("metadata") or {}).get("name"):
        return "InvalidRayServiceSpec", (
            invalid + "spec.rayClusterConfig.headGroupSpec.headService.metadata.name should not be set"
        )
    kind = (spec.get("upgradeStrategy") or {}).get("type")
    if kind is not None and kind not in _UPGRADE_TYPES:
        return "InvalidRayServiceSpec", (
            invalid + f"Spec.UpgradeStrategy.Type value {kind} is invalid, valid options are "
            "NewClusterWithIncrementalUpgrade, NewCluster, or None"
        )
    delay = spec.get("rayClusterDeletionDelaySeconds")
    if delay is not None and delay < 0:
        return "InvalidRayServiceSpec", (
            invalid + f"Spec.RayClusterDeletionDelaySeconds should be a non-negative integer, got {delay}"
        )
    return None


def owner_reference(rs: JSON) -> JSON:
    """``ctrl.SetControllerReference(rayService, ...)``."""
    return {
        "apiVersion": rs.get("apiVersion", "ray.io/v1"),
        "kind": "RayService",
        "name": rs["metadata"]["name"],
        "uid": rs["metadata"].get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def construct_cluster(rs: JSON, name: str) -> JSON:
    """``constructRayClusterForRayService``."""
    meta = rs["metadata"]
    labels = {
        **(meta.get("labels") or {}),
        "ray.io/originated-from-cr-name": meta["name"],
        "ray.io/originated-from-crd": "RayService",
    }
    config = rs["spec"].get("rayClusterConfig") or {}
    annotations = {
        **(meta.get("annotations") or {}),
        HASH_KEY: spec_hash(config),
        NUM_GROUPS_KEY: str(len(config.get("workerGroupSpecs") or [])),
        VERSION_KEY: KUBERAY_VERSION,
    }
    owner = owner_reference(rs)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": copy.deepcopy(config),
    }


@dataclass
class Outcome:
    """``status`` to write (None: unchanged) and when to reconcile again (None: on a change)."""

    status: JSON | None
    requeue_after: float | None


def head_ports(cluster: JSON) -> dict[str, int]:
    """``getServicePorts``: the head container's named ports, else the defaults, plus metrics."""
    containers = (((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {}).get(
        "spec", {}
    ).get("containers") or [{}]
    ports = {
        (p.get("name") or f"{p.get('containerPort')}-port"): int(p["containerPort"])
        for p in containers[0].get("ports") or []
        if "containerPort" in p
    }
    if not ports:
        ports = {"client": 10001, "gcs-server": 6379, "dashboard": 8265, "metrics": 8080, "serve": 8000}
    ports.setdefault("metrics", 8080)
    return ports


def rayservice_services(rs: JSON, cluster: JSON) -> list[JSON]:
    """``BuildHeadServiceForRayService`` and ``BuildServeServiceForRayService`` for ``cluster``:
    ``<name>-head-svc`` (the head ports, selecting the cluster's head Pod) and ``<name>-serve-svc``
    (the ``serve``/``serve-*`` ports, selecting ``ray.io/serve: "true"`` Pods of the cluster)."""
    name, ns = rs["metadata"]["name"], rs["metadata"]["namespace"]
    cname = cluster["metadata"]["name"]
    ports = head_ports(cluster)
    origin = {"ray.io/originated-from-cr-name": name, "ray.io/originated-from-crd": "RayService"}
    head_selector = {  # HeadServiceLabels of the cluster
        "ray.io/cluster": cname,
        "ray.io/node-type": "head",
        "ray.io/identifier": f"{cname}-head",
        "app.kubernetes.io/created-by": "kuberay-operator",
        "app.kubernetes.io/name": "kuberay",
    }
    specs = [
        (
            f"{name}-head-svc",
            {**origin, "ray.io/node-type": "head", "ray.io/identifier": f"{name}-head"},
            {
                "selector": head_selector,
                "ports": [{"name": n, "port": p, "appProtocol": "tcp"} for n, p in sorted(ports.items())],
            },
        ),
        (
            f"{name}-serve-svc",
            {**origin, "ray.io/serve": f"{name}-serve"},
            {
                "selector": {"ray.io/cluster": cname, "ray.io/serve": "true"},
                "ports": [
                    {"name": n, "port": p}
                    for n, p in sorted(ports.items())
                    if n == "serve" or n.startswith("serve-")
                ],
            },
        ),
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": n,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [owner_reference(rs)],
            },
            "spec": spec,
        }
        for n, labels, spec in specs
    ]


def update_head_serve_label(rs: JSON, world: RayServiceWorld, cluster: JSON) -> None:
    """``updateHeadPodServeLabel``: the head Pod's ``ray.io/serve`` is ``"true"`` while its
    Serve proxy is healthy (here: Serve applications were deployed to the cluster), unless
    ``excludeHeadPodFromServeSvc``; Event ``UpdatedHeadPodServeLabel`` on a change."""
    ns, name = cluster["metadata"]["namespace"], cluster["metadata"]["name"]
    pod = world.head_pod(ns, name)
    if pod is None:
        return
    healthy = bool(world.serve(ns, name).apps)
    new = "false" if rs["spec"].get("excludeHeadPodFromServeSvc") else str(healthy).lower()
    if (pod["metadata"].get("labels") or {}).get("ray.io/serve") == new:
        return
    world.set_pod_label(pod, "ray.io/serve", new)
    world.event(
        rs,
        "Normal",
        "UpdatedHeadPodServeLabel",
        "Update",
        f'Updated the serve label to "{new}" for the Head Pod {ns}/{pod["metadata"]["name"]}',
    )
