"""Shared fixtures: real servers on real sockets, and the KubeRay test data in ``../shared``.

``fakekube_url`` runs ``fakekube serve`` and ``gateway_url`` runs ``kuberay-apiserver serve``
in front of it, each as a subprocess on a free loopback port, once per test session. Tests
isolate themselves by working in a fresh namespace (the ``namespace`` fixture).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import create_namespace, free_port, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
SHARED_KUBERAY = Path(os.environ.get("KUBERAY_SHARED", REPO.parent / "shared" / "kuberay"))


@pytest.fixture(scope="session")
def fakekube_url() -> Iterator[str]:
    """URL of a ``fakekube serve`` process shared by the session, e.g. ``http://127.0.0.1:PORT``."""
    port = free_port()
    proc = start_server(["fakekube", "serve", "--host", "127.0.0.1", "--port", str(port)], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture
def namespace(fakekube_url: str) -> str:
    """A fresh namespace in the session's fakekube, so tests never see each other's objects."""
    return create_namespace(fakekube_url)


@pytest.fixture(scope="session")
def kuberay_dir() -> Path:
    """``../shared/kuberay`` (CRDs and samples). Fails under CI when missing; skips elsewhere."""
    if not (SHARED_KUBERAY / "samples").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"KubeRay test data missing at {SHARED_KUBERAY} (CI is set)")
        pytest.skip(f"KubeRay test data not found at {SHARED_KUBERAY}")
    return SHARED_KUBERAY
