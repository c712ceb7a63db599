"""The shared fieldSelector grammar (kubeapi.fields): escaping round-trips, splitting, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import fields

values = st.text(alphabet=st.sampled_from("ab=,\\. -x1"), max_size=12)


def escape(value: str) -> str:
    """Escape a value as fields.EscapeValue does (test-side reference)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


@given(st.lists(values, min_size=1, max_size=4))
def test_escaped_terms_split_and_unescape_back(vals: list[str]) -> None:
    selector = ",".join(f"f{i}={escape(v)}" for i, v in enumerate(vals))
    terms = fields.split_terms(selector)
    assert len(terms) == len(vals)
    for i, (term, value) in enumerate(zip(terms, vals, strict=True)):
        assert fields.split_term(term) == (f"f{i}", "=", escape(value))
        assert fields.unescape_value(escape(value)) == value


@pytest.mark.parametrize(
    ("term", "split"),
    [
        ("a!=b", ("a", "!=", "b")),
        ("a==b", ("a", "==", "b")),
        ("a=b=c", ("a", "=", "b=c")),
        ("a", None),
    ],
)
def test_split_term_takes_the_first_operator(term: str, split: tuple[str, str, str] | None) -> None:
    assert fields.split_term(term) == split


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a=b", "invalid field selector: unescaped character in value: 61"),
        ("a\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_bad_values_are_worded_as_the_apiserver(value: str, message: str) -> None:
    with pytest.raises(fields.FieldSelectorSyntaxError) as e:
        fields.unescape_value(value)
    assert str(e.value) == message
