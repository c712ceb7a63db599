"""An audit log as kube-apiserver writes it with ``--audit-log-path`` and a ``Metadata``-level policy.

One JSON line per request (``audit.k8s.io/v1`` ``Event``, k8s.io/apiserver ``pkg/apis/audit/v1``
and ``pkg/audit/request.go``): ``level`` ``Metadata``, ``auditID``, ``stage``
``ResponseComplete``, ``requestURI``, ``verb``, ``user`` (who authenticated), ``impersonatedUser``
(whom they impersonated, when they did), ``sourceIPs``, ``userAgent``, ``objectRef`` (resource,
namespace, name, apiGroup, apiVersion, subresource; the name of a create taken from the created
object, as kube-apiserver's create handler records it), ``responseStatus.code``, and the
timestamps. Requests refused before authentication (401) are not logged, and a watch is logged
when it ends (kube-apiserver also logs ``ResponseStarted`` for long-running requests); there is no
policy file, every request is logged at ``Metadata`` level.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from kubeapi.authn import UserInfo
from kubeapi.requestinfo import RequestInfo

__all__ = ["AuditLog"]


def _micro_now() -> str:
    """``metav1.MicroTime`` now: RFC 3339 with microseconds, UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _object_ref(info: RequestInfo, created_name: str) -> dict[str, str] | None:
    if not info.is_resource_request:
        return None
    ref = {
        "resource": info.resource,
        "namespace": info.namespace,
        "name": info.name or created_name,
        "apiGroup": info.api_group,
        "apiVersion": info.api_version,
        "subresource": info.subresource,
    }
    return {k: v for k, v in ref.items() if v}


class AuditLog:
    """Appends audit events to the file at ``path`` (created if missing; one line per event,
    flushed at once, as the log backend's ``blocking`` mode)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.touch()

    def record(
        self,
        info: RequestInfo,
        scope: Any,
        requestor: UserInfo,
        impersonated: UserInfo | None,
        code: int,
        created_name: str = "",
        received: str = "",
    ) -> None:
        """Write the event of one finished request (``code``: the response status)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete",
            "requestURI": info.path + (f"?{query}" if query else ""),
            "verb": info.verb,
            "user": requestor.to_json(),
        }
        if impersonated is not None:
            event["impersonatedUser"] = impersonated.to_json()
        client = scope.get("client")
        event["sourceIPs"] = [client[0]] if client else []
        if "user-agent" in headers:
            event["userAgent"] = headers["user-agent"]
        ref = _object_ref(info, created_name)
        if ref is not None:
            event["objectRef"] = ref
        event["responseStatus"] = {"metadata": {}, "code": code}
        now = _micro_now()
        event["requestReceivedTimestamp"] = received or now
        event["stageTimestamp"] = now
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
