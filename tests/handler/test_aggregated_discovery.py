"""Aggregated discovery (``apidiscovery.k8s.io/v2``) through the gateway over fakekube: ``/api`` and
``/apis`` answer an ``APIGroupDiscoveryList`` filtered to what the gateway serves, so kubectl on a
cold cache learns every resource in two requests, and ``kubectl api-resources`` / ``get`` work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from handler.discovery_filter import AGGREGATED_V2, CORE_RESOURCES, filter_aggregated
from tests.handler.gateway_procs import GatewayFactory

KUBECTL = str(Path(sys.executable).parent / "kubectl")
#: What kubectl 1.37 sends for discovery (client-go ``acceptDiscoveryFormats``).
KUBECTL_ACCEPT = f"{AGGREGATED_V2},application/json"


def resources_by_gv(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(group, version): {resource: entry}}`` of an aggregated document."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for item in doc["items"]:
        for v in item["versions"]:
            out[(item["metadata"]["name"], v["version"])] = {r["resource"]: r for r in v["resources"]}
    return out


@pytest.mark.parametrize("root", ["/api", "/apis"])
def test_aggregated_discovery_is_filtered_to_what_is_served(
    fakekube_url: str, gateway_url: str, http: httpx.Client, root: str
) -> None:
    full = http.get(fakekube_url + root, headers={"Accept": KUBECTL_ACCEPT})
    got = http.get(gateway_url + root, headers={"Accept": KUBECTL_ACCEPT})
    assert got.status_code == 200
    assert got.headers["content-type"] == AGGREGATED_V2  # what tells client-go it is aggregated
    doc = got.json()
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    served, upstream = resources_by_gv(doc), resources_by_gv(full.json())
    if root == "/api":
        assert list(served) == [("", "v1")]
        assert set(served["", "v1"]) <= {"pods", "configmaps", "services", "events"}
        assert "namespaces" in upstream["", "v1"] and "namespaces" not in served["", "v1"]
        assert served["", "v1"]["events"]["verbs"] == ["list", "watch"]
        assert served["", "v1"]["configmaps"]["verbs"] == CORE_RESOURCES["configmaps"]
    else:
        assert list(served) == [("events.k8s.io", "v1"), ("ray.io", "v1")]
        assert ("ray.io", "v1alpha1") in upstream  # the CRDs serve it; the gateway does not
        assert served["ray.io", "v1"] == upstream["ray.io", "v1"]  # every Ray resource, whole
        assert list(served["events.k8s.io", "v1"]) == ["events"]
    for gv, entries in served.items():  # anything else is the upstream's entry, verbs narrowed
        for name, entry in entries.items():
            want = upstream[gv][name]
            assert {k: v for k, v in entry.items() if k not in ("verbs", "subresources")} == {
                k: v for k, v in want.items() if k not in ("verbs", "subresources")
            }
            assert set(entry["verbs"]) <= set(want["verbs"])


def test_legacy_discovery_is_still_answered(gateway_url: str, http: httpx.Client) -> None:
    """A caller asking for legacy discovery (or for an aggregated version the gateway does not
    answer) gets the legacy documents, never the upstream's own form unfiltered."""
    for accept in (
        "application/json",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
    ):
        r = http.get(gateway_url + "/apis", headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert {g["name"] for g in r.json()["groups"]} == {"ray.io", "events.k8s.io"}
        assert http.get(gateway_url + "/api", headers={"Accept": accept}).json()["kind"] == "APIVersions"


def test_the_filter_drops_groups_versions_and_resources_not_served() -> None:
    def res(name: str, *subs: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"resource": name, "verbs": ["get", "create"], "responseKind": {"kind": "K"}}
        if subs:
            entry["subresources"] = [{"subresource": s, "verbs": ["get", "create"]} for s in subs]
        return entry

    doc = {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "items": [
            {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
                res("pods", "log", "exec", "status"), res("services", "proxy", "status"), res("secrets"),
            ]}]},
            {"metadata": {"name": "apps"}, "versions": [
                {"version": "v1", "resources": [res("deployments")]},
            ]},
            {"metadata": {"name": "ray.io"}, "versions": [
                {"version": "v1", "resources": [res("rayjobs", "status")]},
                {"version": "v1alpha1", "resources": [res("rayjobs")]},
            ]},
        ],
    }  # fmt: skip
    out = filter_aggregated(doc)
    assert [i["metadata"]["name"] for i in out["items"]] == ["", "ray.io"]
    core = out["items"][0]["versions"][0]["resources"]
    assert [
        (r["resource"], r["verbs"], [s["subresource"] for s in r.get("subresources", [])]) for r in core
    ] == [
        ("pods", ["get", "list", "watch"], ["log"]),
        ("services", [], ["proxy"]),  # only its proxy: no verbs of its own
    ]
    assert core[0]["subresources"][0]["verbs"] == ["get"]
    assert core[1]["subresources"][0]["verbs"] == ["get", "create"]  # the proxy keeps the upstream's verbs
    assert [v["version"] for v in out["items"][1]["versions"]] == ["v1"]
    assert out["items"][1]["versions"][0]["resources"] == [res("rayjobs", "status")]


def kubectl_cold(gateway: str, home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run kubectl against ``gateway`` with an empty discovery cache (``-v=6`` logs each request);
    returns the process and the paths it requested, in order."""
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(home / "none")}
    p = subprocess.run(
        [KUBECTL, "--server", gateway, "--cache-dir", str(home / "cache"), "-v=6", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    paths = re.findall(r'"Response" verb="GET" url="https?://[^/"]+(/[^?"]*)', p.stderr)
    return p, paths


def discovery_count(http: httpx.Client, gateway: str) -> float:
    """The gateway's ``discovery`` route requests so far (its Prometheus counter)."""
    text = http.get(gateway + "/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kuberay_apiserver_requests_total{") and 'route="discovery"' in line
    )


def test_kubectl_on_a_cold_cache_discovers_in_two_requests(
    fakekube_url: str, gateway_factory: GatewayFactory, http: httpx.Client, tmp_path: Path
) -> None:
    gateway = gateway_factory(fakekube_url)
    before = discovery_count(http, gateway)
    p, paths = kubectl_cold(gateway, tmp_path, "get", "rayclusters", "-A")
    assert p.returncode == 0, p.stderr
    assert discovery_count(http, gateway) - before == 2  # /api and /apis, nothing per group-version
    assert paths[:2] == ["/api", "/apis"], paths
    assert paths[2:] == ["/apis/ray.io/v1/rayclusters"], paths

    resources, _ = kubectl_cold(gateway, tmp_path / "again", "api-resources", "--no-headers")
    assert resources.returncode == 0, resources.stderr
    names = {line.split()[0] for line in resources.stdout.splitlines()}
    assert {"rayclusters", "rayjobs", "rayservices", "events", "configmaps"} <= names
    assert not names & {"secrets", "deployments", "services", "namespaces"}
