"""The RayCronJob and RayService controllers in fakekube (simulation on, manual clock)."""

from __future__ import annotations

from collections.abc import Callable

from fakekube import FakeKube
from fakekube.testing import Client, LoopThread
from tests.fakekube.simulation.helpers import PODS_PATH, advance
from tests.fakekube.simulation.test_rayjob_controller import (
    RC,
    RJ,
    SVC,
    rayjob,
    sim_app,
)

CRON = "/apis/ray.io/v1/namespaces/default/raycronjobs"
RS = "/apis/ray.io/v1/namespaces/default/rayservices"


def test_raycronjob_creates_child_rayjobs_on_schedule(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = sim_app()
    client = connect(app)
    template = rayjob()["spec"]
    client.request(
        "POST",
        CRON,
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCronJob",
            "metadata": {"name": "tick"},
            "spec": {"schedule": "@every 10s", "jobTemplate": template},
        },
    )
    assert client.request("GET", RJ)["items"] == []
    advance(loop_thread, app, 10.5)
    children = client.request("GET", RJ, query={"labelSelector": "ray.io/cronjob-name=tick"})["items"]
    assert len(children) >= 1
    child = children[0]
    assert child["metadata"]["ownerReferences"][0]["kind"] == "RayCronJob"
    assert "ray.io/cronjob-scheduled-timestamp" in child["metadata"]["annotations"]
    cron = client.request("GET", f"{CRON}/tick")
    assert (
        cron["status"]["lastScheduleTime"]
        == child["metadata"]["annotations"]["ray.io/cronjob-scheduled-timestamp"]
    )
    # Child names are <cron>-<Unix minutes>: a second tick within the same minute collides
    # (AlreadyExists, counted as created, as in the operator); the next minute's tick is new.
    advance(loop_thread, app, 60.0)
    assert (
        len(client.request("GET", RJ, query={"labelSelector": "ray.io/cronjob-name=tick"})["items"])
        >= len(children) + 1
    )
    client.request(
        "PATCH",
        f"{CRON}/tick",
        {"spec": {"suspend": True}},
        content_type="application/merge-patch+json",
    )
    before = len(client.request("GET", RJ)["items"])
    advance(loop_thread, app, 30.0)
    assert (
        len(client.request("GET", RJ, query={"labelSelector": "ray.io/cronjob-name=tick"})["items"]) == before
    )


def test_rayservice_becomes_ready(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = sim_app()
    client = connect(app)
    spec = {
        "serveConfigV2": "applications:\n  - name: fruit_app\n    import_path: fruit.deployment_graph\n",
        "rayClusterConfig": rayjob()["spec"]["rayClusterSpec"],
    }
    client.request(
        "POST",
        RS,
        {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "rs"}, "spec": spec},
    )
    advance(loop_thread, app, 0.1)
    rs = client.request("GET", f"{RS}/rs")
    assert rs["metadata"]["finalizers"] == ["ray.io/rayservice-finalizer"]
    pending = rs["status"]["pendingServiceStatus"]["rayClusterName"]
    assert (
        client.request("GET", f"{RC}/{pending}")["metadata"]["labels"]["ray.io/originated-from-crd"]
        == "RayService"
    )
    advance(loop_thread, app, 1.5)
    advance(loop_thread, app, 2.5)
    s = client.request("GET", f"{RS}/rs")["status"]
    assert s["activeServiceStatus"]["rayClusterName"] == pending
    assert s["activeServiceStatus"]["applicationStatuses"]["fruit_app"]["status"] == "RUNNING"
    conds = {c["type"]: c["status"] for c in s["conditions"]}
    assert conds == {"Ready": "True", "UpgradeInProgress": "False"} and s["serviceStatus"] == "Running"
    assert s["numServeEndpoints"] >= 1
    serve = client.request("GET", f"{SVC}/rs-serve-svc")
    assert serve["spec"]["selector"] == {"ray.io/cluster": pending, "ray.io/serve": "true"}
    head = client.request("GET", PODS_PATH, query={"labelSelector": f"ray.io/cluster={pending}"})["items"][0]
    assert head["metadata"]["labels"]["ray.io/serve"] == "true"
