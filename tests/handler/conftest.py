"""Gateway fixtures: ``kuberay-apiserver serve`` subprocesses in front of fakekube or a stub upstream.

``gateway_url`` is the gateway over the session's fakekube (``fakekube_url``), once per session.
``stub`` is a scripted upstream (:mod:`tests.handler.gateway_stub`) and ``stub_gateway`` a gateway in
front of it with short retry delays, so retry tests take fractions of a second.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.handler.gateway_procs import FAST_RETRY, GatewayFactory, serve_gateway
from tests.handler.gateway_stub import StubUpstream
from tests.procs import stop_server


@pytest.fixture(scope="session")
def gateway_url(fakekube_url: str) -> Iterator[str]:
    """URL of ``kuberay-apiserver serve --upstream <fakekube_url>`` shared by the session."""
    proc, url = serve_gateway(fakekube_url)
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
    proc, url = serve_gateway(stub.url, env=FAST_RETRY)
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
        proc, url = serve_gateway(upstream, extra_args, {**FAST_RETRY, **(env or {})})
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
