"""One test per schema feature of the CRD engine, on small synthetic CRDs.

Expected texts are the apiserver's wording (kube-openapi messages, ``field.Error`` bodies,
``strict decoding error``), see the docstrings of ``fakekube.crd.openapi`` and ``engine``.
"""

from __future__ import annotations

from typing import Any

import pytest

from fakekube.crd import Cause, load_crds, validate_object
from tests.fakekube.crd.helpers import make_crd, obj_schema, widget


def errors(result: Any) -> list[str]:
    return [str(c) for c in result.causes]


# --- types and value validations -------------------------------------------------------------


def test_type_mismatch_is_type_invalid_with_the_json_type_of_the_value() -> None:
    crd = make_crd(obj_schema({"replicas": {"type": "integer"}}))
    r = validate_object(crd, "v1", widget({"replicas": "three"}))
    assert r.causes == [
        Cause(
            "FieldValueTypeInvalid",
            "spec.replicas",
            'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        )
    ]
    st = r.status()
    assert st is not None and st["code"] == 422 and st["reason"] == "Invalid"
    assert st["message"] == (
        'Widget.example.com "w1" is invalid: spec.replicas: Invalid value: "string": '
        'spec.replicas in body must be of type integer: "string"'
    )
    assert st["details"]["causes"] == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
            "field": "spec.replicas",
        }
    ]


def test_integral_float_is_an_integer_and_int_is_a_number() -> None:
    crd = make_crd(obj_schema({"i": {"type": "integer"}, "n": {"type": "number"}}))
    assert validate_object(crd, "v1", widget({"i": 3.0, "n": 2})).ok
    assert errors(validate_object(crd, "v1", widget({"i": 3.5}))) == [
        'spec.i: Invalid value: "number": spec.i in body must be of type integer: "number"'
    ]


def test_required_enum_and_several_errors_aggregate_in_brackets() -> None:
    crd = make_crd(
        obj_schema(
            {"mode": {"type": "string", "enum": ["a", "b"]}, "name": {"type": "string"}}, required=["name"]
        )
    )
    r = validate_object(crd, "v1", widget({"mode": "c"}))
    assert errors(r) == [
        "spec.name: Required value",
        'spec.mode: Unsupported value: "c": supported values: "a", "b"',
    ]
    st = r.status()
    assert st is not None
    assert st["message"] == (
        'Widget.example.com "w1" is invalid: [spec.name: Required value, '
        'spec.mode: Unsupported value: "c": supported values: "a", "b"]'
    )
    assert [c["reason"] for c in st["details"]["causes"]] == ["FieldValueRequired", "FieldValueNotSupported"]


def test_numeric_bounds_lengths_items_and_pattern() -> None:
    crd = make_crd(
        obj_schema(
            {
                "n": {"type": "integer", "minimum": 1, "maximum": 5},
                "x": {"type": "integer", "maximum": 5, "exclusiveMaximum": True},
                "s": {"type": "string", "maxLength": 3, "minLength": 2, "pattern": "^[a-z]+$"},
                "l": {"type": "array", "items": {"type": "string"}, "maxItems": 1, "minItems": 1},
                "f": {"type": "number", "multipleOf": 0.5},
            }
        )
    )
    assert errors(validate_object(crd, "v1", widget({"n": 0, "x": 5}))) == [
        "spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1",
        "spec.x: Invalid value: 5: spec.x in body should be less than 5",
    ]
    # the string checks stop at the first failure (maxLength, minLength, pattern), as kube-openapi
    too_long = validate_object(crd, "v1", widget({"s": "ABCD"}))
    assert errors(too_long) == ["spec.s: Too long: may not be more than 3 bytes"]
    assert errors(validate_object(crd, "v1", widget({"s": "AB"}))) == [
        "spec.s: Invalid value: \"AB\": spec.s in body should match '^[a-z]+$'"
    ]
    assert errors(validate_object(crd, "v1", widget({"s": "a"}))) == [
        'spec.s: Invalid value: "a": spec.s in body should be at least 2 chars long'
    ]
    assert errors(validate_object(crd, "v1", widget({"l": ["a", "b"]}))) == [
        "spec.l: Too many: 2: must have at most 1 item"
    ]
    assert errors(validate_object(crd, "v1", widget({"l": []}))) == [
        "spec.l: Invalid value: 0: spec.l in body should have at least 1 items"
    ]
    assert errors(validate_object(crd, "v1", widget({"f": 0.3}))) == [
        "spec.f: Invalid value: 0.3: spec.f in body should be a multiple of 0.5"
    ]
    # kube-openapi checks an integer value against int64(multipleOf): 0.5 becomes 0
    assert errors(validate_object(crd, "v1", widget({"f": 2}))) == [
        "spec.f: Invalid value: 0: factor MultipleOf declared for spec.f must be positive: 0"
    ]


def test_formats_checked_are_only_those_the_apiserver_keeps() -> None:
    crd = make_crd(
        obj_schema(
            {"t": {"type": "string", "format": "date-time"}, "i": {"type": "string", "format": "int32"}}
        )
    )
    assert validate_object(crd, "v1", widget({"t": "2024-01-02T03:04:05Z", "i": "not a number"})).ok
    assert errors(validate_object(crd, "v1", widget({"t": "yesterday"}))) == [
        'spec.t: Invalid value: "yesterday": spec.t in body must be of type date-time: "yesterday"'
    ]


def test_paths_of_items_and_map_values() -> None:
    crd = make_crd(
        obj_schema(
            {
                "groups": {"type": "array", "items": obj_schema({"n": {"type": "integer"}})},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        )
    )
    assert errors(
        validate_object(crd, "v1", widget({"groups": [{"n": 1}, {"n": "x"}], "labels": {"a": 1}}))
    ) == [
        'spec.groups[1].n: Invalid value: "string": '
        'spec.groups[1].n in body must be of type integer: "string"',
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
    ]


# --- Kubernetes extensions -------------------------------------------------------------------


def test_int_or_string_accepts_both_and_nothing_else() -> None:
    crd = make_crd(obj_schema({"port": {"x-kubernetes-int-or-string": True}}))
    assert validate_object(crd, "v1", widget({"port": 80})).ok
    assert validate_object(crd, "v1", widget({"port": "http"})).ok
    assert errors(validate_object(crd, "v1", widget({"port": True}))) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    ]


def test_int_or_string_with_any_of_and_pattern_like_a_quantity() -> None:
    quantity = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        "pattern": "^[0-9]+(m|Gi)?$",
    }
    crd = make_crd(obj_schema({"cpu": quantity}))
    assert validate_object(crd, "v1", widget({"cpu": "500m"})).ok
    assert validate_object(crd, "v1", widget({"cpu": 2})).ok
    assert errors(validate_object(crd, "v1", widget({"cpu": "lots"}))) == [
        "spec.cpu: Invalid value: \"lots\": spec.cpu in body should match '^[0-9]+(m|Gi)?$'"
    ]


def test_preserve_unknown_fields_keeps_unknown_but_prunes_inside_known_children() -> None:
    crd = make_crd(
        obj_schema(
            {"known": obj_schema({"a": {"type": "string"}})},
            **{"x-kubernetes-preserve-unknown-fields": True},
        )
    )
    r = validate_object(crd, "v1", widget({"free": {"x": [1]}, "known": {"a": "s", "b": 2}}))
    assert r.ok
    assert r.obj["spec"] == {"free": {"x": [1]}, "known": {"a": "s"}}
    assert r.warnings == ['unknown field "spec.known.b"']


def test_embedded_resource_keeps_apiversion_kind_metadata_and_requires_them() -> None:
    embedded = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "properties": {"spec": obj_schema({"x": {"type": "string"}})},
    }
    crd = make_crd(obj_schema({"template": embedded}))
    tmpl = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "bogus": 1},
        "spec": {"x": "y", "z": 1},
    }
    r = validate_object(crd, "v1", widget({"template": tmpl}))
    assert r.ok
    assert r.obj["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"x": "y"},
    }
    assert r.warnings == [
        'unknown field "spec.template.metadata.bogus"',
        'unknown field "spec.template.spec.z"',
    ]
    missing = validate_object(crd, "v1", widget({"template": {"spec": {}}}))
    assert errors(missing) == [
        "spec.template.apiVersion: Required value",
        "spec.template.kind: Required value",
    ]


def test_nullable_keeps_null_and_non_nullable_null_is_dropped() -> None:
    crd = make_crd(obj_schema({"a": {"type": "string", "nullable": True}, "b": {"type": "string"}}))
    r = validate_object(crd, "v1", widget({"a": None, "b": None}))
    assert r.ok
    assert r.obj["spec"] == {"a": None}
    nested = make_crd(obj_schema({"l": {"type": "array", "items": {"type": "string"}}}))
    assert errors(validate_object(nested, "v1", widget({"l": ["x", None]}))) == [
        'spec.l[1]: Invalid value: "null": spec.l[1] in body must be of type string: "null"'
    ]


def test_list_type_set_duplicates() -> None:
    crd = make_crd(
        obj_schema({"tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}})
    )
    assert validate_object(crd, "v1", widget({"tags": ["a", "b"]})).ok
    r = validate_object(crd, "v1", widget({"tags": ["a", "b", "a"]}))
    assert r.causes == [Cause("FieldValueDuplicate", "spec.tags[2]", 'Duplicate value: "a"')]


def test_list_type_map_duplicates_by_keys_after_defaulting() -> None:
    ports = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port", "protocol"],
        "items": obj_schema(
            {"port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}, required=["port"]
        ),
    }
    crd = make_crd(obj_schema({"ports": ports}))
    assert validate_object(crd, "v1", widget({"ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]})).ok
    r = validate_object(crd, "v1", widget({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}))
    assert errors(r) == ['spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}']


def test_defaults_fill_absent_and_null_fields_only_inside_existing_objects() -> None:
    crd = make_crd(
        obj_schema(
            {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "auto"},
                "nested": obj_schema({"x": {"type": "string", "default": "dx"}}),
                "withDefault": obj_schema({"y": {"type": "integer", "default": 7}}, default={}),
                "items": {"type": "array", "items": obj_schema({"z": {"type": "boolean", "default": True}})},
            }
        )
    )
    r = validate_object(crd, "v1", widget({"mode": None, "items": [{}, {"z": False}]}))
    assert r.ok
    assert r.obj["spec"] == {
        "replicas": 1,
        "mode": "auto",
        "withDefault": {"y": 7},
        "items": [{"z": True}, {"z": False}],
    }


def test_input_object_is_never_modified() -> None:
    crd = make_crd(obj_schema({"a": {"type": "integer", "default": 1}}))
    body = widget({"b": 2})
    validate_object(crd, "v1", body)
    assert body == widget({"b": 2})


# --- fieldValidation --------------------------------------------------------------------------


UNKNOWN = widget({"known": "k", "foo": 1, "deep": {"bar": 2}})


@pytest.fixture
def unknown_crd() -> Any:
    return make_crd(obj_schema({"known": {"type": "string"}, "deep": obj_schema({})}))


def test_field_validation_warn_is_the_default_and_prunes(unknown_crd: Any) -> None:
    r = validate_object(unknown_crd, "v1", UNKNOWN)
    assert r.ok and r.code == 200
    assert r.warnings == ['unknown field "spec.deep.bar"', 'unknown field "spec.foo"']
    assert r.obj["spec"] == {"known": "k", "deep": {}}


def test_field_validation_strict_is_a_400_strict_decoding_error(unknown_crd: Any) -> None:
    r = validate_object(unknown_crd, "v1", UNKNOWN, field_validation="Strict")
    assert not r.ok and r.code == 400
    st = r.status()
    assert st == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Widget in version "v1" cannot be handled as a Widget: '
        'strict decoding error: unknown field "spec.deep.bar", unknown field "spec.foo"',
        "reason": "BadRequest",
        "code": 400,
    }


def test_field_validation_ignore_prunes_silently(unknown_crd: Any) -> None:
    r = validate_object(unknown_crd, "v1", UNKNOWN, field_validation="Ignore")
    assert r.ok and r.warnings == []
    assert r.obj["spec"] == {"known": "k", "deep": {}}


def test_unknown_metadata_fields_are_reported_and_dropped(unknown_crd: Any) -> None:
    body = widget({})
    body["metadata"]["colour"] = "red"
    r = validate_object(unknown_crd, "v1", body)
    assert r.warnings == ['unknown field "metadata.colour"']
    assert r.obj["metadata"] == {"name": "w1"}


# --- CEL ---------------------------------------------------------------------------------------


def rule(src: str, **kw: Any) -> dict[str, Any]:
    return {"x-kubernetes-validations": [{"rule": src, **kw}]}


def test_cel_rule_with_message_and_default_message() -> None:
    crd = make_crd(
        obj_schema(
            {
                "min": {"type": "integer"},
                "max": {"type": "integer"},
                "name": {"type": "string", **rule("self.startsWith('w')")},
            },
            **rule("self.min <= self.max", message="min must not exceed max"),
        )
    )
    assert validate_object(crd, "v1", widget({"min": 1, "max": 2, "name": "wx"})).ok
    assert errors(validate_object(crd, "v1", widget({"min": 3, "max": 2, "name": "x"}))) == [
        "spec: Invalid value: min must not exceed max",
        "spec.name: Invalid value: \"x\": failed rule: self.startsWith('w')",
    ]


def test_cel_message_expression_reason_and_field_path() -> None:
    crd = make_crd(
        obj_schema(
            {"a": {"type": "string"}, "b": {"type": "string"}},
            **{
                "x-kubernetes-validations": [
                    {
                        "rule": "!(has(self.a) && has(self.b))",
                        "messageExpression": "'a and b are exclusive, got a=' + self.a",
                        "reason": "FieldValueForbidden",
                        "fieldPath": ".b",
                    }
                ]
            },
        )
    )
    r = validate_object(crd, "v1", widget({"a": "1", "b": "2"}))
    assert r.causes == [Cause("FieldValueForbidden", "spec.b", "Forbidden: a and b are exclusive, got a=1")]


def test_cel_transition_rule_runs_only_on_update_with_an_old_value() -> None:
    crd = make_crd(
        obj_schema({"mode": {"type": "string", **rule("self == oldSelf", message="mode is immutable")}})
    )
    created = validate_object(crd, "v1", widget({"mode": "a"}))
    assert created.ok
    same = validate_object(crd, "v1", widget({"mode": "a"}), old=widget({"mode": "a"}))
    assert same.ok
    changed = validate_object(crd, "v1", widget({"mode": "b"}), old=widget({"mode": "a"}))
    assert errors(changed) == ['spec.mode: Invalid value: "b": mode is immutable']
    newly_set = validate_object(crd, "v1", widget({"mode": "b"}), old=widget({}))
    assert newly_set.ok


def test_cel_transition_rule_correlates_list_map_items_by_key() -> None:
    items = obj_schema(
        {"name": {"type": "string"}, "size": {"type": "integer", **rule("self >= oldSelf")}},
        required=["name"],
    )
    crd = make_crd(
        obj_schema(
            {
                "vols": {
                    "type": "array",
                    "items": items,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                }
            }
        )
    )
    old = widget({"vols": [{"name": "a", "size": 5}, {"name": "b", "size": 5}]})
    grown = widget({"vols": [{"name": "b", "size": 6}, {"name": "a", "size": 5}, {"name": "c", "size": 1}]})
    assert validate_object(crd, "v1", grown, old=old).ok
    shrunk = widget({"vols": [{"name": "b", "size": 4}]})
    assert errors(validate_object(crd, "v1", shrunk, old=old)) == [
        "spec.vols[0].size: Invalid value: 4: failed rule: self >= oldSelf"
    ]


def test_cel_optional_old_self_runs_on_create_too() -> None:
    crd = make_crd(
        obj_schema(
            {
                "v": {
                    "type": "integer",
                    **rule("oldSelf.hasValue() ? self >= oldSelf.value() : self == 1", optionalOldSelf=True),
                }
            }
        )
    )
    assert validate_object(crd, "v1", widget({"v": 1})).ok
    assert not validate_object(crd, "v1", widget({"v": 2})).ok
    assert validate_object(crd, "v1", widget({"v": 3}), old=widget({"v": 2})).ok


def test_cel_rules_are_skipped_after_a_blocking_schema_error() -> None:
    crd = make_crd(obj_schema({"n": {"type": "integer"}}, **rule("self.n > 0")))
    assert errors(validate_object(crd, "v1", widget({"n": "x"}))) == [
        'spec.n: Invalid value: "string": spec.n in body must be of type integer: "string"',
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation",
    ]
    assert errors(validate_object(crd, "v1", widget({"n": 0}))) == [
        "spec: Invalid value: failed rule: self.n > 0"
    ]


def test_cel_programs_compile_once_per_schema_node() -> None:
    crd = make_crd(obj_schema({"n": {"type": "integer"}}, **rule("self.n > 0")))
    validate_object(crd, "v1", widget({"n": 1}))
    from fakekube.crd.cel import rules_of
    from fakekube.crd.schema import compiled

    spec_node = compiled(crd, "v1").properties["spec"]
    first = spec_node.compiled_rules
    assert first is not None and len(first) == 1  # compiled by the first validation
    validate_object(crd, "v1", widget({"n": 2}))
    assert rules_of(compiled(crd, "v1").properties["spec"]) is first


# --- metadata decoding ------------------------------------------------------------------------


def test_metadata_that_does_not_decode_as_object_meta_is_a_400(unknown_crd: Any) -> None:
    body = widget({})
    body["metadata"]["labels"] = {"a": 1}
    r = validate_object(unknown_crd, "v1", body)
    assert r.code == 400 and r.causes == []
    assert r.bad_request == (
        'Widget in version "v1" cannot be handled as a Widget: '
        "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string"
    )


def test_embedded_metadata_decoding_and_api_version() -> None:
    embedded = {"type": "object", "x-kubernetes-embedded-resource": True}
    crd = make_crd(obj_schema({"child": embedded}))
    child = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": ["a"], "finalizers": 1}}
    r = validate_object(crd, "v1", widget({"child": child}))
    assert r.bad_request == (
        'Widget in version "v1" cannot be handled as a Widget: spec.child.metadata: Invalid value: '
        '{"finalizers":1,"labels":["a"]}: json: cannot unmarshal number into Go struct field '
        "ObjectMeta.finalizers of type []string"
    )
    bad_gv = validate_object(crd, "v1", widget({"child": {"apiVersion": "a/b/c", "kind": "Pod"}}))
    assert errors(bad_gv) == [
        'spec.child.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c'
    ]


# --- ratcheting ---------------------------------------------------------------------------------


def test_update_ratchets_unchanged_values_and_warns_on_their_rules() -> None:
    from tests.fakekube.crd.feature_cases import GIZMO_OLD, GIZMO_STRICT

    (strict,) = load_crds(GIZMO_STRICT)
    old = {
        "apiVersion": "features.example.com/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g"},
        "spec": GIZMO_OLD,
    }

    def update(**changes: Any) -> Any:
        return validate_object(strict, "v1", {**old, "spec": {**GIZMO_OLD, **changes}}, old=old)

    # every stored value is now invalid, but unchanged: only the new requirement fails
    assert [c.field for c in update(other="changed").causes] == ["spec.z", "<nil>"]
    fixed = update(z="now")
    assert fixed.ok
    assert sorted(fixed.warnings) == [
        "spec.obj: Invalid value: failed rule: self.p == 'z'",
        "spec.x: Invalid value: 10: failed rule: self > 50",
    ]
    assert errors(update(z="now", name="abcdefg"))[0] == "spec.name: Too long: may not be more than 3 bytes"
    # a map list reordered is unchanged; an atomic list reordered is not
    assert update(z="now", mlist=[GIZMO_OLD["mlist"][1], GIZMO_OLD["mlist"][0]]).ok
    reordered = update(z="now", list=["bb", "aa"])
    assert [c.field for c in reordered.causes][:2] == ["spec.list[0]", "spec.list[1]"]
    # without an old object (create) nothing is ratcheted
    assert not validate_object(strict, "v1", {**old, "spec": {**GIZMO_OLD, "z": "now"}}).ok


def test_kubernetes_cel_library_functions() -> None:
    checks = {
        "lower": "self.lowerAscii() == self",
        "csv": "self.split(',').size() <= 2",
        "mem": "isQuantity(self) && quantity(self).isLessThan(quantity('2Gi'))",
        "url": "isURL(self)",
        "ip": "isIP(self) || isCIDR(self)",
        "nums": "self.isSorted() && self.sum() < 50",
    }
    props: dict[str, Any] = {
        k: {"type": "string", **rule(r, message=f"{k} failed")} for k, r in checks.items()
    }
    props["nums"] = {
        "type": "array",
        "items": {"type": "integer"},
        **rule(checks["nums"], message="nums failed"),
    }
    crd = make_crd(obj_schema(props))
    good = {"lower": "abc", "csv": "a,b", "mem": "1.5Gi", "url": "https://x/y", "ip": "::1", "nums": [1, 2]}
    assert validate_object(crd, "v1", widget(good)).ok
    bad = {"lower": "aBc", "csv": "a,b,c", "mem": "3Gi", "url": "x y", "ip": "1.2.3", "nums": [2, 1]}
    assert sorted(
        c.message.rsplit(": ", 1)[1] for c in validate_object(crd, "v1", widget(bad)).causes
    ) == sorted(f"{k} failed" for k in checks)
