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

# The field-error primitives live in kubeapi.field_errors (the gateway words its checks the same way).
from kubeapi.field_errors import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    OMIT,
    REQUIRED,
    ROOT,
    TOO_LONG,
    TOO_MANY,
    TOO_SHORT,
    TYPE_INVALID,
    Cause,
    Raw,
    aggregate_message,
    go_value,
    make,
)
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
    "bad_request_status",
    "go_value",
    "invalid_status",
    "make",
]


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
