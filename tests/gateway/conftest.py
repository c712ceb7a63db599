"""Gateway fixtures: ``kuberay-apiserver serve`` subprocesses in front of fakekube or a stub upstream.

``gateway_url`` is the gateway over the session's fakekube (``fakekube_url``), once per session.
``stub`` is a scripted upstream (:mod:`gateway_stub`) and ``stub_gateway`` a gateway in front of it with
short retry delays, so retry tests take fractions of a second.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from gateway_stub import StubUpstream


def _load_root_conftest() -> ModuleType:
    """tests/conftest.py under its own name (``import conftest`` is ambiguous between directories)."""
    spec = importlib.util.spec_from_file_location(
        "tests_root_conftest", Path(__file__).parents[1] / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_root = _load_root_conftest()
free_port = _root.free_port
start_server = _root.start_server
stop_server = _root.stop_server

#: Fast retry settings for the stub gateway: 3 retries at 50, 100, 200 ms, 5 s overall.
FAST_RETRY = {
    "KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.05",
    "KUBERAY_APISERVER_RETRY_MAX_DELAY": "1",
    "KUBERAY_APISERVER_RETRY_OVERALL_TIMEOUT": "5",
}

GatewayFactory = Callable[..., str]


def _serve(
    upstream: str, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = ["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", upstream]
    proc = start_server([*argv, *(extra or [])], port, env=env)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def gateway_url(fakekube_url: str) -> Iterator[str]:
    """URL of ``kuberay-apiserver serve --upstream <fakekube_url>`` shared by the session."""
    proc, url = _serve(fakekube_url)
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def stub() -> Iterator[StubUpstream]:
    """A scripted upstream shared by a module (reset before each test by ``stub_gateway``)."""
    s = StubUpstream()
    yield s
    s.close()


@pytest.fixture(scope="module")
def _stub_gateway_proc(stub: StubUpstream) -> Iterator[str]:
    proc, url = _serve(stub.url, env=FAST_RETRY)
    yield url
    stop_server(proc)


@pytest.fixture
def stub_gateway(_stub_gateway_proc: str, stub: StubUpstream) -> str:
    """URL of a gateway in front of ``stub`` with fast retries; the stub is reset for the test."""
    stub.reset()
    return _stub_gateway_proc


@pytest.fixture
def gateway_factory() -> Iterator[GatewayFactory]:
    """Start extra gateways: ``factory(upstream_url, extra_args=[...], env={...}) -> url``; stopped after."""
    procs = []

    def make(upstream: str, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> str:
        proc, url = _serve(upstream, extra_args, {**FAST_RETRY, **(env or {})})
        procs.append(proc)
        return url

    yield make
    for p in procs:
        stop_server(p)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client for tests (the gateway's own upstream client is pyreqwest)."""
    with httpx.Client(timeout=30) as c:
        yield c
