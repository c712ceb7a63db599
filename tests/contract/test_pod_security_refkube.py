"""The gateway's Pod Security Standards verdicts against the real PodSecurity admission plugin.

refkube is kube-apiserver with its default admission plugins, PodSecurity among them. A Pod created
in a namespace labelled ``pod-security.kubernetes.io/enforce=<level>`` gets the plugin's verdict:
201, or 403 ``pods "p" is forbidden: violates PodSecurity "<level>:latest": <detail>``. Each pod
below (one per check, then generated ones) is created there, and the gateway's
:func:`handler.pod_security.check_pod` must give the same verdict and the same detail text.
Finally the gateway itself (``--pod-security baseline``) in front of refkube refuses the issue's
RayCluster with the plugin's detail for its head pod."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from handler.pod_security import check_pod, forbidden_detail
from tests.contract.client import RefKube, Target
from tests.contract.targets import _gateway
from tests.handler.pss_cases import CASES, GOOD_POD, changed, valid_pods

LEVELS = ("baseline", "restricted")
#: Cases kube-apiserver's Pod validation refuses before admission (422), with its reason.
NOT_VALID_AS_PODS = {
    "windows hostProcess": "hostProcess pods must use hostNetwork and every container must be hostProcess",
    "privileged": "refkube keeps kube-apiserver's --allow-privileged=false: privileged is invalid",
    "procMount": "`hostUsers` must be false to use `Unmasked`",
}
_VERDICT = re.compile(r'^pods "[^"]+" is forbidden: violates PodSecurity "(\w+):latest": (.*)$', re.S)


@pytest.fixture(scope="module")
def admin(refkube: RefKube) -> Iterator[httpx.Client]:
    """A client of refkube as its admin."""
    with refkube.target.client() as c:
        yield c


@pytest.fixture(scope="module")
def enforcing(admin: httpx.Client) -> dict[str, str]:
    """level → a namespace labelled ``pod-security.kubernetes.io/enforce=<level>`` (latest)."""
    out = {}
    for level in LEVELS:
        name = f"pss-{level}-{uuid.uuid4().hex[:8]}"
        labels = {
            "pod-security.kubernetes.io/enforce": level,
            "pod-security.kubernetes.io/enforce-version": "latest",
        }
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        r = admin.post("/api/v1/namespaces", json=body)
        assert r.status_code == 201, r.text
        out[level] = name
    return out


def real_verdict(
    admin: httpx.Client, namespace: str, meta: dict[str, Any], spec: dict[str, Any]
) -> str | None:
    """The plugin's detail for this pod in ``namespace`` (None: admitted). Fails on any other
    answer (a pod Pod validation refuses would not test admission)."""
    name = f"p-{uuid.uuid4().hex[:10]}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {**copy.deepcopy(meta), "name": name}, "spec": spec}
    r = admin.post(f"/api/v1/namespaces/{namespace}/pods", json=pod)
    if r.status_code == 201:
        admin.delete(f"/api/v1/namespaces/{namespace}/pods/{name}", params={"gracePeriodSeconds": "0"})
        return None
    assert r.status_code == 403, f"{r.status_code} {r.text}"
    m = _VERDICT.match(r.json()["message"])
    assert m, r.json()["message"]
    return m.group(2)


def ours(level: str, meta: dict[str, Any], spec: dict[str, Any]) -> str | None:
    found = check_pod(level, meta, spec)
    return forbidden_detail(found) if found else None


@pytest.mark.parametrize("level", LEVELS)
def test_the_good_pod_is_admitted_by_both(admin: httpx.Client, enforcing: dict[str, str], level: str) -> None:
    assert real_verdict(admin, enforcing[level], {}, copy.deepcopy(GOOD_POD)) is None
    assert ours(level, {}, copy.deepcopy(GOOD_POD)) is None


@pytest.mark.parametrize("name", sorted(set(CASES) - set(NOT_VALID_AS_PODS)))
@pytest.mark.parametrize("level", LEVELS)
def test_each_check_matches_the_plugin(
    admin: httpx.Client, enforcing: dict[str, str], level: str, name: str
) -> None:
    meta, spec = changed(name)
    assert ours(level, meta, spec) == real_verdict(admin, enforcing[level], meta, spec)


@pytest.mark.parametrize("name", sorted(NOT_VALID_AS_PODS))
def test_cases_left_out_are_refused_by_pod_validation(
    admin: httpx.Client, enforcing: dict[str, str], name: str
) -> None:
    """The cases not compared are left out because Pod validation refuses them (422), not admission."""
    meta, spec = changed(name)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "name": "invalid"}, "spec": spec}
    r = admin.post(f"/api/v1/namespaces/{enforcing['baseline']}/pods", json=pod)
    assert r.status_code == 422, r.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pod=valid_pods(allow_privileged=False))
def test_generated_pods_match_the_plugin(
    admin: httpx.Client, enforcing: dict[str, str], pod: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    meta, spec = pod
    for level in LEVELS:
        assert ours(level, meta, spec) == real_verdict(admin, enforcing[level], meta, spec), level


@pytest.fixture(scope="module")
def baseline_gateway(
    request: pytest.FixtureRequest, refkube: RefKube, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The gateway with ``--pod-security baseline`` in front of refkube (its admin token and CA)."""
    ref = refkube.target
    token = tmp_path_factory.mktemp("pss-gateway") / "token"
    token.write_text(ref.token or "")
    extra = ["--token-file", str(token), "--ca-file", str(ref.verify), "--pod-security", "baseline"]
    yield from _gateway(request, ref.url, "gateway-refkube-baseline", ref, extra)


def test_the_gateway_refuses_the_issue_raycluster_with_the_plugins_words(
    baseline_gateway: Target, admin: httpx.Client, enforcing: dict[str, str]
) -> None:
    pod = {
        "hostNetwork": True,
        "hostPID": True,
        "serviceAccountName": "default",
        "containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    }
    real = real_verdict(admin, enforcing["baseline"], {}, copy.deepcopy(pod))
    assert real is not None
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "pwn"},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": pod}}},
    }
    with baseline_gateway.client() as c:
        r = c.post("/apis/ray.io/v1/namespaces/kube-system/rayclusters", json=obj)
    assert r.status_code == 403, r.text
    assert r.json()["message"] == (
        f'rayclusters.ray.io "pwn" is forbidden: violates PodSecurity "baseline:latest": '
        f"spec.headGroupSpec.template: {real}"
    )
    assert admin.get("/apis/ray.io/v1/namespaces/kube-system/rayclusters/pwn").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "pinned"),
    [
        (
            "application/merge-patch+json",
            lambda rv: {"metadata": {"labels": {"x": "y"}, "resourceVersion": rv}},
        ),
        (
            "application/json-patch+json",
            lambda rv: [
                {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
                {"op": "add", "path": "/metadata/resourceVersion", "value": rv},
            ],
        ),
        (
            "application/apply-patch+yaml",
            lambda rv: {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "metadata": {"name": "pin", "labels": {"x": "y"}, "resourceVersion": rv},
            },
        ),
    ],
)
def test_the_pin_the_gateway_adds_to_a_patch_is_a_precondition_on_the_real_server(
    admin: httpx.Client, enforcing: dict[str, str], content_type: str, pinned: Any
) -> None:
    """The gateway pins a checked patch to the checked resourceVersion (handler.pod_security); on
    kube-apiserver each pinned form fails with 409 once the object has moved on."""
    ns = enforcing["baseline"]
    url = f"/apis/ray.io/v1/namespaces/{ns}/rayclusters"
    name = "pin"
    admin.delete(f"{url}/{name}")
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": copy.deepcopy(GOOD_POD)}}},
    }
    created = admin.post(url, json=obj)
    assert created.status_code == 201, created.text
    old = created.json()["metadata"]["resourceVersion"]
    moved = admin.patch(
        f"{url}/{name}",
        content=json.dumps({"metadata": {"annotations": {"moved": "on"}}}),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert moved.status_code == 200
    r = admin.patch(
        f"{url}/{name}",
        content=json.dumps(pinned(old)),
        headers={"content-type": content_type},
        params={"fieldManager": "pin-test"},
    )
    assert r.status_code == 409 and r.json()["reason"] == "Conflict", r.text
    current = moved.json()["metadata"]["resourceVersion"]
    r = admin.patch(
        f"{url}/{name}",
        content=json.dumps(pinned(current)),
        headers={"content-type": content_type},
        params={"fieldManager": "pin-test"},
    )
    assert r.status_code == 200, r.text
