"""What the gateway changes and refuses on the way through, observed at a recording stub upstream."""

from __future__ import annotations

import gzip
import json
import socket
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.handler.gateway_procs import GatewayFactory
from tests.handler.gateway_stub import Reply, StubUpstream

LIST = "/apis/ray.io/v1/namespaces/default/rayclusters"


def assert_status(r: httpx.Response, code: int, reason: str) -> dict[str, object]:
    """``r`` is a Kubernetes ``Status`` failure with ``code`` and ``reason``; returns it."""
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    status = r.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1" and status["status"] == "Failure"
    assert status["code"] == code and status["reason"] == reason
    assert isinstance(status["message"], str) and status["message"]
    return dict(status)


def test_callers_authorization_is_replaced_and_hop_by_hop_headers_dropped(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    r = http.get(
        stub_gateway + LIST,
        headers={
            "Authorization": "Bearer callers-own",
            "Impersonate-User": "system:admin",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "X-Request-Id": "abc",
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
    )
    assert r.status_code == 200
    seen = stub.seen[0].headers
    assert "authorization" not in seen  # the stub gateway runs without a token file
    assert "impersonate-user" not in seen
    assert "x-secret-hop" not in seen and "keep-alive" not in seen and "te" not in seen
    assert seen["x-request-id"] == "abc"
    assert seen["accept"] == "application/json;as=Table;v=v1;g=meta.k8s.io"


def test_gateway_token_file_is_sent_and_reread(
    stub: StubUpstream, gateway_factory: GatewayFactory, http: httpx.Client, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("first-token\n")
    url = gateway_factory(stub.url, ["--token-file", str(token)])
    stub.reset()
    http.get(url + LIST, headers={"Authorization": "Bearer callers-own"})
    assert stub.seen[-1].headers["authorization"] == "Bearer first-token"
    token.write_text("rotated-token-longer\n")
    time.sleep(1.2)  # the file is checked at most once a second
    http.get(url + LIST)
    assert stub.seen[-1].headers["authorization"] == "Bearer rotated-token-longer"


def test_content_encoding_passes_through(stub: StubUpstream, stub_gateway: str) -> None:
    payload = json.dumps({"kind": "RayClusterList", "items": []}).encode()
    stub.script(
        Reply(
            200,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            body=gzip.compress(payload),
        )
    )
    # A raw client that does not decode, to see the bytes the gateway sent.
    with httpx.Client() as c, c.stream("GET", stub_gateway + LIST, headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == payload
    assert stub.seen[0].headers["accept-encoding"] == "gzip"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/pods/p/exec",  # Ray pods are read-only: no exec, attach...
        "/api/v1/configmaps",  # only namespaced compute-template ConfigMaps are served
        "/api/v1/namespaces/default/services/svc",
        "/apis/apps/v1/namespaces/default/deployments",
        "/apis/ray.io/v2/namespaces/default/rayclusters",
        "/apis/ray.io/v1/../../api/v1/namespaces/default/secrets",
        "/apis/ray.io/v1/%2e%2e/%2e%2e/api/v1/secrets",
        "/apis/ray.io/v1/namespaces/default%2Fsecrets",
        "/apis/ray.io/v1x",
        "/apis/ray.io.evil/v1/rayclusters",
        "/",
        "/api/v1/events",
    ],
)
def test_paths_outside_the_allowlist_are_404_status(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, path: str
) -> None:
    # httpx would normalise dot segments in a URL string: send the raw target.
    resp = http.request("GET", httpx.URL(stub_gateway).copy_with(raw_path=path.encode()))
    status = assert_status(resp, 404, "NotFound")
    assert status["message"] == "the server could not find the requested resource"
    assert stub.seen == []  # nothing reached the upstream


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_events_routes_are_read_only(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client, method: str
) -> None:
    for path in ("/apis/events.k8s.io/v1/namespaces/default/events", "/api/v1/namespaces/default/events"):
        r = http.request(method, stub_gateway + path, content=b"{}")
        assert_status(r, 405, "MethodNotAllowed")
    assert stub.seen == []


@pytest.mark.parametrize(
    ("path", "forced"),
    [
        ("/apis/events.k8s.io/v1/namespaces/default/events", "regarding.apiVersion=ray.io/v1"),
        ("/api/v1/namespaces/default/events", "involvedObject.apiVersion=ray.io/v1"),
    ],
)
@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({}, ""),
        ({"fieldSelector": "reason=Created"}, ",reason=Created"),
        ({"fieldSelector": "regarding.apiVersion!=ray.io/v1"}, ",regarding.apiVersion!=ray.io/v1"),
    ],
)
def test_events_field_selector_is_forced_and_caller_selectors_kept(
    stub: StubUpstream,
    stub_gateway: str,
    http: httpx.Client,
    path: str,
    forced: str,
    params: dict[str, str],
    expect: str,
) -> None:
    http.get(stub_gateway + path, params={**params, "labelSelector": "app=x", "limit": "5"})
    sent = parse_qs(urlsplit(stub.seen[0].path).query)
    assert sent["fieldSelector"] == [forced + expect]  # the forced term first (handler.steps)
    assert sent["labelSelector"] == ["app=x"] and sent["limit"] == ["5"]


def test_request_body_above_the_limit_is_413(
    stub: StubUpstream, gateway_factory: GatewayFactory, http: httpx.Client
) -> None:
    url = gateway_factory(stub.url, env={"KUBERAY_APISERVER_MAX_BODY_BYTES": "1000"})
    stub.reset()
    r = http.post(url + LIST, content=b"x" * 1001, headers={"Content-Type": "application/json"})
    assert_status(r, 413, "RequestEntityTooLarge")
    # Chunked (no Content-Length): the limit holds while reading.
    r = http.post(
        url + LIST, content=iter([b"x" * 600, b"x" * 600]), headers={"Content-Type": "application/json"}
    )
    assert_status(r, 413, "RequestEntityTooLarge")
    assert stub.seen == []


def test_a_caller_still_sending_a_large_body_reads_the_413(gateway_url: str) -> None:
    """A 4 MiB body over the 3 MiB default: the gateway reads the rest before it answers. Were it to
    answer and close with the body unread, the kernel would reset the connection and the caller,
    still sending, would never read the 413 (the contract suite saw this under load)."""
    host, port = gateway_url.removeprefix("http://").split(":")
    body = b"x" * (4 * 1024 * 1024)
    head = (
        f"POST {LIST} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(head + body)
        time.sleep(0.5)  # the answer and any reset have arrived before we read
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")


SERVICE = "/api/v1/namespaces/default/services/raycluster-head-svc"


def _service(labels: dict[str, str]) -> Reply:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "raycluster-head-svc", "labels": labels},
    }
    return Reply(200, body=json.dumps(body).encode())


def test_services_proxy_checks_the_kuberay_label_upstream(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    labelled = _service({"app.kubernetes.io/name": "kuberay"})
    stub.script(labelled, Reply(200, body=b'{"jobs":[]}'), labelled)
    r = http.post(stub_gateway + SERVICE + ":dashboard/proxy/api/jobs/", json={"entrypoint": "echo hi"})
    assert r.status_code == 200 and r.json() == {"jobs": []}
    assert [(s.method, s.path) for s in stub.seen] == [
        ("GET", SERVICE),
        ("POST", SERVICE + ":dashboard/proxy/api/jobs/"),
        ("GET", SERVICE),  # read again before the answer is relayed (issue 13 finding 8)
    ]
    assert json.loads(stub.seen[1].body) == {"entrypoint": "echo hi"}


def test_services_proxy_refuses_an_unlabelled_service(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(_service({"app.kubernetes.io/name": "something-else"}))
    r = http.get(stub_gateway + SERVICE + "/proxy/")
    status = assert_status(r, 404, "NotFound")
    assert status["details"] == {"name": "raycluster-head-svc", "kind": "services"}
    assert [s.method for s in stub.seen] == ["GET"]  # only the lookup


def test_services_proxy_of_a_missing_service_is_404(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(Reply(404, body=b'{"kind":"Status","code":404,"reason":"NotFound"}'))
    assert_status(http.get(stub_gateway + SERVICE + "/proxy/"), 404, "NotFound")
    assert len(stub.seen) == 1


def test_discovery_lists_only_what_the_gateway_serves(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    def group(name: str, *versions: str) -> dict[str, object]:
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}

    # The official Ray CRDs serve v1alpha1 too: the gateway serves only ray.io/v1, so it must not list it.
    groups = {
        "kind": "APIGroupList",
        "groups": [
            group("apps", "v1"),
            group("ray.io", "v1alpha1", "v1"),
            group("events.k8s.io", "v1"),
            group("batch", "v1"),
        ],
    }
    core = {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {"name": n, "namespaced": True, "kind": "X", "verbs": ["get", "list", "create"]}
            for n in ("secrets", "pods", "events", "services", "services/proxy")
        ],
    }
    stub.script(
        Reply(200, body=json.dumps(groups).encode()),
        Reply(200, body=json.dumps(core).encode()),
        Reply(200, body=json.dumps({"kind": "APIGroup", **group("ray.io", "v1alpha1", "v1")}).encode()),
    )
    apis = http.get(stub_gateway + "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2"})
    assert [
        (g["name"], [v["groupVersion"] for v in g["versions"]], g["preferredVersion"]["version"])
        for g in apis.json()["groups"]
    ] == [("ray.io", ["ray.io/v1"], "v1"), ("events.k8s.io", ["events.k8s.io/v1"], "v1")]
    assert stub.seen[0].headers["accept"] == "application/json"  # legacy discovery asked upstream
    v1 = http.get(stub_gateway + "/api/v1").json()
    assert {r["name"]: r["verbs"] for r in v1["resources"]} == {
        "events": ["list", "watch"],
        "pods": ["get", "list", "watch"],  # Ray pods, read-only (whatever the upstream allows)
        "services/proxy": ["get", "list", "create"],
    }
    ray = http.get(stub_gateway + "/apis/ray.io").json()
    assert [v["version"] for v in ray["versions"]] == ["v1"] and ray["preferredVersion"]["version"] == "v1"


def test_cors_is_off_by_default(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    r = http.get(stub_gateway + LIST, headers={"Origin": "http://ui.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allow_origin(stub: StubUpstream, gateway_factory: GatewayFactory, http: httpx.Client) -> None:
    url = gateway_factory(stub.url, ["--cors-allow-origin", "http://ui.example"])
    pre = http.options(
        url + LIST,
        headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code in (200, 204)
    assert pre.headers["access-control-allow-origin"] == "http://ui.example"
    r = http.get(url + LIST, headers={"Origin": "http://ui.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://ui.example"
    other = http.get(url + LIST, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_health_and_metrics(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    assert http.get(stub_gateway + "/healthz").text == "ok"
    stub.script(Reply(200, body=b'{"major":"1","minor":"37"}'))
    assert http.get(stub_gateway + "/readyz").status_code == 200
    http.get(stub_gateway + "/api/v1/namespaces/default/secrets")
    metrics = http.get(stub_gateway + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'kuberay_apiserver_requests_total{code="404",method="GET",route="refused"}' in metrics.text


def test_openapi_v3_is_filtered_and_group_documents_passed_through(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    root = {
        "paths": {
            gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=X"}
            for gv in ("api/v1", "apis/ray.io/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1")
        }
    }
    spec = b'{"openapi":"3.0.0","components":{"schemas":{"io.ray.v1.RayCluster":{}}}}'
    stub.script(Reply(200, body=json.dumps(root).encode()), Reply(200, body=spec))
    assert sorted(http.get(stub_gateway + "/openapi/v3").json()["paths"]) == ["api/v1", "apis/ray.io/v1"]
    r = http.get(stub_gateway + "/openapi/v3/apis/ray.io/v1", params={"hash": "X"})
    assert r.content == spec
    assert stub.seen[-1].path == "/openapi/v3/apis/ray.io/v1?hash=X"
    assert_status(http.get(stub_gateway + "/openapi/v3/apis/apps/v1"), 404, "NotFound")
    assert len(stub.seen) == 2


def test_discovery_upstream_error_is_a_status(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    stub.script(Reply(404, body=b"404 page not found", headers={"Content-Type": "text/plain"}))
    status = assert_status(http.get(stub_gateway + "/openapi/v2"), 404, "NotFound")
    assert "404" in str(status["message"])
