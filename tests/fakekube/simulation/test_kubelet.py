"""The simulated kubelet: Pods bound at once, Running and Ready after the start-up delay (manual
and real clock), watch events for each step, and the ``pods`` resource served with the
simulation off (no kubelet: Pods stay Pending, unbound)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fakekube import FakeKube, Simulation, create_app
from fakekube.testing import Client, LoopThread
from tests.fakekube.objects import events
from tests.fakekube.simulation.helpers import PODS_PATH, advance, manual_app, pod


def test_pod_pending_then_running_after_the_delay(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = manual_app(delay=2.0)
    client = connect(app)
    made = client.request("POST", PODS_PATH, pod("p"))
    assert made["status"] == {"phase": "Pending", "qosClass": "BestEffort"}  # the create's answer
    got = client.request("GET", f"{PODS_PATH}/p")
    assert got["spec"]["nodeName"] == "fakekube-node"
    assert got["status"]["phase"] == "Pending"
    assert got["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ready = next(c for c in got["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    advance(loop_thread, app, 1.9)
    assert client.request("GET", f"{PODS_PATH}/p")["status"]["phase"] == "Pending"
    advance(loop_thread, app, 0.1)
    got = client.request("GET", f"{PODS_PATH}/p")
    st = got["status"]
    assert st["phase"] == "Running"
    assert st["podIP"].startswith("10.244.") and st["podIPs"] == [{"ip": st["podIP"]}]
    assert all(c["status"] == "True" for c in st["conditions"])
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and "running" in cs["state"]
    assert cs["containerID"].startswith("containerd://")


def test_watch_sees_each_transition(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = manual_app(delay=1.0)
    client = connect(app)
    rv = client.request("GET", PODS_PATH)["metadata"]["resourceVersion"]
    client.request("POST", PODS_PATH, pod("p"))
    advance(loop_thread, app, 1.0)
    w = client.send("GET", PODS_PATH, query={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"})
    seen = [
        (e["type"], e["object"]["status"]["phase"], bool(e["object"]["spec"].get("nodeName")))
        for e in events(w.read())
    ]
    # created, bound (scheduler), kubelet's Pending status, Running
    assert seen == [
        ("ADDED", "Pending", False),
        ("MODIFIED", "Pending", True),
        ("MODIFIED", "Pending", True),
        ("MODIFIED", "Running", True),
    ]


def test_real_clock_timer_fires_on_the_serving_loop(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app(simulate_operator=Simulation(pod_start_delay=0.2))
    client = connect(app)
    client.request("POST", PODS_PATH, pod("p"))
    assert client.request("GET", f"{PODS_PATH}/p")["status"]["phase"] == "Pending"
    deadline = time.monotonic() + 5
    while client.request("GET", f"{PODS_PATH}/p")["status"]["phase"] != "Running":
        assert time.monotonic() < deadline, "the Pod never started"
        time.sleep(0.05)


def test_simulation_off_serves_pods_without_a_kubelet(client: Client) -> None:
    client.request("POST", PODS_PATH, pod("p", "a", "b"))
    got = client.request("GET", f"{PODS_PATH}/p")
    assert got["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "nodeName" not in got["spec"]
    spec = got["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # an unbound Pod has no log location: 204 and nothing (LocationStreamer with no location)
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"container": "a"})
    assert (r.status, r.read()) == (204, b"")
    assert got["metadata"]["generation"] == 1
    bad = client.send(
        "POST", PODS_PATH, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {}}
    )
    assert bad.status == 422
    assert bad.json()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]


def test_status_is_written_through_the_status_subresource_only(client: Client) -> None:
    client.request("POST", PODS_PATH, pod("p"))
    got = client.request("GET", f"{PODS_PATH}/p")
    got["status"]["phase"] = "Running"
    after = client.request("PUT", f"{PODS_PATH}/p", got)
    assert after["status"]["phase"] == "Pending"  # the object's writes keep the stored status
    after["status"]["phase"] = "Running"
    assert client.request("PUT", f"{PODS_PATH}/p/status", after)["status"]["phase"] == "Running"


def test_discovery_lists_pods_and_the_log_subresource(client: Client) -> None:
    resources = {r["name"]: r for r in client.request("GET", "/api/v1")["resources"]}
    assert resources["pods"]["shortNames"] == ["po"]
    assert resources["pods/log"]["verbs"] == ["get"]
    assert resources["pods/status"]["verbs"] == ["get", "patch", "update"]


def test_init_containers_run_first(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = manual_app(delay=1.0)
    client = connect(app)
    body = pod("p")
    body["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    client.request("POST", PODS_PATH, body)
    st = client.request("GET", f"{PODS_PATH}/p")["status"]
    init = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert (init["status"], init["reason"]) == ("False", "ContainersNotInitialized")
    assert st["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    table = client.request(
        "GET", PODS_PATH, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    assert table["rows"][0]["cells"][1:3] == ["0/1", "Init:0/1"]
    advance(loop_thread, app, 1.0)
    st = client.request("GET", f"{PODS_PATH}/p")["status"]
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert st["phase"] == "Running"


def test_a_refused_event_is_dropped(loop_thread: LoopThread) -> None:
    """An Event the server refuses (here: its namespace does not exist) is dropped, as client-go's
    recorder drops it, instead of failing the controller that records it."""
    from fakekube._controllers.events import EventRecorder

    app = manual_app()
    recorder = EventRecorder(app.controllers.context, "raycluster-controller")
    about = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "gone", "uid": "u"}}
    recorder.event(about, "Normal", "Created", "Create", "made")  # no exception
    recorder.event(
        {**about, "metadata": {**about["metadata"], "namespace": "default"}},
        "Normal",
        "Created",
        "Create",
        "made",
    )
    assert [k for k, _ in app.store.scan("events")] and all(
        k.startswith("default/") for k, _ in app.store.scan("events")
    )


def test_a_pod_naming_its_node_is_started_too(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app = manual_app(delay=1.0)
    client = connect(app)
    body = pod("p")
    body["spec"]["nodeName"] = "chosen"
    client.request("POST", PODS_PATH, body)
    advance(loop_thread, app, 1.0)
    got = client.request("GET", f"{PODS_PATH}/p")
    assert (got["spec"]["nodeName"], got["status"]["phase"]) == ("chosen", "Running")
