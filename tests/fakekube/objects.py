"""Sample objects and small helpers for fakekube's tests, imported by package name
(``from tests.fakekube.objects import RC_PATH, events, raycluster``)."""

from __future__ import annotations

import json
from typing import Any

from fakekube.strategies import raycluster

__all__ = ["RC_PATH", "events", "raycluster"]

RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"


def events(body: bytes) -> list[dict[str, Any]]:
    """The watch events of a finished watch response."""
    return [json.loads(line) for line in body.splitlines() if line]
