"""``Status`` errors, as kube-apiserver writes them: one exception for the gateway and fakekube.

A failure is answered with a ``meta/v1`` ``Status`` (k8s.io/apimachinery/pkg/apis/meta/v1
``types.go``): ``{"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
"message", "reason", "details", "code"}`` in the Go struct's field order, so bodies compare byte
for byte with a real server's. ``message`` and ``reason`` are ``omitempty`` in Go (absent when
``""``). ``details`` is ``omitempty`` on a pointer: absent when there is none, but ``{}`` when
the server set an empty one (its 404 for an unknown path does). ``StatusDetails`` fields are
written in Go order (name, group, kind, uid, causes, retryAfterSeconds), each ``omitempty``;
a ``StatusCause`` is (reason, message, field), each ``omitempty``.

:class:`StatusError` is Go's ``*errors.StatusError``. The ``new_*`` constructors are named after,
and word their messages exactly as, the functions of k8s.io/apimachinery/pkg/api/errors/errors.go
(``NewNotFound`` → :func:`new_not_found`...); the few answers that come from elsewhere in
kube-apiserver (the not-found handler, content negotiation, the request body limit) and the
gateway's own upstream failures name their source in their docstring. Resources are given as
``group`` (``""`` for core) and ``resource`` (the plural), as ``schema.GroupResource``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kubeapi.types import JSON

__all__ = [
    "CAUSE_FIELD_MANAGER_CONFLICT",
    "CAUSE_FIELD_VALUE_DUPLICATE",
    "CAUSE_FIELD_VALUE_FORBIDDEN",
    "CAUSE_FIELD_VALUE_INVALID",
    "CAUSE_FIELD_VALUE_NOT_FOUND",
    "CAUSE_FIELD_VALUE_NOT_SUPPORTED",
    "CAUSE_FIELD_VALUE_REQUIRED",
    "CAUSE_FIELD_VALUE_TOO_LONG",
    "CAUSE_FIELD_VALUE_TOO_MANY",
    "CAUSE_FIELD_VALUE_TYPE_INVALID",
    "CAUSE_INTERNAL",
    "CAUSE_RESOURCE_VERSION_TOO_LARGE",
    "CAUSE_UNEXPECTED_SERVER_RESPONSE",
    "NOT_FOUND_MESSAGE",
    "OBJECT_MODIFIED",
    "REASONS_BY_CODE",
    "REASON_ALREADY_EXISTS",
    "REASON_BAD_REQUEST",
    "REASON_CONFLICT",
    "REASON_EXPIRED",
    "REASON_FORBIDDEN",
    "REASON_GONE",
    "REASON_INTERNAL_ERROR",
    "REASON_INVALID",
    "REASON_METHOD_NOT_ALLOWED",
    "REASON_NOT_ACCEPTABLE",
    "REASON_NOT_FOUND",
    "REASON_REQUEST_ENTITY_TOO_LARGE",
    "REASON_SERVER_TIMEOUT",
    "REASON_SERVICE_UNAVAILABLE",
    "REASON_STORE_READ_ERROR",
    "REASON_TIMEOUT",
    "REASON_TOO_MANY_REQUESTS",
    "REASON_UNAUTHORIZED",
    "REASON_UNKNOWN",
    "REASON_UNSUPPORTED_MEDIA_TYPE",
    "StatusError",
    "error_to_status",
    "failure_status",
    "from_status_object",
    "group_resource",
    "new_already_exists",
    "new_apply_conflict",
    "new_bad_request",
    "new_conflict",
    "new_forbidden",
    "new_generate_name_conflict",
    "new_gone",
    "new_internal_error",
    "new_invalid",
    "new_method_not_allowed",
    "new_method_not_allowed_for",
    "new_method_not_supported",
    "new_not_acceptable",
    "new_not_found",
    "new_page_not_found",
    "new_path_not_found",
    "new_request_entity_too_large",
    "new_request_entity_too_large_limit",
    "new_resource_expired",
    "new_server_timeout",
    "new_service_unavailable",
    "new_timeout_error",
    "new_too_many_requests",
    "new_too_many_requests_error",
    "new_unauthorized",
    "new_unsupported_media_type",
    "new_upstream_timeout",
    "new_upstream_unavailable",
    "reason_for_code",
    "status_cause",
    "status_details",
]

# -- metav1.StatusReason (k8s.io/apimachinery/pkg/apis/meta/v1/types.go) ---------------------------
REASON_UNKNOWN: Final = ""
REASON_UNAUTHORIZED: Final = "Unauthorized"
REASON_FORBIDDEN: Final = "Forbidden"
REASON_NOT_FOUND: Final = "NotFound"
REASON_ALREADY_EXISTS: Final = "AlreadyExists"
REASON_CONFLICT: Final = "Conflict"
REASON_GONE: Final = "Gone"
REASON_INVALID: Final = "Invalid"
REASON_SERVER_TIMEOUT: Final = "ServerTimeout"
REASON_STORE_READ_ERROR: Final = "StorageReadError"
REASON_TIMEOUT: Final = "Timeout"
REASON_TOO_MANY_REQUESTS: Final = "TooManyRequests"
REASON_BAD_REQUEST: Final = "BadRequest"
REASON_METHOD_NOT_ALLOWED: Final = "MethodNotAllowed"
REASON_NOT_ACCEPTABLE: Final = "NotAcceptable"
REASON_REQUEST_ENTITY_TOO_LARGE: Final = "RequestEntityTooLarge"
REASON_UNSUPPORTED_MEDIA_TYPE: Final = "UnsupportedMediaType"
REASON_INTERNAL_ERROR: Final = "InternalError"
REASON_EXPIRED: Final = "Expired"
REASON_SERVICE_UNAVAILABLE: Final = "ServiceUnavailable"

# -- metav1.CauseType ----------------------------------------------------------------------------
CAUSE_FIELD_VALUE_NOT_FOUND: Final = "FieldValueNotFound"
CAUSE_FIELD_VALUE_REQUIRED: Final = "FieldValueRequired"
CAUSE_FIELD_VALUE_DUPLICATE: Final = "FieldValueDuplicate"
CAUSE_FIELD_VALUE_INVALID: Final = "FieldValueInvalid"
CAUSE_FIELD_VALUE_NOT_SUPPORTED: Final = "FieldValueNotSupported"
CAUSE_FIELD_VALUE_FORBIDDEN: Final = "FieldValueForbidden"
CAUSE_FIELD_VALUE_TOO_LONG: Final = "FieldValueTooLong"
CAUSE_FIELD_VALUE_TOO_MANY: Final = "FieldValueTooMany"
CAUSE_INTERNAL: Final = "InternalError"
CAUSE_FIELD_VALUE_TYPE_INVALID: Final = "FieldValueTypeInvalid"
CAUSE_UNEXPECTED_SERVER_RESPONSE: Final = "UnexpectedServerResponse"
CAUSE_FIELD_MANAGER_CONFLICT: Final = "FieldManagerConflict"
CAUSE_RESOURCE_VERSION_TOO_LARGE: Final = "ResourceVersionTooLarge"

#: kube-apiserver's message for a path it does not serve (its not-found handler's Status).
NOT_FOUND_MESSAGE: Final = "the server could not find the requested resource"
#: The generic store's optimistic-lock text, the ``err`` of its ``NewConflict``
#: (k8s.io/apiserver/pkg/registry/generic/registry/store.go ``OptimisticLockErrorMsg``).
OBJECT_MODIFIED: Final = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

#: ``StatusReason`` per HTTP code for an answer that carries none, as ``NewGenericServerResponse``
#: maps them, plus 410 Expired and 413 RequestEntityTooLarge (the gateway's table).
REASONS_BY_CODE: Final[Mapping[int, str]] = {
    400: REASON_BAD_REQUEST,
    401: REASON_UNAUTHORIZED,
    403: REASON_FORBIDDEN,
    404: REASON_NOT_FOUND,
    405: REASON_METHOD_NOT_ALLOWED,
    406: REASON_NOT_ACCEPTABLE,
    409: REASON_CONFLICT,
    410: REASON_EXPIRED,
    413: REASON_REQUEST_ENTITY_TOO_LARGE,
    415: REASON_UNSUPPORTED_MEDIA_TYPE,
    422: REASON_INVALID,
    429: REASON_TOO_MANY_REQUESTS,
    500: REASON_INTERNAL_ERROR,
    503: REASON_SERVICE_UNAVAILABLE,
    504: REASON_TIMEOUT,
}


def reason_for_code(code: int) -> str:
    """The ``StatusReason`` for HTTP ``code`` from :data:`REASONS_BY_CODE`; ``InternalError`` for
    another 5xx and ``"Unknown"`` otherwise (the gateway's choice for a non-Status upstream answer;
    Go's ``StatusReasonUnknown`` is ``""``)."""
    return REASONS_BY_CODE.get(code, REASON_INTERNAL_ERROR if code >= 500 else "Unknown")


def group_resource(group: str, resource: str) -> str:
    """``schema.GroupResource.String()``: ``resource.group``, or ``resource`` for the core group."""
    return f"{resource}.{group}" if group else resource


def status_cause(reason: str = "", message: str = "", field: str = "") -> JSON:
    """A ``StatusCause``: ``reason`` (a CauseType), ``message``, ``field``; empty ones omitted."""
    cause: JSON = {}
    if reason:
        cause["reason"] = reason
    if message:
        cause["message"] = message
    if field:
        cause["field"] = field
    return cause


def status_details(
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    uid: str = "",
    causes: Iterable[JSON] | None = None,
    retry_after_seconds: int = 0,
) -> JSON:
    """A ``StatusDetails`` in Go field order, each field omitted when empty (``{}`` when all are).
    ``kind`` is what the constructor puts there: the resource plural for most, the kind for
    ``NewInvalid``."""
    details: JSON = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    if uid:
        details["uid"] = uid
    if causes:
        details["causes"] = list(causes)
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return details


def failure_status(
    code: int, reason: str, message: str, details: JSON | None = None, metadata: JSON | None = None
) -> JSON:
    """A ``status: Failure`` Status as a JSON-ready dict: ``code`` the HTTP status code, ``reason``
    a StatusReason, ``details`` omitted when None, ``message``/``reason`` omitted when ``""``,
    ``metadata`` (a ListMeta, e.g. ``{"continue": ...}``) ``{}`` when None."""
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata if metadata is not None else {},
        "status": "Failure",
    }
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class StatusError(Exception):
    """A failure answered with a ``Status`` body and HTTP ``code`` (Go: ``*errors.StatusError``).

    ``reason`` is a StatusReason (``REASON_*``), ``message`` the human text, ``details`` the
    optional ``StatusDetails`` (see :func:`status_details`; None = absent, ``{}`` = present and
    empty). ``plain`` marks the few answers kube-apiserver writes as text/plain rather than as a
    Status (the body is then ``message``). ``warnings`` are ``Warning`` header texts to send with
    the answer; ``list_continue`` the Status' ``metadata.continue`` (a 410 for an expired continue
    token carries a fresh token there).
    """

    def __init__(
        self, code: int, reason: str, message: str, details: JSON | None = None, *, plain: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.plain = plain
        self.warnings: list[str] = []
        self.list_continue = ""

    def status(self) -> JSON:
        """This error as a ``Status`` object (a JSON-ready dict, Go field order)."""
        metadata = {"continue": self.list_continue} if self.list_continue else None
        return failure_status(self.code, self.reason, self.message, self.details, metadata)

    def body(self) -> bytes:
        """The response body: the compact JSON of :meth:`status` (UTF-8, non-ASCII unescaped, as
        Go's encoder writes it; a lone surrogate is written ``\\udcXX``), or ``message`` itself (UTF-8)
        for a ``plain`` answer."""
        if self.plain:
            return self.message.encode(errors="replace")
        text = json.dumps(self.status(), separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate: JSON-escape it rather than fail the answer
            return json.dumps(self.status(), separators=(",", ":")).encode()

    @property
    def content_type(self) -> str:
        """The body's media type: ``application/json``, or ``text/plain; charset=utf-8`` if plain."""
        return "text/plain; charset=utf-8" if self.plain else "application/json"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


# -- k8s.io/apimachinery/pkg/api/errors/errors.go ----------------------------------------------------


def new_not_found(group: str, resource: str, name: str) -> StatusError:
    """404 ``NewNotFound``: ``rayclusters.ray.io "x" not found``; details name, group, kind=resource."""
    return StatusError(
        404,
        REASON_NOT_FOUND,
        f'{group_resource(group, resource)} "{name}" not found',
        status_details(name=name, group=group, kind=resource),
    )


def new_already_exists(group: str, resource: str, name: str) -> StatusError:
    """409 ``NewAlreadyExists``: ``rayclusters.ray.io "x" already exists``."""
    return StatusError(
        409,
        REASON_ALREADY_EXISTS,
        f'{group_resource(group, resource)} "{name}" already exists',
        status_details(name=name, group=group, kind=resource),
    )


def new_generate_name_conflict(group: str, resource: str, name: str, retry_after_seconds: int) -> StatusError:
    """409 AlreadyExists ``NewGenerateNameConflict``: ``... already exists, the server was not able to
    generate a unique name for the object``, with ``retryAfterSeconds``."""
    return StatusError(
        409,
        REASON_ALREADY_EXISTS,
        f'{group_resource(group, resource)} "{name}" already exists, '
        "the server was not able to generate a unique name for the object",
        status_details(name=name, group=group, kind=resource, retry_after_seconds=retry_after_seconds),
    )


def new_unauthorized(reason: str = "") -> StatusError:
    """401 ``NewUnauthorized``: ``reason`` as message, ``not authorized`` when empty; no details."""
    return StatusError(401, REASON_UNAUTHORIZED, reason or "not authorized")


def new_forbidden(group: str, resource: str, name: str, err: str) -> StatusError:
    """403 ``NewForbidden``: ``forbidden: ERR`` (no resource), ``R is forbidden: ERR`` (no name) or
    ``R "name" is forbidden: ERR``; details name, group, kind=resource (``{}`` when all empty)."""
    if not group and not resource:
        message = f"forbidden: {err}"
    elif not name:
        message = f"{group_resource(group, resource)} is forbidden: {err}"
    else:
        message = f'{group_resource(group, resource)} "{name}" is forbidden: {err}'
    return StatusError(403, REASON_FORBIDDEN, message, status_details(name=name, group=group, kind=resource))


def new_conflict(group: str, resource: str, name: str, err: str = OBJECT_MODIFIED) -> StatusError:
    """409 ``NewConflict``: ``Operation cannot be fulfilled on R "name": ERR`` (``err`` defaults to
    the generic store's stale-resourceVersion text, :data:`OBJECT_MODIFIED`)."""
    return StatusError(
        409,
        REASON_CONFLICT,
        f'Operation cannot be fulfilled on {group_resource(group, resource)} "{name}": {err}',
        status_details(name=name, group=group, kind=resource),
    )


def new_apply_conflict(causes: Iterable[JSON], message: str) -> StatusError:
    """409 Conflict ``NewApplyConflict``: server-side apply conflicts, details with only ``causes``."""
    return StatusError(409, REASON_CONFLICT, message, status_details(causes=causes))


def new_gone(message: str) -> StatusError:
    """410 Gone ``NewGone`` (deprecated in Go in favour of :func:`new_resource_expired`)."""
    return StatusError(410, REASON_GONE, message)


def new_resource_expired(message: str) -> StatusError:
    """410 Expired ``NewResourceExpired``: a too-old resourceVersion or continue token."""
    return StatusError(410, REASON_EXPIRED, message)


def new_invalid(group: str, kind: str, name: str, causes: Iterable[JSON]) -> StatusError:
    """422 Invalid ``NewInvalid`` for ``schema.GroupKind{group, kind}`` and field errors ``causes``.

    Each cause is ``{"reason": CauseType, "message": ErrorBody, "field": path}``. The message is
    ``Kind.group "name" is invalid: AGG`` where AGG is ``field.ErrorList.ToAggregate``: the
    ``field: message`` texts, repeats dropped, alone or as ``[a, b]``; without causes just
    ``... is invalid``. Details: name, group, kind, causes (every cause, repeats kept).
    """
    causes = list(causes)
    gk = f"{kind}.{group}" if group else kind
    texts: list[str] = []
    for c in causes:
        text = f"{c.get('field', '')}: {c.get('message', '')}"
        if text not in texts:
            texts.append(text)
    if not texts:
        message = f'{gk} "{name}" is invalid'
    else:
        summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        message = f'{gk} "{name}" is invalid: {summary}'
    return StatusError(
        422, REASON_INVALID, message, status_details(name=name, group=group, kind=kind, causes=causes)
    )


def new_bad_request(message: str) -> StatusError:
    """400 BadRequest ``NewBadRequest``: ``message`` as is, no details."""
    return StatusError(400, REASON_BAD_REQUEST, message)


def new_too_many_requests(message: str, retry_after_seconds: int) -> StatusError:
    """429 ``NewTooManyRequests``: details with ``retryAfterSeconds`` (``{}`` when 0)."""
    return StatusError(
        429, REASON_TOO_MANY_REQUESTS, message, status_details(retry_after_seconds=retry_after_seconds)
    )


def new_too_many_requests_error(message: str) -> StatusError:
    """429 ``NewTooManyRequestsError``: ``Too many requests: MESSAGE``, no details."""
    return StatusError(429, REASON_TOO_MANY_REQUESTS, f"Too many requests: {message}")


def new_service_unavailable(message: str) -> StatusError:
    """503 ``NewServiceUnavailable`` (e.g. a Service proxy with no endpoints), no details."""
    return StatusError(503, REASON_SERVICE_UNAVAILABLE, message)


def new_method_not_supported(group: str, resource: str, action: str) -> StatusError:
    """405 ``NewMethodNotSupported``: ``ACTION is not supported on resources of kind "R"``; details
    group and kind=resource (the CRD handler's answer for a verb it does not serve)."""
    return StatusError(
        405,
        REASON_METHOD_NOT_ALLOWED,
        f'{action} is not supported on resources of kind "{group_resource(group, resource)}"',
        status_details(group=group, kind=resource),
    )


def new_server_timeout(group: str, resource: str, operation: str, retry_after_seconds: int) -> StatusError:
    """500 ServerTimeout ``NewServerTimeout``: ``The OP operation against R could not be completed at
    this time, please try again.``; details name=operation, group, kind, retryAfterSeconds."""
    return StatusError(
        500,
        REASON_SERVER_TIMEOUT,
        f"The {operation} operation against {group_resource(group, resource)} could not be completed "
        "at this time, please try again.",
        status_details(name=operation, group=group, kind=resource, retry_after_seconds=retry_after_seconds),
    )


def new_internal_error(err: str) -> StatusError:
    """500 ``NewInternalError``: ``Internal error occurred: ERR``, details causes ``[{message: ERR}]``."""
    return StatusError(
        500,
        REASON_INTERNAL_ERROR,
        f"Internal error occurred: {err}",
        status_details(causes=[status_cause(message=err)]),
    )


def new_timeout_error(message: str, retry_after_seconds: int = 0) -> StatusError:
    """504 Timeout ``NewTimeoutError``: ``Timeout: MESSAGE``, details retryAfterSeconds (``{}`` if 0)."""
    return StatusError(
        504, REASON_TIMEOUT, f"Timeout: {message}", status_details(retry_after_seconds=retry_after_seconds)
    )


def new_request_entity_too_large(message: str) -> StatusError:
    """413 ``NewRequestEntityTooLargeError``: ``Request entity too large: MESSAGE``, no details."""
    return StatusError(413, REASON_REQUEST_ENTITY_TOO_LARGE, f"Request entity too large: {message}")


def new_request_entity_too_large_limit(limit: int) -> StatusError:
    """413 for a body above ``limit`` bytes: ``Request entity too large: limit is 3145728``
    (k8s.io/apiserver/pkg/endpoints/handlers/rest.go ``limitedReadBody``)."""
    return new_request_entity_too_large(f"limit is {limit}")


# -- elsewhere in kube-apiserver ---------------------------------------------------------------------


def new_path_not_found() -> StatusError:
    """404 NotFound for a path no handler serves, ``details: {}``: kube-apiserver's not-found
    handler (``the server could not find the requested resource``)."""
    return StatusError(404, REASON_NOT_FOUND, NOT_FOUND_MESSAGE, {})


def new_page_not_found() -> StatusError:
    """The non-Status 404 (text/plain ``404 page not found\\n``) of Go's ``http.NotFound``, behind
    the CRD handler for unknown paths in a served group."""
    return StatusError(404, REASON_NOT_FOUND, "404 page not found\n", plain=True)


def new_method_not_allowed() -> StatusError:
    """405 for a verb a served path does not take, as kube-apiserver answers it:
    ``the server does not allow this method on the requested resource`` with ``details: {}``."""
    return StatusError(
        405, REASON_METHOD_NOT_ALLOWED, "the server does not allow this method on the requested resource", {}
    )


def new_method_not_allowed_for(method: str) -> StatusError:
    """The gateway's 405 for a verb its allowlist refuses on a served path: kube-apiserver's text
    with the method appended, ``... on the requested resource (DELETE)``, no details."""
    return StatusError(
        405,
        REASON_METHOD_NOT_ALLOWED,
        f"the server does not allow this method on the requested resource ({method})",
    )


def new_unsupported_media_type(accepted: Iterable[str]) -> StatusError:
    """415 for a body type the endpoint does not take (k8s.io/apiserver/pkg/endpoints/handlers/
    negotiation/errors.go ``NewUnsupportedMediaTypeError``): ``the body of the request was in an
    unknown format - accepted media types include: a, b``."""
    return StatusError(
        415,
        REASON_UNSUPPORTED_MEDIA_TYPE,
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def new_not_acceptable(accepted: Iterable[str]) -> StatusError:
    """406 when nothing in ``Accept`` can be served (negotiation ``NewNotAcceptableError``):
    ``only the following media types are accepted: a, b``, with ``details: {}`` as fakekube has
    answered it (checked against the reference server by the contract suite)."""
    return StatusError(
        406, REASON_NOT_ACCEPTABLE, "only the following media types are accepted: " + ", ".join(accepted), {}
    )


def error_to_status(err: BaseException) -> StatusError:
    """Any exception as the Status kube-apiserver answers (k8s.io/apiserver/pkg/endpoints/handlers/
    responsewriters/status.go ``ErrorToAPIStatus``): a StatusError as is, anything else a 500 with
    reason ``""`` (StatusReasonUnknown, omitted) and ``str(err)`` as message."""
    if isinstance(err, StatusError):
        return err
    return StatusError(500, REASON_UNKNOWN, str(err))


def new_body_unreadable() -> StatusError:
    """The 500 a server answers when the request body cannot be read to its end: a malformed
    chunked encoding (Go: ``invalid byte in chunk length``) or a caller that stopped sending.
    kube-apiserver answers such a read error through ``ErrorToAPIStatus`` (500, reason ``""``,
    the error's text; checked against refkube). The ASGI servers report both as
    ``http.disconnect`` without the cause, hence one message for both."""
    return StatusError(
        500,
        REASON_UNKNOWN,
        "the request body could not be read: malformed chunked encoding or unexpected EOF",
    )


# -- the gateway's upstream failures -------------------------------------------------------------------


def new_upstream_unavailable(detail: str) -> StatusError:
    """The gateway's 503 ServiceUnavailable when the upstream API server cannot be reached (after
    retries): ``the upstream Kubernetes API server is unavailable: DETAIL``."""
    return StatusError(
        503, REASON_SERVICE_UNAVAILABLE, f"the upstream Kubernetes API server is unavailable: {detail}"
    )


def new_upstream_timeout(detail: str) -> StatusError:
    """The gateway's 504 Timeout when the upstream did not answer in time:
    ``timed out waiting for the upstream Kubernetes API server: DETAIL``."""
    return StatusError(
        504, REASON_TIMEOUT, f"timed out waiting for the upstream Kubernetes API server: {detail}"
    )


def from_status_object(code: int, obj: Any, fallback: str) -> StatusError:
    """An error answer (HTTP ``code``, decoded body ``obj``) as a StatusError: a ``Status`` body keeps
    its reason, message (``fallback`` when absent) and details; anything else gets
    :func:`reason_for_code` and ``fallback`` (as client-go's ``NewGenericServerResponse`` replaces
    an unrecognised body, with the caller's wording)."""
    if isinstance(obj, dict) and obj.get("kind") == "Status":
        return StatusError(
            code, str(obj.get("reason", "")), str(obj.get("message", fallback)), obj.get("details")
        )
    return StatusError(code, reason_for_code(code), fallback)
