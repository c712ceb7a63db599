"""Kubernetes ``Status`` errors produced by the gateway itself.

A ``Status`` is ``{"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
"message", "reason", "details", "code"}``; the reasons and their codes are those of
k8s.io/apimachinery/pkg/apis/meta/v1/types.go (``StatusReason*``), and the messages follow
k8s.io/apimachinery/pkg/api/errors/errors.go so clients that parse them (kubectl, client-go,
the Python client) show them as they would a real API server's.
"""

from __future__ import annotations

import json
from typing import Any

from kubeapi.status import failure_status

#: The kube-apiserver's message for a path it does not serve (``NewNotFound`` of the mux).
NOT_FOUND_MESSAGE = "the server could not find the requested resource"


#: ``StatusReason`` per HTTP code, as ``NewGenericServerResponse`` maps them
#: (k8s.io/apimachinery/pkg/api/errors/errors.go).
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(code: int) -> str:
    """The ``StatusReason`` for HTTP ``code`` (``Unknown`` when Kubernetes defines none)."""
    return REASONS.get(code, "InternalError" if code >= 500 else "Unknown")


class GatewayError(Exception):
    """An error answered to the caller as a ``Status`` with HTTP ``code``.

    ``reason`` is a ``StatusReason`` (``NotFound``, ``MethodNotAllowed``, ``ServiceUnavailable``...),
    ``details`` the optional ``StatusDetails`` mapping (``name``, ``group``, ``kind``, ``causes``...).
    Middleware raises it to refuse a request; nothing is sent upstream then.
    """

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """This error as a ``Status`` object (a JSON-ready dict)."""
        return failure_status(self.code, self.reason, self.message, self.details)

    def body(self) -> bytes:
        """This error as the JSON bytes of a ``Status``."""
        return json.dumps(self.status(), separators=(",", ":")).encode()


def not_found_path() -> GatewayError:
    """404 for a path outside the gateway's allowlist (same body as the API server's unknown path)."""
    return GatewayError(404, "NotFound", NOT_FOUND_MESSAGE, {})


def method_not_allowed(method: str) -> GatewayError:
    """405 for an allowlisted path reached with a verb the gateway does not allow there."""
    return GatewayError(
        405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({method})"
    )


def too_large(limit: int) -> GatewayError:
    """413 for a request body above ``limit`` bytes, worded as the apiserver words it:
    ``limitedReadBody`` in k8s.io/apiserver/pkg/endpoints/handlers/rest.go returns
    ``errors.NewRequestEntityTooLargeError("limit is N")``, whose message is
    ``Request entity too large: limit is N`` (k8s.io/apimachinery/pkg/api/errors/errors.go)."""
    return GatewayError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def upstream_unavailable(detail: str) -> GatewayError:
    """503 when the upstream API server cannot be reached (after retries)."""
    return GatewayError(
        503, "ServiceUnavailable", f"the upstream Kubernetes API server is unavailable: {detail}"
    )


def upstream_timeout(detail: str) -> GatewayError:
    """504 when the upstream API server did not answer in time (``StatusReasonTimeout``)."""
    return GatewayError(504, "Timeout", f"timed out waiting for the upstream Kubernetes API server: {detail}")


class RelayAborted(Exception):
    """The upstream failed after the response had started: the caller's response is cut short."""


def from_upstream(status: int, obj: Any, fallback: str) -> GatewayError:
    """An upstream error answer (``Status`` or not) as a GatewayError with its code and reason."""
    if isinstance(obj, dict) and obj.get("kind") == "Status":
        return GatewayError(
            status, str(obj.get("reason", "")), str(obj.get("message", fallback)), obj.get("details")
        )
    return GatewayError(status, reason_for(status), fallback)
