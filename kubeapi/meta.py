"""ObjectMeta helpers: tolerant accessors and the field lists both servers need.

Objects are decoded JSON (``dict``); ``metadata`` is ``ObjectMeta``
(k8s.io/apimachinery/pkg/apis/meta/v1/types.go). The accessors never raise on a malformed object:
a missing or wrongly typed field reads as empty (``""``, ``{}``, ``[]``), as Go's
``meta.Accessor`` getters return zero values, so relaying code can key and filter whatever the
upstream sends.
"""

# No ``from __future__ import annotations``: the name would clash with :func:`annotations`.

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "OBJECT_META_FIELDS",
    "OBJECT_META_ORDER",
    "SERVER_SET_FIELDS",
    "annotations",
    "finalizers",
    "generation",
    "is_deleting",
    "labels",
    "metadata",
    "name",
    "namespace",
    "object_key",
    "owner_references",
    "resource_version",
    "uid",
]

#: ObjectMeta's JSON fields, in Go struct order (the order kube-apiserver writes them).
OBJECT_META_ORDER: Final = (
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
)
#: The same as a set: a key outside it is an unknown ``metadata`` field (pruned for custom
#: resources, apiextensions-apiserver ``pruning``).
OBJECT_META_FIELDS: Final = frozenset(OBJECT_META_ORDER)
#: Fields the server sets and a client's create/update cannot choose: ``uid``,
#: ``creationTimestamp``, ``deletionTimestamp``, ``deletionGracePeriodSeconds``, ``generation``,
#: ``resourceVersion`` (k8s.io/apiserver/pkg/registry/rest ``FillObjectMetaSystemFields`` and the
#: generic store's ``BeforeCreate``/``BeforeUpdate``; ``resourceVersion`` is a precondition on
#: update, not a value to store).
SERVER_SET_FIELDS: Final = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
)

_EMPTY: Mapping[str, Any] = {}


def metadata(obj: Any) -> Mapping[str, Any]:
    """``obj["metadata"]`` when ``obj`` is an object with an object there, else an empty mapping."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else _EMPTY


def _str(obj: Any, field: str) -> str:
    v = metadata(obj).get(field)
    return v if isinstance(v, str) else ""


def name(obj: Any) -> str:
    """``metadata.name`` (``""`` when absent or not a string)."""
    return _str(obj, "name")


def namespace(obj: Any) -> str:
    """``metadata.namespace`` (``""`` for cluster-scoped objects)."""
    return _str(obj, "namespace")


def uid(obj: Any) -> str:
    """``metadata.uid``."""
    return _str(obj, "uid")


def resource_version(obj: Any) -> str:
    """``metadata.resourceVersion`` (an opaque string; ``""`` when absent)."""
    return _str(obj, "resourceVersion")


def generation(obj: Any) -> int:
    """``metadata.generation`` (0 when absent or not an integer)."""
    v = metadata(obj).get("generation")
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _str_map(obj: Any, field: str) -> dict[str, str]:
    v = metadata(obj).get(field)
    if not isinstance(v, dict):
        return {}
    return {k: x for k, x in v.items() if isinstance(k, str) and isinstance(x, str)}


def labels(obj: Any) -> dict[str, str]:
    """``metadata.labels`` (a new dict; non-string entries left out)."""
    return _str_map(obj, "labels")


def annotations(obj: Any) -> dict[str, str]:
    """``metadata.annotations`` (a new dict; non-string entries left out)."""
    return _str_map(obj, "annotations")


def finalizers(obj: Any) -> list[str]:
    """``metadata.finalizers`` (string entries only)."""
    v = metadata(obj).get("finalizers")
    return [f for f in v if isinstance(f, str)] if isinstance(v, list) else []


def owner_references(obj: Any) -> list[dict[str, Any]]:
    """``metadata.ownerReferences`` (object entries only)."""
    v = metadata(obj).get("ownerReferences")
    return [r for r in v if isinstance(r, dict)] if isinstance(v, list) else []


def is_deleting(obj: Any) -> bool:
    """Whether ``metadata.deletionTimestamp`` is set (graceful deletion or finalizers pending)."""
    return bool(metadata(obj).get("deletionTimestamp"))


def object_key(obj: Any) -> str:
    """``namespace/name`` (``/name`` for a cluster-scoped object): the storage key suffix and the
    order objects are listed in (etcd key order), as both servers key their caches."""
    meta = metadata(obj)
    ns, nm = meta.get("namespace", ""), meta.get("name", "")
    return f"{ns if isinstance(ns, str) else ''}/{nm if isinstance(nm, str) else ''}"
