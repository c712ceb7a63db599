"""Correlation of a new object with the stored one, for transition rules and validation ratcheting.

On update the API server validates only what changed: an error inside a value that is equal to
its correlated old value is dropped (``CRDValidationRatcheting``, GA in Kubernetes 1.33; see
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-ratcheting
and ``k8s.io/apiextensions-apiserver/pkg/apiserver/validation/ratcheting.go``). Values correlate
through object properties and ``additionalProperties`` keys, and through the items of
``x-kubernetes-list-type: map`` lists by their map keys; items of other lists do not correlate
(a changed atomic list is validated in full). Equality follows the list types: a map list or a
set is equal to a reordering of itself. The object root is never ratcheted (its metadata
always differs).
"""

from __future__ import annotations

import json
from typing import Any

from fakekube.crd.schema import MISSING, Node


def _key(item: Any, keys: tuple[str, ...], node: Node) -> str:
    items = node.items
    defaults = {k: items.properties[k].default for k in keys if items is not None and k in items.properties}
    if not isinstance(item, dict):
        return json.dumps(item, sort_keys=True)
    return json.dumps([item.get(k, defaults.get(k)) for k in keys], sort_keys=True)


def old_items(node: Node, new: list[Any], old: Any) -> list[Any]:
    """For each item of ``new``, its correlated old item (map lists, by key) or MISSING."""
    if node.list_type != "map" or not node.list_map_keys or not isinstance(old, list):
        return [MISSING] * len(new)
    by_key = {_key(o, node.list_map_keys, node): o for o in old}
    return [by_key.get(_key(v, node.list_map_keys, node), MISSING) for v in new]


def old_child(node: Node, old: Any, key: str) -> Any:
    """The old value correlated with property (or map key) ``key`` of an object, or MISSING."""
    if isinstance(old, dict) and key in old and node.child(key) is not None:
        return old[key]
    return MISSING


def unchanged(node: Node | None, new: Any, old: Any) -> bool:
    """True when ``new`` equals the correlated ``old`` value, with list-type semantics."""
    if old is MISSING:
        return False
    if isinstance(new, dict) and isinstance(old, dict):
        if new.keys() != old.keys():
            return False
        return all(unchanged(node.child(k) if node is not None else None, new[k], old[k]) for k in new)
    if isinstance(new, list) and isinstance(old, list):
        if len(new) != len(old):
            return False
        items = node.items if node is not None else None
        if node is not None and node.list_type == "map" and node.list_map_keys:
            return all(
                o is not MISSING and unchanged(items, n, o)
                for n, o in zip(new, old_items(node, new, old), strict=True)
            )
        if node is not None and node.list_type == "set":
            return sorted(json.dumps(x, sort_keys=True) for x in new) == sorted(
                json.dumps(x, sort_keys=True) for x in old
            )
        return all(unchanged(items, n, o) for n, o in zip(new, old, strict=True))
    if isinstance(new, bool) or isinstance(old, bool):
        return type(new) is type(old) and new == old
    if isinstance(new, int | float) and isinstance(old, int | float):
        return new == old
    return type(new) is type(old) and bool(new == old)
