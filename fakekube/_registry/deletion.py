"""Deletion semantics: propagation finalizers, the garbage collector, the namespace controller.

What a real cluster does when something is deleted, done in-process:

* :func:`delete_object` is the generic registry store's ``Delete``
  (``k8s.io/apiserver/pkg/registry/generic/registry/store.go``): the ``propagationPolicy`` (or the
  deprecated ``orphanDependents``) adds the ``foregroundDeletion`` or ``orphan`` finalizer
  (``deletionFinalizersForGarbageCollection``; ``Background`` removes both); an object with
  finalizers is only marked (``deletionTimestamp``, ``deletionGracePeriodSeconds: 0``, generation
  bumped) and goes when its last finalizer is removed; one without is deleted now. Custom
  resources have no graceful deletion, so ``gracePeriodSeconds`` changes nothing.
* :class:`Collector` is the kube-controller-manager's garbage collector
  (``pkg/controller/garbagecollector``) and namespace controller (``pkg/controller/namespace``),
  run to a fixed point right after each request that changed something relevant:

  - an object whose ``ownerReferences`` all point to absent owners is deleted (Background); a
    reference to an absent owner is dropped when other owners remain;
  - an owner being deleted with ``foregroundDeletion``: its dependents are deleted (Foreground
    too); once no dependent with ``blockOwnerDeletion: true`` is left the finalizer is removed;
  - an owner with ``orphan``: its dependents lose their ownerReferences to it, then the finalizer
    is removed;
  - a Terminating namespace (``spec.finalizers: [kubernetes]``): everything in it is deleted;
    while objects with finalizers remain it stays Terminating (creates get 403
    ``NamespaceTerminating``); then the namespace goes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from fakekube._registry import objects
from fakekube._resources import NAMESPACES, ResourceType
from fakekube._storage.store import DELETED, Change, Store, Stored, object_key

JSON = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_GC_FINALIZERS = (FOREGROUND, ORPHAN)


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
    keep = [f for f in finalizers if f not in _GC_FINALIZERS]
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


def terminate_namespace(store: Store, old: Stored, dry: bool) -> Stored | JSON:
    """Mark a namespace Terminating (``deletionTimestamp``, ``status.phase``); its
    ``spec.finalizers: [kubernetes]`` keeps it until the namespace controller has emptied it."""
    obj = objects.deep_copy(old.raw)
    if not obj["metadata"].get("deletionTimestamp"):
        obj["metadata"]["deletionTimestamp"] = objects.now()
    obj["status"] = {"phase": "Terminating"}
    if dry:
        return obj
    return store.replace(NAMESPACES.storage_key, obj["metadata"]["name"], obj)


class Collector:
    """The garbage collector and namespace controller of one store.

    ``types()`` gives the served resource types (one per storage is used). It listens to the
    store and notes when work may be due; :meth:`run` does it (the app calls it after each
    request). ``namespace_delay`` (s) is how long the namespace controller lets a Terminating
    namespace be before emptying it (0: right away; a positive value models controller latency
    and is handled by a timer on the running event loop).
    """

    def __init__(
        self, store: Store, types: Callable[[], Iterable[ResourceType]], namespace_delay: float = 0.0
    ) -> None:
        self.store = store
        self.types = types
        self.namespace_delay = namespace_delay
        self._dirty = False
        self._check: list[tuple[str, str]] = []
        self._running = False
        self._timer = False
        self._recheck = False
        self._terminating_since: dict[str, float] = {}
        store.subscribe(self._note)

    def _note(self, ch: Change) -> None:
        """Deletions (and changed references) need a full pass; a write that only carries
        ownerReferences needs just its owners checked (so seeding owned objects stays linear)."""
        if ch.type == DELETED:
            self._dirty = True
            return
        new = ch.new.obj.get("metadata", {})
        old = ch.old.obj.get("metadata", {}) if ch.old is not None else {}
        if (
            new.get("deletionTimestamp")
            or old.get("deletionTimestamp")
            or (old.get("ownerReferences") and old.get("ownerReferences") != new.get("ownerReferences"))
        ):
            self._dirty = True
        elif new.get("ownerReferences"):
            self._check.append((ch.storage, ch.key))

    def _served_kinds(self) -> dict[tuple[str, str], ResourceType]:
        """(group, kind) → resource type, for resolving ownerReferences (the GC's REST mapping)."""
        out: dict[tuple[str, str], ResourceType] = {}
        for rt in self.types():
            out.setdefault((rt.group, rt.kind), rt)
        return out

    def _owner_ok(self, ref: JSON, namespace: str | None, kinds: dict[tuple[str, str], ResourceType]) -> bool:
        """Whether the owner ``ref`` names exists with its uid and is not being deleted (an
        unserved kind cannot be checked and counts as fine, as the GC cannot map it either)."""
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        rt = kinds.get((group, str(ref.get("kind", ""))))
        if rt is None:
            return True
        owner = self.store.get(
            rt.storage_key, object_key(namespace if rt.namespaced else None, ref.get("name", ""))
        )
        if owner is None or owner.obj["metadata"].get("uid") != ref.get("uid"):
            return False
        return not owner.obj["metadata"].get("deletionTimestamp")

    def _quick_checks(self) -> None:
        """Check the owners of newly written objects; any doubt escalates to a full pass."""
        pending, self._check = self._check, []
        kinds = self._served_kinds()
        for storage, key in pending:
            s = self.store.get(storage, key)
            if s is None:
                continue
            meta = s.obj["metadata"]
            if not all(
                self._owner_ok(r, meta.get("namespace"), kinds) for r in meta.get("ownerReferences") or []
            ):
                self._dirty = True
                return

    def _by_storage(self) -> dict[str, ResourceType]:
        out: dict[str, ResourceType] = {}
        for rt in self.types():
            out.setdefault(rt.storage_key, rt)
        return out

    def run(self) -> None:
        """Do every pending GC and namespace step until nothing more changes."""
        if self._running:
            return
        if self._recheck:
            self._dirty, self._recheck = True, False
        self._running = True
        try:
            while self._dirty or self._check:
                if not self._dirty:
                    self._quick_checks()
                    continue
                self._dirty = False
                self._check = []
                self._pass()
        finally:
            self._running = False

    def _pass(self) -> None:
        types = self._by_storage()
        every: list[tuple[ResourceType, Stored]] = []
        for storage, rt in types.items():
            every += [(rt, s) for _, s in self.store.scan(storage)]
        alive = {s.obj["metadata"]["uid"]: (rt, s) for rt, s in every}
        dependents: dict[str, list[tuple[ResourceType, Stored]]] = {}
        for rt, s in every:
            for ref in s.obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid", ""), []).append((rt, s))
        kinds = self._served_kinds()
        for rt, s in every:
            self._collect(rt, s, alive, dependents, kinds)
        self._namespaces(types)

    def _current(self, rt: ResourceType, s: Stored) -> Stored | None:
        meta = s.obj["metadata"]
        return self.store.get(rt.storage_key, object_key(meta.get("namespace"), meta["name"]))

    def _collect(
        self,
        rt: ResourceType,
        s: Stored,
        alive: dict[str, tuple[ResourceType, Stored]],
        dependents: dict[str, list[tuple[ResourceType, Stored]]],
        kinds: dict[tuple[str, str], ResourceType],
    ) -> None:
        cur = self._current(rt, s)
        if cur is None:
            return
        meta = cur.obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if refs:
            # classifyReferences: absent (dangling), foreground-deleting (waiting) or solid owners;
            # references to orphaning owners are dropped first (the owner's orphanDependents).
            deleting = bool(meta.get("deletionTimestamp"))
            orphan_refs, solid, rest = [], [], []
            waiting = False
            for r in refs:
                group = str(r.get("apiVersion", "")).rpartition("/")[0]
                if (group, str(r.get("kind", ""))) not in kinds:
                    solid.append(r)  # a kind this server does not serve: the GC cannot resolve it
                    rest.append(r)
                    continue
                owner = alive.get(r.get("uid", ""))
                cur_owner = self._current(*owner) if owner is not None else None
                owner_meta = cur_owner.obj["metadata"] if cur_owner is not None else {}
                deleting_owner = bool(owner_meta.get("deletionTimestamp"))
                gc_finalizers = (owner_meta.get("finalizers") or []) if deleting_owner else []
                if ORPHAN in gc_finalizers:
                    orphan_refs.append(r)
                    continue
                rest.append(r)
                if FOREGROUND in gc_finalizers:
                    waiting = True
                elif cur_owner is not None:
                    solid.append(r)
            if solid or not rest:
                if solid != refs:  # the object stays; references to owners going away are dropped
                    obj = objects.deep_copy(cur.raw)
                    if solid:
                        obj["metadata"]["ownerReferences"] = solid
                    else:
                        obj["metadata"].pop("ownerReferences", None)
                    key = object_key(meta.get("namespace"), meta["name"])
                    cur = self.store.replace(rt.storage_key, key, obj)
                    meta = cur.obj["metadata"]
            elif not deleting:
                has_dependents = bool(dependents.get(meta["uid"]))
                self._delete(rt, cur, "Foreground" if waiting and has_dependents else None)
                return
        if meta.get("deletionTimestamp"):
            self._finish_owner(rt, cur, dependents)

    def _finish_owner(
        self, rt: ResourceType, cur: Stored, dependents: dict[str, list[tuple[ResourceType, Stored]]]
    ) -> None:
        """Drop a deleting owner's GC finalizer once its dependents are handled."""
        meta = cur.obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        uid = meta["uid"]
        deps = [c for c in (self._current(drt, d) for drt, d in dependents.get(uid, [])) if c is not None]
        refs = [
            r for c in deps for r in c.obj["metadata"].get("ownerReferences") or [] if r.get("uid") == uid
        ]
        drop: list[str] = []
        if ORPHAN in finalizers and not refs:
            drop.append(ORPHAN)
        if FOREGROUND in finalizers and not any(r.get("blockOwnerDeletion") for r in refs):
            drop.append(FOREGROUND)
        if not drop:
            return
        left = [f for f in finalizers if f not in drop]
        key = object_key(meta.get("namespace"), meta["name"])
        if left:
            obj = objects.deep_copy(cur.raw)
            obj["metadata"]["finalizers"] = left
            self.store.replace(rt.storage_key, key, obj)
        else:
            self.store.delete(rt.storage_key, key)

    def _delete(self, rt: ResourceType, cur: Stored, policy: str | None) -> None:
        if rt is NAMESPACES:
            terminate_namespace(self.store, cur, False)
        else:
            delete_object(self.store, rt, cur, policy, False)

    def _namespaces(self, types: dict[str, ResourceType]) -> None:
        now = time.monotonic()
        for name, ns in list(self.store.scan(NAMESPACES.storage_key)):
            if ns.obj.get("status", {}).get("phase") != "Terminating":
                self._terminating_since.pop(name, None)
                continue
            since = self._terminating_since.setdefault(name, now)
            if now - since < self.namespace_delay:
                self._later(since + self.namespace_delay - now)
                continue
            left = False
            for storage, rt in types.items():
                if not rt.namespaced:
                    continue
                for _, s in list(self.store.scan(storage, name + "/")):
                    left = True
                    if not s.obj["metadata"].get("deletionTimestamp"):
                        delete_object(self.store, rt, s, None, False)
            if left:
                left = any(
                    next(iter(self.store.scan(storage, name + "/")), None) is not None
                    for storage, rt in types.items()
                    if rt.namespaced
                )
            if not left:
                self._terminating_since.pop(name, None)
                self.store.delete(NAMESPACES.storage_key, name)

    def _later(self, wait: float) -> None:
        """Run again after ``wait`` seconds (a timer on the running event loop; without one, on
        the next :meth:`run`)."""
        if self._timer:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._recheck = True
            return
        self._timer = True

        def again() -> None:
            self._timer = False
            self._dirty = True
            self.run()

        loop.call_later(max(wait, 0.0), again)
