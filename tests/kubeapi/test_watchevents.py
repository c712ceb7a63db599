"""kubeapi.watchevents: watch event encoding, parsing, bookmarks and ERROR events."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import watchevents
from kubeapi.status import new_resource_expired


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
