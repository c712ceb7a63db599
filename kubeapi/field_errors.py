"""Field errors (``field.Error``), worded as the Kubernetes API server words them.

A :class:`Cause` is one ``field.Error`` of ``k8s.io/apimachinery/pkg/util/validation/field/errors.go``:
``type`` is the ``CauseType`` (``FieldValueInvalid``, ``FieldValueForbidden``, ...), ``field`` the
path (``spec.workerGroupSpecs[0].replicas``, ``data[cpu]``) and ``message`` the ``ErrorBody()``
text (``Invalid value: "x": detail``, ``Forbidden: detail``, ``Unsupported value: "x": supported
values: "a", "b"``). :func:`make` builds one as the ``field.Invalid/Forbidden/NotSupported/...``
constructors do; ``kubeapi.status.new_invalid`` turns a list of them into the 422 ``Status``.
Shared by fakekube's CRD validation and the gateway's own checks (compute templates).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubeapi.fields import go_format_float
from kubeapi.types import JSON

__all__ = [
    "DUPLICATE",
    "FORBIDDEN",
    "INVALID",
    "NOT_SUPPORTED",
    "OMIT",
    "REQUIRED",
    "ROOT",
    "TOO_LONG",
    "TOO_MANY",
    "TOO_SHORT",
    "TYPE_INVALID",
    "Cause",
    "Raw",
    "aggregate_message",
    "go_value",
    "make",
    "not_supported",
]

INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
TOO_SHORT = "FieldValueTooShort"

_LABELS = {
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    TOO_SHORT: "Too short",
}
# Error types whose body never shows the bad value (ErrorBody's first case).
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG, TOO_SHORT}
# Marker for "omit the value" (apimachinery's omitValue).
OMIT = object()

# Path of the object root as field.Path prints a nil path.
ROOT = "<nil>"


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error: ``type`` (CauseType), ``field`` (path), ``message`` (ErrorBody)."""

    type: str
    field: str
    message: str

    def __str__(self) -> str:
        """``field: message``, as ``field.Error.Error()``."""
        return f"{self.field}: {self.message}"

    def to_status_cause(self) -> JSON:
        """The ``details.causes[]`` entry: ``{"reason", "message", "field"}``."""
        return {"reason": self.type, "message": self.message, "field": self.field}


class Raw(str):
    """A bad value already rendered (e.g. a Go struct dump): shown as is, not quoted."""

    __slots__ = ()


def go_value(v: Any) -> str:
    """Render a bad value as ``field.Error.ErrorBody`` does: strings quoted, numbers plain, else JSON."""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_format_float(v)
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def make(type_: str, field: str, value: Any = OMIT, detail: str = "") -> Cause:
    """Build a :class:`Cause` like the ``field.Invalid/Required/...`` constructors."""
    label = _LABELS[type_]
    body = label if type_ in _NO_VALUE or value is OMIT else f"{label}: {go_value(value)}"
    if detail:
        body += f": {detail}"
    return Cause(type_, field, body)


def aggregate_message(causes: list[Cause]) -> str:
    """``ErrorList.ToAggregate().Error()``: one error as is, several as ``[a, b]`` (duplicates dropped)."""
    seen: list[str] = []
    for c in causes:
        s = str(c)
        if s not in seen:
            seen.append(s)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def not_supported(field: str, value: Any, valid: Iterable[str]) -> Cause:
    """``field.NotSupported``: ``Unsupported value: "v": supported values: "a", "b"``."""
    return make(NOT_SUPPORTED, field, value, "supported values: " + ", ".join(json.dumps(v) for v in valid))
