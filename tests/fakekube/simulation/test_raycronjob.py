"""RayCronJob scheduling (fakekube._controllers.kuberay.cronschedule) with an injected clock, against
raycronjob_controller.go (feeaf72)."""

from __future__ import annotations

import datetime as dt

from fakekube._controllers.kuberay.cronschedule import child_name, reconcile, validate
from kubeapi.types import JSON

T0 = dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)


def cron(schedule: str = "*/5 * * * *", **spec: object) -> JSON:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCronJob",
        "metadata": {
            "name": "nightly",
            "namespace": "default",
            "uid": "c-1",
            "creationTimestamp": "2026-01-01T00:00:30Z",
        },
        "spec": {"schedule": schedule, "jobTemplate": {"entrypoint": "python x.py"}, **spec},
    }


def test_waits_for_first_tick_then_creates_child() -> None:
    c = cron()
    job, status, wait, _ = reconcile(c, T0)
    assert job is None and status is None and wait == 270.0
    job, status, wait, _ = reconcile(c, T0 + dt.timedelta(seconds=270))
    assert job is not None and status is not None
    tick = dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC)
    assert job["metadata"]["name"] == f"nightly-{int(tick.timestamp()) // 60}" == child_name("nightly", tick)
    assert job["metadata"]["labels"] == {"ray.io/cronjob-name": "nightly"}
    assert job["metadata"]["annotations"]["ray.io/cronjob-scheduled-timestamp"] == "2026-01-01T00:05:00Z"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "RayCronJob"
    assert job["spec"] == {"entrypoint": "python x.py"}
    assert status["lastScheduleTime"] == "2026-01-01T00:05:00Z" and wait == 300.0


def test_missed_ticks_are_caught_up_one_per_reconcile() -> None:
    c = cron()
    now = T0 + dt.timedelta(minutes=16)
    names = []
    for _ in range(4):
        job, status, _, _ = reconcile(c, now)
        if job is None:
            break
        names.append(job["metadata"]["name"])
        c["status"] = status
    assert len(names) == 3 and c["status"]["lastScheduleTime"] == "2026-01-01T00:15:00Z"


def test_suspend_and_validation_and_time_zone_and_every() -> None:
    assert reconcile(cron(suspend=True), T0 + dt.timedelta(hours=1))[0] is None
    assert reconcile(cron(suspend=True), T0)[3] is not None and "SuspendedRayCronJob" in str(
        reconcile(cron(suspend=True), T0)[3]
    )
    assert validate(cron("not a cron")) is not None
    assert (
        validate(cron("CRON_TZ=UTC * * * * *"))
        == "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    )
    assert validate(cron(timeZone="Mars/Olympus")) is not None
    job, status, _, _ = reconcile(cron("1 1 * * *", timeZone="Europe/Paris"), T0 + dt.timedelta(hours=1))
    assert job is not None and status is not None and status["lastScheduleTime"] == "2026-01-01T00:01:00Z"
    job, status, _, _ = reconcile(cron("@every 10s"), T0 + dt.timedelta(seconds=10))
    assert status is not None and status["lastScheduleTime"] == "2026-01-01T00:00:40Z"
