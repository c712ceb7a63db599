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

import json
from typing import Any

from fakekube.crd.schema import MISSING, Node
from kubeapi.meta import OBJECT_META_FIELDS

_META_KEYS = ("apiVersion", "kind", "metadata")
# Go types of the ObjectMeta fields whose JSON decoding is checked (the time fields,
# ownerReferences and managedFields are decoded by other rules and are not checked here).
_META_GO_TYPES = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "selfLink": "string",
    "uid": "types.UID",
    "resourceVersion": "string",
    "generation": "int64",
    "deletionGracePeriodSeconds": "int64",
    "labels": "map[string]string",
    "annotations": "map[string]string",
    "finalizers": "[]string",
}


def _go_json_kind(v: Any) -> str:
    """The JSON value kind Go's ``UnmarshalTypeError`` names (``number``, ``string``, ``array``...)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number" if isinstance(v, int) or v.is_integer() else f"number {v}"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def meta_decode_error(meta: Any) -> str | None:
    """Go's ``json: cannot unmarshal X into Go struct field ObjectMeta.F of type T`` for ``meta``.

    Checks the string, integer, map and list fields of ObjectMeta in the order given (Go reports
    the first type error of a decode); None when they all decode.
    """
    if not isinstance(meta, dict):
        return (
            None
            if meta is None
            else f"json: cannot unmarshal {_go_json_kind(meta)} into Go value of type v1.ObjectMeta"
        )
    for key, value in meta.items():
        go_type = _META_GO_TYPES.get(key)
        if go_type is None or value is None:
            continue
        bad: tuple[Any, str] | None = None
        if go_type in ("string", "types.UID"):
            bad = None if isinstance(value, str) else (value, go_type)
        elif go_type == "int64":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
            bad = None if ok else (value, go_type)
        elif go_type == "map[string]string":
            if not isinstance(value, dict):
                bad = (value, go_type)
            else:
                bad = next(
                    ((v, "string") for v in value.values() if v is not None and not isinstance(v, str)), None
                )
        elif not isinstance(value, list):
            bad = (value, go_type)
        else:
            bad = next(((v, "string") for v in value if v is not None and not isinstance(v, str)), None)
        if bad is not None:
            kind, go = _go_json_kind(bad[0]), bad[1]
            return f"json: cannot unmarshal {kind} into Go struct field ObjectMeta.{key} of type {go}"
    return None


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coerce_meta(meta: Any, path: str, out: list[str], errors: list[str]) -> None:
    if path == "metadata":
        err = meta_decode_error(meta)
        if err:
            errors.append(err)
    else:  # an embedded resource's metadata is re-encoded (sorted keys) before it is decoded
        err = meta_decode_error(dict(sorted(meta.items())) if isinstance(meta, dict) else meta)
        if err:
            shown = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            errors.append(f"{path}: Invalid value: {shown}: {err}")
    if isinstance(meta, dict):
        for k in list(meta):
            if k not in OBJECT_META_FIELDS:
                del meta[k]
                out.append(_key(path, k))


def _prune(x: Any, s: Node | None, path: str, out: list[str], errors: list[str], embedded: bool) -> None:
    if s is not None and s.preserve_unknown:
        _skip_prune(x, s, path, out, errors, embedded)
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
            if embedded and k in _META_KEYS and (k == "metadata" or isinstance(x[k], str)):
                if k == "metadata":
                    _coerce_meta(x[k], _key(path, k), out, errors)
                continue
            child = props.get(k)
            if child is not None:
                _prune(x[k], child, _key(path, k), out, errors, child.embedded)
            elif additional is not None:
                _prune(x[k], additional, _key(path, k), out, errors, additional.embedded)
            else:
                out.append(_key(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", out, errors, items.embedded if items is not None else False)


def _skip_prune(x: Any, s: Node, path: str, out: list[str], errors: list[str], embedded: bool) -> None:
    if isinstance(x, dict):
        props = s.properties
        additional = s.additional
        for k, v in x.items():
            if embedded and k in _META_KEYS:
                if k == "metadata":
                    _coerce_meta(v, _key(path, k), out, errors)
                continue
            child = props.get(k) or additional
            if child is not None:
                _prune(v, child, _key(path, k), out, errors, child.embedded)
    elif isinstance(x, list):
        items = s.items
        if items is not None:
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", out, errors, items.embedded)


def prune(obj: dict[str, Any], root: Node) -> tuple[list[str], str | None]:
    """Drop unknown fields from the object ``obj`` in place.

    Returns the dropped paths (sorted) and the first ``metadata`` decoding error (None when
    every ``metadata`` decodes as ObjectMeta). The root is handled as an embedded resource
    (``apiVersion``/``kind``/``metadata`` kept, ``metadata`` reduced to ObjectMeta fields), as
    ``PruneWithOptions(..., isResourceRoot=true)`` then ``objectmeta.Coerce``.
    """
    out: list[str] = []
    errors: list[str] = []
    _prune(obj, root, "", out, errors, True)
    return sorted(out), (errors[0] if errors else None)


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
