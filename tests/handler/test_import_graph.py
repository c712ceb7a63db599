"""No import circle in ``handler`` and ``kubeapi``; no class over 300 lines; every public module
documented. The import graph counts every import statement, ``TYPE_CHECKING`` ones included (as
/work/shared/tools/arch-check.py does), so a circle hidden behind ``TYPE_CHECKING`` fails too. And what a
cold start imports: ``handler.app`` with an explicit upstream imports neither kubernetes nor fakekube."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("handler", "kubeapi")
MAX_CLASS_LINES = 300


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` under ``packages`` in ``root``."""
    found: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports (absolute and relative imports)."""
    mods = modules(root, packages)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [t for t in subs if t in mods] or [base]
            graph[name].update(t for t in targets if t in mods and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_handler_and_kubeapi_have_no_import_circle() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert "handler.routes" in graph and "kubeapi.query" in graph["handler.request"]
    assert circles(graph) == []


def test_the_check_finds_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("import pkg.a\n")
    assert circles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_kubeapi_imports_neither_side() -> None:
    graph = import_graph(ROOT, (*PACKAGES, "fakekube"))
    assert not {
        t for m, ts in graph.items() if m.startswith("kubeapi") for t in ts if not t.startswith("kubeapi")
    }


def test_gateway_classes_stay_small_and_public_modules_are_documented() -> None:
    for name, path in modules(ROOT, ("handler",)).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not path.name.startswith("_") or path.name == "__init__.py":
            assert ast.get_docstring(tree), f"{name} has no module docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                assert lines <= MAX_CLASS_LINES, f"{name}.{node.name} has {lines} lines"
                if not node.name.startswith("_"):
                    assert ast.get_docstring(node), f"{name}.{node.name} has no docstring"


# -- what a cold start imports  ------------------------------------------------------------------------------


def test_cold_start_imports_neither_kubernetes_nor_fakekube() -> None:
    """handler.app with an explicit upstream must not import the kubernetes package (~470 ms)."""
    code = (
        "import sys, handler.app; "
        "roots = ('kubernetes', 'fakekube', 'httpx', 'websockets'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in roots)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        env={**os.environ, "KUBERAY_APISERVER_UPSTREAM": "http://127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == []
