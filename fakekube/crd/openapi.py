"""OpenAPI v3 value validation of a custom resource, with kube-openapi's error wording.

Reproduces ``k8s.io/kube-openapi/pkg/validation/validate`` (``schema.go``, ``type.go``,
``object_validator.go``, ``slice_validator.go``, ``schema_props.go``, messages in
``k8s.io/kube-openapi/pkg/validation/errors/schema.go``) as the apiextensions-apiserver uses
it, and its translation into field errors (``kubeOpenAPIResultToFieldErrors`` in
``k8s.io/apiextensions-apiserver/pkg/apiserver/validation/validation.go``):

- a type mismatch is ``FieldValueTypeInvalid`` with the JSON type of the value:
  ``spec.x: Invalid value: "string": spec.x in body must be of type integer: "string"``;
- a missing required property is ``spec.x: Required value``;
- an enum miss is ``Unsupported value: "v": supported values: "a", "b"``;
- ``maxLength`` is ``Too long: may not be more than N bytes``, ``maxItems``/``maxProperties``
  ``Too many: n: must have at most N items``;
- anything else is ``Invalid value: <value>: <kube-openapi message>``.

Paths use ``.`` for properties (also ``additionalProperties`` keys) and ``[i]`` for items.
"""

from __future__ import annotations

import math
from typing import Any

from fakekube.crd import causes as C
from fakekube.crd import formats
from fakekube.crd.causes import Cause
from fakekube.crd.ratchet import old_child, old_items, unchanged
from fakekube.crd.schema import MISSING, Node
from kubeapi.fields import go_format_float


def json_type(v: Any) -> str:
    """The JSON type name kube-openapi infers for a decoded value (``boolean``, ``integer``...)."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null" if v is None else type(v).__name__


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON values where ``true != 1`` and ``1 == 1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


#: The integer formats and their ranges (kube-openapi ``format`` int32 / int64).
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
#: go-openapi swag ``IsFloat64AJSONInteger``: a float is an integer within ±(2^53 - 1).
_MAX_JSON_INT = float(2**53 - 1)


def _is_json_integer(v: float) -> bool:
    """Whether the float ``v`` counts as an integer for kube-openapi's type check."""
    return math.isfinite(v) and abs(v) <= _MAX_JSON_INT and float(v).is_integer()


def _num(bound: float, value: Any) -> str:
    # an integer value is compared with the bound as int64 (MinimumInt), a float as float64
    if isinstance(value, int) and float(bound).is_integer():
        return str(int(bound))
    return go_format_float(float(bound))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _path_or_root(path: str) -> str:
    return path or C.ROOT


class Validator:
    """Collects :class:`Cause` objects for one value tree (``validate(node, value, path)``)."""

    __slots__ = ("causes",)

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def _add(self, type_: str, path: str, value: Any = C.OMIT, detail: str = "") -> None:
        self.causes.append(C.make(type_, _path_or_root(path), value, detail))

    def validate(self, s: Node, v: Any, path: str, old: Any = MISSING) -> None:
        """Validate ``v`` against ``s``; ``path`` is the field path of ``v`` ("" for the root).

        ``old`` is the correlated stored value on update: an unchanged value is not validated.
        """
        if path and unchanged(s, v, old):
            return
        if v is None:
            if s.types and not s.nullable:
                self._type_error(s, path, "null")
            self._enum(s, v, path)
            return
        if not self._type_ok(s, v, path):
            pass  # kube-openapi keeps going: the other validators apply by the value's own kind
        if s.raw.get("allOf") or s.raw.get("anyOf") or s.raw.get("oneOf") or s.raw.get("not"):
            self._schema_props(s, v, path)
        if isinstance(v, str):
            self._string(s, v, path)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            self._number(s, v, path)
        elif isinstance(v, list):
            self._slice(s, v, path, old)
        self._enum(s, v, path)
        if isinstance(v, dict):
            self._object(s, v, path, old)

    def _type_ok(self, s: Node, v: Any, path: str) -> bool:
        if not s.types:
            return True
        t = json_type(v)
        int_format = s.format in INT_RANGES and "integer" in s.types
        float_int = t == "number" and "integer" in s.types and _is_json_integer(v)
        if int_format and t not in ("string", "array") and t not in s.types and not float_int:
            # type.go: a value of another kind than the format's is named by its Go format
            # (float64, or "" for a bool or an object): "must be of type int32: \"float64\""
            go_format = "float64" if t == "number" else ""
            self._add(
                C.TYPE_INVALID, path, go_format, f'{path} in body must be of type {s.format}: "{go_format}"'
            )
            self._int_format(s, v, path)
            return False
        if t in s.types:
            if int_format and t == "integer":
                self._int_format(s, v, path)
            return True
        if float_int:
            if int_format:
                self._int_format(s, v, path)
            return True
        if t == "integer" and "number" in s.types:
            return True
        self._type_error(s, path, t)
        return False

    def _int_format(self, s: Node, v: Any, path: str) -> None:
        """The integer ``format`` check (int32, int64) kube-apiserver words as ``<nil>: Invalid
        value: "": Checked value must be of type integer with format int32 in PATH``: a value
        outside the format's range, or a float that is not a JSON integer. Not a blocking error
        (the CEL rules still run). Checked against refkube (issue 13 finding 5)."""
        lo, hi = INT_RANGES[s.format]
        if isinstance(v, bool) or not isinstance(v, int | float):
            return
        if (isinstance(v, float) and not _is_json_integer(v)) or not lo <= v <= hi:
            detail = f"Checked value must be of type integer with format {s.format} in {path}"
            self.causes.append(C.make(C.INVALID, C.ROOT, "", detail))

    def _type_error(self, s: Node, path: str, t: str) -> None:
        self._add(C.TYPE_INVALID, path, t, f'{path} in body must be of type {",".join(s.types)}: "{t}"')

    def _sub(self, s: Node, v: Any, path: str) -> list[Cause]:
        sub = Validator()
        sub.validate(s, v, path)
        return sub.causes

    def _schema_props(self, s: Node, v: Any, path: str) -> None:
        if s.all_of:
            failed = False
            for sch in s.all_of:
                errs = self._sub(sch, v, path)
                if errs:
                    failed = True
                    self.causes.extend(errs)
            if failed:
                self._add(C.INVALID, "", "", f'"{path}" must validate all the schemas (allOf)')
        if s.any_of:
            best: list[Cause] | None = None
            for sch in s.any_of:
                errs = self._sub(sch, v, path)
                if not errs:
                    best = None
                    break
                if best is None or len(errs) < len(best):
                    best = errs
            else:
                self._add(C.INVALID, "", "", f'"{path}" must validate at least one schema (anyOf)')
            if best:
                self.causes.extend(best)
        if s.one_of:
            ok = [sch for sch in s.one_of if not self._sub(sch, v, path)]
            if len(ok) == 0:
                self._add(C.INVALID, "", "", f'"{path}" must validate one and only one schema (oneOf)')
            elif len(ok) > 1:
                detail = f'"{path}" must validate one and only one schema (oneOf). Found {len(ok)} valid'
                detail += " alternatives"
                self._add(C.INVALID, "", "", detail)
        not_ = s.not_
        if not_ is not None and not self._sub(not_, v, path):
            self._add(C.INVALID, "", "", f'"{path}" must not validate the schema (not)')

    def _string(self, s: Node, v: str, path: str) -> None:
        # kube-openapi's stringValidator stops at its first failure: maxLength, minLength, pattern
        if s.max_length is not None and len(v) > s.max_length:
            unit = "byte" if s.max_length == 1 else "bytes"
            self._add(C.TOO_LONG, path, detail=f"may not be more than {s.max_length} {unit}")
        elif s.min_length is not None and len(v) < s.min_length:
            self._add(C.INVALID, path, v, f"{path} in body should be at least {s.min_length} chars long")
        elif s.pattern is not None and s.pattern.search(v) is None:
            self._add(C.INVALID, path, v, f"{path} in body should match '{s.pattern_text}'")
        if s.format and formats.check(s.format, v) is False:
            self._add(C.TYPE_INVALID, path, v, f'{path} in body must be of type {s.format}: "{v}"')

    def _multiple_of(self, factor: float, v: float, path: str) -> None:
        # MultipleOfNativeType: an integer value is checked against int64(factor), so a
        # fractional factor below 1 becomes 0 and is reported as not positive.
        if isinstance(v, int):
            f_int = int(factor)
            if f_int <= 0:
                self._add(
                    C.INVALID, path, f_int, f"factor MultipleOf declared for {path} must be positive: {f_int}"
                )
            elif v % f_int:
                self._add(C.INVALID, path, v, f"{path} in body should be a multiple of {f_int}")
            return
        if factor <= 0:
            detail = f"factor MultipleOf declared for {path} must be positive: {go_format_float(factor)}"
            self._add(C.INVALID, path, factor, detail)
            return
        mult = 1 / factor * v if factor < 1 else v / factor
        if not (math.isfinite(mult) and float(mult).is_integer()):
            self._add(C.INVALID, path, v, f"{path} in body should be a multiple of {go_format_float(factor)}")

    def _number(self, s: Node, v: float, path: str) -> None:
        if s.multiple_of is not None:
            self._multiple_of(s.multiple_of, v, path)
        if s.maximum is not None and (v > s.maximum or (s.exclusive_maximum and v == s.maximum)):
            word = "less than" if s.exclusive_maximum else "less than or equal to"
            self._add(C.INVALID, path, v, f"{path} in body should be {word} {_num(s.maximum, v)}")
        if s.minimum is not None and (v < s.minimum or (s.exclusive_minimum and v == s.minimum)):
            word = "greater than" if s.exclusive_minimum else "greater than or equal to"
            self._add(C.INVALID, path, v, f"{path} in body should be {word} {_num(s.minimum, v)}")

    def _slice(self, s: Node, v: list[Any], path: str, old: Any) -> None:
        items = s.items
        if items is not None:
            for i, (x, o) in enumerate(zip(v, old_items(s, v, old), strict=True)):
                self.validate(items, x, f"{path}[{i}]", o)
        if s.min_items is not None and len(v) < s.min_items:
            self._add(C.INVALID, path, len(v), f"{path} in body should have at least {s.min_items} items")
        if s.max_items is not None and len(v) > s.max_items:
            noun = "item" if s.max_items == 1 else "items"
            self._add(C.TOO_MANY, path, len(v), f"must have at most {s.max_items} {noun}")

    def _enum(self, s: Node, v: Any, path: str) -> None:
        if s.enum is None or any(json_equal(v, e) for e in s.enum):
            return
        allowed = ", ".join(C.go_value(e if isinstance(e, str) else C.go_value(e)) for e in s.enum)
        self._add(C.NOT_SUPPORTED, path, v, f"supported values: {allowed}")

    def _object(self, s: Node, v: dict[str, Any], path: str, old: Any) -> None:
        n = len(v)
        if s.max_properties is not None and n > s.max_properties:
            noun = "item" if s.max_properties == 1 else "items"
            self._add(C.TOO_MANY, path, n, f"must have at most {s.max_properties} {noun}")
        if s.min_properties is not None and n < s.min_properties:
            detail = f"{path} in body should have at least {s.min_properties} properties"
            self._add(C.INVALID, path, s.min_properties, detail)
        for k in s.required:
            if k not in v:
                self._add(C.REQUIRED, _join(path, k))
        props = s.properties
        additional = s.additional
        for k, x in v.items():
            child = props.get(k) or additional
            if child is not None:
                self.validate(child, x, _join(path, k), old_child(s, old, k))


def number_errors(s: Node, v: float) -> list[Cause]:
    """The multipleOf / maximum / minimum violations of the number ``v`` at ``s`` (path ``<nil>``)."""
    val = Validator()
    val._number(s, v, "")
    return val.causes


def validate_value(root: Node, obj: Any, old: Any = MISSING) -> list[Cause]:
    """All OpenAPI schema violations of ``obj`` against ``root``, in document order.

    ``old`` (the stored object, on update) enables ratcheting (:mod:`fakekube.crd.ratchet`).
    """
    v = Validator()
    v.validate(root, obj, "", old)
    return v.causes
