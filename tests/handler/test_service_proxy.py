"""The services proxy, end to end through the gateway: a fakekube of our own, with a stub as the Ray
dashboard behind a Service; only KubeRay Services are reachable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.handler.gateway_procs import serve_gateway
from tests.handler.gateway_stub import Reply, StubUpstream
from tests.procs import free_port, start_server, stop_server


@pytest.fixture(scope="module")
def dashboard() -> Iterator[StubUpstream]:
    """A stub standing in for the Ray dashboard / job submission server."""
    s = StubUpstream()
    yield s
    s.close()


@pytest.fixture(scope="module")
def proxied(dashboard: StubUpstream) -> Iterator[tuple[str, str, str]]:
    """(fakekube URL, gateway URL, namespace) with Services ``ray-head-svc`` (labelled) and ``plain-svc``."""
    port = free_port()
    backends = [f"proxyns/{n}={dashboard.url}" for n in ("ray-head-svc", "plain-svc")]
    args = ["fakekube", "serve", "--host", "127.0.0.1", "--port", str(port)]
    for b in backends:
        args += ["--service-backend", b]
    fk = start_server(args, port)
    fk_url = f"http://127.0.0.1:{port}"
    with httpx.Client() as c:
        c.post(
            f"{fk_url}/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "proxyns"}},
        )
        for name, labels in [
            ("ray-head-svc", {"app.kubernetes.io/name": "kuberay"}),
            ("plain-svc", {"app": "x"}),
        ]:
            svc: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "labels": labels},
                "spec": {"ports": [{"name": "dashboard", "port": 8265}]},
            }
            r = c.post(f"{fk_url}/api/v1/namespaces/proxyns/services", json=svc)
            assert r.status_code == 201, r.text
    gw, gw_url = serve_gateway(fk_url)
    yield fk_url, gw_url, "proxyns"
    stop_server(gw)
    stop_server(fk)


def test_services_proxy_reaches_a_kuberay_service(
    proxied: tuple[str, str, str], dashboard: StubUpstream, http: httpx.Client
) -> None:
    _, gw, ns = proxied
    dashboard.reset()
    dashboard.script(Reply(200, body=b'{"submission_id":"raysubmit_1"}'))
    url = f"{gw}/api/v1/namespaces/{ns}/services/ray-head-svc:dashboard/proxy/api/jobs/"
    r = http.post(url, json={"entrypoint": "python -c 'print(1)'"})
    assert r.status_code == 200, r.text
    assert r.json() == {"submission_id": "raysubmit_1"}
    assert dashboard.seen[-1].method == "POST" and dashboard.seen[-1].path == "/api/jobs/"
    assert json.loads(dashboard.seen[-1].body) == {"entrypoint": "python -c 'print(1)'"}
    r = http.get(f"{gw}/api/v1/namespaces/{ns}/services/ray-head-svc/proxy/api/version")
    assert r.status_code == 200 and dashboard.seen[-1].path == "/api/version"


def test_services_proxy_refuses_unlabelled_and_missing_services(
    proxied: tuple[str, str, str], dashboard: StubUpstream, http: httpx.Client
) -> None:
    fk, gw, ns = proxied
    dashboard.reset()
    # Directly on fakekube the unlabelled Service is reachable...
    assert http.get(f"{fk}/api/v1/namespaces/{ns}/services/plain-svc/proxy/").status_code == 200
    dashboard.reset()
    # ...but not through the gateway.
    for svc in ("plain-svc", "plain-svc:dashboard", "no-such-svc"):
        r = http.get(f"{gw}/api/v1/namespaces/{ns}/services/{svc}/proxy/api/jobs/")
        assert r.status_code == 404, svc
        assert r.json()["kind"] == "Status" and r.json()["reason"] == "NotFound"
    assert dashboard.seen == []
