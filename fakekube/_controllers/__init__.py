"""fakekube's controllers (private): what kube-controller-manager (and, simulated, the kubelet
and the KubeRay operator) run against a real API server.

A controller watches the store and acts on what it sees, writing through the registry
(:class:`fakekube._registry.generic.Registry`) so that its writes get the same strategies and
emit the same watch events as a client's. Controllers run synchronously: the ASGI app calls
:meth:`ControllerManager.run` right before each response goes out, which runs every controller
with pending work until none has any (a fixed point), so a client never waits for them.

Time-based work (a Pod Ready after its start-up delay, a job finishing) is a timer:
``ctx.requeue_after(controller, seconds)`` calls the controller's ``requeue`` once that much time
has passed on ``ctx.clock`` (:mod:`.clock`) and runs the controllers. With the real clock the
manager arms one ``loop.call_at`` on the serving event loop for the earliest timer; with a
:class:`~fakekube._controllers.clock.ManualClock` nothing fires until a test calls
:meth:`ControllerManager.advance`, which moves the clock timer by timer (so chained delays inside
the advanced span happen in order). Without a running loop, due timers fire on the next ``run``.

Shipped controllers: the garbage collector (:mod:`.garbagecollector`,
``pkg/controller/garbagecollector``) and the namespace controller (:mod:`.namespace`,
``pkg/controller/namespace``), always; with ``create_app(simulate_operator=...)`` the simulated
kubelet (:mod:`.kubelet`: Pods Pending → Running/Ready, container logs) and the KubeRay operator
(:mod:`.kuberay`).

Adding a controller (e.g. a simulated KubeRay operator): subclass :class:`Controller`, implement
``observe`` (note which objects need work from a committed :class:`~fakekube._storage.store.Change`;
cheap, no writes), ``pending`` and ``sync`` (do the work: read ``ctx.storage``, write through
``ctx.registry.store(rt)``'s ``create``/``update``/``delete_stored``), and register it in
:func:`fakekube.server.create_app` with ``app.controllers.add(MyController(app.controllers.context))``
(the simulation's controllers: in :func:`fakekube._controllers.kuberay.install`). Delayed work:
keep a :class:`~fakekube._controllers.clock.DueQueue` of what is due when, ``requeue_after`` for
its earliest entry, and in ``sync`` do what ``pop_due(ctx.clock.monotonic())`` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fakekube._controllers.clock import Clock, DueQueue, ManualClock
from fakekube._registry.generic import Registry
from fakekube._resources import ResourceType
from fakekube._storage.store import Change, Store


@dataclass
class ControllerContext:
    """What a controller may use: ``storage`` (reads; the store it observes), ``registry``
    (writes), ``types()`` (the served resource types, for mapping kinds),
    ``requeue_after(controller, seconds)`` (call ``controller.requeue()`` then and run the
    controllers; set by the manager) and ``clock`` (:class:`~fakekube._controllers.clock.Clock`:
    what "then" is measured on, and the time for timestamps a controller writes)."""

    storage: Store
    registry: Registry
    types: Callable[[], Iterable[ResourceType]]
    requeue_after: Callable[[Controller, float], None] = field(default=lambda c, _: None)
    clock: Clock = field(default_factory=Clock)


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

    ``add`` subscribes a controller to the store's changes; controllers run in the order added.
    ``clock``: the :class:`~fakekube._controllers.clock.Clock` timers run on (the real one by
    default; :meth:`use_clock` swaps it before anything is scheduled)."""

    def __init__(
        self,
        storage: Store,
        registry: Registry,
        types: Callable[[], Iterable[ResourceType]],
        clock: Clock | None = None,
    ) -> None:
        self.context = ControllerContext(storage, registry, types, self._requeue_after, clock or Clock())
        self.controllers: list[Controller] = []
        self._running = False
        self._timers = DueQueue()
        self._wakeup: asyncio.TimerHandle | None = None
        self._wakeup_at = 0.0

    @property
    def clock(self) -> Clock:
        """The clock timers are measured on."""
        return self.context.clock

    def use_clock(self, clock: Clock) -> None:
        """Measure timers on ``clock`` from now on (e.g. a :class:`~.clock.ManualClock` for tests)."""
        self.context.clock = clock

    def add(self, controller: Controller) -> Controller:
        """Register ``controller`` (observing from now on) and return it."""
        self.controllers.append(controller)
        self.context.storage.subscribe(controller.observe)
        return controller

    def run(self) -> None:
        """Fire the due timers and run every controller with pending work until none has any
        (no-op when re-entered); then arm the event-loop timer for the next one."""
        if self._running:
            return
        self._running = True
        try:
            while True:
                if self._timers:  # (no clock read on the common path: no timer set)
                    for c in self._timers.pop_due(self.clock.monotonic()):
                        assert isinstance(c, Controller)
                        c.requeue()
                busy = [c for c in self.controllers if c.pending()]
                if not busy:
                    return
                for c in busy:
                    c.sync()
        finally:
            self._running = False
            if self._timers:
                self._arm()

    def advance(self, seconds: float) -> None:
        """Move a manual clock on by ``seconds``, firing each timer at its own time and running
        the controllers after it (so work a timer schedules inside the span happens too).
        Call it on the thread serving the app. Raises RuntimeError with the real clock."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise RuntimeError(
                "advance() needs a ManualClock (create_app(simulate_operator=Simulation(manual_clock=True)))"
            )
        end = clock.monotonic() + seconds
        self.run()
        while (due := self._timers.next_due()) is not None and due <= end:
            clock.set(due)
            self.run()
        clock.set(end)
        self.run()

    def next_timer(self) -> float | None:
        """Seconds until the earliest timer (0 when overdue), or None when none is set."""
        due = self._timers.next_due()
        return None if due is None else max(0.0, due - self.clock.monotonic())

    def _requeue_after(self, controller: Controller, wait: float) -> None:
        """Requeue ``controller`` after ``wait`` seconds on the clock and run the controllers
        (the earliest of its pending requeues counts)."""
        self._timers.schedule(controller, self.clock.monotonic() + max(wait, 0.0))
        if not self._running:
            self._arm()

    def _arm(self) -> None:
        """One ``loop.call_at`` for the earliest timer (real clock, running loop only)."""
        if self.clock.manual:
            return
        due = self._timers.next_due()
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next run() fires it
        if self._wakeup is not None:
            if self._wakeup_at <= due:
                return
            self._wakeup.cancel()
        self._wakeup_at = due

        def fire() -> None:
            self._wakeup = None
            self.run()

        self._wakeup = loop.call_at(loop.time() + max(0.0, due - self.clock.monotonic()), fire)
