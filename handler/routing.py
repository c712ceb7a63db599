"""The route-table types: a :class:`Route` (pattern, verbs, steps, backend) and the :class:`RouteTable`
that matches a request against them, as Go's ``http.ServeMux`` patterns do in KubeRay's
``apiserversdk/proxy.go`` ``NewMux``. The gateway's own table is :func:`handler.routes.gateway_routes`.

Patterns are matched on the raw, percent-encoded request path, segment by segment. A segment that
decodes to ``.`` or ``..``, or contains ``/`` or ``\\``, is refused (404), because URL
normalisation further along (the upstream client or server) would otherwise turn an
allowed-looking path into another one; empty segments are tolerated only as a trailing slash
(:func:`kubeapi.requestinfo.split_path`, the rules fakekube applies too).
Pattern segments:

- a literal (``api``, ``namespaces``...);
- ``{namespace}``, ``{name}``: one segment, percent-decoded into the match's ``namespace`` /
  ``object_name``; ``{namespace:raw}`` keeps it encoded;
- ``{service}``: a services-proxy segment ``name``, ``name:port`` or ``scheme:name:port``
  (its Service name goes into ``service``);
- ``{resource...}`` (last): one or more segments read as the tail of an API path,
  ``[namespaces/{ns}/]{plural}[/{name}[/{subresource...}]]`` (kube-apiserver's requestinfo.go);
- ``{path...}`` (last): zero or more segments, not interpreted; ``{path+}`` one or more.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, overload

from handler.target import RequestTarget, RouteFamily
from kubeapi.requestinfo import namespace_and_rest, path_unescape, split_path, split_scheme_name_port
from kubeapi.status import new_method_not_allowed_for, new_path_not_found

if TYPE_CHECKING:
    from handler.request import GatewayRequest
    from handler.responses import AnyResponse

#: How many matched paths a table remembers, and the longest path it remembers (characters).
MATCH_CACHE_ENTRIES = 4096
MATCH_CACHE_PATH_CHARS = 512

ALL_VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
READ_VERBS = frozenset({"GET", "HEAD"})

#: What a step or a backend hands on: ``await next(request)`` runs the rest of the route.
Handler = Callable[["GatewayRequest"], Awaitable["AnyResponse"]]


class Step:
    """One step of a route: ``await step(request, next)`` returns the response.

    A step may change the request then ``return await next(request)``, answer itself without
    calling ``next`` (a refusal is ``raise StatusError``), or look at the response ``next``
    returned. ``name`` identifies it in :meth:`RouteTable.replace_step` / ``add_step``.
    Subclass it, or wrap an async function with :func:`step`.
    """

    name: str = "step"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Run this step (the default passes the request on unchanged)."""
        return await next(request)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


#: A check a WebSocket upgrade must pass: returns, or raises StatusError to refuse the handshake.
WebSocketCheck = Callable[["GatewayRequest"], Awaitable[None]]

StepFunction = Callable[["GatewayRequest", Handler], Awaitable["AnyResponse"]]


class _FunctionStep(Step):
    """A step made of an async function (see :func:`step`)."""

    def __init__(self, fn: StepFunction, name: str) -> None:
        self.fn = fn
        self.name = name

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        return await self.fn(request, next)


@overload
def step(fn: StepFunction, *, name: str | None = None) -> Step: ...


@overload
def step(fn: None = None, *, name: str | None = None) -> Callable[[StepFunction], Step]: ...


def step(fn: StepFunction | None = None, *, name: str | None = None) -> Step | Callable[[StepFunction], Step]:
    """Make an async ``fn(request, next) -> response`` a :class:`Step` named ``name`` (default:
    the function's name). Use as ``step(fn)``, ``@step`` or ``@step(name="...")``."""

    def wrap(f: StepFunction) -> Step:
        return _FunctionStep(f, name or str(getattr(f, "__name__", "step")))

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True)
class Route:
    """One line of the route table.

    ``pattern`` is the path pattern (see the module docstring); ``verbs`` the HTTP methods allowed
    (None: any; another verb on the path is a 405); ``name`` the low-cardinality label of the
    metrics; ``family`` what request rules see; ``steps`` run in order before ``backend``, which
    makes the response; ``websocket`` lists the checks a WebSocket upgrade on this path must pass
    (None: upgrades are refused, 404); ``group`` / ``resource`` / ``subresource`` are the API
    group, plural and subresource the route serves when its pattern does not capture them (``""``
    for core).
    """

    pattern: str
    verbs: frozenset[str] | None
    name: str
    family: RouteFamily
    steps: tuple[Step, ...]
    backend: Handler
    websocket: tuple[WebSocketCheck, ...] | None = None
    group: str | None = None
    resource: str | None = None
    subresource: str | None = None
    segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.pattern.strip("/").split("/")))

    def with_steps(self, steps: Iterable[Step]) -> Route:
        """A copy with ``steps`` instead of this route's."""
        return replace(self, steps=tuple(steps))

    def handler(self) -> Handler:
        """The steps composed around the backend: one callable per route, built once."""
        handler = self.backend
        for s in reversed(self.steps):
            # partial, not a closure: one coroutine per step and request, not two.
            handler = functools.partial(s.__call__, next=handler)
        return handler


def path_segments(path: str) -> list[str]:
    """The raw segments of ``path`` (a trailing slash dropped), after kube-apiserver-compatible
    safety checks (:func:`kubeapi.requestinfo.split_path`): StatusError 404 for a dot segment, an
    encoded slash or backslash, or an inner empty segment."""
    return split_path(path)[0]


def service_name(segment: str) -> str:
    """The Service name in a raw proxy path segment ``name``, ``name:port`` or ``scheme:name:port``
    (:func:`kubeapi.requestinfo.split_scheme_name_port`); for a segment that function refuses, the
    text before the first ``:`` (the upstream then answers for the Service it does not have)."""
    decoded = path_unescape(segment)
    target = split_scheme_name_port(decoded)
    return target.name if target is not None else decoded.split(":")[0]


def _api_tail(route: Route, rest: Sequence[str]) -> RequestTarget:
    """``[namespaces/{ns}/]{plural}[/{name}[/{sub...}]]`` of an API path, percent-decoded; the
    namespace is read as kube-apiserver reads it (:func:`kubeapi.requestinfo.namespace_and_rest`:
    ``namespaces/{ns}`` alone is the Namespace object ``{ns}``)."""
    raw_ns, rest = namespace_and_rest(rest)
    ns = path_unescape(raw_ns) if raw_ns else None
    parts = [path_unescape(p) for p in rest]
    resource = parts[0] if parts else None
    name = parts[1] if len(parts) >= 2 else None
    sub = "/".join(parts[2:]) if len(parts) >= 3 else None
    return RequestTarget(route.family, route.name, ns, None, route.group, resource, name, sub)


def _match_one(route: Route, segs: list[str]) -> RequestTarget | None:
    """``route``'s match of ``segs``, or None."""
    pattern = route.segments
    captured: dict[str, str] = {}
    for i, p in enumerate(pattern):
        if p.startswith("{") and p.endswith("...}"):
            rest = segs[i:]
            if p == "{resource...}":
                return _api_tail(route, rest) if rest else None
            break
        if p == "{path+}":
            if i >= len(segs):
                return None
            break
        if i >= len(segs):
            return None
        seg = segs[i]
        if p[0] == "{":
            captured[p] = seg
        elif seg != p:
            return None
    else:
        if len(segs) != len(pattern):
            return None
    ns = captured.get("{namespace}")
    raw_ns = captured.get("{namespace:raw}")
    name = captured.get("{name}")
    svc = captured.get("{service}")
    return RequestTarget(
        route.family,
        route.name,
        raw_ns if raw_ns is not None else (path_unescape(ns) if ns is not None else None),
        service_name(svc) if svc is not None else None,
        route.group,
        route.resource,
        path_unescape(name) if name is not None else None,
        route.subresource,
    )


class RouteTable:
    """The ordered routes of a gateway; the first whose pattern matches the path serves it.

    The extension point of ``create_app(routes=...)``: :meth:`add` a route, :meth:`add_step` /
    :meth:`replace_step` / :meth:`remove_step` on an existing one (routes are named by
    :attr:`Route.name`; several routes may share a name, e.g. the two events APIs, and each is
    changed).
    """

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes: list[Route] = list(routes)
        self._handlers: dict[int, Handler] | None = None
        self._matched: dict[str, tuple[Route, RequestTarget]] = {}

    def __iter__(self) -> Iterator[Route]:
        """The routes, in match order."""
        return iter(self.routes)

    def names(self) -> list[str]:
        """The route names, in table order (repeated names once)."""
        return list(dict.fromkeys(r.name for r in self.routes))

    def add(self, route: Route, before: str | None = None) -> None:
        """Add ``route`` at the end, or before the first route named ``before`` (a more specific
        pattern must come before a broader one that would match the same path)."""
        if before is None:
            self.routes.append(route)
        else:
            self.routes.insert(self._index(before), route)
        self._changed()

    def _changed(self) -> None:
        """Forget what was derived from the routes (composed handlers, matched paths)."""
        self._handlers = None
        self._matched = {}

    def _index(self, name: str) -> int:
        for i, r in enumerate(self.routes):
            if r.name == name:
                return i
        raise KeyError(f"no route named {name!r}; routes: {self.names()}")

    def _update(self, name: str, change: Callable[[list[Step]], None]) -> None:
        self._index(name)  # KeyError for an unknown name
        for i, r in enumerate(self.routes):
            if r.name == name:
                steps = list(r.steps)
                change(steps)
                self.routes[i] = r.with_steps(steps)
        self._changed()

    def add_step(self, route: str, new: Step, before: str | None = None, after: str | None = None) -> None:
        """Add step ``new`` to every route named ``route``: last (just before the backend), or
        before / after the step named ``before`` / ``after``. KeyError for unknown names."""

        def change(steps: list[Step]) -> None:
            if before is None and after is None:
                steps.append(new)
                return
            target = before or after
            i = next((j for j, s in enumerate(steps) if s.name == target), None)
            if i is None:
                raise KeyError(f"route {route!r} has no step {target!r}")
            steps.insert(i if before else i + 1, new)

        self._update(route, change)

    def replace_step(self, route: str, name: str, new: Step) -> None:
        """Replace the step named ``name`` of every route named ``route`` with ``new``."""

        def change(steps: list[Step]) -> None:
            i = next((j for j, s in enumerate(steps) if s.name == name), None)
            if i is None:
                raise KeyError(f"route {route!r} has no step {name!r}")
            steps[i] = new

        self._update(route, change)

    def remove_step(self, route: str, name: str) -> None:
        """Remove the step named ``name`` from every route named ``route``."""

        def change(steps: list[Step]) -> None:
            kept = [s for s in steps if s.name != name]
            if len(kept) == len(steps):
                raise KeyError(f"route {route!r} has no step {name!r}")
            steps[:] = kept

        self._update(route, change)

    def match(self, method: str, path: str) -> tuple[Route, RequestTarget]:
        """The route serving ``method`` on raw ``path`` and what the request addresses;
        StatusError 404 (no route) or 405 (a route matches the path but not the verb).

        Matches are remembered per path (the target is immutable, and a gateway sees the same
        paths again and again): up to :data:`MATCH_CACHE_ENTRIES` paths of at most
        :data:`MATCH_CACHE_PATH_CHARS` characters, forgotten all at once when full and whenever the
        table changes through its methods. A refused path (404) is not remembered."""
        found = self._matched.get(path)
        if found is None:
            found = self._match_path(path)
            if len(path) <= MATCH_CACHE_PATH_CHARS:
                if len(self._matched) >= MATCH_CACHE_ENTRIES:  # many distinct paths: start over
                    self._matched = {}
                self._matched[path] = found
        route = found[0]
        if route.verbs is not None and method not in route.verbs:
            raise new_method_not_allowed_for(method)
        return found

    def _match_path(self, path: str) -> tuple[Route, RequestTarget]:
        segs = path_segments(path)
        for route in self.routes:
            matched = _match_one(route, segs)
            if matched is not None:
                return route, matched
        raise new_path_not_found()

    def handler(self, route: Route) -> Handler:
        """``route``'s composed steps and backend (built once per table state)."""
        if self._handlers is None:
            self._handlers = {id(r): r.handler() for r in self.routes}
        h = self._handlers.get(id(route))
        return h if h is not None else route.handler()
