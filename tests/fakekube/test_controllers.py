"""The controller plug-in point: a controller writes through the registry, so its writes are
validated, recorded in managedFields and seen by watches."""

from __future__ import annotations

import json
from collections.abc import Callable

from fakekube import FakeKube, create_app
from fakekube._controllers import Controller, ControllerContext
from fakekube._storage.store import Change
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, events, raycluster


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
