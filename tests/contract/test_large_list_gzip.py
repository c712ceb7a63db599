"""A large list through the gateway as kube-apiserver sends it: gzip-compressed when the caller
accepts gzip, and passed through compressed, not decoded and re-sent.

kube-apiserver compresses a response whose first write exceeds 128 KiB when the request's
``Accept-Encoding`` allows gzip (k8s.io/apiserver ``pkg/endpoints/handlers/responsewriters/
writers.go``: ``defaultGzipThresholdBytes = 128 * 1024``, ``negotiateContentEncoding``), and
streams it chunked. The gateway's upstream client does not decompress
(:func:`handler.upstream_client.build_pool`) and ``Accept-Encoding`` / ``Content-Encoding`` pass
through (:mod:`handler._headers`), so a large list costs the gateway the compressed bytes only, as
it costs ``kubectl proxy``.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.contract.client import Target, create_namespace

ITEMS = 100
PAD = "x" * 1500  # ~2 KB per RayCluster: the list is well above 128 KiB


def raw_list(target: Target, path: str, accept_encoding: str) -> tuple[dict[str, str], bytes]:
    """The response headers and the body bytes exactly as ``target`` sent them (not decoded)."""
    with (
        target.client() as c,
        c.stream(
            "GET", path, headers={"Accept": "application/json", "Accept-Encoding": accept_encoding}
        ) as r,
    ):
        assert r.status_code == 200, r.read()
        return dict(r.headers), b"".join(r.iter_raw())


def test_a_large_list_is_relayed_gzip_compressed_as_refkube_sends_it(
    refkube: Any, gateway_refkube_target: Target
) -> None:
    ns = create_namespace(refkube.target, "gzip")
    with refkube.target.client() as c:
        for i in range(ITEMS):
            rc = {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "metadata": {"name": f"rc-{i}", "namespace": ns, "annotations": {"pad": PAD}},
                "spec": {
                    "headGroupSpec": {
                        "rayStartParams": {},
                        "template": {
                            "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray"}]}
                        },
                    }
                },
            }
            r = c.post(f"/apis/ray.io/v1/namespaces/{ns}/rayclusters", json=rc)
            assert r.status_code == 201, r.text
    path = f"/apis/ray.io/v1/namespaces/{ns}/rayclusters"
    ref_headers, ref_body = raw_list(refkube.target, path, "gzip")
    gw_headers, gw_body = raw_list(gateway_refkube_target, path, "gzip")
    assert ref_headers.get("content-encoding") == "gzip"  # what the gateway must relay as it is
    assert gw_headers.get("content-encoding") == "gzip"
    assert "content-length" not in gw_headers  # streamed (chunked), as refkube streams it
    ref_list, gw_list = json.loads(gzip.decompress(ref_body)), json.loads(gzip.decompress(gw_body))
    assert len(gw_body) < len(json.dumps(gw_list)) // 4  # compressed on the wire
    assert [i["metadata"]["uid"] for i in gw_list["items"]] == [
        i["metadata"]["uid"] for i in ref_list["items"]
    ]
    assert len(gw_list["items"]) == ITEMS
    # Without gzip, both send the list uncompressed.
    plain_headers, plain_body = raw_list(gateway_refkube_target, path, "identity")
    assert "content-encoding" not in plain_headers
    assert [i["metadata"]["uid"] for i in json.loads(plain_body)["items"]] == [
        i["metadata"]["uid"] for i in ref_list["items"]
    ]
