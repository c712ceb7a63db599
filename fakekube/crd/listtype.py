"""``x-kubernetes-list-type`` uniqueness and embedded-resource checks of a custom resource.

- ``set``: every item must be unique; each repeat is ``spec.x[i]: Duplicate value: <item>``.
- ``map``: the items' ``x-kubernetes-list-map-keys`` values must be unique; each repeat is
  ``spec.x[i]: Duplicate value: {"name":"a"}`` (the key fields of the item).
  (``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype/validation.go``.)
- ``x-kubernetes-embedded-resource`` objects (other than the root) need a non-empty
  ``apiVersion`` and ``kind`` (``spec.child.kind: Required value``), and an ``apiVersion``
  that parses as ``group/version`` (``unexpected GroupVersion string: a/b/c``;
  ``.../schema/objectmeta/validation.go``).

Paths are ``field.Path`` strings: ``.`` before properties, ``[i]`` for items, ``[key]`` for
``additionalProperties`` keys.
"""

from __future__ import annotations

import json
from typing import Any

from fakekube.crd import causes as C
from fakekube.crd.causes import Cause
from fakekube.crd.ratchet import old_child, old_items, unchanged
from fakekube.crd.schema import MISSING, Node


def canonical(v: Any) -> str:
    """``v`` as canonical JSON (sorted keys, no spaces): equal values, equal strings."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(s: Node, x: Any, path: str, out: list[Cause], root: bool, old: Any) -> None:
    if not root and unchanged(s, x, old):
        return
    if isinstance(x, list):
        if s.list_type == "set":
            seen: set[str] = set()
            for i, item in enumerate(x):
                key = canonical(item)
                if key in seen:
                    out.append(C.make(C.DUPLICATE, f"{path}[{i}]", item))
                seen.add(key)
        elif s.list_type == "map" and s.list_map_keys:
            seen_keys: set[str] = set()
            for i, item in enumerate(x):
                if not isinstance(item, dict):
                    continue
                keys = {k: item[k] for k in s.list_map_keys if k in item}
                canon = canonical([item.get(k) for k in s.list_map_keys])
                if canon in seen_keys:
                    out.append(C.make(C.DUPLICATE, f"{path}[{i}]", keys))
                seen_keys.add(canon)
        items = s.items
        if items is not None:
            for i, (item, o) in enumerate(zip(x, old_items(s, x, old), strict=True)):
                _walk(items, item, f"{path}[{i}]", out, False, o)
    elif isinstance(x, dict):
        if s.embedded and not root:
            for k in ("apiVersion", "kind"):
                if not x.get(k):
                    out.append(C.make(C.REQUIRED, _child(path, k)))
            api_version = x.get("apiVersion")
            if isinstance(api_version, str) and api_version.count("/") > 1:
                detail = f"unexpected GroupVersion string: {api_version}"
                out.append(C.make(C.INVALID, _child(path, "apiVersion"), api_version, detail))
        props = s.properties
        additional = s.additional
        for k, v in x.items():
            child = props.get(k)
            if child is not None:
                _walk(child, v, _child(path, k), out, False, old_child(s, old, k))
            elif additional is not None:
                _walk(additional, v, f"{path}[{k}]", out, False, old_child(s, old, k))


def validate_lists(root: Node, obj: Any, old: Any = MISSING) -> list[Cause]:
    """List-set/map duplicates and embedded-resource apiVersion/kind errors in ``obj``.

    ``old`` (the stored object, on update) enables ratcheting (:mod:`fakekube.crd.ratchet`).
    """
    out: list[Cause] = []
    _walk(root, obj, "", out, True, old)
    return out
