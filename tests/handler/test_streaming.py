"""Bodies stream through the gateway both ways, observed at a stub upstream that holds part back."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import httpx

from benchmarks.system import reset_tree_hwm, tree_hwm_kb, tree_rss_kb
from tests.handler.gateway_procs import serve_gateway
from tests.handler.gateway_stub import Reply, StubUpstream
from tests.procs import stop_server

LIST = "/apis/ray.io/v1/namespaces/default/rayclusters"


def test_response_is_relayed_before_the_upstream_finished(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    """The first part reaches the caller while the upstream still holds the rest back."""
    gate = threading.Event()
    head = b'{"kind":"RayClusterList","items":[' + b" " * 100_000
    stub.script(Reply(200, body=head, tail=b"]}", gate=gate))
    received = b""
    with http.stream("GET", stub_gateway + LIST) as r:
        chunks: Iterator[bytes] = r.iter_raw()
        while len(received) < len(head):
            received += next(chunks)  # would block until the gate times out if the gateway buffered
        assert not gate.is_set()
        gate.set()
        received += b"".join(chunks)
    assert json.loads(received) == {"kind": "RayClusterList", "items": []}


def test_large_list_streams_through(stub: StubUpstream, stub_gateway: str, http: httpx.Client) -> None:
    items = [{"metadata": {"name": f"c{i}"}, "spec": {"pad": "x" * 900}} for i in range(20_000)]
    body = json.dumps({"kind": "RayClusterList", "items": items}).encode()  # ~19 MB
    stub.script(Reply(200, body=body))
    r = http.get(stub_gateway + LIST)
    assert r.status_code == 200
    assert r.content == body


def test_services_proxy_upload_streams_without_the_api_body_limit(
    stub: StubUpstream, stub_gateway: str, http: httpx.Client
) -> None:
    """A job package upload (8 MiB, above the 3 MiB Kubernetes API limit) reaches the dashboard whole."""
    labelled = {"metadata": {"name": "head-svc", "labels": {"app.kubernetes.io/name": "kuberay"}}}
    service = Reply(200, body=json.dumps(labelled).encode())
    stub.script(service, Reply(200, body=b"{}"), service)  # the Service is read before and after
    package = bytes(range(256)) * (8 * 4096)

    def parts() -> Iterator[bytes]:
        for i in range(0, len(package), 1 << 20):
            yield package[i : i + (1 << 20)]

    r = http.put(
        stub_gateway + "/api/v1/namespaces/default/services/head-svc:8265/proxy/api/packages/gcs/pkg.zip",
        content=parts(),
        headers={"Content-Type": "application/zip"},
    )
    assert r.status_code == 200, r.text
    upload = stub.seen[1]
    assert (
        upload.method == "PUT"
        and upload.path == "/api/v1/namespaces/default/services/head-svc:8265/proxy/api/packages/gcs/pkg.zip"
    )
    assert upload.body == package


def test_a_50_mb_list_is_relayed_with_bounded_rss_growth(stub: StubUpstream) -> None:
    """A 50 MB list goes through chunk by chunk: the gateway's processes grow their peak resident
    set by at most 10 MB while relaying it (issue 6's goal, ``benchmarks/bench_stream.py``), and
    every byte arrives in order. Peak RSS is ``VmHWM`` summed over the gateway's process tree,
    reset just before the request (``/proc/PID/clear_refs``), so a short-lived peak counts."""
    item = b'{"metadata":{"name":"c"},"spec":{"pad":"' + b"x" * 1000 + b'"}}'
    body = b'{"kind":"RayClusterList","items":[' + b",".join([item] * 50_000) + b"]}"  # ~52 MB
    proc, url = serve_gateway(stub.url)
    try:
        with httpx.Client(timeout=60) as http:
            stub.script(
                Reply(200, body=body[: 1 << 20])
            )  # warm-up: first-use allocations are not the relay's
            assert http.get(url + LIST).status_code == 200
            time.sleep(0.3)
            stub.script(Reply(200, body=body))
            reset_tree_hwm(proc.pid)
            before = tree_rss_kb(proc.pid)
            digest, size = hashlib.sha256(), 0
            with http.stream("GET", url + LIST) as r:
                assert r.status_code == 200
                for part in r.iter_raw(1 << 20):
                    digest.update(part)
                    size += len(part)
            grown_mb = (tree_hwm_kb(proc.pid) - before) / 1024
    finally:
        stop_server(proc)
    assert size == len(body) and digest.digest() == hashlib.sha256(body).digest()
    assert grown_mb <= 10, f"peak RSS grew {grown_mb:.1f} MB relaying a {len(body) / 1e6:.0f} MB list"
