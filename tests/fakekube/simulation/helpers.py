"""Helpers for the simulation tests: an app with a manual clock, moving it, sample Pods."""

from __future__ import annotations

from typing import Any

from fakekube import FakeKube, Simulation, create_app
from fakekube.testing import LoopThread

PODS_PATH = "/api/v1/namespaces/default/pods"


def manual_app(delay: float = 2.0) -> FakeKube:
    """An app with the simulation on and a manual clock (Pods start after ``delay`` seconds)."""
    return create_app(simulate_operator=Simulation(pod_start_delay=delay, manual_clock=True))


def advance(loop_thread: LoopThread, app: FakeKube, seconds: float) -> None:
    """Move ``app``'s manual clock on by ``seconds`` on the loop serving it."""

    async def go() -> None:
        app.controllers.advance(seconds)

    loop_thread.call(go())


def pod(
    name: str, *containers: str, labels: dict[str, str] | None = None, image: str = "busybox:1.36"
) -> Any:
    """A Pod manifest with the named containers (default: one called ``main``)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": image} for c in containers or ("main",)]},
    }


RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"


def raycluster(name: str = "rc", replicas: int = 2, **group: Any) -> Any:
    """A RayCluster with a head (1 CPU, 2Gi limits) and one worker group ``wg`` of ``replicas``
    (500m, 1Gi requests); ``group`` overrides fields of the worker group."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": "rayproject/ray:2.46.0",
                                "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                            }
                        ]
                    }
                },
            },
            "workerGroupSpecs": [
                {
                    "groupName": "wg",
                    "replicas": replicas,
                    "minReplicas": 0,
                    "maxReplicas": 5,
                    "rayStartParams": {},
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-worker",
                                    "image": "rayproject/ray:2.46.0",
                                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                                }
                            ]
                        }
                    },
                    **group,
                }
            ],
        },
    }


def condition(obj: Any, type_: str) -> Any:
    """The condition of ``type_`` in ``obj``'s status, or None."""
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)
