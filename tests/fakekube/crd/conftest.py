"""Fixtures of the CRD-engine tests: the official KubeRay CRDs, parsed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakekube.crd import CustomResourceDefinition, load_crds


@pytest.fixture(scope="session")
def official(kuberay_dir: Path) -> dict[str, CustomResourceDefinition]:
    """The official KubeRay CRDs from ``../shared/kuberay/crds``, by kind (several MB of YAML: ~1 s)."""
    return {c.names.kind: c for c in load_crds(kuberay_dir / "crds")}
