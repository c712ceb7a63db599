"""The bundled Ray CRDs: up to date with their generator, and shaped like the ``ray.io`` API."""

from __future__ import annotations

from typing import Any

from fakekube.crd import apply_schema_defaults, builtin_crds, validate_object
from fakekube.crd.builtin import crd_files
from fakekube.crd.builtin.generate import build_crds, render


def test_generated_files_are_up_to_date() -> None:
    docs = build_crds()
    files = {p.name: p.read_text() for p in crd_files()}
    assert set(files) == {f"ray.io_{d['spec']['names']['plural']}.json" for d in docs}
    for d in docs:
        assert files[f"ray.io_{d['spec']['names']['plural']}.json"] == render(d)


def test_kinds_versions_subresources_and_columns() -> None:
    crds = {c.names.kind: c for c in builtin_crds()}
    assert set(crds) == {"RayCluster", "RayJob", "RayService", "RayCronJob"}
    for kind, crd in crds.items():
        assert crd.group == "ray.io" and crd.namespaced and crd.names.plural == kind.lower() + "s"
        assert crd.names.categories == ("all",)
        assert crd.storage_version.name == "v1"
        expected = ["v1"] if kind == "RayCronJob" else ["v1", "v1alpha1"]
        assert [v.name for v in crd.served_versions] == expected
        assert all(v.status for v in crd.versions)
        # as in the official CRDs, RayService names its two columns and no age
        paths = {c.json_path for c in crd.storage_version.printer_columns}
        has_age = ".metadata.creationTimestamp" in paths
        assert has_age == (kind != "RayService")
    columns = {c.name: c for c in crds["RayCluster"].storage_version.printer_columns}
    assert columns["status"].json_path == ".status.state" and columns["head pod IP"].priority == 1


def minimal_cluster(**spec: Any) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray"}]}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc"},
        "spec": {"headGroupSpec": {"template": pod}, **spec},
    }


def test_ray_level_required_enum_defaults_and_rules() -> None:
    rc = next(c for c in builtin_crds() if c.names.kind == "RayCluster")
    worker = {"groupName": "w", "template": {"spec": {"containers": [{"name": "w", "image": "i"}]}}}
    r = validate_object(rc, "v1", minimal_cluster(workerGroupSpecs=[worker]))
    assert r.ok
    # the worker group's defaults are filled in
    assert r.obj["spec"]["workerGroupSpecs"][0] | {"template": None} == {
        "groupName": "w",
        "template": None,
        "replicas": 0,
        "minReplicas": 0,
        "maxReplicas": 2147483647,
        "numOfHosts": 1,
        "priority": 0,
    }
    bad = validate_object(rc, "v1", minimal_cluster(upgradeStrategy={"type": "Rolling"}, managedBy="me"))
    assert [str(c) for c in bad.causes] == [
        'spec.upgradeStrategy.type: Unsupported value: "Rolling": supported values: "Recreate", "None"',
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation",
    ]
    managed = validate_object(rc, "v1", minimal_cluster(managedBy="me"))
    assert [c.field for c in managed.causes] == ["spec.managedBy"]
    no_head = minimal_cluster()
    del no_head["spec"]["headGroupSpec"]
    first = validate_object(rc, "v1", no_head).causes[0]
    assert str(first) == "spec.headGroupSpec: Required value"


def test_pod_template_is_validated_as_a_pod_template_spec() -> None:
    rc = next(c for c in builtin_crds() if c.names.kind == "RayCluster")
    doc = minimal_cluster()
    container = doc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 6379}, {"containerPort": 6379, "protocol": "TCP"}]
    container["resources"] = {"limits": {"cpu": "two"}}
    del container["name"]
    paths = {c.field for c in validate_object(rc, "v1", doc).causes}
    base = "spec.headGroupSpec.template.spec.containers[0]"
    assert {f"{base}.name", f"{base}.ports[1]", f"{base}.resources.limits.cpu"} <= paths


def test_defaults_on_read_fill_a_stored_object() -> None:
    rc = next(c for c in builtin_crds() if c.names.kind == "RayCluster")
    stored = minimal_cluster(workerGroupSpecs=[{"groupName": "w", "template": {}, "retired": 1}])
    out = apply_schema_defaults(rc, "v1", stored)
    assert out["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 2147483647
    assert "retired" not in out["spec"]["workerGroupSpecs"][0]
    assert "maxReplicas" not in stored["spec"]["workerGroupSpecs"][0]
