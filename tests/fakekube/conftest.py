"""Fixtures for fakekube's own tests: in-process apps reached through :mod:`fakekube.testing`
(``client``, ``connect``), sample Ray objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
