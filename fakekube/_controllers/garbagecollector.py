"""The garbage collector (kube-controller-manager's ``pkg/controller/garbagecollector``).

After each request that changed something relevant it runs to a fixed point:

- an object whose ``ownerReferences`` all point to absent owners is deleted (Background); a
  reference to an absent owner is dropped when other owners remain;
- an owner being deleted with ``foregroundDeletion``: its dependents are deleted (Foreground
  too); once no dependent with ``blockOwnerDeletion: true`` is left the finalizer is removed;
- an owner with ``orphan``: its dependents lose their ownerReferences to it, then the finalizer
  is removed.

Deletions go through the registry (:meth:`fakekube._registry.generic.GenericStore.delete_stored`);
the reference and finalizer edits are written to storage directly (the real collector PATCHes
them; here they skip managedFields bookkeeping, as before). Owners of kinds fakekube does not serve
cannot be resolved, so their dependents are left alone, as the real collector leaves what it
cannot map. A deletion makes the collector scan every object once (fine for test-sized stores); a
write that only carries ownerReferences just has its owners looked up.
"""

from __future__ import annotations

from typing import Any

from fakekube._controllers import Controller, ControllerContext
from fakekube._registry import objects
from fakekube._registry.deletion import FOREGROUND, ORPHAN
from fakekube._resources import ResourceType
from fakekube._storage.store import DELETED, Change, Stored, object_key
from kubeapi.types import JSON

_Dependents = dict[str, list[tuple[ResourceType, Stored]]]


class GarbageCollector(Controller):
    """The garbage collector of ``ctx.storage``."""

    name = "garbage-collector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.store = ctx.storage
        self._dirty = False
        self._check: list[tuple[str, str]] = []

    def observe(self, ch: Change) -> None:
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

    def pending(self) -> bool:
        """Whether a full pass or owner checks are due."""
        return self._dirty or bool(self._check)

    def sync(self) -> None:
        """The owner checks of newly written objects, or a full pass when anything may be due."""
        while self._dirty or self._check:
            if not self._dirty:
                self._quick_checks()
                continue
            self._dirty = False
            self._check = []
            self._pass()

    def _served_kinds(self) -> dict[tuple[str, str], ResourceType]:
        """(group, kind) → resource type, for resolving ownerReferences (the GC's REST mapping)."""
        out: dict[tuple[str, str], ResourceType] = {}
        for rt in self.ctx.types():
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

    def _pass(self) -> None:
        types = by_storage(self.ctx.types())
        every: list[tuple[ResourceType, Stored]] = []
        for storage, rt in types.items():
            every += [(rt, s) for _, s in self.store.scan(storage)]
        alive = {s.obj["metadata"]["uid"]: (rt, s) for rt, s in every}
        dependents: _Dependents = {}
        for rt, s in every:
            for ref in s.obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid", ""), []).append((rt, s))
        kinds = self._served_kinds()
        for rt, s in every:
            self._collect(rt, s, alive, dependents, kinds)

    def _current(self, rt: ResourceType, s: Stored) -> Stored | None:
        meta = s.obj["metadata"]
        return self.store.get(rt.storage_key, object_key(meta.get("namespace"), meta["name"]))

    def _collect(
        self,
        rt: ResourceType,
        s: Stored,
        alive: dict[str, tuple[ResourceType, Stored]],
        dependents: _Dependents,
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
                policy = "Foreground" if waiting and has_dependents else None
                self.ctx.registry.store(rt).delete_stored(cur, policy)
                return
        if meta.get("deletionTimestamp"):
            self._finish_owner(rt, cur, dependents)

    def _finish_owner(self, rt: ResourceType, cur: Stored, dependents: _Dependents) -> None:
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


def by_storage(types: Any) -> dict[str, ResourceType]:
    """One resource type per storage key (the first served), from an iterable of resource types."""
    out: dict[str, ResourceType] = {}
    for rt in types:
        out.setdefault(rt.storage_key, rt)
    return out
