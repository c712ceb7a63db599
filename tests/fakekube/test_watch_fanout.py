"""Watch fan-out costs (fakekube/_storage/watchers.py): one change is encoded once for every watch
of its kind, only the watches of the changed storage are offered it, and a stream's waits share
one timer (timeouts and bookmarks still fire on time; lines queued together go out as one chunk)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from fakekube import FakeKube
from fakekube._endpoints import rendering
from fakekube._registry.strategy import WriteContext
from fakekube._storage.store import Stored
from fakekube._storage.watchers import WatchStream
from fakekube.testing import Client
from kubeapi.fields import EVERYTHING as NO_FIELDS
from kubeapi.labels import EVERYTHING, parse_label_selector
from tests.fakekube.objects import RC_PATH, raycluster

CM_PATH = "/api/v1/namespaces/default/configmaps"


def _rc_streams(app: FakeKube, count: int, render: Callable[[Stored], bytes]) -> list[WatchStream]:
    rt = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rt is not None
    streams = [WatchStream(app.store, rt, "default/", EVERYTHING, NO_FIELDS, render) for _ in range(count)]
    for s in streams:
        s.start(str(app.store.rv), False, False)
    return streams


def test_the_render_of_a_kind_is_one_function(app: FakeKube) -> None:
    """Watches of one kind get the same render, the key under which they share event lines."""
    rc = app.kinds.lookup("ray.io", "v1", "rayclusters")
    old = app.kinds.lookup("ray.io", "v1alpha1", "rayclusters")  # served converted from v1
    assert rc is not None and old is not None and old.converted
    assert rendering.render(rc) is rendering.render(rc)
    assert rendering.render(old) is rendering.render(old)
    assert rendering.render(old) is not rendering.render(rc)


def test_one_change_is_encoded_once_for_all_watches(app: FakeKube, client: Client) -> None:
    rt = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rt is not None
    plain = rendering.render(rt)
    rendered: list[int] = []

    def counting(s: Stored) -> bytes:
        rendered.append(s.rv)
        return plain(s)

    streams = _rc_streams(app, 50, counting)
    assert client.send("POST", RC_PATH, raycluster("shared")).status == 201
    assert len(rendered) == 1  # not once per watch
    lines = [s.queue[0] for s in streams]
    assert all(line is lines[0] for line in lines)
    event = json.loads(lines[0] or b"")
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "shared"


def test_a_selected_watch_still_gets_its_own_filtering(app: FakeKube, client: Client) -> None:
    """Sharing lines does not share filtering: a selector watch sees only its matches, and a
    change that leaves its selection is a DELETED of the old content at the change's version."""
    rt = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rt is not None
    render = rendering.render(rt)
    everything = WatchStream(app.store, rt, "default/", EVERYTHING, NO_FIELDS, render)
    selected = WatchStream(app.store, rt, "default/", parse_label_selector("k=1"), NO_FIELDS, render)
    for s in (everything, selected):
        s.start(str(app.store.rv), False, False)
    client.send("POST", RC_PATH, raycluster("a", {"k": "1"}))
    client.send("POST", RC_PATH, raycluster("b"))
    patched = client.send(
        "PATCH",
        f"{RC_PATH}/a",
        {"metadata": {"labels": {"k": "2"}}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200
    seen = [json.loads(line or b"") for line in selected.queue]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [("ADDED", "a"), ("DELETED", "a")]
    assert seen[1]["object"]["metadata"]["labels"] == {"k": "1"}
    assert seen[1]["object"]["metadata"]["resourceVersion"] == str(app.store.rv)
    assert [json.loads(line or b"")["type"] for line in everything.queue] == ["ADDED", "ADDED", "MODIFIED"]


def test_watches_are_offered_only_changes_of_their_storage(app: FakeKube, client: Client) -> None:
    streams = _rc_streams(app, 3, lambda s: s.raw)
    offered: list[str] = []
    for s in streams:
        original = s.line_for

        def spy(ch: object, original: Callable[..., bytes | None] = original) -> bytes | None:
            offered.append(getattr(ch, "storage", ""))
            return original(ch)

        s.line_for = spy  # type: ignore[method-assign]
    assert client.send("POST", CM_PATH, {"metadata": {"name": "cm"}, "data": {"a": "b"}}).status == 201
    assert offered == []
    assert client.send("POST", RC_PATH, raycluster("r")).status == 201
    assert len(offered) == 3
    for s in streams:
        s.close()
    assert client.send("POST", RC_PATH, raycluster("after")).status == 201
    assert len(offered) == 3  # closed streams are no longer offered changes


def test_lines_end_on_time_with_bookmarks_between(app: FakeKube) -> None:
    """A stream with a bookmark interval yields bookmarks while idle and ends at its timeout,
    all on the one shared timer."""
    (stream,) = _rc_streams(app, 1, lambda s: s.raw)

    async def run() -> tuple[list[bytes], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        out = [line async for line in stream.lines(0.35, 0.1)]
        return out, loop.time() - start

    out, took = asyncio.run(run())
    assert 0.34 <= took < 1.0
    assert 2 <= len(out) <= 3
    assert all(json.loads(line)["type"] == "BOOKMARK" for line in out)
    assert stream._timer is None  # closed: no timer left armed


def test_queued_lines_go_out_together_and_stop_ends_after_them(app: FakeKube, client: Client) -> None:
    (stream,) = _rc_streams(app, 1, lambda s: s.raw)
    for name in ("x", "y", "z"):
        client.send("POST", RC_PATH, raycluster(name))
    stream.stop()

    async def run() -> list[bytes]:
        return [chunk async for chunk in stream.lines(30, None)]

    chunks = asyncio.run(run())
    assert len(chunks) == 1  # three events, one write
    names = [json.loads(line)["object"]["metadata"]["name"] for line in chunks[0].splitlines()]
    assert names == ["x", "y", "z"]


def test_a_waiting_stream_wakes_for_a_change(app: FakeKube) -> None:
    """A change committed while :meth:`lines` waits wakes it at once, long before any timer."""
    (stream,) = _rc_streams(app, 1, lambda s: s.raw)
    store = app.registry.store(app.kinds.lookup("ray.io", "v1", "rayclusters"))  # type: ignore[arg-type]

    async def run() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        gen = stream.lines(30, 10)
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.05)
        start = loop.time()
        store.create(WriteContext(manager="test"), "default", raycluster("woken"))
        line = await asyncio.wait_for(first, 5)
        took = loop.time() - start
        await gen.aclose()
        return line, took

    line, took = asyncio.run(run())
    assert json.loads(line)["object"]["metadata"]["name"] == "woken"
    assert took < 1.0
