"""fakekube's controllers (private): what kube-controller-manager runs against a real API server.

A controller watches the store and acts on what it sees, writing through the registry
(:class:`fakekube._registry.generic.Registry`) so that its writes get the same strategies and
emit the same watch events as a client's. Controllers run synchronously: the ASGI app calls
:meth:`ControllerManager.run` right before each response goes out, which runs every controller
with pending work until none has any (a fixed point), so a client never waits for them.

Shipped controllers: the garbage collector (:mod:`.garbagecollector`,
``pkg/controller/garbagecollector``) and the namespace controller (:mod:`.namespace`,
``pkg/controller/namespace``).

Adding a controller (e.g. a simulated KubeRay operator): subclass :class:`Controller`, implement
``observe`` (note which objects need work from a committed :class:`~fakekube._storage.store.Change`;
cheap, no writes), ``pending`` and ``sync`` (do the work: read ``ctx.storage``, write through
``ctx.registry.store(rt)``'s ``create``/``update``/``delete_stored``), and register it in
:func:`fakekube.server.create_app` with ``app.controllers.add(MyController(app.controllers.context))``.
``ctx.requeue_after(controller, seconds)`` calls its ``requeue`` later (a timer on the serving
loop) and runs the controllers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fakekube._registry.generic import Registry
from fakekube._resources import ResourceType
from fakekube._storage.store import Change, Store


@dataclass
class ControllerContext:
    """What a controller may use: ``storage`` (reads; the store it observes), ``registry``
    (writes), ``types()`` (the served resource types, for mapping kinds) and
    ``requeue_after(controller, seconds)`` (call ``controller.requeue()`` then and run the
    controllers; set by the manager)."""

    storage: Store
    registry: Registry
    types: Callable[[], Iterable[ResourceType]]
    requeue_after: Callable[[Controller, float], None] = field(default=lambda c, _: None)


class Controller:
    """A controller: :meth:`observe` every committed change, report :meth:`pending` work, do it in
    :meth:`sync` (writes made there are observed too, by this and the other controllers)."""

    #: A short name for logs and errors.
    name = "controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def observe(self, change: Change) -> None:
        """Note work a committed ``change`` may cause (called inside the write; must not write)."""

    def pending(self) -> bool:
        """Whether :meth:`sync` has work to do."""
        return False

    def sync(self) -> None:
        """Do the pending work (and leave :meth:`pending` False, or :meth:`run` would not end)."""

    def requeue(self) -> None:
        """Make :meth:`pending` true again (a requeue asked for with ``ctx.requeue_after`` is due)."""


class ControllerManager:
    """The controllers of one store, run to a fixed point by :meth:`run` (kube-controller-manager's role).

    ``add`` subscribes a controller to the store's changes; controllers run in the order added."""

    def __init__(
        self, storage: Store, registry: Registry, types: Callable[[], Iterable[ResourceType]]
    ) -> None:
        self.context = ControllerContext(storage, registry, types, self._requeue_after)
        self.controllers: list[Controller] = []
        self._running = False
        self._timers: set[int] = set()
        self._recheck: list[Controller] = []

    def add(self, controller: Controller) -> Controller:
        """Register ``controller`` (observing from now on) and return it."""
        self.controllers.append(controller)
        self.context.storage.subscribe(controller.observe)
        return controller

    def run(self) -> None:
        """Run every controller with pending work until none has any (no-op when re-entered)."""
        if self._running:
            return
        self._running = True
        recheck, self._recheck = self._recheck, []
        for c in recheck:
            c.requeue()
        try:
            while True:
                busy = [c for c in self.controllers if c.pending()]
                if not busy:
                    return
                for c in busy:
                    c.sync()
        finally:
            self._running = False

    def _requeue_after(self, controller: Controller, wait: float) -> None:
        """Requeue ``controller`` after ``wait`` seconds and run (a timer on the running event loop,
        one per controller at a time; without a loop, on the next :meth:`run`)."""
        if id(controller) in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if controller not in self._recheck:
                self._recheck.append(controller)
            return
        self._timers.add(id(controller))

        def again() -> None:
            self._timers.discard(id(controller))
            controller.requeue()
            self.run()

        loop.call_later(max(wait, 0.0), again)
