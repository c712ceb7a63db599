"""Structural defaulting: ``default`` values applied to a custom resource, in place.

Implements ``Default`` of ``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting/algorithm.go``
(documented at https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting):
a property that is absent, or ``null`` without ``nullable: true``, gets a deep copy of its
schema's ``default``; defaults apply only inside objects that exist (a missing ``spec`` is not
created unless ``spec`` itself has a default), and recursively inside the values just
defaulted. The API server does this when it decodes a request body and when it reads an
object from storage.
"""

from __future__ import annotations

import copy
from typing import Any

from fakekube.crd.schema import MISSING, Node


def deep_copy_json(v: Any) -> Any:
    """Copy a decoded JSON value (dicts, lists, scalars), several times faster than ``copy.deepcopy``."""
    if isinstance(v, dict):
        return {k: deep_copy_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [deep_copy_json(x) for x in v]
    return v


def apply_defaults(x: Any, s: Node | None) -> None:
    """Fill in defaults from schema ``s`` into the decoded JSON value ``x`` (mutated in place)."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.properties
        for k, prop in props.items():
            if prop.default is MISSING:
                continue
            if k not in x or (x[k] is None and not prop.nullable):
                x[k] = copy.deepcopy(prop.default)
        additional = s.additional
        for k, v in x.items():
            prop_or_none = props.get(k)
            if prop_or_none is not None:
                apply_defaults(v, prop_or_none)
            elif additional is not None:
                if v is None and not additional.nullable and additional.default is not MISSING:
                    x[k] = v = copy.deepcopy(additional.default)
                apply_defaults(v, additional)
    elif isinstance(x, list):
        items = s.items
        if items is None:
            return
        for i, v in enumerate(x):
            if v is None and not items.nullable and items.default is not MISSING:
                x[i] = v = copy.deepcopy(items.default)
            apply_defaults(v, items)
