"""The simulated KubeRay RayJob controller: :mod:`.rayjob_machine` run against the store.

Triggers, as ``RayJobReconciler.SetupWithManager`` (``For(RayJob)``, ``Owns(RayCluster,
Service, batch Job)``): any change of a RayJob, and any change of a RayCluster, Service or Job it
controls; plus the time the machine asks for (a Ray job's next status, a deadline, a TTL; the
operator polls every 3 s instead). Writes go through the registry as field manager
``kuberay-operator`` (the status through ``/status``); Events through the ``rayjob-controller``
recorder. The Ray dashboard the machine talks to is the cluster's :class:`JobManager` in
:class:`.rayjobs_api.ClusterJobs` (the one ``/api/jobs/`` answers from), reachable once the
RayCluster is ``ready``.
"""

from __future__ import annotations

import contextlib
import copy
import random

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._controllers.events import EventRecorder
from fakekube._controllers.kuberay import naming, rayjob_machine
from fakekube._controllers.kuberay.rayjobs_api import ClusterJobs
from fakekube._controllers.kuberay.rayjobs_model import JobManager
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import JOBS, SERVICES, ResourceType
from fakekube._storage.store import DELETED, Change, Stored, object_key
from kubeapi.status import StatusError
from kubeapi.types import JSON

MANAGER = "kuberay-operator"
RAYJOBS = "rayjobs.ray.io"


def ray_type(ctx: ControllerContext, plural: str) -> ResourceType | None:
    """The served ``ray.io/v1`` resource type ``plural`` (from the installed CRDs), or None."""
    return next(
        (t for t in ctx.types() if t.group == "ray.io" and t.plural == plural and t.version == "v1"), None
    )


def controller_of(meta: JSON, kind: str) -> str | None:
    """``ns/name`` of the ``kind`` (``ray.io``) controlling an object, from its owner references."""
    for ref in meta.get("ownerReferences") or []:
        if (
            ref.get("kind") == kind
            and ref.get("controller")
            and str(ref.get("apiVersion", "")).startswith("ray.io/")
        ):
            return f"{meta.get('namespace')}/{ref.get('name')}"
    return None


class StoreWorld:
    """:class:`~.rayjob_rules.RayJobWorld` over the store (reads) and registry (writes); ``jobs``
    (None: no dashboards) are the clusters' job managers; ``owner`` the plural of the reconciled
    kind (its finalizers and deletion)."""

    def __init__(
        self, ctx: ControllerContext, events: EventRecorder, jobs: ClusterJobs | None, owner: str = "rayjobs"
    ) -> None:
        self.ctx, self.events, self.jobs, self.owner = ctx, events, jobs, owner

    def _get(self, storage: str, namespace: str, name: str) -> JSON | None:
        s = self.ctx.storage.get(storage, object_key(namespace, name)) if name else None
        return None if s is None else s.obj

    def _create(self, rt: ResourceType | None, obj: JSON) -> None:
        if rt is None:
            raise RuntimeError(f"the server does not serve {obj['kind']}")
        store = self.ctx.registry.store(rt)
        store.create(WriteContext(manager=MANAGER), obj["metadata"]["namespace"], objects.to_storage(rt, obj))

    def _delete(self, rt: ResourceType | None, obj: JSON) -> None:
        if rt is None:
            return
        s = self.ctx.storage.get(
            rt.storage_key, object_key(obj["metadata"]["namespace"], obj["metadata"]["name"])
        )
        if s is not None:
            self.ctx.registry.store(rt).delete_stored(s, "Background")

    def _update(self, rt: ResourceType | None, obj: JSON, subresource: str | None = None) -> None:
        if rt is None:
            return
        old = self.ctx.storage.get(
            rt.storage_key, object_key(obj["metadata"]["namespace"], obj["metadata"]["name"])
        )
        if old is None:
            return
        # A refused write (a conflict): the change that caused it triggers another reconcile.
        with contextlib.suppress(StatusError):
            self.ctx.registry.store(rt).update(WriteContext(manager=MANAGER), old, obj, "", subresource)

    def get_cluster(self, namespace: str, name: str) -> JSON | None:
        """The RayCluster, or None."""
        return self._get(naming.RAYCLUSTERS, namespace, name)

    def create_cluster(self, obj: JSON) -> None:
        """Create a RayCluster (StatusError on refusal)."""
        self._create(ray_type(self.ctx, "rayclusters"), obj)

    def delete_cluster(self, obj: JSON) -> None:
        """Delete a RayCluster."""
        self._delete(ray_type(self.ctx, "rayclusters"), obj)

    def update_cluster(self, obj: JSON) -> None:
        """Update a RayCluster."""
        self._update(ray_type(self.ctx, "rayclusters"), copy.deepcopy(obj))

    def get_service(self, namespace: str, name: str) -> JSON | None:
        """A Service, or None."""
        return self._get(SERVICES.storage_key, namespace, name)

    def create_service(self, obj: JSON) -> None:
        """Create a Service."""
        self._create(SERVICES, obj)

    def get_submitter(self, namespace: str, name: str) -> JSON | None:
        """The submitter Job, or None."""
        return self._get(JOBS.storage_key, namespace, name)

    def create_submitter(self, obj: JSON) -> None:
        """Create the submitter Job."""
        self._create(JOBS, obj)

    def delete_submitter(self, obj: JSON) -> None:
        """Delete the submitter Job."""
        self._delete(JOBS, obj)

    def dashboard(self, namespace: str, cluster: str) -> JobManager | None:
        """The cluster's job manager once the RayCluster is ``ready``."""
        c = self.get_cluster(namespace, cluster)
        if self.jobs is None or c is None or (c.get("status") or {}).get("state") != "ready":
            return None
        return self.jobs.manager(c["metadata"]["uid"])

    def event(self, rayjob: JSON, type_: str, reason: str, action: str, message: str) -> None:
        """Record an Event about the RayJob."""
        self.events.event(rayjob, type_, reason, action, message)

    def set_finalizers(self, rayjob: JSON, finalizers: list[str]) -> None:
        """Write the RayJob's finalizers (an update of the object)."""
        body = copy.deepcopy(rayjob)
        body["metadata"]["finalizers"] = finalizers
        self._update(ray_type(self.ctx, self.owner), body)

    def delete_rayjob(self, rayjob: JSON) -> None:
        """Delete the RayJob."""
        self._delete(ray_type(self.ctx, self.owner), rayjob)


class RayJobController(Controller):
    """Reconciles the RayJobs of ``ctx.storage`` with :func:`.rayjob_machine.reconcile`."""

    name = "rayjob-controller"

    def __init__(self, ctx: ControllerContext, jobs: ClusterJobs, rng: random.Random | None = None) -> None:
        super().__init__(ctx)
        self.jobs = jobs
        self.rng = rng or random.Random()
        self.world = StoreWorld(ctx, EventRecorder(ctx, self.name), jobs)
        self._dirty: set[str] = set()
        self._later = DueQueue()
        self._due = False

    def observe(self, change: Change) -> None:
        """RayJob changes, and changes of the RayClusters, Services and Jobs RayJobs control."""
        if change.storage == RAYJOBS:
            if change.type == DELETED:
                self._later.cancel(change.key)
            else:
                self._dirty.add(change.key)
            return
        if change.storage == naming.RAYCLUSTERS and change.type == DELETED:
            self.jobs.forget(change.new.obj["metadata"].get("uid", ""))
        if change.storage in (naming.RAYCLUSTERS, SERVICES.storage_key, JOBS.storage_key):
            owner = controller_of(change.new.obj["metadata"], "RayJob")
            if owner is not None:
                self._dirty.add(owner)

    def pending(self) -> bool:
        """RayJobs to reconcile now, or a requeue that is due."""
        return bool(self._dirty) or self._due

    def requeue(self) -> None:
        """A requeue is due."""
        self._due = True

    def sync(self) -> None:
        """Reconcile the dirty RayJobs and those whose time has come."""
        clock = self.ctx.clock
        self._due = False
        todo = self._dirty | {str(k) for k in self._later.pop_due(clock.monotonic())}
        self._dirty = set()
        for key in sorted(todo):
            wait = self.reconcile(key)
            if wait is not None:
                self._later.schedule(key, clock.monotonic() + wait)
        nxt = self._later.next_due()
        if nxt is not None:
            self.ctx.requeue_after(self, nxt - clock.monotonic())

    def reconcile(self, key: str) -> float | None:
        """One reconcile of the RayJob at ``key``: seconds until the next one, or None."""
        rt = ray_type(self.ctx, "rayjobs")
        stored = self.ctx.storage.get(RAYJOBS, key)
        if rt is None or stored is None:
            return None
        job = stored.obj
        try:
            out = rayjob_machine.reconcile(job, self.world, self.ctx.clock.now(), self.rng)
        except StatusError:
            return rayjob_machine.DEFAULT_REQUEUE
        if out.status is not None:
            self._write_status(rt, key, out.status)
        elif out.requeue_after == 0.0:
            # "again now" without a write would spin if a write the machine made was refused:
            # wait the operator's requeue instead (a write's own change triggers the next pass).
            return rayjob_machine.DEFAULT_REQUEUE
        return out.requeue_after

    def _write_status(self, rt: ResourceType, key: str, status: JSON) -> None:
        latest: Stored | None = self.ctx.storage.get(RAYJOBS, key)
        if latest is None:
            return
        body = objects.deep_copy(latest.raw)
        body["status"] = status
        try:
            self.ctx.registry.store(rt).update(WriteContext(manager=MANAGER), latest, body, "", "status")
        except StatusError:
            self._dirty.add(key)
