"""Watch details: the 410 ERROR event for a too old resourceVersion, timeoutSeconds, bookmarks and
initial events, and a watch that ends and unsubscribes when its client goes away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, events, raycluster


def test_watch_too_old_is_an_error_event(connect: Callable[[FakeKube], Client]) -> None:
    c = connect(create_app(history_size=2))
    for i in range(4):
        c.send("POST", RC_PATH, raycluster(f"r{i}"))
    r = c.send("GET", RC_PATH, query={"watch": "true", "resourceVersion": "2"})
    assert r.status == 200
    (ev,) = events(r.read())
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    assert ev["object"]["message"].startswith("too old resource version: 2 (")


def test_watch_initial_events_timeout_and_bookmarks(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app(bookmark_interval=0.2)
    c = connect(app)
    c.send("POST", RC_PATH, raycluster("a", {"k": "1"}))
    c.send("POST", RC_PATH, raycluster("b"))
    r = c.send(
        "GET",
        RC_PATH,
        query={"watch": "1", "labelSelector": "k=1", "timeoutSeconds": "1", "allowWatchBookmarks": "true"},
    )
    evs = events(r.read())
    assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "a"
    assert {e["type"] for e in evs[1:]} == {"BOOKMARK"} and len(evs) >= 3
    # the initial events end with an annotated bookmark; later (periodic) ones carry only the rv
    assert evs[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert evs[2]["object"] == {
        "kind": "RayCluster",
        "apiVersion": "ray.io/v1",
        "metadata": {"resourceVersion": str(app.store.rv)},
    }
    r = c.send(
        "GET",
        RC_PATH,
        query={
            "watch": "1",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
    )
    evs = events(r.read())
    assert [e["type"] for e in evs[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert evs[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_ends_and_unsubscribes_when_the_client_goes_away(app: FakeKube) -> None:
    import asyncio

    sent: list[dict[str, Any]] = []
    before = list(app.store._listeners)  # the CRD registry's own listener stays

    async def run() -> None:
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(0.2)
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        scope = {"type": "http", "method": "GET", "path": RC_PATH, "query_string": b"watch=1", "headers": []}
        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(run())
    assert sent[0]["status"] == 200 and sent[-1].get("more_body") is False
    assert app.store._listeners == before
