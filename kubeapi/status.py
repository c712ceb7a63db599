"""``Status`` objects (k8s.io/apimachinery/pkg/apis/meta/v1 ``Status``), as the apiserver writes them.

Field order follows the Go struct (kind, apiVersion, metadata, status, message, reason, details,
code), so bodies compare byte for byte with a real server's. ``details`` is ``omitempty`` on a
pointer in Go: absent when there is none, but ``{}`` when the server set an empty one (its 404 for
an unknown path does).
"""

from __future__ import annotations

from typing import Any


def failure_status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ``status: Failure`` Status as a JSON-ready dict; ``code`` is the HTTP status code,
    ``reason`` a metav1.StatusReason (``NotFound``, ``Invalid``...); ``details`` omitted when None."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body
