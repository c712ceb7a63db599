"""kubeapi.meta accessors (tolerant of any shape) and kubeapi.watchevents encoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import meta, watchevents
from kubeapi.status import new_resource_expired

OBJ = {
    "metadata": {
        "name": "x",
        "namespace": "ns",
        "uid": "u",
        "resourceVersion": "7",
        "generation": 3,
        "labels": {"a": "1", "b": 2},
        "annotations": {"k": "v"},
        "finalizers": ["f", 1],
        "ownerReferences": [{"kind": "RayCluster"}, "x"],
        "deletionTimestamp": "2026-01-01T00:00:00Z",
    }
}


def test_accessors() -> None:
    assert (meta.name(OBJ), meta.namespace(OBJ), meta.uid(OBJ), meta.resource_version(OBJ)) == (
        "x",
        "ns",
        "u",
        "7",
    )
    assert meta.generation(OBJ) == 3
    assert meta.labels(OBJ) == {"a": "1"}
    assert meta.annotations(OBJ) == {"k": "v"}
    assert meta.finalizers(OBJ) == ["f"]
    assert meta.owner_references(OBJ) == [{"kind": "RayCluster"}]
    assert meta.is_deleting(OBJ)
    assert meta.object_key(OBJ) == "ns/x"
    assert meta.object_key({"metadata": {"name": "n"}}) == "/n"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3),
        lambda c: (
            st.lists(c, max_size=2) | st.dictionaries(st.sampled_from(["metadata", "name", "labels"]), c)
        ),
        max_leaves=6,
    )
)
def test_accessors_never_raise(obj: Any) -> None:
    assert isinstance(meta.name(obj), str)
    assert isinstance(meta.labels(obj), dict)
    assert isinstance(meta.generation(obj), int)
    assert isinstance(meta.finalizers(obj), list)
    assert meta.object_key(obj).count("/") >= 1
    assert isinstance(meta.is_deleting(obj), bool)


def test_field_lists() -> None:
    assert set(meta.SERVER_SET_FIELDS) <= meta.OBJECT_META_FIELDS
    assert meta.OBJECT_META_ORDER[:3] == ("name", "generateName", "namespace")
    assert meta.generation({"metadata": {"generation": True}}) == 0


def test_event_lines() -> None:
    assert watchevents.encode_event("ADDED", {"a": "é"}) == '{"type":"ADDED","object":{"a":"é"}}\n'.encode()
    assert watchevents.event_line("DELETED", b'{"x":1}') == b'{"type":"DELETED","object":{"x":1}}\n'
    err = watchevents.error_event(new_resource_expired("too old resource version: 1 (5)"))
    assert json.loads(err) == {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version: 1 (5)",
            "reason": "Expired",
            "code": 410,
        },
    }
    assert err.endswith(b"}\n") and err.count(b"\n") == 1


def test_bookmarks() -> None:
    line = watchevents.initial_events_end_event("RayCluster", "ray.io/v1", "42")
    assert line == (
        b'{"type":"BOOKMARK","object":{"kind":"RayCluster","apiVersion":"ray.io/v1","metadata":'
        b'{"resourceVersion":"42","annotations":{"k8s.io/initial-events-end":"true"}}}}\n'
    )
    assert watchevents.bookmark_object("Pod", "v1", "1") == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
    }


@pytest.mark.parametrize("line", [b"", b"x", b"[]", b'{"object":{}}', b'{"type":1}'])
def test_parse_event_refuses_non_events(line: bytes) -> None:
    assert watchevents.parse_event(line) is None


@given(
    st.sampled_from(sorted(watchevents.EVENT_TYPES)),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4) | st.integers(), max_size=3),
)
def test_round_trip(event_type: str, obj: dict[str, object]) -> None:
    line = watchevents.encode_event(event_type, obj)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    event = watchevents.parse_event(line)
    assert event == watchevents.WatchEvent(event_type, obj)
    assert event.encode() == line


def test_lone_surrogate_does_not_break_the_stream() -> None:
    line = watchevents.encode_event("ADDED", {"a": "\udc80"})
    assert json.loads(line)["object"]["a"] == "\udc80"
