"""fakekube's layers: no import circles, and lower layers (storage, registry, controllers, the CRD
engine) never import upper ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fakekube"


def _imports() -> dict[str, set[str]]:
    """Module → the fakekube modules it imports (module level and inside functions)."""
    paths = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        paths[".".join(p for p in rel.parts if p != "__init__")] = path
    out: dict[str, set[str]] = {}
    for mod, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fakekube"):
                for a in node.names:  # ``from pkg import submodule`` imports the submodule
                    sub = f"{node.module}.{a.name}"
                    found.add(sub if sub in paths else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("fakekube"))
        out[mod] = {i for i in found if i in paths and i != mod}
    return out


def test_no_import_circles() -> None:
    graph = _imports()
    seen: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(m: str, stack: list[str]) -> None:
        seen[m] = 1
        for d in sorted(graph[m]):
            if seen.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join([*stack[stack.index(d) :], d]))
            if d not in seen:
                visit(d, [*stack, d])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (
            "fakekube._storage",
            ("fakekube._registry", "fakekube._admission", "fakekube._controllers", "fakekube.server"),
        ),
        ("fakekube._registry", ("fakekube._controllers", "fakekube.server", "fakekube._endpoints.handlers")),
        ("fakekube._controllers", ("fakekube._endpoints", "fakekube.server")),
        ("fakekube.crd", ("fakekube._",)),
    ],
)
def test_lower_layers_do_not_import_upper_ones(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = {
        (m, d)
        for m, deps in _imports().items()
        if m == layer or m.startswith(layer + ".")
        for d in deps
        if d.startswith(forbidden)
    }
    assert not bad
