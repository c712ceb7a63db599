"""Test helpers around a running fakekube app: call it from any thread, reset it, seed and wait.

The pieces the pytest plugin (:mod:`fakekube.pytest_plugin`) and the mock (:mod:`fakekube.mocking`)
are built from:

- :class:`ResettableApp`: an ASGI wrapper whose inner :class:`~fakekube.FakeKube` is replaced by a
  fresh ``create_app(**options)`` on :meth:`~ResettableApp.reset` (0.2 ms), ending the requests
  still running on the old one (a watch ends as a server-side timeout would: the stream closes).
- :class:`LoopThread`: an asyncio event loop on a daemon thread, where an app lives when no
  server runs it.
- :class:`Bridge`: sends one HTTP request to the app on its loop from another thread (or another
  event loop) without a socket; the body streams back chunk by chunk (:class:`BodyStream`), so a
  watch is seen as it happens.
- :class:`Client`: ``request``/``send``/``get``/``list``/``seed``/``wait_for``/``advance`` over a bridge,
  resolving kinds through the server's discovery documents (``/api/v1``, ``/apis``), as kubectl does.

Errors: :class:`FakeKubeError` (a non-2xx answer, carrying the Kubernetes ``Status``),
``LookupError`` (a kind discovery does not list), ``TimeoutError`` (:meth:`Client.wait_for`).
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import yaml

from fakekube.server import FakeKube, create_app
from kubeapi.types import JSON

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class ResettableApp:
    """ASGI app forwarding to ``self.app`` (a :class:`FakeKube` from ``create_app(**options)``).

    :meth:`reset` must run on the event loop that serves the app (use :meth:`LoopThread.call` or
    ``asyncio.run_coroutine_threadsafe``); it swaps in a fresh app and tells the requests still
    running on the old one that their client disconnected (ASGI ``http.disconnect``), so an open
    watch ends cleanly, as after its ``timeoutSeconds``.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.app: FakeKube = create_app(**options)
        self.generation = 0
        self._running: set[asyncio.Event] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI 3 entry point; lifespan messages go to the current app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ended = asyncio.Event()
        self._running.add(ended)

        async def receive_or_reset() -> Message:
            if ended.is_set():
                return {"type": "http.disconnect"}
            got = asyncio.ensure_future(receive())
            reset = asyncio.ensure_future(ended.wait())
            await asyncio.wait({got, reset}, return_when=asyncio.FIRST_COMPLETED)
            reset.cancel()
            if got.done():
                msg: Message = got.result()
                return msg
            got.cancel()
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, receive_or_reset, send)
        finally:
            self._running.discard(ended)

    async def reset(self) -> None:
        """Replace the app with a fresh one (default namespaces only) and end the old one's requests."""
        self.app = create_app(**self.options)
        self.generation += 1
        old, self._running = self._running, set()
        for ended in old:
            ended.set()


class LoopThread:
    """An asyncio event loop running forever on a daemon thread; :meth:`stop` ends it."""

    def __init__(self, name: str = "fakekube") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Any, timeout: float | None = 30.0) -> Any:
        """Run coroutine ``coro`` on the loop and return its result (blocking the calling thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Cancel what still runs on the loop, stop it and join the thread (at most 5 s)."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                self.call(cancel_all(), timeout=5.0)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


_EOF = b""


class BodyStream:
    """A response body fed by the app's loop and read by another thread or event loop.

    Chunks (bytes) are read in order; ``b""`` means the body is complete. :meth:`close` before the
    end tells the app the client disconnected (ASGI ``http.disconnect``), which ends a watch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._waiters: deque[concurrent.futures.Future[bytes]] = deque()
        self._done = False
        self.closed = False
        self.disconnect: Callable[[], None] = lambda: None

    def feed(self, chunk: bytes) -> None:
        """Add ``chunk`` (``b""`` = end); called on the app's loop."""
        with self._lock:
            if self._done:
                return
            if not chunk:
                self._done = True
            delivered = False
            while self._waiters and not delivered:
                # A reader that gave up (timeout, asyncio cancellation) cancelled its future.
                waiter = self._waiters.popleft()
                if waiter.set_running_or_notify_cancel():
                    waiter.set_result(chunk)
                    delivered = True
            if not delivered:
                self._chunks.append(chunk)
            while self._done and self._waiters:
                waiter = self._waiters.popleft()
                if waiter.set_running_or_notify_cancel():
                    waiter.set_result(_EOF)

    def _next(self) -> concurrent.futures.Future[bytes]:
        fut: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        with self._lock:
            if self._chunks:
                fut.set_result(self._chunks.popleft())
            elif self._done or self.closed:
                fut.set_result(_EOF)
            else:
                self._waiters.append(fut)
        return fut

    def next_chunk(self, timeout: float | None = None) -> bytes:
        """The next non-empty chunk, or ``b""`` at the end; blocks up to ``timeout`` s, then raises
        TimeoutError (nothing is lost: a chunk arriving later goes to the next read)."""
        fut = self._next()
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            if fut.cancel():
                raise TimeoutError(f"no data within {timeout} s") from None
            return fut.result()

    async def anext_chunk(self) -> bytes:
        """:meth:`next_chunk` for an asyncio consumer (any event loop)."""
        return await asyncio.wrap_future(self._next())

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.next_chunk():
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.anext_chunk():
            yield chunk

    def read_all(self) -> bytes:
        """The rest of the body (blocks until the app finishes it)."""
        return b"".join(self)

    def close(self) -> None:
        """Stop reading: pending readers get ``b""`` and the app sees a disconnect."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._chunks.clear()
            while self._waiters:
                waiter = self._waiters.popleft()
                if waiter.set_running_or_notify_cancel():
                    waiter.set_result(_EOF)
        self.disconnect()


@dataclass
class Response:
    """One answer: ``status``, ``headers`` (lower-case names; repeated ones joined by ``, ``),
    ``raw_headers`` (as sent) and the ``body`` stream."""

    status: int
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: BodyStream
    _content: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def read(self) -> bytes:
        """The rest of the body as bytes, blocking until the app ends it (a watch: until its
        ``timeoutSeconds`` or an ``ERROR`` event). Read once and kept, so later :meth:`read` and
        :meth:`json` calls see the same bytes; chunks already taken from ``body`` are not in it."""
        if self._content is None:
            self._content = self.body.read_all()
        return self._content

    def json(self) -> Any:
        """The whole body (:meth:`read`) parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.read())


class Bridge:
    """Calls an ASGI app living on ``loop`` from other threads, with no socket.

    ``app`` is usually a :class:`ResettableApp`. Requests are built as an HTTP server would build
    the ASGI ``http`` scope; the response head is awaited, the body streams (:class:`BodyStream`).
    """

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop

    def start(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> concurrent.futures.Future[Response]:
        """Send a request; the future resolves once the response head arrives (or fails with the
        app's exception)."""
        stream = BodyStream()
        head: concurrent.futures.Future[Response] = concurrent.futures.Future()
        hdrs = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
        if body and not any(k == b"content-length" for k, _ in hdrs):
            hdrs.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query_string.encode("latin-1"),
            "root_path": "",
            "headers": hdrs,
            "client": ("127.0.0.1", 0),
            "server": ("fakekube.mock", 443),
        }

        async def run() -> None:
            gone = asyncio.Event()

            def disconnect() -> None:
                self.loop.call_soon_threadsafe(gone.set)

            stream.disconnect = disconnect
            sent_body = False

            async def receive() -> Message:
                nonlocal sent_body
                if not sent_body:
                    sent_body = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(msg: Message) -> None:
                if msg["type"] == "http.response.start":
                    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in msg.get("headers", [])]
                    joined: dict[str, str] = {}
                    for k, v in raw:
                        k = k.lower()
                        joined[k] = f"{joined[k]}, {v}" if k in joined else v
                    head.set_result(Response(msg["status"], joined, raw, stream))
                elif msg["type"] == "http.response.body":
                    if stream.closed:
                        raise OSError("client disconnected")
                    chunk = msg.get("body", b"")
                    if chunk:
                        stream.feed(bytes(chunk))
                    if not msg.get("more_body", False):
                        stream.feed(_EOF)

            try:
                await self.app(scope, receive, send)
            except asyncio.CancelledError:
                if not head.done():
                    head.set_exception(RuntimeError("the request was cancelled"))
                raise
            except Exception as e:
                # Before the head: the caller gets the error. After it: the reader stopped
                # (disconnect); the body just ends.
                if not head.done():
                    head.set_exception(e)
            finally:
                stream.feed(_EOF)
                if not head.done():
                    head.set_exception(RuntimeError("the app sent no response"))

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(run()))
        return head

    def request(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        timeout: float | None = 30.0,
    ) -> Response:
        """:meth:`start` and wait (at most ``timeout`` s) for the response head."""
        return self.start(method, path, query_string, headers, body).result(timeout)

    async def arequest(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        """:meth:`start` awaited from any event loop."""
        return await asyncio.wrap_future(self.start(method, path, query_string, headers, body))


class FakeKubeError(Exception):
    """A request answered with a non-2xx code; ``status`` is the Kubernetes ``Status`` (or the body)."""

    def __init__(self, code: int, status: Any) -> None:
        message = status.get("message") if isinstance(status, dict) else status
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Resource:
    """A served resource from discovery: ``group`` ("" for core), ``version``, ``plural``, ``kind``,
    ``namespaced`` and its ``subresources`` (e.g. ``{"status", "scale"}``)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: frozenset[str]
    names: frozenset[str]

    @property
    def api_version(self) -> str:
        """``group/version`` (or just ``version`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """The REST path of the collection (``name`` None) or of one object."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        if name is not None:
            root += f"/{name}"
            if sub:
                root += f"/{sub}"
        return root


class Client:
    """Convenience calls to a fakekube app through ``bridge`` (state inspection, seeding, waiting).

    Kinds are named as kubectl accepts them: ``RayCluster``, ``rayclusters``, ``raycluster``, a
    short name, or ``rayclusters.ray.io``; discovery is read once per app generation.
    """

    def __init__(self, bridge: Bridge, generation: Callable[[], int] = lambda: 0) -> None:
        self.bridge = bridge
        self._generation = generation
        self._resources: tuple[int, builtins.list[Resource]] | None = None

    # -- raw requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON answer; raises :class:`FakeKubeError` on >= 300.

        ``body``: bytes/str sent as is, anything else as JSON.
        """
        hdrs = [("accept", "application/json"), *(headers or {}).items()]
        r = self._send(method, path, body, query, content_type, hdrs)
        data = r.body.read_all()
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = data.decode("utf-8", "replace")
        if r.status >= 300:
            raise FakeKubeError(r.status, decoded)
        return decoded

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send a request and return the :class:`Response` whatever its code, for tests of status
        codes, reasons, headers and raw bodies (:meth:`request` decodes and raises instead).

        ``body``: bytes/str sent as is, anything else as JSON; ``content_type`` goes with a
        non-empty body. ``query``: parameters, URL-encoded. ``headers``: the request headers
        (none is added, not even ``accept``). Waits at most 30 s for the response head
        (``TimeoutError``); the body is then read with :meth:`Response.read`/:meth:`Response.json`
        or streamed from ``Response.body`` (a watch, event by event). An exception the app raises
        before the response head is raised here.
        """
        return self._send(method, path, body, query, content_type, list((headers or {}).items()))

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: Mapping[str, str] | None,
        content_type: str,
        headers: builtins.list[tuple[str, str]],
    ) -> Response:
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        if raw:
            headers = [*headers, ("content-type", content_type)]
        return self.bridge.request(method, path, urlencode(query or {}), headers, raw)

    # -- discovery -----------------------------------------------------------------------------

    def resources(self) -> builtins.list[Resource]:
        """Every served resource (first the core group, then ``/apis`` groups in discovery order)."""
        gen = self._generation()
        if self._resources is not None and self._resources[0] == gen:
            return self._resources[1]
        versions = [("", "v1")]
        for g in self.request("GET", "/apis").get("groups", []):
            versions += [(g["name"], v["version"]) for v in g.get("versions", [])]
        out: builtins.list[Resource] = []
        for group, version in versions:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            listed = self.request("GET", path).get("resources", [])
            subs: dict[str, set[str]] = {}
            for r in listed:
                plural, _, sub = r["name"].partition("/")
                if sub:
                    subs.setdefault(plural, set()).add(sub)
            for r in listed:
                if "/" in r["name"]:
                    continue
                names = {r["name"], r["kind"].lower(), r.get("singularName", "") or r["kind"].lower()}
                names |= {s.lower() for s in r.get("shortNames", [])}
                if group:
                    names.add(f"{r['name']}.{group}")
                out.append(
                    Resource(
                        group,
                        version,
                        r["name"],
                        r["kind"],
                        bool(r.get("namespaced")),
                        frozenset(subs.get(r["name"], ())),
                        frozenset(names),
                    )
                )
        self._resources = (gen, out)
        return out

    def resource(self, kind: str, api_version: str | None = None) -> Resource:
        """The resource named ``kind`` (see the class doc), optionally within ``api_version``.

        Raises LookupError when discovery does not list it.
        """
        want = kind.lower()
        for fresh in (False, True):
            if fresh:  # a CRD created since discovery was read (e.g. by seed) adds kinds
                self._resources = None
            for r in self.resources():
                named = want in r.names or r.kind == kind
                if named and (api_version is None or r.api_version == api_version):
                    return r
        raise LookupError(f'the server doesn\'t have a resource type "{kind}"')

    def install_ray_crds(self) -> None:
        """Make sure the ``ray.io`` kinds are served: when ``/apis/ray.io/v1`` is not found, create
        the bundled Ray CRDs (:func:`fakekube.crd.builtin.crd_files`) through the
        ``customresourcedefinitions`` API, as ``kubectl apply -f`` would."""
        try:
            self.request("GET", "/apis/ray.io/v1")
            return
        except FakeKubeError as e:
            if e.code != 404:
                raise
        from fakekube.crd.builtin import crd_files

        for path in crd_files():
            self.request(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", path.read_bytes()
            )

    # -- objects -------------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str = "default") -> JSON | None:
        """The object, or None when it does not exist."""
        r = self.resource(kind)
        try:
            obj: JSON = self.request("GET", r.path(namespace, name))
        except FakeKubeError as e:
            if e.code == 404:
                return None
            raise
        return obj

    def list(
        self, kind: str, namespace: str | None = "default", label_selector: str = "", field_selector: str = ""
    ) -> builtins.list[JSON]:
        """The objects of ``kind`` in ``namespace`` (None: all namespaces), optionally selected."""
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        path = self.resource(kind).path(namespace)
        items: builtins.list[JSON] = self.request("GET", path, query=query)["items"]
        return items

    def seed(self, objects: Any, namespace: str = "default") -> builtins.list[JSON]:
        """Create objects as a client would (validated, defaulted), returning them as stored.

        ``objects``: a dict, a ``kind: List`` dict, a list of dicts, or YAML/JSON text (several
        documents allowed). A namespaced object without ``metadata.namespace`` goes to
        ``namespace``. A ``status`` in the input is then written through the ``status``
        subresource (as a controller would), since a create ignores it. Raises
        :class:`FakeKubeError` (the Status) on the first refused object; earlier ones stay.
        """
        docs: builtins.list[Any]
        if isinstance(objects, str | bytes):
            docs = [d for d in yaml.safe_load_all(objects) if d is not None]
        elif isinstance(objects, list):
            docs = objects
        else:
            docs = [objects]
        out: builtins.list[JSON] = []
        for doc in _flatten(docs):
            out.append(self._seed_one(doc, namespace))
        return out

    def _seed_one(self, obj: JSON, namespace: str) -> JSON:
        r = self.resource(obj["kind"], obj.get("apiVersion"))
        ns = (obj.get("metadata") or {}).get("namespace") or namespace
        created: JSON = self.request("POST", r.path(ns), obj)
        status = obj.get("status")
        if status and "status" in r.subresources:
            name = created["metadata"]["name"]
            created = self.request("PUT", r.path(ns, name, "status"), {**created, "status": status})
        return created

    def wait_for(
        self,
        kind: str,
        name: str,
        namespace: str = "default",
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        interval: float = 0.02,
    ) -> JSON:
        """Poll until object ``name`` exists and ``predicate(obj)`` is true; return it.

        ``timeout``/``interval`` in seconds. Raises TimeoutError naming the last state seen.
        """
        deadline = time.monotonic() + timeout
        while True:
            obj = self.get(kind, name, namespace)
            if obj is not None and (predicate is None or predicate(obj)):
                return obj
            if time.monotonic() >= deadline:
                state = "absent" if obj is None else json.dumps(obj.get("status", {}))[:500]
                raise TimeoutError(
                    f"{kind} {namespace}/{name}: condition not met in {timeout} s (status: {state})"
                )
            time.sleep(interval)

    def wait_for_deletion(
        self, kind: str, name: str, namespace: str = "default", timeout: float = 10.0
    ) -> None:
        """Poll until object ``name`` is gone; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while self.get(kind, name, namespace) is not None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{kind} {namespace}/{name} still exists after {timeout} s")
            time.sleep(0.02)

    def advance(self, seconds: float) -> None:
        """Move the app's manual clock on by ``seconds`` (the simulated operator's delays:
        ``create_app(simulate_operator=Simulation(manual_clock=True))``), on the app's loop;
        RuntimeError when the app runs on the real clock."""
        target = self.bridge.app
        app: FakeKube = target.app if isinstance(target, ResettableApp) else target

        async def go() -> None:
            app.controllers.advance(seconds)

        asyncio.run_coroutine_threadsafe(go(), self.bridge.loop).result(30)


def httpx_handlers(httpx: Any, bridge_of: Callable[[], Bridge]) -> tuple[Any, Any]:
    """(sync, async) request handlers for ``httpx`` (the module, or an API-compatible fork such as
    ``httpx2``) that answer from the app behind ``bridge_of()``, streaming the body.

    Usable as ``httpx.MockTransport(handler)`` or inside a patched transport. Typed ``Any``: the
    module is passed in, so its ``Request``/``Response`` types are not known statically.
    """

    class SyncStream(httpx.SyncByteStream):  # type: ignore[misc]
        """A response body read by a synchronous httpx client, chunk by chunk as the app sends it."""

        def __init__(self, body: BodyStream) -> None:
            self._body = body

        def __iter__(self) -> Iterator[bytes]:
            yield from self._body

        def close(self) -> None:
            self._body.close()

    class AsyncStream(httpx.AsyncByteStream):  # type: ignore[misc]
        """A response body read by an asynchronous httpx client, chunk by chunk as the app sends it."""

        def __init__(self, body: BodyStream) -> None:
            self._body = body

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._body:
                yield chunk

        async def aclose(self) -> None:
            self._body.close()

    def parts(request: Any) -> tuple[str, str, list[tuple[str, str]]]:
        url = request.url
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        query = url.query.decode("ascii") if isinstance(url.query, bytes) else str(url.query)
        return url.path, query, headers

    def handle(request: Any) -> Any:
        path, query, headers = parts(request)
        resp = bridge_of().request(request.method, path, query, headers, request.read(), timeout=None)
        return httpx.Response(resp.status, headers=resp.raw_headers, stream=SyncStream(resp.body))

    async def ahandle(request: Any) -> Any:
        path, query, headers = parts(request)
        body = await request.aread()
        resp = await bridge_of().arequest(request.method, path, query, headers, body)
        return httpx.Response(resp.status, headers=resp.raw_headers, stream=AsyncStream(resp.body))

    return handle, ahandle


def _flatten(docs: Iterable[Any]) -> Iterator[JSON]:
    for d in docs:
        if not isinstance(d, dict):
            raise TypeError(f"expected a Kubernetes object (mapping), got {type(d).__name__}")
        if d.get("kind", "").endswith("List") and isinstance(d.get("items"), list):
            yield from _flatten(d["items"])
        else:
            yield d
