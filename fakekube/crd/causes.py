"""Field errors of custom-resource validation, worded as the Kubernetes API server words them.

A :class:`Cause` is one ``field.Error`` of ``k8s.io/apimachinery/pkg/util/validation/field/errors.go``:
``type`` is the ``CauseType`` (``FieldValueInvalid``, ``FieldValueRequired``, ...), ``field`` the
path (``spec.workerGroupSpecs[0].replicas``) and ``message`` the ``ErrorBody()`` text
(``Invalid value: "string": spec.x in body must be of type integer: "string"``). The builders
:func:`invalid_status` and :func:`bad_request_status` give the ``Status`` bodies of
``errors.NewInvalid`` (422) and ``errors.NewBadRequest`` (400) in
``k8s.io/apimachinery/pkg/api/errors/errors.go``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubeapi.fields import go_format_float
from kubeapi.types import JSON

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


def invalid_status(kind: str, group: str, name: str, causes: list[Cause]) -> JSON:
    """The 422 ``Invalid`` ``Status`` of ``errors.NewInvalid(GroupKind{group, kind}, name, errs)``.

    ``message`` is ``Kind.group "name" is invalid: <aggregate>``; ``details`` has name, group,
    kind and ``causes`` (reason/message/field per error).
    """
    qualified = f"{kind}.{group}" if group else kind
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{qualified} "{name}" is invalid: {aggregate_message(causes)}',
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [c.to_status_cause() for c in causes],
        },
        "code": 422,
    }


def bad_request_status(message: str) -> JSON:
    """The 400 ``BadRequest`` ``Status`` of ``errors.NewBadRequest(message)``."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "BadRequest",
        "code": 400,
    }
