"""Fixtures for fakekube's own tests: an in-process app and client, sample Ray objects."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts tests/ on sys.path (rootdir conftest), where this directory would shadow the real
# package as a namespace package; the repository root must come first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fk_client import AsgiClient
from fk_objects import RC_PATH, raycluster  # noqa: F401  (also importable from here)

from fakekube import FakeKube, create_app


@pytest.fixture
def app() -> FakeKube:
    """A fresh fakekube app (default namespaces only)."""
    return create_app()


@pytest.fixture
def client(app: FakeKube) -> Iterator[AsgiClient]:
    """A synchronous in-process client of ``app``."""
    c = AsgiClient(app)
    yield c
    c.close()


@pytest.fixture(scope="session")
def server_tools(pytestconfig: pytest.Config) -> Any:
    """The root ``tests/conftest.py`` module (``free_port``, ``start_server``, ``stop_server``)."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == str(path):
            return plugin
    raise RuntimeError(f"{path} is not loaded")
