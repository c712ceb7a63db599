"""The simulated KubeRay operator and the simulated cluster it runs in (private).

:func:`install` registers, on a :class:`fakekube._controllers.ControllerManager`, what a
Kubernetes cluster with the KubeRay operator would run, following the KubeRay release whose CRDs
are in ``../shared/kuberay/crds`` (``ray-project/kuberay`` ``ray-operator/controllers/ray``):

- :mod:`fakekube._controllers.kubelet`: Pods Pending → Running and Ready after the start-up delay,
  and their container logs (Ray's start-up lines from :mod:`.raylogs`);
- :mod:`.dashboard`: the Ray dashboard behind each head Service's ``dashboard`` port, reached
  through the Service proxy (its routes: ``dashboard.route(...)``; more APIs register there);
- the operator's controllers (one module per kind: :mod:`.raycluster`, ...).

Module layout: ``naming`` (labels, ports, generated names), ``raylogs``, ``dashboard``, one module
per reconciled kind. Registered only when ``create_app(simulate_operator=...)`` turns the
simulation on (:class:`fakekube.simulation.Simulation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakekube._controllers import Controller, ControllerManager
from fakekube._controllers.clock import ManualClock
from fakekube._controllers.kubelet import Kubelet
from fakekube._controllers.kuberay.dashboard import Dashboard
from fakekube._controllers.kuberay.raycluster import RayClusterController
from fakekube._controllers.kuberay.raycronjob import RayCronJobController
from fakekube._controllers.kuberay.rayjob import RayJobController
from fakekube._controllers.kuberay.rayjobs_api import ClusterJobs, register
from fakekube._controllers.kuberay.rayjobs_model import Timings
from fakekube._controllers.kuberay.raylogs import ray_start_lines
from fakekube._controllers.kuberay.rayservice import RayServiceController
from fakekube._controllers.kuberay.submitterjob import SubmitterJobController
from fakekube._resources import PODS
from fakekube._storage.podlogs import PodLogs
from fakekube.simulation import Simulation


@dataclass
class SimulatedCluster:
    """What :func:`install` registered: the ``settings``, the ``kubelet``, the ``dashboard`` and
    the operator's ``controllers`` (by name)."""

    settings: Simulation
    kubelet: Kubelet
    dashboard: Dashboard
    controllers: dict[str, Controller] = field(default_factory=dict)


def install(manager: ControllerManager, logs: PodLogs, settings: Simulation) -> SimulatedCluster:
    """Register the simulated kubelet and KubeRay operator on ``manager``; container logs go to
    ``logs`` (which forgets a Pod's logs when it is deleted). Returns what was registered (the
    caller adds ``dashboard.backend`` to the Service proxy's local backends)."""
    if settings.manual_clock:
        manager.use_clock(ManualClock())
    logs.follow_store(manager.context.storage, PODS.storage_key)
    kubelet = Kubelet(manager.context, settings, logs)
    kubelet.log_sources.append(ray_start_lines)
    manager.add(kubelet)
    cluster = SimulatedCluster(settings, kubelet, Dashboard(manager.context))
    rc = manager.add(RayClusterController(manager.context, settings.operator_requeue_delay))
    cluster.controllers[rc.name] = rc
    install_jobs(manager, cluster)
    return cluster


def install_jobs(manager: ControllerManager, cluster: SimulatedCluster) -> None:
    """Register the RayJob, submitter Job, RayCronJob and RayService controllers and the
    dashboard's Jobs REST API (one job manager per RayCluster, shared by both)."""
    s = cluster.settings
    jobs = ClusterJobs(Timings(s.job_start_delay, s.job_duration, s.submitter_exit_delay))
    register(cluster.dashboard, jobs)
    for c in (
        RayJobController(manager.context, jobs),
        SubmitterJobController(manager.context, jobs),
        RayCronJobController(manager.context),
        RayServiceController(manager.context, s.serve_deploy_delay),
    ):
        cluster.controllers[c.name] = manager.add(c)
