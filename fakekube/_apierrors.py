"""Kubernetes ``Status`` error objects and the exception that carries them.

Every failure fakekube answers is a ``meta/v1`` ``Status`` (``kind: Status, apiVersion: v1,
status: Failure, message, reason, code, details``) shaped like the builders in
``k8s.io/apimachinery/pkg/api/errors/errors.go`` (``NewNotFound``, ``NewAlreadyExists``,
``NewConflict``, ``NewInvalid``, ``NewBadRequest``, ...). Message texts follow those builders;
where a message comes from elsewhere in the apiserver the docstring names the source.
"""

from __future__ import annotations

from typing import Any

from fakekube._resources import ResourceType
from kubeapi.status import StatusError, failure_status

JSON = dict[str, Any]


class ApiError(StatusError):
    """A :class:`kubeapi.status.StatusError` with what fakekube adds: ``Warning`` texts to send
    with it and the ``metadata.continue`` of an expired list. ``plain``: answer with ``message`` as
    text/plain instead of a Status (the mux's own 404)."""

    def __init__(
        self, code: int, reason: str, message: str, details: JSON | None = None, plain: bool = False
    ) -> None:
        super().__init__(code, reason, message, details, plain=plain)
        #: ``Warning`` header texts sent with the error (e.g. unknown fields of an undecodable body).
        self.warnings: list[str] = []
        #: ``metadata.continue`` of the Status (a 410 for an expired continue token).
        self.list_continue = ""

    def status(self) -> JSON:
        """The ``Status`` body (a dict ready for JSON)."""
        body = failure_status(self.code, self.reason, self.message, self.details)
        if self.list_continue:
            body["metadata"] = {"continue": self.list_continue}
        return body


def _resource_details(rt: ResourceType, name: str) -> JSON:
    """``details`` of the per-object errors: name, group (omitted for core) and kind = plural resource."""
    details: JSON = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    """404 NotFound: ``rayclusters.ray.io "x" not found`` (errors.NewNotFound)."""
    return ApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found', _resource_details(rt, name))


def namespace_not_found(name: str) -> ApiError:
    """404 NotFound for a missing namespace: ``namespaces "x" not found``, details kind ``namespaces``."""
    return ApiError(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})


def already_exists(rt: ResourceType, name: str) -> ApiError:
    """409 AlreadyExists: ``rayclusters.ray.io "x" already exists`` (errors.NewAlreadyExists)."""
    return ApiError(
        409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists', _resource_details(rt, name)
    )


def conflict(rt: ResourceType, name: str) -> ApiError:
    """409 Conflict for a stale ``metadata.resourceVersion``.

    errors.NewConflict with the storage layer's "the object has been modified" text.
    """
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _resource_details(rt, name),
    )


def invalid(rt: ResourceType, name: str, causes: list[JSON], kind: str | None = None) -> ApiError:
    """422 Invalid with ``details.causes`` (errors.NewInvalid).

    ``causes`` items are ``{"reason": "FieldValueInvalid"|..., "message": str, "field": str}``; the
    message joins ``field: message`` of each cause, like ``field.ErrorList.ToAggregate``. ``kind``
    is the kind named in the body when it differs from ``rt.kind`` (apiextensions reports that one).
    """
    kind = kind or rt.kind
    group_kind = f"{kind}.{rt.group}" if rt.group else kind
    parts: list[str] = []
    for c in causes:  # ToAggregate drops repeated messages; details keep every cause
        text = f"{c['field']}: {c['message']}"
        if text not in parts:
            parts.append(text)
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: JSON = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = kind
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{group_kind} "{name}" is invalid: {summary}', details)


def resource_version_required(rt: ResourceType, name: str) -> ApiError:
    """422 for an update of a custom resource without ``metadata.resourceVersion``.

    The generic store's ``rest.BeforeUpdate`` error, named by group/resource (not kind).
    """
    cause = {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: must be specified for an update",
        "field": "metadata.resourceVersion",
    }
    return ApiError(
        422,
        "Invalid",
        f'{rt.group_resource} "{name}" is invalid: metadata.resourceVersion: {cause["message"]}',
        {**_resource_details(rt, name), "causes": [cause]},
    )


def method_not_supported(rt: ResourceType, verb: str) -> ApiError:
    """405 MethodNotAllowed ``VERB is not supported on resources of kind "plural.group"``
    (errors.NewMethodNotSupported, as the CRD handler answers for a verb it does not serve)."""
    details: JSON = {"group": rt.group} if rt.group else {}
    details["kind"] = rt.plural
    return ApiError(
        405,
        "MethodNotAllowed",
        f'{verb} is not supported on resources of kind "{rt.group_resource}"',
        details,
    )


def field_invalid(field: str, value: Any, detail: str) -> JSON:
    """A ``FieldValueInvalid`` cause, message ``Invalid value: "v": detail`` (field.Invalid)."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}", "field": field}


def field_required(field: str, detail: str) -> JSON:
    """A ``FieldValueRequired`` cause, message ``Required value: detail`` (field.Required)."""
    return {"reason": "FieldValueRequired", "message": f"Required value: {detail}", "field": field}


def bad_request(message: str) -> ApiError:
    """400 BadRequest (errors.NewBadRequest): no details."""
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    """405 MethodNotAllowed, the text the apiserver's handler for an unsupported verb gives."""
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    """415 UnsupportedMediaType for a body (or patch) type the resource does not take.

    Source: apiserver ``handlers/patch.go`` / ``rest.go`` ("the body of the request was in an unknown
    format - accepted media types include: ...").
    """
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def too_large(limit: int) -> ApiError:
    """413 RequestEntityTooLarge: ``Request entity too large: limit is 3145728``.

    errors.NewRequestEntityTooLargeError.
    """
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def expired(message: str) -> ApiError:
    """410 Expired (errors.NewResourceExpired), for too-old watch resourceVersions and continue tokens."""
    return ApiError(410, "Expired", message)


def path_not_found() -> ApiError:
    """404 NotFound for a URL that names no served resource (the apiserver's not-found handler)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def internal_error(cause: str) -> ApiError:
    """500 InternalError ``Internal error occurred: CAUSE`` (errors.NewInternalError)."""
    return ApiError(
        500, "InternalError", f"Internal error occurred: {cause}", {"causes": [{"message": cause}]}
    )


def page_not_found() -> ApiError:
    """The apiserver's non-Status 404 (text ``404 page not found``) for unknown paths in a served
    group, from the ``NotFoundHandler`` behind the CRD handler."""
    return ApiError(404, "NotFound", "404 page not found\n", plain=True)


def service_unavailable(message: str) -> ApiError:
    """503 ServiceUnavailable (errors.NewServiceUnavailable), e.g. a Service proxy with no endpoints."""
    return ApiError(503, "ServiceUnavailable", message)


def not_acceptable(accepted: list[str]) -> ApiError:
    """406 NotAcceptable when nothing offered matches ``Accept`` (negotiation.NewNotAcceptableError)."""
    return ApiError(
        406, "NotAcceptable", "only the following media types are accepted: " + ", ".join(accepted), {}
    )
