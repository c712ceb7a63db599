"""The compiled fast path of the schema engine answers exactly as the reference passes.

``validate_object`` takes :mod:`fakekube.crd.fastpath` for an object without unknown fields or
schema errors and falls back to the reference passes (prune, drop nulls, default, validate,
list types) otherwise; ``fast_path=False`` forces the reference passes. Here both run on the
same inputs and must give the same answer to the byte: HTTP code, 400 message, causes in order,
warnings, unknown fields, and the JSON of the stored object (key order included). Inputs: the
official samples and their mutants (official and bundled CRDs, every ``fieldValidation``), the
schema-feature and ratcheting cases compared with kube-apiserver in ``test_refkube.py``, and
Hypothesis-drawn schemas and values (nulls, defaults, enums, allOf/anyOf/oneOf/not, list types,
embedded resources, integral floats, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fakekube.crd import CRDError, CustomResourceDefinition, Result, builtin_crds, load_crds, validate_object
from fakekube.crd.fastpath import prepare
from fakekube.crd.generators import ray_objects
from fakekube.crd.schema import compiled
from tests.fakekube.crd import feature_cases
from tests.fakekube.crd.mutations import mutants, ray_samples

OURS = {c.names.kind: c for c in builtin_crds()}


def full_answer(r: Result) -> tuple[Any, ...]:
    """Everything a caller can observe of a result, the stored object as its JSON text."""
    return (
        r.code,
        r.bad_request,
        [(c.type, c.field, c.message) for c in r.causes],
        r.warnings,
        r.unknown_fields,
        json.dumps(r.obj),
    )


def _clear(v: Any) -> None:
    """Empty every dict and list in ``v`` (a result must not share them with later ones)."""
    for x in list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []:
        _clear(x)
    if isinstance(v, dict | list):
        v.clear()


def check_same(
    crd: CustomResourceDefinition,
    version: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None = None,
    field_validation: str = "Warn",
) -> bool:
    """Assert both paths agree on ``obj``; return whether the fast path accepted it."""
    before = json.dumps(obj)
    _clear(validate_object(crd, version, obj, old, field_validation).obj)  # must share nothing
    fast = validate_object(crd, version, obj, old, field_validation)
    reference = validate_object(crd, version, obj, old, field_validation, fast_path=False)
    assert full_answer(fast) == full_answer(reference)
    assert json.dumps(obj) == before, "the input was modified"
    return prepare(compiled(crd, version), obj) is not None


def test_official_samples_take_the_fast_path_with_the_same_answer(
    kuberay_dir: Path, official: dict[str, CustomResourceDefinition]
) -> None:
    samples = ray_samples(kuberay_dir / "samples")
    for crds in (official, OURS):
        taken = [check_same(crds[doc["kind"]], doc["apiVersion"].split("/")[1], doc) for _, doc in samples]
        # every sample is valid and has no unknown field, so none needs the reference passes
        assert all(taken), [label for (label, _), t in zip(samples, taken, strict=True) if not t]


def test_mutants_get_the_same_answer_from_both_paths(
    kuberay_dir: Path, official: dict[str, CustomResourceDefinition]
) -> None:
    corpus = mutants(kuberay_dir / "samples")
    fast = 0
    for m in corpus:
        for crds in (official, OURS):
            for fv in ("Warn", "Strict", "Ignore"):
                fast += check_same(crds[m.kind], m.version, m.obj, field_validation=fv)
    # both paths are exercised: the valid mutants go fast, the others fall back
    assert 0 < fast < 6 * len(corpus)


def test_schema_feature_and_ratcheting_cases_get_the_same_answer() -> None:
    (crd,) = load_crds(feature_cases.CRD)
    head = {"apiVersion": "features.example.com/v1", "kind": "Widget"}
    taken = 0
    for case in feature_cases.CASES:
        obj = {**head, "metadata": {"name": "w1", **(case.extra_metadata or {})}, **(case.extra_top or {})}
        old = None
        if case.old_spec is not None:
            old = validate_object(crd, "v1", {**obj, "spec": case.old_spec}).obj
        taken += check_same(crd, "v1", {**obj, "spec": case.spec}, old, case.field_validation)
    assert 0 < taken < len(feature_cases.CASES)
    (strict,) = load_crds(feature_cases.GIZMO_STRICT)
    gizmo = {"apiVersion": "features.example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}
    old = {**gizmo, "spec": feature_cases.GIZMO_OLD}
    for _, spec in feature_cases.RATCHET_CASES:
        check_same(strict, "v1", {**gizmo, "spec": spec}, old)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(OURS)).flatmap(lambda k: ray_objects(k, max_optional=3)))
def test_drawn_ray_objects_take_the_fast_path_with_the_same_answer(obj: dict[str, Any]) -> None:
    assert check_same(OURS[obj["kind"]], "v1", obj)


# -- drawn schemas and values ---------------------------------------------------------------------

KEYS = ["a", "b", "c", "apiVersion", "kind", "metadata"]
META_KEYS = ["labels", "zz", "finalizers"]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0.0, 1.0, 2.5, -1.5, 1e20]),
    st.sampled_from(["", "x", "ab", "ABC", "v1", "a/b", "a/b/c", "10.0.0.1", "2024-02-29", "1Gi", "500m"]),
)
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from([*KEYS, "zz", "name", "labels"]), inner, max_size=4),
    ),
    max_leaves=12,
)


TYPED = {
    "string": st.text("abv1", max_size=4),
    "integer": st.integers(0, 10),
    "number": st.sampled_from([0.5, 2, 2.5, 3.0]),
    "boolean": st.booleans(),
}


def _near_bounds(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Scalars at and just past the schema's length and number bounds."""
    out: list[Any] = []
    for key in ("maxLength", "minLength"):
        if key in schema:
            out += ["a" * n for n in (schema[key] - 1, schema[key], schema[key] + 1) if n >= 0]
    for key in ("maximum", "minimum", "multipleOf"):
        if key in schema:
            out += [schema[key], schema[key] + 1, schema[key] - 1, schema[key] * 2]
    return st.sampled_from(out) if out else TYPED[schema["type"]]


def _scalar_schema(t: str) -> st.SearchStrategy[dict[str, Any]]:
    """A typed scalar schema with some of the keywords that type allows."""
    extra: dict[str, st.SearchStrategy[Any]] = {
        "nullable": st.booleans(),
        "default": st.one_of(_SCALARS, TYPED[t]),
        "enum": st.lists(st.one_of(_SCALARS, TYPED[t]), min_size=1, max_size=3),
    }
    if t == "string":
        extra |= {
            "maxLength": st.integers(0, 3),
            "minLength": st.integers(0, 2),
            "pattern": st.sampled_from(["^[a-z]+$", "b", "^v[0-9]$"]),
            "format": st.sampled_from(["ipv4", "date", "int32", "byte", "hostname"]),
        }
    if t in ("integer", "number"):
        extra |= {
            "minimum": st.sampled_from([0, 1, 2.5]),
            "maximum": st.sampled_from([3, 10, 2.5]),
            "exclusiveMinimum": st.booleans(),
            "exclusiveMaximum": st.booleans(),
            "multipleOf": st.sampled_from([2, 0.5, 3]),
        }
    return _some_of({"type": st.just(t)}, extra)


def _some_of(
    fixed: dict[str, st.SearchStrategy[Any]], extra: dict[str, st.SearchStrategy[Any]], most: int = 2
) -> st.SearchStrategy[dict[str, Any]]:
    """``fixed`` plus at most ``most`` of the ``extra`` keywords (few, so that values can pass)."""
    chosen = st.lists(st.sampled_from(sorted(extra)), max_size=most, unique=True)
    return chosen.flatmap(lambda keys: st.fixed_dictionaries({**fixed, **{k: extra[k] for k in keys}}))


VALUE_SCHEMAS = st.sampled_from(
    [
        {"required": ["a"]},
        {"minProperties": 1},
        {"maxLength": 1},
        {"properties": {"a": {"maxLength": 1}}},
        {"items": {"minimum": 1}},
        {"enum": ["x", 1]},
        {"items": {"type": "integer"}},
        {"properties": {"a": {"type": "string", "nullable": True}}},
        {"not": {"type": "integer"}},
        {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]},
    ]
)
QUANTITY = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
    "pattern": r"^[0-9]+(m|Gi)?$",
}


def _compound(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    obj = _some_of(
        {"type": st.just("object")},
        {
            "properties": st.dictionaries(st.sampled_from([*KEYS[:3], "metadata"]), inner, max_size=3),
            "additionalProperties": inner,
            "required": st.lists(st.sampled_from(KEYS[:3]), max_size=2, unique=True),
            "minProperties": st.integers(0, 2),
            "maxProperties": st.integers(0, 3),
            "nullable": st.booleans(),
            "default": st.sampled_from([{}, {"a": "x"}, {"zz": 1}, {"a": None}]),
            "x-kubernetes-embedded-resource": st.booleans(),
            "x-kubernetes-preserve-unknown-fields": st.booleans(),
            "allOf": st.lists(VALUE_SCHEMAS, min_size=1, max_size=2),
            "anyOf": st.lists(VALUE_SCHEMAS, min_size=1, max_size=2),
            "oneOf": st.lists(VALUE_SCHEMAS, min_size=1, max_size=2),
            "not": VALUE_SCHEMAS,
        },
        most=3,
    )
    arr = _some_of(
        {"type": st.just("array"), "items": inner},
        {
            "minItems": st.integers(0, 2),
            "maxItems": st.integers(0, 3),
            "nullable": st.booleans(),
            "x-kubernetes-list-type": st.sampled_from(["atomic", "set", "map"]),
            "x-kubernetes-list-map-keys": st.just(["a"]),
            "default": st.sampled_from([[], ["x"], [{"a": "x"}]]),
        },
    )
    return st.one_of(obj, arr)


LEAVES = st.one_of(
    st.sampled_from(["string", "integer", "number", "boolean"]).flatmap(_scalar_schema),
    st.just(QUANTITY),
    st.just({"x-kubernetes-int-or-string": True}),
    st.just({}),
)
SCHEMAS = st.one_of(_compound(LEAVES), st.recursive(LEAVES, _compound, max_leaves=8))


def drawn_crd(spec_schema: dict[str, Any]) -> CustomResourceDefinition:
    """A Widget CRD whose ``spec`` has ``spec_schema`` (loaded without CRD validation)."""
    doc = json.loads(json.dumps(feature_cases.CRD))
    root = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    root.pop("x-kubernetes-validations")
    root["properties"]["spec"] = spec_schema
    (crd,) = load_crds(doc)
    return crd


def shaped(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` (its properties, items and types), so that many are valid."""
    choices: list[st.SearchStrategy[Any]] = [VALUES] if depth else []
    if "enum" in schema:
        choices.append(st.sampled_from(schema["enum"]))
    if "default" in schema:
        choices.append(st.just(schema["default"]))
    t = schema.get("type")
    if t == "object":
        props = {k: shaped(v, depth + 1) for k, v in (schema.get("properties") or {}).items()}
        if schema.get("x-kubernetes-embedded-resource"):
            props |= {"apiVersion": st.sampled_from(["v1", "a/b/c", ""]), "kind": st.just("Pod"),
                      "metadata": st.sampled_from([{}, {"name": "p"}, {"zz": 1}])}  # fmt: skip
        choices.append(st.fixed_dictionaries({}, optional=props))
    elif t == "array" and isinstance(schema.get("items"), dict):
        sizes = [n for n in (schema.get("minItems"), schema.get("maxItems")) if n is not None]
        size = st.sampled_from([m + d for m in sizes for d in (-1, 0, 1) if m + d >= 0] or [0, 1, 2, 3])
        item = shaped(schema["items"], depth + 1)
        choices.append(size.flatmap(lambda n: st.lists(item, min_size=n, max_size=n)))
    elif t in TYPED:
        choices += [TYPED[t], _near_bounds(schema), _near_bounds(schema)]
        if t == "string":
            choices.append(st.sampled_from(["2024-02-29", "10.0.0.1", "500m", "aGk="]))
    else:
        choices.append(st.one_of(st.integers(0, 10), st.just("1Gi"), st.just("5m")))
    return st.one_of(*choices)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    SCHEMAS.flatmap(lambda schema: st.tuples(st.just(schema), shaped(schema))),
    st.one_of(st.none(), VALUES),
    st.one_of(st.just({}), st.dictionaries(st.sampled_from(META_KEYS), VALUES, max_size=1)),
    st.sampled_from(["Warn", "Strict", "Ignore"]),
)
def test_drawn_schemas_and_values_get_the_same_answer(
    schema_and_spec: tuple[dict[str, Any], Any], old_spec: Any, extra_meta: dict[str, Any], fv: str
) -> None:
    schema, spec = schema_and_spec
    try:
        crd = drawn_crd(schema)
    except CRDError:
        assume(False)
        return
    head = {"apiVersion": "features.example.com/v1", "kind": "Widget"}
    obj = {**head, "metadata": {"name": "w1", **extra_meta}, "spec": spec}
    old = None if old_spec is None else {**head, "metadata": {"name": "w1"}, "spec": old_spec}
    check_same(crd, "v1", obj, old, fv)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LEAVES.flatmap(lambda schema: st.tuples(st.just(schema), shaped(schema))))
def test_drawn_scalar_schemas_at_their_bounds_get_the_same_answer(schema_and_spec: tuple[Any, Any]) -> None:
    """Each keyword of a scalar schema alone, with values at and just past its bounds."""
    schema, spec = schema_and_spec
    try:
        crd = drawn_crd({"type": "object", "properties": {"a": schema}})
    except CRDError:
        assume(False)
        return
    head = {"apiVersion": "features.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    check_same(crd, "v1", {**head, "spec": {"a": spec}})
    check_same(crd, "v1", {**head, "spec": {}})  # absent: defaulted when the schema has a default


@pytest.mark.parametrize("spec", [{"a": "x"}, {"a": "x", "b": [1, 2]}, {}])
def test_a_valid_drawn_style_object_takes_the_fast_path(spec: dict[str, Any]) -> None:
    """The fast path is not vacuous on the drawn CRDs: a plain valid object is accepted by it."""
    crd = drawn_crd(
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "integer"}}},
        }
    )
    assert check_same(crd, "v1", {"apiVersion": "features.example.com/v1", "kind": "Widget",
                                   "metadata": {"name": "w1"}, "spec": spec})  # fmt: skip
