"""Sample objects for fakekube's tests (a module of its own, not ``conftest``: when pytest is given
several test directories it loads every directory's ``conftest`` up front, so ``from conftest
import ...`` would find another directory's)."""

from __future__ import annotations

from typing import Any

RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"


def raycluster(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A small valid RayCluster body (head group only, as the CRD schema requires)."""
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
            **spec,
        },
    }
