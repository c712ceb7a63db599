"""The simulated KubeRay RayCronJob controller: :func:`.cronschedule.reconcile` run against the store.

Triggers: any change of a RayCronJob, and the next tick of its schedule (the operator requeues
for it). A due tick creates the child RayJob through the registry (AlreadyExists counts as
created, as in the operator) and writes ``status.lastScheduleTime`` through ``/status``; Events
(``InvalidRayCronJobSpec`` Warning, ``SuspendedRayCronJob``) from ``raycronjob-controller``.
"""

from __future__ import annotations

import datetime as dt

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._controllers.events import EventRecorder
from fakekube._controllers.kuberay import cronschedule
from fakekube._controllers.kuberay.rayjob import MANAGER, ray_type
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._storage.store import DELETED, Change
from kubeapi.status import StatusError

RAYCRONJOBS = "raycronjobs.ray.io"


class RayCronJobController(Controller):
    """Schedules the RayJobs of the RayCronJobs of ``ctx.storage``."""

    name = "raycronjob-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.events = EventRecorder(ctx, self.name)
        self._dirty: set[str] = set()
        self._later = DueQueue()
        self._due = False

    def observe(self, change: Change) -> None:
        """RayCronJob changes."""
        if change.storage != RAYCRONJOBS:
            return
        if change.type == DELETED:
            self._later.cancel(change.key)
        else:
            self._dirty.add(change.key)

    def pending(self) -> bool:
        """RayCronJobs to reconcile now, or a tick that is due."""
        return bool(self._dirty) or self._due

    def requeue(self) -> None:
        """A tick is due."""
        self._due = True

    def sync(self) -> None:
        """Reconcile the dirty RayCronJobs and those with a due tick."""
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

    def reconcile(self, key: str, now: dt.datetime | None = None) -> float | None:
        """One reconcile of the RayCronJob at ``key``: seconds until the next, or None."""
        rt, jobs_rt = ray_type(self.ctx, "raycronjobs"), ray_type(self.ctx, "rayjobs")
        stored = self.ctx.storage.get(RAYCRONJOBS, key)
        if rt is None or jobs_rt is None or stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return None
        cron = stored.obj
        child, status, wait, note = cronschedule.reconcile(cron, now or self.ctx.clock.now())
        if note is not None:
            reason, _, text = note.partition(": ")
            meta = cron["metadata"]
            if reason == "InvalidRayCronJobSpec":
                self.events.event(
                    cron, "Warning", reason, "Validate", f"{meta['namespace']}/{meta['name']}: {text}"
                )
            else:
                self.events.event(cron, "Normal", reason, "Suspend", text)
        if child is not None:
            try:
                self.ctx.registry.store(jobs_rt).create(
                    WriteContext(manager=MANAGER),
                    child["metadata"]["namespace"],
                    objects.to_storage(jobs_rt, child),
                )
            except StatusError as e:
                if e.code != 409:
                    return 3.0  # RayCronJobDefaultRequeueDuration
        if status is not None:
            body = objects.deep_copy(stored.raw)
            body["status"] = status
            try:
                self.ctx.registry.store(rt).update(WriteContext(manager=MANAGER), stored, body, "", "status")
            except StatusError:
                return 3.0
        return wait
