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
