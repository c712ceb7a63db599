"""The simulated Ray dashboard: what listens on a RayCluster head Pod's port 8265 (``dashboard``),
reached through the Service proxy
(``/api/v1/namespaces/{ns}/services/{name}-head-svc:dashboard/proxy/...``).

One :class:`Dashboard` serves every simulated head Service. :meth:`Dashboard.backend` is an
in-process Service proxy backend (:data:`fakekube._endpoints.serviceproxy.LocalBackend`): it
answers for a head Service the simulated operator made (labels ``ray.io/node-type: head``,
``app.kubernetes.io/created-by: kuberay-operator``) on its ``dashboard`` port (by name, number
8265, or no port: the first), once the head Pod is Running with an IP; before that there is no
endpoint and the proxy answers 503, as a real cluster does.

Routes are registered on the instance: ``dashboard.route("GET", "/api/version")(handler)``,
where ``handler(req: DashboardRequest) -> DashboardResponse`` (sync). The path pattern is a
regular expression matched in full; its named groups are ``req.params``. Shipped here (Ray's
``dashboard/modules``): ``GET /api/version`` (``version.py``, ``CURRENT_VERSION`` 4),
``GET /api/gcs_healthz`` (``healthz``), ``GET /api/cluster_status`` (``reporter``, ``format=1``
gives the ``ray status`` text) and ``GET /`` (a page naming the cluster).

**Adding an API** (e.g. the Jobs REST API, ``/api/jobs/...``): a module of this package with a
``register(dashboard)`` function adding its routes; call it from
:func:`fakekube._controllers.kuberay.install`. Per-feature state (submitted jobs) is kept by that
module (keyed by the cluster's uid, from ``req.cluster``); ``dashboard.ctx`` gives the store,
the registry and the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fakekube._controllers import ControllerContext
from fakekube._controllers.kuberay import naming
from fakekube._resources import PODS
from fakekube._storage.store import Stored

#: The Ray version the simulated dashboard reports when the head container's image names none.
RAY_VERSION = "2.52.0"
#: ``ray.dashboard.modules.version.CURRENT_VERSION``: the Jobs API version of current Ray.
API_VERSION = "4"


@dataclass
class DashboardRequest:
    """A request to one cluster's dashboard: ``method``, ``path``, ``query`` (name → values),
    ``body`` bytes, ``params`` (the route's named groups), ``cluster`` (the stored RayCluster,
    None when the head Service has no live owner) and ``head`` (the stored head Pod)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    params: dict[str, str]
    cluster: Stored | None
    head: Stored
    service: Stored

    def json(self) -> Any:
        """The body parsed as JSON (None when empty); ValueError when malformed."""
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str = "") -> str:
        """The first value of query parameter ``name``."""
        return (self.query.get(name) or [default])[0]


@dataclass
class DashboardResponse:
    """What a route answers: ``status``, ``body`` and ``content_type``."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> DashboardResponse:
        """A JSON answer."""
        return cls(status, json.dumps(obj).encode())

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> DashboardResponse:
        """A text answer."""
        return cls(status, text.encode(), content_type + "; charset=utf-8")


Handler = Callable[[DashboardRequest], DashboardResponse]


class Dashboard:
    """The routes of the simulated Ray dashboard and the Service proxy backend serving them."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.route("GET", "/api/version")(self._version)
        self.route("GET", "/api/gcs_healthz")(lambda req: DashboardResponse.text("success"))
        self.route("GET", "/api/cluster_status")(self._cluster_status)
        self.route("GET", "/")(self._index)

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method`` and the full-match regex ``pattern`` (decorator)."""

        def add(handler: Handler) -> Handler:
            self._routes.append((method.upper(), re.compile(pattern), handler))
            return handler

        return add

    # -- the Service proxy backend -------------------------------------------------------------

    def backend(self, service: Stored, port: str) -> Callable[..., Any] | None:
        """The ASGI app for ``port`` of ``service`` when it is a simulated head Service's
        dashboard port with a running head Pod, else None."""
        meta = service.obj["metadata"]
        labels = meta.get("labels") or {}
        if (
            labels.get(naming.NODE_TYPE_LABEL) != "head"
            or labels.get(naming.CREATED_BY_LABEL) != naming.OPERATOR
        ):
            return None
        ports = (service.obj.get("spec") or {}).get("ports") or []
        chosen = (
            next((p for p in ports if port in (p.get("name"), str(p.get("port")))), None)
            if port
            else (ports or [None])[0]
        )
        if chosen is None or (
            chosen.get("name") != naming.DASHBOARD_PORT_NAME and chosen.get("port") != naming.DASHBOARD_PORT
        ):
            return None
        head = self._head_pod(service)
        if head is None:
            return None

        async def app(
            scope: MutableMapping[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
        ) -> None:
            body = b""
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            r = self.dispatch(
                scope["method"], scope["path"], scope.get("query_string", b"").decode(), body, service, head
            )
            headers = [(b"content-type", r.content_type.encode())] + [
                (k.encode(), v.encode()) for k, v in r.headers
            ]
            await send({"type": "http.response.start", "status": r.status, "headers": headers})
            await send({"type": "http.response.body", "body": r.body})

        return app

    def _head_pod(self, service: Stored) -> Stored | None:
        """A Running head Pod with an IP that the Service selects (its endpoint), or None."""
        meta = service.obj["metadata"]
        selector = (service.obj.get("spec") or {}).get("selector") or {}
        if not selector:
            return None
        for _, pod in self.ctx.storage.scan(PODS.storage_key, meta["namespace"] + "/"):
            st = pod.obj.get("status") or {}
            labels = pod.obj["metadata"].get("labels") or {}
            if (
                st.get("phase") == "Running"
                and st.get("podIP")
                and all(labels.get(k) == v for k, v in selector.items())
                and not pod.obj["metadata"].get("deletionTimestamp")
            ):
                return pod
        return None

    def dispatch(
        self, method: str, path: str, query: str, body: bytes, service: Stored, head: Stored
    ) -> DashboardResponse:
        """Answer one request: the first route matching method and path; 404 for an unknown path,
        405 for a known path with another method (aiohttp's answers, as Ray's dashboard)."""
        path = path or "/"
        known = False
        for m, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            known = True
            if m != method.upper():
                continue
            req = DashboardRequest(
                method.upper(),
                path,
                parse_qs(query),
                body,
                match.groupdict(),
                self.cluster_of(service),
                head,
                service,
            )
            return handler(req)
        if known:
            return DashboardResponse.text("405: Method Not Allowed", 405)
        return DashboardResponse.text("404: Not Found", 404)

    def cluster_of(self, service: Stored) -> Stored | None:
        """The RayCluster owning ``service`` (its controller reference), or None."""
        meta = service.obj["metadata"]
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "RayCluster" and ref.get("controller"):
                found = self.ctx.storage.get(naming.RAYCLUSTERS, f"{meta['namespace']}/{ref.get('name')}")
                if found is not None and found.obj["metadata"].get("uid") == ref.get("uid"):
                    return found
        return None

    # -- the built-in routes -------------------------------------------------------------------

    def _version(self, req: DashboardRequest) -> DashboardResponse:
        """``GET /api/version`` (``VersionResponse``)."""
        return DashboardResponse.json(
            {
                "version": API_VERSION,
                "ray_version": ray_version(req.head.obj),
                "ray_commit": "{{RAY_COMMIT_SHA}}",
                "session_name": "session_" + req.head.obj["metadata"]["uid"].replace("-", "_"),
            }
        )

    def _cluster_status(self, req: DashboardRequest) -> DashboardResponse:
        """``GET /api/cluster_status``: ``{result, msg, data}``; ``format=1``: the ``ray status`` text."""
        ns = req.service.obj["metadata"]["namespace"]
        cluster = (req.service.obj["metadata"].get("labels") or {}).get(naming.CLUSTER_LABEL, "")
        nodes = [
            p.obj
            for _, p in self.ctx.storage.scan(PODS.storage_key, ns + "/")
            if (p.obj["metadata"].get("labels") or {}).get(naming.CLUSTER_LABEL) == cluster
            and (p.obj.get("status") or {}).get("phase") == "Running"
        ]
        data: dict[str, Any] = {"autoscalingStatus": None, "autoscalingError": None}
        if req.arg("format") == "1":
            lines = [
                "======== Autoscaler status: "
                + self.ctx.clock.now().strftime("%Y-%m-%d %H:%M:%S")
                + " ========"
            ]
            lines += ["Node status", "-" * 56, "Active:"]
            groups: dict[str, int] = {}
            for n in nodes:
                g = (n["metadata"].get("labels") or {}).get(naming.GROUP_LABEL, "")
                groups[g] = groups.get(g, 0) + 1
            lines += [f" {count} {group}" for group, count in sorted(groups.items())]
            lines += ["Pending:", " (no pending nodes)", "Recent failures:", " (no failures)"]
            data["clusterStatus"] = "\n".join(lines)
        else:
            data["clusterStatus"] = {"loadMetricsReport": {"usage": {}, "nodeTypes": []}}
        return DashboardResponse.json({"result": True, "msg": "Got cluster status.", "data": data})

    def _index(self, req: DashboardRequest) -> DashboardResponse:
        """``GET /``: a minimal page (the real one is the dashboard's single-page app)."""
        name = (req.service.obj["metadata"].get("labels") or {}).get(naming.CLUSTER_LABEL, "")
        return DashboardResponse.text(
            f"<!doctype html><title>Ray Dashboard</title><h1>Ray Dashboard (simulated): {name}</h1>",
            content_type="text/html",
        )


def ray_version(pod: Any) -> str:
    """The Ray version a Pod runs: the tag of its first container's ``rayproject/ray`` image
    (``2.52.0`` from ``rayproject/ray:2.52.0-py311``), else :data:`RAY_VERSION`."""
    containers = (pod.get("spec") or {}).get("containers") or []
    image = str(containers[0].get("image", "")) if containers else ""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    m = re.match(r"\d+\.\d+\.\d+", tag)
    return m.group(0) if m else RAY_VERSION
