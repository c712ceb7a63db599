"""The gateway in front of refkube (a real kube-apiserver) compared with refkube itself, for what
issue 15 added: aggregated discovery filtered to what the gateway serves (each entry kept must be
refkube's own, verbs narrowed), kubectl discovering in two requests on a cold cache, and Ray pods
read-only (only labelled pods, refkube's own answers for them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.contract.client import Target, create_namespace

KUBECTL = str(Path(sys.executable).parent / "kubectl")
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
ACCEPT = f"{AGGREGATED_V2},application/json"
RAY_LABELS = {"ray.io/is-ray-node": "yes", "ray.io/cluster": "c", "ray.io/node-type": "head"}


def by_gv(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(group, version): {resource: entry}}`` of an aggregated discovery document."""
    return {
        (item["metadata"].get("name", ""), v["version"]): {r["resource"]: r for r in v["resources"]}
        for item in doc["items"]
        for v in item["versions"]
    }


def aggregated(target: Target, root: str) -> dict[str, Any]:
    with target.client() as c:
        r = c.get(root, headers={"Accept": ACCEPT})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == AGGREGATED_V2
    doc: dict[str, Any] = r.json()
    return doc


def test_aggregated_discovery_entries_are_refkubes(refkube: Any, gateway_refkube_target: Target) -> None:
    ref = {**by_gv(aggregated(refkube.target, "/api")), **by_gv(aggregated(refkube.target, "/apis"))}
    gw_api, gw_apis = aggregated(gateway_refkube_target, "/api"), aggregated(gateway_refkube_target, "/apis")
    got = {**by_gv(gw_api), **by_gv(gw_apis)}
    assert sorted(got) == [("", "v1"), ("events.k8s.io", "v1"), ("ray.io", "v1")]
    assert sorted(got["", "v1"]) == ["configmaps", "events", "pods", "services"]
    assert sorted(got["ray.io", "v1"]) == ["rayclusters", "raycronjobs", "rayjobs", "rayservices"]
    assert got["ray.io", "v1"] == ref["ray.io", "v1"]  # Ray resources as refkube lists them
    pods = got["", "v1"]["pods"]
    assert pods["verbs"] == ["get", "list", "watch"]
    assert [(s["subresource"], s["verbs"]) for s in pods["subresources"]] == [("log", ["get"])]
    services = got["", "v1"]["services"]
    assert services["verbs"] == [] and [s["subresource"] for s in services["subresources"]] == ["proxy"]
    for gv, entries in got.items():
        for name, entry in entries.items():
            want = ref[gv][name]
            same = {k: v for k, v in entry.items() if k not in ("verbs", "subresources")}
            assert same == {k: v for k, v in want.items() if k not in ("verbs", "subresources")}, name
            assert set(entry["verbs"]) <= set(want["verbs"]), name
            wanted_subs = {s["subresource"]: s for s in want.get("subresources", [])}
            for sub in entry.get("subresources", []):
                w = wanted_subs[sub["subresource"]]
                assert {k: v for k, v in sub.items() if k != "verbs"} == {
                    k: v for k, v in w.items() if k != "verbs"
                }
                assert set(sub["verbs"]) <= set(w["verbs"])
    # Groups keep refkube's order (the order kubectl resolves short names in).
    ref_order = [i["metadata"].get("name", "") for i in aggregated(refkube.target, "/apis")["items"]]
    got_order = [i["metadata"].get("name", "") for i in gw_apis["items"]]
    assert got_order == [g for g in ref_order if g in got_order]


def test_kubectl_discovers_in_two_requests_through_the_gateway(
    gateway_refkube_target: Target, tmp_path: Path
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}

    def kubectl(cache: str, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        argv = [KUBECTL, "--server", gateway_refkube_target.url, "--cache-dir", str(tmp_path / cache), "-v=6"]
        p = subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=60)
        return p, re.findall(r'"Response" verb="GET" url="https?://[^/"]+(/[^?"]*)', p.stderr)

    got, paths = kubectl("a", "get", "rayclusters", "-A")
    assert got.returncode == 0, got.stderr
    assert paths == ["/api", "/apis", "/apis/ray.io/v1/rayclusters"]
    resources, _ = kubectl("b", "api-resources", "--no-headers")
    assert resources.returncode == 0, resources.stderr
    names = sorted({line.split()[0] for line in resources.stdout.splitlines()})
    assert names == ["configmaps", "events", "pods", "rayclusters", "raycronjobs", "rayjobs", "rayservices"]


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]},
    }


def test_ray_pods_through_the_gateway(refkube: Any, gateway_refkube_target: Target) -> None:
    ns = create_namespace(refkube.target, "pods")
    with refkube.target.client() as admin:
        for name, labels in (("head", RAY_LABELS), ("web", {"app": "web"})):
            r = admin.post(f"/api/v1/namespaces/{ns}/pods", json=_pod(name, labels))
            assert r.status_code == 201, r.text
        direct_log = admin.get(f"/api/v1/namespaces/{ns}/pods/head/log")
    with gateway_refkube_target.client() as gw:
        listed = gw.get(f"/api/v1/namespaces/{ns}/pods")
        assert listed.status_code == 200
        assert [p["metadata"]["name"] for p in listed.json()["items"]] == ["head"]
        narrowed = gw.get(
            f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "ray.io/node-type=worker"}
        )
        assert narrowed.json()["items"] == []
        widened = gw.get("/api/v1/pods", params={"labelSelector": "app=web"})
        assert widened.status_code == 200 and widened.json()["items"] == []
        head = gw.get(f"/api/v1/namespaces/{ns}/pods/head")
        assert head.status_code == 200 and head.json()["metadata"]["labels"] == RAY_LABELS
        assert gw.get(f"/api/v1/namespaces/{ns}/pods/web").status_code == 404
        assert gw.get(f"/api/v1/namespaces/{ns}/pods/web/log").status_code == 404
        # a Ray pod's log: refkube's own answer (no kubelet here: refkube says why it has none)
        log = gw.get(f"/api/v1/namespaces/{ns}/pods/head/log")
        assert (log.status_code, log.text) == (direct_log.status_code, direct_log.text), direct_log.headers
        assert gw.delete(f"/api/v1/namespaces/{ns}/pods/head").status_code == 405
        assert gw.get(f"/api/v1/namespaces/{ns}/pods/head/exec").status_code == 404


def test_only_v2beta1_asked_is_answered_legacy_as_refkube_does(
    refkube: Any, gateway_refkube_target: Target
) -> None:
    """kube-apiserver 1.37 no longer serves ``apidiscovery.k8s.io/v2beta1`` (kubectl before 1.33
    sent it second, after v2): a caller asking for it alone gets the legacy document, from refkube
    and from the gateway alike."""
    accept = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    for target in (refkube.target, gateway_refkube_target):
        with target.client() as c:
            r = c.get("/apis", headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", target.name
        assert r.json()["kind"] == "APIGroupList", target.name
