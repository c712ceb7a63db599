"""One handler per verb: get, list, watch, create, update, patch (and apply), delete,
deletecollection, and the Service proxy.

Each is ``async def VERB(api, req, send, t)``: ``api`` is the :class:`Api` (storage, served kinds,
registry, settings), ``req`` the :class:`~fakekube._endpoints.asgi.Request`, ``t`` the resolved
:class:`~fakekube._endpoints.routing.Target`. They are ``k8s.io/apiserver/pkg/endpoints/handlers``
(``get.go``, ``create.go``, ``update.go``, ``patch.go``, ``delete.go``, ``watch.go``): read the
request's options and body in the apiserver's order (413 first, then the options, then the
body's content), call the generic store (:class:`fakekube._registry.generic.GenericStore`) and
render its answer. :data:`HANDLERS` maps each verb to its handler.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fakekube import _apierrors as errors
from fakekube._endpoints import decoding, options, podlog, rendering, serviceproxy
from fakekube._endpoints.asgi import Request, Send, respond, respond_json
from fakekube._endpoints.routing import Target
from fakekube._registry import apply as server_side_apply
from fakekube._registry import managedfields, objects, patch, scale, tables
from fakekube._registry.generic import GenericStore, Registry, Stale
from fakekube._registry.kinds import ServedKinds
from fakekube._registry.strategy import WriteContext
from fakekube._resources import ResourceType
from fakekube._storage import versioning
from fakekube._storage.podlogs import PodLogs
from fakekube._storage.store import Store, Stored, dumps, encode_ahead
from fakekube._storage.watchers import WatchStream
from kubeapi import offload
from kubeapi.status import StatusError
from kubeapi.types import JSON

_PATCH_TYPES_CUSTOM = [patch.JSON_PATCH, patch.MERGE]
_PATCH_TYPES_CORE = [patch.JSON_PATCH, patch.MERGE, patch.STRATEGIC]


@dataclass
class Api:
    """What the handlers work with: ``storage``, the served ``kinds``, the ``registry`` of generic
    stores, ``service_backends`` (``"NS/NAME[:PORT]"`` → base URL, for the Service proxy; may be
    changed while serving), ``bookmark_interval`` and ``watch_timeout`` (seconds),
    ``pod_logs`` (the containers' logs ``pods/log`` reads) and ``local_backends`` (in-process
    Service proxy backends, asked before ``service_backends``: see
    :data:`fakekube._endpoints.serviceproxy.LocalBackend`)."""

    storage: Store
    kinds: ServedKinds
    registry: Registry
    service_backends: dict[str, str] = field(default_factory=dict)
    bookmark_interval: float = 60.0
    watch_timeout: float = 1800.0
    pod_logs: PodLogs = field(default_factory=PodLogs)
    local_backends: list[serviceproxy.LocalBackend] = field(default_factory=list)


def write_context(req: Request, dry_run: bool) -> WriteContext:
    """The :class:`WriteContext` of a write request (its warnings go to the response's headers)."""
    return WriteContext(
        manager=managedfields.manager_name(req.query.get("fieldManager"), req.headers.get("user-agent", "")),
        field_validation=req.query.get("fieldValidation", "") or "",
        dry_run=dry_run,
        warnings=req.warnings,
    )


async def _read_object(req: Request, rt: ResourceType) -> JSON:
    """The body decoded into storage form; a large one in a worker thread (:mod:`.offload`)."""
    body = await req.body()
    return await offload.run(len(body), _decode, rt, body, req.content_type)


def _decode(rt: ResourceType, body: bytes, content_type: str) -> JSON:
    return objects.to_storage(rt, decoding.decode(rt, body, content_type))


def _name_mismatch(body_name: str, url_name: str | None) -> StatusError:
    """400 for a body whose ``metadata.name`` differs from the URL's (handlers/rest.go checkName)."""
    return errors.bad_request(
        f"the name of the object ({body_name}) does not match the name on the URL ({url_name})"
    )


def _store(api: Api, t: Target) -> GenericStore:
    return api.registry.store(t.rt)


def _existing(api: Api, t: Target) -> Stored:
    assert t.name is not None
    return _store(api, t).get(t.namespace, t.name)


# -- reads -------------------------------------------------------------------------------------


async def get(api: Api, req: Request, send: Send, t: Target) -> None:
    """GET of one object (or its ``/status``, its ``Scale``, or a Pod's ``log``)."""
    if t.sub == "log":
        await podlog.pod_log(_existing(api, t).obj, api.pod_logs, req, send)
        return
    if t.sub == "scale":
        await respond_json(send, 200, scale.to_scale(t.rt, _existing(api, t).obj))
        return
    await rendering.send_object(req, send, t.rt, _existing(api, t))


async def list_(api: Api, req: Request, send: Send, t: Target) -> None:
    """GET of a collection: one page, as JSON or a Table."""
    rt = t.rt
    opts = options.list_options(req, rt)
    page = _store(api, t).list(
        options.key_prefix(t, opts.fields),
        opts.labels,
        opts.fields,
        opts.limit,
        opts.at,
        opts.start,
        opts.continuing,
    )
    meta: JSON = {}
    if page.more or rt.custom:
        # Custom resource lists (unstructured) always carry "continue", even when empty.
        meta["continue"] = page.continue_token
    if page.more and opts.labels.empty and opts.fields.empty:
        meta["remainingItemCount"] = page.remaining
    meta["resourceVersion"] = str(page.resource_version)
    if rendering.wants_table(req):
        if not page.more:
            meta.pop("continue", None)  # a Table's ListMeta omits an empty continue
        served = (objects.from_storage(rt, s.obj) for s in page.items)
        await respond_json(send, 200, tables.table(rt, served, meta, rendering.include_object(req)))
        return
    one = rendering.list_item_render(rt)
    head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
    body = head[:-1] + b',"items":[' + b",".join(one(s) for s in page.items) + b"]}"
    await respond(send, 200, body)


async def watch(api: Api, req: Request, send: Send, t: Target) -> None:
    """A watch: events streamed until ``timeoutSeconds`` (else ``api.watch_timeout``) or the
    client goes away (:mod:`fakekube._storage.watchers`)."""
    rt = t.rt
    labels, fields = options.selectors(req, rt)
    rv = req.query.get("resourceVersion", "") or ""
    if rv:
        versioning.parse_resource_version(rv)
    timeout_s = options.int_param(req, "timeoutSeconds")
    timeout = float(timeout_s) if timeout_s is not None else api.watch_timeout
    bookmarks = req.flag("allowWatchBookmarks")
    one = rendering.render(rt)
    if rendering.wants_table(req):
        one = rendering.table_render(rt, rendering.include_object(req))
    stream = WatchStream(api.storage, rt, options.key_prefix(t, fields), labels, fields, one)
    stream.start(rv, req.flag("sendInitialEvents"), bookmarks)

    async def disconnected() -> None:
        while True:
            msg = await req.receive()
            if msg["type"] == "http.disconnect":
                stream.stop()
                return

    watcher = asyncio.ensure_future(disconnected())
    try:
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # An empty chunk makes the server flush the headers now, as the apiserver does, so a
        # client that waits for them before writing does not block until the first event.
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        async for line in stream.lines(timeout, api.bookmark_interval if bookmarks else None):
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (OSError, RuntimeError, asyncio.CancelledError):
        pass  # the client went away mid-stream; nothing more to send
    finally:
        stream.close()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


# -- writes ------------------------------------------------------------------------------------


async def create(api: Api, req: Request, send: Send, t: Target) -> None:
    """POST of a new object (201)."""
    await req.body()  # 413 comes first, then the options, then the body's content
    dry = options.write_options(req, "CreateOptions")
    obj = await _read_object(req, t.rt)
    store, ctx, size = _store(api, t), write_context(req, dry), len(await req.body())
    name = obj["metadata"].get("name") or ""
    store.admission.admit_create(t.rt, t.namespace, name)
    if size < offload.OFFLOAD_BYTES:
        result = store.commit_create(ctx, t.namespace, store.prepare_create(ctx, t.namespace, obj))
    else:
        obj, encode = await asyncio.to_thread(_prepare_create, store, ctx, t.namespace, obj)
        store.admission.admit_create(t.rt, t.namespace, name)  # the namespace may have gone since
        result = store.commit_create(ctx, t.namespace, obj, encode)
    await rendering.send_object(req, send, t.rt, result, 201)


async def _update_scale(api: Api, req: Request, send: Send, t: Target, doc: Any, dry: bool) -> None:
    """A write of ``/scale``: ``spec.replicas`` written at the CRD's ``specReplicasPath`` through
    the ordinary update, answered with the ``Scale`` (:mod:`fakekube._registry.scale`)."""
    old = _existing(api, t)
    new = scale.apply_scale(t.rt, objects.deep_copy(old.raw), doc)
    rv = str((doc.get("metadata") or {}).get("resourceVersion") or "")
    result = _store(api, t).update(write_context(req, dry), old, new, rv, "scale")
    obj = result.obj if isinstance(result, Stored) else result
    await respond_json(send, 200, scale.to_scale(t.rt, obj))


async def update(api: Api, req: Request, send: Send, t: Target) -> None:
    """PUT of an object, its ``/status`` or its ``/scale``."""
    rt = t.rt
    assert t.name is not None
    await req.body()
    dry = options.write_options(req, "UpdateOptions")
    if t.sub == "scale":
        doc = decoding.parse(rt, await req.body(), req.content_type or "application/json")
        await _update_scale(api, req, send, t, doc, dry)
        return
    size = len(await req.body())
    for attempt in range(_PREPARE_ATTEMPTS):
        # The last attempt runs on the loop, where nothing can commit in between.
        last = attempt == _PREPARE_ATTEMPTS - 1
        obj = await _read_object(req, rt) if not last else _decode(rt, await req.body(), req.content_type)
        meta = obj["metadata"]
        if meta.get("name", "") != t.name:
            raise _name_mismatch(meta.get("name") or "", t.name)
        if t.namespace and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request(
                f"the namespace of the provided object ({meta['namespace']}) does not match the namespace "
                f"sent on the request ({t.namespace})"
            )
        store = _store(api, t)
        old = store.get(t.namespace, t.name)
        rv = meta.get("resourceVersion") or ""
        if not rv and not store.strategy.allow_unconditional_update:
            raise errors.resource_version_required(rt, t.name)
        ctx = write_context(req, dry)
        result, encode = await offload.run(
            0 if last else size, _prepare_update, store, ctx, old, obj, rv, t.sub
        )
        with contextlib.suppress(Stale):
            await rendering.send_object(req, send, rt, store.commit_update(ctx, old, result, encode=encode))
            return


def _prepare_create(
    store: GenericStore, ctx: WriteContext, namespace: str | None, obj: JSON
) -> tuple[JSON, Encode]:
    """:meth:`GenericStore.prepare_create` and the stored bytes (in a worker thread)."""
    obj = store.prepare_create(ctx, namespace, obj)
    return obj, dumps if ctx.dry_run else encode_ahead(obj)


def _prepare_update(
    store: GenericStore, ctx: WriteContext, old: Stored, obj: JSON, rv: str, sub: str | None
) -> tuple[Stored | JSON, Encode]:
    """:meth:`GenericStore.prepare_update` and the stored bytes (in a worker thread or inline)."""
    result = store.prepare_update(ctx, old, obj, rv, sub)
    if isinstance(result, Stored) or ctx.dry_run:
        return result, dumps
    return result, encode_ahead(result)


Encode = Callable[[JSON], bytes]


_PREPARE_ATTEMPTS = 3
"""Tries of an update prepared off the loop before it is prepared on it (``GuaranteedUpdate``
tries again when the object changed under it: ``k8s.io/apiserver/pkg/storage/etcd3/store.go``)."""


async def patch_(api: Api, req: Request, send: Send, t: Target) -> None:
    """PATCH with a JSON patch, a merge patch (strategic merge for the core kinds, applied as a
    merge patch) or, for ``application/apply-patch+yaml``, server-side :func:`apply`."""
    rt = t.rt
    ct = req.content_type
    accepted = _PATCH_TYPES_CUSTOM if rt.custom else _PATCH_TYPES_CORE
    body = await req.body()
    if ct not in (*accepted, patch.APPLY):
        raise errors.unsupported_media_type(ct, [*accepted, patch.APPLY])
    dry = options.write_options(req, "PatchOptions")
    if ct == patch.APPLY:
        await apply(api, req, send, t, dry)
        return
    if t.sub == "scale":
        doc = patch.apply_patch(ct, scale.to_scale(rt, _existing(api, t).obj), body)
        await _update_scale(api, req, send, t, doc, dry)
        return
    old = _existing(api, t)
    doc = objects.from_storage(rt, objects.deep_copy(old.raw))
    patched = patch.apply_patch(patch.MERGE if ct == patch.STRATEGIC else ct, doc, body)
    patched = objects.to_storage(rt, decoding.to_object(rt, patched, body))
    meta = patched["metadata"]
    if meta.get("name") != t.name:
        raise _name_mismatch(meta.get("name") or "", t.name)
    if meta.get("uid") and meta["uid"] != old.obj["metadata"]["uid"]:
        # ValidateObjectMetaUpdate reports it twice (object and status strategy), so does this.
        cause = errors.field_invalid("metadata.uid", meta["uid"], "field is immutable")
        raise objects.invalid(rt, patched, [cause, cause])
    result = _store(api, t).update(
        write_context(req, dry), old, patched, meta.get("resourceVersion") or "", t.sub
    )
    await rendering.send_object(req, send, rt, result)


async def apply(api: Api, req: Request, send: Send, t: Target, dry: bool) -> None:
    """Server-side apply (:mod:`fakekube._registry.apply`): ``fieldManager`` is required (422 as the
    real server); a missing object is created (201); otherwise the configuration is merged in,
    fields the manager no longer applies are pruned, and fields owned by other managers conflict
    (409) unless ``force=true``."""
    rt = t.rt
    assert t.name is not None
    if not req.query.get("fieldManager"):
        raise options.options_invalid(
            "PatchOptions",
            "fieldManager",
            "Required value: is required for apply patch",
            "FieldValueRequired",
        )
    body = await req.body()
    applied = objects.to_storage(rt, decoding.decode(rt, body, "application/yaml"))
    meta = applied["metadata"]
    if meta.get("name") != t.name:
        raise _name_mismatch(meta.get("name") or "", t.name)
    store = _store(api, t)
    old = store.try_get(t.namespace, t.name)
    if old is None and t.sub is not None:
        raise errors.not_found(rt, t.name)
    live = old.obj if old is not None else None
    ctx = write_context(req, dry)
    obj, entries = server_side_apply.apply(
        live,
        _apply_scope(rt, applied, t.sub),
        list(live["metadata"].get("managedFields") or []) if live else [],
        ctx.manager,
        rt.api_version,
        objects.now(),
        t.sub,
        managedfields.schema_root(rt, rt.crd),
        req.flag("force"),
    )
    if old is None:
        await rendering.send_object(req, send, rt, store.create(ctx, t.namespace, obj, entries), 201)
        return
    result = store.update(ctx, old, obj, meta.get("resourceVersion") or "", t.sub, "Apply", entries)
    await rendering.send_object(req, send, rt, result)


def _apply_scope(rt: ResourceType, config: JSON, sub: str | None) -> JSON:
    """The part of an applied configuration a (sub)resource takes: with a ``status`` subresource the
    object ignores ``status`` and ``/status`` everything else (the strategies' reset fields)."""
    if "status" not in rt.subresources or not rt.custom:
        return config
    if sub == "status":
        keep = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "status")}
        return {**keep, "metadata": {"name": config["metadata"].get("name")}}
    return {k: v for k, v in config.items() if k != "status"}


# -- deletes -----------------------------------------------------------------------------------


async def delete(api: Api, req: Request, send: Send, t: Target) -> None:
    """DELETE of one object: the object (marked deleting, or for kinds that return it), else a
    ``Status`` Success with the deleted object's name, kind and uid."""
    rt = t.rt
    opts = await options.delete_options(req)
    dry = options.write_options(req, "DeleteOptions", opts)
    store = _store(api, t)
    old = _existing(api, t)
    result, deleted = store.delete(write_context(req, dry), old, opts)
    if deleted and not store.strategy.return_deleted_object:
        assert isinstance(result, Stored)
        details: JSON = {"name": t.name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = result.obj["metadata"]["uid"]
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        await respond_json(send, 200, status)
        return
    if isinstance(result, Stored):
        await rendering.send_object(req, send, rt, result)
    else:
        await respond(send, 200, dumps(objects.from_storage(rt, result)))


async def deletecollection(api: Api, req: Request, send: Send, t: Target) -> None:
    """DELETE of a collection: the matching objects as of before the deletions (the generic
    store's DeleteCollection lists first, then deletes each item)."""
    rt = t.rt
    labels, fields = options.selectors(req, rt)
    opts = await options.delete_options(req)
    dry = options.write_options(req, "DeleteOptions", opts)
    store = _store(api, t)
    matched = store.matching(options.key_prefix(t, fields), labels, fields)
    meta: JSON = {"continue": ""} if rt.custom else {}
    meta["resourceVersion"] = str(api.storage.rv)
    out = [objects.from_storage(rt, s.obj) for s in matched]
    if not rt.custom:
        out = [rendering.without_type_meta(o) for o in out]
    ctx = write_context(req, dry)
    for s in matched:
        store.delete(ctx, s, opts)
    await respond_json(
        send, 200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": out}
    )


# -- the Service proxy -------------------------------------------------------------------------


async def proxy(api: Api, req: Request, send: Send, t: Target) -> None:
    """``services/NAME[:PORT]/proxy/...``: the request forwarded to an in-process backend
    (``api.local_backends``: e.g. a simulated Ray dashboard) or the registered URL
    (:mod:`fakekube._endpoints.serviceproxy`); 503 when there is none or the Service is missing."""
    assert t.name is not None and t.namespace is not None
    target = req.info.service_proxy_target()  # [scheme:]name[:port], as SplitSchemeNamePort
    if target is None:
        raise errors.bad_request(f'invalid service request "{t.name}"')
    name, port = target.name, target.port
    service = _store(api, t).try_get(t.namespace, name)
    local = serviceproxy.local_backend_for(api.local_backends, service, port) if service is not None else None
    base = serviceproxy.backend_for(api.service_backends, t.namespace, name, port)
    # A missing Service has no endpoints either: the real server answers the same 503.
    if service is None or (base is None and local is None):
        raise serviceproxy.no_endpoints(name)
    body = await req.body()
    if local is not None:
        r = await serviceproxy.forward_asgi(local, req.method, t.rest, req.query_string, req.headers, body)
    else:
        assert base is not None
        r = await serviceproxy.forward(req.method, base, t.rest, req.query_string, req.headers, body)
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in r.headers
        if k.lower() != "content-type"
    ]
    ctype = next((v for k, v in r.headers if k.lower() == "content-type"), "application/octet-stream")
    await respond(send, r.status, r.body, ctype.encode("latin-1"), headers)


Handler = Callable[[Api, Request, Send, Target], Awaitable[None]]

#: The handler of each verb (``proxy`` is chosen by the subresource, not by the verb).
HANDLERS: dict[str, Handler] = {
    "get": get,
    "list": list_,
    "watch": watch,
    "create": create,
    "update": update,
    "patch": patch_,
    "delete": delete,
    "deletecollection": deletecollection,
}
