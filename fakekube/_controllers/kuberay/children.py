"""What the simulated RayCluster controller creates and deletes for a RayCluster: the head
Service (``reconcileHeadService``) and the Pods (``reconcilePods``), with the operator's Events
(``raycluster_controller.go``; see :mod:`.raycluster` for the whole reconcile). A failed step
raises :class:`ReconcileError`, which becomes the ``ReplicaFailure`` condition when it carries a
reason (``utils.RayClusterReplicaFailureReason``).
"""

from __future__ import annotations

from typing import Protocol

from fakekube._controllers import ControllerContext
from fakekube._controllers.kuberay import clusterstatus, naming, pods
from fakekube._resources import PODS, SERVICES, ResourceType
from fakekube._storage.store import Stored, object_key
from kubeapi.status import StatusError
from kubeapi.types import JSON


class Parent(Protocol):
    """What :class:`Children` uses of its controller (:class:`.raycluster.RayClusterController`)."""

    ctx: ControllerContext

    def event(self, cluster: JSON, type_: str, reason: str, action: str, note: str) -> None:
        """Record an Event about ``cluster``."""

    def create(self, rt: ResourceType, cluster: JSON, obj: JSON) -> Stored:
        """Create ``obj`` in the cluster's namespace."""

    def delete_pod(self, pod: Stored) -> None:
        """Delete ``pod``."""

    def pods_of(self, cluster: JSON, **labels: str) -> list[Stored]:
        """The cluster's Pods with ``labels``."""

    def head_service(self, cluster: JSON) -> Stored | None:
        """The cluster's head Service."""


class ReconcileError(Exception):
    """A reconcile step failed: ``reason`` is the ``ReplicaFailure`` reason ("" for others)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Children:
    """The head Service and Pods of the RayClusters of controller ``rc``."""

    def __init__(self, rc: Parent) -> None:
        self.rc = rc

    def head_service(self, cluster: JSON) -> None:
        """``reconcileHeadService``: create the head Service when missing."""
        if self.rc.head_service(cluster) is not None:
            return
        svc = pods.head_service(cluster)
        ns = cluster["metadata"]["namespace"]
        try:
            self.rc.create(SERVICES, cluster, svc)
        except StatusError as e:
            self.rc.event(
                cluster,
                "Warning",
                "FailedToCreateService",
                "Create",
                f"Failed creating service {ns}/{svc['metadata']['name']}, {e.message}",
            )
            raise ReconcileError("", e.message) from None
        self.rc.event(
            cluster, "Normal", "CreatedService", "Create", f"Created service {ns}/{svc['metadata']['name']}"
        )

    def pods(self, cluster: JSON) -> None:
        """``reconcilePods``: suspension, the head Pod, then each worker group."""
        meta, spec = cluster["metadata"], cluster["spec"]
        ns, name = meta["namespace"], meta["name"]
        conds = (cluster.get("status") or {}).get("conditions") or []
        suspend = clusterstatus.suspend_status(conds)
        if suspend == clusterstatus.SUSPENDING:
            for p in self.rc.pods_of(cluster):
                self.rc.delete_pod(p)
            self.rc.event(
                cluster,
                "Normal",
                "DeletedPod",
                "Delete",
                f"Deleted Pods for RayCluster {ns}/{name} due to suspension",
            )
            return
        if suspend == clusterstatus.SUSPENDED or spec.get("suspend") is True:
            return
        if self._recreate_for_upgrade(cluster):
            for p in self.rc.pods_of(cluster):
                self.rc.delete_pod(p)
            self.rc.event(
                cluster,
                "Normal",
                "DeletedPod",
                "Delete",
                f"Deleted all Pods for RayCluster {ns}/{name} due to spec change with Recreate "
                "upgradeStrategy",
            )
            return
        heads = self.rc.pods_of(cluster, **{naming.NODE_TYPE_LABEL: "head"})
        if len(heads) == 1 and (heads[0].obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            head = heads[0]
            self.rc.delete_pod(head)
            phase = head.obj["status"]["phase"]
            self.rc.event(
                cluster,
                "Normal",
                "DeletedHeadPod",
                "Delete",
                f"Deleted head Pod {ns}/{head.obj['metadata']['name']}; Pod status: {phase}; "
                f"Pod restart policy: {head.obj['spec'].get('restartPolicy', '')}; "
                "Ray container terminated status: nil",
            )
            raise ReconcileError(
                "",
                f"The head Pod {head.obj['metadata']['name']} status is {phase} which is a terminal state.",
            )
        if not heads:
            if (
                clusterstatus.is_true(conds, clusterstatus.PROVISIONED)
                and (meta.get("annotations") or {}).get("ray.io/disable-provisioned-head-restart") == "true"
            ):
                return
            try:
                made = self.rc.create(PODS, cluster, pods.head_pod(cluster))
            except StatusError as e:
                self.rc.event(
                    cluster,
                    "Warning",
                    "FailedToCreateHeadPod",
                    "Create",
                    f"Failed to create head Pod {ns}/, {e.message}",
                )
                raise ReconcileError("FailedCreateHeadPod", f"FailedCreateHeadPod\n{e.message}") from None
            self.rc.event(
                cluster,
                "Normal",
                "CreatedHeadPod",
                "Create",
                f"Created head Pod {ns}/{made.obj['metadata']['name']}",
            )
        elif len(heads) > 1:
            names = [h.obj["metadata"]["name"] for h in heads]
            raise ReconcileError(
                "", f"{len(heads)} head pods found [{' '.join(names)}]. Please delete extra head pods"
            )
        autoscaling = spec.get("enableInTreeAutoscaling") is True
        for group in spec.get("workerGroupSpecs") or []:
            self._group(cluster, group, autoscaling)

    def _recreate_for_upgrade(self, cluster: JSON) -> bool:
        """``shouldRecreatePodsForUpgrade``: with ``upgradeStrategy.type: Recreate``, whether the
        head Pod was made from another spec (its hash annotation differs)."""
        if ((cluster["spec"].get("upgradeStrategy") or {}).get("type")) != "Recreate":
            return False
        heads = self.rc.pods_of(cluster, **{naming.NODE_TYPE_LABEL: "head"})
        if not heads:
            return False
        annotations = heads[0].obj["metadata"].get("annotations") or {}
        version = annotations.get(naming.KUBERAY_VERSION_ANNOTATION, "")
        if version and version != pods.KUBERAY_VERSION:
            return False
        actual = annotations.get(naming.RECREATE_HASH_ANNOTATION, "")
        return bool(actual) and actual != pods.cluster_hash(cluster["spec"])

    def _group(self, cluster: JSON, group: JSON, autoscaling: bool) -> None:
        ns, name = cluster["metadata"]["namespace"], cluster["metadata"]["name"]
        gname = str(group.get("groupName", ""))
        members = self.rc.pods_of(cluster, **{naming.GROUP_LABEL: gname})
        if group.get("suspend") is True:
            for p in members:
                self.rc.delete_pod(p)
            self.rc.event(
                cluster,
                "Normal",
                "DeletedWorkerPod",
                "Delete",
                f"Deleted all pods for suspended worker group {gname} in RayCluster {ns}/{name}",
            )
            return
        unhealthy = [
            p for p in members if (p.obj.get("status") or {}).get("phase") in ("Failed", "Succeeded")
        ]
        for p in unhealthy:
            self.rc.delete_pod(p)
            self.rc.event(
                cluster,
                "Normal",
                "DeletedWorkerPod",
                "Delete",
                f"Deleted worker Pod {ns}/{p.obj['metadata']['name']}; "
                f"Pod status: {p.obj['status']['phase']}; "
                f"Pod restart policy: {p.obj['spec'].get('restartPolicy', '')}; "
                "Ray container terminated status: nil",
            )
        if unhealthy:
            raise ReconcileError("", f"delete {len(unhealthy)} unhealthy worker Pods")
        deleted: set[str] = set()
        for pod_name in (group.get("scaleStrategy") or {}).get("workersToDelete") or []:
            s = self.rc.ctx.storage.get(PODS.storage_key, object_key(ns, str(pod_name)))
            if s is None:
                continue
            self.rc.delete_pod(s)
            deleted.add(str(pod_name))
            self.rc.event(cluster, "Normal", "DeletedWorkerPod", "Delete", f"Deleted pod {ns}/{pod_name}")
        running = [p for p in members if p.obj["metadata"]["name"] not in deleted]
        diff = clusterstatus.group_desired(group) - len(running)
        if diff > 0:
            used = {
                p.obj["metadata"].get("labels", {}).get("ray.io/worker-group-replica-index") for p in running
            }
            index = 0
            for _ in range(diff):
                while str(index) in used:
                    index += 1
                used.add(str(index))
                try:
                    made = self.rc.create(PODS, cluster, pods.worker_pod(cluster, group, index))
                except StatusError as e:
                    self.rc.event(
                        cluster,
                        "Warning",
                        "FailedToCreateWorkerPod",
                        "Create",
                        f"Failed to create worker Pod for the cluster {ns}/{name}, {e.message}",
                    )
                    raise ReconcileError(
                        "FailedCreateWorkerPod", f"FailedCreateWorkerPod\n{e.message}"
                    ) from None
                self.rc.event(
                    cluster,
                    "Normal",
                    "CreatedWorkerPod",
                    "Create",
                    f"Created worker Pod {ns}/{made.obj['metadata']['name']}",
                )
        elif diff < 0 and not autoscaling:
            for p in running[:-diff]:
                self.rc.delete_pod(p)
                self.rc.event(
                    cluster,
                    "Normal",
                    "DeletedWorkerPod",
                    "Delete",
                    f"Deleted Pod {ns}/{p.obj['metadata']['name']}",
                )
