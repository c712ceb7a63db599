"""The Jobs REST API of the simulated Ray dashboard, over a :class:`~.rayjobs_model.JobManager`.

The routes and answers of Ray's ``python/ray/dashboard/modules/job/job_head.py`` (``JobHead``):

==========================================  ===============================================
``POST /api/jobs/``                         ``JobSubmitResponse`` ``{"job_id", "submission_id"}``
``GET /api/jobs/``                          a JSON array of ``JobDetails``
``GET /api/jobs/{id}``                      ``JobDetails``; 404 ``Job {id} does not exist``
``GET /api/jobs/{id}/logs``                 ``JobLogsResponse`` ``{"logs"}``
``POST /api/jobs/{id}/stop``                ``JobStopResponse`` ``{"stopped"}``
``DELETE /api/jobs/{id}``                   ``JobDeleteResponse`` ``{"deleted"}``
``GET``/``PUT /api/packages/{proto}/{name}``  working_dir packages (404 until uploaded)
==========================================  ===============================================

``{id}`` is a submission id or a driver job id (``find_job_by_ids``). Errors are plain text, as
aiohttp's ``Response(text=...)`` answers them. :func:`handle` is transport-free: the services
proxy (or a test) passes the method, the path below the dashboard port and the body.
:func:`register` adds these routes to the simulated dashboard
(:class:`fakekube._controllers.kuberay.dashboard.Dashboard`), one :class:`JobManager` per
RayCluster (by uid) in a :class:`ClusterJobs`. ``GET /api/version`` is the dashboard's own.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from fakekube._controllers.kuberay import dashboard as dash
from fakekube._controllers.kuberay.rayjobs_model import JobError, JobManager, Timings


@dataclass(frozen=True)
class DashboardResponse:
    """An answer: HTTP ``status``, ``content_type`` and ``body`` bytes."""

    status: int
    content_type: str
    body: bytes

    @staticmethod
    def json(value: object, status: int = 200) -> DashboardResponse:
        """A JSON answer."""
        return DashboardResponse(status, "application/json", json.dumps(value).encode())

    @staticmethod
    def text(text: str, status: int) -> DashboardResponse:
        """A plain-text answer (aiohttp's ``Response(text=...)``)."""
        return DashboardResponse(status, "text/plain; charset=utf-8", text.encode())


def handle(
    manager: JobManager,
    packages: set[str],
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime,
) -> DashboardResponse | None:
    """Answer ``method path`` (``path`` below the dashboard root, e.g. ``/api/jobs/x/stop``) with
    ``body``; None when the path is not one of the job API's (the caller answers 404).
    ``packages`` holds the uploaded working_dir package URIs of this cluster."""
    path = path.split("?", 1)[0]
    if path.startswith("/api/packages/"):
        parts = path[len("/api/packages/") :].split("/")
        if len(parts) != 2:
            return None
        uri = f"{parts[0]}://{parts[1]}"
        if method == "PUT":
            packages.add(uri)
            return DashboardResponse(200, "application/octet-stream", b"")
        if method == "GET":
            if uri in packages:
                return DashboardResponse(200, "application/octet-stream", b"")
            return DashboardResponse.text(f"Package {uri} does not exist", 404)
        return DashboardResponse.text("405: Method Not Allowed", 405)
    if path.rstrip("/") == "/api/jobs":
        if method == "GET":
            return DashboardResponse.json([manager.details(r, now) for r in manager.jobs.values()])
        if method == "POST":
            return _submit(manager, body, now)
        return DashboardResponse.text("405: Method Not Allowed", 405)
    if not path.startswith("/api/jobs/"):
        return None
    rest = path[len("/api/jobs/") :].split("/")
    try:
        if len(rest) == 1 and method == "GET":
            return DashboardResponse.json(manager.details(manager.find(rest[0]), now))
        if len(rest) == 1 and method == "DELETE":
            return DashboardResponse.json({"deleted": manager.delete(rest[0], now)})
        if len(rest) == 2 and rest[1] == "logs" and method == "GET":
            return DashboardResponse.json({"logs": manager.logs(manager.find(rest[0]), now)})
        if len(rest) == 2 and rest[1] == "stop" and method == "POST":
            return DashboardResponse.json({"stopped": manager.stop(rest[0], now)})
    except JobError as e:
        return DashboardResponse.text(e.text, e.status)
    if len(rest) in (1, 2):
        return DashboardResponse.text("405: Method Not Allowed", 405)
    return None


def _submit(manager: JobManager, body: bytes, now: dt.datetime) -> DashboardResponse:
    """``POST /api/jobs/``: parse ``JobSubmitRequest`` (``parse_and_validate_request``: 400 on
    bad JSON or fields) and submit."""
    try:
        request = json.loads(body or b"{}")
    except ValueError as e:
        return DashboardResponse.text(f"JSONDecodeError: {e}", 400)
    if not isinstance(request, dict):
        return DashboardResponse.text("TypeError: request body must be a JSON object", 400)
    try:
        rec = manager.submit(request, now)
    except JobError as e:
        return DashboardResponse.text(e.text, e.status)
    return DashboardResponse.json({"job_id": rec.submission_id, "submission_id": rec.submission_id})


class ClusterJobs:
    """The :class:`JobManager` (and uploaded packages) of each simulated RayCluster, by uid;
    :meth:`forget` drops a deleted cluster's (its jobs die with its head node)."""

    def __init__(self, timings: Timings) -> None:
        self.timings = timings
        self._managers: dict[str, JobManager] = {}
        self._packages: dict[str, set[str]] = {}

    def manager(self, cluster_uid: str) -> JobManager:
        """The job manager of the cluster with ``cluster_uid`` (made on first use)."""
        m = self._managers.get(cluster_uid)
        if m is None:
            m = self._managers[cluster_uid] = JobManager(self.timings)
        return m

    def packages(self, cluster_uid: str) -> set[str]:
        """The working_dir packages uploaded to the cluster."""
        return self._packages.setdefault(cluster_uid, set())

    def forget(self, cluster_uid: str) -> None:
        """Drop a cluster's jobs and packages."""
        self._managers.pop(cluster_uid, None)
        self._packages.pop(cluster_uid, None)


def register(dashboard: dash.Dashboard, jobs: ClusterJobs) -> None:
    """Add the Jobs REST API routes to ``dashboard`` (answers for a head Service whose RayCluster
    is gone: 404, as a dashboard that no longer exists cannot answer)."""

    def serve(req: dash.DashboardRequest) -> dash.DashboardResponse:
        if req.cluster is None:
            return dash.DashboardResponse.text("404: Not Found", 404)
        uid = req.cluster.obj["metadata"]["uid"]
        r = handle(
            jobs.manager(uid), jobs.packages(uid), req.method, req.path, req.body, dashboard.ctx.clock.now()
        )
        if r is None:
            return dash.DashboardResponse.text("404: Not Found", 404)
        return dash.DashboardResponse(r.status, r.body, r.content_type)

    for method in ("GET", "POST", "DELETE", "PUT"):
        dashboard.route(method, r"/api/jobs/?")(serve)
        dashboard.route(method, r"/api/jobs/[^/]+(/logs|/stop)?")(serve)
        dashboard.route(method, r"/api/packages/[^/]+/[^/]+")(serve)
