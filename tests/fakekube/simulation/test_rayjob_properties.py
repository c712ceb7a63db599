"""Hypothesis: any RayJob spec and any sequence of suspend/resume toggles and clock steps drives
the RayJob state machine only along the transitions of rayjob_controller.go (feeaf72), with its
invariants: counts within backoffLimit + 1, Complete only for a finished Ray job that did not
fail, no RayCluster left once Suspended, and terminal states staying terminal."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fakekube._controllers.kuberay.rayjobs_model import DURATION_KEY, OUTCOME_KEY
from tests.fakekube.simulation.test_rayjob_machine import Driver
from tests.fakekube.simulation.world import FakeWorld, rayjob

# reconcile's observable edges (one pass may go Failed → Retrying: checkBackoffLimit... runs
# before the status write, so Initializing/Running/Waiting → Retrying is seen directly).
EDGES = {
    "": {"Initializing"},
    "Initializing": {"Running", "Waiting", "Suspending", "Failed", "Retrying"},
    "Waiting": {"Running", "Failed", "Retrying"},
    "Running": {"Complete", "Failed", "Suspending", "Retrying"},
    "Suspending": {"Suspended"},
    "Retrying": {""},
    "Suspended": {""},
    "Complete": set(),
    "Failed": set(),
}

specs = st.fixed_dictionaries(
    {
        "submissionMode": st.sampled_from(["K8sJobMode", "HTTPMode", "SidecarMode"]),
        "shutdownAfterJobFinishes": st.just(True),
        "backoffLimit": st.integers(0, 2),
    },
    optional={
        "activeDeadlineSeconds": st.integers(1, 12),
        "ttlSecondsAfterFinished": st.integers(0, 3),
    },
)
scripts = st.fixed_dictionaries(
    {},
    optional={
        OUTCOME_KEY: st.sampled_from(["SUCCEEDED", "FAILED", "bogus"]),
        DURATION_KEY: st.sampled_from(["0", "1s", "2.5", "500ms", "nonsense"]),
    },
)
steps = st.lists(st.one_of(st.floats(0.05, 4.0), st.just("toggle")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(spec=specs, script=scripts, plan=steps)
def test_transitions_and_invariants(spec: dict[str, Any], script: dict[str, str], plan: list[Any]) -> None:
    job = rayjob(**spec)
    job["metadata"]["annotations"] = script
    d = Driver(job, FakeWorld())
    prev = ""
    elapsed = 0.0
    for step in [*plan, 60.0]:
        if step == "toggle":
            job["spec"]["suspend"] = not job["spec"].get("suspend", False)
            step = 0.05
        elapsed += step
        d.seen.clear()
        d.run(until=elapsed)
        for state in d.seen:
            assert state == prev or state in EDGES[prev], (prev, state)
            prev = state
        s = job.get("status") or {}
        assert (s.get("failed") or 0) <= spec["backoffLimit"] + 1
        if s.get("jobDeploymentStatus") == "Complete":
            assert s["jobStatus"] in ("SUCCEEDED", "STOPPED")
        if s.get("jobDeploymentStatus") == "Suspended":
            assert d.world.clusters == {} and d.world.submitters == {}
        if prev in ("Complete", "Failed"):
            assert s.get("endTime")
    # Left alone long enough, a RayJob ends: terminal, or Suspended while suspend is set (a
    # terminal RayJob ignores suspend: only Initializing and Running may go Suspending).
    final = job["status"]["jobDeploymentStatus"]
    ends = ("Complete", "Failed", "Suspended") if job["spec"].get("suspend") else ("Complete", "Failed")
    assert final in ends
    if final == "Failed" and job["status"].get("reason") != "DeadlineExceeded":
        assert job["status"]["failed"] == spec["backoffLimit"] + 1
