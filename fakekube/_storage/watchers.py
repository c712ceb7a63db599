"""Watch streams: newline-delimited JSON watch events written as changes happen.

A :class:`WatchStream` subscribes to the store before it reads anything, so no change can fall
between the initial state and the live changes. Filtering follows the apiserver's watch cache
(``storage/cacher/cache_watcher.go`` ``convertToWatchEvent``): with selectors, a change whose new
state matches but old state did not is sent as ``ADDED``, one whose old state matched but new does
not as ``DELETED`` (the old content stamped with the change's resourceVersion), and neither →
nothing. A start ``resourceVersion`` older than the history yields one ``ERROR`` event with a 410
``Expired`` Status (``too old resource version: N (M)``). ``BOOKMARK`` events (when
``allowWatchBookmarks``) carry only ``metadata.resourceVersion``; with ``sendInitialEvents`` the
initial ``ADDED`` events end with a bookmark annotated ``k8s.io/initial-events-end: "true"``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fakekube import _apierrors as errors
from fakekube._resources import ResourceType
from fakekube._storage.selection import FieldSelector, LabelSelector, field_matches
from fakekube._storage.store import ADDED, DELETED, MODIFIED, Change, Store, Stored, TooOld, dumps
from kubeapi.types import JSON
from kubeapi.watchevents import bookmark_event, error_event, event_line, initial_events_end_event

Render = Callable[[Stored], bytes]


_END = None  # queued to end the stream


class _SharedLines:
    """The event line of the change being fanned out, built once per (event type, render) and
    shared by every watch that sends it: one change reaching 1,000 watches of a kind is encoded
    once, not 1,000 times (the apiserver's cacher likewise serializes an event once per encoding,
    ``cachingObject`` in ``storage/cacher/caching_object.go``). Keyed by the change object itself,
    so lines of different changes never mix; a table render is stateful (its first row carries
    the columns) and is its own key, so it is never shared. The memo is one (change, lines)
    tuple, replaced whole: apps serving on loops in different threads (tests, ``mock()``) each
    fill the dict of their own change."""

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: tuple[Change | None, dict[tuple[str, Render], bytes]] = (None, {})

    def line(self, ch: Change, event_type: str, render: Render) -> bytes:
        """``event_line(event_type, render(ch.new))``, from the memo when another watch built it."""
        memo = self.memo
        if memo[0] is not ch:
            memo = self.memo = (ch, {})
        lines = memo[1]
        key = (event_type, render)
        line = lines.get(key)
        if line is None:
            line = lines[key] = event_line(event_type, render(ch.new))
        return line


_shared = _SharedLines()


@dataclass(eq=False)
class WatchStream:
    """Matching watch events of one resource for one client.

    ``prefix`` limits keys (``namespace/`` for a namespaced watch); ``render`` turns a stored object
    into the bytes served for ``rt`` (it converts events.k8s.io Events). ``queue`` holds the event
    lines not yet sent (None ends the stream).

    Delivery costs the serving loop as little per watch as it can, since one change wakes every
    watch of its kind: the store calls only the watches of the changed storage; the line is
    built once per change (:class:`_SharedLines`); a waiting :meth:`lines` is woken through one
    future, and its timeouts (``timeoutSeconds``, bookmarks) share one timer that is moved only
    when it fires, instead of arming and cancelling a timer per event as ``asyncio.timeout``
    around each wait would; lines queued while the client's previous write was going out are
    sent in one chunk.
    """

    store: Store
    rt: ResourceType
    prefix: str
    labels: LabelSelector
    fields: FieldSelector
    render: Render
    queue: deque[bytes | None] = field(default_factory=deque, init=False)
    _unsubscribe: Callable[[], None] | None = field(default=None, init=False)
    _waiter: asyncio.Future[bool] | None = field(default=None, init=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False)
    _until: float = field(default=0.0, init=False)
    _everything: bool = field(default=False, init=False)
    _storage: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._everything = self.labels.empty and self.fields.empty
        self._storage = self.rt.storage_key  # a property, computed on each read

    def _matches(self, obj: JSON) -> bool:
        if self._everything:
            return True
        return self.labels.matches(obj["metadata"].get("labels")) and field_matches(self.fields, obj, self.rt)

    def line_for(self, ch: Change) -> bytes | None:
        """The event line ``ch`` produces for this watch, or None when filtered out."""
        if ch.storage != self._storage or not ch.key.startswith(self.prefix):
            return None
        new_ok = self._matches(ch.new.obj)
        if ch.type == ADDED:
            return _shared.line(ch, ADDED, self.render) if new_ok else None
        old_ok = ch.old is not None and self._matches(ch.old.obj)
        if ch.type == DELETED:
            return _shared.line(ch, DELETED, self.render) if old_ok else None
        if new_ok:
            return _shared.line(ch, MODIFIED if old_ok else ADDED, self.render)
        if old_ok and ch.old is not None:
            gone = {**ch.old.obj, "metadata": {**ch.old.obj["metadata"], "resourceVersion": str(ch.rv)}}
            return event_line(DELETED, self.render(Stored(gone, dumps(gone), ch.rv)))
        return None

    def _put(self, line: bytes | None) -> None:
        self.queue.append(line)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _on_change(self, ch: Change) -> None:
        line = self.line_for(ch)
        if line is not None:
            self._put(line)

    def start(self, resource_version: str, send_initial: bool, bookmarks: bool) -> None:
        """Subscribe and queue the initial events.

        ``resource_version`` "" or "0" (or ``send_initial``) → ``ADDED`` for every current match,
        then changes; ``N`` → the changes after N (or the 410 ``ERROR`` event when too old).
        """
        self._unsubscribe = self.store.subscribe(self._on_change, self._storage)
        rv = int(resource_version) if resource_version not in ("", "0") else None
        if rv is None or send_initial:
            for _, stored in self.store.scan(self._storage, self.prefix):
                if self._matches(stored.obj):
                    self.queue.append(event_line(ADDED, self.render(stored)))
            # The watch cache ends initial events with this bookmark whenever bookmarks are
            # allowed (KEP-3157), also for a plain watch without resourceVersion.
            if bookmarks:
                rt = self.rt
                self.queue.append(initial_events_end_event(rt.kind, rt.api_version, str(self.store.rv)))
            return
        try:
            changes: Iterable[Change] = self.store.changes_since(rv)
        except TooOld as e:
            self.queue.append(error_event(errors.expired(str(e))))
            self.queue.append(_END)
            return
        for ch in changes:
            line = self.line_for(ch)
            if line is not None:
                self.queue.append(line)

    def bookmark(self) -> bytes:
        """A ``BOOKMARK`` event at the store's current resourceVersion."""
        return bookmark_event(self.rt.kind, self.rt.api_version, str(self.store.rv))

    def close(self) -> None:
        """Unsubscribe from the store (and drop the wake-up timer)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        """The shared timer fired: wake the waiter if its wait is over, else re-arm for its end."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # nobody waits: the next wait arms the timer again
        loop = waiter.get_loop()
        if loop.time() + _TIMER_SLACK >= self._until:
            waiter.set_result(False)
        else:
            self._timer = loop.call_at(self._until, self._on_timer)

    async def _wait(self, loop: asyncio.AbstractEventLoop, until: float) -> bool:
        """Wait until a line is queued (True) or the loop's clock reaches ``until`` (False).

        ``until`` never decreases between calls (it is ``min(deadline, now + bookmark
        interval)``), so a timer armed for an earlier wait fires no later than this one ends and
        :meth:`_on_timer` moves it on."""
        self._until = until
        if self._timer is None:
            self._timer = loop.call_at(until, self._on_timer)
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        try:
            return await waiter
        finally:
            self._waiter = None

    def _take(self) -> tuple[bytes, bool]:
        """Everything queued, as one chunk, and whether the stream ends after it."""
        queue = self.queue
        if len(queue) == 1:
            line = queue.popleft()
            return (b"", True) if line is None else (line, False)
        parts: list[bytes] = []
        while queue:
            line = queue.popleft()
            if line is None:
                return b"".join(parts), True
            parts.append(line)
        return b"".join(parts), False

    async def lines(self, timeout: float, bookmark_interval: float | None) -> Any:
        """Yield event lines until ``timeout`` seconds pass or the stream ends (None queued).

        Lines queued together are yielded as one chunk of several lines. With
        ``bookmark_interval`` (seconds), a ``BOOKMARK`` is yielded after that long without events.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if self.queue:
                    chunk, end = self._take()
                    if chunk:
                        yield chunk
                    if end:
                        return
                    continue
                now = loop.time()
                left = deadline - now
                if left <= 0:
                    return
                wait = min(left, bookmark_interval) if bookmark_interval else left
                woken = await self._wait(loop, now + wait)
                if not woken and bookmark_interval and loop.time() < deadline:
                    yield self.bookmark()
        finally:
            self.close()

    def stop(self) -> None:
        """End :meth:`lines` (e.g. the client went away)."""
        self._put(_END)


#: How early (seconds) the shared timer may fire and still end a wait: event loops round timers
#: to their clock's resolution (uvloop: 1 ms).
_TIMER_SLACK = 0.001
