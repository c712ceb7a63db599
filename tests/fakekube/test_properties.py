"""Hypothesis property tests: label selectors against a reference model of the grammar; operation
sequences (resourceVersion strictly increasing, watches see every change once and in order); paging
with any ``limit`` equals one unpaged list, also while writes happen between pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from fakekube import FakeKube, create_app
from fakekube._storage.watchers import WatchStream
from fakekube.strategies import (
    INVALID_LABEL_SELECTORS,
    Operation,
    Requirement,
    label_requirements,
    label_sets,
    operations,
)
from fakekube.testing import Client
from kubeapi.fields import EVERYTHING as NO_FIELDS
from kubeapi.labels import EVERYTHING, parse_label_selector
from kubeapi.labels import LabelSelectorError as SelectorError
from tests.fakekube.objects import RC_PATH, raycluster

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# label selectors: a reference model of requirements (fakekube.strategies.Requirement), rendered
# in the grammar's spellings

Req = Requirement
labelsets = label_sets()


@SETTINGS
@given(
    reqs=st.lists(label_requirements(), max_size=4),
    ws=st.sampled_from(["", " ", "  "]),
    sets=st.lists(labelsets, min_size=1, max_size=8),
)
def test_valid_label_selectors_match_like_the_model(
    reqs: list[Req], ws: str, sets: list[dict[str, str]]
) -> None:
    text = (ws + "," + ws).join(r.render(ws) for r in reqs)
    sel = parse_label_selector(text)
    for labels in sets:
        assert sel.matches(labels) == all(r.matches(labels) for r in reqs), (text, labels)


BREAKS = INVALID_LABEL_SELECTORS


@SETTINGS
@given(
    prefix=st.lists(label_requirements(), max_size=2),
    broken=st.sampled_from(BREAKS),
    trailing_comma=st.booleans(),
)
def test_invalid_label_selectors_are_rejected_with_the_parse_error(
    prefix: list[Req], broken: tuple[str, str], trailing_comma: bool
) -> None:
    text = ",".join([*(r.render(" ") for r in prefix), broken[0]])
    try:
        parse_label_selector(text)
    except SelectorError as e:
        want = broken[1]
        if prefix and broken[0] == "(a)":
            want = "found '(', expected: identifier after ','"
        assert str(e).startswith(want), (text, str(e))
    else:
        raise AssertionError(f"{text!r} was accepted")
    if trailing_comma and prefix:
        good = ",".join(r.render(" ") for r in prefix) + ","
        try:
            parse_label_selector(good)
        except SelectorError as e:
            assert "expected: identifier after ','" in str(e)
        else:
            raise AssertionError(f"{good!r} was accepted")


# ---------------------------------------------------------------------------------------------
# operation sequences

op = operations()


def _apply(c: Client, kind: str, name: str, arg: str) -> Any:
    method, path, body, content_type = Operation(kind, name, arg).request(RC_PATH)
    return c.send(method, path, body or None, content_type=content_type)


def _drain(w: WatchStream) -> list[tuple[str, str, int]]:
    import json

    out = []
    while w.queue:
        line = w.queue.popleft()
        assert line is not None
        ev = json.loads(line)
        out.append(
            (ev["type"], ev["object"]["metadata"]["name"], int(ev["object"]["metadata"]["resourceVersion"]))
        )
    return out


@SETTINGS
@given(ops=st.lists(op, max_size=25), cut=st.integers(0, 25))
def test_operation_sequences_keep_rv_increasing_and_watches_complete(
    connect: Callable[[FakeKube], Client], ops: list[tuple[str, str, str]], cut: int
) -> None:
    app = create_app()
    c = connect(app)
    rt = app.kinds.lookup("ray.io", "v1", "rayclusters")
    assert rt is not None
    render = lambda s: s.raw  # noqa: E731
    everything = WatchStream(app.store, rt, "default/", EVERYTHING, NO_FIELDS, render)
    everything.start(str(app.store.rv), False, False)
    selected = WatchStream(app.store, rt, "default/", parse_label_selector("sel=1"), NO_FIELDS, render)
    selected.start(str(app.store.rv), False, False)
    expected: list[tuple[str, str, int]] = []
    expected_sel: list[tuple[str, str, int]] = []
    model: dict[str, dict[str, Any]] = {}  # name -> stored object as last returned
    last_rv = app.store.rv
    rv_at_cut = last_rv
    for i, (kind, name, arg) in enumerate(ops):
        if i == cut:
            rv_at_cut = app.store.rv
        before = app.store.rv
        r = _apply(c, kind, name, arg)
        if r.status >= 400:
            assert app.store.rv == before, (kind, r.status)
            continue
        rv = app.store.rv
        if rv == before:  # a no-op write (nothing changed) is not a change
            continue
        assert rv > last_rv
        last_rv = rv
        old = model.get(name)
        old_sel = old is not None and (old["metadata"].get("labels") or {}).get("sel") == "1"
        if kind == "delete":
            expected.append(("DELETED", name, rv))
            if old_sel:
                expected_sel.append(("DELETED", name, rv))
            model.pop(name)
            continue
        obj = r.json()
        assert int(obj["metadata"]["resourceVersion"]) == rv
        model[name] = obj
        new_sel = (obj["metadata"].get("labels") or {}).get("sel") == "1"
        expected.append(("ADDED" if old is None else "MODIFIED", name, rv))
        if new_sel:
            expected_sel.append(("MODIFIED" if old_sel else "ADDED", name, rv))
        elif old_sel:
            expected_sel.append(("DELETED", name, rv))
    assert _drain(everything) == expected
    assert _drain(selected) == expected_sel
    resumed = WatchStream(app.store, rt, "default/", EVERYTHING, NO_FIELDS, render)
    resumed.start(str(rv_at_cut), False, False)
    assert _drain(resumed) == [e for e in expected if e[2] > rv_at_cut]
    listed = c.send("GET", RC_PATH).json()
    assert {i["metadata"]["name"]: i for i in listed["items"]} == model
    for w in (everything, selected, resumed):
        w.close()


# ---------------------------------------------------------------------------------------------
# paging


@SETTINGS
@given(
    n=st.integers(0, 25),
    limit=st.integers(1, 12),
    selector=st.sampled_from(["", "sel=1", "sel!=1", "!sel"]),
    writes=st.lists(op, max_size=6),
    labels=st.lists(st.sampled_from(["", "1", "2"]), min_size=25, max_size=25),
)
def test_paging_equals_one_list_even_with_writes_between_pages(
    connect: Callable[[FakeKube], Client],
    n: int,
    limit: int,
    selector: str,
    writes: list[tuple[str, str, str]],
    labels: list[str],
) -> None:
    c = connect(create_app())
    for i in range(n):
        assert (
            c.send("POST", RC_PATH, raycluster(f"p{i:02d}", {"sel": labels[i]} if labels[i] else None)).status
            == 201
        )
    whole = c.send("GET", RC_PATH, query={"labelSelector": selector}).json()
    pages: list[dict[str, Any]] = []
    query = {"labelSelector": selector, "limit": str(limit)}
    page = c.send("GET", RC_PATH, query=query).json()
    while True:
        pages.extend(page["items"])
        assert len(page["items"]) <= limit
        assert page["metadata"]["resourceVersion"] == whole["metadata"]["resourceVersion"]
        token = page["metadata"].get("continue")
        if not token:
            break
        if not selector:
            assert page["metadata"]["remainingItemCount"] == len(whole["items"]) - len(pages)
        for w in writes:  # concurrent writers: later pages must still show the first page's snapshot
            _apply(c, *w)
        writes = []
        page = c.send("GET", RC_PATH, query={**query, "continue": token}).json()
    assert pages == whole["items"]
