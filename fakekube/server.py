"""The fakekube ASGI application: the layers assembled, as kube-apiserver assembles its own.

``create_app(...)`` returns a :class:`FakeKube`, a plain ASGI callable. A request goes through

    ASGI (:mod:`._endpoints.asgi`: Request, RequestInfo parsed once)
      → non-resource paths: health, ``/version``, ``/openapi/v2|v3`` (:mod:`._endpoints.openapidocs`),
        discovery (:mod:`._endpoints.apidiscovery`)
      → resource paths: routing (:mod:`._endpoints.routing`: target + served verbs)
      → one handler per verb (:mod:`._endpoints.handlers`, options from :mod:`._endpoints.options`)
      → registry: the generic store + the kind's strategy (:mod:`._registry.generic`,
        :mod:`._registry.strategy`), admission (:mod:`._admission`)
      → storage (:mod:`._storage`: objects, resourceVersion, history, watch streams)
    and, before the answer goes out, the controllers (:mod:`._controllers`: garbage collector,
    namespace controller) catch up with what the request changed.

Errors anywhere are answered as a ``Status`` (a bug as a 500 InternalError, as the apiserver's
panic recovery does), with the ``Warning`` headers collected on the way.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from fakekube import _apierrors as errors
from fakekube._admission.schema import Schemas, warning_header
from fakekube._auth.audit import AuditLog
from fakekube._auth.authentication import TokenFile
from fakekube._auth.filters import DEFAULT_API_AUDIENCES, AuthFilter
from fakekube._auth.reviews import answer_review
from fakekube._controllers import ControllerManager
from fakekube._controllers.garbagecollector import GarbageCollector
from fakekube._controllers.namespace import NamespaceController
from fakekube._endpoints import apidiscovery, decoding, routing
from fakekube._endpoints.asgi import Receive, Request, Scope, Send, respond, respond_error, respond_json
from fakekube._endpoints.handlers import HANDLERS, Api, proxy
from fakekube._endpoints.openapidocs import OpenAPI
from fakekube._registry import managedfields
from fakekube._registry.generic import Registry
from fakekube._registry.kinds import ServedKinds, crd_document, load_sources
from fakekube._registry.kinds import encoder as crd_encoder
from fakekube._registry.objects import now
from fakekube._resources import CRDS, NAMESPACES, REVIEW_TYPES
from fakekube._storage.store import Store, dumps
from fakekube.crd import CustomResourceDefinition
from kubeapi import media
from kubeapi.status import StatusError
from kubeapi.types import JSON

# In the order a fresh kube-apiserver creates them.
DEFAULT_NAMESPACES = ("kube-system", "kube-public", "default")
_TEXT = b"text/plain; charset=utf-8"


class FakeKube:
    """The ASGI application over one ``store``.

    ``service_backends`` maps ``"NAMESPACE/NAME"`` (or ``"NAMESPACE/NAME:PORT"``) to a base URL
    for the Service proxy and may be changed while serving. ``bookmark_interval`` (seconds) is how
    often an idle watch with ``allowWatchBookmarks`` gets a BOOKMARK; ``watch_timeout`` the default
    watch duration (s); ``schemas`` turns CRD schema pruning/defaulting/validation of custom
    resources on; ``namespace_finalize_delay`` is how long (s) the namespace controller waits
    before emptying a Terminating namespace (0: at once); ``kinds`` the served kinds
    (:class:`fakekube._registry.kinds.ServedKinds`, built-in kinds only by default); ``auth``
    the authentication/impersonation/authorization chain (:class:`fakekube._auth.filters.AuthFilter`;
    None: everything allowed, no authentication); ``audit`` the audit log
    (:class:`fakekube._auth.audit.AuditLog`, None: none).

    Attributes: ``store`` (storage), ``kinds``, ``registry`` (the generic stores),
    ``controllers`` (:class:`fakekube._controllers.ControllerManager`), ``on_startup`` (callables
    run at ASGI lifespan startup).
    """

    def __init__(
        self,
        store: Store,
        service_backends: Mapping[str, str] | None = None,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        schemas: bool = True,
        namespace_finalize_delay: float = 0.0,
        kinds: ServedKinds | None = None,
        auth: AuthFilter | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        #: Authentication, impersonation, authorization (kube-apiserver's filters), run first.
        self.auth = auth or AuthFilter(store)
        #: The audit log (``--audit-log-path``), or None.
        self.audit = audit
        #: The served kinds (built-in + installed CRDs), kept in step with the stored CRDs.
        self.kinds = kinds or ServedKinds()
        self.kinds.follow(store)
        self.openapi = OpenAPI(self.kinds)
        self.registry = Registry(store, self.kinds, Schemas() if schemas else None)
        self.api = Api(
            store, self.kinds, self.registry, dict(service_backends or {}), bookmark_interval, watch_timeout
        )
        self.on_startup: list[Callable[[], None]] = []
        self.controllers = ControllerManager(store, self.registry, self.kinds.types)
        self.controllers.add(GarbageCollector(self.controllers.context))
        self.controllers.add(NamespaceController(self.controllers.context, namespace_finalize_delay))

    @property
    def service_backends(self) -> dict[str, str]:
        """``"NS/NAME[:PORT]"`` → backend base URL of the Service proxy (a live dict)."""
        return self.api.service_backends

    @service_backends.setter
    def service_backends(self, value: Mapping[str, str]) -> None:
        """Replace the backends (a copy of ``value``)."""
        self.api.service_backends = dict(value)

    # -- ASGI entry ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI 3 entry point (``http`` and ``lifespan`` scopes)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            req = Request(scope, receive)
        except StatusError as e:  # a path refused before routing (kubeapi.requestinfo)
            await respond(send, e.code, e.body(), _TEXT if e.plain else b"application/json")
            return
        started = False
        code = 0
        received = now()
        created: list[bytes] = []

        async def send_with_warnings(msg: MutableMapping[str, Any]) -> None:
            nonlocal started, code
            if msg["type"] == "http.response.body" and self.audit is not None and req.info.verb == "create":
                created.append(msg.get("body", b""))
            if msg["type"] == "http.response.start":
                started = True
                code = msg["status"]
                # The controllers catch up before the answer goes out.
                self.controllers.run()
                if req.warnings:
                    msg = {**msg, "headers": [*msg["headers"], *(warning_header(w) for w in req.warnings)]}
            await send(msg)

        try:
            await self._dispatch(req, send_with_warnings)
        except StatusError as e:
            req.warnings.extend(e.warnings)
            await respond(send_with_warnings, e.code, e.body(), e.content_type.encode())
        except Exception as e:
            # A bug must still answer with a Status (as the apiserver's panic recovery does).
            if started:
                raise
            await respond_error(send_with_warnings, errors.internal_error(f"{type(e).__name__}: {e}"))
        finally:
            if self.audit is not None and req.identities:
                self._audit(req, code, b"".join(created), received)

    def _audit(self, req: Request, code: int, created: bytes, received: str) -> None:
        """Write the audit event of a finished request (the name of a created object from its body)."""
        assert self.audit is not None
        name = ""
        if created and code == 201:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                name = str(json.loads(created)["metadata"].get("name", ""))
        requestor, *impersonated = req.identities
        self.audit.record(
            req.info, req.scope, requestor, impersonated[0] if impersonated else None, code, name, received
        )

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
        info = req.info
        if self.auth.enabled:
            req.user = self.auth.identify(info, req.scope, req.identities)[1]
        if info.is_resource_request:
            t = routing.resolve(self.kinds, info)
            if t.rt in REVIEW_TYPES:
                routing.check_verb(t, routing.verb_of(info))
                await self._review(req, send, t)
                return
            if t.sub == "proxy":
                await proxy(self.api, req, send, t)
                return
            verb = routing.verb_of(info)
            if t.rt.deprecation:
                req.warnings.insert(0, t.rt.deprecation)  # sent on every request to the version, first
            routing.check_verb(t, verb)
            await HANDLERS[verb](self.api, req, send, t)
            return
        await self._non_resource(req, send)

    async def _review(self, req: Request, send: Send, t: routing.Target) -> None:
        """Create (answer) a TokenReview or access review (:mod:`fakekube._auth.reviews`): 201."""
        body = decoding.decode(t.rt, await req.body(), req.content_type)
        manager = managedfields.manager_name(req.query.get("fieldManager"), req.headers.get("user-agent", ""))
        answer = answer_review(
            t.rt,
            body,
            t.namespace or "",
            req.user,
            self.auth.tokens,
            self.auth.authorize,
            self.auth.api_audiences,
            manager,
        )
        await respond_json(send, 201, answer)

    async def _non_resource(self, req: Request, send: Send) -> None:
        """Health, version, OpenAPI and discovery documents (anything else: 404)."""
        path = req.path
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            await respond(send, 200, b"ok", _TEXT)
            return
        if path == "/version" or path == "/version/":
            await respond_json(send, 200, apidiscovery.version_info())
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
        if len(segs) == 1 and req.method == "GET" and media.asks_for_aggregated_discovery(accept):
            agg = apidiscovery.aggregated(self.kinds, segs[0] == "api")
            await respond(send, 200, dumps(agg), apidiscovery.AGGREGATED_TYPE.encode())
            return
        doc = self._discovery(req, segs)
        if doc is None:
            raise errors.path_not_found()
        if req.method != "GET":
            raise errors.method_not_allowed()
        await respond_json(send, 200, doc)

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
            return apidiscovery.api_versions(req.headers.get("host", "127.0.0.1"))
        if segs == ["apis"]:
            return apidiscovery.api_group_list(self.kinds)
        if segs[0] == "apis" and len(segs) == 2:
            found = apidiscovery.api_group(self.kinds, segs[1])
        elif (segs[0] == "api" and len(segs) == 2) or (segs[0] == "apis" and len(segs) == 3):
            group, version = ("", segs[1]) if segs[0] == "api" else (segs[1], segs[2])
            found = apidiscovery.api_resource_list(self.kinds, group, version)
        else:
            return None
        if found is None:
            raise errors.path_not_found()
        return found


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
    token_auth_file: str | Path | None = None,
    authorization_mode: str = "AlwaysAllow",
    api_audiences: Iterable[str] = DEFAULT_API_AUDIENCES,
    audit_log_path: str | Path | None = None,
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

    Authentication and authorization (kube-apiserver's flags of the same names; off by default,
    when every request is allowed and nobody is authenticated):
    ``token_auth_file``: a ``--token-auth-file`` CSV (``token,user,uid,"group1,group2"``); then a
    request needs a listed bearer token (401 otherwise), ``Impersonate-*`` headers are honoured
    and checked, and the user is the one TokenReview and the access reviews see.
    ``authorization_mode``: ``AlwaysAllow`` or ``RBAC`` (the served Roles, ClusterRoles and
    bindings decide; ``system:masters`` is always allowed; the bootstrap ClusterRoles
    ``cluster-admin``, ``system:discovery``, ``system:basic-user``, ``system:public-info-viewer``
    and their bindings are created). ``api_audiences``: the audiences tokens are valid for.
    ``audit_log_path``: append kube-apiserver's audit events (Metadata level, JSON lines: who
    authenticated, whom they impersonated, the verb, the object, the code) of every authenticated
    request to this file (:mod:`fakekube._auth.audit`).
    ValueError for an unknown mode or a malformed token file; OSError when it cannot be read.
    """
    from fakekube.crd import builtin_crds

    store = Store(history_size=history_size)
    kinds = ServedKinds()
    crds = list(crds)
    given = [c for c in crds if isinstance(c, CustomResourceDefinition)]
    given += load_sources([c for c in crds if not isinstance(c, CustomResourceDefinition)])
    names = {c.name for c in given}
    tokens = TokenFile.load(token_auth_file) if token_auth_file is not None else None
    auth = AuthFilter(store, tokens, authorization_mode, list(api_audiences))
    app = FakeKube(
        store,
        service_backends,
        bookmark_interval,
        watch_timeout,
        schemas,
        namespace_finalize_delay,
        kinds,
        auth,
        AuditLog(audit_log_path) if audit_log_path is not None else None,
    )
    started = now()
    crd_store = app.registry.store(CRDS)
    for crd in [*(c for c in builtin_crds() if c.name not in names), *given]:
        kinds.install(crd)
        crd_store.create_trusted(crd_document(crd, started), crd_encoder(crd))
    ns_store = app.registry.store(NAMESPACES)
    for ns in namespaces:
        ns_store.create_trusted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for rt, obj in auth.bootstrap():
        app.registry.store(rt).create_trusted(obj)
    # Like a freshly started watch cache: history begins now, older resourceVersions are 410.
    store.compacted_rv = store.rv
    return app
