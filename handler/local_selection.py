"""Lists and watches with field selectors the gateway evaluates itself (see :mod:`handler.field_selectors`).

Lists: the upstream is read page by page (``limit`` = :func:`page_size`, with the selector terms it
supports), each page's items are matched one by one and written to the caller as they are found,
so a huge collection is never held whole. The caller gets up to its ``limit`` matching items and,
when more may follow, a ``metadata.continue`` token of the gateway's own that resumes exactly
after the last item returned: it records the upstream continue token of the page that item came
from and the item's key (``namespace/name``), and resuming re-reads that page and skips up to and
including the key. The list's ``metadata`` is written after its items (JSON member order carries no
meaning), ``remainingItemCount`` is omitted (unknown without reading everything).

Watches: the upstream watch (with the supported terms) is relayed event by event; the gateway
remembers which objects matched and rewrites events as the API server's watch cache does for
selectors (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go ``convertToWatchEvent``): an object
that starts matching arrives as ``ADDED``, one that stops matching as ``DELETED``, events of
objects that never matched are dropped; ``BOOKMARK`` and ``ERROR`` pass through. An object first
seen by a modification that does not match is reported ``DELETED`` once (the gateway cannot know
whether the caller's list held it), which a client ignores for an object it does not have. That
case is avoided when the watch starts from a resourceVersion the upstream can still list at: the
gateway then first reads which objects matched at that version (:func:`seed`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pyreqwest.exceptions import RequestError

from handler._headers import caller_response_headers
from handler.backends import upstream_passthrough
from handler.field_selectors import matches
from handler.request import GatewayRequest
from handler.responses import JSON_HEADERS, RelayAborted, Response, UpstreamResponse
from kubeapi import media
from kubeapi.fields import FieldRequirement
from kubeapi.meta import object_key
from kubeapi.query import Query
from kubeapi.status import StatusError, from_status_object, new_bad_request
from kubeapi.types import JSON
from kubeapi.watchevents import OBJECT_EVENT_TYPES, encode_event, parse_event

#: Upstream page size bounds (items): at least the caller's limit, within these.
MIN_PAGE = 500
MAX_PAGE = 5000
TOKEN_VERSION = "kuberay-apiserver/fs1"

FetchPage = Callable[[str], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Shape:
    """Where the objects sit in what the caller asked for: a plain list (``items``, events carrying
    the object) or, for ``Accept: application/json;as=Table;...`` (kubectl), a ``Table`` (``rows``,
    each row's ``object``; watch events carrying a one-row Table).

    For tables the upstream is asked for ``includeObject=Object`` so the gateway can match the
    objects, and each row given to the caller is reduced to its ``includeObject`` choice
    (``Metadata`` by default: a ``PartialObjectMetadata``; ``None``: no object), as the API server
    would (k8s.io/apiserver/pkg/endpoints/handlers/response.go ``transformObject``).
    """

    table: bool = False
    include: str = "Metadata"

    @classmethod
    def for_request(cls, accept: str, pairs: Sequence[tuple[str, str]]) -> Shape:
        """The shape of a request with ``Accept: accept`` and query ``pairs``."""
        if not media.asks_for_table(accept):
            return cls()
        include = next((v for k, v in pairs if k == "includeObject" and v), "Metadata")
        return cls(True, include)

    def upstream_params(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The query ``pairs`` to send upstream (tables ask for the whole objects)."""
        if not self.table:
            return pairs
        return [*[(k, v) for k, v in pairs if k != "includeObject"], ("includeObject", "Object")]

    @property
    def items_key(self) -> str:
        """The list member holding the entries."""
        return "rows" if self.table else "items"

    def subject(self, entry: Any) -> Any:
        """The object of a list entry (a row's ``object`` for tables)."""
        return entry.get("object") if self.table and isinstance(entry, dict) else entry

    def present(self, entry: Any) -> Any:
        """A matching entry as the caller asked for it."""
        if not self.table or not isinstance(entry, dict) or self.include == "Object":
            return entry
        row = dict(entry)
        obj = row.get("object")
        if self.include == "None":
            row.pop("object", None)
        elif isinstance(obj, dict):
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        return row

    def head(self, doc: JSON) -> JSON:
        """The members written before the entries."""
        if self.table:
            return {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "columnDefinitions": doc.get("columnDefinitions", []),
            }
        return {"kind": doc.get("kind", "List"), "apiVersion": doc.get("apiVersion", "v1")}

    def event_subject(self, obj: Any) -> Any:
        """The object of a watch event's ``object`` (the single row's object for tables)."""
        if self.table and isinstance(obj, dict) and obj.get("kind") == "Table":
            rows = obj.get("rows")
            return self.subject(rows[0]) if isinstance(rows, list) and rows else None
        return obj

    def event_present(self, obj: Any) -> Any:
        """A watch event's ``object`` as the caller asked for it."""
        if self.table and isinstance(obj, dict) and isinstance(obj.get("rows"), list):
            return {**obj, "rows": [self.present(r) for r in obj["rows"]]}
        return obj


def page_size(limit: int | None) -> int:
    """Upstream ``limit`` used for a caller ``limit`` (None: no limit)."""
    return min(max(limit or 0, MIN_PAGE), MAX_PAGE)


def encode_token(upstream_continue: str, key: str, resource_version: str, page: int) -> str:
    """The gateway's continue token (URL-safe base64 of a small JSON object)."""
    doc = {"v": TOKEN_VERSION, "c": upstream_continue, "k": key, "rv": resource_version, "p": page}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> JSON:
    """Decode a token from :func:`encode_token`; StatusError 400 (as the API server's
    ``continue key is not valid``) for anything else."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        if isinstance(doc, dict) and doc.get("v") == TOKEN_VERSION and isinstance(doc.get("k"), str):
            return doc
    except (ValueError, TypeError):
        pass
    raise StatusError(
        400, "BadRequest", "continue key is not valid: not a continue token of this field selector list"
    )


def _skip_to(items: list[Any], after: str) -> int:
    """Index of the first item after key ``after``: just past it when present, else the first
    item whose key sorts after it (items are in key order, as etcd returns them)."""
    for i, item in enumerate(items):
        if object_key(item) == after:
            return i + 1
    return next((i for i, item in enumerate(items) if object_key(item) > after), len(items))


async def serve_list(
    query: str,
    upstream_selector: str,
    terms: Sequence[FieldRequirement],
    shape: Shape,
    fetch: FetchPage,
) -> Response:
    """Answer a list request filtered by ``terms``; ``fetch(query)`` GETs one upstream page.

    ``query`` is the caller's raw query string (already adapted with :meth:`Shape.upstream_params`),
    ``shape`` the list's shape (plain or Table). Returns a 200 response whose body streams the
    matching items page by page. Raises StatusError before the response starts (bad ``limit`` /
    ``continue``, upstream error on the first page); the body raises RelayAborted after.
    """
    q = Query.parse(query)
    pairs = q.pairs
    try:
        limit = q.int("limit")  # ListOptions' ParseInt, as the upstream reads it
    except ValueError as e:
        raise new_bad_request(str(e)) from None
    limit = limit if limit is not None and limit > 0 else None
    raw_continue = q.get("continue")
    token = decode_token(raw_continue) if raw_continue else None
    page = int(token["p"]) if token else page_size(limit)
    dropped = {"fieldSelector", "limit", "continue"}
    if token:
        dropped |= {"resourceVersion", "resourceVersionMatch"}
    base = [(k, v) for k, v in pairs if k not in dropped]
    if upstream_selector:
        base.append(("fieldSelector", upstream_selector))
    base.append(("limit", str(page)))
    upstream_continue = str(token["c"]) if token else ""

    def page_query(token: str) -> str:
        return urlencode([*base, *([("continue", token)] if token else [])])

    status, doc = await fetch(page_query(upstream_continue))
    if status != 200 or not isinstance(doc, dict):
        raise from_status_object(status, doc, f"the upstream answered {status}")
    body = _list_body(doc, fetch, page_query, terms, shape, limit, token, upstream_continue, page)
    return Response(200, JSON_HEADERS, body)


async def _list_body(
    doc: JSON,
    fetch: FetchPage,
    page_query: Callable[[str], str],
    terms: Sequence[FieldRequirement],
    shape: Shape,
    limit: int | None,
    token: JSON | None,
    upstream_continue: str,
    page: int,
) -> AsyncIterator[bytes]:
    """The chunks of a filtered list whose first upstream page is ``doc`` (see :func:`serve_list`)."""
    after: str | None = str(token["k"]) if token else None
    resource_version = str(token["rv"]) if token else ""
    emitted = 0
    next_token = ""
    first = True
    while True:
        if not first:
            try:
                status, fetched = await fetch(page_query(upstream_continue))
            except StatusError:
                raise RelayAborted() from None
            if status != 200 or not isinstance(fetched, dict):
                raise RelayAborted()
            doc = fetched
        if shape.table and doc.get("kind") != "Table":
            shape = Shape()  # the upstream answered the JSON fallback of the caller's Accept
        raw_meta, raw_items = doc.get("metadata"), doc.get(shape.items_key)
        meta: JSON = raw_meta if isinstance(raw_meta, dict) else {}
        if first:
            resource_version = resource_version or str(meta.get("resourceVersion", ""))
            head = json.dumps(shape.head(doc), separators=(",", ":"))[:-1].encode()
            yield head + f',"{shape.items_key}":['.encode()
            first = False
        items: list[Any] = raw_items if isinstance(raw_items, list) else []
        subjects = [shape.subject(item) for item in items]
        start = _skip_to(subjects, after) if after is not None else 0
        after = None
        page_continue = str(meta.get("continue") or "")
        for i in range(start, len(items)):
            if not matches(terms, subjects[i]):
                continue
            prefix = b"," if emitted else b""
            yield prefix + json.dumps(shape.present(items[i]), separators=(",", ":")).encode()
            emitted += 1
            if limit is not None and emitted >= limit:
                if i < len(items) - 1 or page_continue:
                    next_token = encode_token(
                        upstream_continue, object_key(subjects[i]), resource_version, page
                    )
                break
        else:
            if page_continue:
                upstream_continue = page_continue
                continue
        break
    list_meta: JSON = {"resourceVersion": resource_version}
    if next_token:
        list_meta["continue"] = next_token
    yield b'],"metadata":' + json.dumps(list_meta, separators=(",", ":")).encode() + b"}"


class WatchFilter:
    """Rewrites watch events for a gateway-evaluated selector (see the module docstring)."""

    def __init__(
        self,
        terms: Sequence[FieldRequirement],
        shape: Shape | None = None,
        known: dict[str, bool] | None = None,
    ) -> None:
        self.terms = list(terms)
        self.shape = shape or Shape()
        # key → whether it matched; ``known`` is the state at the watch's starting resourceVersion
        # (see :func:`seed`), after which an unknown key is one the caller cannot have listed.
        self.matched: dict[str, bool] = dict(known or {})
        self.seeded = known is not None

    def event(self, line: bytes) -> bytes | None:
        """The event line to send for upstream event ``line`` (JSON), or None to drop it."""
        event = parse_event(line)
        if event is None or event.type not in OBJECT_EVENT_TYPES:
            return line  # not ours to judge (BOOKMARK, ERROR, not JSON): relay as is
        obj = event.object
        subject = self.shape.event_subject(obj)
        key = object_key(subject)
        now = matches(self.terms, subject)
        before = self.matched.get(key)
        kind = event.type
        if kind == "DELETED":
            self.matched.pop(key, None)
            out = "DELETED" if (now or before) else None
        else:
            self.matched[key] = now
            if now:
                out = "MODIFIED" if kind == "MODIFIED" and before else "ADDED"
            else:
                was = before if before is not None else not self.seeded
                out = "DELETED" if kind == "MODIFIED" and was else None
        if out is None:
            return None
        return encode_event(out, self.shape.event_present(obj))[:-1]  # the caller adds the newline


async def seed(
    query: str, upstream_selector: str, terms: Sequence[FieldRequirement], fetch: FetchPage
) -> dict[str, bool] | None:
    """Which objects matched ``terms`` at the resourceVersion a watch starts from, or None.

    For a watch with ``resourceVersion=R`` (not ``0``), the caller listed at R: the objects are
    read page by page with ``resourceVersion=R&resourceVersionMatch=Exact`` (the API server serves
    such lists from its storage snapshot) and only their keys and match results are kept. None when
    the watch has no such starting point or the upstream cannot list at R (410 Expired, or an
    upstream without exact lists): the filter then works without the initial state.
    """
    q = Query.parse(query)
    pairs = q.pairs
    rv = q.get("resourceVersion") or ""
    if not rv or rv == "0" or q.bool("sendInitialEvents"):
        return None
    base = [(k, v) for k, v in pairs if k == "labelSelector"]
    if upstream_selector:
        base.append(("fieldSelector", upstream_selector))
    base += [("resourceVersion", rv), ("resourceVersionMatch", "Exact"), ("limit", str(MAX_PAGE))]
    known: dict[str, bool] = {}
    token = ""
    while True:
        status, doc = await fetch(urlencode([*base, *([("continue", token)] if token else [])]))
        if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            return None
        for item in doc["items"]:
            known[object_key(item)] = matches(terms, item)
        meta = doc.get("metadata")
        token = str(meta.get("continue") or "") if isinstance(meta, dict) else ""
        if not token:
            return known
        # Later pages come from the same snapshot through the continue token alone.
        base = [(k, v) for k, v in base if k not in ("resourceVersion", "resourceVersionMatch")]


def relay_watch(
    resp: UpstreamResponse,
    terms: Sequence[FieldRequirement],
    shape: Shape,
    known: dict[str, bool] | None = None,
) -> Response:
    """The upstream watch response ``resp`` relayed through a WatchFilter, as a streamed response.

    ``known`` is the match state at the watch's start (:func:`seed`), None when unknown. A non-200
    answer is relayed unchanged. The body raises RelayAborted when the upstream fails mid-stream.
    """
    upstream = resp.upstream
    headers = [(k, v) for k, v in caller_response_headers(upstream.headers.items()) if k != b"content-length"]
    filt = WatchFilter(terms, shape, known) if upstream.status == 200 else None
    return Response(upstream.status, headers, _filtered_events(resp, filt), True, resp.aclose)


async def _filtered_events(resp: UpstreamResponse, filt: WatchFilter | None) -> AsyncIterator[bytes]:
    reader = resp.upstream.body_reader
    pending = b""
    while True:
        try:
            chunk = await reader.read_chunk()
        except RequestError as e:
            raise RelayAborted() from e
        if chunk is None:
            break
        data = bytes(chunk)
        if filt is None:
            yield data
            continue
        pending += data
        *lines, pending = pending.split(b"\n")
        out = [e for e in (filt.event(line) for line in lines if line.strip()) if e is not None]
        if out:
            yield b"\n".join(out) + b"\n"
    if pending.strip() and filt is not None:
        last = filt.event(pending)
        if last is not None:
            yield last + b"\n"


def _upstream_shape(request: GatewayRequest) -> tuple[str, Shape, list[tuple[str, str]]]:
    """``(Accept, the response Shape, the query pairs to send upstream without fieldSelector)`` of a
    locally filtered list or watch."""
    accept = request.header("accept") or "application/json"
    pairs = request.params.pairs
    shape = Shape.for_request(accept, pairs)
    return accept, shape, shape.upstream_params([(k, v) for k, v in pairs if k != "fieldSelector"])


async def filtered_list(
    request: GatewayRequest, upstream_selector: str, terms: Sequence[FieldRequirement]
) -> Response:
    """A Ray list whose field selector has local ``terms``: the upstream pages (with the
    ``upstream_selector`` terms it supports) filtered by the gateway (:func:`serve_list`)."""
    accept, shape, upstream_pairs = _upstream_shape(request)

    async def page(q: str) -> tuple[int, Any]:
        return await request.get_json(request.path, q, accept)

    return await serve_list(urlencode(upstream_pairs), upstream_selector, terms, shape, page)


async def filtered_watch(
    request: GatewayRequest, upstream_selector: str, terms: Sequence[FieldRequirement]
) -> Response:
    """A Ray watch whose field selector has local ``terms``: the upstream watch (with the
    ``upstream_selector`` terms) relayed through a :class:`WatchFilter` seeded by :func:`seed`."""
    _, shape, upstream_pairs = _upstream_shape(request)

    async def listing(q: str) -> tuple[int, Any]:
        return await request.get_json(request.path, q)

    known = await seed(request.query, upstream_selector, terms, listing)
    if upstream_selector:
        upstream_pairs.append(("fieldSelector", upstream_selector))
    request.query = urlencode(upstream_pairs)
    return relay_watch(await upstream_passthrough(request), terms, shape, known)
