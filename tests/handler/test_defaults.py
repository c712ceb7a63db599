"""Default values: fill-only merge rules, the defaults file, and precedence through the gateway."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from handler import RequestContext, Settings, create_app, object_hook
from handler.defaults import Defaults, DefaultsError, apply, fill, load, parse
from tests.handler.gateway_procs import GatewayFactory

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defaults.yaml"


def test_fill_never_overwrites_and_merges_lists_by_key() -> None:
    target: dict[str, Any] = {
        "metadata": {"labels": {"team": "mine"}},
        "spec": {
            "suspend": False,  # falsy but written: kept
            "workerGroupSpecs": [{"groupName": "a", "replicas": 2}, {"groupName": "b"}],
            "tolerations": [{"key": "mine"}],
        },
    }
    default = {
        "metadata": {"labels": {"team": "default", "tier": "std"}},
        "spec": {
            "suspend": True,
            "rayVersion": "2.52.0",
            "workerGroupSpecs": [{"groupName": "a", "replicas": 9, "minReplicas": 1}, {"groupName": "z"}],
            "tolerations": [{"key": "default"}],
        },
    }
    fill(target, default)
    assert target["metadata"]["labels"] == {"team": "mine", "tier": "std"}
    assert target["spec"]["suspend"] is False and target["spec"]["rayVersion"] == "2.52.0"
    # Members merged by groupName, the caller's membership kept (no group "z" appears).
    assert target["spec"]["workerGroupSpecs"] == [
        {"groupName": "a", "replicas": 2, "minReplicas": 1},
        {"groupName": "b"},
    ]
    assert target["spec"]["tolerations"] == [{"key": "mine"}]  # atomic list: the caller's
    # A list left unset gets the default whole, and the default itself is never shared.
    empty: dict[str, Any] = {}
    fill(empty, default)
    empty["spec"]["workerGroupSpecs"][0]["replicas"] = 100
    assert default["spec"]["workerGroupSpecs"][0]["replicas"] == 9


def test_group_defaults_reach_head_and_every_worker_group_by_container_name() -> None:
    defaults = load(str(EXAMPLE))
    obj: dict[str, Any] = {
        "kind": "RayJob",
        "spec": {
            "rayClusterSpec": {
                "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}},
                "workerGroupSpecs": [
                    {
                        "groupName": "w1",
                        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "mine"}]}},
                    },
                    {"groupName": "w2", "template": {"spec": {"containers": [{"name": "ray-worker"}]}}},
                ],
            }
        },
    }
    apply(defaults, "rayjobs", obj)
    spec = obj["spec"]["rayClusterSpec"]
    assert spec["rayVersion"] == "2.52.0" and obj["spec"]["shutdownAfterJobFinishes"] is True
    head = spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert head == [
        {
            "name": "ray-head",
            "image": "rayproject/ray:2.52.0",
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
        }
    ]
    w1, w2 = (g["template"]["spec"]["containers"] for g in spec["workerGroupSpecs"])
    assert w1[0]["image"] == "mine" and w1[0]["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}}
    assert w2[0]["image"] == "rayproject/ray:2.52.0"
    assert all(g["rayStartParams"] == {} for g in [spec["headGroupSpec"], *spec["workerGroupSpecs"]])


def test_kind_partial_wins_over_group_defaults() -> None:
    d = parse(
        {
            "kinds": {"RayCluster": {"spec": {"headGroupSpec": {"rayStartParams": {"num-cpus": "0"}}}}},
            "groups": {"rayStartParams": {"num-cpus": "4", "dashboard-host": "0.0.0.0"}},
        }
    )
    obj = apply(d, "rayclusters", {"spec": {"headGroupSpec": {}, "workerGroupSpecs": [{"groupName": "w"}]}})
    assert obj["spec"]["headGroupSpec"]["rayStartParams"] == {"num-cpus": "0", "dashboard-host": "0.0.0.0"}
    assert obj["spec"]["workerGroupSpecs"][0]["rayStartParams"] == {
        "num-cpus": "4",
        "dashboard-host": "0.0.0.0",
    }


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([1, 2], "must be a mapping"),
        ({"kinds": {"Pod": {}}}, "kinds.Pod"),
        ({"kinds": {"RayCluster": "x"}}, "kinds.RayCluster"),
        ({"groups": []}, "groups"),
        ({"defaults": {}}, "unknown sections"),
    ],
)
def test_bad_defaults_documents_are_refused(doc: Any, words: str) -> None:
    with pytest.raises(DefaultsError, match=words):
        parse(doc)


def test_serve_refuses_to_start_with_a_broken_defaults_file(tmp_path: Path) -> None:
    bad = tmp_path / "defaults.yaml"
    bad.write_text("kinds: [unclosed\n")
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "kuberay-apiserver"),
            "serve",
            "--upstream",
            "http://127.0.0.1:9",
            "--defaults",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "is not YAML" in out.stderr


def test_empty_defaults_file_means_no_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load(str(empty)) == Defaults()
    with pytest.raises(DefaultsError, match="cannot read"):
        load(str(tmp_path / "missing.yaml"))


def cluster(name: str) -> dict[str, Any]:
    """A RayCluster leaving rayVersion, labels, images and resources unset, except what it sets."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "labels": {"example.com/managed-by": "me"}},
        "spec": {
            "enableInTreeAutoscaling": False,
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}},
            "workerGroupSpecs": [
                {
                    "groupName": "w",
                    "computeTemplate": "tpl",
                    "template": {"spec": {"containers": [{"name": "ray-worker", "image": "custom:1"}]}},
                }
            ],
        },
    }


def test_defaults_file_through_the_gateway_then_templates(
    gateway_factory: GatewayFactory, fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    url = gateway_factory(fakekube_url, ["--defaults", str(EXAMPLE)])
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tpl", "labels": {"ray.io/config-type": "compute-template"}},
        "data": {"cpu": "3", "memory": "6"},
    }
    assert http.post(f"{url}/api/v1/namespaces/{namespace}/configmaps", json=cm).status_code == 201
    r = http.post(f"{url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=cluster("d1"))
    assert r.status_code == 201, r.text
    stored = http.get(f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters/d1").json()
    assert stored["metadata"]["labels"] == {"example.com/managed-by": "me"}  # the caller's value wins
    assert stored["spec"]["rayVersion"] == "2.52.0"  # filled
    assert stored["spec"]["enableInTreeAutoscaling"] is False  # written false: kept
    head = stored["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == "rayproject/ray:2.52.0" and head["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"}
    }
    worker = stored["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    # Defaults first, then the template: the template's requests replace the default ones.
    assert worker["image"] == "custom:1"
    assert worker["resources"] == {
        "requests": {"cpu": "3", "memory": "6Gi"},
        "limits": {"cpu": "3", "memory": "6Gi"},
    }


def test_order_is_defaults_then_templates_then_user_hooks(
    fakekube_url: str, namespace: str, http: httpx.Client, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []

    @object_hook(["create"], ["ray.io/rayclusters"])
    async def record(ctx: RequestContext, obj: Any) -> Any:
        seen.append(copy.deepcopy(obj))
        return obj

    defaults = tmp_path / "d.yaml"
    defaults.write_text("groups:\n  computeTemplate: tpl\n")  # a default may name a template
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tpl", "labels": {"ray.io/config-type": "compute-template"}},
        "data": {"cpu": "2", "memory": "1"},
    }
    assert http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps", json=cm).status_code == 201
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url, defaults=str(defaults)),
        middleware=[record],
    )
    body = cluster("o1")
    del body["spec"]["workerGroupSpecs"][0]["computeTemplate"]
    with TestClient(app) as c:
        r = c.post(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=body)
    assert r.status_code == 201, r.text
    (obj,) = seen
    head = obj["spec"]["headGroupSpec"]
    assert "computeTemplate" not in head  # the template hook already consumed the default
    assert head["template"]["metadata"]["annotations"] == {"ray.io/compute-template": "tpl"}
    assert head["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
