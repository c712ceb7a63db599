"""``metadata.managedFields`` bookkeeping, simplified.

Every write records which manager touched which fields, as the apiserver's field manager does
(``k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager``): one entry per (manager, operation,
subresource) with ``apiVersion``, ``time``, ``fieldsType: FieldsV1`` and ``fieldsV1``. The manager
is the ``fieldManager`` parameter, else the User-Agent up to its first ``/`` (``curl/8.5`` → ``curl``).

Simplification: lists are owned as a whole (``f:containers: {}``) instead of per key (``k:{...}``),
because fakekube does not read list-map keys from schemas; an update owns the fields whose value it
changed, and those are taken from the other managers (an entry left with nothing is dropped).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

# Metadata fields the server sets or that identify the object: never owned by a manager.
_SYSTEM = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """The manager of a write: ``fieldManager`` or the User-Agent's product name, at most 128 chars."""
    if field_manager:
        return field_manager[:128]
    return user_agent.split("/")[0][:128]


def _fields(value: Any) -> JSON:
    """FieldsV1 of a whole value: maps list their members (and own themselves with "."), others are leaves."""
    if isinstance(value, dict):
        out: JSON = {".": {}}
        out.update({f"f:{k}": _fields(v) for k, v in value.items()})
        return out
    return {}


def _top(obj: JSON) -> JSON:
    """The owned part of an object: everything but apiVersion/kind and the system metadata."""
    out: JSON = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata":
            meta = {mk: mv for mk, mv in v.items() if mk not in _SYSTEM}
            if meta:
                out["f:metadata"] = {f"f:{mk}": _fields(mv) for mk, mv in meta.items()}
        else:
            out[f"f:{k}"] = _fields(v)
    return out


def _changed(old: Any, new: Any) -> JSON | None:
    """The fields set in ``new`` whose value differs from ``old`` (None: nothing changed)."""
    if old == new:
        return None
    if isinstance(old, dict) and isinstance(new, dict):
        out: JSON = {}
        for k, v in new.items():
            sub = _changed(old.get(k), v) if k in old else _fields(v)
            if sub is not None:
                out[f"f:{k}"] = sub
        return out or None
    return _fields(new)


def _owned_view(obj: JSON) -> JSON:
    """``obj`` without the system metadata (what managers can own)."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SYSTEM}
    return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}


def _merge(a: JSON, b: JSON) -> JSON:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out else v
    return out


def _subtract(a: JSON, b: JSON) -> JSON:
    """``a`` without the leaves of ``b`` (maps whose members all went away go too)."""
    out: JSON = {}
    for k, v in a.items():
        if k not in b:
            out[k] = v
        elif v and b[k]:
            rest = _subtract(v, b[k])
            if rest and set(rest) != {"."}:
                out[k] = rest
    return out


def record(
    entries: list[JSON],
    old: JSON | None,
    new: JSON,
    manager: str,
    operation: str,
    api_version: str,
    time: str,
    subresource: str | None,
) -> list[JSON]:
    """The managedFields after ``manager`` wrote ``new`` over ``old`` (None for a create)."""
    if old is None:
        owned = _top(new)
    else:
        owned = _changed(_owned_view(old), _owned_view(new)) or {}
        owned.pop("f:apiVersion", None)
        owned.pop("f:kind", None)
    out: list[JSON] = []
    mine: JSON | None = None
    for e in entries:
        same = (e.get("manager"), e.get("operation"), e.get("subresource")) == (
            manager,
            operation,
            subresource,
        )
        if same:
            mine = e
            continue
        rest = _subtract(e.get("fieldsV1", {}), owned)
        if rest:
            out.append({**e, "fieldsV1": rest})
    fields = _merge(mine.get("fieldsV1", {}), owned) if mine else owned
    if not fields:
        return out
    entry: JSON = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    out.append(entry)
    return out
