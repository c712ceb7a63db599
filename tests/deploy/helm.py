"""Helm v4 for the chart tests: built from its Go module by infra/helmbin/build.sh (cached), then
``helm lint`` / ``helm template`` on infra/helm/kuberay-apiserver.

Imported by package name (``from tests.deploy.helm import render``). The build is the same
cached, niced script ``make test`` starts in the background; a missing Go or a failed build FAILS
the tests (never skips): the chart is only checked by the real Helm.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM_DIR = ROOT / "infra" / "helmbin"
CHART = ROOT / "infra" / "helm" / "kuberay-apiserver"
MODES = ("passthrough", "token-review", "oidc", "client-certificate", "request-header", "none")


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its output."""


@functools.cache
def helm_binary() -> Path:
    """The helm binary, built on first use (infra/helmbin/build.sh; minutes cold, cached after).
    Raises HelmError with the build's output when it cannot be built."""
    p = subprocess.run([str(HELM_DIR / "build.sh")], capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise HelmError(f"infra/helmbin/build.sh failed:\n{p.stdout}{p.stderr}")
    return HELM_DIR / "bin" / "helm"


def helm(*args: str) -> str:
    """Run helm with ``args``; return stdout; raise HelmError with stderr on a non-zero exit."""
    p = subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise HelmError(p.stdout + p.stderr)
    return p.stdout


def set_args(values: dict[str, str] | None) -> list[str]:
    """``--set k=v`` (strings via --set-string only where the value must stay a string)."""
    out: list[str] = []
    for k, v in (values or {}).items():
        out += ["--set", f"{k}={v}"]
    return out


def render(
    values: dict[str, str] | None = None, namespace: str = "ray-system", release: str = "kr"
) -> list[dict[str, Any]]:
    """``helm template`` the chart with ``values`` (``--set`` pairs); the documents, empty ones dropped."""
    out = helm("template", release, str(CHART), "--namespace", namespace, *set_args(values))
    return [d for d in yaml.safe_load_all(out) if d]


def mode_values(mode: str) -> dict[str, str]:
    """The ``--set`` values that select authentication ``mode`` with what it needs to render."""
    values = {"settings.authentication": mode}
    if mode == "none":
        values["settings.allow_unauthenticated"] = "true"
    return values


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The documents of ``kind``."""
    return [d for d in docs if d.get("kind") == kind]
