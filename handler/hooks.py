"""Object hooks: the gateway's middleware API for rules about the objects that pass through it.

An object hook is an async function ``hook(ctx: RequestContext, obj) -> obj`` registered for a set
of Kubernetes verbs and resources with :func:`object_hook`, and passed to
``handler.create_app(settings, middleware=[...])``. It receives the request context (user, verb,
namespace, name, query, headers, a way to read the upstream) and the parsed request object (JSON
or YAML body; ``None`` for requests without a body), and returns the object to send upstream
(returning ``None`` keeps it unchanged). Raising :class:`HookError` (or any
:class:`kubeapi.status.StatusError`) refuses the request with a ``Status``; nothing is sent
upstream then.

For ``patch`` the object is the patch document (merge patch, JSON patch or server-side apply
configuration), sent back upstream as JSON under its own ``Content-Type``.

Hooks run in a defined order: the gateway's own default values (:mod:`handler.defaults`), then
compute templates (:mod:`handler.templates`), then the caller's hooks in the order given. Hooks
run on the main resource only (``/status`` and other subresources are never rewritten).

Bodies are parsed only for requests that at least one hook matches, so every other request keeps
the byte-for-byte pass-through hot path. A body that was parsed for hooks is sent upstream as
JSON (``Content-Type: application/json``), including one that arrived as YAML.

Verbs are the Kubernetes request verbs, derived from the HTTP method as the API server does
(k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): POST ``create``, PUT ``update``, PATCH
``patch``, DELETE ``delete`` (``deletecollection`` without a name), GET/HEAD ``get`` (``list``
without a name, ``watch`` with ``watch=1``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from handler.request import USER_HEADER
from handler.target import RequestTarget
from kubeapi.authn import UserInfo
from kubeapi.query import Query
from kubeapi.status import StatusError, reason_for_code
from kubeapi.types import JSON

#: Every verb a hook may be registered for.
VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "get", "list", "watch"})

__all__ = [
    "USER_HEADER",
    "VERBS",
    "HookError",
    "ObjectHook",
    "RequestContext",
    "context",
    "matching",
    "object_hook",
    "request_verb",
    "verb_of",
    "with_target",
]

Lookup = Callable[[str, str], Awaitable[tuple[int, Any]]]


def request_verb(method: str, route: RequestTarget, query: str) -> str:
    """The Kubernetes verb of ``method`` on ``route`` with raw ``query`` (see the module docstring)."""
    return verb_of(method, route, Query.parse(query).bool("watch"))


def verb_of(method: str, route: RequestTarget, watch: bool) -> str:
    """The Kubernetes verb of ``method`` on ``route``; ``watch``: the query asks for a watch."""
    named = route.object_name is not None
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    if named:
        return "get"
    return "watch" if watch else "list"


@dataclass
class RequestContext:
    """What a hook knows about the request.

    ``verb`` is the Kubernetes verb (``create``, ``update``...), ``group`` the API group (``""``
    for core), ``resource`` the plural (``rayclusters``), ``namespace`` / ``name`` / ``subresource``
    the decoded path parts (None when absent), ``query`` the query parameters (first value of each),
    ``user`` the caller as the gateway's authentication verified it (:class:`kubeapi.authn.UserInfo`:
    ``name``, ``uid``, ``groups``, ``extra``; None only under ``--authentication none``), never a
    header value; ``headers`` the request headers as lower-case ``(name, value)`` pairs (identity
    headers already removed).
    """

    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict[str, str]
    user: UserInfo | None
    headers: list[tuple[str, str]]
    lookup: Lookup = field(repr=False)

    def header(self, name: str) -> str | None:
        """The first value of request header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    async def get_json(self, path: str, query: str = "") -> tuple[int, Any]:
        """GET ``path`` (raw, percent-encoded) on the upstream with the gateway's credentials.

        Returns ``(HTTP status, decoded JSON or None)``; transient failures are retried as for any
        GET. Raises StatusError 503/504 when the upstream cannot be reached.
        """
        return await self.lookup(path, query)


class HookError(StatusError):
    """A hook's refusal, answered as a ``Status`` with HTTP ``code``.

    ``reason`` defaults to the Kubernetes ``StatusReason`` of the code (``Invalid`` for 422,
    ``Forbidden`` for 403...). ``causes`` become ``details.causes``: dicts with ``reason``
    (a ``CauseType`` such as ``FieldValueInvalid``), ``message`` and ``field``, as in
    k8s.io/apimachinery/pkg/apis/meta/v1/types.go ``StatusCause``.
    """

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        causes: Iterable[dict[str, str]] = (),
        details: JSON | None = None,
    ) -> None:
        merged = dict(details or {})
        causes = list(causes)
        if causes:
            merged["causes"] = causes
        super().__init__(code, reason or reason_for_code(code), message, merged or None)


HookFunction = Callable[[RequestContext, Any], Awaitable[Any]]


#: A cheap test on the raw request body: False means the hook has nothing to do with it.
BodyTest = Callable[[bytes], bool]


@dataclass(frozen=True)
class ObjectHook:
    """A hook function with the verbs and resources it is registered for.

    ``resources`` holds ``"<group>/<plural>"`` for API groups (``"ray.io/rayclusters"``), the plain
    plural for the core group (``"configmaps"``), ``"<group>/*"`` for every resource of a group, or
    ``"*"`` for every resource. ``wants_body`` (optional) is a cheap test on the raw body bytes:
    when it is false for every matching hook, no hook runs and the body is not parsed at all (the
    compute-template hook uses it to leave bodies without ``computeTemplate`` as bytes). Once the
    body is parsed every matching hook runs, since an earlier hook may have added what a later one
    looks for (a default ``computeTemplate``).
    """

    function: HookFunction
    verbs: frozenset[str]
    resources: frozenset[str]
    wants_body: BodyTest | None = None

    def matches(self, verb: str, group: str, resource: str) -> bool:
        """Whether this hook runs for ``verb`` on ``group``/``resource``."""
        if verb not in self.verbs:
            return False
        key = f"{group}/{resource}" if group else resource
        return bool({"*", key, f"{group}/*"} & self.resources)

    def wants(self, raw: bytes | None) -> bool:
        """Whether the hook has work to do for a request whose raw body is ``raw`` (None: no body)."""
        return self.wants_body is None or raw is None or self.wants_body(raw)

    async def __call__(self, ctx: RequestContext, obj: Any) -> Any:
        """Run the hook function."""
        return await self.function(ctx, obj)


def object_hook(
    verbs: Iterable[str], resources: Iterable[str], wants_body: BodyTest | None = None
) -> Callable[[HookFunction], ObjectHook]:
    """Decorator registering an async ``fn(ctx, obj) -> obj`` for ``verbs`` on ``resources``.

    ``wants_body`` is the optional cheap body test of :class:`ObjectHook`. Raises ValueError for
    an unknown verb or a function that is not ``async``.
    """
    verb_set = frozenset(verbs)
    unknown = verb_set - VERBS
    if unknown:
        raise ValueError(f"unknown verbs {sorted(unknown)}; known: {sorted(VERBS)}")
    resource_set = frozenset(resources)

    def wrap(fn: HookFunction) -> ObjectHook:
        if not inspect.iscoroutinefunction(fn) and not inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - objects with an async __call__ count
        ):
            raise ValueError(f"object hook {fn!r} must be an async function")
        return ObjectHook(fn, verb_set, resource_set, wants_body)

    return wrap


def matching(hooks: Iterable[ObjectHook], verb: str, route: RequestTarget) -> list[ObjectHook]:
    """The hooks (in order) that run for ``verb`` on ``route``; none on subresources."""
    if route.resource is None or route.group is None or route.subresource is not None:
        return []
    return [h for h in hooks if h.matches(verb, route.group, route.resource)]


def context(
    verb: str,
    route: RequestTarget,
    query: Iterable[tuple[str, str]],
    headers: list[tuple[str, str]],
    user: UserInfo | None,
    lookup: Lookup,
) -> RequestContext:
    """The :class:`RequestContext` of a matched request (``query``: its parameters as pairs)."""
    params: dict[str, str] = {}
    for k, v in query:
        params.setdefault(k, v)
    return RequestContext(
        verb=verb,
        group=route.group or "",
        resource=route.resource or "",
        namespace=route.namespace,
        name=route.object_name,
        subresource=route.subresource,
        query=params,
        user=user,
        headers=list(headers),
        lookup=lookup,
    )


def with_target(error: HookError, ctx: RequestContext, obj: Any) -> HookError:
    """``error`` with ``details.name``, ``group`` and ``kind`` filled in where the hook left them
    out, as the API server's errors name the object (``kind`` is the resource plural, as in
    ``NewForbidden``; a hook giving the Kind, as ``NewInvalid`` does, keeps it)."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = ctx.name or (meta.get("name") if isinstance(meta, dict) else None)
    details = dict(error.details or {})
    for key, value in (("name", name), ("group", ctx.group), ("kind", ctx.resource)):
        if value and key not in details:
            details[key] = value
    error.details = details or None
    return error
