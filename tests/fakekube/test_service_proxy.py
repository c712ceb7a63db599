"""The Service proxy (``services/{name}:{port}/proxy/...``) forwarding to a registered backend, in
process and with ``fakekube serve --service-backend``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests.procs import free_port, start_server, stop_server


class _Backend(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        out = json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    """A local HTTP server standing in for a Ray dashboard; yields its base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_service_proxy_forwards_to_registered_backend(
    backend: str, connect: Callable[[FakeKube], Client]
) -> None:
    c = connect(create_app(service_backends={"default/head-svc": backend}))
    svc = {"metadata": {"name": "head-svc"}, "spec": {"ports": [{"port": 8265}]}}
    assert c.send("POST", "/api/v1/namespaces/default/services", svc).status == 201
    base = "/api/v1/namespaces/default/services/head-svc:8265/proxy"
    r = c.send("GET", base + "/api/jobs/", query={"limit": "2"})
    assert r.status == 200 and r.json() == {"method": "GET", "path": "/api/jobs/?limit=2", "body": ""}
    r = c.send("POST", base + "/api/jobs/", {"entrypoint": "python x.py"})
    assert r.status == 201 and r.json()["body"] == '{"entrypoint": "python x.py"}'


def test_service_backend_flag_on_the_command_line(backend: str) -> None:
    port = free_port()
    proc = start_server(
        ["fakekube", "serve", "--port", str(port), "--service-backend", f"default/dash={backend}"], port
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/services"
        httpx.post(
            url, json={"metadata": {"name": "dash"}, "spec": {"ports": [{"port": 8265}]}}
        ).raise_for_status()
        r = httpx.delete(f"{url}/dash/proxy/api/jobs/x")
        assert r.status_code == 200 and r.json()["method"] == "DELETE" and r.json()["path"] == "/api/jobs/x"
    finally:
        stop_server(proc)
