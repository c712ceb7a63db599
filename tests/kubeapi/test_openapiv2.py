"""``kubeapi.openapiv2``: Swagger 2.0 JSON compiled into gnostic's protobuf messages as gnostic's Go
compiler does (oneofs, maps, vendor extensions, required keys, enums), the committed message
classes being protoc's output for the committed ``.proto``, and kube-openapi's ``Accept``
negotiation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeapi import openapiv2
from kubeapi.openapiv2 import NotConvertible

REPO = Path(__file__).resolve().parents[2]
GNOSTIC = REPO / "kubeapi" / "_gnostic"


def test_the_committed_message_classes_are_protocs_output(tmp_path: Path) -> None:
    """infra/gnostic/generate.sh's protoc step, run again: the committed files are what it makes."""
    argv = [sys.executable, "-m", "grpc_tools.protoc", "-I", str(GNOSTIC)]
    out = [f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", "openapiv2/OpenAPIv2.proto"]
    p = subprocess.run([*argv, *out], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    for name in ("OpenAPIv2_pb2.py", "OpenAPIv2_pb2.pyi"):
        generated = (tmp_path / "openapiv2" / name).read_text()
        assert (GNOSTIC / "openapiv2" / name).read_text() == generated, name


def swagger(paths: dict[str, Any] | None = None, definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal valid Swagger 2.0 document."""
    return {
        "swagger": "2.0",
        "info": {"title": "t", "version": "v1"},
        "paths": paths or {},
        "definitions": definitions or {},
    }


GVK = [{"group": "ray.io", "kind": "RayCluster", "version": "v1"}]
OPERATIONS = {
    "/apis/ray.io/v1/namespaces/{namespace}/rayclusters": {
        "parameters": [
            {"name": "namespace", "in": "path", "required": True, "type": "string", "uniqueItems": True},
            {"$ref": "#/parameters/pretty"},
        ],
        "get": {
            "operationId": "listRayCluster",
            "parameters": [{"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": True}],
            "responses": {
                "200": {"description": "OK", "schema": {"$ref": "#/definitions/io.ray.v1.RayClusterList"}},
                "default": {"$ref": "#/responses/error"},
            },
            "x-kubernetes-action": "list",
            "x-kubernetes-group-version-kind": GVK,
        },
        "post": {
            "parameters": [
                {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/x"}}
            ],
            "responses": {"201": {"description": "Created"}},
        },
    },
    "x-path-extension": {"a": 1},
}
DEFINITIONS = {
    "io.ray.v1.RayCluster": {
        "type": "object",
        "description": "RayCluster",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "format": "int32", "minimum": 0, "default": 1},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "additionalProperties": True},
                    "mode": {"type": "string", "enum": ["a", "b"]},
                    "list": {"type": "array", "items": {"type": "string"}},
                    "port": {"x-kubernetes-int-or-string": True},
                },
            }
        },
        "x-kubernetes-group-version-kind": GVK,
    }
}


def test_a_document_compiles_as_gnostic_compiles_it() -> None:
    doc = openapiv2.parse(openapiv2.to_protobuf(swagger(OPERATIONS, DEFINITIONS)))
    assert (doc.swagger, doc.info.title, doc.info.version) == ("2.0", "t", "v1")
    (path,) = doc.paths.path
    assert path.name == "/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    ext = doc.paths.vendor_extension[0]
    assert ext.name == "x-path-extension" and yaml.safe_load(ext.value.yaml) == {"a": 1}
    item = path.value
    ns, pretty = item.parameters
    sub = ns.parameter.non_body_parameter.path_parameter_sub_schema  # "in: path" picks the path one
    assert (sub.name, sub.required, sub.type) == ("namespace", True, "string")
    assert pretty.json_reference._ref == "#/parameters/pretty"
    get = item.get
    assert get.operation_id == "listRayCluster"
    query = get.parameters[0].parameter.non_body_parameter.query_parameter_sub_schema
    assert query.name == "fieldValidation"
    ok, default = get.responses.response_code
    assert (
        ok.name == "200" and ok.value.response.schema.schema._ref == "#/definitions/io.ray.v1.RayClusterList"
    )
    assert default.name == "default" and default.value.json_reference._ref == "#/responses/error"
    extensions = {e.name: yaml.safe_load(e.value.yaml) for e in get.vendor_extension}
    assert extensions == {"x-kubernetes-action": "list", "x-kubernetes-group-version-kind": GVK}
    body = item.post.parameters[0].parameter.body_parameter
    assert body.name == "body" and body.schema._ref == "#/definitions/x"

    (named,) = doc.definitions.additional_properties
    cluster = named.value
    assert named.name == "io.ray.v1.RayCluster" and list(cluster.type.value) == ["object"]
    assert list(cluster.required) == ["spec"]
    spec = {p.name: p.value for p in cluster.properties.additional_properties}["spec"]
    props = {p.name: p.value for p in spec.properties.additional_properties}
    assert list(props) == ["replicas", "labels", "free", "mode", "list", "port"]  # document order
    assert props["replicas"].format == "int32" and props["replicas"].minimum == 0
    assert yaml.safe_load(props["replicas"].default.yaml) == 1
    assert list(props["labels"].additional_properties.schema.type.value) == ["string"]
    assert props["free"].additional_properties.boolean is True
    assert [yaml.safe_load(e.yaml) for e in props["mode"].enum] == ["a", "b"]
    assert list(props["list"].items.schema[0].type.value) == ["string"]
    assert props["port"].vendor_extension[0].name == "x-kubernetes-int-or-string"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.pop("info"), "Document requires info"),
        (lambda d: d.update(swagger="3.0"), "swagger must be 2.0"),
        (lambda d: d.update(unknown=1), "no such property"),
        (lambda d: d["definitions"].update(s={"type": "object", "minimum": "zero"}), "minimum is a number"),
        (lambda d: d["definitions"].update(s={"properties": {"a": {"bogus": True}}}), "no such Schema key"),
        (lambda d: d["paths"].update({"/p": {"get": {"operationId": "x"}}}), "Operation requires responses"),
        (lambda d: d["paths"].update({"p": {}}), "a path starts with /"),
        (
            lambda d: d["paths"].update(
                {"/p": {"parameters": [{"name": "n", "in": "cookie", "type": "string"}]}}
            ),
            "no parameter is in a cookie",
        ),
    ],
)
def test_what_the_compiler_refuses(change: Any, why: str) -> None:
    doc = swagger()
    change(doc)
    with pytest.raises(NotConvertible):
        openapiv2.to_protobuf(doc)


def test_keep_paths_filters_the_encoded_document() -> None:
    data = openapiv2.to_protobuf(swagger({"/a": {}, "/b/c": {}, "/b/d": {}}, DEFINITIONS))
    kept = openapiv2.parse(openapiv2.keep_paths(data, lambda p: p.startswith("/b/")))
    assert [p.name for p in kept.paths.path] == ["/b/c", "/b/d"]
    assert [d.name for d in kept.definitions.additional_properties] == ["io.ray.v1.RayCluster"]


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        (openapiv2.PROTOBUF_DEPRECATED, "protobuf"),  # what client-go sends
        (openapiv2.PROTOBUF, "protobuf"),
        (f"{openapiv2.PROTOBUF};q=0.9,application/json;q=0.5", "protobuf"),
        (f"application/json;q=0.5,{openapiv2.PROTOBUF}", "protobuf"),
        (f"application/json,{openapiv2.PROTOBUF}", "json"),
        ("application/*", "json"),
        ("text/plain", None),
        ("application/yaml", None),
    ],
)
def test_accept_negotiation(accept: str | None, form: str | None) -> None:
    assert openapiv2.negotiate(accept) == form


# -- generated schemas survive the trip  ---------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefXYZ_-.", min_size=1, max_size=8)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=10))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)
SCHEMAS = st.recursive(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "integer", "boolean", "number"])},
        optional={
            "description": st.text(min_size=1, max_size=20),  # "" is proto3's unset
            "default": JSON_VALUES,
            "x-kubernetes-x": JSON_VALUES,
        },
    ),
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.dictionaries(NAMES, inner, max_size=4)}
        ),
        st.fixed_dictionaries({"type": st.just("array"), "items": inner}),
        st.fixed_dictionaries({"type": st.just("object"), "additionalProperties": inner | st.booleans()}),
    ),
    max_leaves=10,
)


def schema_back(s: Any) -> dict[str, Any]:
    """A decoded ``Schema`` message back as the JSON subset SCHEMAS makes."""
    out: dict[str, Any] = {"type": s.type.value[0]}
    if s.description:
        out["description"] = s.description
    if s.HasField("default"):
        out["default"] = yaml.safe_load(s.default.yaml)
    for e in s.vendor_extension:
        out[e.name] = yaml.safe_load(e.value.yaml)
    if s.HasField("properties"):
        out["properties"] = {p.name: schema_back(p.value) for p in s.properties.additional_properties}
    if s.HasField("items"):
        out["items"] = schema_back(s.items.schema[0])
    if s.HasField("additional_properties"):
        ap = s.additional_properties
        out["additionalProperties"] = (
            ap.boolean if ap.WhichOneof("oneof") == "boolean" else schema_back(ap.schema)
        )
    return out


@settings(max_examples=150, deadline=None)
@given(definitions=st.dictionaries(NAMES, SCHEMAS, max_size=3))
@example(definitions={"X": {"type": "string", "default": "\x85", "x-kubernetes-x": {"k\u2028": "é"}}})
def test_generated_schemas_come_back_whole(definitions: dict[str, Any]) -> None:
    doc = openapiv2.parse(openapiv2.to_protobuf(swagger(definitions=definitions)))
    back = {d.name: schema_back(d.value) for d in doc.definitions.additional_properties}
    assert back == definitions
