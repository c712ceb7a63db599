"""The ``fakekube`` extra (pyproject.toml): CEL, which fakekube needs for the CRDs' validation
rules and the gateway does not, is an optional dependency. Without it ``import fakekube`` (and so
the pytest plugin every install registers) still works, ``fakekube serve`` refuses to start with
the install command, and a rule evaluated anyway raises the same message (``sys.modules["cel"] =
None`` makes the package unimportable, as when it is not installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fakekube.crd import cel as fk_cel


def test_fakekube_serve_without_cel_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['cel'] = None; import fakekube, fakekube.pytest_plugin; "
        "from fakekube.cli import main; sys.exit(main(['serve', '--port', '0']))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "pip install 'kuberay-apiserver[fakekube]'" in p.stderr


def test_cel_rule_without_cel_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    fk_cel._cel.cache_clear()
    monkeypatch.setitem(sys.modules, "cel", None)
    try:
        with pytest.raises(ModuleNotFoundError, match=r"kuberay-apiserver\[fakekube\]"):
            fk_cel.compile_error_text("self.x > 0")
    finally:
        fk_cel._cel.cache_clear()
