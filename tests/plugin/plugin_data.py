"""Shared data for the plugin/mock tests (a module, not a conftest: tests/fakekube has its own `conftest`)."""

from __future__ import annotations

from typing import Any


def raycluster(name: str = "raycluster-sample", **labels: str) -> dict[str, Any]:
    """A minimal RayCluster the bundled CRD accepts (head group only)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": {
            "rayVersion": "2.9.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}},
            },
        },
    }
