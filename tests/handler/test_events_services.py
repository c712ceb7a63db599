"""Events routes and the services proxy, end to end through the gateway over fakekube."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.handler.gateway_procs import serve_gateway
from tests.handler.gateway_stub import Reply, StubUpstream
from tests.procs import free_port, start_server, stop_server

RAY_REF = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "raycluster-kuberay"}
POD_REF = {"apiVersion": "v1", "kind": "Pod", "name": "some-pod"}


def _seed_events(fakekube_url: str, namespace: str, http: httpx.Client) -> None:
    """Two Ray events and two Pod events written directly to fakekube, alternating the Event APIs.

    Both APIs are views of the same objects (as in a real cluster), so each list shows all four.
    """
    for i, (ref, reason) in enumerate(
        [(RAY_REF, "Created"), (RAY_REF, "Failed"), (POD_REF, "Created"), (POD_REF, "Pulled")]
    ):
        core = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"core-{i}", "labels": {"n": str(i)}},
            "involvedObject": {**ref, "namespace": namespace},
            "reason": reason,
            "message": "m",
            "type": "Normal",
        }
        new = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"new-{i}", "labels": {"n": str(i)}},
            "regarding": {**ref, "namespace": namespace},
            "reason": reason,
            "note": "m",
            "type": "Normal",
            "action": "a",
            "reportingController": "kuberay",
            "reportingInstance": "kuberay-0",
            "eventTime": "2026-01-01T00:00:00.000000Z",
        }
        if i % 2 == 0:
            r = http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/events", json=core)
        else:
            r = http.post(f"{fakekube_url}/apis/events.k8s.io/v1/namespaces/{namespace}/events", json=new)
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("path", "ref_field"),
    [
        ("/apis/events.k8s.io/v1/namespaces/{ns}/events", "regarding"),
        ("/api/v1/namespaces/{ns}/events", "involvedObject"),
    ],
)
@pytest.mark.parametrize(
    ("params", "expected_reasons"),
    [
        ({}, ["Created", "Failed"]),
        ({"fieldSelector": "reason=Created"}, ["Created"]),
        ({"fieldSelector": "REF.apiVersion=v1"}, []),
        ({"fieldSelector": "REF.apiVersion!=ray.io/v1"}, []),
        ({"fieldSelector": "REF.kind=Pod"}, []),
        ({"labelSelector": "n in (1,2,3)"}, ["Failed"]),
    ],
)
def test_events_route_only_returns_ray_events(
    fakekube_url: str,
    gateway_url: str,
    namespace: str,
    http: httpx.Client,
    path: str,
    ref_field: str,
    params: dict[str, str],
    expected_reasons: list[str],
) -> None:
    _seed_events(fakekube_url, namespace, http)
    params = {k: v.replace("REF", ref_field) for k, v in params.items()}
    # Directly on fakekube the Pod events are there...
    direct = http.get(fakekube_url + path.format(ns=namespace)).json()["items"]
    assert {e[ref_field]["apiVersion"] for e in direct} == {"v1", "ray.io/v1"}
    # ...through the gateway only Ray ones, whatever the caller asks.
    r = http.get(gateway_url + path.format(ns=namespace), params=params)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert all(e[ref_field]["apiVersion"] == "ray.io/v1" for e in items)
    assert sorted(e["reason"] for e in items) == expected_reasons


# -- services proxy: a fakekube of our own, with a stub as the Ray dashboard behind a Service ------------


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
