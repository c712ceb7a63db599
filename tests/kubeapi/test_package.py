"""kubeapi's package API: every name in each ``__all__`` exists and is documented, and nothing in
kubeapi imports the gateway or fakekube (both import kubeapi, never the reverse)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import kubeapi

# Private modules (``_gnostic``: protoc's output) are not package API.
MODULES = sorted(m.name for m in pkgutil.iter_modules(kubeapi.__path__) if not m.name.startswith("_"))


def test_every_module_is_listed_in_the_package_docstring() -> None:
    assert kubeapi.__doc__ is not None
    for name in MODULES:
        assert f":mod:`kubeapi.{name}`" in kubeapi.__doc__, name


@pytest.mark.parametrize("name", MODULES)
def test_module_api_exists_and_is_documented(name: str) -> None:
    module = importlib.import_module(f"kubeapi.{name}")
    assert module.__doc__, name
    for item in module.__all__:
        obj = getattr(module, item)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name}.{item} has no docstring"


def test_package_all_resolves() -> None:
    for item in kubeapi.__all__:
        assert hasattr(kubeapi, item), item


@pytest.mark.parametrize("path", sorted(Path(kubeapi.__file__).parent.glob("*.py")), ids=lambda p: p.name)
def test_no_import_of_handler_or_fakekube(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for n in names:
            assert n.split(".")[0] not in ("handler", "fakekube"), f"{path.name} imports {n}"
