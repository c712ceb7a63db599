"""The simulated KubeRay RayService controller: :func:`.rayservice_machine.reconcile` run against
the store.

Triggers (``SetupWithManager``: ``For(RayService)``, ``Owns(RayCluster, Service)``): any change of
a RayService, of a RayCluster or Service it controls, and of a Pod of one of its clusters (the
Endpoints the serve Service counts); plus the time the machine asks for (a Serve application's
next status, a dangling cluster's deletion; the operator polls every 2 s). Each cluster's Serve
controller is a :class:`.serve_model.ServeModel` (by cluster uid, dropped with the cluster).
``numServeEndpoints`` counts the Running and Ready Pods the serve Service selects
(``calculateNumServeEndpointsFromSlices`` over EndpointSlices).
"""

from __future__ import annotations

import copy
import random

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._controllers.events import EventRecorder
from fakekube._controllers.kuberay import naming, rayservice_machine
from fakekube._controllers.kuberay.rayjob import MANAGER, StoreWorld, controller_of, ray_type
from fakekube._controllers.kuberay.rayservice_rules import DEFAULT_REQUEUE, Memory
from fakekube._controllers.kuberay.serve_model import ServeModel
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import PODS, SERVICES
from fakekube._storage.store import DELETED, Change, object_key
from kubeapi.status import StatusError
from kubeapi.types import JSON

RAYSERVICES = "rayservices.ray.io"


def _ready(pod: JSON) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []
    )


class ServiceWorld(StoreWorld):
    """:class:`~.rayservice_rules.RayServiceWorld` over the store (the RayJob world's reads and
    writes plus Services, Pods and Serve models)."""

    def __init__(self, ctx: ControllerContext, events: EventRecorder, serve_delay: float) -> None:
        super().__init__(ctx, events, None, owner="rayservices")
        self.serve_delay = serve_delay
        self.models: dict[str, ServeModel] = {}

    def owned_clusters(self, namespace: str, rayservice: str) -> list[JSON]:
        """RayClusters labelled as originated from the RayService."""
        out = []
        for _, s in self.ctx.storage.scan(naming.RAYCLUSTERS, namespace + "/"):
            labels = s.obj["metadata"].get("labels") or {}
            if (
                labels.get(naming.ORIGINATED_FROM_NAME_LABEL) == rayservice
                and labels.get(naming.ORIGINATED_FROM_CRD_LABEL) == "RayService"
            ):
                out.append(s.obj)
        return out

    def put_service(self, obj: JSON) -> None:
        """Create the Service, or switch its spec (keeping the allocated clusterIP)."""
        old = self.get_service(obj["metadata"]["namespace"], obj["metadata"]["name"])
        if old is None:
            self._create(SERVICES, obj)
            return
        body = copy.deepcopy(old)
        body["spec"] = {**obj["spec"], "clusterIP": (old.get("spec") or {}).get("clusterIP", "")}
        self._update(SERVICES, body)

    def serve(self, namespace: str, cluster: str) -> ServeModel:
        """The Serve controller of the cluster (by uid)."""
        c = self.get_cluster(namespace, cluster)
        uid = c["metadata"]["uid"] if c else f"{namespace}/{cluster}"
        return self.models.setdefault(uid, ServeModel(self.serve_delay))

    def head_pod(self, namespace: str, cluster: str) -> JSON | None:
        """The cluster's head Pod (``ray.io/cluster`` + ``ray.io/node-type: head``), or None."""
        for _, s in self.ctx.storage.scan(PODS.storage_key, namespace + "/"):
            labels = s.obj["metadata"].get("labels") or {}
            if labels.get(naming.CLUSTER_LABEL) == cluster and labels.get(naming.NODE_TYPE_LABEL) == "head":
                return s.obj
        return None

    def set_pod_label(self, pod: JSON, key: str, value: str) -> None:
        """Set a Pod label (an update of the Pod)."""
        body = copy.deepcopy(pod)
        body["metadata"].setdefault("labels", {})[key] = value
        self._update(PODS, body)

    def serve_endpoints(self, namespace: str, service: str) -> int:
        """Running and Ready Pods the Service selects."""
        svc = self.get_service(namespace, service)
        selector = ((svc or {}).get("spec") or {}).get("selector") or {}
        if not selector:
            return 0
        n = 0
        for _, s in self.ctx.storage.scan(PODS.storage_key, namespace + "/"):
            labels = s.obj["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()) and _ready(s.obj):
                n += 1
        return n


class RayServiceController(Controller):
    """Reconciles the RayServices of ``ctx.storage``."""

    name = "rayservice-controller"

    def __init__(self, ctx: ControllerContext, serve_delay: float, rng: random.Random | None = None) -> None:
        super().__init__(ctx)
        self.rng = rng or random.Random()
        self.world = ServiceWorld(ctx, EventRecorder(ctx, self.name), serve_delay)
        self.memory: dict[str, Memory] = {}
        self._dirty: set[str] = set()
        self._later = DueQueue()
        self._due = False

    def observe(self, change: Change) -> None:
        """RayService changes; changes of the clusters/Services they control and of those clusters' Pods."""
        meta = change.new.obj["metadata"]
        if change.storage == RAYSERVICES:
            if change.type == DELETED:
                self._later.cancel(change.key)
                self.memory.pop(change.key, None)
            else:
                self._dirty.add(change.key)
            return
        if change.storage == naming.RAYCLUSTERS and change.type == DELETED:
            self.world.models.pop(meta.get("uid", ""), None)
        if change.storage in (naming.RAYCLUSTERS, SERVICES.storage_key):
            owner = controller_of(meta, "RayService")
            if owner is not None:
                self._dirty.add(owner)
        elif change.storage == PODS.storage_key:
            cluster = (meta.get("labels") or {}).get(naming.CLUSTER_LABEL)
            c = (
                self.ctx.storage.get(naming.RAYCLUSTERS, object_key(meta.get("namespace"), cluster))
                if cluster
                else None
            )
            owner = controller_of(c.obj["metadata"], "RayService") if c is not None else None
            if owner is not None:
                self._dirty.add(owner)

    def pending(self) -> bool:
        """RayServices to reconcile now, or a requeue that is due."""
        return bool(self._dirty) or self._due

    def requeue(self) -> None:
        """A requeue is due."""
        self._due = True

    def sync(self) -> None:
        """Reconcile the dirty RayServices and those whose time has come."""
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
        """One reconcile of the RayService at ``key``: seconds until the next, or None."""
        rt = ray_type(self.ctx, "rayservices")
        stored = self.ctx.storage.get(RAYSERVICES, key)
        if rt is None or stored is None:
            return None
        memory = self.memory.setdefault(key, Memory())
        try:
            out = rayservice_machine.reconcile(stored.obj, self.world, memory, self.ctx.clock.now(), self.rng)
        except (StatusError, RuntimeError):
            return DEFAULT_REQUEUE
        if out.status is not None:
            latest = self.ctx.storage.get(RAYSERVICES, key)
            if latest is not None:
                body = objects.deep_copy(latest.raw)
                body["status"] = out.status
                try:
                    self.ctx.registry.store(rt).update(
                        WriteContext(manager=MANAGER), latest, body, "", "status"
                    )
                except StatusError:
                    self._dirty.add(key)
        elif out.requeue_after == 0.0:
            return DEFAULT_REQUEUE  # no spinning when a write was refused (see RayJobController)
        return out.requeue_after
