"""fakekube's layers: query parameters read with Go's rules (kubeapi.query / requestinfo), the
import structure (no circles, lower layers never import upper ones), the generic store's
strategies, and the controller plug-in point (a controller writes through the registry, so its
writes are validated and seen by watches)."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakekube import FakeKube, create_app
from fakekube._controllers import Controller, ControllerContext
from fakekube._registry.strategy import CustomResourceStrategy, NamespaceStrategy, Strategy, strategy_for
from fakekube._resources import CONFIGMAPS, NAMESPACES
from fakekube._storage.store import Change
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster

PACKAGE = Path(__file__).resolve().parents[2] / "fakekube"


def events(body: bytes) -> list[dict[str, Any]]:
    """The watch events of a finished watch response."""
    return [json.loads(line) for line in body.splitlines() if line]


# --- Go's parsing rules ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["maybe", "TRUE", "yes", ""])
def test_any_watch_value_but_0_or_false_is_a_watch(client: Client, value: str) -> None:
    """kube-apiserver reads ``watch`` with Convert_Slice_string_To_bool: only 0/false are false
    (fakekube answered ``watch=maybe`` with a list before it parsed requests with kubeapi)."""
    client.send("POST", RC_PATH, raycluster("w"))
    r = client.send("GET", RC_PATH, query={"watch": value, "timeoutSeconds": "1"})
    assert r.status == 200
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events(r.read())] == [("ADDED", "w")]


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "False"])
def test_watch_0_or_false_is_a_list(client: Client, value: str) -> None:
    r = client.send("GET", RC_PATH, query={"watch": value})
    assert r.status == 200 and r.json()["kind"] == "RayClusterList"


def test_integer_parameters_follow_strconv(client: Client) -> None:
    """``limit=`` is ParseInt's error (400), not "no limit"; so are a sign-less space and ``5_0``."""
    for value in ("", " 5", "5_0"):
        r = client.send("GET", RC_PATH, query={"limit": value})
        assert r.status == 400, value
        assert r.json()["message"] == f'strconv.ParseInt: parsing "{value}": invalid syntax'


def test_the_first_of_repeated_parameters_counts(client: Client) -> None:
    """Go's struct conversions read the first value of a repeated parameter."""
    for name in ("a", "b"):
        client.send("POST", RC_PATH, raycluster(name, {"team": name}))
    r = client.bridge.request("GET", RC_PATH, "labelSelector=team%3Da&labelSelector=team%3Db", [], b"")
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a"]


def test_service_proxy_names_split_as_go(client: Client) -> None:
    """``services/{id}/proxy``: ``id`` is split by SplitSchemeNamePort (kubeapi.requestinfo); four
    parts are no service request (400), ``http:name`` is name ``http`` with port ``name``."""
    r = client.send("GET", "/api/v1/namespaces/default/services/a:b:c:d/proxy/")
    assert r.status == 400 and r.json()["message"] == 'invalid service request "a:b:c:d"'
    r = client.send("GET", "/api/v1/namespaces/default/services/http:head/proxy/")
    assert r.status == 503 and r.json()["message"] == 'no endpoints available for service "http"'


# --- structure ------------------------------------------------------------------------------


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


def test_kinds_differ_only_by_strategy() -> None:
    app = create_app()
    rc = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rc is not None
    assert type(strategy_for(rc, None)) is CustomResourceStrategy
    assert type(strategy_for(NAMESPACES, None)) is NamespaceStrategy
    assert type(strategy_for(CONFIGMAPS, None)) is Strategy
    assert app.registry.store(rc) is app.registry.store(rc)  # one generic store per resource


# --- controllers ----------------------------------------------------------------------------


class _Labeller(Controller):
    """A test controller: labels every new RayCluster ``seen=yes`` through the registry."""

    name = "labeller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.todo: list[str] = []

    def observe(self, change: Change) -> None:
        meta = change.new.obj.get("metadata", {})
        if change.storage == "rayclusters.ray.io" and change.old is None and change.type == "ADDED":
            self.todo.append(meta["name"])

    def pending(self) -> bool:
        return bool(self.todo)

    def sync(self) -> None:
        from fakekube._registry.strategy import WriteContext

        rt = next(t for t in self.ctx.types() if t.plural == "rayclusters" and t.version == "v1")
        store = self.ctx.registry.store(rt)
        todo, self.todo = self.todo, []
        for name in todo:
            old = store.get("default", name)
            new = json.loads(old.raw)
            new["metadata"].setdefault("labels", {})["seen"] = "yes"
            store.update(WriteContext(manager="labeller"), old, new, "")


def test_a_controller_writes_through_the_registry(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app()
    app.controllers.add(_Labeller(app.controllers.context))
    client = connect(app)
    made = client.send("POST", RC_PATH, raycluster("c")).json()
    got = client.send("GET", f"{RC_PATH}/c").json()
    assert got["metadata"]["labels"]["seen"] == "yes"  # done before the create was answered
    managers = [e["manager"] for e in got["metadata"]["managedFields"]]
    assert "labeller" in managers  # the generic store's bookkeeping ran
    rv0 = str(int(made["metadata"]["resourceVersion"]) - 1)
    w = client.send("GET", RC_PATH, query={"watch": "1", "resourceVersion": rv0, "timeoutSeconds": "1"})
    assert [e["type"] for e in events(w.read())] == ["ADDED", "MODIFIED"]
