"""The simulated Ray job manager of one Ray cluster: what a head node's dashboard knows about jobs.

It follows Ray's job submission server (``python/ray/dashboard/modules/job/``: ``job_head.py``
for the REST routes, ``common.py`` for ``JobSubmitRequest``/``JobInfo``/``JobStatus``,
``pydantic_models.py`` for ``JobDetails``, ``job_manager.py`` for the status messages) closely
enough for KubeRay's dashboard client (``ray-operator/controllers/ray/utils/dashboardclient``),
``ray job submit``-style clients and the KubeRay Dashboard's links:

- a job is submitted with an ``entrypoint`` and an optional ``submission_id`` (else
  ``raysubmit_`` + 16 characters, as ``generate_job_id``), ``metadata``, ``runtime_env`` and
  ``entrypoint_num_cpus``/``gpus``/``memory``/``resources``;
- it is ``PENDING`` from submission, ``RUNNING`` after :attr:`Timings.job_start_delay` (its driver
  gets a ``job_id``: the hex of a per-cluster counter, ``02000000``, ``03000000``... as Ray's
  ``JobID``), then ``SUCCEEDED`` after its duration, or ``FAILED`` when scripted so, or
  ``STOPPED`` when stopped. Times are Unix milliseconds (``start_time`` at submission,
  ``end_time`` when terminal), as Ray reports them.

How a job ends is scriptable, so UIs and SDKs can test every branch: the submission's
``metadata`` (or, for a RayJob, its annotations, which the controllers pass on) may hold
:data:`OUTCOME_KEY` (``SUCCEEDED`` or ``FAILED``) and :data:`DURATION_KEY` (seconds: ``5``,
``5s``, ``250ms``, ``2m``).

Status is computed from the clock when read (nothing runs in the background): every read takes
``now`` (a timezone-aware datetime), so a manual clock in tests moves jobs exactly.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from dataclasses import dataclass, field
from typing import Any

from kubeapi.types import JSON

#: The metadata key / RayJob annotation that scripts a job's end: ``SUCCEEDED`` or ``FAILED``.
OUTCOME_KEY = "fakekube.kuberay.io/simulate-outcome"
#: The metadata key / RayJob annotation that scripts how long a job runs (``5``, ``5s``, ``250ms``, ``2m``).
DURATION_KEY = "fakekube.kuberay.io/simulate-duration"

PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"
#: Ray's ``JobStatus.is_terminal()``.
TERMINAL = frozenset({SUCCEEDED, FAILED, STOPPED})

# Ray's job_manager.py / common.py messages for each status.
_MESSAGES = {
    PENDING: "Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, custom "
    "resources) to become available. It may be waiting for the runtime environment to be set up.",
    RUNNING: "Job is currently running.",
    SUCCEEDED: "Job finished successfully.",
    STOPPED: "Job was intentionally stopped.",
}
# Ray's generate_job_id alphabet: letters and digits without the look-alikes I, l, o, O, 0.
_ID_CHARS = "".join(sorted(set(string.ascii_letters + string.digits) - set("IloO0")))
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


@dataclass(frozen=True)
class Timings:
    """Simulated delays in seconds: ``job_start_delay`` (PENDING → RUNNING), ``job_duration``
    (RUNNING → terminal, unless a job scripts its own) and ``submitter_exit_delay`` (a submitter
    Job's ``ray job logs --follow`` ends that long after the Ray job, as a real Pod lags)."""

    job_start_delay: float = 1.0
    job_duration: float = 3.0
    submitter_exit_delay: float = 0.5


def parse_duration(text: str) -> float | None:
    """Seconds in ``text`` (``5``, ``1.5s``, ``250ms``, ``2m``, ``1h``), or None when malformed."""
    m = _DURATION.match(text)
    if m is None:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    return float(m.group(1)) * scale


def to_ms(t: dt.datetime) -> int:
    """Unix milliseconds of ``t`` (Ray's ``start_time``/``end_time`` unit)."""
    return int(t.timestamp() * 1000)


class JobError(Exception):
    """A refused job request: ``status`` (HTTP code, as Ray's dashboard answers) and the text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass
class RayJobRecord:
    """One submitted job. ``submitted`` (and ``stopped_at``) are datetimes; ``duration`` seconds;
    ``outcome`` the scripted terminal status; ``driver_number`` makes the driver's ``job_id``."""

    submission_id: str
    entrypoint: str
    submitted: dt.datetime
    duration: float
    outcome: str
    driver_number: int
    metadata: dict[str, str] = field(default_factory=dict)
    runtime_env: dict[str, Any] | None = None
    entrypoint_options: dict[str, Any] = field(default_factory=dict)
    stopped_at: dt.datetime | None = None

    def status_at(self, now: dt.datetime, start_delay: float) -> tuple[str, dt.datetime | None]:
        """(status, when it was entered) at ``now``; None for PENDING."""
        started = self.submitted + dt.timedelta(seconds=start_delay)
        ended = started + dt.timedelta(seconds=self.duration)
        if self.stopped_at is not None and self.stopped_at < ended:
            return STOPPED, self.stopped_at
        if now < started:
            return PENDING, None
        if now < ended:
            return RUNNING, started
        return self.outcome, ended

    def next_change(self, now: dt.datetime, start_delay: float) -> dt.datetime | None:
        """When the status next changes after ``now`` (None: it is terminal)."""
        started = self.submitted + dt.timedelta(seconds=start_delay)
        ended = started + dt.timedelta(seconds=self.duration)
        if self.stopped_at is not None and self.stopped_at < ended:
            return None
        if now < started:
            return started
        return ended if now < ended else None


class JobManager:
    """The jobs of one Ray cluster (``JobManager`` + the GCS job table of a real head node).

    ``timings`` are the default delays; ``rng`` draws submission ids (seedable in tests)."""

    def __init__(self, timings: Timings | None = None, rng: random.Random | None = None) -> None:
        self.timings = timings or Timings()
        self.rng = rng or random.Random()
        self.jobs: dict[str, RayJobRecord] = {}
        self._drivers = 1  # the first driver job id Ray hands out to a submission is 02000000

    # -- writes --------------------------------------------------------------------------------

    def submit(self, request: JSON, now: dt.datetime, script: dict[str, str] | None = None) -> RayJobRecord:
        """Submit ``request`` (a ``JobSubmitRequest`` body: ``entrypoint`` required,
        ``submission_id``, ``metadata``, ``runtime_env``, ``entrypoint_*``). ``script``: extra
        outcome/duration keys (a RayJob's annotations) that win over ``metadata``'s.

        Raises :class:`JobError` 400 for a malformed request (``TypeError``/``ValueError`` in Ray)
        and 500 when the ``submission_id`` is taken (Ray's agent raises ValueError, the head
        answers 500 with ``Please use a different submission_id``, which KubeRay's client matches).
        """
        entrypoint = request.get("entrypoint")
        if not isinstance(entrypoint, str):
            raise JobError(
                400, "TypeError: JobSubmitRequest.__init__() missing required argument: 'entrypoint'"
            )
        sid = request.get("submission_id") or request.get("job_id")
        if sid is not None and not isinstance(sid, str):
            raise JobError(
                400, f"TypeError: submission_id must be a string if provided, got {type(sid).__name__}"
            )
        metadata = request.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise JobError(400, "TypeError: metadata must be a dict[str, str]")
        runtime_env = request.get("runtime_env")
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise JobError(400, "TypeError: runtime_env must be a dict")
        if not sid:
            sid = "raysubmit_" + "".join(self.rng.choice(_ID_CHARS) for _ in range(16))
        if sid in self.jobs:
            raise JobError(
                500,
                f"ValueError: Job with submission_id {sid} already exists. "
                "Please use a different submission_id.",
            )
        keys = {**metadata, **(script or {})}
        outcome = str(keys.get(OUTCOME_KEY, SUCCEEDED)).upper()
        if outcome not in (SUCCEEDED, FAILED):
            outcome = SUCCEEDED
        duration = parse_duration(str(keys.get(DURATION_KEY, ""))) if DURATION_KEY in keys else None
        self._drivers += 1
        rec = RayJobRecord(
            submission_id=sid,
            entrypoint=entrypoint,
            submitted=now,
            duration=self.timings.job_duration if duration is None else duration,
            outcome=outcome,
            driver_number=self._drivers,
            metadata=dict(metadata),
            runtime_env=runtime_env,
            entrypoint_options={
                k: request[k]
                for k in (
                    "entrypoint_num_cpus",
                    "entrypoint_num_gpus",
                    "entrypoint_memory",
                    "entrypoint_resources",
                )
                if request.get(k) is not None
            },
        )
        self.jobs[sid] = rec
        return rec

    def stop(self, job_or_submission_id: str, now: dt.datetime) -> bool:
        """Stop a job: True when it was running or pending (``JobStopResponse.stopped``).
        Raises :class:`JobError` 404 when there is no such job."""
        rec = self.find(job_or_submission_id)
        status, _ = rec.status_at(now, self.timings.job_start_delay)
        if status in TERMINAL:
            return False
        rec.stopped_at = now
        return True

    def delete(self, job_or_submission_id: str, now: dt.datetime) -> bool:
        """Delete a terminal job (``JobDeleteResponse.deleted``); Raises :class:`JobError` 404
        when absent, 400 when it is not terminal (Ray's agent refuses that too)."""
        rec = self.find(job_or_submission_id)
        status, _ = rec.status_at(now, self.timings.job_start_delay)
        if status not in TERMINAL:
            raise JobError(
                400,
                f"Attempted to delete job with id {rec.submission_id}, but it is in a non-terminal "
                f"state {status}. Please stop the job first.",
            )
        del self.jobs[rec.submission_id]
        return True

    # -- reads ---------------------------------------------------------------------------------

    def find(self, job_or_submission_id: str) -> RayJobRecord:
        """The job with this submission id or driver job id (``find_job_by_ids``); 404 otherwise."""
        rec = self.jobs.get(job_or_submission_id)
        if rec is None:
            rec = next((r for r in self.jobs.values() if _driver_id(r) == job_or_submission_id), None)
        if rec is None:
            raise JobError(404, f"Job {job_or_submission_id} does not exist")
        return rec

    def status(self, job_or_submission_id: str, now: dt.datetime) -> str:
        """The status of a job at ``now``; Raises :class:`JobError` 404."""
        return self.find(job_or_submission_id).status_at(now, self.timings.job_start_delay)[0]

    def details(self, rec: RayJobRecord, now: dt.datetime) -> JSON:
        """``JobDetails`` of ``rec`` at ``now``, with Ray's field names (times in ms)."""
        status, since = rec.status_at(now, self.timings.job_start_delay)
        if status == FAILED:
            message = (
                "Job entrypoint command failed with exit code 1, "
                "last available logs (truncated to 20,000 chars):\n"
            )
            message += self.logs(rec, now).rstrip("\n").rsplit("\n", 1)[-1]
        else:
            message = _MESSAGES[status]
        started = status != PENDING
        return {
            "type": "SUBMISSION",
            "job_id": _driver_id(rec) if started else None,
            "submission_id": rec.submission_id,
            "driver_info": (
                {"id": _driver_id(rec), "node_ip_address": "10.244.0.1", "pid": str(1000 + rec.driver_number)}
                if started
                else None
            ),
            "status": status,
            "entrypoint": rec.entrypoint,
            "message": message,
            "error_type": "JOB_ENTRYPOINT_COMMAND_ERROR" if status == FAILED else None,
            "start_time": to_ms(rec.submitted),
            "end_time": to_ms(since) if status in TERMINAL and since is not None else None,
            "metadata": rec.metadata,
            "runtime_env": rec.runtime_env or {},
            "driver_agent_http_address": "http://10.244.0.1:52365" if started else None,
            "driver_node_id": "f" * 56 if started else None,
            "driver_exit_code": {SUCCEEDED: 0, FAILED: 1}.get(status),
            "entrypoint_num_cpus": rec.entrypoint_options.get("entrypoint_num_cpus"),
            "entrypoint_num_gpus": rec.entrypoint_options.get("entrypoint_num_gpus"),
            "entrypoint_memory": rec.entrypoint_options.get("entrypoint_memory"),
            "entrypoint_resources": rec.entrypoint_options.get("entrypoint_resources"),
        }

    def logs(self, rec: RayJobRecord, now: dt.datetime) -> str:
        """The driver's log so far (a few simulated lines per status reached)."""
        status, _ = rec.status_at(now, self.timings.job_start_delay)
        if status == PENDING or (
            status == STOPPED and rec.stopped_at is not None and rec.stopped_at <= rec.submitted
        ):
            return ""
        lines = [
            f"{rec.submitted:%Y-%m-%d %H:%M:%S},000\tINFO job_manager.py -- Runtime env is setting up.",
            f"Running entrypoint for job {rec.submission_id}: {rec.entrypoint}",
            "[fakekube] simulated Ray driver started",
        ]
        if status == SUCCEEDED:
            lines.append("[fakekube] simulated Ray driver finished")
        elif status == FAILED:
            lines.append("RuntimeError: simulated failure (fakekube.kuberay.io/simulate-outcome: FAILED)")
        elif status == STOPPED:
            lines.append("[fakekube] simulated Ray driver stopped")
        return "\n".join(lines) + "\n"

    def next_change(self, now: dt.datetime) -> dt.datetime | None:
        """The earliest time any job's status changes after ``now`` (None: all terminal)."""
        times = [t for r in self.jobs.values() if (t := r.next_change(now, self.timings.job_start_delay))]
        return min(times) if times else None


def _driver_id(rec: RayJobRecord) -> str:
    """Ray's driver ``JobID`` hex for the ``n``-th job of a cluster (4 bytes, little-endian)."""
    return rec.driver_number.to_bytes(4, "little").hex()
