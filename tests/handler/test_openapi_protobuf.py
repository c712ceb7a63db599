"""The gateway's ``/openapi/v2`` in protobuf: the upstream's protobuf document with its paths
reduced to what the gateway serves (as the JSON one is), so kubectl's protobuf readers work
through the gateway (``kubectl explain --output=plaintext-openapiv2``, ``kubectl apply`` of an
unknown kind)."""

from __future__ import annotations

from pathlib import Path

import httpx

from handler.discovery_filter import openapi_v2_path_served
from kubeapi import openapiv2
from tests.fakekube.test_openapi_protobuf import NO_MATCH, UNKNOWN_KIND
from tests.procs import kubectl


def test_protobuf_through_the_gateway(fakekube_url: str, gateway_url: str, http: httpx.Client) -> None:
    accept = {"Accept": openapiv2.PROTOBUF_DEPRECATED}
    upstream = openapiv2.parse(http.get(f"{fakekube_url}/openapi/v2", headers=accept).content)
    r = http.get(f"{gateway_url}/openapi/v2", headers=accept)
    assert r.status_code == 200 and r.headers["content-type"] == openapiv2.PROTOBUF
    doc = openapiv2.parse(r.content)
    paths = [p.name for p in doc.paths.path]
    assert paths == [p.name for p in upstream.paths.path if openapi_v2_path_served(p.name)]
    assert "/api/v1/namespaces" in [p.name for p in upstream.paths.path] and "/api/v1/namespaces" not in paths
    assert any(p.startswith("/apis/ray.io/v1/") for p in paths)
    assert doc.definitions == upstream.definitions
    json_paths = list(http.get(f"{gateway_url}/openapi/v2").json()["paths"])
    assert paths == json_paths  # the same filter as the JSON document's
    assert http.get(f"{gateway_url}/openapi/v2", headers={"Accept": "text/html"}).status_code == 406


def test_kubectl_protobuf_readers_through_the_gateway(
    gateway_url: str, namespace: str, tmp_path: Path
) -> None:
    cold = ["--cache-dir", str(tmp_path / "cache")]
    p = kubectl(
        gateway_url, *cold, "explain", "raycluster.spec.headGroupSpec", "--output=plaintext-openapiv2"
    )
    assert p.returncode == 0, p.stderr
    assert "KIND:     RayCluster" in p.stdout and "rayStartParams" in p.stdout
    p = kubectl(gateway_url, *cold, "-n", namespace, "apply", "-f", "-", stdin=UNKNOWN_KIND)
    assert p.returncode != 0
    assert NO_MATCH in p.stderr and "proto:" not in p.stderr, p.stderr
