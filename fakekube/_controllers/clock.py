"""Time for controllers: a :class:`Clock` (monotonic seconds for delays, wall time for the
timestamps they write) and :class:`DueQueue` (which keys are due when).

The real clock reads ``time.monotonic`` and the system time; a :class:`ManualClock` stands still
until a test moves it with :meth:`fakekube._controllers.ControllerManager.advance`, so delayed
transitions (a Pod becoming Ready after its start-up delay) happen exactly when the test says.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import time
from collections.abc import Hashable


class Clock:
    """The real clock: :meth:`monotonic` seconds and the wall-clock :meth:`now`."""

    #: Whether time moves only when told (timers are then not armed on the event loop).
    manual = False

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for delays)."""
        return time.monotonic()

    def now(self) -> dt.datetime:
        """The current UTC time (for the timestamps controllers write)."""
        return dt.datetime.now(dt.UTC)

    def rfc3339(self) -> str:
        """:meth:`now` as ``metav1.Time`` serializes it (seconds, ``Z``)."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def rfc3339_nano(self) -> str:
        """:meth:`now` with nanoseconds, as kubelet log timestamps (``RFC3339Nano``)."""
        t = self.now()
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 1000:09d}Z"


class ManualClock(Clock):
    """A clock that moves only by :meth:`set` (tests: ``app.controllers.advance(seconds)``);
    wall time is the creation time plus the seconds advanced."""

    manual = True

    def __init__(self) -> None:
        self._t = 0.0
        self._start = dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """Seconds advanced so far."""
        return self._t

    def now(self) -> dt.datetime:
        """Creation time plus the seconds advanced."""
        return self._start + dt.timedelta(seconds=self._t)

    def set(self, t: float) -> None:
        """Move to ``t`` seconds (never back)."""
        self._t = max(self._t, t)


class DueQueue:
    """Keys with due times (monotonic seconds): :meth:`schedule`, :meth:`pop_due`,
    :meth:`next_due`. A key scheduled again keeps its earliest time; :meth:`cancel` drops it."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._due

    def schedule(self, key: Hashable, at: float) -> None:
        """Make ``key`` due at ``at`` (unless it is already due earlier)."""
        if key in self._due and self._due[key] <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))

    def cancel(self, key: Hashable) -> None:
        """Forget ``key``."""
        self._due.pop(key, None)

    def pop_due(self, now: float) -> list[Hashable]:
        """The keys due at ``now`` (in due order), removed."""
        out: list[Hashable] = []
        while self._heap and self._heap[0][0] <= now:
            at, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == at:
                del self._due[key]
                out.append(key)
        return out

    def next_due(self) -> float | None:
        """The earliest due time, or None when nothing is scheduled."""
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
