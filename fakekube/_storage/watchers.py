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
import contextlib
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


@dataclass(eq=False)
class WatchStream:
    """Matching watch events of one resource for one client.

    ``prefix`` limits keys (``namespace/`` for a namespaced watch); ``render`` turns a stored object
    into the bytes served for ``rt`` (it converts events.k8s.io Events). ``queue`` holds the event
    lines not yet sent (None ends the stream).
    """

    store: Store
    rt: ResourceType
    prefix: str
    labels: LabelSelector
    fields: FieldSelector
    render: Render
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue, init=False)
    _unsubscribe: Callable[[], None] | None = field(default=None, init=False)

    def _matches(self, obj: JSON) -> bool:
        return self.labels.matches(obj["metadata"].get("labels")) and field_matches(self.fields, obj, self.rt)

    def line_for(self, ch: Change) -> bytes | None:
        """The event line ``ch`` produces for this watch, or None when filtered out."""
        if ch.storage != self.rt.storage_key or not ch.key.startswith(self.prefix):
            return None
        new_ok = self._matches(ch.new.obj)
        if ch.type == ADDED:
            return event_line(ADDED, self.render(ch.new)) if new_ok else None
        old_ok = ch.old is not None and self._matches(ch.old.obj)
        if ch.type == DELETED:
            return event_line(DELETED, self.render(ch.new)) if old_ok else None
        if new_ok:
            return event_line(MODIFIED if old_ok else ADDED, self.render(ch.new))
        if old_ok and ch.old is not None:
            gone = {**ch.old.obj, "metadata": {**ch.old.obj["metadata"], "resourceVersion": str(ch.rv)}}
            return event_line(DELETED, self.render(Stored(gone, dumps(gone), ch.rv)))
        return None

    def _on_change(self, ch: Change) -> None:
        line = self.line_for(ch)
        if line is not None:
            self.queue.put_nowait(line)

    def start(self, resource_version: str, send_initial: bool, bookmarks: bool) -> None:
        """Subscribe and queue the initial events.

        ``resource_version`` "" or "0" (or ``send_initial``) → ``ADDED`` for every current match,
        then changes; ``N`` → the changes after N (or the 410 ``ERROR`` event when too old).
        """
        self._unsubscribe = self.store.subscribe(self._on_change)
        rv = int(resource_version) if resource_version not in ("", "0") else None
        if rv is None or send_initial:
            for _, stored in self.store.scan(self.rt.storage_key, self.prefix):
                if self._matches(stored.obj):
                    self.queue.put_nowait(event_line(ADDED, self.render(stored)))
            # The watch cache ends initial events with this bookmark whenever bookmarks are
            # allowed (KEP-3157), also for a plain watch without resourceVersion.
            if bookmarks:
                rt = self.rt
                self.queue.put_nowait(initial_events_end_event(rt.kind, rt.api_version, str(self.store.rv)))
            return
        try:
            changes: Iterable[Change] = self.store.changes_since(rv)
        except TooOld as e:
            self.queue.put_nowait(error_event(errors.expired(str(e))))
            self.queue.put_nowait(None)
            return
        for ch in changes:
            line = self.line_for(ch)
            if line is not None:
                self.queue.put_nowait(line)

    def bookmark(self) -> bytes:
        """A ``BOOKMARK`` event at the store's current resourceVersion."""
        return bookmark_event(self.rt.kind, self.rt.api_version, str(self.store.rv))

    def close(self) -> None:
        """Unsubscribe from the store."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def lines(self, timeout: float, bookmark_interval: float | None) -> Any:
        """Yield event lines until ``timeout`` seconds pass or the stream ends (None queued).

        With ``bookmark_interval`` (seconds), a ``BOOKMARK`` is yielded after that long without events.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    return
                wait = min(left, bookmark_interval) if bookmark_interval else left
                try:
                    if self.queue.empty():
                        # asyncio.timeout, not wait_for: wait_for wraps every get in a new Task,
                        # a cost paid per event and per watch when one change fans out to many
                        async with asyncio.timeout(wait):
                            line = await self.queue.get()
                    else:
                        line = self.queue.get_nowait()
                except TimeoutError:
                    if bookmark_interval and loop.time() < deadline:
                        yield self.bookmark()
                    continue
                if line is None:
                    return
                yield line
        finally:
            self.close()

    def stop(self) -> None:
        """End :meth:`lines` (e.g. the client went away)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
