"""Compute templates through the gateway over fakekube: applied to all three kinds in JSON and YAML,
unknown and malformed templates refused with 422 Status, template ConfigMaps managed through the
gateway, and KubeRay V1's compute_templates JSON API round-tripping."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import yaml

TEMPLATE_LABELS = {"ray.io/config-type": "compute-template"}


def template_configmap(name: str, **data: str) -> dict[str, Any]:
    """A compute-template ConfigMap in KubeRay's layout with ``data``."""
    labels = {**TEMPLATE_LABELS, "ray.io/compute-template": name}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data,
    }


GPU_TEMPLATE = {
    "cpu": "4",
    "memory": "16",
    "gpu": "2",
    "gpu_accelerator": "amd.com/gpu",
    "extended_resources": json.dumps({"vpc.amazonaws.com/efa": 1}),
    "tolerations": json.dumps([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]),
}
SMALL_TEMPLATE = {"cpu": "1", "memory": "512", "memory_unit": "Mi"}


def cluster_spec(head_template: str | None, worker_template: str | None) -> dict[str, Any]:
    """A RayCluster spec with a head group and one worker group (with a sidecar) naming templates."""
    head: dict[str, Any] = {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}},
    }
    worker: dict[str, Any] = {
        "groupName": "gpu-group",
        "replicas": 1,
        "minReplicas": 0,
        "maxReplicas": 3,
        "rayStartParams": {},
        "template": {
            "metadata": {"annotations": {"keep": "me"}},
            "spec": {
                "containers": [
                    {"name": "ray-worker", "image": "rayproject/ray:2.52.0"},
                    {"name": "sidecar", "image": "busybox"},
                ],
                "tolerations": [{"key": "existing", "operator": "Exists"}],
            },
        },
    }
    if head_template:
        head["computeTemplate"] = head_template
    if worker_template:
        worker["computeTemplate"] = worker_template
    return {"rayVersion": "2.52.0", "headGroupSpec": head, "workerGroupSpecs": [worker]}


def ray_object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A RayCluster, RayJob or RayService embedding cluster ``spec`` where each kind keeps it."""
    body: dict[str, Any] = {"apiVersion": "ray.io/v1", "kind": kind, "metadata": {"name": name}}
    if kind == "RayCluster":
        body["spec"] = spec
    elif kind == "RayJob":
        body["spec"] = {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": spec}
    elif kind == "RayCronJob":
        body["spec"] = {
            "schedule": "* * * * *",
            "jobTemplate": {"entrypoint": "python -V", "rayClusterSpec": spec},
        }
    else:
        body["spec"] = {"serveConfigV2": "applications: []\n", "rayClusterConfig": spec}
    return body


PLURAL = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}
SPEC_KEY = {
    "RayCluster": None,
    "RayJob": "rayClusterSpec",
    "RayService": "rayClusterConfig",
    "RayCronJob": "rayClusterSpec",
}


def embedded(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The cluster spec inside a stored object of ``kind``."""
    key = SPEC_KEY[kind]
    spec: dict[str, Any] = obj["spec"]["jobTemplate"] if kind == "RayCronJob" else obj["spec"]
    return spec if key is None else spec[key]


def post(http: httpx.Client, url: str, body: dict[str, Any], fmt: str) -> httpx.Response:
    """POST ``body`` as JSON or YAML."""
    if fmt == "yaml":
        return http.post(url, content=yaml.safe_dump(body), headers={"Content-Type": "application/yaml"})
    return http.post(url, json=body)


@pytest.fixture
def templates(gateway_url: str, namespace: str, http: httpx.Client) -> str:
    """Create the ``gpu`` and ``small`` templates through the gateway; returns the namespace."""
    for name, data in (("gpu", GPU_TEMPLATE), ("small", SMALL_TEMPLATE)):
        r = http.post(
            f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps", json=template_configmap(name, **data)
        )
        assert r.status_code == 201, r.text
    return namespace


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("kind", ["RayCluster", "RayJob", "RayService", "RayCronJob"])
def test_templates_applied_to_head_and_worker_groups(
    gateway_url: str, fakekube_url: str, templates: str, http: httpx.Client, kind: str, fmt: str
) -> None:
    ns, plural = templates, PLURAL[kind]
    r = post(
        http,
        f"{gateway_url}/apis/ray.io/v1/namespaces/{ns}/{plural}",
        ray_object(kind, "t1", cluster_spec("small", "gpu")),
        fmt,
    )
    assert r.status_code == 201, r.text
    # What fakekube stored is what the gateway sent upstream.
    stored = http.get(f"{fakekube_url}/apis/ray.io/v1/namespaces/{ns}/{plural}/t1").json()
    spec = embedded(stored, kind)
    head, worker = spec["headGroupSpec"], spec["workerGroupSpecs"][0]
    assert "computeTemplate" not in head and "computeTemplate" not in worker
    small = {"cpu": "1", "memory": "512Mi"}
    assert head["template"]["spec"]["containers"][0]["resources"] == {"requests": small, "limits": small}
    assert head["template"]["metadata"]["annotations"] == {"ray.io/compute-template": "small"}
    assert "tolerations" not in head["template"]["spec"]
    ray_worker, sidecar = worker["template"]["spec"]["containers"]
    big = {"cpu": "4", "memory": "16Gi"}
    gpu = {**big, "amd.com/gpu": "2", "vpc.amazonaws.com/efa": "1"}
    assert ray_worker["resources"] == {"requests": gpu, "limits": gpu}
    assert sidecar["resources"] == {"requests": big, "limits": big}  # cpu/memory only, no GPU
    assert worker["template"]["spec"]["tolerations"] == [
        {"key": "existing", "operator": "Exists"},
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert worker["template"]["metadata"]["annotations"] == {"keep": "me", "ray.io/compute-template": "gpu"}


def test_template_applied_on_replace(
    gateway_url: str, fakekube_url: str, templates: str, http: httpx.Client
) -> None:
    url = f"{gateway_url}/apis/ray.io/v1/namespaces/{templates}/rayclusters"
    created = http.post(url, json=ray_object("RayCluster", "r1", cluster_spec(None, None))).json()
    assert "resources" not in created["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    replaced = copy.deepcopy(created)
    replaced["spec"]["headGroupSpec"]["computeTemplate"] = "gpu"
    r = http.put(f"{url}/r1", json=replaced)
    assert r.status_code == 200, r.text
    head = r.json()["spec"]["headGroupSpec"]
    assert head["template"]["spec"]["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "2"
    assert "computeTemplate" not in head


def test_unknown_template_is_422_naming_group_and_template(
    gateway_url: str, fakekube_url: str, templates: str, http: httpx.Client
) -> None:
    url = f"{gateway_url}/apis/ray.io/v1/namespaces/{templates}/rayjobs"
    r = http.post(url, json=ray_object("RayJob", "j1", cluster_spec("small", "no-such-template")))
    assert r.status_code == 422
    status = r.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid" and status["code"] == 422
    assert 'compute template "no-such-template" not found' in status["message"]
    assert 'worker group "gpu-group"' in status["message"]
    assert status["details"]["kind"] == "RayJob" and status["details"]["name"] == "j1"
    assert [c["field"] for c in status["details"]["causes"]] == [
        "spec.rayClusterSpec.workerGroupSpecs[0].computeTemplate"
    ]
    # A failed request changes nothing.
    assert http.get(f"{fakekube_url}/apis/ray.io/v1/namespaces/{templates}/rayjobs/j1").status_code == 404


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cpu", "lots"),
        ("memory", "4Gi"),
        ("memory_unit", "parsecs"),
        ("gpu", "-1"),
        ("extended_resources", "{not json"),
        ("tolerations", '[{"key": "a", "operator": "Sometimes"}]'),
    ],
)
def test_malformed_template_is_422_naming_the_key(
    gateway_url: str, fakekube_url: str, namespace: str, http: httpx.Client, key: str, value: str
) -> None:
    # Made directly in fakekube: the gateway itself refuses malformed templates (test below).
    cm = template_configmap("broken", **{**SMALL_TEMPLATE, key: value})
    assert http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps", json=cm).status_code == 201
    r = http.post(
        f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
        json=ray_object("RayCluster", "m1", cluster_spec("broken", None)),
    )
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert f'malformed "{key}"' in r.json()["message"] and "head group" in r.json()["message"]
    r = http.post(
        f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps",
        json=template_configmap("b2", **{**SMALL_TEMPLATE, key: value}),
    )
    # The path as field.Path words a map key (k8s.io/apimachinery/pkg/util/validation/field).
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == f"data[{key}]"


def test_template_configmaps_managed_through_the_gateway(
    gateway_url: str, fakekube_url: str, templates: str, http: httpx.Client
) -> None:
    ns = templates
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"}, "data": {"k": "v"}}
    assert http.post(f"{fakekube_url}/api/v1/namespaces/{ns}/configmaps", json=other).status_code == 201
    cms = f"{gateway_url}/api/v1/namespaces/{ns}/configmaps"
    listed = http.get(cms).json()
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["gpu", "small"]
    # The caller's selector cannot widen the forced one.
    r = http.get(cms, params={"labelSelector": "!ray.io/config-type"})
    assert r.status_code == 200 and r.json()["items"] == []
    assert http.get(f"{cms}/gpu").json()["data"]["gpu"] == "2"
    for method in ("GET", "DELETE"):
        r = http.request(method, f"{cms}/app-config")
        assert r.status_code == 404 and r.json()["reason"] == "NotFound", method
    assert http.get(f"{fakekube_url}/api/v1/namespaces/{ns}/configmaps/app-config").status_code == 200
    r = http.post(cms, json={**other, "metadata": {"name": "sneaky"}})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert fields[:2] == ["metadata.labels[ray.io/config-type]", "data[k]"]
    # The name label is filled in when the caller leaves it out.
    bare = template_configmap("bare", **SMALL_TEMPLATE)
    del bare["metadata"]["labels"]["ray.io/compute-template"]
    assert http.post(cms, json=bare).json()["metadata"]["labels"]["ray.io/compute-template"] == "bare"
    # Replace: allowed while the label stays, with valid data.
    gpu = http.get(f"{cms}/gpu").json()
    gpu["data"]["gpu"] = "4"
    r = http.put(f"{cms}/gpu", json=gpu)
    assert r.status_code == 200 and r.json()["data"]["gpu"] == "4"
    unlabelled = {**r.json(), "metadata": {**r.json()["metadata"], "labels": {}}}
    assert http.put(f"{cms}/gpu", json=unlabelled).status_code == 422
    # A valid template body over an unlabelled ConfigMap: 404, as if it did not exist (an invalid
    # body is a 422 whether the target exists or not, so that answer reveals nothing either).
    assert (
        http.put(f"{cms}/app-config", json=template_configmap("app-config", **SMALL_TEMPLATE)).status_code
        == 404
    )
    assert (
        http.put(f"{cms}/app-config", json={**other, "metadata": {"name": "app-config"}}).status_code == 422
    )
    assert http.put(f"{cms}/absent", json={**other, "metadata": {"name": "absent"}}).status_code == 422
    # Deletes carry the checked ConfigMap's uid as a precondition; a caller's own one is kept.
    wrong = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "not-the-uid"}}
    r = http.request("DELETE", f"{cms}/small", json=wrong)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert http.delete(f"{cms}/small").status_code == 200
    assert http.get(f"{cms}/small").status_code == 404


def test_kuberay_v1_compute_templates_round_trip(
    gateway_url: str, fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    v1 = f"{gateway_url}/apis/v1/namespaces/{namespace}/compute_templates"
    template = {
        "name": "v1-gpu",
        "namespace": namespace,
        "cpu": 8,
        "memory": 32,
        "gpu": 1,
        "gpuAccelerator": "nvidia.com/gpu",
        "extendedResources": {"vpc.amazonaws.com/efa": 2},
        "tolerations": [{"key": "ray", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        "memoryUnit": "Gi",
    }
    r = http.post(v1, json=template)
    assert r.status_code == 200, r.text
    assert r.json() == template
    assert http.get(f"{v1}/v1-gpu").json() == template
    again = http.post(v1, json=template)
    assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists"
    assert http.get(v1).json() == {"computeTemplates": [template]}
    assert template in http.get(f"{gateway_url}/apis/v1/compute_templates").json()["computeTemplates"]
    # Stored in KubeRay's ConfigMap layout.
    cm = http.get(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps/v1-gpu").json()
    assert cm["metadata"]["labels"] == {
        "ray.io/config-type": "compute-template",
        "ray.io/compute-template": "v1-gpu",
    }
    assert cm["data"]["cpu"] == "8" and cm["data"]["memory"] == "32" and cm["data"]["gpu"] == "1"
    assert json.loads(cm["data"]["tolerations"]) == template["tolerations"]
    assert json.loads(cm["data"]["extended_resources"]) == {"vpc.amazonaws.com/efa": 2}
    # proto field names are accepted too; zero values are omitted on output, as protojson does.
    r = http.post(v1, json={"name": "snake", "cpu": 2, "memory": 4, "gpu_accelerator": "amd.com/gpu"})
    assert r.json() == {
        "name": "snake",
        "namespace": namespace,
        "cpu": 2,
        "memory": 4,
        "gpuAccelerator": "amd.com/gpu",
        "memoryUnit": "Gi",
    }
    # A template made as a ConfigMap (KubeRay V2 style) reads back through V1 and is usable by clusters.
    r = http.post(
        f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps",
        json=template_configmap("cm-made", **SMALL_TEMPLATE),
    )
    assert http.get(f"{v1}/cm-made").json()["memoryUnit"] == "Mi"
    r = http.post(
        f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
        json=ray_object("RayCluster", "v1c", cluster_spec("v1-gpu", "cm-made")),
    )
    assert r.status_code == 201
    assert (
        r.json()["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "nvidia.com/gpu"
        ]
        == "1"
    )
    # Errors are Status objects naming the field.
    r = http.post(v1, json={"name": "bad", "cpu": "many", "memory": 1})
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "cpu"
    assert http.delete(f"{v1}/v1-gpu").json() == {}
    r = http.get(f"{v1}/v1-gpu")
    assert r.status_code == 404 and r.json()["kind"] == "Status"
