"""The uvicorn serving path (handler._uvicorn_tls) hands the app the client certificate as the
ASGI TLS extension on HTTP requests and WebSocket upgrades alike, with one worker or several;
its scope's client is the socket's address, and the gateway's WebSocket relay works on it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.handler.pki import CA
from tests.procs import free_port, stop_server


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("tlsext")
    serving_ca, client_ca = CA.new("serving-ca"), CA.new("client-ca")
    cert, key = serving_ca.issue("gateway", server=True).write(d, "serving")
    (d / "serving-ca.pem").write_text(serving_ca.pem)
    (d / "client-ca.pem").write_text(client_ca.pem)
    port = free_port()
    code = (
        "from handler._uvicorn_tls import serve; "
        f"serve('tests.handler.tls_echo:app', '127.0.0.1', {port}, {request.param}, {cert!r}, {key!r}, "
        f"{str(d / 'client-ca.pem')!r}, 'warning', {{'version': 1}})"
    )
    log = (d / "server.log").open("wb")  # a file, not a pipe nobody reads (a full pipe blocks the server)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    info = {"port": port, "dir": d, "client_ca": client_ca, "ca_file": str(d / "serving-ca.pem")}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            get(info, None)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((d / "server.log").read_text()) from None
            time.sleep(0.1)
    yield info
    stop_server(proc)


def context(info: dict[str, Any], cn: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=info["ca_file"])
    if cn is not None:
        c, k = info["client_ca"].issue(cn, ("team-a",)).write(info["dir"], cn)
        ctx.load_cert_chain(c, k)
    return ctx


def get(info: dict[str, Any], cn: str | None, headers: dict[str, str] | None = None) -> Any:
    import http.client

    conn = http.client.HTTPSConnection("127.0.0.1", info["port"], context=context(info, cn), timeout=10)
    try:
        conn.request("GET", "/", headers=headers or {})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_http_request_carries_the_verified_client_certificate(served: dict[str, Any]) -> None:
    tls = get(served, "alice")
    [pem] = tls["client_cert_chain"]
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.subject.rfc4514_string() == "CN=alice,O=team-a"
    assert tls["client_cert_name"] == "CN=alice,O=team-a"
    assert tls["tls_version"] in (0x0303, 0x0304)


def test_no_certificate_is_an_empty_chain(served: dict[str, Any]) -> None:
    tls = get(served, None)
    assert tls["client_cert_chain"] == [] and tls["client_cert_name"] is None


async def test_websocket_upgrade_carries_the_client_certificate(served: dict[str, Any]) -> None:
    # The asyncio client under one overall timeout: the sync client's failed-handshake path joins
    # its reader thread without a timeout, which hung a full run once (the failure is shown instead).
    from websockets.asyncio.client import connect

    async def upgrade() -> dict[str, Any]:
        url = f"wss://127.0.0.1:{served['port']}/ws"
        async with connect(url, ssl=context(served, "bob"), open_timeout=10, close_timeout=5) as ws:
            return dict(json.loads(await ws.recv()))

    tls = await asyncio.wait_for(upgrade(), 20)
    assert tls["client_cert_name"] == "CN=bob,O=team-a"


def test_each_connection_sees_its_own_certificate(served: dict[str, Any]) -> None:
    names = {get(served, cn)["client_cert_name"] for cn in ("u1", "u2", "u3")}
    assert names == {"CN=u1,O=team-a", "CN=u2,O=team-a", "CN=u3,O=team-a"}


def test_a_callers_x_forwarded_for_is_not_the_client_address(served: dict[str, Any]) -> None:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; the gateway must see the socket.
    answer = get(served, "alice", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
    assert answer["client"][0] == "127.0.0.1"


def test_the_gateways_websocket_relay_runs_on_the_uvicorn_path(tmp_path: Path) -> None:
    """The services-proxy WebSocket relay (written against granian) works unchanged when uvicorn
    serves the gateway: messages both ways and the upstream's close code."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from tests.handler.test_websocket import NS, TAIL, WsUpstream

    upstream = WsUpstream()
    serving_ca, client_ca = CA.new("serving-ca"), CA.new("client-ca")
    cert, key = serving_ca.issue("gateway", server=True).write(tmp_path, "serving")
    (tmp_path / "serving-ca.pem").write_text(serving_ca.pem)
    (tmp_path / "client-ca.pem").write_text(client_ca.pem)
    (tmp_path / "token").write_text("gw-token")
    port = free_port()
    env = {
        **os.environ,
        "KUBERAY_APISERVER_UPSTREAM": upstream.url,
        "KUBERAY_APISERVER_TOKEN_FILE": str(tmp_path / "token"),
        "KUBERAY_APISERVER_AUTHENTICATION": "none",
        "KUBERAY_APISERVER_ACCEPT_HOSTS": r"127\.0\.0\.1",
    }
    code = (
        "from handler._uvicorn_tls import serve; "
        f"serve('handler.app:app', '127.0.0.1', {port}, 1, {cert!r}, {key!r}, "
        f"{str(tmp_path / 'client-ca.pem')!r}, 'warning', {{'version': 1}})"
    )
    log = (tmp_path / "server.log").open("wb")  # a file, not a pipe nobody reads
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)
    info = {
        "port": port,
        "dir": tmp_path,
        "client_ca": client_ca,
        "ca_file": str(tmp_path / "serving-ca.pem"),
    }
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                context(info, None).wrap_socket(raw, server_hostname="127.0.0.1").close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.1)

        async def session() -> tuple[list[Any], int | None]:
            got: list[Any] = []
            url = f"wss://127.0.0.1:{port}{NS}/ray-head-svc:8265{TAIL}"
            async with connect(url, ssl=context(info, "alice")) as c:
                got.append(await c.recv())
                await c.send("ping")
                got.append(await c.recv())
                await c.send("bye")
                with pytest.raises(ConnectionClosed):
                    await c.recv()
                return got, c.close_code

        got, close = asyncio.run(session())
        assert got == ["log line 1", "ping"] and close == 4000
        assert upstream.handshakes[-1]["authorization"] == "Bearer gw-token"
    finally:
        stop_server(proc)
        upstream.close()
