"""Fixtures for fakekube's own tests: in-process apps reached through :mod:`fakekube.testing`
(``client``, ``connect``), sample Ray objects."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts tests/ on sys.path (rootdir conftest), where this directory would shadow the real
# package as a namespace package; the repository root must come first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fk_objects import RC_PATH, raycluster  # noqa: F401  (also importable from here)

from fakekube import FakeKube, create_app
from fakekube.testing import Bridge, Client, LoopThread


@pytest.fixture
def app() -> FakeKube:
    """A fresh fakekube app (default namespaces only)."""
    return create_app()


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    """The event loop, on a thread of its own, that serves every in-process app of the session."""
    thread = LoopThread("fakekube-tests")
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def connect(loop_thread: LoopThread) -> Callable[[FakeKube], Client]:
    """``connect(app)``: a :class:`fakekube.testing.Client` of ``app`` on the session's loop (no
    socket). Session-scoped so that Hypothesis tests, which build an app per example, can use it."""
    return lambda app: Client(Bridge(app, loop_thread.loop))


@pytest.fixture
def client(app: FakeKube, connect: Callable[[FakeKube], Client]) -> Client:
    """A client of ``app``; ``send`` returns any status code, ``request`` decodes or raises."""
    return connect(app)


@pytest.fixture(scope="session")
def server_tools(pytestconfig: pytest.Config) -> Any:
    """The root ``tests/conftest.py`` module (``free_port``, ``start_server``, ``stop_server``)."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == str(path):
            return plugin
    raise RuntimeError(f"{path} is not loaded")
