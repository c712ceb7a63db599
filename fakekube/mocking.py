"""Moto-style mocking: ``with fakekube.mock() as m:`` / ``@fakekube.mock`` route Kubernetes clients
to an in-process fakekube, with no socket and no kubeconfig on disk.

While a mock is active:

- the official ``kubernetes`` client: ``config.load_kube_config()``, ``load_incluster_config()``,
  ``load_config()``, ``new_client_from_config()`` and ``list_kube_config_contexts()`` answer with
  the fake cluster (nothing is read from disk or the environment) and the default
  ``Configuration`` points at it, so code that loads no config at all is routed too. Its HTTP
  goes through ``urllib3``; ``PoolManager.urlopen`` (and ``ProxyManager``'s) hand requests for
  :data:`FAKE_SERVER` to the app and return a streaming ``urllib3.HTTPResponse``, so
  ``watch.Watch().stream(...)`` sees events as they happen;
- ``httpx`` (and ``httpx2``, which lightkube uses): ``HTTPTransport.handle_request`` /
  ``AsyncHTTPTransport.handle_async_request`` do the same for :data:`FAKE_SERVER`;
- ``kr8s``: its ``KubeAuth.reauthenticate`` takes the fake server (no kubeconfig, no service
  account); ``lightkube``: ``KubeConfig.from_env()`` is the fake server.

Requests to any other host go to the real transports unchanged. The app runs on a private event
loop thread (:class:`fakekube.testing.LoopThread`), so sync and async callers share one state.
``m`` is a :class:`fakekube.testing.Client` (``get``/``list``/``seed``/``wait_for``/``request``)
plus :meth:`Mock.reset` and :attr:`Mock.store`.

Limits: clients created from a configuration *before* the mock started keep their real host;
``from kubernetes.config import load_kube_config`` done before the mock started keeps the real
function (patch targets are module attributes, as with ``unittest.mock``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import functools
import inspect
import threading
from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from fakekube.testing import Bridge, Client, LoopThread, ResettableApp, Response, httpx_handlers

#: The URL the mocked clients are configured with (never resolved: requests to it never leave
#: the process).
FAKE_SERVER = "https://fakekube.mock"
FAKE_HOST = "fakekube.mock"

F = TypeVar("F", bound=Callable[..., Any])

# The innermost active mock serves requests (mocks may nest; patches are installed once).
_active: list[Mock] = []
_patch_lock = threading.Lock()
_patches: contextlib.ExitStack | None = None


def _current() -> Mock:
    if not _active:
        raise RuntimeError("no fakekube mock is active")
    return _active[-1]


def _is_fake(host: str | None) -> bool:
    return (host or "").lower() == FAKE_HOST


class Mock(Client):
    """An in-process fakekube plus the client patches; a context manager and a decorator.

    ``options`` go to :func:`fakekube.create_app` (e.g. ``namespace_finalize_delay=0``).
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._thread: LoopThread | None = None
        self._app: ResettableApp | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Mock:
        """Start the app and install the patches (idempotent per instance)."""
        if self._thread is not None:
            return self
        self._thread = LoopThread("fakekube-mock")
        self._app = ResettableApp(**self.options)
        app = self._app
        super().__init__(Bridge(app, self._thread.loop), lambda: app.generation)
        _install()
        _active.append(self)
        self.install_ray_crds()
        return self

    def stop(self) -> None:
        """Remove the patches (when no other mock is active) and stop the app."""
        if self._thread is None:
            return
        if self in _active:
            _active.remove(self)
        if not _active:
            _uninstall()
        self._thread.stop()
        self._thread = None

    def __enter__(self) -> Mock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        """Decorate ``func`` (sync or ``async def``) to run inside a fresh mock (same options)."""
        options = self.options
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with Mock(**options):
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Mock(**options):
                return func(*args, **kwargs)

        return cast(F, wrapper)

    # -- state ---------------------------------------------------------------------------------

    @property
    def app(self) -> ResettableApp:
        """The served app (``app.app`` is the current :class:`fakekube.FakeKube`)."""
        if self._app is None:
            raise RuntimeError("the mock is not started")
        return self._app

    @property
    def store(self) -> Any:
        """The current app's :class:`fakekube._storage.store.Store`. Read it only while no request runs
        (it belongs to the mock's event loop thread); :meth:`get`/:meth:`list` are always safe."""
        return self.app.app.store

    def reset(self) -> None:
        """Forget every object (fresh app with the default namespaces); open watches end."""
        assert self._thread is not None, "the mock is not started"
        self._thread.call(self.app.reset())
        self.install_ray_crds()

    @property
    def server(self) -> str:
        """The URL clients are pointed at (:data:`FAKE_SERVER`)."""
        return FAKE_SERVER

    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for the fake cluster."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = FAKE_SERVER
        cfg.verify_ssl = False
        return cfg


def mock(func: F | None = None, /, **options: Any) -> Any:
    """``with mock() as m:``, ``@mock`` or ``@mock(**options)``: see the module doc.

    ``options`` go to :func:`fakekube.create_app`.
    """
    if func is not None:
        return Mock(**options)(func)
    return Mock(**options)


# ---------------------------------------------------------------------------------------------
# the patches


def _install() -> None:
    global _patches
    with _patch_lock:
        if _patches is not None:
            return
        stack = contextlib.ExitStack()
        try:
            _patch_urllib3(stack)
            _patch_kubernetes(stack)
            _patch_httpx(stack, "httpx")
            _patch_httpx(stack, "httpx2")
            _patch_kr8s(stack)
            _patch_lightkube(stack)
        except BaseException:
            stack.close()
            raise
        _patches = stack


def _uninstall() -> None:
    global _patches
    with _patch_lock:
        if _patches is not None:
            _patches.close()
            _patches = None


def _setattr(stack: contextlib.ExitStack, target: Any, name: str, value: Any) -> None:
    old = target.__dict__[name] if isinstance(target, type) else getattr(target, name)
    setattr(target, name, value)
    stack.callback(setattr, target, name, old)


def _split(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.path or "/", parts.query


# -- urllib3 (the kubernetes client) --------------------------------------------------------------


class _BodyReader:
    """File-like view of a :class:`BodyStream` for ``urllib3.HTTPResponse``; ``read_timeout``
    (seconds, None = wait forever) bounds each wait for data, as a socket read timeout does."""

    def __init__(self, resp: Response, url: str, read_timeout: float | None) -> None:
        self._body = resp.body
        self._url = url
        self._timeout = read_timeout
        self._buf = b""
        self.closed = False

    def _chunk(self) -> bytes:
        import urllib3

        try:
            return self._body.next_chunk(self._timeout)
        except TimeoutError:
            raise urllib3.exceptions.ReadTimeoutError(
                None,  # type: ignore[arg-type]
                self._url,
                f"Read timed out. (read timeout={self._timeout})",
            ) from None

    def read(self, amt: int | None = None) -> bytes:
        if amt is None or amt < 0:
            chunks = [self._buf]
            self._buf = b""
            while chunk := self._chunk():
                chunks.append(chunk)
            self.closed = True
            return b"".join(chunks)
        while len(self._buf) < amt:
            chunk = self._chunk()
            if not chunk:
                break
            self._buf += chunk
        data, self._buf = self._buf[:amt], self._buf[amt:]
        if not data:
            self.closed = True
        return data

    def next_chunk(self) -> bytes:
        if self._buf:
            data, self._buf = self._buf, b""
            return data
        return self._chunk()

    def close(self) -> None:
        self.closed = True
        self._body.close()


def _read_timeout(value: Any) -> float | None:
    """Seconds from urllib3's ``timeout`` argument (a number or a ``urllib3.Timeout``)."""
    if value is None or isinstance(value, int | float):
        return value
    # The raw fields: ``Timeout.read_timeout`` needs a started connect timer when ``total`` is set.
    fields = (getattr(value, "_read", None), getattr(value, "total", None))
    limits = [t for t in fields if isinstance(t, int | float)]
    return min(limits) if limits else None


def _urllib3_response(method: str, url: str, resp: Response, preload: bool, timeout: float | None) -> Any:
    import urllib3

    class StreamingResponse(urllib3.HTTPResponse):
        """``stream()`` yields chunks as the app sends them (a watch is not read to its end first)."""

        def stream(
            self, amt: int | None = 2**16, decode_content: bool | None = None
        ) -> Generator[bytes, None, None]:
            reader = cast(_BodyReader, self._fp)
            while chunk := reader.next_chunk():
                yield chunk

    reader = _BodyReader(resp, url, timeout)
    headers = urllib3.HTTPHeaderDict()
    for k, v in resp.raw_headers:
        headers.add(k, v)
    return StreamingResponse(
        body=cast(Any, reader),
        headers=headers,
        status=resp.status,
        reason=_reason(resp.status),
        preload_content=preload,
        decode_content=False,
        request_method=method,
        request_url=url,
    )


def _reason(code: int) -> str:
    with contextlib.suppress(ValueError):
        return HTTPStatus(code).phrase
    return ""


def _patch_urllib3(stack: contextlib.ExitStack) -> None:
    try:
        import urllib3
        from urllib3.poolmanager import ProxyManager
    except ImportError:
        return
    for cls in (urllib3.PoolManager, ProxyManager):
        original = cls.__dict__["urlopen"]

        def urlopen(
            self: Any, method: str, url: str, redirect: bool = True, _orig: Any = original, **kw: Any
        ) -> Any:
            host, path, query = _split(url)
            if not _is_fake(host) or not _active:
                return _orig(self, method, url, redirect, **kw)
            body = kw.get("body") or b""
            if isinstance(body, str):
                body = body.encode()
            headers = dict(kw.get("headers") or {})
            timeout = _read_timeout(kw.get("timeout"))
            future = _current().bridge.start(method, path, query, headers.items(), bytes(body))
            try:
                resp = future.result(timeout)
            except concurrent.futures.TimeoutError:
                # The client gave up: a late answer (e.g. a watch) is closed, not left streaming.
                future.add_done_callback(lambda f: None if f.exception() else f.result().body.close())
                raise urllib3.exceptions.ReadTimeoutError(
                    self, url, f"Read timed out. (read timeout={timeout})"
                ) from None
            return _urllib3_response(method, url, resp, bool(kw.get("preload_content", True)), timeout)

        _setattr(stack, cls, "urlopen", urlopen)


# -- kubernetes.config ----------------------------------------------------------------------------


def _patch_kubernetes(stack: contextlib.ExitStack) -> None:
    try:
        from kubernetes import client, config
        from kubernetes.config import incluster_config, kube_config
    except ImportError:
        return

    def fake_configuration(target: Any = None) -> Any:
        cfg = target if target is not None else client.Configuration()
        cfg.host = FAKE_SERVER
        cfg.verify_ssl = False
        cfg.api_key = {}
        cfg.api_key_prefix = {}
        cfg.cert_file = cfg.key_file = cfg.ssl_ca_cert = None
        return cfg

    def load_kube_config(*args: Any, client_configuration: Any = None, **kwargs: Any) -> None:
        """fakekube mock: configure the fake cluster (no kubeconfig is read)."""
        if client_configuration is not None:
            fake_configuration(client_configuration)
        else:
            client.Configuration.set_default(fake_configuration())

    def load_incluster_config(client_configuration: Any = None, try_refresh_token: bool = True) -> None:
        """fakekube mock: configure the fake cluster (no service account is read)."""
        load_kube_config(client_configuration=client_configuration)

    def load_config(**kwargs: Any) -> None:
        """fakekube mock: configure the fake cluster."""
        load_kube_config(client_configuration=kwargs.get("client_configuration"))

    def new_client_from_config(*args: Any, **kwargs: Any) -> Any:
        """fakekube mock: an ApiClient for the fake cluster."""
        return client.ApiClient(configuration=fake_configuration())

    context = {
        "name": "fakekube",
        "context": {"cluster": "fakekube", "user": "fakekube", "namespace": "default"},
    }

    def list_kube_config_contexts(*args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """fakekube mock: the one fake context."""
        return [copy.deepcopy(context)], copy.deepcopy(context)

    fakes = {
        "load_kube_config": load_kube_config,
        "load_kube_config_from_dict": load_kube_config,
        "load_incluster_config": load_incluster_config,
        "new_client_from_config": new_client_from_config,
        "new_client_from_config_dict": new_client_from_config,
        "list_kube_config_contexts": list_kube_config_contexts,
    }
    for module in (config, kube_config, incluster_config):
        for name, fake in fakes.items():
            if hasattr(module, name):
                _setattr(stack, module, name, fake)
    _setattr(stack, config, "load_config", load_config)
    # Code that loads no configuration at all gets the fake cluster too.
    _setattr(stack, client.Configuration, "_default", fake_configuration())


# -- httpx / httpx2 (kr8s, lightkube) --------------------------------------------------------------


def _patch_httpx(stack: contextlib.ExitStack, module_name: str) -> None:
    try:
        httpx = __import__(module_name)
    except ImportError:
        return
    handle, ahandle = httpx_handlers(httpx, lambda: _current().bridge)
    sync_original = httpx.HTTPTransport.__dict__["handle_request"]
    async_original = httpx.AsyncHTTPTransport.__dict__["handle_async_request"]

    def handle_request(self: Any, request: Any) -> Any:
        if not _is_fake(request.url.host) or not _active:
            return sync_original(self, request)
        return handle(request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if not _is_fake(request.url.host) or not _active:
            return await async_original(self, request)
        return await ahandle(request)

    _setattr(stack, httpx.HTTPTransport, "handle_request", handle_request)
    _setattr(stack, httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)


def _patch_kr8s(stack: contextlib.ExitStack) -> None:
    try:
        from kr8s import _auth
    except ImportError:
        return

    async def reauthenticate(self: Any) -> None:
        """fakekube mock: the fake server, no credentials (no kubeconfig or service account read)."""
        self.server = FAKE_SERVER
        self.token = None

    _setattr(stack, _auth.KubeAuth, "reauthenticate", reauthenticate)
    # kr8s caches API objects (and their HTTP sessions) per arguments: start and end with none.
    _clear_kr8s_cache()
    stack.callback(_clear_kr8s_cache)


def _clear_kr8s_cache() -> None:
    with contextlib.suppress(ImportError, AttributeError):
        from kr8s._api import Api

        Api._instances.clear()


def _patch_lightkube(stack: contextlib.ExitStack) -> None:
    try:
        from lightkube.config.kubeconfig import KubeConfig
        from lightkube.config.models import Cluster, User
    except ImportError:
        return

    def from_env(cls: Any, *args: Any, **kwargs: Any) -> Any:
        """fakekube mock: the fake server, no credentials, namespace ``default``."""
        return cls.from_one(cluster=Cluster(server=FAKE_SERVER), user=User(), namespace="default")

    _setattr(stack, KubeConfig, "from_env", classmethod(from_env))
