"""``Status`` errors named by a :class:`~fakekube._resources.ResourceType`: thin adapters over
:mod:`kubeapi.status` (one :class:`~kubeapi.status.StatusError` and the constructors of
``k8s.io/apimachinery/pkg/api/errors/errors.go`` for both the gateway and fakekube), plus the
field causes (``field.Invalid``, ``field.Required`` of ``k8s.io/apimachinery/pkg/util/validation/field``)
and the one error fakekube words itself (:func:`resource_version_required`).
"""

from __future__ import annotations

from typing import Any

from fakekube._resources import ResourceType
from kubeapi import status
from kubeapi.status import StatusError
from kubeapi.types import JSON

__all__ = [
    "StatusError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "field_invalid",
    "field_required",
    "internal_error",
    "invalid",
    "method_not_allowed",
    "method_not_supported",
    "namespace_not_found",
    "not_acceptable",
    "not_found",
    "page_not_found",
    "path_not_found",
    "resource_version_required",
    "service_unavailable",
    "too_large",
    "unsupported_media_type",
]

# Constructors that need no resource type, re-exported under the names fakekube uses.
bad_request = status.new_bad_request
method_not_allowed = status.new_method_not_allowed
too_large = status.new_request_entity_too_large_limit
expired = status.new_resource_expired
path_not_found = status.new_path_not_found
page_not_found = status.new_page_not_found
internal_error = status.new_internal_error
service_unavailable = status.new_service_unavailable
not_acceptable = status.new_not_acceptable


def not_found(rt: ResourceType, name: str) -> StatusError:
    """404 NotFound: ``rayclusters.ray.io "x" not found`` (errors.NewNotFound)."""
    return status.new_not_found(rt.group, rt.plural, name)


def namespace_not_found(name: str) -> StatusError:
    """404 NotFound for a missing namespace: ``namespaces "x" not found``, details kind ``namespaces``."""
    return status.new_not_found("", "namespaces", name)


def already_exists(rt: ResourceType, name: str) -> StatusError:
    """409 AlreadyExists: ``rayclusters.ray.io "x" already exists`` (errors.NewAlreadyExists)."""
    return status.new_already_exists(rt.group, rt.plural, name)


def conflict(rt: ResourceType, name: str) -> StatusError:
    """409 Conflict for a stale ``metadata.resourceVersion`` (errors.NewConflict with the storage
    layer's "the object has been modified" text)."""
    return status.new_conflict(rt.group, rt.plural, name)


def invalid(rt: ResourceType, name: str, causes: list[JSON], kind: str | None = None) -> StatusError:
    """422 Invalid with ``details.causes`` (errors.NewInvalid); ``kind`` is the kind named in the
    body when it differs from ``rt.kind`` (apiextensions reports that one)."""
    return status.new_invalid(rt.group, kind or rt.kind, name, causes)


def resource_version_required(rt: ResourceType, name: str) -> StatusError:
    """422 for an update of a custom resource without ``metadata.resourceVersion``: the generic
    store's ``rest.BeforeUpdate`` error, named by group/resource (not kind)."""
    cause = {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: must be specified for an update",
        "field": "metadata.resourceVersion",
    }
    return StatusError(
        422,
        "Invalid",
        f'{rt.group_resource} "{name}" is invalid: metadata.resourceVersion: {cause["message"]}',
        status.status_details(name=name, group=rt.group, kind=rt.plural, causes=[cause]),
    )


def method_not_supported(rt: ResourceType, verb: str) -> StatusError:
    """405 MethodNotAllowed ``VERB is not supported on resources of kind "plural.group"``
    (errors.NewMethodNotSupported, as the CRD handler answers for a verb it does not serve)."""
    return status.new_method_not_supported(rt.group, rt.plural, verb)


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    """415 UnsupportedMediaType for a body (or patch) type ``content_type`` the resource does not take."""
    return status.new_unsupported_media_type(accepted)


def field_invalid(field: str, value: Any, detail: str) -> JSON:
    """A ``FieldValueInvalid`` cause, message ``Invalid value: "v": detail`` (field.Invalid)."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}", "field": field}


def field_required(field: str, detail: str) -> JSON:
    """A ``FieldValueRequired`` cause, message ``Required value: detail`` (field.Required; just
    ``Required value`` when ``detail`` is empty, as ``ErrorBody`` writes it)."""
    message = f"Required value: {detail}" if detail else "Required value"
    return {"reason": "FieldValueRequired", "message": message, "field": field}


def field_duplicate(field: str, value: Any) -> JSON:
    """A ``FieldValueDuplicate`` cause, message ``Duplicate value: "v"`` (field.Duplicate)."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    return {"reason": "FieldValueDuplicate", "message": f"Duplicate value: {shown}", "field": field}
