"""Deletion with finalizers, as the generic registry store does it.

:func:`delete_object` is the finalizer part of ``Store.Delete``
(``k8s.io/apiserver/pkg/registry/generic/registry/store.go``): the ``propagationPolicy`` (or the
deprecated ``orphanDependents``) adds the ``foregroundDeletion`` or ``orphan`` finalizer
(``deletionFinalizersForGarbageCollection``; ``Background`` removes both); an object with
finalizers is only marked (``deletionTimestamp``, ``deletionGracePeriodSeconds: 0``, generation
bumped) and goes when its last finalizer is removed; one without is deleted now. Custom
resources have no graceful deletion, so ``gracePeriodSeconds`` changes nothing. The garbage
collector that removes the finalizers is a controller (:mod:`fakekube._controllers.garbagecollector`).
"""

from __future__ import annotations

from fakekube._registry import objects
from fakekube._resources import ResourceType
from fakekube._storage.store import Store, Stored, object_key
from kubeapi.types import JSON

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
GC_FINALIZERS = (FOREGROUND, ORPHAN)


def policy_of(options: JSON, query_policy: str | None) -> str | None:
    """The propagation policy a delete asks for: the query's or body's ``propagationPolicy``, else
    ``Orphan`` for the deprecated ``orphanDependents: true`` (None: the resource's default)."""
    policy = query_policy or options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is True:
        return "Orphan"
    return policy if isinstance(policy, str) else None


def _gc_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    """``finalizers`` adjusted for ``policy`` (deletionFinalizersForGarbageCollection)."""
    if policy is None:
        return finalizers
    keep = [f for f in finalizers if f not in GC_FINALIZERS]
    if policy == "Foreground":
        keep.append(FOREGROUND)
    elif policy == "Orphan":
        keep.append(ORPHAN)
    return keep


def delete_object(
    store: Store, rt: ResourceType, old: Stored, policy: str | None, dry: bool
) -> tuple[Stored | JSON, bool]:
    """Delete ``old`` (not a Namespace) with ``policy``: (the object as answered, deleted now?)."""
    meta = old.obj["metadata"]
    key = object_key(meta.get("namespace"), meta["name"])
    current = list(meta.get("finalizers") or [])
    wanted = _gc_finalizers(current, policy)
    if meta.get("deletionTimestamp"):
        # Already deleting: a new policy may still switch the GC finalizer (the store's
        # updateForGracefulDeletionAndFinalizers); otherwise nothing changes.
        if wanted == current or policy is None:
            return old, False
        obj = objects.deep_copy(old.raw)
        obj["metadata"]["finalizers"] = wanted
        return (obj if dry else store.replace(rt.storage_key, key, obj)), False
    if wanted:
        obj = objects.deep_copy(old.raw)
        obj["metadata"]["deletionTimestamp"] = objects.now()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj["metadata"]["finalizers"] = wanted
        # rest.BeforeDelete bumps generation when it marks an object deleting.
        if obj["metadata"].get("generation"):
            obj["metadata"]["generation"] += 1
        obj = objects.canonical(rt, obj)
        return (obj if dry else store.replace(rt.storage_key, key, obj)), False
    if dry:
        return old, True
    return store.delete(rt.storage_key, key), True
