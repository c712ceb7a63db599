"""``meta.k8s.io/v1`` ``Table`` output, what ``kubectl get`` asks for with
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.

Custom resources get ``Name`` plus the CRD's ``additionalPrinterColumns``
(apiextensions ``tableconvertor``; ``date`` columns shown as an age); core kinds get the columns
of ``pkg/printers/internalversion/printers.go`` for the served kinds. Each row carries the object
as ``PartialObjectMetadata`` (``includeObject=Metadata``, the default), the full object
(``Object``) or nothing (``None``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from fakekube._resources import (
    CONFIGMAPS,
    CORE_EVENTS,
    CRDS,
    EVENTS_V1,
    NAMESPACES,
    PODS,
    SERVICES,
    ResourceType,
)
from kubeapi.types import JSON

_NAME_DESC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: ``5s``, ``3m2s``, ``4h``, ``2d3h``, ``3y``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    m = s // 60
    if m < 10:
        rem = s % 60
        return f"{m}m{rem}s" if rem else f"{m}m"
    if m < 60 * 3:
        return f"{m}m"
    h = m // 60
    if h < 8:
        rem = m % 60
        return f"{h}h{rem}m" if rem else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        rem = h % 24
        return f"{h // 24}d{rem}h" if rem else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        d = h // 24
        rem = d % 365
        return f"{d // 365}y{rem}d" if rem else f"{d // 365}y"
    return f"{h // 24 // 365}y"


def age(ts: Any) -> str:
    """The age of an RFC 3339 timestamp, ``<unknown>`` when absent or unparsable."""
    if not isinstance(ts, str) or not ts:
        return "<unknown>"
    try:
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - t).total_seconds())


_FILTER = re.compile(r'\[\?\(@\.(\w+)==["\']([^"\']*)["\']\)\]')


def json_path(obj: Any, path: str) -> Any:
    """Evaluate the simple JSONPath of a printer column (``.a.b``, ``.a[0]``, ``.a[?(@.k=="v")]``)."""
    cur = obj
    for part in re.findall(r"\.([^.\[]+)|(\[[^\]]*\])", path):
        name, bracket = part
        if cur is None:
            return None
        if name:
            cur = cur.get(name) if isinstance(cur, dict) else None
        elif bracket.isascii() and bracket[1:-1].isdigit():
            i = int(bracket[1:-1])
            cur = cur[i] if isinstance(cur, list) and i < len(cur) else None
        else:
            m = _FILTER.fullmatch(bracket)
            if not m or not isinstance(cur, list):
                return None
            cur = next((x for x in cur if isinstance(x, dict) and str(x.get(m[1])) == m[2]), None)
    return cur


def _columns(rt: ResourceType) -> list[JSON]:
    name_col = {"name": "Name", "type": "string", "format": "name", "description": _NAME_DESC, "priority": 0}
    if rt.custom:
        cols = [name_col]
        for c in rt.printer_columns:
            cols.append(
                {
                    "name": c.name,
                    "type": c.type,
                    "format": c.format,
                    "description": c.description
                    or f"Custom resource definition column (in JSONPath format): {c.json_path}",
                    "priority": c.priority,
                }
            )
        return cols
    extra: list[tuple[str, str, int]] = []
    if rt is CONFIGMAPS:
        extra = [("Data", "string", 0), ("Age", "string", 0)]
    elif rt is NAMESPACES:
        extra = [("Status", "string", 0), ("Age", "string", 0)]
    elif rt is CRDS:  # rest.DefaultTableConvertor
        created_at = {"name": "Created At", "type": "date", "format": "", "description": "", "priority": 0}
        return [name_col, created_at]
    elif rt is SERVICES:
        extra = [
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ]
    elif rt is PODS:
        extra = [
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ]
    elif rt in (CORE_EVENTS, EVENTS_V1):
        return [
            {"name": n, "type": "string", "format": "", "description": "", "priority": p}
            for n, p in (
                ("Last Seen", 0),
                ("Type", 0),
                ("Reason", 0),
                ("Object", 0),
                ("Message", 0),
                ("Name", 1),
            )
        ]
    return [name_col] + [
        {"name": n, "type": t, "format": "", "description": "", "priority": p} for n, t, p in extra
    ]


def _cell(value: Any, type_: str) -> Any:
    if value is None:
        return None
    if type_ == "date":
        return age(value)
    if type_ in ("integer", "number", "boolean"):
        return value
    return value if isinstance(value, str) else str(value)


def _cells(rt: ResourceType, obj: JSON) -> list[Any]:
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    created = age(meta.get("creationTimestamp"))
    if rt.custom:
        return [name] + [_cell(json_path(obj, c.json_path), c.type) for c in rt.printer_columns]
    if rt is CONFIGMAPS:
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), created]
    if rt is NAMESPACES:
        return [name, (obj.get("status") or {}).get("phase", ""), created]
    if rt is CRDS:
        return [name, meta.get("creationTimestamp")]
    if rt is SERVICES:
        spec = obj.get("spec") or {}
        ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
        selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
        return [
            name,
            spec.get("type", ""),
            spec.get("clusterIP", ""),
            "<none>",
            ports or "<none>",
            created,
            selector or "<none>",
        ]
    if rt is PODS:
        return [name, *_pod_cells(obj), created, *_pod_wide_cells(obj)]
    if rt in (CORE_EVENTS, EVENTS_V1):
        ref = obj.get("involvedObject") or obj.get("regarding") or {}
        last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp") or obj.get("eventTime")
        return [
            age(last),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}",
            obj.get("message") or obj.get("note") or "",
            name,
        ]
    return [name, created]


def _pod_cells(obj: JSON) -> list[str]:
    """READY, STATUS and RESTARTS of a Pod row (``printPod`` in printers.go: the phase, or
    ``Init:N/M`` while init containers run, or the reason of a waiting/terminated container,
    ``Terminating`` once deleting)."""
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or ""
    inits = status.get("initContainerStatuses") or []
    for i, c in enumerate(inits):  # the first init container not done names the state
        state = c.get("state") or {}
        done = (state.get("terminated") or {}).get("exitCode") == 0
        if not done:
            waiting = (state.get("waiting") or {}).get("reason")
            initializing = not waiting or waiting == "PodInitializing"
            reason = f"Init:{i}/{len(inits)}" if initializing else f"Init:{waiting}"
            break
    else:
        inits = []
    for c in statuses if not inits else []:
        state = c.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated:
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [f"{ready}/{total}", reason, str(restarts)]


def _pod_wide_cells(obj: JSON) -> list[str]:
    """IP, NODE, NOMINATED NODE and READINESS GATES of a Pod row (``<none>`` when unset)."""
    status = obj.get("status") or {}
    return [
        status.get("podIP") or "<none>",
        (obj.get("spec") or {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def table(rt: ResourceType, objects: Iterable[JSON], list_meta: JSON, include_object: str) -> JSON:
    """A Table of ``objects`` (already in ``rt``'s served form); ``list_meta`` becomes its metadata."""
    rows = []
    for obj in objects:
        row: JSON = {"cells": _cells(rt, obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": _columns(rt),
        "rows": rows,
    }
