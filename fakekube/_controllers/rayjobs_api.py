"""The Jobs REST API of the simulated Ray dashboard, over a :class:`~.rayjobs_model.JobManager`.

The routes and answers of Ray's ``python/ray/dashboard/modules/job/job_head.py`` (``JobHead``):

==========================================  ===============================================
``GET /api/version``                        ``VersionResponse`` (``ray job submit`` checks it)
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
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from fakekube._controllers.rayjobs_model import JobError, JobManager

#: What ``/api/version`` reports (Ray's ``CURRENT_VERSION`` of the job REST API, and a Ray release).
API_VERSION = "4"
RAY_VERSION = "2.50.0"


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
    session_name: str = "session_fakekube",
) -> DashboardResponse | None:
    """Answer ``method path`` (``path`` below the dashboard root, e.g. ``/api/jobs/x/stop``) with
    ``body``; None when the path is not one of the job API's (the caller answers 404).
    ``packages`` holds the uploaded working_dir package URIs of this cluster."""
    path = path.split("?", 1)[0]
    if path == "/api/version" and method == "GET":
        return DashboardResponse.json(
            {
                "version": API_VERSION,
                "ray_version": RAY_VERSION,
                "ray_commit": "f" * 40,
                "session_name": session_name,
            }
        )
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
