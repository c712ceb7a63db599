"""Server-side apply (``application/apply-patch+yaml``): merge, prune, conflicts, ownership.

``merge.Updater.Apply`` of ``sigs.k8s.io/structured-merge-diff/v4`` as the apiserver runs it
(``fieldmanager/internal/structuredmerge.go``), over :mod:`fakekube._registry.managedfields` field sets:

1. the applied configuration is merged into the live object: maps member by member, map lists
   item by key, set lists as a union, atomic lists/maps and scalars replaced (``Merge``);
2. fields the manager applied last time but leaves out now are removed, unless another manager
   owns them, one of their parents, or something under them (``prune``);
3. every other manager that owns a field this apply adds or changes is in conflict: 409 Conflict
   (``internal/conflict.go`` ``NewConflictError``) unless ``force``, which moves the fields to the
   applier; managers lose fields the apply removed (``update``);
4. the applier's entry (operation ``Apply``) holds exactly the configuration's fields.
"""

from __future__ import annotations

import json
from typing import Any

from fakekube._registry.managedfields import (
    FieldSet,
    Path,
    _child,
    _items,
    _key_defaults,
    _list_kind,
    compare,
    entry_id,
    from_fields_v1,
    item_element,
    iteration_order,
    make_entry,
    path_string,
    sort_entries,
    to_field_set,
    to_fields_v1,
)
from fakekube.crd.schema import Node
from kubeapi.status import StatusError
from kubeapi.types import JSON


def merge(live: Any, config: Any, node: Node | None) -> Any:
    """``config`` merged into ``live`` (neither modified) by the schema's list/map semantics."""
    if isinstance(config, dict) and isinstance(live, dict):
        if node is not None and node.raw.get("x-kubernetes-map-type") == "atomic":
            return config
        out = dict(live)
        for k, v in config.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v, _child(node, k)[0])
            else:
                out[k] = v
        return out
    if isinstance(config, list) and isinstance(live, list):
        kind, keys = _list_kind(node)
        if kind == "atomic":
            return config
        _, cfg, item_node = _items(node, config)
        defaults = _key_defaults(node)
        result: list[Any] = []
        seen: set[str] = set()
        for item in live:
            pe = item_element(kind, keys, item, defaults)
            seen.add(pe)
            if pe in cfg and kind == "map":
                result.append(merge(item, cfg[pe], item_node))
            else:
                result.append(item)
        result += [item for pe, item in cfg.items() if pe not in seen]
        return result
    return config


def _remove(obj: Any, path: Path, node: Node | None) -> None:
    """Delete the member or list item at ``path`` from ``obj`` (in place; missing is fine)."""
    for i, pe in enumerate(path):
        last = i == len(path) - 1
        if pe.startswith("f:") and isinstance(obj, dict):
            key = pe[2:]
            if last:
                obj.pop(key, None)
                return
            obj, node = obj.get(key), _child(node, key)[0]
        elif isinstance(obj, list):
            kind, keys = _list_kind(node)
            defaults = _key_defaults(node)
            idx = next((j for j, it in enumerate(obj) if item_element(kind, keys, it, defaults) == pe), None)
            if idx is None:
                return
            if last:
                del obj[idx]
                return
            obj, node = obj[idx], node.items if node is not None else None
        else:
            return


def _is_key_field(path: Path) -> bool:
    """Whether ``path`` names a key field of a map-list item (kept while the item is)."""
    if len(path) < 2 or not path[-2].startswith("k:") or not path[-1].startswith("f:"):
        return False
    return path[-1][2:] in json.loads(path[-2][2:])


def _conflict_manager(e: JSON) -> str:
    """How the conflict message names a manager (``printManager``)."""
    out = '"' + str(e.get("manager", "")) + '"'
    if e.get("subresource"):
        out += f' with subresource "{e["subresource"]}"'
    if e.get("operation") == "Update":
        out += f" using {e.get('apiVersion', '')}"
    return out


def conflict_error(conflicts: list[tuple[JSON, Path]]) -> StatusError:
    """The 409 of an apply that conflicts (``NewConflictError``): one ``FieldManagerConflict``
    cause per field, and the message ``Apply failed with N conflict(s): ...``."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_conflict_manager(e)}",
            "field": path_string(p),
        }
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_conflict_manager(e)}: {path_string(p)}"
    else:
        lines: list[str] = []
        for who in sorted({_conflict_manager(e) for e, _ in conflicts}):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {path_string(p)}" for e, p in conflicts if _conflict_manager(e) == who]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def apply(
    live: JSON | None,
    config: JSON,
    entries: list[JSON],
    manager: str,
    api_version: str,
    time: str,
    subresource: str | None,
    root: Node,
    force: bool,
) -> tuple[JSON, list[JSON]]:
    """(the object after applying ``config`` over ``live`` — None for a create —, its managedFields).

    ``config`` must already be limited to what the (sub)resource may set. Raises the 409 of
    :func:`conflict_error` when another manager owns a changed field and ``force`` is false.
    """
    me = (manager, "Apply", subresource or "", "")
    applied: FieldSet = to_field_set(config, root)
    last: FieldSet = frozenset()
    others: list[tuple[JSON, FieldSet]] = []
    for e in entries:
        fields = from_fields_v1(e.get("fieldsV1") or {})
        if entry_id(e) == me:
            last = fields
        else:
            others.append((e, fields))
    merged: JSON = merge(live or {}, config, root)
    owned_by_others = frozenset().union(*(f for _, f in others))
    # Parents first (an item is found by its key fields, so those must still be there).
    for p in sorted(last - applied, key=len):
        if _is_key_field(p) or any(p[: len(q)] == q or q[: len(p)] == p for q in owned_by_others):
            continue
        _remove(merged, p, root)
    added, modified, removed = compare(live, merged, root)
    changed = added | modified
    conflicts = [
        (e, p)
        for e, f in sorted(others, key=lambda o: str(o[0].get("manager", "")))
        for p in iteration_order(f & changed)
    ]
    if conflicts and not force:
        raise conflict_error(conflicts)
    out: list[JSON] = []
    for e, f in others:
        rest = f - changed - removed
        if rest == f:
            out.append(e)
        elif rest:
            out.append({**e, "fieldsV1": to_fields_v1(rest)})
    mine = next((e for e in entries if entry_id(e) == me), None)
    if applied:
        if mine is not None and last == applied and not changed and not removed:
            out.append(mine)  # nothing changed: the entry keeps its time
        else:
            out.append(make_entry(manager, "Apply", api_version, time, applied, subresource))
    return merged, sort_entries(out)


def same_ownership(a: list[JSON], b: list[JSON]) -> bool:
    """Whether two managedFields lists record the same managers owning the same fields (times aside)."""

    def key(entries: list[JSON]) -> dict[tuple[str, str, str, str], FieldSet]:
        return {entry_id(e): from_fields_v1(e.get("fieldsV1") or {}) for e in entries}

    return key(a) == key(b)
