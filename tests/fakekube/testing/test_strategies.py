"""``fakekube.strategies`` used as a user would: drawn objects and selectors against a mocked fakekube."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client, config

import fakekube
from fakekube.strategies import (
    Operation,
    Requirement,
    invalid_label_selectors,
    label_selectors,
    label_sets,
    operations,
    ray_objects,
)

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}


@pytest.fixture(scope="module")
def mocked() -> Any:
    with fakekube.mock() as m:
        config.load_kube_config()
        yield m


@FEW
@given(st.sampled_from(sorted(KINDS)).flatmap(ray_objects))
def test_drawn_ray_objects_are_accepted_by_fakekube(mocked: Any, obj: dict[str, Any]) -> None:
    mocked.reset()
    plural = KINDS[obj["kind"]]
    created = client.CustomObjectsApi().create_namespaced_custom_object(
        "ray.io", "v1", "default", plural, obj
    )
    assert created["metadata"]["name"] == obj["metadata"]["name"]


@FEW
@given(label_selectors(), st.lists(label_sets(), min_size=1, max_size=5, unique_by=repr))
def test_drawn_selectors_select_what_the_model_says(
    mocked: Any, selector: tuple[str, list[Requirement]], labelsets: list[dict[str, str]]
) -> None:
    mocked.reset()
    text, reqs = selector
    for i, labels in enumerate(labelsets):
        mocked.seed(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "labels": labels}}
        )
    got = {o["metadata"]["name"] for o in mocked.list("configmaps", label_selector=text)}
    want = {f"c{i}" for i, labels in enumerate(labelsets) if all(r.matches(labels) for r in reqs)}
    assert got == want, text


@FEW
@given(invalid_label_selectors())
def test_drawn_invalid_selectors_get_400_with_the_message(mocked: Any, bad: tuple[str, str]) -> None:
    text, message = bad
    with pytest.raises(client.ApiException) as e:
        client.CoreV1Api().list_namespaced_config_map("default", label_selector=text)
    status = json.loads(e.value.body)
    assert e.value.status == 400 and status["reason"] == "BadRequest"
    assert status["message"].startswith(message), (text, status["message"])


@FEW
@given(st.lists(operations(), max_size=12))
def test_operation_sequences_keep_the_resource_version_increasing(mocked: Any, ops: list[Operation]) -> None:
    mocked.reset()
    last = 0
    exists: set[str] = set()
    rv_of: dict[str, int] = {}
    for op in ops:
        method, path, body, ctype = op.request("/apis/ray.io/v1/namespaces/default/rayclusters")
        try:
            out = mocked.request(method, path, body or None, content_type=ctype)
        except fakekube.testing.FakeKubeError as e:
            # 409: create of an existing name; 404: anything else on a missing one.
            assert e.code == (409 if op.name in exists else 404), (op, e.status)
            continue
        assert op.kind == "create" or op.name in exists, op
        if op.kind == "delete":
            exists.discard(op.name)
            continue
        rv = int(out["metadata"]["resourceVersion"])
        # A write that changes nothing (the same label again) answers the object as it was.
        assert rv > last or rv == rv_of.get(op.name), (op, rv, last)
        last, rv_of[op.name] = max(last, rv), rv
        exists.add(op.name)
    assert {o["metadata"]["name"] for o in mocked.list("RayCluster")} == exists
