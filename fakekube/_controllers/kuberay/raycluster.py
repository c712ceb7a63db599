"""The simulated KubeRay RayCluster controller (``ray-operator/controllers/ray/raycluster_controller.go``).

A reconcile of one RayCluster (``rayClusterReconcile``) does, in order:

1. nothing for a RayCluster being deleted (its Pods and Service go with it: owner references and
   the garbage collector);
2. ``reconcileHeadService``: create the head Service (:func:`.pods.head_service`) when no
   Service carries its head labels; Event ``CreatedService``;
3. ``reconcilePods``: while ``RayClusterSuspending`` delete every Pod (Event ``DeletedPod``);
   when suspended or about to be, nothing; otherwise one head Pod (Event ``CreatedHeadPod``; a
   terminated one is deleted, ``DeletedHeadPod``), and per worker group: a suspended group's Pods
   deleted, terminated workers deleted, ``scaleStrategy.workersToDelete`` deleted, then Pods
   created (``CreatedWorkerPod``, with the next free ``ray.io/worker-group-replica-index``) or
   deleted (``DeletedWorkerPod``, when autoscaling is off) to reach the desired count;
4. ``calculateStatus`` (:mod:`.clusterstatus`), written through ``/status`` when it changed
   (``InconsistentRayClusterStatus``); a failed Pod create/delete becomes ``ReplicaFailure``.

Triggers (``SetupWithManager``): a RayCluster added, or its generation, labels or annotations
changed; any change to a Pod or Service it controls; and, after a status write or an error, a
requeue after ``DefaultRequeueDuration`` (2 s; :attr:`RayClusterController.requeue_delay`) — the
suspend steps advance on it, as in the operator. Pod and Service lists come from an index by
the ``ray.io/cluster`` label, kept from the store's changes.
"""

from __future__ import annotations

import contextlib

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._controllers.events import EventRecorder
from fakekube._controllers.kuberay import clusterstatus, naming, pods
from fakekube._controllers.kuberay.children import Children, ReconcileError
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import PODS, SERVICES, ResourceType
from fakekube._storage.store import ADDED, DELETED, Change, Stored
from kubeapi.status import StatusError
from kubeapi.types import JSON

MANAGER = "kuberay-operator"
DEFAULT_REQUEUE_SECONDS = 2.0  # DefaultRequeueDuration


def _owner_key(meta: JSON) -> str | None:
    """``ns/name`` of the RayCluster controlling an object, from its owner references."""
    for ref in meta.get("ownerReferences") or []:
        if (
            ref.get("kind") == "RayCluster"
            and ref.get("controller")
            and str(ref.get("apiVersion", "")).startswith("ray.io/")
        ):
            return f"{meta.get('namespace')}/{ref.get('name')}"
    return None


class RayClusterController(Controller):
    """Reconciles the RayClusters of ``ctx.storage`` as the KubeRay operator does."""

    name = "raycluster-controller"

    def __init__(self, ctx: ControllerContext, requeue_delay: float = DEFAULT_REQUEUE_SECONDS) -> None:
        super().__init__(ctx)
        self.requeue_delay = requeue_delay
        self.events = EventRecorder(ctx, self.name)
        self._dirty: set[str] = set()
        self._later = DueQueue()
        self._due = False
        # (storage, "ns/cluster") → keys of the Pods / Services with that ray.io/cluster label
        self._by_cluster: dict[tuple[str, str], set[str]] = {}
        self.children = Children(self)

    # -- triggers ------------------------------------------------------------------------------

    def observe(self, change: Change) -> None:
        """RayCluster spec/metadata changes, and changes of controlled Pods and Services."""
        if change.storage == naming.RAYCLUSTERS:
            if change.type == DELETED:
                self._later.cancel(change.key)
                return
            new, old = change.new.obj["metadata"], change.old.obj["metadata"] if change.old else None
            if (
                change.type == ADDED
                or old is None
                or new.get("generation") != old.get("generation")
                or new.get("labels") != old.get("labels")
                or new.get("annotations") != old.get("annotations")
            ):
                self._dirty.add(change.key)
            return
        if change.storage in (PODS.storage_key, SERVICES.storage_key):
            self._index(change)
        if change.storage in (PODS.storage_key, SERVICES.storage_key):
            owner = _owner_key(change.new.obj["metadata"])
            if owner is not None:
                self._dirty.add(owner)

    def _index(self, change: Change) -> None:
        meta = change.new.obj["metadata"]
        cluster = (meta.get("labels") or {}).get(naming.CLUSTER_LABEL)
        if change.old is not None:
            before = (change.old.obj["metadata"].get("labels") or {}).get(naming.CLUSTER_LABEL)
            if before and before != cluster:
                self._by_cluster.get((change.storage, f"{meta.get('namespace')}/{before}"), set()).discard(
                    change.key
                )
        if not cluster:
            return
        keys = self._by_cluster.setdefault((change.storage, f"{meta.get('namespace')}/{cluster}"), set())
        if change.type == DELETED:
            keys.discard(change.key)
        else:
            keys.add(change.key)

    def _labelled(self, storage: str, cluster: JSON, labels: dict[str, str]) -> list[Stored]:
        """The objects of ``storage`` with the cluster's ``ray.io/cluster`` label and ``labels``
        (key order)."""
        meta = cluster["metadata"]
        out = []
        for key in sorted(self._by_cluster.get((storage, f"{meta['namespace']}/{meta['name']}"), ())):
            s = self.ctx.storage.get(storage, key)
            if s is not None and all(
                (s.obj["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items()
            ):
                out.append(s)
        return out

    def pending(self) -> bool:
        """Clusters to reconcile now, or a requeue that is due."""
        return bool(self._dirty) or self._due

    def requeue(self) -> None:
        """A requeue is due."""
        self._due = True

    def sync(self) -> None:
        """Reconcile the dirty clusters and those whose requeue is due."""
        clock = self.ctx.clock
        self._due = False
        todo = self._dirty | {str(k) for k in self._later.pop_due(clock.monotonic())}
        self._dirty = set()
        for key in sorted(todo):
            if self.reconcile(key):
                self._later.schedule(key, clock.monotonic() + self.requeue_delay)
        nxt = self._later.next_due()
        if nxt is not None:
            self.ctx.requeue_after(self, nxt - clock.monotonic())

    # -- reconcile -----------------------------------------------------------------------------

    def _rt(self) -> ResourceType | None:
        return next(
            (
                t
                for t in self.ctx.types()
                if t.group == "ray.io" and t.plural == "rayclusters" and t.version == "v1"
            ),
            None,
        )

    def pods_of(self, cluster: JSON, **labels: str) -> list[Stored]:
        """The Pods with the cluster's label (and ``labels``), key order (the association options)."""
        return self._labelled(PODS.storage_key, cluster, labels)

    def head_service(self, cluster: JSON) -> Stored | None:
        """The Service with the head labels (``RayClusterHeadServiceListOptions``)."""
        want = pods.head_service_selector(cluster)
        keys = (naming.NODE_TYPE_LABEL, naming.IDENTIFIER_LABEL)
        found = self._labelled(SERVICES.storage_key, cluster, {k: want[k] for k in keys})
        return found[0] if found else None

    def reconcile(self, key: str) -> bool:
        """Reconcile the RayCluster at ``key``; True when it should be requeued (its status was
        written, or a step failed)."""
        rt = self._rt()
        stored = self.ctx.storage.get(naming.RAYCLUSTERS, key)
        if rt is None or stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return False
        cluster = stored.obj
        error: tuple[str, str] | None = None
        try:
            self.children.head_service(cluster)
            self.children.pods(cluster)
        except ReconcileError as e:
            error = (e.reason, str(e))
        service = self.head_service(cluster)
        new = clusterstatus.calculate(
            cluster,
            [p.obj for p in self.pods_of(cluster)],
            service.obj if service else None,
            error,
            self.ctx.clock.rfc3339(),
        )
        if service is None:
            return True  # updateHeadInfo fails without the head Service: no status write, retried
        if not clusterstatus.inconsistent(cluster.get("status") or {}, new):
            return error is not None
        latest = self.ctx.storage.get(naming.RAYCLUSTERS, key)
        if latest is None:
            return False
        body = objects.deep_copy(latest.raw)
        body["status"] = new
        # A refused status write is retried on the requeue (the operator logs it and requeues).
        with contextlib.suppress(StatusError):
            self.ctx.registry.store(rt).update(WriteContext(manager=MANAGER), latest, body, "", "status")
        return True

    def event(self, cluster: JSON, type_: str, reason: str, action: str, note: str) -> None:
        """Record an Event about ``cluster``."""
        self.events.event(cluster, type_, reason, action, note)

    def create(self, rt: ResourceType, cluster: JSON, obj: JSON) -> Stored:
        """Create ``obj`` of ``rt`` in the cluster's namespace through the registry (StatusError
        when refused)."""
        ns = cluster["metadata"]["namespace"]
        made = self.ctx.registry.store(rt).create(WriteContext(manager=MANAGER), ns, obj)
        assert isinstance(made, Stored)
        return made

    def delete_pod(self, pod: Stored) -> None:
        """Delete ``pod`` through the registry."""
        self.ctx.registry.store(PODS).delete_stored(pod, None)
