"""fakekube's ``/openapi/v2`` in protobuf (gnostic's ``openapi.v2.Document``) when asked, as
kube-openapi serves it: what client-go's ``OpenAPISchema`` reads, so ``kubectl explain
--output=plaintext-openapiv2`` and ``kubectl apply`` of an unknown kind work (they failed with
``proto: cannot parse invalid wire-format data`` while JSON was answered)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from kubeapi import openapiv2
from tests.procs import kubectl

UNKNOWN_KIND = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
#: kubectl's message for a kind no API serves, as against a real kube-apiserver (tests/contract).
NO_MATCH = 'no matches for kind "Widget" in version "example.com/v1"'


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client."""
    with httpx.Client(timeout=30) as c:
        yield c


def test_protobuf_is_answered_when_asked(fakekube_url: str, http: httpx.Client) -> None:
    r = http.get(f"{fakekube_url}/openapi/v2", headers={"Accept": openapiv2.PROTOBUF_DEPRECATED})
    assert r.status_code == 200
    assert r.headers["content-type"] == openapiv2.PROTOBUF and r.headers["vary"] == "Accept"
    doc = openapiv2.parse(r.content)
    as_json = http.get(f"{fakekube_url}/openapi/v2").json()
    assert [p.name for p in doc.paths.path] == list(as_json["paths"])
    definitions = {d.name: d.value for d in doc.definitions.additional_properties}
    assert list(definitions) == list(as_json["definitions"])
    cluster = definitions["io.ray.v1.RayCluster"]
    gvk = {e.name: yaml.safe_load(e.value.yaml) for e in cluster.vendor_extension}
    assert gvk["x-kubernetes-group-version-kind"] == [
        {"group": "ray.io", "kind": "RayCluster", "version": "v1"}
    ]
    assert openapiv2.parse(openapiv2.to_protobuf(as_json)) == doc  # the JSON document, compiled


def test_an_unacceptable_type_is_a_406(fakekube_url: str, http: httpx.Client) -> None:
    r = http.get(f"{fakekube_url}/openapi/v2", headers={"Accept": "text/html"})
    assert (r.status_code, r.content) == (406, b"")
    assert "content-type" not in r.headers  # as refkube's (tests/contract/test_openapi_protobuf.py)


@pytest.fixture
def cold(tmp_path: Path) -> list[str]:
    """kubectl arguments for an empty discovery and OpenAPI cache."""
    return ["--cache-dir", str(tmp_path / "cache")]


def test_kubectl_explain_plaintext_openapiv2(fakekube_url: str, cold: list[str]) -> None:
    p = kubectl(
        fakekube_url, *cold, "explain", "raycluster.spec.headGroupSpec", "--output=plaintext-openapiv2"
    )
    assert p.returncode == 0, p.stderr
    assert "KIND:     RayCluster" in p.stdout and "rayStartParams" in p.stdout


def test_kubectl_apply_of_an_unknown_kind(fakekube_url: str, namespace: str, cold: list[str]) -> None:
    p = kubectl(fakekube_url, *cold, "-n", namespace, "apply", "-f", "-", stdin=UNKNOWN_KIND)
    assert p.returncode != 0
    assert NO_MATCH in p.stderr and "proto:" not in p.stderr, p.stderr
