"""CustomResourceDefinitions drive what fakekube serves: the CRD REST API, ``create_app(crds=...)``,
served versions (v1alpha1 from the same objects), names, printer columns, selectable fields,
discovery and OpenAPI built from the CRDs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def widget_crd(**names: Any) -> dict[str, Any]:
    """A small namespaced CRD ``widgets.example.com`` (v1 served+storage, v1beta1 served), with a
    printer column (priority 1), a selectable field, short names and a category."""
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["color"],
                "properties": {
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "size": {"type": "integer", "default": 3},
                },
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    }
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}},
        "additionalPrinterColumns": [
            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "priority": 1},
        ],
        "selectableFields": [{"jsonPath": ".spec.color"}],
    }
    beta = {**copy.deepcopy(version), "name": "v1beta1", "storage": False, "deprecated": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["all"],
                **names,
            },
            "versions": [version, beta],
        },
    }


def widget(name: str, color: str = "red", version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": f"example.com/{version}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"color": color},
    }


def test_crd_post_serves_the_kind_with_its_names_columns_fields_and_schema(client: Client) -> None:
    r = client.send("POST", CRD_PATH, widget_crd())
    assert r.status == 201, r.read()
    crd = r.json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["singular"] == "widget"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["metadata"]["generation"] == 1

    # discovery: both versions, v1 preferred, names from the CRD
    group = client.send("GET", "/apis/example.com").json()
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    res = {x["name"]: x for x in client.send("GET", "/apis/example.com/v1").json()["resources"]}
    assert set(res) == {"widgets", "widgets/status"}
    assert res["widgets"]["shortNames"] == ["wd"] and res["widgets"]["categories"] == ["all"]

    # the schema applies: default filled, enum enforced
    made = client.send("POST", WIDGETS, widget("w1"))
    assert made.status == 201 and made.json()["spec"]["size"] == 3
    bad = client.send("POST", WIDGETS, widget("w2", color="green"))
    assert bad.status == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.color"
    assert client.send("POST", WIDGETS, widget("w3", color="blue")).status == 201

    # selectableFields are field selectors; other fields are refused
    names = [
        i["metadata"]["name"]
        for i in client.send("GET", WIDGETS, query={"fieldSelector": "spec.color=blue"}).json()["items"]
    ]
    assert names == ["w3"]
    assert client.send("GET", WIDGETS, query={"fieldSelector": "spec.size=3"}).status == 400

    # Table: Name, then the printer columns with their priority
    table = client.send(
        "GET", WIDGETS, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    ).json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0),
        ("Color", 0),
        ("Size", 1),
    ]
    assert [row["cells"] for row in table["rows"]] == [["w1", "red", 3], ["w3", "blue", 3]]

    # the CRD is readable and listable like any object
    got = client.send("GET", CRD_PATH + "/widgets.example.com").json()
    assert got["metadata"]["uid"] == crd["metadata"]["uid"]
    listed = {i["metadata"]["name"] for i in client.send("GET", CRD_PATH).json()["items"]}
    assert {"widgets.example.com", "rayclusters.ray.io", "rayjobs.ray.io"} <= listed


def test_crd_yaml_body_and_delete_removes_objects_and_kind(client: Client, app: FakeKube) -> None:
    r = client.send("POST", CRD_PATH, yaml.safe_dump(widget_crd()), content_type="application/yaml")
    assert r.status == 201, r.read()
    assert client.send("POST", WIDGETS, widget("w1")).status == 201
    assert client.send("DELETE", CRD_PATH + "/widgets.example.com").status == 200
    assert app.store.count("widgets.example.com") == 0
    assert client.send("GET", WIDGETS).status == 404
    assert client.send("GET", "/apis/example.com").status == 404
    assert client.send("GET", CRD_PATH + "/widgets.example.com").status == 404
    # installed again, the kind starts empty
    assert client.send("POST", CRD_PATH, widget_crd()).status == 201
    assert client.send("GET", WIDGETS).json()["items"] == []


def test_invalid_crd_is_422_and_changes_nothing(client: Client, app: FakeKube) -> None:
    bad = widget_crd(plural="Widgets")
    rv = app.store.rv
    r = client.send("POST", CRD_PATH, bad)
    assert r.status == 422
    body = r.json()
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "CustomResourceDefinition"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.names.plural"} <= fields
    assert app.store.rv == rv and client.send("GET", "/apis/example.com").status == 404


def test_crd_update_changes_the_served_api(client: Client) -> None:
    crd = client.send("POST", CRD_PATH, widget_crd()).json()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = []
    r = client.send("PUT", CRD_PATH + "/widgets.example.com", crd)
    assert r.status == 200, r.read()
    assert r.json()["metadata"]["generation"] == 2  # a spec change
    table = client.send(
        "GET", WIDGETS, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    ).json()
    # a version without printer columns gets Age (apiextensions tableconvertor)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]


def test_v1alpha1_is_served_from_the_same_objects_with_a_deprecation_warning(client: Client) -> None:
    assert client.send("POST", RC_PATH, raycluster("a")).status == 201
    alpha = RC_PATH.replace("/v1/", "/v1alpha1/")
    r = client.send("GET", alpha + "/a")
    assert r.status == 200 and r.json()["apiVersion"] == "ray.io/v1alpha1"
    # the bundled CRD's deprecationWarning
    deprecated = "ray.io/v1alpha1 RayCluster is deprecated; use ray.io/v1 RayCluster"
    assert r.headers["warning"] == f'299 - "{deprecated}"'
    listed = client.send("GET", alpha).json()
    assert listed["apiVersion"] == "ray.io/v1alpha1" and listed["items"][0]["apiVersion"] == "ray.io/v1alpha1"
    body = raycluster("b")
    body["apiVersion"] = "ray.io/v1alpha1"
    r = client.send("POST", alpha, body)
    assert r.status == 201 and r.json()["apiVersion"] == "ray.io/v1alpha1"
    stored = client.send("GET", RC_PATH + "/b").json()
    assert stored["apiVersion"] == "ray.io/v1" and "warning" not in client.send("GET", RC_PATH + "/b").headers
    # a v1 body posted to the v1alpha1 URL is refused as the real server does
    assert client.send("POST", alpha, raycluster("c")).status == 400


def test_unserved_api_version_in_body_is_400_with_unknown_field_warning(client: Client) -> None:
    body = raycluster("rc")
    body["apiVersion"] = "ray.io/v2"
    r = client.send("POST", RC_PATH, body)
    assert r.status == 400 and r.json()["reason"] == "BadRequest"
    assert r.headers["warning"] == '299 - "unknown field \\"spec\\""'


def test_openapi_v3_index_and_schema_come_from_the_crds(client: Client) -> None:
    paths = client.send("GET", "/openapi/v3").json()["paths"]
    assert {"apis/ray.io/v1", "apis/ray.io/v1alpha1", "apis/apiextensions.k8s.io/v1"} <= set(paths)
    doc = client.send("GET", "/openapi/v3/apis/ray.io/v1").json()
    rc = doc["components"]["schemas"]["io.ray.v1.RayCluster"]
    assert rc["x-kubernetes-group-version-kind"] == [
        {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    ]
    head = rc["properties"]["spec"]["properties"]["headGroupSpec"]
    assert "rayStartParams" in head["properties"]
    patch_op = doc["paths"]["/apis/ray.io/v1/namespaces/{namespace}/rayclusters/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch_op["requestBody"]["content"]
    client.send("POST", CRD_PATH, widget_crd())
    assert "apis/example.com/v1beta1" in client.send("GET", "/openapi/v3").json()["paths"]


@pytest.fixture
def official(kuberay_dir: Path, connect: Callable[[FakeKube], Client]) -> Client:
    """A client of an app serving the official KubeRay CRDs (installed over the bundled ones)."""
    return connect(create_app(crds=[kuberay_dir / "crds"]))


def test_official_crds_replace_the_bundled_ones(official: Client, kuberay_dir: Path) -> None:
    table = official.send(
        "GET", RC_PATH, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    ).json()
    # the official RayCluster CRD has a "tpus" column the bundled one does not
    assert "tpus" in [c["name"] for c in table["columnDefinitions"]]
    crd = official.send("GET", CRD_PATH + "/rayclusters.ray.io").json()
    assert crd["metadata"]["annotations"]["controller-gen.kubebuilder.io/version"]
    assert official.send("POST", RC_PATH, raycluster("a")).status == 201
    # the official v1alpha1 RayJob has no printer columns: Name and Age
    table = official.send(
        "GET",
        "/apis/ray.io/v1alpha1/namespaces/default/rayjobs",
        headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]


def test_create_app_refuses_an_invalid_crd() -> None:
    with pytest.raises(ValueError, match=r"widgets\.example\.com"):
        create_app(crds=[widget_crd(plural="Widgets")])


def test_aggregated_discovery_when_asked(client: Client) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    client.send("POST", CRD_PATH, widget_crd())
    r = client.send("GET", "/apis", headers={"accept": accept})
    assert r.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    doc = r.json()
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    groups = {g["metadata"]["name"]: g for g in doc["items"]}
    assert [v["version"] for v in groups["ray.io"]["versions"]] == ["v1", "v1alpha1"]
    widgets = groups["example.com"]["versions"][0]["resources"][0]
    assert widgets["resource"] == "widgets" and widgets["scope"] == "Namespaced"
    assert widgets["responseKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert widgets["shortNames"] == ["wd"] and widgets["subresources"][0]["subresource"] == "status"
    core = client.send("GET", "/api", headers={"accept": accept}).json()
    assert [g["metadata"]["name"] for g in core["items"]] == [""]
    assert "configmaps" in {r["resource"] for r in core["items"][0]["versions"][0]["resources"]}
    # without the aggregated media type: the legacy documents
    assert client.send("GET", "/apis").json()["kind"] == "APIGroupList"


def test_installed_crds_are_stored_as_their_json(app: FakeKube) -> None:
    """The spliced encoding of bundled CRDs (spec serialized once per process) is byte-identical."""
    from fakekube._storage.store import dumps

    stored = list(app.store.scan("customresourcedefinitions.apiextensions.k8s.io"))
    assert len(stored) == 4 and all(s.raw == dumps(s.obj) for _, s in stored)


def test_bundled_printer_columns_are_the_official_ones(kuberay_dir: Path) -> None:
    """kubectl get shows the same columns whether fakekube serves its own CRDs or the official ones."""
    from fakekube.crd import builtin_crds, load_crds

    official = {c.names.kind: c for c in load_crds(kuberay_dir / "crds")}
    for crd in builtin_crds():
        for v in crd.versions:
            ours = [(c.name, c.type, c.json_path, c.priority) for c in v.printer_columns]
            theirs = official[crd.names.kind].version(v.name).printer_columns
            assert ours == [(c.name, c.type, c.json_path, c.priority) for c in theirs], (crd.name, v.name)


def test_cluster_scoped_crd(client: Client) -> None:
    crd = widget_crd()
    crd["spec"]["scope"] = "Cluster"
    assert client.send("POST", CRD_PATH, crd).status == 201
    cluster_path = "/apis/example.com/v1/widgets"
    made = client.send("POST", cluster_path, widget("cw"))
    assert made.status == 201 and "namespace" not in made.json()["metadata"]
    assert client.send("GET", cluster_path + "/cw").json()["metadata"]["name"] == "cw"
    assert [i["metadata"]["name"] for i in client.send("GET", cluster_path).json()["items"]] == ["cw"]
    assert client.send("POST", WIDGETS, widget("nsw")).status == 404  # no namespaced path for a Cluster kind
    res = client.send("GET", "/apis/example.com/v1").json()["resources"]
    assert {r["name"]: r["namespaced"] for r in res}["widgets"] is False


def test_annotations_over_256_kib_are_refused(client: Client) -> None:
    """ValidateAnnotationsSize, as a real server refuses a client-side apply of a multi-MB CRD (checked
    against refkube: one FieldValueTooLong cause; a Ray kind also gets its "rules not checked" cause)."""
    big = {"a": "x" * (256 * 1024)}
    crd = widget_crd()
    crd["metadata"]["annotations"] = big
    body = client.send("POST", CRD_PATH, crd).json()
    assert body["code"] == 422 and body["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 262144 bytes",
            "field": "metadata.annotations",
        }
    ]
    rc = raycluster("big")
    rc["metadata"]["annotations"] = big
    causes = client.send("POST", RC_PATH, rc).json()["details"]["causes"]
    assert [c["reason"] for c in causes] == ["FieldValueTooLong", "FieldValueInvalid"]
    assert causes[1]["field"] == "<nil>"
    # a CRD without CEL rules: no "rules not checked" cause
    assert client.send("POST", CRD_PATH, widget_crd()).status == 201
    w = widget("big")
    w["metadata"]["annotations"] = big
    causes = client.send("POST", WIDGETS, w).json()["details"]["causes"]
    assert [c["reason"] for c in causes] == ["FieldValueTooLong"]
    small = {"a": "x" * (256 * 1024 - 1)}
    w["metadata"]["annotations"] = small
    assert client.send("POST", WIDGETS, w).status == 201


def test_scale_subresource(client: Client) -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "replicas"
    ] = {"type": "integer"}
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"].update(
        {"replicas": {"type": "integer"}, "selector": {"type": "string"}}
    )
    crd["spec"]["versions"][0]["subresources"]["scale"] = {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert client.send("POST", CRD_PATH, crd).status == 201
    res = {r["name"]: r for r in client.send("GET", "/apis/example.com/v1").json()["resources"]}
    assert res["widgets/scale"]["kind"] == "Scale" and res["widgets/scale"]["group"] == "autoscaling"
    w = widget("s")
    w["spec"]["replicas"] = 2
    assert client.send("POST", WIDGETS, w).status == 201
    got = client.send("GET", WIDGETS + "/s/scale").json()
    assert got["kind"] == "Scale" and got["apiVersion"] == "autoscaling/v1"
    assert got["spec"] == {"replicas": 2} and got["status"] == {"replicas": 0}
    got["spec"]["replicas"] = 5
    put = client.send("PUT", WIDGETS + "/s/scale", got)
    assert put.status == 200 and put.json()["spec"] == {"replicas": 5}
    obj = client.send("GET", WIDGETS + "/s").json()
    assert obj["spec"]["replicas"] == 5 and obj["metadata"]["generation"] == 2
    patched = client.send(
        "PATCH", WIDGETS + "/s/scale", {"spec": {"replicas": 1}}, content_type="application/merge-patch+json"
    )
    assert patched.status == 200 and patched.json()["spec"]["replicas"] == 1
    stale = client.send("PUT", WIDGETS + "/s/scale", got)  # got carries an old resourceVersion
    assert stale.status == 409
    got = client.send("GET", WIDGETS + "/s/scale").json()
    got["spec"]["replicas"] = -1
    bad = client.send("PUT", WIDGETS + "/s/scale", got)
    assert bad.status == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.replicas"
    assert client.send("GET", WIDGETS + "/s").json()["spec"]["replicas"] == 1
    # the Ray kinds have no scale subresource
    assert client.send("GET", RC_PATH + "/x/scale").status == 404
