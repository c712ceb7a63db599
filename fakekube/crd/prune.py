"""Pruning of unknown fields and of non-nullable nulls, as the API server decodes a custom resource.

Implements, on a decoded JSON object (mutated in place):

- structural pruning (``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning/algorithm.go``):
  a key that the schema declares neither in ``properties`` nor through
  ``additionalProperties`` is dropped, unless the node has
  ``x-kubernetes-preserve-unknown-fields: true`` (then only known children are pruned). The
  object root and ``x-kubernetes-embedded-resource`` nodes keep ``apiVersion``, ``kind`` and
  ``metadata``. Every dropped key is reported as a path like ``spec.workerGroupSpecs[0].foo``;
  these are the ``unknown field "..."`` of ``fieldValidation`` (Strict/Warn).
- ``metadata`` coercion (``.../schema/objectmeta/coerce.go``): only ``ObjectMeta`` fields
  survive in the root's and embedded resources' ``metadata``; others are reported the same way.
- ``PruneNonNullableNullsWithoutDefaults`` (``.../schema/defaulting/prunenulls.go``): a
  ``null`` whose schema is neither ``nullable`` nor has a ``default`` is removed.
"""

from __future__ import annotations

from typing import Any

from fakekube.crd.schema import MISSING, Node

# ObjectMeta's JSON fields (k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_META_KEYS = ("apiVersion", "kind", "metadata")


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coerce_meta(meta: Any, path: str, out: list[str]) -> None:
    if isinstance(meta, dict):
        for k in list(meta):
            if k not in OBJECT_META_FIELDS:
                del meta[k]
                out.append(_key(path, k))


def _prune(x: Any, s: Node | None, path: str, out: list[str], embedded: bool) -> None:
    if s is not None and s.preserve_unknown:
        _skip_prune(x, s, path, out, embedded)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                out.append(_key(path, k))
                del x[k]
            return
        props = s.properties
        additional = s.additional
        for k in list(x):
            if embedded and k in _META_KEYS:
                if k == "metadata":
                    _coerce_meta(x[k], _key(path, k), out)
                continue
            child = props.get(k)
            if child is not None:
                _prune(x[k], child, _key(path, k), out, child.embedded)
            elif additional is not None:
                _prune(x[k], additional, _key(path, k), out, additional.embedded)
            else:
                out.append(_key(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", out, items.embedded if items is not None else False)


def _skip_prune(x: Any, s: Node, path: str, out: list[str], embedded: bool) -> None:
    if isinstance(x, dict):
        props = s.properties
        additional = s.additional
        for k, v in x.items():
            if embedded and k in _META_KEYS:
                if k == "metadata":
                    _coerce_meta(v, _key(path, k), out)
                continue
            child = props.get(k) or additional
            if child is not None:
                _prune(v, child, _key(path, k), out, child.embedded)
    elif isinstance(x, list):
        items = s.items
        if items is not None:
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", out, items.embedded)


def prune(obj: dict[str, Any], root: Node) -> list[str]:
    """Drop unknown fields from the object ``obj`` in place; return the dropped paths, sorted.

    The root is handled as an embedded resource (``apiVersion``/``kind``/``metadata`` kept,
    ``metadata`` reduced to ObjectMeta fields), as ``PruneWithOptions(..., isResourceRoot=true)``.
    """
    out: list[str] = []
    _prune(obj, root, "", out, True)
    return sorted(out)


def prune_nulls(x: Any, s: Node | None) -> None:
    """Remove, in place, ``null`` values whose schema is not ``nullable`` and has no ``default``."""
    if s is None:
        return
    if isinstance(x, dict):
        for k in list(x):
            child = s.child(k)
            if child is None:
                continue
            v = x[k]
            if v is None:
                if not child.nullable and child.default is MISSING:
                    del x[k]
            else:
                prune_nulls(v, child)
    elif isinstance(x, list):
        items = s.items
        if items is not None:
            for v in x:
                prune_nulls(v, items)
