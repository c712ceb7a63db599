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


# -- parsed selectors (fields.ParseSelector) -----------------------------------------------------


def test_parse_sorts_terms_and_reads_double_equals_as_equals() -> None:
    sel = fields.parse_field_selector("status.state!=ready,metadata.name==x,,a=b\\,c")
    assert [(r.field, r.operator, r.value) for r in sel.requirements] == [
        ("a", "=", "b,c"),
        ("metadata.name", "=", "x"),
        ("status.state", "!=", "ready"),
    ]
    assert [r.raw for r in sel.requirements] == ["a=b\\,c", "metadata.name==x", "status.state!=ready"]
    assert str(sel) == "a=b\\,c,metadata.name=x,status.state!=ready"


def test_field_names_are_not_stripped() -> None:
    assert fields.parse_field_selector(" a =b").requirements[0].field == " a "


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("b=1,a", "invalid selector: 'b=1,a'; can't understand 'a'"),
        ("z,a=b=c", "invalid field selector: unescaped character in value: 61"),  # sorted: a=b=c first
    ],
)
def test_parse_errors(selector: str, message: str) -> None:
    with pytest.raises(fields.FieldSelectorSyntaxError) as e:
        fields.parse_field_selector(selector)
    assert str(e.value) == message


def test_matching_set_and_object() -> None:
    sel = fields.parse_field_selector("metadata.name=x,status.state!=failed")
    assert sel.matches({"metadata.name": "x", "status.state": "ready"})
    assert sel.matches({"metadata.name": "x"})  # missing = ""
    assert not sel.matches({"metadata.name": "y"})
    obj = {"metadata": {"name": "x"}, "status": {"state": "failed"}}
    assert not sel.matches_object(obj)
    assert sel.matches_object({"metadata": {"name": "x"}})
    assert sel.matches_object(
        obj, {"status.state": ("status", "other"), "metadata.name": ("metadata", "name")}
    )
    assert fields.parse_field_selector("").matches_object({}) and fields.EVERYTHING.empty


def test_requires_exact_match_and_transform() -> None:
    sel = fields.parse_field_selector("metadata.name=x,metadata.namespace!=y")
    assert sel.requires_exact_match("metadata.name") == "x"
    assert sel.requires_exact_match("metadata.namespace") is None

    def convert(label: str, value: str) -> tuple[str, str]:
        if label not in ("metadata.name", "metadata.namespace"):
            raise ValueError(f"field label not supported: {label}")
        return label, value.upper()

    assert str(sel.transform(convert)) == "metadata.name=X,metadata.namespace!=Y"
    with pytest.raises(ValueError, match=r"field label not supported: spec\.x"):
        fields.parse_field_selector("spec.x=1").transform(convert)


# -- field_value: fmt.Sprint of the JSONPath value (apiextensions selectableFields) -----------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("ready", "ready"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (-12, "-12"),
        (1.5, "1.5"),
        (1.0, "1"),
        (1e6, "1e+06"),
        (1234567.5, "1.2345675e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        ({"b": 1, "a": "x"}, "map[a:x b:1]"),
        ({"a": {"c": None}}, "map[a:map[c:<nil>]]"),
        ([1, "a", True], "[1 a true]"),
        ([], "[]"),
        ({}, "map[]"),
    ],
)
def test_field_value_is_go_fmt_sprint(value: object, text: str) -> None:
    assert fields.field_value({"status": {"x": value}}, "status.x") == text
    assert fields.field_value({"status": {"x": value}}, ("status", "x")) == text


@pytest.mark.parametrize(
    "obj", [{}, {"status": None}, {"status": {"x": None}}, {"status": "str"}, {"status": [1]}, {"status": {}}]
)
def test_field_value_missing_is_empty(obj: dict[str, object]) -> None:
    assert fields.field_value(obj, "status.x") == ""


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_text_reads_back(f: float) -> None:
    text = fields.go_sprint(f)
    assert float(text) == f
    mantissa = text.lstrip("-").split("e")[0]
    assert not mantissa.endswith(".") and (("." not in mantissa) or not mantissa.endswith("0"))


# -- properties: selectors are the AND of terms, and print back -----------------------------------

field_names = st.sampled_from(["metadata.name", "status.state", "spec.x", "a"])
field_values = st.text(alphabet="ab=,\\ 1", max_size=4)


@given(
    st.lists(st.tuples(field_names, st.booleans(), field_values), max_size=4),
    st.dictionaries(field_names, field_values, max_size=4),
)
def test_selector_semantics(terms: list[tuple[str, bool, str]], values: dict[str, str]) -> None:
    text = ",".join(f"{f}{'=' if eq else '!='}{escape(v)}" for f, eq, v in terms)
    sel = fields.parse_field_selector(text)
    assert sorted((r.field, r.equal, r.value) for r in sel.requirements) == sorted(terms)
    expected = all((values.get(f, "") == v) == eq for f, eq, v in terms)
    assert sel.matches(values) is expected
    assert [(r.field, r.equal, r.value) for r in fields.parse_field_selector(str(sel)).requirements] == [
        (r.field, r.equal, r.value) for r in sel.requirements
    ]


@given(values)
def test_escape_value_round_trip(value: str) -> None:
    assert fields.unescape_value(fields.escape_value(value)) == value
    assert fields.escape_value(value) == escape(value)
