"""``kubeapi.recursion.deep_values``: the recursion limit raised while a request is handled and
restored when the last one leaves, nested and overlapping uses counted, exceptions included."""

from __future__ import annotations

import sys

import pytest

from kubeapi.recursion import DEEP_LIMIT, deep_values


def test_the_limit_is_raised_inside_and_restored_after_the_last_use() -> None:
    before = sys.getrecursionlimit()
    assert before < DEEP_LIMIT
    outer, inner = deep_values(), deep_values()
    with outer:
        assert sys.getrecursionlimit() == DEEP_LIMIT
        with inner:  # a second request handled meanwhile
            assert sys.getrecursionlimit() == DEEP_LIMIT
        assert sys.getrecursionlimit() == DEEP_LIMIT  # the first one is still inside
    assert sys.getrecursionlimit() == before


def test_an_exception_leaves_the_limit_restored() -> None:
    before = sys.getrecursionlimit()
    with pytest.raises(RuntimeError), deep_values():
        raise RuntimeError("boom")
    assert sys.getrecursionlimit() == before


def test_a_value_deeper_than_the_default_limit_can_be_walked_inside() -> None:
    def depth(v: object) -> int:
        return 1 + depth(v[0]) if isinstance(v, list) and v else 0  # type: ignore[index]

    nested: list[object] = []
    for _ in range(5000):
        nested = [nested]
    with deep_values():
        assert depth(nested) == 5000
