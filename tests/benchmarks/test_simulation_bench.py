"""The simulation benchmark's pieces (``benchmarks/bench_simulation.py``), without running it: the
RayJob it submits 1,000 times is accepted by fakekube and reaches SUCCEEDED/Complete under the
simulated operator, and ``_in_process`` times the selector list before and after the simulation
goes idle."""

from __future__ import annotations

import asyncio
import json

from benchmarks import asgi
from benchmarks.bench_simulation import JOBS, _in_process, rayjob_body
from fakekube import Simulation, create_app


def test_the_benchmarks_rayjob_succeeds_under_the_simulated_operator() -> None:
    app = create_app(simulate_operator=Simulation(manual_clock=True))

    async def scenario() -> dict[str, object]:
        async with asgi.lifespan(app):
            created = await asgi.request(app, "POST", JOBS, rayjob_body(7))
            assert created.status == 201, created.body
            app.controllers.advance(60)
            got = await asgi.request(app, "GET", f"{JOBS}/job-7")
            status: dict[str, object] = json.loads(got.body)["status"]
            return status

    status = asyncio.run(scenario())
    assert status["jobStatus"] == "SUCCEEDED"
    assert status["jobDeploymentStatus"] == "Complete"


def test_in_process_list_times_busy_and_idle() -> None:
    from benchmarks.sim_app import simulated

    busy, idle = asyncio.run(_in_process(simulated, 200))
    assert len(busy) == len(idle) == 20
    assert all(t > 0 for t in busy + idle)
