"""``load_crds``: every input form, and the dataclass view of a CRD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakekube.crd import CRDError, CustomResourceDefinition, load_crds

FULL: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {
            "plural": "gadgets",
            "singular": "gadget",
            "kind": "Gadget",
            "listKind": "GadgetList",
            "shortNames": ["gd"],
            "categories": ["all", "toys"],
        },
        "scope": "Cluster",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Colour", "type": "string", "jsonPath": ".spec.colour", "priority": 1},
                ],
                "selectableFields": [{"jsonPath": ".spec.colour"}],
            },
            {
                "name": "v1beta1",
                "served": False,
                "storage": False,
                "deprecated": True,
                "deprecationWarning": "old",
            },
        ],
    },
}


def test_dataclass_view_of_every_field() -> None:
    (crd,) = load_crds(FULL)
    assert crd.name == "gadgets.example.com" and crd.group == "example.com"
    assert (
        crd.names.plural == "gadgets" and crd.names.kind == "Gadget" and crd.names.list_kind == "GadgetList"
    )
    assert crd.names.short_names == ("gd",) and crd.names.categories == ("all", "toys")
    assert crd.scope == "Cluster" and not crd.namespaced
    v1 = crd.version("v1")
    assert v1.served and v1.storage and v1.status
    assert v1.scale is not None and v1.scale.spec_replicas_path == ".spec.replicas"
    assert v1.scale.label_selector_path == ".status.selector"
    assert [(c.name, c.json_path, c.priority) for c in v1.printer_columns] == [("Colour", ".spec.colour", 1)]
    assert v1.selectable_fields == (".spec.colour",)
    beta = crd.version("v1beta1")
    assert not beta.served and beta.deprecated and beta.deprecation_warning == "old" and beta.schema is None
    assert crd.storage_version is v1
    assert crd.deprecation_warning("v1") is None and crd.deprecation_warning("v1beta1") == "old"
    assert crd.served_versions == (v1,)
    assert crd.raw["metadata"]["name"] == "gadgets.example.com"
    with pytest.raises(KeyError):
        crd.version("v2")


def test_defaults_of_optional_names() -> None:
    doc = json.loads(json.dumps(FULL))
    doc["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget"}
    (crd,) = load_crds(doc)
    assert crd.names.singular == "gadget" and crd.names.list_kind == "GadgetList"
    assert crd.names.short_names == () and crd.names.categories == ()
    doc["spec"]["versions"][1].pop("deprecationWarning")
    (crd,) = load_crds(doc)
    assert crd.deprecation_warning("v1beta1") == "example.com/v1beta1 Gadget is deprecated"


def test_every_input_form(tmp_path: Path) -> None:
    text = yaml.safe_dump(FULL)
    other = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    (tmp_path / "a.yaml").write_text(text + "---\n" + other)
    (tmp_path / "b.json").write_text(json.dumps(FULL))
    (tmp_path / "ignored.txt").write_text("not yaml: [")
    assert [c.name for c in load_crds(tmp_path)] == ["gadgets.example.com"] * 2
    assert len(load_crds(str(tmp_path / "a.yaml"))) == 1
    assert len(load_crds(text)) == 1
    assert len(load_crds(json.dumps(FULL))) == 1
    assert len(load_crds({"apiVersion": "v1", "kind": "List", "items": [FULL, FULL]})) == 2
    assert len(load_crds([FULL, text])) == 2


def test_malformed_crd_is_a_crd_error() -> None:
    doc = json.loads(json.dumps(FULL))
    del doc["spec"]["names"]
    with pytest.raises(CRDError, match="names"):
        load_crds(doc)


def test_official_crds_load(official: dict[str, CustomResourceDefinition]) -> None:
    crds = official
    assert set(crds) == {"RayCluster", "RayJob", "RayService", "RayCronJob"}
    rc = crds["RayCluster"]
    assert rc.group == "ray.io" and rc.namespaced and rc.storage_version.name == "v1"
    assert [v.name for v in rc.served_versions] == ["v1", "v1alpha1"]
    assert rc.version("v1").status


def test_official_and_bundled_crds_pass_crd_validation(official: dict[str, CustomResourceDefinition]) -> None:
    from fakekube.crd import builtin_crds, validate_crd

    for crd in [*official.values(), *builtin_crds()]:
        assert validate_crd(crd.raw) == [], crd.name


def test_crd_validation_errors_and_status() -> None:
    from fakekube.crd import crd_invalid_status, validate_crd
    from tests.fakekube.crd.feature_cases import CRD_CASES

    doc = CRD_CASES["property without type"]
    causes = validate_crd(doc)
    assert [str(c) for c in causes] == [
        "spec.validation.openAPIV3Schema.properties[spec].properties[b].type: "
        "Required value: must not be empty for specified object fields"
    ]
    st = crd_invalid_status(doc, causes)
    assert st["code"] == 422 and st["details"]["kind"] == "CustomResourceDefinition"
    assert st["message"].startswith(
        'CustomResourceDefinition.apiextensions.k8s.io "things.x.example.com" is invalid: '
    )
    rule = validate_crd(CRD_CASES["rule syntax error"])
    assert rule[0].field.endswith("properties[a].x-kubernetes-validations[0].rule")
    assert "compilation failed: ERROR: <input>:1:8: Syntax error" in rule[0].message
