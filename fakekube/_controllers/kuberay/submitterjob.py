"""The simulated Job controller and kubelet for K8sJobMode submitter Jobs (``batch/v1`` Jobs
labelled ``ray.io/originated-from-crd: RayJob``): :func:`.submitter.advance` run against the store.

A submitter Job's Pod is not simulated; the Job itself goes active, submits the Ray job to its
RayCluster's dashboard (:class:`.rayjobs_api.ClusterJobs`, once the RayCluster is ``ready``; the
request is the RayJob's, ``submission_id`` its ``status.jobId``) and ends ``Complete`` or
``Failed`` after the Ray job, its status written through ``/status`` as field manager
``job-controller``. Other Jobs are left alone (no Job controller runs for them).
"""

from __future__ import annotations

import datetime as dt

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._controllers.kuberay import naming, rayjob_rules, submitter
from fakekube._controllers.kuberay.rayjob import RAYJOBS, controller_of
from fakekube._controllers.kuberay.rayjobs_api import ClusterJobs
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import JOBS
from fakekube._storage.store import DELETED, Change, object_key
from kubeapi.status import StatusError

MANAGER = "job-controller"


class SubmitterJobController(Controller):
    """Runs the submitter Jobs of RayJobs."""

    name = "submitter-job-controller"

    def __init__(self, ctx: ControllerContext, jobs: ClusterJobs) -> None:
        super().__init__(ctx)
        self.jobs = jobs
        self._dirty: set[str] = set()
        self._later = DueQueue()
        self._due = False

    def observe(self, change: Change) -> None:
        """Submitter Jobs added or changed; a RayJob's change (its cluster may have become ready)."""
        if change.storage == JOBS.storage_key:
            labels = change.new.obj["metadata"].get("labels") or {}
            if change.type == DELETED:
                self._later.cancel(change.key)
            elif labels.get(naming.ORIGINATED_FROM_CRD_LABEL) == "RayJob":
                self._dirty.add(change.key)
        elif change.storage == RAYJOBS and change.type != DELETED:
            meta = change.new.obj["metadata"]
            key = object_key(meta["namespace"], meta["name"])  # the submitter Job is named as the RayJob
            if self.ctx.storage.get(JOBS.storage_key, key) is not None:
                self._dirty.add(key)

    def pending(self) -> bool:
        """Jobs to look at now, or a requeue that is due."""
        return bool(self._dirty) or self._due

    def requeue(self) -> None:
        """A requeue is due."""
        self._due = True

    def sync(self) -> None:
        """Advance the dirty Jobs and those whose time has come."""
        clock = self.ctx.clock
        self._due = False
        todo = self._dirty | {str(k) for k in self._later.pop_due(clock.monotonic())}
        self._dirty = set()
        for key in sorted(todo):
            at = self.advance(key)
            if at is not None:
                wait = (at - clock.now()).total_seconds()
                self._later.schedule(key, clock.monotonic() + max(wait, 0.0))
        nxt = self._later.next_due()
        if nxt is not None:
            self.ctx.requeue_after(self, nxt - clock.monotonic())

    def advance(self, key: str) -> dt.datetime | None:
        """Advance the submitter Job at ``key``; when to look again (a datetime) or None."""
        stored = self.ctx.storage.get(JOBS.storage_key, key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return None
        owner = controller_of(stored.obj["metadata"], "RayJob")
        rayjob = self.ctx.storage.get(RAYJOBS, owner) if owner else None
        if rayjob is None:
            return None
        status = rayjob.obj.get("status") or {}
        cluster = self.ctx.storage.get(
            naming.RAYCLUSTERS,
            object_key(rayjob.obj["metadata"]["namespace"], status.get("rayClusterName", "")),
        )
        if cluster is None or (cluster.obj.get("status") or {}).get("state") != "ready":
            return None
        manager = self.jobs.manager(cluster.obj["metadata"]["uid"])
        env = {e.get("name"): e.get("value") for e in _env(stored.obj)}
        request = rayjob_rules.submit_request(
            rayjob.obj, env.get("RAY_JOB_SUBMISSION_ID") or status.get("jobId", "")
        )
        new, at = submitter.advance(
            stored.obj, manager, request, rayjob_rules.script_of(rayjob.obj), self.ctx.clock.now()
        )
        if new is not None:
            body = objects.deep_copy(stored.raw)
            body["status"] = new
            try:
                self.ctx.registry.store(JOBS).update(
                    WriteContext(manager=MANAGER), stored, body, "", "status"
                )
            except StatusError:
                self._dirty.add(key)
        return at


def _env(job: dict[str, object]) -> list[dict[str, str]]:
    """The env of the submitter container (the first container of the Job's template)."""
    spec = job.get("spec")
    tmpl = spec.get("template") if isinstance(spec, dict) else None
    pod = tmpl.get("spec") if isinstance(tmpl, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        return []
    env = containers[0].get("env")
    return [e for e in env if isinstance(e, dict)] if isinstance(env, list) else []
