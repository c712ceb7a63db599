"""Issue 16 against refkube: the gateway speaks HTTP/2 to kube-apiserver, as client-go does.

kube-apiserver offers ``h2`` through TLS ALPN (``k8s.io/apiserver/pkg/server/secure_serving.go``
configures ``http2.ConfigureServer`` with ``--http2-max-streams-per-connection``); client-go's
transport takes it and multiplexes every request of a client over one connection. The gateway
(watch fan-out off, so every watch is its own upstream request) must do the same: 50 distinct
concurrent watches and a list over at most 4 upstream TCP connections, counted as the gateway's
ESTABLISHED sockets to refkube's port. Over HTTP/1.1 they would take 51. The figures for 1,000
watches and refkube's CPU are ``benchmarks/upstream_h2.py``'s.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.upstream_h2 import established_to
from tests.contract.client import RefKube
from tests.faults import child_pids
from tests.procs import free_port, start_server, stop_server


@pytest.fixture(scope="module")
def gateway(refkube: RefKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """``(pid, URL)`` of a gateway in front of refkube over TLS, watch fan-out off."""
    ref = refkube.target
    token = tmp_path_factory.mktemp("gateway-h2") / "token"
    assert ref.token is not None
    token.write_text(ref.token)
    port = free_port()
    argv = ["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", ref.url]
    argv += ["--authentication", "none", "--token-file", str(token), "--ca-file", str(ref.verify)]
    proc = start_server([*argv, "--no-watch-fanout"], port)
    yield proc.pid, f"http://127.0.0.1:{port}"
    stop_server(proc)


def _open_watch(url: str, path: str) -> socket.socket:
    """A caller's socket with ``GET path`` sent and the 200 response head read."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(4096)
        assert data, f"the gateway closed {path}: {head!r}"
        head += data
    assert head.startswith(b"HTTP/1.1 200"), head[:300]
    return s


def test_issue16_the_gateway_multiplexes_distinct_watches_over_http2_to_kube_apiserver(
    refkube: RefKube, gateway: tuple[int, str]
) -> None:
    """50 distinct concurrent watches (one namespace each) and a list through the gateway use at
    most 4 TCP connections to refkube; a watch left by its caller does not close the connection
    the others share."""
    pid, url = gateway
    ref_port = int(refkube.target.url.rsplit(":", 1)[1].rstrip("/"))
    sockets = [_open_watch(url, f"/apis/ray.io/v1/namespaces/h2-{i}/rayclusters?watch=1") for i in range(50)]
    try:
        r = httpx.get(url + "/apis/ray.io/v1/namespaces/h2-list/rayclusters", timeout=30)
        assert r.status_code == 200, r.text
        conns = established_to(child_pids(pid), ref_port)
        assert 1 <= conns <= 4, f"{conns} upstream connections for 50 watches and a list"
        sockets.pop().close()  # one caller leaves: its stream is reset, the connection stays
        time.sleep(0.5)
        assert established_to(child_pids(pid), ref_port) == conns
        r = httpx.get(url + "/apis/ray.io/v1/namespaces/h2-list/rayclusters", timeout=30)
        assert r.status_code == 200, r.text
        assert established_to(child_pids(pid), ref_port) == conns
    finally:
        for s in sockets:
            s.close()
