"""Response bodies: objects as served (stored JSON reused when nothing differs), list items,
``Table`` output (``meta.k8s.io/v1`` Table for ``Accept: application/json;as=Table;...``,
``k8s.io/apiserver/pkg/endpoints/handlers/response.go`` ``transformResponseObject``).
"""

from __future__ import annotations

from collections.abc import Callable

from fakekube._endpoints.asgi import Request, Send, respond, respond_json
from fakekube._registry import objects, tables
from fakekube._resources import ResourceType
from fakekube._storage.store import Stored, dumps
from kubeapi import media
from kubeapi.types import JSON


def _stored_raw(s: Stored) -> bytes:
    return s.raw


#: id(rt) → (rt, its converting render): one function per served version, kept with its
#: ResourceType so the id cannot be reused while the entry lives.
_converted: dict[int, tuple[ResourceType, Callable[[Stored], bytes]]] = {}


def render(rt: ResourceType) -> Callable[[Stored], bytes]:
    """The JSON of stored objects as ``rt`` serves them: the cached bytes, or converted per
    served version (shared storage or another stored version). The same function for every
    call with ``rt`` (one for all kinds served as stored), so watches of one kind can share the
    event line a change produces (:mod:`fakekube._storage.watchers`)."""
    if not rt.converted:
        return _stored_raw
    entry = _converted.get(id(rt))
    if entry is None or entry[0] is not rt:

        def one(s: Stored) -> bytes:
            return dumps(objects.from_storage(rt, s.obj))

        entry = _converted[id(rt)] = (rt, one)
    return entry[1]


def list_item_render(rt: ResourceType) -> Callable[[Stored], bytes]:
    """List items: custom resources as stored; built-in kinds without ``kind``/``apiVersion``
    (typed lists leave them out of their items)."""
    if rt.custom:
        return render(rt)
    return lambda s: dumps(without_type_meta(objects.from_storage(rt, s.obj)))


def without_type_meta(obj: JSON) -> JSON:
    """``obj`` without ``kind`` and ``apiVersion``."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def table_render(rt: ResourceType, include_object: str) -> Callable[[Stored], bytes]:
    """Watch event objects as one-row Tables; only the first carries the column definitions
    (as the apiserver's watch encoder for Table output does)."""
    first = True

    def one(s: Stored) -> bytes:
        nonlocal first
        tbl = tables.table(
            rt, [objects.from_storage(rt, s.obj)], {"resourceVersion": str(s.rv)}, include_object
        )
        if not first:
            tbl["columnDefinitions"] = None
        first = False
        return dumps(tbl)

    return one


def include_object(req: Request) -> str:
    """The ``includeObject`` parameter of a Table request (``Metadata`` when absent)."""
    value = req.query.get("includeObject")
    return "Metadata" if value is None else value


def wants_table(req: Request) -> bool:
    """Whether the client asked for ``Table`` output."""
    return media.asks_for_table(req.headers.get("accept"))


async def send_object(
    req: Request, send: Send, rt: ResourceType, obj: Stored | JSON, code: int = 200
) -> None:
    """Answer with one object: a stored one as served (or as a one-row Table when asked for), an
    unstored one (a dry run's, a deleted one's) converted to the served form."""
    if not isinstance(obj, Stored):
        await respond(send, code, dumps(objects.from_storage(rt, obj)))
        return
    if wants_table(req):
        tbl = tables.table(
            rt,
            [objects.from_storage(rt, obj.obj)],
            {"resourceVersion": str(obj.rv)},
            include_object(req),
        )
        await respond_json(send, code, tbl)
        return
    await respond(send, code, render(rt)(obj))
