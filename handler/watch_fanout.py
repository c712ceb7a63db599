"""Watch fan-out: identical concurrent watches share one upstream watch, as the apiserver's watch cache does.

The kube-apiserver serves watches from a cache fed by ONE watch on etcd per resource
(k8s.io/apiserver/pkg/storage/cacher: ``cacher.go`` ``Cacher.Watch``, ``watch_cache.go``,
``cache_watcher.go``). The gateway does the same per worker, per upstream identity: a shared
watch is made as one identity (the caller's token in ``passthrough``, the gateway's token plus
one user's ``Impersonate-*`` headers in the impersonating modes, the gateway's own in ``none``;
:attr:`handler.upstream_client.UpstreamIdentity.key`) and only watches made as that identity join
it (:mod:`handler._headers` drops the caller's own ``Authorization``, ``Impersonate-*`` and
``X-Remote-*``), so watches whose upstream requests are identical get identical responses, and
sharing one upstream watch between them crosses no authorization boundary.

Which watches share (:func:`plan`): a GET ``watch`` of a collection whose effective upstream query
(after request rules and forced field selectors) and response-relevant headers are equal once the
per-client parameters are set aside: ``watch``, ``timeoutSeconds``, ``resourceVersion``,
``allowWatchBookmarks`` and ``limit`` (ignored by the apiserver for watches). Only JSON watches
share (``Accept`` absent, ``application/json`` or ``*/*``); protobuf or Table watches,
``sendInitialEvents``, ``resourceVersionMatch`` and ``continue`` keep a dedicated upstream watch,
and so do watches with a field selector the gateway evaluates itself (:mod:`handler.local_selection`).
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
  one gets the upstream's real 410 ``Expired`` ``ERROR`` event. (So an informer's first watch, from
  the resourceVersion of its own list, usually is dedicated; its re-watches, from the last event or
  bookmark it got from the shared stream, share.)
- ``timeoutSeconds``: the subscriber's own timer ends its response cleanly; the upstream watch is
  opened without one.
- ``allowWatchBookmarks``: the shared watch always asks for bookmarks; they are forwarded only to
  subscribers that asked. A subscriber that asked and joined with ``resourceVersion`` unset or
  ``"0"`` gets, after its synthetic ``ADDED`` events, a ``BOOKMARK`` at the state's
  resourceVersion annotated ``k8s.io/initial-events-end: "true"``, as kube-apiserver v1.37 sends on
  such a plain watch (checked against refkube; KEP-3157).
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
import types
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from litestar.types import HTTPResponseBodyEvent, Receive, Send
from pyreqwest.exceptions import RequestError

from handler._headers import caller_response_headers
from handler.metrics import Metrics
from handler.responses import RelayAborted
from handler.upstream_client import UpstreamClient, UpstreamIdentity, read_chunks
from kubeapi.media import parse_accept
from kubeapi.meta import object_key, resource_version
from kubeapi.query import Query, is_false
from kubeapi.status import StatusError
from kubeapi.watchevents import ADDED, dumps, event_line, initial_events_end_event, parse_event

log = logging.getLogger("handler.watch_fanout")

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


@dataclass(frozen=True)
class SharePlan:
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
    """Whether ``Accept`` asks for plain JSON only (absent, ``application/json``, ``*/*``; a ``q``
    weight allowed, any other parameter such as ``as=Table`` not), read as kube-apiserver reads it
    (:func:`kubeapi.media.parse_accept`). A clause goautoneg drops as malformed keeps the watch
    dedicated, so the upstream judges it."""
    if accept is None or not accept.strip():
        return True
    clauses = parse_accept(accept)
    if len(clauses) != accept.count(",") + 1:
        return False
    return all(f"{c.type}/{c.subtype}".lower() in JSON_MEDIA and not c.params for c in clauses)


def plan(
    path: str, query: str | Sequence[tuple[str, str]], headers: Iterable[tuple[str, str]]
) -> SharePlan | None:
    """The :class:`SharePlan` of a collection watch ``path?query`` (raw, or already parsed pairs) with
    upstream ``headers``, or None when it must keep a dedicated upstream watch (see the module
    docstring)."""
    pairs = Query.parse(query).pairs if isinstance(query, str) else query
    names = {k for k, _ in pairs}
    if names & NOT_SHARED:
        return None
    params: dict[str, str] = {}
    for k, v in pairs:
        params.setdefault(k, v)  # the first value counts, as in Go
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
    return SharePlan(
        key=(path, upstream_query, kept_t),
        path=path,
        query=upstream_query,
        headers=kept_t,
        resource_version=params.get("resourceVersion", ""),
        timeout=timeout,
        # Convert_Slice_string_To_bool, as kube-apiserver reads it: any value but 0 / false.
        bookmarks="allowWatchBookmarks" in params and not is_false(params["allowWatchBookmarks"]),
    )


def added_line(obj_raw: bytes) -> bytes:
    """A synthetic ``ADDED`` event line (newline-terminated) for an object's JSON bytes."""
    return event_line(ADDED, obj_raw)


Message = HTTPResponseBodyEvent


@types.coroutine
def _resume(it: Generator[Any, None, Any], first: Any) -> Generator[Any, None, Any]:
    """Finish awaiting an awaitable whose iterator ``it`` already yielded ``first``."""
    try:
        yield first
    except BaseException:
        close = getattr(it, "close", None)
        if close is not None:
            close()
        raise
    return (yield from it)


class Subscriber:
    """One client of a shared watch, written to directly by the fan-out.

    An event is handed to the server's ASGI ``send`` at once when nothing is queued before it; most
    sends complete without suspending (granian takes the bytes at once), so an idle subscriber costs
    no task switch per event. A send that must wait starts a drain task, and later events queue in
    ``backlog`` (``pending`` bytes) until it has written them. ``busy``: a writer owns the
    connection (the request task while it sends the head and initial events, or a drain task).
    ``ended``: no more events will be added (timeout, upstream end, overflow, disconnect);
    ``aborted``: the upstream failed, so the response is cut rather than ended; ``gone``: the
    caller left.
    """

    __slots__ = (
        "aborted",
        "backlog",
        "bookmarks",
        "busy",
        "drainer",
        "ended",
        "entry",
        "finished",
        "gone",
        "limit",
        "overflowed",
        "pending",
        "send",
        "task",
    )

    def __init__(self, bookmarks: bool, limit: int) -> None:
        self.bookmarks = bookmarks
        self.backlog: list[bytes] = []
        self.pending = 0
        self.limit = limit
        self.busy = True  # until the request task has sent the head and the initial events
        self.ended = False
        self.finished = False
        self.overflowed = False
        self.aborted = False
        self.gone = False
        self.send: Send | None = None
        self.task: asyncio.Task[Any] | None = None
        self.drainer: asyncio.Task[None] | None = None
        self.entry: SharedWatch | None = None

    def deliver(self, data: bytes, message: Message) -> None:
        """Write event bytes ``data`` (``message`` is the body message carrying them, shared by all
        subscribers), or queue them behind a pending write; end a subscriber that fell too far behind."""
        if self.ended:
            return
        if not self.busy:
            self._write(message)
            return
        self.backlog.append(data)
        self.pending += len(data)
        # Behind = more than one event waiting and over the limit (one big event alone is not lag).
        if self.pending > self.limit and len(self.backlog) > 1:
            self.overflowed = True
            self.backlog.clear()
            self.pending = 0
            self.end()

    def _write(self, message: Message) -> None:
        """Send ``message`` now; if the send has to wait, a drain task completes it and the backlog."""
        assert self.send is not None
        try:
            it = self.send(message).__await__()
            first = next(it)
        except StopIteration:
            return  # written without suspending: the usual case
        except (OSError, RuntimeError):
            self._lost()
            return
        self.busy = True
        self.drainer = asyncio.ensure_future(self._drain(it, first))

    async def _drain(self, it: Generator[Any, None, Any], first: Any) -> None:
        try:
            await _resume(it, first)
            await self.flush()
        except (OSError, RuntimeError):
            self._lost()

    async def flush(self) -> None:
        """Write the backlog until none is left, then end the response if :attr:`ended`, else hand
        writing back to the fan-out (``busy`` false). Raises OSError/RuntimeError when the caller is gone."""
        assert self.send is not None
        while True:
            if self.backlog:
                data = self.backlog[0] if len(self.backlog) == 1 else b"".join(self.backlog)
                self.backlog = []
                self.pending = 0
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
                continue
            if self.ended:
                self._finish()
            else:
                self.busy = False
            return

    def _finish(self) -> None:
        """Send the last chunk, or cut the response (aborted: the request task is cancelled and raises
        RelayAborted), once."""
        if self.finished or self.gone:
            return
        self.finished = True
        if self.aborted:
            if self.task is not None:
                self.task.cancel()
            return
        self._write({"type": "http.response.body", "body": b"", "more_body": False})

    def end(self) -> None:
        """No more events: the response ends after what is queued (idempotent)."""
        if self.ended:
            return
        self.ended = True
        if self.entry is not None:
            self.entry.leave(self)
        if not self.busy:
            self._finish()

    def _lost(self) -> None:
        """The caller is gone: drop what is queued and leave."""
        self.gone = True
        self.backlog.clear()
        self.pending = 0
        self.end()


class SharedWatch:
    """One upstream list+watch and its subscribers (see the module docstring).

    ``history`` bounds the events kept for resumption (count). :meth:`start` lists and opens the
    watch; it returns False (and the callers use dedicated watches) when either is not a 200.
    """

    def __init__(
        self,
        cache: WatchCache,
        p: SharePlan,
        upstream: UpstreamClient,
        history: int,
        identity: UpstreamIdentity | None = None,
    ) -> None:
        self.cache = cache
        self.plan = p
        self.upstream = upstream
        self.identity = identity
        self.key: tuple[Hashable, ...] = (p.key, identity.key if identity is not None else None)
        self.subscribers: set[Subscriber] = set()
        self.objects: dict[str, bytes] = {}
        self.snapshot: bytes | None = None  # the current objects as ADDED lines, until the next change
        self.history: deque[tuple[str, bytes, bool]] = deque()
        self.history_size = history
        self.positions: dict[str, int] = {}  # resourceVersion → absolute index of its history item
        self.base = 0  # absolute index of history[0]
        self.last_rv = ""
        self.kind = ""  # the watched kind and apiVersion, from the list (for made-up bookmarks)
        self.api_version = ""
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
            resp = await self.upstream.stream(
                "GET",
                p.path,
                p.query,
                self._request_headers(),
                None,
                "shared-watch",
                self.identity,
                retry_enabled=False,
            )
            try:
                if resp.status != 200:
                    return False
                doc = json.loads(b"".join([chunk async for chunk in read_chunks(resp)]))
            finally:
                await resp.aclose()
        except (StatusError, RequestError, ValueError):
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
        self.kind, self.api_version = kind, str(api_version or "")
        for item in items:
            if isinstance(item, dict):
                if kind and "kind" not in item:
                    item = {"kind": kind, "apiVersion": api_version, **item}
                self.objects[object_key(item)] = dumps(item)
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
            opened = await self.upstream.stream(
                "GET",
                self.plan.path,
                q,
                self._request_headers(),
                None,
                "shared-watch",
                self.identity,
                retry_enabled=False,
            )
        except StatusError:
            return None
        resp = opened.upstream
        if resp.status != 200:
            await opened.aclose()
            return None
        self.headers = [
            (k, v)
            for k, v in caller_response_headers(resp.headers.items())
            if k not in (b"content-length", b"date", b"audit-id")
        ]
        return opened, resp

    # -- joining --------------------------------------------------------------------------------

    def join(self, sub: Subscriber, resource_version: str) -> bool:
        """Add ``sub`` with its initial events queued; False when ``resource_version`` is not one this
        shared watch can resume from (the caller then needs a dedicated watch)."""
        if self.closed:
            return False
        if resource_version in ("", "0"):
            if self.snapshot is None:  # built once per state, shared by every joiner until it changes
                # In key order, as the watch cache's sorted store lists them (namespace/name).
                self.snapshot = b"".join(added_line(o) for _, o in sorted(self.objects.items()))
            initial = self.snapshot
            if sub.bookmarks:
                initial += self._initial_events_end()
        else:
            i = self.positions.get(resource_version)
            if i is None or i + 1 < self.base:
                return False
            later = islice(self.history, i + 1 - self.base, None)
            initial = b"".join(line for _, line, bm in later if sub.bookmarks or not bm)
        sub.entry = self
        self.subscribers.add(sub)
        self.cache.metrics.watch_subscribers.inc()
        if initial:
            sub.backlog.append(initial)  # not counted in ``pending``: what is handed over at start is not lag
        return True

    def _initial_events_end(self) -> bytes:
        """The ``BOOKMARK`` line that ends a plain watch's initial ``ADDED`` events."""
        return initial_events_end_event(self.kind, self.api_version, self.last_rv)

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
        event = parse_event(line)
        kind = event.type if event is not None else None
        obj = event.object if event is not None else None
        out = line + b"\n"
        message: Message = {"type": "http.response.body", "body": out, "more_body": True}
        if kind == "ERROR" or not isinstance(obj, dict):
            for sub in list(self.subscribers):
                sub.deliver(out, message)
            return False
        rv = resource_version(obj)
        if kind == "BOOKMARK":
            self._record(rv, out, True)
            for sub in list(self.subscribers):
                if sub.bookmarks:
                    sub.deliver(out, message)
            return True
        for sub in list(self.subscribers):
            sub.deliver(out, message)
        # State and history after the fan-out (no await in between, so no joiner sees a gap).
        key = object_key(obj)
        self.snapshot = None
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = dumps(obj)
        self._record(rv, out, False)
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
                    await cm.aclose()
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
    """The shared watches of one worker, by :attr:`SharePlan.key`; ``buffer_bytes`` bounds each
    subscriber's unsent bytes, ``history`` the events kept per shared watch for resumption."""

    def __init__(self, metrics: Metrics, buffer_bytes: int, history: int) -> None:
        self.metrics = metrics
        self.buffer_bytes = buffer_bytes
        self.history = history
        self.entries: dict[tuple[Hashable, ...], SharedWatch] = {}

    def forget(self, entry: SharedWatch) -> None:
        """Remove a closed shared watch so the next watch opens a new one."""
        if self.entries.get(entry.key) is entry:
            del self.entries[entry.key]
            self.metrics.shared_watches.dec()

    async def subscribe(
        self, p: SharePlan, upstream: UpstreamClient, identity: UpstreamIdentity | None = None
    ) -> Subscriber | None:
        """A subscriber joined to the shared watch of ``p`` made as ``identity`` (None: the
        gateway's; watches made as different identities never share), opened when needed; None when
        this watch needs a dedicated upstream watch (unseen resourceVersion, upstream refused)."""
        key = (p.key, identity.key if identity is not None else None)
        entry = self.entries.get(key)
        if entry is None:
            if p.resource_version not in ("", "0"):
                return None  # no shared history to resume from
            entry = SharedWatch(self, p, upstream, self.history, identity)
            self.entries[key] = entry
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


async def serve(
    sub: Subscriber,
    headers: list[tuple[bytes, bytes]],
    timeout: float | None,
    start: Callable[[int, list[tuple[bytes, bytes]]], Awaitable[None]],
    send: Send,
    receive: Receive,
) -> None:
    """Serve ``sub`` as the response until it ends, its ``timeout`` (seconds) passes or the caller
    disconnects. ``start(status, headers)`` sends the head; ``send`` is the raw ASGI send the events
    are written with. The request's task then only waits for ``http.disconnect`` (granian reports it
    as soon as the response is complete). Raises OSError/RuntimeError when the caller is gone while
    the initial events are written, RelayAborted when the upstream failed."""
    loop = asyncio.get_running_loop()
    sub.send = send
    sub.task = asyncio.current_task()
    timer = loop.call_later(timeout, sub.end) if timeout else None
    try:
        await start(200, headers)
        await send(
            {"type": "http.response.body", "body": b"", "more_body": True}
        )  # the head now, as the apiserver does
        await sub.flush()
        while (await receive())["type"] != "http.disconnect":
            pass
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not sub.aborted or task is None:
            raise
        task.uncancel()
        raise RelayAborted() from None  # too late for a Status: cut the caller's response
    finally:
        if timer is not None:
            timer.cancel()
        if not sub.finished:
            sub.gone = True
        sub.end()
        if sub.drainer is not None:
            sub.drainer.cancel()
