"""Sample objects for fakekube's tests (a module of its own, not ``conftest``: when pytest is given
several test directories it loads every directory's ``conftest`` up front, so ``from conftest
import ...`` would find another directory's)."""

from __future__ import annotations

from fakekube.strategies import raycluster

__all__ = ["RC_PATH", "raycluster"]

RC_PATH = "/apis/ray.io/v1/namespaces/default/rayclusters"
