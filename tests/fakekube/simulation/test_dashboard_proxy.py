"""The simulated Ray dashboard as an in-process Service proxy backend: answered for a head Service
of the simulated operator once its head Pod runs (503 before, as with no ready endpoints), on the
``dashboard`` port only; routes registered on the :class:`Dashboard` are served."""

from __future__ import annotations

from collections.abc import Callable

from fakekube import FakeKube
from fakekube._controllers.kuberay.dashboard import DashboardRequest, DashboardResponse
from fakekube.testing import Client, LoopThread
from tests.fakekube.simulation.helpers import PODS_PATH, advance, manual_app, pod

SVC_PATH = "/api/v1/namespaces/default/services"
HEAD_LABELS = {
    "ray.io/cluster": "c",
    "ray.io/node-type": "head",
    "app.kubernetes.io/created-by": "kuberay-operator",
    "app.kubernetes.io/name": "kuberay",
}


def _head_service(client: Client, labels: dict[str, str] = HEAD_LABELS) -> None:
    client.request(
        "POST",
        SVC_PATH,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "c-head-svc", "labels": labels},
            "spec": {
                "selector": {"ray.io/cluster": "c", "ray.io/node-type": "head"},
                "ports": [{"name": "gcs-server", "port": 6379}, {"name": "dashboard", "port": 8265}],
            },
        },
    )


def test_dashboard_answers_once_the_head_pod_runs(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = manual_app(delay=1.0)
    client = connect(app)
    _head_service(client)
    client.request(
        "POST", PODS_PATH, pod("c-head-x", "ray-head", labels=HEAD_LABELS, image="rayproject/ray:2.46.0")
    )
    url = f"{SVC_PATH}/c-head-svc:dashboard/proxy/api/version"
    r = client.send("GET", url)
    assert (r.status, r.json()["message"]) == (503, 'no endpoints available for service "c-head-svc"')
    advance(loop_thread, app, 1.0)
    got = client.request("GET", url)
    assert (got["version"], got["ray_version"]) == ("4", "2.46.0")
    assert client.request("GET", f"{SVC_PATH}/c-head-svc:8265/proxy/api/gcs_healthz") == "success"
    assert client.send("GET", f"{SVC_PATH}/c-head-svc:dashboard/proxy/api/nope").status == 404
    assert client.send("POST", url).status == 405
    # the first port is the GCS port, not the dashboard: no dashboard there
    assert client.send("GET", f"{SVC_PATH}/c-head-svc/proxy/api/version").status == 503
    status = client.request(
        "GET", f"{SVC_PATH}/c-head-svc:dashboard/proxy/api/cluster_status", query={"format": "1"}
    )
    assert status["result"] is True and "Active:" in status["data"]["clusterStatus"]


def test_other_services_get_no_dashboard(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = manual_app(delay=0.0)
    client = connect(app)
    _head_service(client, {"ray.io/cluster": "c", "ray.io/node-type": "head"})  # not the operator's
    client.request("POST", PODS_PATH, pod("c-head-x", labels=HEAD_LABELS))
    assert client.send("GET", f"{SVC_PATH}/c-head-svc:dashboard/proxy/api/version").status == 503


def test_a_registered_route_is_served(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = manual_app(delay=0.0)
    assert app.simulation is not None

    @app.simulation.dashboard.route("GET", r"/api/example/(?P<job_id>[^/]+)")
    def job(req: DashboardRequest) -> DashboardResponse:
        return DashboardResponse.json(
            {"job_id": req.params["job_id"], "cluster_head": req.head.obj["metadata"]["name"]}
        )

    client = connect(app)
    _head_service(client)
    client.request("POST", PODS_PATH, pod("c-head-x", labels=HEAD_LABELS))
    got = client.request("GET", f"{SVC_PATH}/c-head-svc:dashboard/proxy/api/example/raysubmit_1")
    assert got == {"job_id": "raysubmit_1", "cluster_head": "c-head-x"}
