"""The registry: one generic store per resource, configured by per-kind strategies."""

from __future__ import annotations

from fakekube import create_app
from fakekube._registry.strategy import CustomResourceStrategy, NamespaceStrategy, Strategy, strategy_for
from fakekube._resources import CONFIGMAPS, NAMESPACES


def test_kinds_differ_only_by_strategy() -> None:
    app = create_app()
    rc = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rc is not None
    assert type(strategy_for(rc, None)) is CustomResourceStrategy
    assert type(strategy_for(NAMESPACES, None)) is NamespaceStrategy
    assert type(strategy_for(CONFIGMAPS, None)) is Strategy
    assert app.registry.store(rc) is app.registry.store(rc)  # one generic store per resource
