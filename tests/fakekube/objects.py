"""Sample objects for fakekube's tests, imported by package name
(``from tests.fakekube.objects import RC_PATH, raycluster``)."""

from __future__ import annotations

from fakekube.strategies import raycluster

__all__ = ["RC_PATH", "raycluster"]

RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"
