"""The fakekube ASGI application: URL routing and the verbs of the Kubernetes REST API.

``create_app(...)`` returns a plain ASGI callable. Paths follow the apiserver
(``/api/v1/...``, ``/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]``);
verbs map as in ``k8s.io/apiserver/pkg/endpoints/installer.go``: GET collection → list (or watch
with ``watch=true``), POST collection → create, DELETE collection → deletecollection, GET/PUT/
PATCH/DELETE object → get/update/patch/delete, ``/status`` → get/update/patch, anything else 405.

Every write validates and builds a fresh object and commits it to the store at the very end, so
a failing request changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fakekube import _apierrors as errors
from fakekube._admission.schema import Schemas, warning_header
from fakekube._apierrors import ApiError
from fakekube._endpoints import apidiscovery as discovery
from fakekube._endpoints import decoding as decode
from fakekube._endpoints import serviceproxy as proxy
from fakekube._endpoints.asgi import Receive, Request, Scope, Send, respond, respond_error, respond_json
from fakekube._endpoints.openapidocs import OpenAPI
from fakekube._registry import apply, objects, patch, scale, tables
from fakekube._registry import deletion as gc
from fakekube._registry import managedfields as managed
from fakekube._registry.kinds import ServedKinds, crd_document, load_sources, prepare_crd
from fakekube._registry.kinds import encoder as crd_encoder
from fakekube._resources import CRDS, NAMESPACES, ResourceType
from fakekube._storage.selection import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from fakekube._storage.store import Store, Stored, TooOld, dumps, object_key
from fakekube._storage.watchers import WatchStream
from fakekube.crd import CustomResourceDefinition

JSON = dict[str, Any]

# In the order a fresh kube-apiserver creates them.
DEFAULT_NAMESPACES = ("kube-system", "kube-public", "default")

_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)
_BODY_TYPES = ["application/json", "application/yaml"]
_PATCH_TYPES_CUSTOM = [patch.JSON_PATCH, patch.MERGE]
_PATCH_TYPES_CORE = [patch.JSON_PATCH, patch.MERGE, patch.STRATEGIC]
_PROPAGATION = ("Foreground", "Background", "Orphan")
_SUPPORTED_POLICIES = '"Foreground", "Background", "Orphan", "nil"'


@dataclass(frozen=True)
class Target:
    """A resource URL: the resource, its namespace (None = all / cluster-scoped), the object name
    (None = the collection), the subresource and, for ``proxy``, the remaining path."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None
    rest: str


def encode_continue(rv: int, start: str) -> str:
    """A continue token: base64url (unpadded) JSON ``{"v","rv","start"}`` as etcd3's ``encodeContinue``."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token: str) -> tuple[int, str]:
    """(resourceVersion, start key) of a continue token; rv -1 means "continue from the current
    state" (the inconsistent token a 410 offers). Raises 400 BadRequest when malformed, with the
    etcd3 store's texts (``invalid continue token: continue key is not valid: ...``)."""

    def bad(why: str) -> ApiError:
        return errors.bad_request(f"invalid continue token: continue key is not valid: {why}")

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        raise bad("illegal base64 data at input byte 0") from None
    try:
        data = json.loads(raw.decode("latin-1"))
    except json.JSONDecodeError as e:
        raise bad(decode.go_json_error(e)) from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise bad("server does not recognize this encoded key")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or not isinstance(start, str) or rv == 0 or rv < -1:
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    return rv, start


def _parse_rv(value: str) -> int:
    """A ``resourceVersion`` query value as an int; 400 with the storage layer's text otherwise."""
    if not value.isdigit():
        raise errors.bad_request(
            f'invalid resource version: resourceVersion: Invalid value: "{value}": strconv.ParseUint: '
            f'parsing "{value}": invalid syntax'
        )
    return int(value)


def _parse_int_param(value: str) -> int:
    """An integer query parameter (limit, timeoutSeconds); 400 with Go's strconv text otherwise."""
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


class FakeKube:
    """The ASGI application. ``store`` holds the objects; ``service_backends`` maps
    ``"NAMESPACE/NAME"`` (or ``"NAMESPACE/NAME:PORT"``) to a base URL for the Service proxy and may be
    changed while serving. ``bookmark_interval`` (seconds) is how often an idle watch with
    ``allowWatchBookmarks`` gets a BOOKMARK; ``watch_timeout`` the default watch duration (s);
    ``schemas`` turns CRD schema pruning/defaulting/validation of Ray objects on;
    ``namespace_finalize_delay`` is how long (s) the namespace controller waits before emptying a
    Terminating namespace (0: at once);
    ``kinds`` the served kinds (:class:`fakekube._registry.kinds.ServedKinds`, built-in kinds only by default)."""

    def __init__(
        self,
        store: Store,
        service_backends: Mapping[str, str] | None = None,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        schemas: bool = True,
        namespace_finalize_delay: float = 0.0,
        kinds: ServedKinds | None = None,
    ) -> None:
        self.store = store
        #: The served kinds (built-in + installed CRDs), kept in step with the stored CRDs.
        self.kinds = kinds or ServedKinds()
        self.kinds.follow(store)
        self.openapi = OpenAPI(self.kinds)
        self.namespace_finalize_delay = namespace_finalize_delay
        self.schemas = Schemas() if schemas else None
        self.service_backends: dict[str, str] = dict(service_backends or {})
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.on_startup: list[Callable[[], None]] = []
        self.collector = gc.Collector(store, self.kinds.types, namespace_finalize_delay)

    # -- ASGI entry ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI 3 entry point (``http`` and ``lifespan`` scopes)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        req = Request(scope, receive)
        started = False

        async def send_with_warnings(msg: MutableMapping[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                # The garbage collector and namespace controller catch up before the answer goes out.
                self.collector.run()
                if req.warnings:
                    msg = {**msg, "headers": [*msg["headers"], *(warning_header(w) for w in req.warnings)]}
            await send(msg)

        try:
            await self._dispatch(req, send_with_warnings)
        except ApiError as e:
            req.warnings.extend(e.warnings)
            if e.plain:
                await respond(send_with_warnings, e.code, e.message.encode(), b"text/plain; charset=utf-8")
            else:
                await respond_error(send_with_warnings, e)
        except Exception as e:
            # A bug must still answer with a Status (as the apiserver's panic recovery does).
            if started:
                raise
            await respond_error(send_with_warnings, errors.internal_error(f"{type(e).__name__}: {e}"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                for hook in self.on_startup:
                    hook()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- routing -------------------------------------------------------------------------------

    async def _dispatch(self, req: Request, send: Send) -> None:
        path = req.path
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            await respond(send, 200, b"ok", b"text/plain; charset=utf-8")
            return
        if path == "/version" or path == "/version/":
            await respond_json(send, 200, discovery.version_info())
            return
        segs = [s for s in path.split("/") if s]
        if segs == ["openapi", "v2"]:
            await respond(send, 200, self.openapi.v2_doc())
            return
        if segs[:2] == ["openapi", "v3"]:
            await self._openapi(send, segs[2:])
            return
        if not segs or segs[0] not in ("api", "apis"):
            raise errors.path_not_found()
        accept = req.headers.get("accept", "")
        if len(segs) == 1 and req.method == "GET" and discovery.wants_aggregated(accept):
            agg = discovery.aggregated(self.kinds, segs[0] == "api")
            await respond(send, 200, dumps(agg), discovery.AGGREGATED_TYPE.encode())
            return
        doc = self._discovery(req, segs)
        if doc is not None:
            if req.method != "GET":
                raise errors.method_not_allowed()
            await respond_json(send, 200, doc)
            return
        target = self._route(segs, path)
        await self._verb(req, send, target)

    async def _openapi(self, send: Send, rest: list[str]) -> None:
        if not rest:
            await respond(send, 200, self.openapi.root_doc())
            return
        doc = None
        if rest[0] == "api" and len(rest) == 2:
            doc = self.openapi.group_version_doc("", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            doc = self.openapi.group_version_doc(rest[1], rest[2])
        if doc is None:
            raise errors.page_not_found()
        await respond(send, 200, doc)

    def _discovery(self, req: Request, segs: list[str]) -> JSON | None:
        if segs == ["api"]:
            host = req.headers.get("host", "127.0.0.1")
            return discovery.api_versions(host)
        if segs == ["apis"]:
            return discovery.api_group_list(self.kinds)
        if segs[0] == "apis" and len(segs) == 2:
            return discovery.api_group(self.kinds, segs[1]) or _raise(errors.path_not_found())
        if (segs[0] == "api" and len(segs) == 2) or (segs[0] == "apis" and len(segs) == 3):
            group, version = ("", segs[1]) if segs[0] == "api" else (segs[1], segs[2])
            found = discovery.api_resource_list(self.kinds, group, version)
            return found or _raise(errors.path_not_found())
        return None

    def _route(self, segs: list[str], path: str) -> Target:
        if segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
        else:
            group, version, rest = segs[1], segs[2], segs[3:]
        ns: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            ns, plural, tail = rest[1], rest[2], rest[3:]
        else:
            plural, tail = rest[0], rest[1:]
        rt = self.kinds.lookup(group, version, plural)
        # Unknown paths under a served group fall through to the apiserver's plain-text 404; the
        # core group (go-restful) answers a Status.
        missing = errors.page_not_found() if group else errors.path_not_found()
        if rt is None or (ns is not None and not rt.namespaced):
            raise missing
        name = tail[0] if tail else None
        sub = tail[1] if len(tail) > 1 else None
        remainder = ""
        if sub == "proxy":
            marker = f"/{plural}/{name}/proxy"
            remainder = path.split(marker, 1)[1] if marker in path else ""
        elif len(tail) > 2:
            raise missing
        if sub is not None and sub not in rt.subresources:
            # The CRD handler answers an unknown subresource as if the object did not exist.
            raise errors.not_found(rt, name or "") if rt.custom else missing
        if ns is None and rt.namespaced and name is not None:
            raise missing
        return Target(rt, ns, name, sub, remainder)

    async def _verb(self, req: Request, send: Send, t: Target) -> None:
        if t.sub == "proxy":
            await self._proxy(req, send, t)
            return
        verb = _request_verb(req, t)
        if t.rt.deprecation:
            req.warnings.insert(0, t.rt.deprecation)  # sent on every request to the version, first
        handlers: dict[str, Callable[[Request, Send, Target], Awaitable[None]]] = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }
        if t.rt.custom:
            # The CRD handler (apiextensions-apiserver customresource_handler.go) serves every verb
            # of the main resource, create also on an object URL; /status only get/update/patch.
            if t.namespace is None and t.rt.namespaced and verb not in ("list", "watch"):
                raise errors.page_not_found()
            if t.sub in ("status", "scale") and verb not in ("get", "update", "patch"):
                raise errors.method_not_supported(t.rt, verb)
            if verb not in handlers:
                raise errors.method_not_supported(t.rt, verb)
            if verb in ("update", "patch") and t.name is None:
                raise errors.bad_request("name must be provided")
            await handlers[verb](req, send, t)
            return
        # Built-in kinds: only the routes installer.go registers; anything else is a 405.
        if t.name is None:
            allowed = {"list", "watch", "deletecollection"} | (
                {"create"} if t.namespace or not t.rt.namespaced else set()
            )
        elif t.sub == "status":
            allowed = {"get", "update", "patch"}
        else:
            allowed = {"get", "update", "patch", "delete"}
        if verb not in allowed or verb not in {*t.rt.verbs, "get"}:
            raise errors.method_not_allowed()
        await handlers[verb](req, send, t)

    # -- helpers -------------------------------------------------------------------------------

    def _render(self, rt: ResourceType) -> Callable[[Stored], bytes]:
        if rt.converted:  # shared storage or another stored version: converted per served version
            return lambda s: dumps(objects.from_storage(rt, s.obj))
        return lambda s: s.raw

    def _list_item_render(self, rt: ResourceType) -> Callable[[Stored], bytes]:
        """List items: custom resources as stored; built-in kinds without ``kind``/``apiVersion``
        (typed lists leave them out of their items)."""
        if rt.custom:
            return self._render(rt)
        return lambda s: dumps(_without_type_meta(objects.from_storage(rt, s.obj)))

    def _table_render(self, rt: ResourceType, include_object: str) -> Callable[[Stored], bytes]:
        """Watch event objects as one-row Tables; only the first carries the column definitions
        (as the apiserver's watch encoder for Table output does)."""
        first = True

        def render(s: Stored) -> bytes:
            nonlocal first
            tbl = tables.table(rt, [self._served_obj(rt, s)], {"resourceVersion": str(s.rv)}, include_object)
            if not first:
                tbl["columnDefinitions"] = None
            first = False
            return dumps(tbl)

        return render

    def _served_obj(self, rt: ResourceType, s: Stored) -> JSON:
        return objects.from_storage(rt, s.obj)

    async def _send_object(
        self, req: Request, send: Send, rt: ResourceType, s: Stored, code: int = 200
    ) -> None:
        if tables.wants_table(req.headers.get("accept", "")):
            tbl = tables.table(
                rt,
                [self._served_obj(rt, s)],
                {"resourceVersion": str(s.rv)},
                req.query.get("includeObject", "Metadata"),
            )
            await respond_json(send, code, tbl)
            return
        await respond(send, code, self._render(rt)(s))

    def _schema_hook(self, req: Request, rt: ResourceType) -> objects.SchemaHook | None:
        """The CRD schema check of a write of ``rt`` (None for built-in kinds or when disabled);
        its warnings go to the response's ``Warning`` headers."""
        if rt is CRDS:
            return lambda obj, old: prepare_crd(obj, old, objects.now())
        if self.schemas is None or not rt.custom:
            return None
        schemas = self.schemas

        def hook(obj: JSON, old: JSON | None) -> tuple[JSON, list[JSON]]:
            out = schemas.check(rt, obj, old, req.query.get("fieldValidation", ""))
            req.warnings.extend(out.warnings)
            return out.obj, out.causes

        return hook

    def _schema_root(self, rt: ResourceType) -> Any:
        """The schema :mod:`fakekube._registry.managedfields` reads list/map semantics from (the CRD's, if any)."""
        return managed.schema_root(rt, rt.crd)

    def _manager(self, req: Request) -> str:
        return managed.manager_name(req.query.get("fieldManager"), req.headers.get("user-agent", ""))

    def _manage(
        self,
        req: Request,
        rt: ResourceType,
        old: JSON | None,
        new: JSON,
        operation: str,
        subresource: str | None,
        base: list[JSON] | None = None,
    ) -> JSON:
        """``new`` with its managedFields updated for this request's manager (:mod:`fakekube._registry.managedfields`);
        ``base``: the entries to start from (those the client sent), else ``old``'s."""
        if base is not None:
            entries = list(base)
        else:
            entries = list(old["metadata"].get("managedFields") or []) if old else []
        new["metadata"]["managedFields"] = managed.record(
            entries,
            old,
            new,
            self._manager(req),
            operation,
            rt.api_version,
            objects.now(),
            subresource,
            self._schema_root(rt),
        )
        if not new["metadata"]["managedFields"]:
            del new["metadata"]["managedFields"]
        return objects.canonical(rt, new)

    def _existing(self, t: Target) -> Stored:
        assert t.name is not None
        s = self.store.get(t.rt.storage_key, object_key(t.namespace, t.name))
        if s is None:
            raise errors.not_found(t.rt, t.name)
        return s

    async def _read_object(self, req: Request, rt: ResourceType) -> JSON:
        obj = decode.decode(rt, await req.body(), req.content_type)
        return objects.to_storage(rt, obj)

    def _options(self, req: Request, kind: str, options: JSON | None = None) -> bool:
        """Validate the write options of a request (``dryRun``; ``fieldValidation`` except for
        deletes) as ``ValidateCreateOptions`` & co. do; return whether it is a dry run.

        ``kind`` is CreateOptions, UpdateOptions, PatchOptions or DeleteOptions (the 422 names it).
        """
        values = [v for k, v in _query_pairs(req.query_string) if k == "dryRun"]
        if options and isinstance(options.get("dryRun"), list):
            values += [str(v) for v in options["dryRun"]]
        for v in values:
            if v != "All":
                raise _options_invalid(kind, "dryRun", f'Unsupported value: ["{v}"]: supported values: "All"')
        if kind != "DeleteOptions":
            _check_field_manager(req, kind)
        fv = req.query.get("fieldValidation")
        if kind != "DeleteOptions" and fv not in (None, "", "Ignore", "Strict", "Warn"):
            raise _options_invalid(
                kind,
                "fieldValidation",
                f'Unsupported value: "{fv}": supported values: "", "Ignore", "Strict", "Warn"',
            )
        return bool(values)

    def _check_namespace(self, t: Target, name: str) -> None:
        """404 when the target namespace does not exist, 403 while it is being deleted
        (the NamespaceLifecycle admission plugin)."""
        if not t.rt.namespaced:
            return
        assert t.namespace is not None
        ns = self.store.get(NAMESPACES.storage_key, t.namespace)
        if ns is None:
            raise errors.namespace_not_found(t.namespace)
        if ns.obj.get("status", {}).get("phase") == "Terminating":
            details: JSON = {"name": name}
            if t.rt.group:
                details["group"] = t.rt.group
            details["kind"] = t.rt.plural
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "field": "metadata.namespace",
                    "message": f"namespace {t.namespace} is being terminated",
                }
            ]
            raise ApiError(
                403,
                "Forbidden",
                f'{t.rt.group_resource} "{name}" is forbidden: unable to create new content in '
                f"namespace {t.namespace} because it is being terminated",
                details,
            )

    # -- verbs ---------------------------------------------------------------------------------

    async def _get(self, req: Request, send: Send, t: Target) -> None:
        if t.sub == "scale":
            await respond_json(send, 200, scale.to_scale(t.rt, self._existing(t).obj))
            return
        await self._send_object(req, send, t.rt, self._existing(t))

    async def _scale_write(self, req: Request, send: Send, t: Target, doc: Any, dry: bool) -> None:
        """PUT/PATCH of ``/scale``: ``spec.replicas`` written at the CRD's ``specReplicasPath``
        through the ordinary update, answered with the ``Scale`` (:mod:`fakekube._registry.scale`)."""
        old = self._existing(t)
        new = scale.apply_scale(t.rt, objects.deep_copy(old.raw), doc)
        rv = str((doc.get("metadata") or {}).get("resourceVersion") or "")
        await self._commit_update(req, scale.scale_send(send, t.rt), t, old, new, rv, dry)

    async def _create(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        await req.body()  # 413 comes first, then the options, then the body's content
        dry = self._options(req, "CreateOptions")
        obj = await self._read_object(req, rt)
        self._check_namespace(t, obj["metadata"].get("name") or "")
        sent = managed.client_entries(obj)
        obj = objects.prepare_create(rt, t.namespace, obj, self._schema_hook(req, rt))
        name = obj["metadata"]["name"]
        key = object_key(t.namespace, name)
        generated = obj["metadata"].get("generateName")
        # A generated name that is taken is drawn again (the RetryGenerateName behaviour, 8 tries).
        for _ in range(7 if generated and name.startswith(generated) else 0):
            if self.store.get(rt.storage_key, key) is None:
                break
            name = obj["metadata"]["name"] = objects.generate_name(generated)
            key = object_key(t.namespace, name)
        if self.store.get(rt.storage_key, key) is not None:
            raise errors.already_exists(rt, name)
        obj = self._manage(req, rt, None, obj, "Update", None, sent)
        if dry:
            obj["metadata"].pop("resourceVersion", None)
            await respond(send, 201, dumps(objects.from_storage(rt, obj)))
            return
        stored = self.store.create(rt.storage_key, key, obj)
        await self._send_object(req, send, rt, stored, 201)

    async def _update(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        assert t.name is not None
        await req.body()
        dry = self._options(req, "UpdateOptions")
        if t.sub == "scale":
            doc = decode.parse(rt, await req.body(), req.content_type or "application/json")
            await self._scale_write(req, send, t, doc, dry)
            return
        obj = await self._read_object(req, rt)
        meta = obj["metadata"]
        if meta.get("name", "") != t.name:
            raise _name_mismatch(meta.get("name") or "", t.name)
        if t.namespace and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request(
                f"the namespace of the provided object ({meta['namespace']}) does not match the namespace "
                f"sent on the request ({t.namespace})"
            )
        old = self._existing(t)
        rv = meta.get("resourceVersion") or ""
        if not rv and rt.custom:
            raise errors.resource_version_required(rt, t.name)
        await self._commit_update(req, send, t, old, obj, rv, dry)

    async def _patch(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        ct = req.content_type
        accepted = _PATCH_TYPES_CUSTOM if rt.custom else _PATCH_TYPES_CORE
        body = await req.body()
        if ct not in (*accepted, patch.APPLY):
            raise errors.unsupported_media_type(ct, [*accepted, patch.APPLY])
        dry = self._options(req, "PatchOptions")
        if ct == patch.APPLY:
            await self._apply(req, send, t, dry)
            return
        if t.sub == "scale":
            doc = patch.apply_patch(ct, scale.to_scale(rt, self._existing(t).obj), body)
            await self._scale_write(req, send, t, doc, dry)
            return
        old = self._existing(t)
        doc = objects.from_storage(rt, objects.deep_copy(old.raw))
        # Strategic merge for the core kinds is applied as a JSON merge patch (see README gaps).
        kind = patch.MERGE if ct == patch.STRATEGIC else ct
        patched = patch.apply_patch(kind, doc, body)
        patched = objects.to_storage(rt, decode.to_object(rt, patched, body))
        meta = patched["metadata"]
        if meta.get("name") != t.name:
            raise _name_mismatch(meta.get("name") or "", t.name)
        if meta.get("uid") and meta["uid"] != old.obj["metadata"]["uid"]:
            # ValidateObjectMetaUpdate reports it twice (object and status strategy), so does this.
            cause = errors.field_invalid("metadata.uid", meta["uid"], "field is immutable")
            raise objects.invalid(rt, patched, [cause, cause])
        await self._commit_update(req, send, t, old, patched, meta.get("resourceVersion") or "", dry)

    async def _apply(self, req: Request, send: Send, t: Target, dry: bool) -> None:
        """Server-side apply (:mod:`fakekube._registry.apply`): ``fieldManager`` is required (422 as the real
        server); a missing object is created (201); otherwise the configuration is merged in, fields
        the manager no longer applies are pruned, and fields owned by other managers conflict (409)
        unless ``force=true``."""
        rt = t.rt
        assert t.name is not None
        if not req.query.get("fieldManager"):
            msg = "Required value: is required for apply patch"
            raise ApiError(
                422,
                "Invalid",
                f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: {msg}',
                {
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [{"reason": "FieldValueRequired", "message": msg, "field": "fieldManager"}],
                },
            )
        body = await req.body()
        applied = objects.to_storage(rt, decode.decode(rt, body, "application/yaml"))
        meta = applied["metadata"]
        if meta.get("name") != t.name:
            raise _name_mismatch(meta.get("name") or "", t.name)
        old = self.store.get(rt.storage_key, object_key(t.namespace, t.name))
        if old is None and t.sub is not None:
            raise errors.not_found(rt, t.name)
        config = _apply_scope(rt, applied, t.sub)
        live = old.obj if old is not None else None
        obj, entries = apply.apply(
            live,
            config,
            list(live["metadata"].get("managedFields") or []) if live else [],
            self._manager(req),
            rt.api_version,
            objects.now(),
            t.sub,
            self._schema_root(rt),
            req.flag("force"),
        )
        if old is None:
            self._check_namespace(t, t.name)
            obj = objects.prepare_create(rt, t.namespace, obj, self._schema_hook(req, rt))
            obj["metadata"]["managedFields"] = entries
            obj = objects.canonical(rt, obj)
            if dry:
                obj["metadata"].pop("resourceVersion", None)
                await respond(send, 201, dumps(objects.from_storage(rt, obj)))
                return
            stored = self.store.create(rt.storage_key, object_key(t.namespace, t.name), obj)
            await self._send_object(req, send, rt, stored, 201)
            return
        await self._commit_update(
            req, send, t, old, obj, meta.get("resourceVersion") or "", dry, "Apply", entries
        )

    async def _commit_update(
        self,
        req: Request,
        send: Send,
        t: Target,
        old: Stored,
        new: JSON,
        rv: str,
        dry: bool,
        operation: str = "Update",
        entries: list[JSON] | None = None,
    ) -> None:
        """Store ``new`` as the update of ``old`` (no write when nothing changes); ``entries`` are
        the managedFields an apply computed (else they are recorded here for ``operation``)."""
        rt = t.rt
        assert t.name is not None
        if rv and rv != old.obj["metadata"]["resourceVersion"]:
            _parse_rv(rv)
            raise errors.conflict(rt, t.name)
        sent = managed.client_entries(new) if entries is None and t.sub is None else None
        result = objects.prepare_update(
            rt, objects.deep_copy(old.raw), new, t.sub, self._schema_hook(req, rt)
        )
        result["metadata"]["resourceVersion"] = old.obj["metadata"]["resourceVersion"]
        old_entries = old.obj["metadata"].get("managedFields") or []
        if sent is not None or old_entries:
            result["metadata"]["managedFields"] = old_entries if sent is None else sent
            if not result["metadata"]["managedFields"]:
                del result["metadata"]["managedFields"]
        if objects.same_content(result, old.obj) and (
            entries is None or apply.same_ownership(entries, old_entries)
        ):
            await self._send_object(req, send, rt, old)
            return
        if entries is None:
            result = self._manage(req, rt, old.obj, result, operation, t.sub, sent)
        else:
            result["metadata"]["managedFields"] = entries
            if not entries:
                del result["metadata"]["managedFields"]
            result = objects.canonical(rt, result)
        key = object_key(t.namespace, t.name)
        meta = result["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer of a deleting object went away: the object goes with it.
            if dry:
                await respond(send, 200, dumps(objects.from_storage(rt, result)))
                return
            self.store.delete(rt.storage_key, key)
            # The answer is the object as updated (finalizers gone), at its last stored version.
            await respond(send, 200, dumps(objects.from_storage(rt, result)))
            return
        if dry:
            await respond(send, 200, dumps(objects.from_storage(rt, result)))
            return
        stored = self.store.replace(rt.storage_key, key, result)
        await self._send_object(req, send, rt, stored)

    async def _delete_options(self, req: Request) -> JSON:
        body = await req.body()
        options: JSON = {}
        if body.strip():
            try:
                options = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
        if "propagationPolicy" in req.query:
            options["propagationPolicy"] = req.query["propagationPolicy"]
        # Accepted and checked, but custom resources (and the kinds served here) have no graceful
        # deletion: finalizer-held objects get deletionGracePeriodSeconds 0, others go at once.
        if req.query.get("gracePeriodSeconds"):
            _parse_int_param(req.query["gracePeriodSeconds"])
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise errors.bad_request(
                "json: cannot unmarshal into Go struct field DeleteOptions.gracePeriodSeconds of type int64"
            )
        policy = options.get("propagationPolicy")
        if policy is not None and policy not in _PROPAGATION:
            msg = f'Unsupported value: "{policy}": supported values: {_SUPPORTED_POLICIES}'
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: {msg}',
                {
                    "group": "meta.k8s.io",
                    "kind": "DeleteOptions",
                    "causes": [
                        {"reason": "FieldValueNotSupported", "message": msg, "field": "propagationPolicy"}
                    ],
                },
            )
        return options

    def _delete_one(
        self, rt: ResourceType, namespace: str | None, old: Stored, options: JSON, dry: bool
    ) -> tuple[Stored | JSON, bool]:
        """Delete (or, with finalizers, mark deleting) one object; returns (object, deleted now)."""
        meta = old.obj["metadata"]
        pre = options.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise errors.bad_request(
                "json: cannot unmarshal into Go struct field DeleteOptions.preconditions"
            )
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise _precondition_conflict(rt, meta["name"], "UID", pre["uid"], meta["uid"])
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise _precondition_conflict(
                rt, meta["name"], "ResourceVersion", pre["resourceVersion"], meta["resourceVersion"]
            )
        if rt is NAMESPACES:
            return gc.terminate_namespace(self.store, old, dry), False
        if rt is CRDS and not dry and not meta.get("finalizers"):
            # The CRD's objects go first (its customresourcecleanup finalizer), then the CRD.
            for k, _ in list(self.store.scan(meta["name"])):
                self.store.delete(meta["name"], k)
        return gc.delete_object(self.store, rt, old, gc.policy_of(options, None), dry)

    async def _delete(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        options = await self._delete_options(req)
        dry = self._options(req, "DeleteOptions", options)
        old = self._existing(t)
        result, deleted = self._delete_one(rt, t.namespace, old, options, dry)
        if deleted and rt is not NAMESPACES and rt.plural != "services":
            assert isinstance(result, Stored)
            details: JSON = {"name": t.name}
            if rt.group:
                details["group"] = rt.group
            details["kind"] = rt.plural
            details["uid"] = result.obj["metadata"]["uid"]
            await respond_json(
                send,
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
            return
        if isinstance(result, Stored):
            await self._send_object(req, send, rt, result)
        else:
            await respond(send, 200, dumps(objects.from_storage(rt, result)))

    async def _delete_collection(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        labels, fields = self._selectors(req, rt)
        options = await self._delete_options(req)
        dry = self._options(req, "DeleteOptions", options)
        prefix = self._prefix(t, fields)
        matched = [
            s
            for _, s in self.store.scan(rt.storage_key, prefix)
            if labels.matches(s.obj["metadata"].get("labels")) and fields.matches(s.obj)
        ]
        # The answer is the list the deletions worked from, as of before them (the generic
        # store's DeleteCollection lists first, then deletes each item).
        meta: JSON = {"continue": ""} if rt.custom else {}
        meta["resourceVersion"] = str(self.store.rv)
        out = [objects.from_storage(rt, s.obj) for s in matched]
        if not rt.custom:
            out = [_without_type_meta(o) for o in out]
        for s in matched:
            self._delete_one(rt, s.obj["metadata"].get("namespace"), s, options, dry)
        await respond_json(
            send, 200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": out}
        )

    # -- list & watch --------------------------------------------------------------------------

    def _selectors(self, req: Request, rt: ResourceType) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = parse_label_selector(req.query.get("labelSelector", ""))
            fields = parse_field_selector(req.query.get("fieldSelector", ""), rt)
        except SelectorError as e:
            raise errors.bad_request(str(e)) from None
        return labels, fields

    def _prefix(self, t: Target, fields: FieldSelector) -> str:
        if t.namespace is not None:
            return t.namespace + "/"
        if t.rt.namespaced:
            ns = fields.exact("metadata.namespace")
            if ns is not None:
                return ns + "/"
        return ""

    async def _list(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        labels, fields = self._selectors(req, rt)
        limit_s = req.query.get("limit", "")
        limit = max(_parse_int_param(limit_s), 0) if limit_s else 0
        if req.query.get("timeoutSeconds"):
            _parse_int_param(req.query["timeoutSeconds"])
        token = req.query.get("continue", "")
        rv_param = req.query.get("resourceVersion", "")
        start = ""
        at: int | None = None
        if token:
            if rv_param and rv_param != "0":
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            at, start = decode_continue(token)
            if at == -1:
                at = None
        elif rv_param and req.query.get("resourceVersionMatch") == "Exact":
            at = _parse_rv(rv_param)
        match = req.query.get("resourceVersionMatch", "")
        if match and match not in ("Exact", "NotOlderThan"):
            raise _list_options_invalid(
                "resourceVersionMatch",
                "FieldValueNotSupported",
                f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""',
            )
        if match and not rv_param:
            raise _list_options_invalid(
                "resourceVersionMatch",
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        elif rv_param:
            _parse_rv(rv_param)
        list_rv = at if at is not None else self.store.rv
        prefix = self._prefix(t, fields)
        try:
            keys, objects, lo, hi = self.store.key_range(rt.storage_key, prefix, start, at)
        except TooOld:
            if token:
                # As etcd3's store: the 410 offers a token that continues from the current state.
                err = errors.expired(_EXPIRED_CONTINUE)
                err.list_continue = encode_continue(-1, start)
                raise err from None
            raise errors.expired(f"too old resource version: {at} ({self.store.compacted_rv + 1})") from None
        items: list[Stored] = []
        last_key = ""
        more = False
        everything = labels.empty and fields.empty
        remaining = 0
        check_fields = not fields.empty
        for i in range(lo, hi):
            s = objects[keys[i]]
            if not everything and not (
                labels.matches(s.obj["metadata"].get("labels"))
                and (not check_fields or fields.matches(s.obj))
            ):
                continue
            if limit and len(items) >= limit:
                more = True
                remaining = hi - i
                break
            items.append(s)
            last_key = keys[i]
        meta: JSON = {}
        if more or rt.custom:
            # Custom resource lists (unstructured) always carry "continue", even when empty.
            meta["continue"] = encode_continue(list_rv, last_key + "\x00") if more else ""
        if more and everything:
            meta["remainingItemCount"] = remaining
        meta["resourceVersion"] = str(list_rv)
        if tables.wants_table(req.headers.get("accept", "")):
            if not more:
                meta.pop("continue", None)  # a Table's ListMeta omits an empty continue
            tbl = tables.table(
                rt, (self._served_obj(rt, s) for s in items), meta, req.query.get("includeObject", "Metadata")
            )
            await respond_json(send, 200, tbl)
            return
        render = self._list_item_render(rt)
        head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(render(s) for s in items) + b"]}"
        await respond(send, 200, body)

    async def _watch(self, req: Request, send: Send, t: Target) -> None:
        rt = t.rt
        labels, fields = self._selectors(req, rt)
        rv = req.query.get("resourceVersion", "")
        if rv:
            _parse_rv(rv)
        timeout_s = req.query.get("timeoutSeconds", "")
        timeout = float(_parse_int_param(timeout_s)) if timeout_s else self.watch_timeout
        bookmarks = req.flag("allowWatchBookmarks")
        render = self._render(rt)
        if tables.wants_table(req.headers.get("accept", "")):
            render = self._table_render(rt, req.query.get("includeObject", "Metadata"))
        stream = WatchStream(self.store, rt, self._prefix(t, fields), labels, fields, render)
        stream.start(rv, req.flag("sendInitialEvents"), bookmarks)

        async def disconnected() -> None:
            while True:
                msg = await req.receive()
                if msg["type"] == "http.disconnect":
                    stream.stop()
                    return

        watcher = asyncio.ensure_future(disconnected())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"cache-control", b"no-cache, private"),
                    ],
                }
            )
            # An empty chunk makes the server flush the headers now, as the apiserver does, so a
            # client that waits for them before writing does not block until the first event.
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            async for line in stream.lines(timeout, self.bookmark_interval if bookmarks else None):
                await send({"type": "http.response.body", "body": line, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RuntimeError, asyncio.CancelledError):
            # The client went away mid-stream; nothing more to send.
            pass
        finally:
            stream.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    # -- service proxy -------------------------------------------------------------------------

    async def _proxy(self, req: Request, send: Send, t: Target) -> None:
        assert t.name is not None and t.namespace is not None
        name, port = proxy.split_service_name(t.name)
        base = proxy.backend_for(self.service_backends, t.namespace, name, port)
        # A missing Service has no endpoints either: the real server answers the same 503.
        if base is None or self.store.get(t.rt.storage_key, object_key(t.namespace, name)) is None:
            raise proxy.no_endpoints(name)
        body = await req.body()
        r = await proxy.forward(req.method, base, t.rest, req.query_string, req.headers, body)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in r.headers
            if k.lower() != "content-type"
        ]
        ctype = next((v for k, v in r.headers if k.lower() == "content-type"), "application/octet-stream")
        await respond(send, r.status, r.body, ctype.encode("latin-1"), headers)


def _request_verb(req: Request, t: Target) -> str:
    """The Kubernetes verb of a request (request.RequestInfoFactory): GET → get/list/watch, POST →
    create, PUT → update, PATCH → patch, DELETE → delete/deletecollection; else the lower-case method."""
    m = req.method
    if m == "GET":
        if t.name is None:
            return "watch" if req.flag("watch") else "list"
        return "get"
    if m == "DELETE":
        return "delete" if t.name is not None else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(m, m.lower())


def _apply_scope(rt: ResourceType, config: JSON, sub: str | None) -> JSON:
    """The part of an applied configuration a (sub)resource takes: with a ``status`` subresource the
    object ignores ``status`` and ``/status`` everything else (the strategies' reset fields)."""
    if "status" not in rt.subresources or not rt.custom:
        return config
    if sub == "status":
        keep = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "status")}
        return {**keep, "metadata": {"name": config["metadata"].get("name")}}
    return {k: v for k, v in config.items() if k != "status"}


def _without_type_meta(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _raise(err: ApiError) -> JSON:
    raise err


def _query_pairs(qs: str) -> Iterable[tuple[str, str]]:

    return parse_qsl(qs, keep_blank_values=True)


def _list_options_invalid(field: str, reason: str, message: str) -> ApiError:
    """422 for bad list options (``ValidateListOptions``): ``ListOptions.meta.k8s.io "" is invalid``."""
    return ApiError(
        422,
        "Invalid",
        f'ListOptions.meta.k8s.io "" is invalid: {field}: {message}',
        {
            "group": "meta.k8s.io",
            "kind": "ListOptions",
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def _options_invalid(kind: str, field: str, message: str, reason: str = "FieldValueNotSupported") -> ApiError:
    """422 for a bad write option: ``CreateOptions.meta.k8s.io "" is invalid: dryRun: ...``."""
    return ApiError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
        {
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def _check_field_manager(req: Request, kind: str) -> None:
    """``force`` only with an apply patch; ``fieldManager`` at most 128 bytes of printable
    characters (apimachinery ``ValidatePatchOptions`` / ``ValidateFieldManager``); else 422."""
    if kind == "PatchOptions" and "force" in req.query and req.content_type != patch.APPLY:
        msg = "Forbidden: may not be specified for non-apply patch"
        raise _options_invalid(kind, "force", msg, "FieldValueForbidden")
    fm = req.query.get("fieldManager", "")
    if len(fm.encode()) > managed.FIELD_MANAGER_MAX:
        msg = f"Too long: may not be more than {managed.FIELD_MANAGER_MAX} bytes"
        raise _options_invalid(kind, "fieldManager", msg, "FieldValueTooLong")
    for i, ch in enumerate(fm):
        if not ch.isprintable():
            msg = f"Invalid value: {json.dumps(fm)}: invalid character U+{ord(ch):04X} (at position {i})"
            raise _options_invalid(kind, "fieldManager", msg, "FieldValueInvalid")


def _name_mismatch(body_name: str, url_name: str | None) -> ApiError:
    """400 for a body whose ``metadata.name`` differs from the URL's (handlers/rest.go checkName)."""
    return errors.bad_request(
        f"the name of the object ({body_name}) does not match the name on the URL ({url_name})"
    )


def _precondition_conflict(rt: ResourceType, name: str, what: str, want: str, have: str) -> ApiError:
    """409 Conflict for a failed delete precondition (the generic store's Preconditions check)."""
    tail = (
        "The object might have been deleted and then recreated"
        if what == "UID"
        else "The object might have been modified"
    )
    details: JSON = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_kind} "{name}": the {what} in the precondition ({want}) '
        f"does not match the {what} in record ({have}). {tail}",
        details,
    )


def create_app(
    *,
    service_backends: Mapping[str, str] | None = None,
    history_size: int = 10_000,
    namespaces: Iterable[str] = DEFAULT_NAMESPACES,
    bookmark_interval: float = 60.0,
    watch_timeout: float = 1800.0,
    schemas: bool = True,
    namespace_finalize_delay: float = 0.0,
    crds: Iterable[Any] = (),
) -> FakeKube:
    """Build a fakekube ASGI app with an empty store holding only ``namespaces``.

    ``service_backends``: ``{"NS/NAME": "http://host:port"}`` for the Service proxy.
    ``history_size``: how many changes are kept for watch resumption and paging snapshots.
    ``bookmark_interval``/``watch_timeout``: seconds (see :class:`FakeKube`).
    ``namespace_finalize_delay``: seconds before the namespace controller empties a Terminating namespace.
    ``schemas``: prune, default and validate custom resources against their CRD schemas.
    ``crds``: CRD sources (files, directories, YAML/JSON text, dicts or parsed
    :class:`~fakekube.crd.CustomResourceDefinition`) installed at start after the bundled Ray CRDs,
    replacing those of the same name (e.g. the official KubeRay CRDs); ValueError when one is invalid.
    """
    from fakekube.crd import builtin_crds

    store = Store(history_size=history_size)
    kinds = ServedKinds()
    crds = list(crds)
    given = [c for c in crds if isinstance(c, CustomResourceDefinition)]
    given += load_sources([c for c in crds if not isinstance(c, CustomResourceDefinition)])
    names = {c.name for c in given}
    now = objects.now()
    for crd in [*(c for c in builtin_crds() if c.name not in names), *given]:
        kinds.install(crd)
        doc = objects.prepare_create(CRDS, None, crd_document(crd, now))
        store.create(CRDS.storage_key, crd.name, doc, crd_encoder(crd))
    for ns in namespaces:
        obj = objects.prepare_create(
            NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
        store.create(NAMESPACES.storage_key, ns, obj)
    # Like a freshly started watch cache: history begins now, older resourceVersions are 410.
    store.compacted_rv = store.rv
    return FakeKube(
        store, service_backends, bookmark_interval, watch_timeout, schemas, namespace_finalize_delay, kinds
    )
