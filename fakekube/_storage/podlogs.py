"""Container logs: what a kubelet keeps for each container of a Pod, read by ``pods/log``.

:class:`PodLogs` holds, per Pod ``uid`` and container name, the lines written so far with their
times (RFC 3339 with nanoseconds, as the kubelet's ``timestamps=true`` prefix), and wakes the
readers that follow a log when a line arrives or the log ends. A log ends when its container
stops (:meth:`PodLogs.close`) or its Pod is deleted (:meth:`PodLogs.follow_store` watches the
store for that), which ends every ``follow`` stream on it, as a kubelet's stream ends.

Lines are written by the simulated kubelet (:mod:`fakekube._controllers.kubelet`) on the event
loop that serves the requests; :meth:`PodLogs.append` may also be called from another thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fakekube._storage.store import DELETED, Change, Store


@dataclass
class ContainerLog:
    """One container's log: ``lines`` as ``(timestamp, text)`` (text without the newline) and
    whether it has ended (``closed``)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for f in waiters:
            f.get_loop().call_soon_threadsafe(_set_done, f)

    async def wait(self, seen: int) -> None:
        """Return once there are more than ``seen`` lines or the log has ended."""
        if len(self.lines) > seen or self.closed:
            return
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(f)
        await f


def _set_done(f: asyncio.Future[None]) -> None:
    if not f.done():
        f.set_result(None)


class PodLogs:
    """The logs of every container of every Pod, keyed by Pod uid and container name."""

    def __init__(self) -> None:
        self._logs: dict[tuple[str, str], ContainerLog] = {}

    def log(self, uid: str, container: str) -> ContainerLog | None:
        """The log of ``container`` in the Pod ``uid``, or None when nothing was ever written."""
        return self._logs.get((uid, container))

    def append(self, uid: str, container: str, text: str, timestamp: str) -> None:
        """Add the lines of ``text`` (split on newlines) at ``timestamp`` (RFC 3339 nano)."""
        log = self._logs.setdefault((uid, container), ContainerLog())
        if log.closed:
            return
        log.lines.extend((timestamp, line) for line in text.splitlines())
        log._wake()

    def close(self, uid: str, container: str | None = None) -> None:
        """End the log of ``container`` (None: of every container) of the Pod ``uid``."""
        for (u, c), log in list(self._logs.items()):
            if u == uid and (container is None or c == container):
                log.closed = True
                log._wake()

    def discard(self, uid: str) -> None:
        """End and forget every log of the Pod ``uid`` (it was deleted)."""
        self.close(uid)
        for key in [k for k in self._logs if k[0] == uid]:
            del self._logs[key]

    def follow_store(self, store: Store, storage: str = "pods") -> None:
        """Discard a Pod's logs when ``store`` deletes it (``storage``: the Pods' storage key)."""

        def on_change(ch: Change) -> None:
            if ch.type == DELETED and ch.storage == storage:
                uid = ch.new.obj["metadata"].get("uid")
                if uid:
                    self.discard(uid)

        store.subscribe(on_change)

    @staticmethod
    async def follow(log: ContainerLog, start: int) -> AsyncIterator[tuple[str, str]]:
        """The lines of ``log`` from index ``start`` on, waiting for new ones until it ends."""
        i = start
        while True:
            while i < len(log.lines):
                yield log.lines[i]
                i += 1
            if log.closed:
                return
            await log.wait(i)
