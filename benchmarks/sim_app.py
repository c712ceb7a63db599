"""ASGI factories for the simulation benchmark (``granian --factory benchmarks.sim_app:simulated``).

``fakekube serve`` sets only the Pods' start-up delay of the simulated operator; the benchmark
wants every delay small, so it serves fakekube's app from these factories instead. Both are served
the same way (granian, same backlog), so the two sides differ only in the simulation.
"""

from __future__ import annotations

from fakekube import FakeKube, Simulation, create_app

#: Small delays (seconds): a RayJob's cluster is ready after ~0.2 s, its Ray job PENDING 0.2 s
#: and RUNNING 0.5 s; the submitter Job ends 0.1 s after it. The operator's requeue stays 2 s.
SIMULATION = Simulation(pod_start_delay=0.2, job_start_delay=0.2, job_duration=0.5, submitter_exit_delay=0.1)


def simulated() -> FakeKube:
    """fakekube with the simulated kubelet and KubeRay operator on (:data:`SIMULATION`)."""
    return create_app(simulate_operator=SIMULATION)


def plain() -> FakeKube:
    """fakekube with the simulation off (what ``fakekube serve`` runs by default)."""
    return create_app()
