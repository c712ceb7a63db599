"""The architecture as ARCHITECTURE.md states it, checked: the modules it names exist, the three
packages (``handler``, ``fakekube``, ``kubeapi``) import in one direction with no circle, lower
fakekube layers never import upper ones, classes stay under 300 lines and public modules and
classes are documented.

The import graph counts every import statement, ``TYPE_CHECKING`` ones included, so a circle hidden
behind ``TYPE_CHECKING`` fails too (the same rule as the project's arch-check tool).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("handler", "fakekube", "kubeapi")
MAX_CLASS_LINES = 300
ARCHITECTURE = ROOT / "ARCHITECTURE.md"


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` under ``packages`` in ``root``."""
    found: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports (absolute and relative imports; ``from pkg
    import sub`` counts as importing the submodule when ``sub`` is one)."""
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


def named_paths(text: str) -> set[str]:
    """The repository paths a Markdown text names: ``handler/x.py``-style paths, the members of a
    folder's parenthesised list (`` `fakekube/_storage/` (`store`, `watchers`) `` names
    ``fakekube/_storage/store.py`` ...) and fakekube-relative ``_layer/module.py`` paths."""
    paths = set(re.findall(r"(?<![\w/])((?:handler|fakekube|kubeapi)/[\w./]*\w/?)", text))
    for folder, members in re.findall(r"`((?:handler|fakekube|kubeapi)/[\w/]+/)` \(([^)]*)\)", text):
        paths.update(f"{folder}{m}.py" for m in re.findall(r"`(\w+)`", members))
    paths.update(f"fakekube/{p}" for p in re.findall(r"(?<![\w/])(_\w+/\w+\.py)", text))
    return paths


def test_every_module_architecture_md_names_exists() -> None:
    paths = named_paths(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(paths) > 60, "the map names the modules of all three packages"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def test_the_path_check_sees_a_missing_module() -> None:
    text = "see `fakekube/_storage/` (`store`, `nowhere`) and handler/gone.py and _endpoints/asgi.py"
    paths = named_paths(text)
    assert {"fakekube/_storage/nowhere.py", "handler/gone.py", "fakekube/_endpoints/asgi.py"} <= paths
    assert sorted(p for p in paths if not (ROOT / p).exists()) == [
        "fakekube/_storage/nowhere.py",
        "handler/gone.py",
    ]


def test_no_import_circle() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert "kubeapi.query" in graph["handler.request"], "the graph sees imports"
    assert circles(graph) == []


def test_the_circle_check_finds_one_behind_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("import pkg.a\n")
    assert circles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("kubeapi", ("handler", "fakekube")),
        ("handler", ("fakekube",)),
        ("fakekube", ("handler",)),
        (
            "fakekube._storage",
            (
                "fakekube._registry",
                "fakekube._admission",
                "fakekube._controllers",
                "fakekube.server",
                "fakekube._auth",
            ),
        ),
        (
            "fakekube._registry",
            ("fakekube._controllers", "fakekube.server", "fakekube._endpoints", "fakekube._auth"),
        ),
        ("fakekube._controllers", ("fakekube._endpoints", "fakekube.server", "fakekube._auth")),
        (
            "fakekube._auth",
            ("fakekube._endpoints", "fakekube.server", "fakekube._controllers", "fakekube._admission"),
        ),
        ("fakekube.crd", ("fakekube._",)),
    ],
)
def test_imports_go_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert any(m == layer or m.startswith(layer + ".") for m in graph)
    bad = {
        (m, d)
        for m, deps in graph.items()
        if m == layer or m.startswith(layer + ".")
        for d in deps
        if any(d == f or d.startswith(f if f.endswith("_") else f + ".") for f in forbidden)
    }
    assert bad == set()


def test_classes_stay_small_and_public_names_are_documented() -> None:
    for name, path in modules(ROOT, PACKAGES).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        private_module = any(part.startswith("_") and part != "__init__" for part in name.split("."))
        if not private_module:
            assert ast.get_docstring(tree), f"{name} has no module docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                assert lines <= MAX_CLASS_LINES, f"{name}.{node.name} has {lines} lines"
                if not node.name.startswith("_") and not private_module:
                    assert ast.get_docstring(node), f"{name}.{node.name} has no docstring"
