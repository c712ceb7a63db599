"""``--pod-security`` end to end: the gateway over fakekube refuses (403, the PodSecurity plugin's
words) Ray objects whose pod templates break the level, on create, replace and every patch type,
before anything reaches the cluster; the default (``privileged``) lets the same objects through.

The attack from the issue: a RayCluster with ``hostNetwork``, ``hostPID``, a ``hostPath: /``
volume and a chosen service account, created in ``kube-system``."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.handler.gateway_stub import Reply
from tests.handler.test_readme_templates import section_blocks
from tests.handler.test_templates import PLURAL, ray_object

ATTACK_POD = {
    "hostNetwork": True,
    "hostPID": True,
    "serviceAccountName": "any-service-account",
    "containers": [
        {
            "name": "ray-head",
            "image": "rayproject/ray:2.52.0",
            "volumeMounts": [{"name": "root", "mountPath": "/host"}],
        }
    ],
    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
}
ATTACK_DETAIL = 'host namespaces (hostNetwork=true, hostPID=true), hostPath volumes (volume "root")'
PLAIN_POD = {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}


def cluster(pod: dict[str, Any]) -> dict[str, Any]:
    """A RayCluster spec whose head pod is ``pod``."""
    return {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": copy.deepcopy(pod)}}}


@pytest.fixture
def baseline(gateway_factory: Callable[..., str], fakekube_url: str) -> str:
    """A gateway with ``--pod-security baseline`` in front of the session's fakekube."""
    return gateway_factory(fakekube_url, ["--pod-security", "baseline"])


def test_the_issue_raycluster_is_refused_under_baseline(
    baseline: str, fakekube_url: str, http: httpx.Client
) -> None:
    obj = ray_object("RayCluster", "pwn", cluster(ATTACK_POD))
    r = http.post(f"{baseline}/apis/ray.io/v1/namespaces/kube-system/rayclusters", json=obj)
    assert r.status_code == 403, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["reason"] == "Forbidden"
    assert status["message"] == (
        'rayclusters.ray.io "pwn" is forbidden: violates PodSecurity "baseline:latest": '
        f"spec.headGroupSpec.template: {ATTACK_DETAIL}"
    )
    assert status["details"]["name"] == "pwn" and status["details"]["group"] == "ray.io"
    assert (
        http.get(f"{fakekube_url}/apis/ray.io/v1/namespaces/kube-system/rayclusters/pwn").status_code == 404
    )


def test_the_same_raycluster_is_admitted_under_privileged(
    gateway_url: str, namespace: str, http: httpx.Client
) -> None:
    """The default level checks nothing: the cluster's own admission decides."""
    obj = ray_object("RayCluster", "allowed", cluster(ATTACK_POD))
    r = http.post(f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=obj)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("kind", ["RayCluster", "RayJob", "RayService", "RayCronJob"])
def test_each_kind_is_checked(baseline: str, namespace: str, http: httpx.Client, kind: str) -> None:
    spec = cluster(PLAIN_POD)
    spec["workerGroupSpecs"] = [
        {
            "groupName": "w",
            "replicas": 1,
            "minReplicas": 0,
            "maxReplicas": 1,
            "rayStartParams": {},
            "template": {"spec": copy.deepcopy(ATTACK_POD)},
        }
    ]
    url = f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/{PLURAL[kind]}"
    r = http.post(url, json=ray_object(kind, "k", spec))
    assert r.status_code == 403, r.text
    path = [c["field"] for c in r.json()["details"]["causes"]]
    prefix = {
        "RayCluster": "spec",
        "RayJob": "spec.rayClusterSpec",
        "RayService": "spec.rayClusterConfig",
        "RayCronJob": "spec.jobTemplate.rayClusterSpec",
    }[kind]
    assert path == [f"{prefix}.workerGroupSpecs[0].template"]
    r = http.post(url, json=ray_object(kind, "k", cluster(PLAIN_POD)))
    assert r.status_code == 201, r.text


def test_the_submitter_pod_template_is_checked(baseline: str, namespace: str, http: httpx.Client) -> None:
    job = ray_object("RayJob", "sub", cluster(PLAIN_POD))
    job["spec"]["submitterPodTemplate"] = {"spec": {**copy.deepcopy(PLAIN_POD), "hostIPC": True}}
    r = http.post(f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/rayjobs", json=job)
    assert r.status_code == 403
    assert r.json()["message"].endswith("spec.submitterPodTemplate: host namespaces (hostIPC=true)")


HOST_NETWORK_PATCHES = [
    (
        "application/merge-patch+json",
        {"spec": {"headGroupSpec": {"template": {"spec": {"hostNetwork": True}}}}},
    ),
    (
        "application/json-patch+json",
        [{"op": "add", "path": "/spec/headGroupSpec/template/spec/hostNetwork", "value": True}],
    ),
]


@pytest.mark.parametrize(("content_type", "patch"), HOST_NETWORK_PATCHES)
def test_patches_are_checked_on_their_result(
    baseline: str, fakekube_url: str, namespace: str, http: httpx.Client, content_type: str, patch: Any
) -> None:
    url = f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    assert http.post(url, json=ray_object("RayCluster", "p", cluster(PLAIN_POD))).status_code == 201
    r = http.patch(f"{url}/p", content=json.dumps(patch), headers={"content-type": content_type})
    assert r.status_code == 403, r.text
    assert r.json()["message"].endswith("spec.headGroupSpec.template: host namespaces (hostNetwork=true)")
    stored = http.get(f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters/p").json()
    assert "hostNetwork" not in stored["spec"]["headGroupSpec"]["template"]["spec"]


def test_apply_is_checked_on_its_result(baseline: str, namespace: str, http: httpx.Client) -> None:
    url = f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/rayclusters/applied"
    params = {"fieldManager": "me"}
    headers = {"content-type": "application/apply-patch+yaml"}
    bad = ray_object("RayCluster", "applied", cluster(ATTACK_POD))
    r = http.patch(url, content=json.dumps(bad), headers=headers, params=params)
    assert r.status_code == 403, r.text
    assert http.get(url).status_code == 404
    good = ray_object("RayCluster", "applied", cluster(PLAIN_POD))
    r = http.patch(url, content=json.dumps(good), headers=headers, params=params)
    assert r.status_code == 201, r.text
    r = http.patch(url, content=json.dumps(bad), headers=headers, params=params)
    assert r.status_code == 403, r.text


def test_an_allowed_patch_goes_through_pinned_to_the_checked_version(
    baseline: str, namespace: str, http: httpx.Client
) -> None:
    """A harmless patch lands; the gateway pinned it to the version it checked, so a caller's
    stale resourceVersion still conflicts (the dry-run sees the same conflict)."""
    url = f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    created = http.post(url, json=ray_object("RayCluster", "ok", cluster(PLAIN_POD))).json()
    merge = {"content-type": "application/merge-patch+json"}
    r = http.patch(f"{url}/ok", content=json.dumps({"metadata": {"labels": {"a": "b"}}}), headers=merge)
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"a": "b"}
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"a": "c"}}}
    r = http.patch(f"{url}/ok", content=json.dumps(stale), headers=merge)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"


def test_a_replace_is_checked(baseline: str, namespace: str, http: httpx.Client) -> None:
    url = f"{baseline}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    created = http.post(url, json=ray_object("RayCluster", "r", cluster(PLAIN_POD))).json()
    created["spec"]["headGroupSpec"]["template"]["spec"]["volumes"] = [
        {"name": "root", "hostPath": {"path": "/"}}
    ]
    r = http.put(f"{url}/r", json=created)
    assert r.status_code == 403 and r.json()["message"].endswith('hostPath volumes (volume "root")')


@pytest.mark.parametrize(
    ("content_type", "patch", "pinned"),
    [
        (
            "application/merge-patch+json",
            {"metadata": {"labels": {"a": "b"}}},
            {"metadata": {"labels": {"a": "b"}, "resourceVersion": "42"}},
        ),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
            [
                {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
                {"op": "add", "path": "/metadata/resourceVersion", "value": "42"},
            ],
        ),
        (
            "application/apply-patch+yaml",
            {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "s"}},
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "metadata": {"name": "s", "resourceVersion": "42"},
            },
        ),
    ],
)
def test_a_patch_is_dry_run_then_pinned_to_the_checked_version(
    gateway_factory: Callable[..., str], stub: Any, content_type: str, patch: Any, pinned: Any
) -> None:
    """What the upstream receives: the caller's patch with ``dryRun=All`` (same patch type), then
    the patch made conditional on the resourceVersion of the object that was checked."""
    url = gateway_factory(stub.url, ["--pod-security", "baseline"])
    stub.reset()
    checked = ray_object("RayCluster", "s", cluster(PLAIN_POD))
    checked["metadata"]["resourceVersion"] = "42"
    stub.script(Reply(body=json.dumps(checked).encode()), Reply(body=json.dumps(checked).encode()))
    r = httpx.patch(
        f"{url}/apis/ray.io/v1/namespaces/ns/rayclusters/s?fieldManager=me",
        content=json.dumps(patch),
        headers={"content-type": content_type},
    )
    assert r.status_code == 200, r.text
    dry, real = [s for s in stub.seen if s.method == "PATCH"]
    assert "dryRun=All" in dry.path and "fieldManager=me" in dry.path
    assert json.loads(dry.body) == patch and dry.headers["content-type"] == content_type
    assert "dryRun" not in real.path
    assert json.loads(real.body) == pinned and real.headers["content-type"] == content_type


def test_the_readme_shows_the_refusal_as_the_gateway_words_it(baseline: str, http: httpx.Client) -> None:
    """README, "Policy on Ray objects and compute templates": the issue's RayCluster, verbatim."""
    shown = section_blocks("Policy on Ray objects and compute templates", "")[1].strip()
    obj = ray_object("RayCluster", "pwn", cluster(ATTACK_POD))
    r = http.post(f"{baseline}/apis/ray.io/v1/namespaces/kube-system/rayclusters", json=obj)
    assert r.json()["message"] == shown
