"""Watch fan-out: identical concurrent watches share one upstream watch, as the apiserver's watch cache does.

The kube-apiserver serves watches from a cache fed by ONE watch on etcd per resource
(k8s.io/apiserver/pkg/storage/cacher: ``cacher.go`` ``Cacher.Watch``, ``watch_cache.go``,
``cache_watcher.go``). The gateway does the same per worker: it calls the upstream with its own
credentials (:mod:`handler.headers` drops the caller's ``Authorization``, ``Impersonate-*`` and
``X-Remote-*``), so watches whose upstream requests are identical get identical responses, and
sharing one upstream watch between them crosses no authorization boundary.

Which watches share (:func:`plan`): a GET ``watch`` of a collection whose effective upstream query
(after request rules and forced field selectors) and response-relevant headers are equal once the
per-client parameters are set aside: ``watch``, ``timeoutSeconds``, ``resourceVersion``,
``allowWatchBookmarks`` and ``limit`` (ignored by the apiserver for watches). Only JSON watches
share (``Accept`` absent, ``application/json`` or ``*/*``); protobuf or Table watches,
``sendInitialEvents``, ``resourceVersionMatch`` and ``continue`` keep a dedicated upstream watch,
and so do watches with a field selector the gateway evaluates itself (:mod:`handler.filtering`).
Headers that cannot change the upstream's answer (``User-Agent``, ``Accept-Encoding``: the shared
watch is asked for identity encoding, tracing and forwarding headers) are left out of the key; any
other header is part of it and sent upstream.

One shared watch (:class:`SharedWatch`) is a list then a watch from the list's resourceVersion, as
the cacher's reflector does (``cacher.go`` ``startCaching`` → ``reflector.ListAndWatch``). It keeps
the current objects (``namespace/name`` → the object's JSON bytes, updated from every event) and a
bounded history of the last events with their resourceVersions. Semantics per subscriber, those of
https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch:

- ``resourceVersion`` unset or ``"0"``: synthetic ``ADDED`` events for the current objects, then
  the live events (the cacher's ``getAllEventsSinceLocked`` / ``getIntervalFromStoreLocked``
  "initEvents" from its store).
- a specific ``resourceVersion`` that is the shared watch's start or an event's / bookmark's in the
  history: the later events are replayed, then live ones. resourceVersions are compared for
  equality only (they are opaque). Any other one goes to a dedicated upstream watch, so a too old
  one gets the upstream's real 410 ``Expired`` ``ERROR`` event.
- ``timeoutSeconds``: the subscriber's own timer ends its response cleanly; the upstream watch is
  opened without one.
- ``allowWatchBookmarks``: the shared watch always asks for bookmarks; they are forwarded only to
  subscribers that asked. No "initial-events-end" bookmark is made up: the cacher only annotates
  one for ``sendInitialEvents=true`` (``cacher.go`` ``getBookmarkAfterResourceVersionLockedFunc``),
  which never shares.
- an upstream ``ERROR`` event is forwarded to every subscriber, then every response ends and the
  shared watch is dropped (clients re-watch, as after the apiserver's own ``ERROR``). When the
  upstream ends the watch cleanly (its own timeout) it is re-opened from the last resourceVersion,
  unseen by subscribers, as the reflector re-watches; if that fails, every response ends.
- slow subscribers: each has a bounded buffer (``buffer_bytes``); one whose unsent bytes exceed it
  is ended, as the cacher terminates a watcher whose channel stays full
  (``cache_watcher.go`` ``add`` → "Forcing watcher close due to unresponsiveness"), so it can
  neither stall the others nor grow memory without bound.
- a subscriber's disconnect removes it; the last one leaving closes the upstream watch.

Each event line is relayed as the upstream's bytes, once for all subscribers: fan-out appends the
same ``bytes`` object to every subscriber's buffer without awaiting anyone, and each subscriber's
own request task writes its buffer out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar.types import Receive
from pyreqwest.exceptions import RequestError

from handler.errors import RelayAborted
from handler.headers import caller_response_headers
from handler.metrics import Metrics
from handler.upstream import Upstream

log = logging.getLogger("handler.watchcache")

#: Query parameters that belong to one client, not to the shared upstream watch.
PER_CLIENT = frozenset({"watch", "timeoutSeconds", "resourceVersion", "allowWatchBookmarks", "limit"})
#: Query parameters whose watches are never shared (exact semantics need their own upstream watch).
NOT_SHARED = frozenset({"sendInitialEvents", "resourceVersionMatch", "continue"})
#: Request headers that do not change the upstream's answer to the shared request.
IGNORED_HEADERS = frozenset(
    {
        "accept",  # checked separately: only JSON watches share
        "accept-encoding",  # the shared watch asks for identity encoding
        "user-agent",
        "audit-id",
        "x-request-id",
        "traceparent",
        "tracestate",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "forwarded",
        "via",
        "referer",
        "origin",
        "cache-control",
        "pragma",
        "cookie",
        "accept-language",
        "content-type",
    }
)
JSON_MEDIA = frozenset({"application/json", "*/*", "application/*"})
TRUE = frozenset({"1", "true", "True"})


@dataclass(frozen=True)
class Plan:
    """How one watch request joins a shared watch.

    ``key`` identifies the shared upstream watch (path, normalised query, key headers);
    ``query`` is the upstream query without the per-client parameters; ``headers`` the key headers
    sent upstream; ``resource_version`` the caller's (``""`` when unset); ``timeout`` the caller's
    ``timeoutSeconds`` (seconds, None for none); ``bookmarks`` its ``allowWatchBookmarks``.
    """

    key: tuple[str, str, tuple[tuple[str, str], ...]]
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    resource_version: str
    timeout: float | None
    bookmarks: bool


def _json_accept(accept: str | None) -> bool:
    """Whether ``Accept`` asks for plain JSON only (absent, ``application/json``, ``*/*``)."""
    if accept is None or not accept.strip():
        return True
    for part in accept.split(","):
        media = part.strip().lower()
        if media.split(";", 1)[0].strip() not in JSON_MEDIA or (";" in media and not _only_q(media)):
            return False
    return True


def _only_q(media: str) -> bool:
    """Whether the media range's parameters are only a ``q`` weight (it does not change the format)."""
    return all(p.strip().startswith("q=") for p in media.split(";")[1:])


def plan(path: str, query: str, headers: Iterable[tuple[str, str]]) -> Plan | None:
    """The :class:`Plan` of a collection watch ``path?query`` with upstream ``headers``, or None when
    it must keep a dedicated upstream watch (see the module docstring)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    names = {k for k, _ in pairs}
    if names & NOT_SHARED:
        return None
    params = dict(pairs)
    timeout: float | None = None
    raw_timeout = params.get("timeoutSeconds", "")
    if raw_timeout:
        if not raw_timeout.isdigit():
            return None  # the upstream's own 400 for a malformed value
        timeout = float(raw_timeout) or None
    rest = sorted((k, v) for k, v in pairs if k not in PER_CLIENT)
    accept: str | None = None
    kept: list[tuple[str, str]] = []
    for k, v in headers:
        if k == "accept":
            accept = v if accept is None else accept + "," + v
        elif k not in IGNORED_HEADERS:
            kept.append((k, v))
    if not _json_accept(accept):
        return None
    kept_t = tuple(sorted(kept))
    upstream_query = urlencode(rest)
    return Plan(
        key=(path, upstream_query, kept_t),
        path=path,
        query=upstream_query,
        headers=kept_t,
        resource_version=params.get("resourceVersion", ""),
        timeout=timeout,
        bookmarks=params.get("allowWatchBookmarks", "") in TRUE,
    )


def _object_key(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _resource_version(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return rv if isinstance(rv, str) else ""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def added_line(obj_raw: bytes) -> bytes:
    """A synthetic ``ADDED`` event line (newline-terminated) for an object's JSON bytes."""
    return b'{"type":"ADDED","object":' + obj_raw + b"}\n"


class Subscriber:
    """One client of a shared watch: its unsent bytes and how to wake its writer.

    ``chunks`` are event lines (shared ``bytes`` objects) not yet written; ``pending`` their size.
    ``ended`` says no more will be added (timeout, upstream end, overflow, disconnect);
    ``aborted`` that the upstream failed, so the response must be cut rather than ended.
    """

    __slots__ = (
        "aborted",
        "bookmarks",
        "chunks",
        "ended",
        "entry",
        "limit",
        "overflowed",
        "pending",
        "waiter",
    )

    def __init__(self, bookmarks: bool, limit: int) -> None:
        self.bookmarks = bookmarks
        self.chunks: list[bytes] = []
        self.pending = 0
        self.limit = limit
        self.ended = False
        self.overflowed = False
        self.aborted = False
        self.waiter: asyncio.Future[None] | None = None
        self.entry: SharedWatch | None = None

    def push(self, line: bytes) -> None:
        """Queue ``line``; end the subscriber (and drop its queue) when it falls too far behind."""
        if self.ended:
            return
        self.chunks.append(line)
        self.pending += len(line)
        # Behind = more than one event waiting and over the limit (one big event alone is not lag).
        if self.pending > self.limit and len(self.chunks) > 1:
            self.overflowed = True
            self.chunks.clear()
            self.pending = 0
            self.end()
            return
        self._wake()

    def end(self) -> None:
        """No more events: the writer finishes the response once its queue is written."""
        if not self.ended:
            self.ended = True
            if self.entry is not None:
                self.entry.leave(self)
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def take(self) -> bytes:
        """Everything queued, as one bytes object, and an empty queue."""
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.pending = 0
        return data


class SharedWatch:
    """One upstream list+watch and its subscribers (see the module docstring).

    ``history`` bounds the events kept for resumption (count). :meth:`start` lists and opens the
    watch; it returns False (and the callers use dedicated watches) when either is not a 200.
    """

    def __init__(
        self,
        cache: WatchCache,
        p: Plan,
        upstream: Upstream,
        history: int,
    ) -> None:
        self.cache = cache
        self.plan = p
        self.upstream = upstream
        self.subscribers: set[Subscriber] = set()
        self.objects: dict[str, bytes] = {}
        self.history: deque[tuple[str, bytes, bool]] = deque()
        self.history_size = history
        self.positions: dict[str, int] = {}  # resourceVersion → absolute index of its history item
        self.base = 0  # absolute index of history[0]
        self.last_rv = ""
        self.headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    # -- starting -----------------------------------------------------------------------------

    def _request_headers(self) -> list[tuple[str, str]]:
        return [("accept", "application/json"), *self.plan.headers]

    async def start(self) -> bool:
        """List, then open the upstream watch from the list's resourceVersion; True on success."""
        p = self.plan
        try:
            builder = self.upstream.request("GET", p.path, p.query, self._request_headers())
            resp = await builder.build().send()
            raw = bytes(await resp.bytes())
            if resp.status != 200:
                return False
            doc = json.loads(raw)
        except (RequestError, ValueError):
            return False
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        items = doc.get("items") if isinstance(doc, dict) else None
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if not isinstance(rv, str) or not rv or not isinstance(items, list):
            return False
        # List items may omit kind/apiVersion (built-in kinds do); watch event objects carry them.
        kind = str(doc.get("kind", ""))
        kind = kind[: -len("List")] if kind.endswith("List") else kind
        api_version = doc.get("apiVersion")
        for item in items:
            if isinstance(item, dict):
                if kind and "kind" not in item:
                    item = {"kind": kind, "apiVersion": api_version, **item}
                self.objects[_object_key(item)] = _dumps(item)
        self.last_rv = rv
        self.positions[rv] = -1
        resp_cm = await self._open_watch(rv)
        if resp_cm is None:
            return False
        self.task = asyncio.ensure_future(self._run(resp_cm))
        return True

    async def _open_watch(self, rv: str) -> Any:
        """Open the upstream watch from ``rv``; the entered streamed response, or None when not 200."""
        q = self.plan.query
        q = (q + "&" if q else "") + urlencode(
            [("watch", "1"), ("allowWatchBookmarks", "true"), ("resourceVersion", rv)]
        )
        try:
            cm = self.upstream.request("GET", self.plan.path, q, self._request_headers()).build_streamed()
            resp = await cm.__aenter__()
        except RequestError:
            return None
        if resp.status != 200:
            await cm.__aexit__(None, None, None)
            return None
        self.headers = [
            (k, v)
            for k, v in caller_response_headers(resp.headers.items())
            if k not in (b"content-length", b"date", b"audit-id")
        ]
        return cm, resp

    # -- joining --------------------------------------------------------------------------------

    def join(self, sub: Subscriber, resource_version: str) -> bool:
        """Add ``sub`` with its initial events queued; False when ``resource_version`` is not one this
        shared watch can resume from (the caller then needs a dedicated watch)."""
        if self.closed:
            return False
        if resource_version in ("", "0"):
            initial = b"".join(added_line(o) for o in self.objects.values())
        else:
            i = self.positions.get(resource_version)
            if i is None or i + 1 < self.base:
                return False
            later = islice(self.history, i + 1 - self.base, None)
            initial = b"".join(line for _, line, bm in later if sub.bookmarks or not bm)
        sub.limit += len(initial)  # the backlog handed over at start is not lag
        sub.entry = self
        self.subscribers.add(sub)
        self.cache.metrics.watch_subscribers.inc()
        if initial:
            sub.push(initial)
        return True

    def leave(self, sub: Subscriber) -> None:
        """Remove ``sub``; the last one leaving closes the upstream watch."""
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            self.cache.metrics.watch_subscribers.dec()
            sub.entry = None
        if not self.subscribers:
            self.close()

    def close(self, failed: bool = False) -> None:
        """Drop this shared watch: no new joiners, the upstream watch is cancelled, every subscriber
        ended (``failed``: their responses are cut, as for a dedicated watch whose upstream failed)."""
        if self.closed:
            return
        self.closed = True
        self.cache.forget(self)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        for sub in list(self.subscribers):
            sub.aborted = failed
            sub.end()

    # -- the upstream stream -----------------------------------------------------------------------

    def _record(self, rv: str, line: bytes, bookmark: bool) -> None:
        if not rv:
            return
        self.history.append((rv, line, bookmark))
        self.positions[rv] = self.base + len(self.history) - 1
        self.last_rv = rv
        while len(self.history) > self.history_size:
            old_rv, _, _ = self.history.popleft()
            if self.positions.get(old_rv) == self.base:
                del self.positions[old_rv]
            self.base += 1

    def _event(self, line: bytes) -> bool:
        """Fan one event line out; False after an ``ERROR`` (the shared watch must end)."""
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        kind = event.get("type") if isinstance(event, dict) else None
        obj = event.get("object") if isinstance(event, dict) else None
        out = line + b"\n"
        if kind == "ERROR" or not isinstance(obj, dict):
            for sub in list(self.subscribers):
                sub.push(out)
            return False
        rv = _resource_version(obj)
        if kind == "BOOKMARK":
            self._record(rv, out, True)
            for sub in list(self.subscribers):
                if sub.bookmarks:
                    sub.push(out)
            return True
        key = _object_key(obj)
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = _dumps(obj)
        self._record(rv, out, False)
        for sub in list(self.subscribers):
            sub.push(out)
        return True

    async def _run(self, opened: tuple[Any, Any]) -> None:
        """Read the upstream watch and fan its events out; re-open it after a clean end."""
        failed = False
        try:
            while True:
                cm, resp = opened
                clean = False
                try:
                    clean = await self._pump(resp)
                except RequestError as e:
                    log.warning("shared watch of %s failed mid-stream: %s", self.plan.path, e)
                    failed = True
                finally:
                    await cm.__aexit__(None, None, None)
                if not clean or self.closed or not self.subscribers:
                    return
                reopened = await self._open_watch(self.last_rv)
                if reopened is None:
                    return
                opened = reopened
        finally:
            self.close(failed)

    async def _pump(self, resp: Any) -> bool:
        """Relay one upstream watch response; True when it ended without an ``ERROR``."""
        reader = resp.body_reader
        pending = b""
        while True:
            chunk = await reader.read_chunk()
            if chunk is None:
                return not pending.strip() or self._event(pending.strip())
            pending += bytes(chunk)
            if b"\n" not in pending:
                continue
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip() and not self._event(line.strip()):
                    return False


class WatchCache:
    """The shared watches of one worker, by :attr:`Plan.key`; ``buffer_bytes`` bounds each
    subscriber's unsent bytes, ``history`` the events kept per shared watch for resumption."""

    def __init__(self, metrics: Metrics, buffer_bytes: int, history: int) -> None:
        self.metrics = metrics
        self.buffer_bytes = buffer_bytes
        self.history = history
        self.entries: dict[tuple[str, str, tuple[tuple[str, str], ...]], SharedWatch] = {}

    def forget(self, entry: SharedWatch) -> None:
        """Remove a closed shared watch so the next watch opens a new one."""
        if self.entries.get(entry.plan.key) is entry:
            del self.entries[entry.plan.key]
            self.metrics.shared_watches.dec()

    async def subscribe(self, p: Plan, upstream: Upstream) -> Subscriber | None:
        """A subscriber joined to the shared watch of ``p`` (opened when needed), or None when this
        watch needs a dedicated upstream watch (unseen resourceVersion, upstream refused)."""
        entry = self.entries.get(p.key)
        if entry is None:
            if p.resource_version not in ("", "0"):
                return None  # no shared history to resume from
            entry = SharedWatch(self, p, upstream, self.history)
            self.entries[p.key] = entry
            self.metrics.shared_watches.inc()
            try:
                ok = await entry.start()
            except BaseException:
                entry.ready.set_result(False)
                entry.close()
                raise
            entry.ready.set_result(ok)
            if not ok:
                entry.close()
                return None
        elif not await asyncio.shield(entry.ready):
            return None
        sub = Subscriber(p.bookmarks, self.buffer_bytes)
        if not entry.join(sub, p.resource_version):
            return None
        return sub


Send = Callable[[bytes, bool], Awaitable[None]]


async def serve(
    sub: Subscriber,
    headers: list[tuple[bytes, bytes]],
    timeout: float | None,
    start: Callable[[int, list[tuple[bytes, bytes]]], Awaitable[None]],
    body: Send,
    receive: Receive,
) -> None:
    """Write ``sub``'s events as the response until it ends, its ``timeout`` (seconds) passes or the
    caller disconnects. ``start``/``body`` send the head and body chunks (``body(data, more)``).
    Raises what ``body`` raises when the caller is gone, RelayAborted when the upstream failed."""
    loop = asyncio.get_running_loop()
    timer = loop.call_later(timeout, sub.end) if timeout else None
    gone = False

    async def disconnected() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        sub.end()

    watcher = asyncio.ensure_future(disconnected())
    try:
        await start(200, headers)
        await body(b"", True)  # flush the head now, as the apiserver does for a watch
        while True:
            if sub.chunks:
                await body(sub.take(), True)
                continue
            if sub.ended:
                break
            sub.waiter = loop.create_future()
            await sub.waiter
            sub.waiter = None
        if sub.aborted:
            raise RelayAborted()  # too late for a Status: cut the caller's response
        if not gone:
            await body(b"", False)
    finally:
        if timer is not None:
            timer.cancel()
        watcher.cancel()
        sub.end()
