"""The RayCronJob controller of the KubeRay operator, simulated (``raycronjob_controller.go``,
``apis/ray/v1/raycronjob_types.go``, ``utils/validation.go`` ``ValidateRayCronJobSpec``; KubeRay
feeaf72).

Each reconcile of a RayCronJob: skipped when ``spec.suspend`` (Event ``SuspendedRayCronJob``);
otherwise the next tick of ``spec.schedule`` (standard 5-field cron, ``@hourly``-style
descriptors and ``@every <duration>`` as robfig/cron's ``ParseStandard``; ``spec.timeZone`` or
UTC, the simulated operator's local zone) after ``status.lastScheduleTime`` (or the
creation time) is due → one child RayJob named ``<cronjob>-<Unix minutes of the tick>`` with
label ``ray.io/cronjob-name``, annotation ``ray.io/cronjob-scheduled-timestamp`` and a
controller reference, ``lastScheduleTime`` set to the tick; missed ticks are caught up one per
reconcile (the operator has no concurrency policy). Cron parsing uses croniter.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import zoneinfo

from croniter import croniter

from fakekube._controllers.kuberay.rayjobs_model import parse_duration
from kubeapi.types import JSON

#: ``MaxRayCronJobNameLength``: ``MaxRayJobNameLength`` (47) minus 11.
MAX_NAME = 36
_EVERY = re.compile(r"^@every\s+(.+)$")


def validate(cron_job: JSON) -> str | None:
    """``ValidateRayCronJobSpec``'s message for an invalid RayCronJob, or None."""
    spec = cron_job.get("spec") or {}
    if len(cron_job["metadata"]["name"]) > MAX_NAME:
        return f"RayCronJob name should be no more than {MAX_NAME} characters"
    schedule = spec.get("schedule") or ""
    if "TZ" in schedule:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if _EVERY.match(schedule) is None and not croniter.is_valid(schedule):
        return f"invalid cron schedule: {schedule!r}"
    if (m := _EVERY.match(schedule)) and not parse_duration(m.group(1)):
        return f"invalid cron schedule: failed to parse duration {schedule}"
    tz = spec.get("timeZone")
    if tz is not None:
        if tz == "":
            return (
                "timeZone must not be empty string, "
                "omit the field to use the local time zone of the KubeRay operator"
            )
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"invalid time zone: unknown time zone {tz}"
    return None


def next_tick(spec: JSON, after: dt.datetime) -> dt.datetime:
    """``schedule.Next(after)`` in ``spec.timeZone`` (UTC when unset); aware UTC datetime."""
    schedule = spec["schedule"]
    if m := _EVERY.match(schedule):
        # robfig/cron ConstantDelaySchedule: t + delay, sub-second part dropped.
        step = max(parse_duration(m.group(1)) or 1.0, 1.0)
        return (after + dt.timedelta(seconds=step)).replace(microsecond=0)
    tz = zoneinfo.ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else dt.UTC
    nxt: dt.datetime = croniter(schedule, after.astimezone(tz)).get_next(dt.datetime)
    return nxt.astimezone(dt.UTC)


def child_name(cron_name: str, tick: dt.datetime) -> str:
    """``getRayJobName``: ``<name>-<Unix minutes of the tick>``."""
    return f"{cron_name}-{int(tick.timestamp()) // 60}"


def child_rayjob(cron_job: JSON, tick: dt.datetime) -> JSON:
    """``constructRayJob``: the RayJob for ``tick``."""
    meta = cron_job["metadata"]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": child_name(meta["name"], tick),
            "namespace": meta["namespace"],
            "labels": {"ray.io/cronjob-name": meta["name"]},
            "annotations": {"ray.io/cronjob-scheduled-timestamp": tick.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "ownerReferences": [
                {
                    "apiVersion": cron_job.get("apiVersion", "ray.io/v1"),
                    "kind": "RayCronJob",
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": copy.deepcopy((cron_job.get("spec") or {}).get("jobTemplate") or {}),
    }


def _parse(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def reconcile(cron_job: JSON, now: dt.datetime) -> tuple[JSON | None, JSON | None, float | None, str | None]:
    """One ``Reconcile`` at ``now``: (the RayJob to create or None, the new ``status`` or None,
    seconds until the next reconcile or None, a Warning/Normal event ``(reason)`` or None)."""
    err = validate(cron_job)
    if err is not None:
        return None, None, None, "InvalidRayCronJobSpec: " + err
    spec = cron_job.get("spec") or {}
    if spec.get("suspend"):
        return None, None, None, "SuspendedRayCronJob: RayCronJob suspended, no new RayJobs will be created"
    last = (cron_job.get("status") or {}).get("lastScheduleTime") or cron_job["metadata"]["creationTimestamp"]
    tick = next_tick(spec, _parse(last))
    if tick > now:
        return None, None, (tick - now).total_seconds(), None
    status = {**(cron_job.get("status") or {}), "lastScheduleTime": tick.strftime("%Y-%m-%dT%H:%M:%SZ")}
    wait = max((next_tick(spec, tick) - now).total_seconds(), 0.0)
    return child_rayjob(cron_job, tick), status, wait, None
