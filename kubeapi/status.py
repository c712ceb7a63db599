"""``Status`` objects (k8s.io/apimachinery/pkg/apis/meta/v1 ``Status``), as the apiserver writes them.

Field order follows the Go struct (kind, apiVersion, metadata, status, message, reason, details,
code), so bodies compare byte for byte with a real server's. ``details`` is ``omitempty`` on a
pointer in Go: absent when there is none, but ``{}`` when the server set an empty one (its 404 for
an unknown path does).
"""

from __future__ import annotations

import json
from typing import Any

JSON = dict[str, Any]

#: The kube-apiserver's message for a path it does not serve (its not-found handler's Status).
NOT_FOUND_MESSAGE = "the server could not find the requested resource"


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


class StatusError(Exception):
    """A failure answered with a ``Status`` body and HTTP ``code`` (Go: ``*errors.StatusError``).

    ``reason`` is a metav1 ``StatusReason`` (``NotFound``, ``Invalid``...), ``message`` the
    human text, ``details`` the optional ``StatusDetails`` mapping (``name``, ``group``, ``kind``,
    ``causes``...; None = absent, ``{}`` = present and empty). ``plain`` marks the few answers
    kube-apiserver writes as text/plain rather than as a Status (the body is then ``message``).
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

    def status(self) -> JSON:
        """This error as a ``Status`` object (a JSON-ready dict, Go field order)."""
        return failure_status(self.code, self.reason, self.message, self.details)

    def body(self) -> bytes:
        """The response body: the compact JSON of :meth:`status` (UTF-8, non-ASCII unescaped, as
        Go's encoder writes it), or ``message`` itself for a ``plain`` answer."""
        if self.plain:
            return self.message.encode()
        return json.dumps(self.status(), separators=(",", ":"), ensure_ascii=False).encode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


def new_path_not_found() -> StatusError:
    """404 NotFound for a path no handler serves, with ``details: {}``: kube-apiserver's
    not-found handler body (``the server could not find the requested resource``)."""
    return StatusError(404, "NotFound", NOT_FOUND_MESSAGE, {})
