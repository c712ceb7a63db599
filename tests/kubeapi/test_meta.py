"""kubeapi.meta accessors (tolerant of any shape) and ObjectMeta field lists."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubeapi import meta

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
