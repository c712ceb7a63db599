"""The namespace controller (kube-controller-manager's ``pkg/controller/namespace``).

A Terminating namespace (``spec.finalizers: [kubernetes]``, marked by its DELETE): everything in it
is deleted (through the registry, so finalizers are honoured); while objects with finalizers
remain it stays Terminating (creates get 403 ``NamespaceTerminating``); then the namespace goes.
``delay`` (seconds) is how long it lets a Terminating namespace be before emptying it (0: at once;
a positive value models controller latency, handled with ``ctx.requeue_after``).
"""

from __future__ import annotations

import time

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.garbagecollector import by_storage
from fakekube._resources import NAMESPACES
from fakekube._storage.store import DELETED, Change


class NamespaceController(Controller):
    """The namespace controller of ``ctx.storage``."""

    name = "namespace-controller"

    def __init__(self, ctx: ControllerContext, delay: float = 0.0) -> None:
        super().__init__(ctx)
        self.store = ctx.storage
        self.delay = delay
        self._dirty = False
        self._terminating_since: dict[str, float] = {}

    def observe(self, ch: Change) -> None:
        """A deletion or a change to a deleting object may finish or start a namespace's end."""
        if ch.type == DELETED:
            self._dirty = True
            return
        old = ch.old.obj.get("metadata", {}) if ch.old is not None else {}
        if ch.new.obj.get("metadata", {}).get("deletionTimestamp") or old.get("deletionTimestamp"):
            self._dirty = True

    def pending(self) -> bool:
        """Whether namespaces must be looked at."""
        return self._dirty

    def requeue(self) -> None:
        """A delayed namespace is due."""
        self._dirty = True

    def sync(self) -> None:
        """Empty each Terminating namespace (once its delay is over) and remove the empty ones."""
        self._dirty = False
        types = by_storage(self.ctx.types())
        now = time.monotonic()
        for name, ns in list(self.store.scan(NAMESPACES.storage_key)):
            if ns.obj.get("status", {}).get("phase") != "Terminating":
                self._terminating_since.pop(name, None)
                continue
            since = self._terminating_since.setdefault(name, now)
            if now - since < self.delay:
                self.ctx.requeue_after(self, since + self.delay - now)
                continue
            left = False
            for storage, rt in types.items():
                if not rt.namespaced:
                    continue
                for _, s in list(self.store.scan(storage, name + "/")):
                    left = True
                    if not s.obj["metadata"].get("deletionTimestamp"):
                        self.ctx.registry.store(rt).delete_stored(s, None)
            if left:
                left = any(
                    next(iter(self.store.scan(storage, name + "/")), None) is not None
                    for storage, rt in types.items()
                    if rt.namespaced
                )
            if not left:
                self._terminating_since.pop(name, None)
                self.store.delete(NAMESPACES.storage_key, name)
