"""pytest plugin (registered through the ``pytest11`` entry point ``fakekube``): fakekube fixtures.

Fixtures:

- ``fakekube`` (function scope): a :class:`FakeKubeServer` — fakekube served over HTTP on a free
  127.0.0.1 port by granian on a background thread (one server per session), reset to a fresh
  state (default namespaces, Ray kinds served) before each test, in about a millisecond. It has
  ``url``, ``configuration`` (a ``kubernetes.client.Configuration``), ``api_client`` (a
  ``kubernetes.client.ApiClient``, closed after the test), ``write_kubeconfig(path)`` (for kubectl
  and kubeconfig-reading code) and the :class:`fakekube.testing.Client` helpers (``seed``,
  ``get``, ``list``, ``wait_for``, ``wait_for_deletion``, ``request``).
- ``fakekube_server`` (session scope): the same server without the per-test reset.
- ``fakekube_asgi`` (function scope): an :class:`AsgiFakeKube` — a fresh app in process, no
  socket: ``client`` (an ``httpx.Client``), ``async_client()`` (an ``httpx.AsyncClient``),
  ``app`` and the same helpers.
- ``fakekube_mock`` (function scope): an active :func:`fakekube.mock` (see :mod:`fakekube.mocking`).
- ``fakekube_options`` (session scope, override it in a conftest): keyword arguments for
  :func:`fakekube.create_app`, ``{"namespace_finalize_delay": 0.0}`` by default.

granian, httpx and kubernetes are imported only when a fixture needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakekube.mocking import Mock
from fakekube.testing import Bridge, Client, LoopThread, ResettableApp, httpx_handlers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeKubeServer(Client):
    """fakekube served on ``http://127.0.0.1:PORT`` from a background thread (see the module doc).

    Raises RuntimeError when the server does not answer within 10 s of starting.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        from granian.constants import Interfaces
        from granian.server.embed import Server

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread: LoopThread = LoopThread("fakekube-server")
        self.app: ResettableApp = ResettableApp(**options)
        app = self.app
        super().__init__(Bridge(app, self.thread.loop), lambda: app.generation)
        self._server = Server(
            app, address="127.0.0.1", port=self.port, interface=Interfaces.ASGI, log_enabled=False
        )
        self._serving = asyncio.run_coroutine_threadsafe(self._server.serve(), self.thread.loop)
        self._wait_listening()
        self.install_ray_crds()
        self._api_clients: list[Any] = []

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                if self._serving.done() or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"fakekube did not start listening on {self.url}") from None
                time.sleep(0.005)

    def reset(self) -> None:
        """Forget every object (fresh app: default namespaces, Ray CRDs); open watches end."""
        self.thread.call(self.app.reset())
        self.install_ray_crds()

    @property
    def configuration(self) -> Any:
        """A new ``kubernetes.client.Configuration`` for this server (no credentials)."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        return cfg

    @property
    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` for this server, created on first use in each test."""
        if not self._api_clients:
            from kubernetes import client

            self._api_clients.append(client.ApiClient(self.configuration))
        return self._api_clients[0]

    def _close_api_clients(self) -> None:
        for c in self._api_clients:
            c.close()
        self._api_clients.clear()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        """Write a kubeconfig (one context, ``fakekube``, current) for this server to ``path``."""
        import yaml

        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fakekube", "cluster": {"server": self.url}}],
            "users": [{"name": "fakekube", "user": {}}],
            "contexts": [
                {
                    "name": "fakekube",
                    "context": {"cluster": "fakekube", "user": "fakekube", "namespace": namespace},
                }
            ],
            "current-context": "fakekube",
        }
        p = Path(path)
        p.write_text(yaml.safe_dump(doc))
        return p

    def close(self) -> None:
        """Stop serving and end the thread."""
        self._close_api_clients()
        self.thread.loop.call_soon_threadsafe(self._server.stop)
        # The server's own shutdown errors are not the test's concern.
        with contextlib.suppress(Exception):
            self._serving.result(5.0)
        self.thread.stop()


class AsgiFakeKube(Client):
    """A fresh in-process fakekube reached without sockets: ``client`` (``httpx.Client``),
    ``async_client()`` (``httpx.AsyncClient``, use ``async with``), ``app`` and the helpers."""

    base_url = "http://fakekube"

    def __init__(self, options: dict[str, Any]) -> None:
        import httpx

        self.thread: LoopThread = LoopThread("fakekube-asgi")
        self.app: ResettableApp = ResettableApp(**options)
        app = self.app
        super().__init__(Bridge(app, self.thread.loop), lambda: app.generation)
        self._handlers = httpx_handlers(httpx, lambda: self.bridge)
        self.client = httpx.Client(transport=httpx.MockTransport(self._handlers[0]), base_url=self.base_url)
        self.install_ray_crds()

    def async_client(self) -> Any:
        """A new ``httpx.AsyncClient`` for the app (close it, or use ``async with``)."""
        import httpx

        return httpx.AsyncClient(transport=httpx.MockTransport(self._handlers[1]), base_url=self.base_url)

    def reset(self) -> None:
        """Forget every object (fresh app)."""
        self.thread.call(self.app.reset())
        self.install_ray_crds()

    def close(self) -> None:
        """Close the client and stop the app's thread."""
        self.client.close()
        self.thread.stop()


@pytest.fixture(scope="session")
def fakekube_options() -> dict[str, Any]:
    """Keyword arguments for :func:`fakekube.create_app` used by every fakekube fixture; override
    in a conftest. Default: namespaces are removed at once on deletion (no 1 s Terminating)."""
    return {"namespace_finalize_delay": 0.0}


@pytest.fixture(scope="session")
def fakekube_server(fakekube_options: dict[str, Any]) -> Iterator[FakeKubeServer]:
    """One fakekube HTTP server for the session (not reset; most tests want ``fakekube``)."""
    server = FakeKubeServer(dict(fakekube_options))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fakekube(fakekube_server: FakeKubeServer) -> Iterator[FakeKubeServer]:
    """The session's fakekube server, reset to a fresh state for this test."""
    fakekube_server.reset()
    try:
        yield fakekube_server
    finally:
        fakekube_server._close_api_clients()


@pytest.fixture
def fakekube_asgi(fakekube_options: dict[str, Any]) -> Iterator[AsgiFakeKube]:
    """A fresh in-process fakekube with httpx clients over no socket."""
    fk = AsgiFakeKube(dict(fakekube_options))
    try:
        yield fk
    finally:
        fk.close()


@pytest.fixture
def fakekube_mock(fakekube_options: dict[str, Any]) -> Iterator[Mock]:
    """An active :func:`fakekube.mock` for this test: unmodified kubernetes/kr8s/lightkube code is
    routed to an in-process fakekube; the fixture value inspects and resets its state."""
    m = Mock(**fakekube_options)
    with m:
        yield m
