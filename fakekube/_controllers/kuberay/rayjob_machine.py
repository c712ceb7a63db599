"""The RayJob state machine of the KubeRay operator, as plain Python over a :class:`RayJobWorld`.

Follows ``ray-operator/controllers/ray/rayjob_controller.go`` (``RayJobReconciler.Reconcile``) of
the KubeRay commit whose CRDs are in ``../shared/kuberay/crds`` (feeaf72), with the names of
``ray-operator/apis/ray/v1/rayjob_types.go``:

``jobDeploymentStatus``: "" (New) → ``Initializing`` (finalizer ``ray.io/rayjob-finalizer``,
``jobId`` = ``spec.jobId`` or ``<name>-<5 chars>``, ``rayClusterName`` = the clusterSelector's
``ray.io/cluster`` or ``<name>-<5 chars>``, ``startTime``) → the RayCluster is created (or found)
and once its ``status.state`` is ``ready`` the ``dashboardURL``
(``<head-svc>.<ns>.svc.cluster.local:<dashboard port>``) is set → ``Running`` (K8sJobMode: a
submitter ``batch/v1`` Job named as the RayJob; HTTPMode: the job is submitted to the dashboard;
InteractiveMode: ``Waiting`` until ``spec.jobId`` is set) →
``jobStatus`` follows the dashboard's job (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED) →
``Complete`` or ``Failed`` (reason ``AppFailed``; in K8sJobMode only once the submitter Job has
finished, and ``SubmissionFailed`` when the submitter Job failed) with ``endTime``.

Also: ``suspend`` (Initializing/Running → ``Suspending`` → cluster and submitter deleted →
``Suspended``; resumed to New), ``activeDeadlineSeconds`` (``Failed``/``DeadlineExceeded``),
``preRunningDeadlineSeconds`` (``PreRunningDeadlineExceeded``), ``backoffLimit`` (``failed`` and
``succeeded`` counts; a failure with retries left → ``Retrying`` → cluster deleted → New, a new
cluster), ``shutdownAfterJobFinishes`` + ``ttlSecondsAfterFinished`` (the cluster is deleted
after the TTL; the submitter Job is kept), ``deletionStrategy`` (``deletionRules`` and the legacy
``onSuccess``/``onFailure``), the validation of ``utils/validation.go`` (``ValidationFailed``),
and the Events the operator records. The status is written only when ``jobStatus``,
``jobDeploymentStatus`` or ``rayClusterStatus`` changed (``updateRayJobStatus``); this release
never sets ``status.observedGeneration`` for RayJobs, so neither does the simulation.

Where the operator requeues every 3 s and polls, :func:`reconcile` returns the exact time of
the next change it waits for (a deadline, a TTL, the dashboard job's next status).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from fakekube._controllers.kuberay import rayjob_rules as rules
from fakekube._controllers.kuberay.rayjob_rules import RayJobWorld
from fakekube._controllers.kuberay.rayjobs_model import TERMINAL, JobError
from kubeapi.types import JSON

FINALIZER = "ray.io/rayjob-finalizer"
#: ``RayJobDefaultRequeueDuration``: how often the operator polls while waiting.
DEFAULT_REQUEUE = 3.0
#: ``DefaultSubmitterFinishedTimeout``.
SUBMITTER_FINISHED_TIMEOUT = 30.0
#: k8s.io/apimachinery ``util/rand.String``'s alphabet (no vowels, no look-alikes).
RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

NEW, INITIALIZING, RUNNING, COMPLETE, FAILED = "", "Initializing", "Running", "Complete", "Failed"
VALIDATION_FAILED, SUSPENDING, SUSPENDED, RETRYING, WAITING = (
    "ValidationFailed",
    "Suspending",
    "Suspended",
    "Retrying",
    "Waiting",
)


@dataclass
class Outcome:
    """What a reconcile decided: ``status`` to write (None: unchanged) and ``requeue_after``
    (seconds; None: nothing to wait for)."""

    status: JSON | None
    requeue_after: float | None


def rand5(rng: random.Random) -> str:
    """``rand.String(5)``."""
    return "".join(rng.choice(RAND_ALPHABET) for _ in range(5))


def rfc3339(t: dt.datetime) -> str:
    """``metav1.Time`` as serialized."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> dt.datetime | None:
    """A ``metav1.Time`` string as an aware datetime (None for None/empty)."""
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def is_job_terminal(status: str) -> bool:
    """``rayv1.IsJobTerminal``."""
    return status in TERMINAL


def reconcile(job: JSON, world: RayJobWorld, now: dt.datetime, rng: random.Random) -> Outcome:
    """One ``Reconcile`` of RayJob ``job`` (not modified) at ``now``."""
    meta = job["metadata"]
    spec = job.get("spec") or {}
    if (spec.get("managedBy") or "ray.io/kuberay-operator") != "ray.io/kuberay-operator":
        return Outcome(None, None)
    original = job.get("status") or {}
    status: JSON = copy.deepcopy(original)
    if meta.get("deletionTimestamp"):
        if not is_job_terminal(status.get("jobStatus", "")):
            manager = world.dashboard(meta["namespace"], status.get("rayClusterName", ""))
            if manager is not None and status.get("jobId"):
                with contextlib.suppress(JobError):
                    manager.stop(status["jobId"], now)
        if FINALIZER in (meta.get("finalizers") or []):
            world.set_finalizers(job, [f for f in meta["finalizers"] if f != FINALIZER])
        return Outcome(None, None)
    err = rules.validate(job)
    if err is not None:
        reason, message = err
        world.event(job, "Warning", reason, "Validate", f"{meta['namespace']}/{meta['name']}: {message}")
        status.update(jobDeploymentStatus=VALIDATION_FAILED, reason="ValidationFailed", message=message)
        return Outcome(_changed(original, status, now), None)
    machine = _Machine(job, status, world, now, rng)
    requeue = machine.step()
    if machine.done:
        return Outcome(None, requeue)
    rules.check_backoff_limit(spec, status)
    return Outcome(_changed(original, status, now), requeue)


def _changed(old: JSON, new: JSON, now: dt.datetime) -> JSON | None:
    """``updateRayJobStatus``: the status to write, or None when no crucial field changed."""
    if (
        old.get("jobStatus", "") == new.get("jobStatus", "")
        and old.get("jobDeploymentStatus", "") == new.get("jobDeploymentStatus", "")
        and old.get("rayClusterStatus") == new.get("rayClusterStatus")
        and old.get("jobStatusCheckFailureStartTime") == new.get("jobStatusCheckFailureStartTime")
    ):
        return None
    if new.get("jobDeploymentStatus") in (COMPLETE, FAILED):
        new["endTime"] = rfc3339(now)
    # Go's omitempty drops empty strings and nil pointers, never the struct-valued
    # rayJobInfo/rayClusterStatus (encoding/json ignores omitempty on structs).
    new.setdefault("rayJobInfo", {})
    new.setdefault("rayClusterStatus", {})
    return {k: v for k, v in new.items() if v is not None and v != ""}


class _Machine:
    """One pass of the ``switch rayJobInstance.Status.JobDeploymentStatus``; ``done`` means the
    operator returned before the status update (terminal states, Suspended)."""

    def __init__(
        self, job: JSON, status: JSON, world: RayJobWorld, now: dt.datetime, rng: random.Random
    ) -> None:
        self.job, self.status, self.world, self.now, self.rng = job, status, world, now, rng
        self.spec: JSON = job.get("spec") or {}
        self.ns: str = job["metadata"]["namespace"]
        self.name: str = job["metadata"]["name"]
        self.mode: str = self.spec.get("submissionMode") or "K8sJobMode"
        self.done = False

    def step(self) -> float | None:
        """Run the current state's branch; the seconds until the next reconcile is due."""
        handler: dict[str, Callable[[], float | None]] = {
            NEW: self._new,
            INITIALIZING: self._initializing,
            WAITING: self._waiting,
            RUNNING: self._running,
            SUSPENDING: self._release,
            RETRYING: self._release,
            SUSPENDED: self._suspended,
            COMPLETE: self._finished,
            FAILED: self._finished,
        }
        return handler.get(self.status.get("jobDeploymentStatus", ""), lambda: DEFAULT_REQUEUE)()

    # -- states ---------------------------------------------------------------------------------

    def _new(self) -> float | None:
        finalizers = self.job["metadata"].get("finalizers") or []
        if FINALIZER not in finalizers:
            self.world.set_finalizers(self.job, [*finalizers, FINALIZER])
        s = self.status
        if s.get("jobId") and s.get("rayClusterName") and s.get("jobStatus"):
            return 0.0
        if self.mode != "InteractiveMode" and not s.get("jobId"):
            s["jobId"] = self.spec.get("jobId") or f"{self.name}-{rand5(self.rng)}"
        if not s.get("rayClusterName"):
            selected = (self.spec.get("clusterSelector") or {}).get("ray.io/cluster")
            s["rayClusterName"] = selected or f"{self.name}-{rand5(self.rng)}"
        s.setdefault("jobStatus", "")
        s["jobDeploymentStatus"] = INITIALIZING
        s["startTime"] = rfc3339(self.now)
        return 0.0

    def _initializing(self) -> float | None:
        if self._to_suspending() or self._active_deadline() or self._pre_running_deadline():
            return 0.0
        cluster = self._get_or_create_cluster()
        if cluster is None:
            return DEFAULT_REQUEUE
        if not self.status.get("dashboardURL"):
            cstatus = cluster.get("status") or {}
            if cstatus.get("state") != "ready":
                self.status["rayClusterStatus"] = cstatus
                return self._deadline_wait(DEFAULT_REQUEUE)
            url = rules.dashboard_url(cluster, self.world)
            if not url:
                return DEFAULT_REQUEUE
            self.status["dashboardURL"] = url
        if self.mode == "InteractiveMode":
            self.status["jobDeploymentStatus"] = WAITING
            return 0.0
        if self.mode == "K8sJobMode":
            self._create_submitter(cluster)
        self.status["jobDeploymentStatus"] = RUNNING
        return 0.0

    def _waiting(self) -> float | None:
        if self._pre_running_deadline():
            return 0.0
        if not self.spec.get("jobId"):
            return self._deadline_wait(DEFAULT_REQUEUE)
        self.status["jobId"] = self.spec["jobId"]
        self.status["jobDeploymentStatus"] = RUNNING
        return 0.0

    def _running(self) -> float | None:
        s = self.status
        if self._to_suspending() or self._active_deadline():
            return 0.0
        cluster = self._get_or_create_cluster()
        if cluster is None:
            return DEFAULT_REQUEUE
        if not self.spec.get("clusterSelector"):
            rules.ensure_rayjob_head_service(self.job, cluster, self.world)
        finished_at: dt.datetime | None = None
        if self.mode == "K8sJobMode":
            submitter = self.world.get_submitter(self.ns, self.name)
            if submitter is None:
                return DEFAULT_REQUEUE
            failed, finished_at = rules.submitter_state(submitter)
            if finished_at is not None and self.now >= finished_at + dt.timedelta(
                seconds=SUBMITTER_FINISHED_TIMEOUT
            ):
                s.update(
                    jobStatus="FAILED",
                    jobDeploymentStatus=FAILED,
                    reason="JobDeploymentStatusTransitionGracePeriodExceeded",
                    message=f"The RayJob submitter finished at {finished_at:%Y-%m-%d %H:%M:%S} "
                    "but the ray job "
                    f"did not reach terminal state within {int(SUBMITTER_FINISHED_TIMEOUT)}s",
                )
                return 0.0
            if failed is not None:
                s["jobDeploymentStatus"] = FAILED
                if s.get("jobStatus") == "FAILED":
                    s["reason"] = "AppFailed"
                else:
                    s["reason"] = "SubmissionFailed"
                    s["message"] = f"Job submission has failed. Reason: {failed[0]}. Message: {failed[1]}"
                return 0.0
        manager = self.world.dashboard(self.ns, s["rayClusterName"])
        if manager is None:
            return DEFAULT_REQUEUE
        try:
            rec = manager.find(s.get("jobId", ""))
        except JobError:
            if self.mode in ("HTTPMode", "SidecarMode"):
                # HTTPMode: reconcileHTTPModeJobNotFound; SidecarMode: what the submitter container
                # injected into the head Pod does first (``ray job submit --no-wait``).
                rules.submit_http(self.job, s, manager, self.now)
                return 0.0
            if finished_at is not None:
                s.update(
                    jobDeploymentStatus=FAILED,
                    reason="AppFailed",
                    message="Submitter completed but Ray job not found in RayCluster.",
                )
                return 0.0
            return self._deadline_wait(DEFAULT_REQUEUE)
        info = manager.details(rec, self.now)
        if self.mode == "SidecarMode":
            finished_at = rules.sidecar_finished_at(rec, manager, self.now)
        terminal = is_job_terminal(info["status"])
        if self.mode in ("K8sJobMode", "SidecarMode"):
            terminal = terminal and finished_at is not None
        deployment, reason = RUNNING, ""
        if terminal:
            deployment = FAILED if info["status"] == "FAILED" else COMPLETE
            reason = "AppFailed" if info["status"] == "FAILED" else ""
        s["rayClusterStatus"] = cluster.get("status") or {}
        s.update(
            jobStatus=info["status"], jobDeploymentStatus=deployment, reason=reason, message=info["message"]
        )
        job_info = {}
        if info.get("start_time"):
            job_info["startTime"] = rfc3339(dt.datetime.fromtimestamp(info["start_time"] / 1000, dt.UTC))
        if info.get("end_time"):
            job_info["endTime"] = rfc3339(dt.datetime.fromtimestamp(info["end_time"] / 1000, dt.UTC))
        if job_info:
            s["rayJobInfo"] = job_info
        if terminal:
            return 0.0
        nxt = manager.next_change(self.now)
        if nxt is None and self.mode == "SidecarMode" and is_job_terminal(info["status"]):
            nxt = self.now + dt.timedelta(seconds=manager.timings.submitter_exit_delay)
        wait = DEFAULT_REQUEUE if nxt is None else max((nxt - self.now).total_seconds(), 0.0)
        return self._deadline_wait(wait)

    def _release(self) -> float | None:
        s = self.status
        cluster_gone = rules.delete_cluster_resources(self.job, s, self.world)
        submitter_gone = self.mode in ("HTTPMode", "SidecarMode") or rules.delete_submitter(
            self.job, self.world
        )
        if not (cluster_gone and submitter_gone):
            return DEFAULT_REQUEUE
        for k in (
            "rayClusterStatus",
            "rayClusterName",
            "dashboardURL",
            "jobId",
            "message",
            "reason",
            "rayJobInfo",
        ):
            s.pop(k, None)
        s.pop("jobStatusCheckFailureStartTime", None)
        s["jobStatus"] = ""
        s["jobDeploymentStatus"] = SUSPENDED if s.get("jobDeploymentStatus") == SUSPENDING else NEW
        return 0.0

    def _suspended(self) -> float | None:
        if not self.spec.get("suspend"):
            self.status["jobStatus"] = ""
            self.status["jobDeploymentStatus"] = NEW
            return 0.0
        self.done = True
        return None

    def _finished(self) -> float | None:
        self.done = True
        if self.spec.get("clusterSelector"):
            return None
        strategy = self.spec.get("deletionStrategy")
        if strategy:
            return rules.handle_deletion_strategy(self.job, self.world, self.now)
        if self.spec.get("shutdownAfterJobFinishes"):
            return rules.handle_shutdown_after_job_finishes(self.job, self.world, self.now)
        return None

    # -- helpers ----------------------------------------------------------------------------------

    def _to_suspending(self) -> bool:
        """``updateStatusToSuspendingIfNeeded``."""
        if not self.spec.get("suspend") or self.status.get("jobDeploymentStatus") not in (
            RUNNING,
            INITIALIZING,
        ):
            return False
        self.status["jobDeploymentStatus"] = SUSPENDING
        return True

    def _active_deadline(self) -> bool:
        """``checkActiveDeadlineAndUpdateStatusIfNeeded``."""
        return rules.check_deadline(
            self.spec, self.status, self.now, "activeDeadlineSeconds", "DeadlineExceeded"
        )

    def _pre_running_deadline(self) -> bool:
        """``checkPreRunningDeadlineAndUpdateStatusIfNeeded``."""
        return rules.check_deadline(
            self.spec, self.status, self.now, "preRunningDeadlineSeconds", "PreRunningDeadlineExceeded"
        )

    def _deadline_wait(self, wait: float) -> float:
        """``wait``, shortened to the nearer of the deadlines still ahead."""
        start = parse_time(self.status.get("startTime"))
        for key in ("activeDeadlineSeconds", "preRunningDeadlineSeconds"):
            if start is not None and self.spec.get(key):
                left = (start + dt.timedelta(seconds=self.spec[key]) - self.now).total_seconds()
                wait = min(wait, max(left, 0.0))
        return wait

    def _get_or_create_cluster(self) -> JSON | None:
        """``getOrCreateRayClusterInstance``: None when it is missing and cannot be made."""
        name = self.status.get("rayClusterName", "")
        cluster = self.world.get_cluster(self.ns, name)
        if cluster is not None:
            return cluster
        if self.spec.get("clusterSelector"):
            self.world.event(
                self.job,
                "Warning",
                "RayClusterNotFound",
                "Validate",
                f"RayCluster {self.ns}/{name} set in the clusterSelector is not found. "
                "It must be created manually",
            )
            return None
        obj = rules.cluster_for_rayjob(self.job, name)
        try:
            self.world.create_cluster(obj)
        except Exception as e:  # the store refused it (validation, quota...)
            self.world.event(
                self.job,
                "Warning",
                "FailedToCreateRayCluster",
                "Create",
                f"Failed to create RayCluster {self.ns}/{name}: {e}",
            )
            return None
        self.world.event(
            self.job, "Normal", "CreatedRayCluster", "Create", f"Created RayCluster {self.ns}/{name}"
        )
        return self.world.get_cluster(self.ns, name) or obj

    def _create_submitter(self, cluster: JSON) -> None:
        """``createK8sJobIfNeed``."""
        if self.world.get_submitter(self.ns, self.name) is not None:
            return
        obj = rules.submitter_job(self.job, self.status, cluster)
        try:
            self.world.create_submitter(obj)
        except Exception as e:
            self.world.event(
                self.job,
                "Warning",
                "FailedToCreateRayJobSubmitter",
                "Create",
                f"Failed to create new Kubernetes Job {self.ns}/{self.name}: {e}",
            )
            raise
        self.world.event(
            self.job,
            "Normal",
            "CreatedRayJobSubmitter",
            "Create",
            f"Created Kubernetes Job {self.ns}/{self.name}",
        )
