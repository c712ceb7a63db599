"""The submitter ``batch/v1`` Job of a K8sJobMode RayJob, simulated: what its Pod's ``ray job
submit --no-wait`` + ``ray job logs --follow`` (``common/job.go`` ``BuildJobSubmitCommand``) and
the Job controller (``pkg/controller/job``) would make of it.

On creation the Job is active and the Ray job is submitted to the cluster's dashboard (an id
already there is not submitted again, as the command's ``ray job status`` guard does). When the
Ray job is terminal, ``submitter_exit_delay`` later, the Job ends: ``SUCCEEDED``/``STOPPED`` →
conditions ``SuccessCriteriaMet`` and ``Complete`` (``succeeded: 1``, ``completionTime``);
``FAILED`` → ``ray job logs`` exits 1 on every attempt, so after ``backoffLimit + 1`` failed Pods
``FailureTarget`` and ``Failed`` with reason ``BackoffLimitExceeded`` (Kubernetes 1.31+ Job status).
"""

from __future__ import annotations

import datetime as dt

from fakekube._controllers.kuberay.rayjobs_model import TERMINAL, JobError, JobManager
from kubeapi.types import JSON


def _ts(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def advance(
    job: JSON, manager: JobManager, request: JSON, script: dict[str, str], now: dt.datetime
) -> tuple[JSON | None, dt.datetime | None]:
    """(the Job's new ``status`` or None when unchanged, when to look again or None).

    ``request`` is the ``JobSubmitRequest`` the submitter sends (``submission_id`` from
    ``RAY_JOB_SUBMISSION_ID``); ``script`` the owning RayJob's annotations."""
    status = dict(job.get("status") or {})
    if any(c.get("type") in ("Complete", "Failed") for c in status.get("conditions") or []):
        return None, None
    changed = False
    if "startTime" not in status:
        status.update(startTime=_ts(now), active=1, ready=0, terminating=0, uncountedTerminatedPods={})
        changed = True
    sid = request.get("submission_id") or ""
    try:
        rec = manager.find(sid)
    except JobError:
        rec = manager.submit(request, now, script)
    state, since = rec.status_at(now, manager.timings.job_start_delay)
    if state not in TERMINAL or since is None:
        nxt = manager.next_change(now)
        return (status if changed else None), (
            nxt + dt.timedelta(seconds=manager.timings.submitter_exit_delay) if nxt else None
        )
    exit_at = since + dt.timedelta(seconds=manager.timings.submitter_exit_delay)
    if now < exit_at:
        return (status if changed else None), exit_at
    t = _ts(exit_at)
    if state == "FAILED":
        limit = (job.get("spec") or {}).get("backoffLimit", 6)
        msg = "Job has reached the specified backoff limit"
        status.update(active=0, failed=limit + 1, ready=0)
        status["conditions"] = [
            _cond("FailureTarget", "BackoffLimitExceeded", msg, t),
            _cond("Failed", "BackoffLimitExceeded", msg, t),
        ]
    else:
        msg = "Reached expected number of succeeded pods"
        status.update(active=0, succeeded=1, ready=0, completionTime=t)
        status["conditions"] = [
            _cond("SuccessCriteriaMet", "CompletionsReached", msg, t),
            _cond("Complete", "CompletionsReached", msg, t),
        ]
    return status, None


def _cond(type_: str, reason: str, message: str, t: str) -> JSON:
    return {
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": t,
        "lastTransitionTime": t,
    }
