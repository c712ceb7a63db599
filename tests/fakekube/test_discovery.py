"""Discovery (``/api``, ``/apis``, group and version documents, ``/version``) and the OpenAPI v3 and
v2 documents."""

from __future__ import annotations

from fakekube.testing import Client


def test_discovery(client: Client) -> None:
    assert client.send("GET", "/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in client.send("GET", "/apis").json()["groups"]}
    assert groups == {"ray.io", "events.k8s.io", "apiextensions.k8s.io", "batch"}
    ray = client.send("GET", "/apis/ray.io").json()
    assert ray["preferredVersion"] == {"groupVersion": "ray.io/v1", "version": "v1"}
    assert [v["version"] for v in ray["versions"]] == ["v1", "v1alpha1"]
    res = {r["name"]: r for r in client.send("GET", "/apis/ray.io/v1").json()["resources"]}
    assert set(res) == {
        f"{p}{s}" for p in ("rayclusters", "rayjobs", "rayservices", "raycronjobs") for s in ("", "/status")
    }
    assert res["rayclusters"]["kind"] == "RayCluster" and res["rayclusters"]["namespaced"] is True
    assert "watch" in res["rayclusters"]["verbs"] and res["rayclusters/status"]["verbs"] == [
        "get",
        "patch",
        "update",
    ]
    core = {r["name"] for r in client.send("GET", "/api/v1").json()["resources"]}
    assert {"namespaces", "configmaps", "services", "services/proxy", "events"} <= core
    assert client.send("GET", "/apis/nope.io/v1").status == 404
    assert client.send("GET", "/version").json()["minor"] == "37"


def test_openapi_v3_documents(client: Client) -> None:
    root = client.send("GET", "/openapi/v3").json()
    url = root["paths"]["apis/ray.io/v1"]["serverRelativeURL"]
    path, _, query = url.partition("?")
    doc = client.send("GET", path, query=dict([query.split("=")])).json()
    op = doc["paths"]["/apis/ray.io/v1/namespaces/{namespace}/rayclusters/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    assert client.send("GET", "/openapi/v3/apis/nope.io/v1").status == 404
    v2 = client.send("GET", "/openapi/v2").json()
    assert v2["swagger"] == "2.0" and "spec" in v2["definitions"]["io.ray.v1.RayCluster"]["properties"]
