"""Real clients against ``fakekube serve`` on a socket: the official ``kubernetes`` Python client
(CustomObjectsApi, CoreV1Api, watch.Watch) and ``curl``."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.fakekube.objects import raycluster

G, V, P = "ray.io", "v1", "rayclusters"


@pytest.fixture
def api_client(fakekube_url: str) -> Iterator[client.ApiClient]:
    """An ApiClient of the official library pointed at the fakekube server."""
    cfg = client.Configuration(host=fakekube_url)
    with client.ApiClient(cfg) as c:
        yield c


def test_custom_objects_crud_selectors_status(api_client: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api_client)
    made = co.create_namespaced_custom_object(G, V, namespace, P, raycluster("a", {"team": "x", "tier": "1"}))
    co.create_namespaced_custom_object(G, V, namespace, P, raycluster("b", {"team": "y"}))
    assert made["metadata"]["generation"] == 1
    got = co.get_namespaced_custom_object(G, V, namespace, P, "a")
    assert got == made

    names = lambda lst: [i["metadata"]["name"] for i in lst["items"]]  # noqa: E731
    assert names(co.list_namespaced_custom_object(G, V, namespace, P, label_selector="team in (x,z)")) == [
        "a"
    ]
    assert names(co.list_namespaced_custom_object(G, V, namespace, P, label_selector="!tier")) == ["b"]
    assert names(co.list_namespaced_custom_object(G, V, namespace, P, field_selector="metadata.name!=a")) == [
        "b"
    ]
    everywhere = co.list_cluster_custom_object(
        G, V, P, label_selector="team", field_selector=f"metadata.namespace={namespace}"
    )
    assert names(everywhere) == ["a", "b"]

    with pytest.raises(ApiException) as bad:
        co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.rayVersion=1")
    assert (
        bad.value.status == 400
        and json.loads(bad.value.body)["message"] == "field label not supported: spec.rayVersion"
    )

    # status subresource: writes to /status ignore spec; writes to the object ignore status
    st = co.patch_namespaced_custom_object_status(
        G, V, namespace, P, "a", {"status": {"state": "ready"}, "spec": {"rayVersion": "9"}}
    )
    assert st["status"] == {"state": "ready"} and st["spec"]["rayVersion"] == "2.9.0"
    assert st["metadata"]["generation"] == 1
    upd = co.patch_namespaced_custom_object(
        G, V, namespace, P, "a", {"spec": {"rayVersion": "2.10.0"}, "status": {"state": "gone"}}
    )
    assert upd["metadata"]["generation"] == 2 and upd["status"] == {"state": "ready"}
    replaced = co.replace_namespaced_custom_object(
        G, V, namespace, P, "a", upd | {"spec": {**upd["spec"], "rayVersion": "3"}}
    )
    assert replaced["metadata"]["generation"] == 3
    with pytest.raises(ApiException) as stale:
        co.replace_namespaced_custom_object(G, V, namespace, P, "a", upd)
    assert stale.value.status == 409 and json.loads(stale.value.body)["reason"] == "Conflict"

    gone = co.delete_namespaced_custom_object(G, V, namespace, P, "a")
    assert gone["status"] == "Success"
    assert gone["details"] == {"name": "a", "group": G, "kind": P, "uid": made["metadata"]["uid"]}
    with pytest.raises(ApiException) as nf:
        co.get_namespaced_custom_object(G, V, namespace, P, "a")
    body = json.loads(nf.value.body)
    assert nf.value.status == 404 and body["message"] == 'rayclusters.ray.io "a" not found'
    assert body["details"] == {"name": "a", "group": G, "kind": P}


def test_custom_objects_watch(api_client: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api_client)
    rv = co.list_namespaced_custom_object(G, V, namespace, P)["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(
            co.list_namespaced_custom_object,
            G,
            V,
            namespace,
            P,
            resource_version=rv,
            label_selector="w=1",
            timeout_seconds=5,
        ):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if len(seen) == 3:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.3)
    co.create_namespaced_custom_object(G, V, namespace, P, raycluster("w1", {"w": "1"}))
    co.create_namespaced_custom_object(G, V, namespace, P, raycluster("other"))
    # stops matching the selector: seen as DELETED, as the real watch cache reports it
    co.patch_namespaced_custom_object(G, V, namespace, P, "w1", {"metadata": {"labels": {"w": "2"}}})
    co.patch_namespaced_custom_object(G, V, namespace, P, "other", {"metadata": {"labels": {"w": "1"}}})
    t.join(10)
    assert seen == [("ADDED", "w1"), ("DELETED", "w1"), ("ADDED", "other")]


def test_core_v1_configmaps_services_events(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    cm = core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="tpl", labels={"ray.io/config-type": "compute-template"}),
            data={"cpu": "2"},
        ),
    )
    assert cm.metadata.uid and cm.data == {"cpu": "2"}
    lst = core.list_namespaced_config_map(namespace, label_selector="ray.io/config-type=compute-template")
    assert [c.metadata.name for c in lst.items] == ["tpl"]
    svc = core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="head-svc", labels={"app.kubernetes.io/name": "kuberay"}),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=8265)]),
        ),
    )
    assert svc.spec.type == "ClusterIP" and svc.spec.cluster_ip and svc.spec.ports[0].protocol == "TCP"
    core.create_namespaced_event(
        namespace,
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="e1"),
            reason="Created",
            event_time=datetime.datetime.now(datetime.UTC),
            action="Create",
            reporting_component="kuberay-operator",
            reporting_instance="op-0",
            type="Normal",
            message="hi",
            involved_object=client.V1ObjectReference(
                api_version="ray.io/v1", kind="RayCluster", name="a", namespace=namespace
            ),
        ),
    )
    evs = core.list_namespaced_event(
        namespace, field_selector="involvedObject.apiVersion=ray.io/v1,reason=Created"
    )
    assert [e.message for e in evs.items] == ["hi"]
    ev1 = client.EventsV1Api(api_client).list_namespaced_event(
        namespace, field_selector="regarding.kind=RayCluster"
    )
    assert [(e.note, e.regarding.name) for e in ev1.items] == [("hi", "a")]
    ns = core.read_namespace(namespace)
    assert ns.status.phase == "Active"
    core.delete_namespaced_config_map("tpl", namespace)
    assert core.list_namespaced_config_map(namespace).items == []
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map(
            "no-such-ns", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
        )
    assert (
        missing.value.status == 404
        and json.loads(missing.value.body)["message"] == 'namespaces "no-such-ns" not found'
    )


def _curl(*args: str) -> tuple[int, Any]:
    out = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, timeout=30, check=True
    )
    body, _, code = out.stdout.decode().rpartition("\n")
    try:
        return int(code), json.loads(body)
    except ValueError:
        return int(code), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_crud_yaml_status_and_watch(fakekube_url: str, namespace: str) -> None:
    base = f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}/rayjobs"
    yaml_body = (
        "apiVersion: ray.io/v1\nkind: RayJob\nmetadata:\n  generateName: job-\n  labels: {a: b}\n"
        "spec:\n  entrypoint: python x.py\n"
    )
    code, job = _curl("-X", "POST", "-H", "Content-Type: application/yaml", "--data-binary", yaml_body, base)
    assert code == 201 and job["metadata"]["name"].startswith("job-") and len(job["metadata"]["name"]) == 9
    name = job["metadata"]["name"]
    code, lst = _curl(f"{base}?labelSelector=a%3Db")
    assert code == 200 and [i["metadata"]["name"] for i in lst["items"]] == [name]
    code, st = _curl(
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        json.dumps(job | {"status": {"jobStatus": "RUNNING"}}),
        f"{base}/{name}/status",
    )
    # the CRD schema defaults other status fields (e.g. failed: 0), as the real server does
    assert code == 200 and st["status"]["jobStatus"] == "RUNNING"
    code, ev = _curl(
        "--max-time",
        "3",
        f"{base}?watch=true&timeoutSeconds=1&resourceVersion={job['metadata']['resourceVersion']}",
    )
    lines = [json.loads(x) for x in ev.splitlines()] if isinstance(ev, str) else [ev]
    assert code == 200 and [(e["type"], e["object"]["status"]["jobStatus"]) for e in lines] == [
        ("MODIFIED", "RUNNING")
    ]
    code, gone = _curl("-X", "DELETE", f"{base}/{name}")
    assert code == 200 and gone["status"] == "Success" and gone["details"]["kind"] == "rayjobs"
