"""The KubeRay quick start done with ``curl`` through the gateway over fakekube, and selectors.

For each of the RayCluster, RayJob and RayService samples from ``../shared/kuberay/samples``: POST it
as YAML, GET it, add an annotation with a merge patch, DELETE it, GET answers 404.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

RAY_KINDS = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}


def curl(*args: str, data: str | None = None) -> tuple[int, Any]:
    """Run ``curl -s`` with ``args``; return (HTTP status, decoded JSON body or None)."""
    out = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", *args],
        input=data.encode() if data is not None else None,
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout.decode()
    body, _, code = out.rpartition("\n")
    return int(code), json.loads(body) if body.strip() else None


def ray_document(path: Path) -> tuple[str, dict[str, Any]]:
    """The Ray object of a (possibly multi-document) sample file, as YAML text and as a dict."""
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") in RAY_KINDS:
            return yaml.safe_dump(doc), doc
    raise AssertionError(f"no Ray object in {path}")


@pytest.mark.parametrize(
    "sample",
    ["ray-cluster.sample.yaml", "ray-job.sample.yaml", "ray-service.sample.yaml", "ray-cronjob.sample.yaml"],
)
def test_quick_start_with_curl(gateway_url: str, namespace: str, kuberay_dir: Path, sample: str) -> None:
    text, doc = ray_document(kuberay_dir / "samples" / sample)
    plural, name = RAY_KINDS[doc["kind"]], doc["metadata"]["name"]
    collection = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/{plural}"

    code, created = curl(
        "-X", "POST", "-H", "Content-Type: application/yaml", "--data-binary", "@-", collection, data=text
    )
    assert code == 201, created
    assert created["kind"] == doc["kind"] and created["metadata"]["name"] == name
    assert created["metadata"]["namespace"] == namespace and created["metadata"]["uid"]

    code, got = curl(f"{collection}/{name}")
    assert code == 200
    assert got["spec"] == created["spec"] and got["metadata"]["uid"] == created["metadata"]["uid"]

    patch = json.dumps({"metadata": {"annotations": {"example.com/owner": "quickstart"}}})
    code, patched = curl(
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/merge-patch+json",
        "--data-binary",
        patch,
        f"{collection}/{name}",
    )
    assert code == 200, patched
    assert patched["metadata"]["annotations"]["example.com/owner"] == "quickstart"
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    code, _ = curl("-X", "DELETE", f"{collection}/{name}")
    assert code == 200

    code, status = curl(f"{collection}/{name}")
    assert code == 404
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["details"]["name"] == name and status["details"]["group"] == "ray.io"


def _cluster(name: str, env: str) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "labels": {"env": env}},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}
                },
            }
        },
    }


def test_label_and_field_selectors(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    for name, env in [("raycluster-prod", "prod"), ("raycluster-prod-2", "prod"), ("raycluster-dev", "dev")]:
        assert http.post(base, json=_cluster(name, env)).status_code == 201
    r = http.get(base + "?labelSelector=env%3Dprod&fieldSelector=metadata.name%3Draycluster-prod")
    assert r.status_code == 200
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["raycluster-prod"]
    r = http.get(base, params={"labelSelector": "env=prod"})
    assert sorted(i["metadata"]["name"] for i in r.json()["items"]) == [
        "raycluster-prod",
        "raycluster-prod-2",
    ]
    r = http.get(base, params={"labelSelector": "env in (prod,dev),env!=prod"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["raycluster-dev"]
    # Cluster-wide list through the gateway, narrowed to this namespace by field selector.
    r = http.get(
        f"{gateway_url}/apis/ray.io/v1/rayclusters",
        params={"fieldSelector": f"metadata.namespace={namespace}"},
    )
    assert len(r.json()["items"]) == 3
    # A bad selector is the upstream's 400 Status, relayed unchanged.
    r = http.get(base, params={"labelSelector": "env in (prod"})
    assert r.status_code == 400 and r.json()["kind"] == "Status" and r.json()["reason"] == "BadRequest"


def test_refused_core_paths(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    for path in (
        f"/api/v1/namespaces/{namespace}/secrets",
        f"/api/v1/namespaces/{namespace}/services",
        "/api/v1/namespaces",
    ):
        r = http.get(gateway_url + path)
        assert r.status_code == 404 and r.json()["reason"] == "NotFound", path
    # ConfigMaps are served for compute templates only (tests/templates): any other is refused.
    r = http.post(f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps", json={"metadata": {"name": "x"}})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert r.json()["details"]["causes"][0]["field"] == "metadata.labels[ray.io/config-type]"
