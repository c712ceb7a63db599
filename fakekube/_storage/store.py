"""In-memory object storage with one store-wide ``resourceVersion`` and a bounded change history.

Objects are kept as dicts together with their serialized JSON (``raw``), so reads never copy or
re-encode them: a list body is the stored ``raw`` bytes joined. A stored dict is never mutated
after it is committed; writers build a new dict and commit it whole.

Every write increments the one counter (as etcd's revision does for the real apiserver) and
appends a :class:`Change` to the history, which keeps the last ``history_size`` changes. The
history serves watches that resume from a ``resourceVersion`` and lists "as of" an older
``resourceVersion`` (paging with snapshot semantics), by undoing the changes made since; a
``resourceVersion`` older than the history answers 410 ``Expired``
(storage/etcd3 ``ErrCompacted`` → ``errors.NewResourceExpired``).

Keys within a storage are the etcd key suffix: ``namespace/name`` for namespaced resources and
``name`` for cluster-scoped ones; lists are ordered by that key, as etcd range reads are.
"""

from __future__ import annotations

import bisect
import json
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubeapi.types import JSON

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (the wire form of every body fakekube writes)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


_RV_PLACEHOLDER = "rv-" + uuid.uuid4().hex  # unguessable: no client can write it into a body


def encode_ahead(obj: JSON) -> Callable[[JSON], bytes]:
    """An ``encode`` for :meth:`Store.create`/:meth:`Store.replace` that serializes ``obj`` now
    (in a worker thread, :mod:`kubeapi.offload`; ``obj`` itself is left as it is)
    with a placeholder resourceVersion and, at commit on the loop, only puts the real one in:
    ``dumps(obj)``'s bytes (the commit sets ``metadata.resourceVersion``, which keeps its place
    among the keys or is added last, as in the copy encoded here), without the ~40 ms per 2.5 MB
    that ``json.dumps`` takes. ``obj`` must not change before the commit except for its
    resourceVersion (and its name, which the encoder notices: it then encodes afresh); any other
    object is encoded afresh."""
    meta = obj["metadata"]
    name = meta.get("name")
    raw = dumps({**obj, "metadata": {**meta, "resourceVersion": _RV_PLACEHOLDER}})
    placeholder = dumps(_RV_PLACEHOLDER)

    def encode(o: JSON) -> bytes:
        if o is not obj or o["metadata"].get("name") != name:
            return dumps(o)
        return raw.replace(placeholder, dumps(o["metadata"]["resourceVersion"]), 1)

    return encode


@dataclass(slots=True, frozen=True)
class Stored:
    """A committed object: ``obj`` (never mutated), its JSON ``raw``, its ``rv`` (resourceVersion)."""

    obj: JSON
    raw: bytes
    rv: int


@dataclass(slots=True, frozen=True)
class Change:
    """One write: ``type`` ADDED/MODIFIED/DELETED at ``rv``; ``new`` is the object after the write
    (for DELETED, the last state stamped with the deletion's resourceVersion), ``old`` before it."""

    type: str
    rv: int
    storage: str
    key: str
    new: Stored
    old: Stored | None


class TooOld(Exception):
    """The requested resourceVersion is older than the kept history; ``oldest`` is the first kept one."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class _Collection:
    """The objects of one storage key, with a lazily rebuilt sorted key list."""

    __slots__ = ("_sorted", "objects")

    def __init__(self) -> None:
        self.objects: dict[str, Stored] = {}
        self._sorted: list[str] | None = []

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def put(self, key: str, stored: Stored) -> None:
        if key not in self.objects:
            self._sorted = None
        self.objects[key] = stored

    def pop(self, key: str) -> None:
        del self.objects[key]
        self._sorted = None


Listener = Callable[[Change], None]


class Store:
    """All objects, the resourceVersion counter, the change history and the change listeners.

    ``history_size`` bounds how many changes are kept for watch resumption and snapshot lists.
    Not thread-safe: it is driven from one asyncio event loop, and each method is atomic there.
    """

    def __init__(self, history_size: int = 10_000) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        self.rv = 0
        self.history_size = history_size
        self._collections: dict[str, _Collection] = {}
        self._history: deque[Change] = deque()
        # Changes with rv <= compacted_rv are no longer in the history.
        self.compacted_rv = 0
        self._listeners: list[Listener] = []
        # Listeners of one storage only (watches), by a token of their subscription: a change is
        # not offered to the watches of every other kind, and a watch leaves in O(1).
        self._storage_listeners: dict[str, dict[object, Listener]] = {}

    # -- reads ---------------------------------------------------------------------------------

    def _coll(self, storage: str) -> _Collection:
        c = self._collections.get(storage)
        if c is None:
            c = self._collections[storage] = _Collection()
        return c

    def get(self, storage: str, key: str) -> Stored | None:
        """The current object at ``key``, or None."""
        c = self._collections.get(storage)
        return c.objects.get(key) if c else None

    def count(self, storage: str) -> int:
        """How many objects ``storage`` holds now."""
        c = self._collections.get(storage)
        return len(c.objects) if c else 0

    def scan(
        self, storage: str, prefix: str = "", start: str = "", at: int | None = None
    ) -> Iterator[tuple[str, Stored]]:
        """Objects in key order with keys starting with ``prefix`` and ``>= start``.

        ``at`` (a resourceVersion) reads the state as of then, by undoing later changes; raises
        :class:`TooOld` when the history does not reach back to ``at``.
        """
        keys, objects, lo, hi = self.key_range(storage, prefix, start, at)
        for i in range(lo, hi):
            k = keys[i]
            yield k, objects[k]

    def key_range(
        self, storage: str, prefix: str = "", start: str = "", at: int | None = None
    ) -> tuple[list[str], Mapping[str, Stored], int, int]:
        """(sorted keys, key → object, lo, hi): ``keys[lo:hi]`` are the keys :meth:`scan` yields.

        Lets callers count and slice without iterating (list paging over thousands of objects).
        """
        if at is None or at >= self.rv:
            c = self._coll(storage)
            keys: list[str] = c.sorted_keys()
            objects: Mapping[str, Stored] = c.objects
        else:
            snap = self.snapshot(storage, at)
            keys, objects = sorted(snap), snap
        lo = bisect.bisect_left(keys, max(prefix, start))
        # Keys are ASCII, so every key with the prefix sorts below prefix + U+10FFFF.
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff", lo) if prefix else len(keys)
        return keys, objects, lo, hi

    def snapshot(self, storage: str, at: int) -> dict[str, Stored]:
        """A copy of ``storage``'s key → object map as of resourceVersion ``at``."""
        self.check_reachable(at)
        objects = dict(self._coll(storage).objects)
        for ch in reversed(self._history):
            if ch.rv <= at:
                break
            if ch.storage != storage:
                continue
            if ch.type == ADDED:
                objects.pop(ch.key, None)
            elif ch.old is not None:
                objects[ch.key] = ch.old
        return objects

    def check_reachable(self, rv: int) -> None:
        """Raise :class:`TooOld` unless every change after ``rv`` is still in the history."""
        if rv < self.compacted_rv:
            raise TooOld(rv, self.compacted_rv + 1)

    def changes_since(self, rv: int) -> list[Change]:
        """Changes with resourceVersion > ``rv``, oldest first; raises :class:`TooOld`."""
        self.check_reachable(rv)
        out: list[Change] = []
        for ch in reversed(self._history):
            if ch.rv <= rv:
                break
            out.append(ch)
        out.reverse()
        return out

    # -- writes --------------------------------------------------------------------------------

    def _commit(
        self,
        type_: str,
        storage: str,
        key: str,
        obj: JSON,
        old: Stored | None,
        encode: Callable[[JSON], bytes] = dumps,
    ) -> Stored:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        stored = Stored(obj, encode(obj), self.rv)
        coll = self._coll(storage)
        if type_ == DELETED:
            coll.pop(key)
        else:
            coll.put(key, stored)
        ch = Change(type_, self.rv, storage, key, stored, old)
        self._history.append(ch)
        while len(self._history) > self.history_size:
            self.compacted_rv = self._history.popleft().rv
        for listener in tuple(self._listeners):
            listener(ch)
        of_storage = self._storage_listeners.get(storage)
        if of_storage:
            for listener in tuple(of_storage.values()):
                listener(ch)
        return stored

    def create(self, storage: str, key: str, obj: JSON, encode: Callable[[JSON], bytes] = dumps) -> Stored:
        """Add ``obj`` (the store takes ownership and sets its resourceVersion). Key must be free.

        ``encode`` must give ``dumps(obj)``'s bytes; a caller that has most of them already (a
        multi-MB CRD installed in every new app) passes a faster one."""
        if key in self._coll(storage).objects:
            raise KeyError(key)
        return self._commit(ADDED, storage, key, obj, None, encode)

    def replace(self, storage: str, key: str, obj: JSON, encode: Callable[[JSON], bytes] = dumps) -> Stored:
        """Replace the object at ``key`` with ``obj`` (ownership passes to the store); ``encode``
        as for :meth:`create`."""
        old = self._coll(storage).objects[key]
        return self._commit(MODIFIED, storage, key, obj, old, encode)

    def delete(self, storage: str, key: str) -> Stored:
        """Remove the object at ``key``; return its last state stamped with the deletion's rv."""
        old = self._coll(storage).objects[key]
        obj = {**old.obj, "metadata": dict(old.obj["metadata"])}
        return self._commit(DELETED, storage, key, obj, old)

    # -- listeners -----------------------------------------------------------------------------

    def subscribe(self, listener: Listener, storage: str | None = None) -> Callable[[], None]:
        """Call ``listener(change)`` synchronously after every commit (with ``storage``: after each
        commit to that storage only, after the listeners of every storage); returns the
        unsubscribe function."""
        if storage is not None:
            of_storage = self._storage_listeners.setdefault(storage, {})
            token = object()
            of_storage[token] = listener

            def leave() -> None:
                of_storage.pop(token, None)

            return leave
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe


def object_key(namespace: str | None, name: str) -> str:
    """The store key of an object: ``namespace/name``, or ``name`` when cluster-scoped."""
    return f"{namespace}/{name}" if namespace else name


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str] | None:
    """``metadata.labels`` of a stored object (None when absent)."""
    labels: Mapping[str, str] | None = obj["metadata"].get("labels")
    return labels
