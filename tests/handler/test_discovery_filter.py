"""``handler.discovery_filter``: the OpenAPI v3 index narrowed to the served groups; allowed paths."""

from __future__ import annotations

from handler import discovery_filter as discovery


def test_openapi_v3_filter_and_allowed_paths() -> None:
    doc = {
        "paths": {
            k: {"serverRelativeURL": "/openapi/v3/" + k}
            for k in ("api/v1", "apis/ray.io/v1", "apis/apps/v1", "apis/events.k8s.io/v1", "version")
        }
    }
    keep = discovery.filter_for("/openapi/v3")
    assert keep is not None
    assert sorted(keep(doc)["paths"]) == ["api/v1", "apis/events.k8s.io/v1", "apis/ray.io/v1", "version"]
    assert discovery.allowed("/openapi/v3/apis/ray.io/v1") and not discovery.allowed(
        "/openapi/v3/apis/apps/v1"
    )
    assert discovery.filter_for("/apis/ray.io/v1") is None  # passed through unchanged
