"""Settings of the simulated KubeRay operator (``create_app(simulate_operator=...)``,
``fakekube serve --simulate-operator``).

With the simulation on, fakekube runs, next to its garbage collector and namespace controller,
a simulated kubelet (Pods Pending → Running and Ready after ``pod_start_delay``, with a Pod IP
and container logs) and the KubeRay operator's controllers (RayCluster: head and worker Pods, the
head Service, status and Events; a Ray dashboard behind each head Service's ``dashboard`` port).
They live in the private ``fakekube._controllers`` package (``kubelet``, ``kuberay``).

Off (the default), none of them is registered, so nothing of the simulation costs a request
anything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Simulation:
    """How the simulated cluster behaves.

    ``pod_start_delay``: seconds from a Pod's creation to Running and Ready (image pull and
    container start; default 1.0). ``manual_clock``: time stands still until
    ``app.controllers.advance(seconds)`` moves it (tests that want exact, instant transitions;
    default False, the real clock). ``node_name``: the node every Pod is bound to.
    ``operator_requeue_delay``: seconds before the operator looks at a RayCluster again after it
    wrote its status or failed (the operator's ``DefaultRequeueDuration``, 2 s; suspension
    advances on it).

    Ray jobs (RayJob, the dashboard's Jobs API): ``job_start_delay`` seconds PENDING before
    RUNNING (default 1.0), then ``job_duration`` seconds RUNNING before SUCCEEDED (default 3.0;
    a RayJob's ``fakekube.kuberay.io/simulate-duration`` / ``simulate-outcome`` annotations, or a
    submission's metadata keys of those names, script their own); a K8sJobMode submitter Job ends
    ``submitter_exit_delay`` seconds after its Ray job (default 0.5). RayService: Serve
    applications are DEPLOYING for ``serve_deploy_delay`` seconds (default 1.0).
    """

    pod_start_delay: float = 1.0
    manual_clock: bool = False
    node_name: str = "fakekube-node"
    operator_requeue_delay: float = 2.0
    job_start_delay: float = 1.0
    job_duration: float = 3.0
    submitter_exit_delay: float = 0.5
    serve_deploy_delay: float = 1.0

    def __post_init__(self) -> None:
        delays = (
            "pod_start_delay",
            "job_start_delay",
            "job_duration",
            "submitter_exit_delay",
            "serve_deploy_delay",
            "operator_requeue_delay",
        )
        for name in delays:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def resolve(option: bool | Simulation | None) -> Simulation | None:
    """``create_app``'s ``simulate_operator`` as settings: None (off) for False/None, the
    defaults for True, ``option`` itself for a :class:`Simulation`."""
    if isinstance(option, Simulation):
        return option
    return Simulation() if option else None
