"""kubeapi.labels and kubeapi.validation: labels.Parse's grammar, errors and matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import validation
from kubeapi.labels import (
    EVERYTHING,
    LabelSelector,
    LabelSelectorError,
    Requirement,
    parse_label_selector,
    selector_from_set,
)

KEY_REGEX = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    f"character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{KEY_REGEX}')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    f"for validation is '({KEY_REGEX})?')"
)


def reqs(selector: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.key, r.op, r.values) for r in parse_label_selector(selector).requirements]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", []),
        (" \t\r\n", []),
        ("a", [("a", "exists", ())]),
        ("!a", [("a", "!", ())]),
        ("a=b", [("a", "=", ("b",))]),
        ("a==b", [("a", "==", ("b",))]),
        ("a!=b", [("a", "!=", ("b",))]),
        ("a=", [("a", "=", ("",))]),
        ("a in (y,x,x)", [("a", "in", ("x", "y"))]),
        ("a notin ()", [("a", "notin", ("",))]),
        ("a in (,)", [("a", "in", ("",))]),
        ("a in (x,,y)", [("a", "in", ("", "x", "y"))]),
        ("a in (in,notin)", [("a", "in", ("in", "notin"))]),
        ("a>1", [("a", "gt", ("1",))]),
        ("a<1", [("a", "lt", ("1",))]),
        ("z=1, a=2", [("a", "=", ("2",)), ("z", "=", ("1",))]),
        ("example.com/app=x", [("example.com/app", "=", ("x",))]),
        ("a\x00=b", [("a", "=", ("b",))]),  # Go's lexer: a NUL ends the identifier and is consumed
        ("a,\x00b", None),  # ... and is the end of input where a token starts
    ],
)
def test_parse(selector: str, expected: list[tuple[str, str, tuple[str, ...]]] | None) -> None:
    if expected is None:
        with pytest.raises(LabelSelectorError, match="found '', expected: identifier after ','"):
            reqs(selector)
    else:
        assert reqs(selector) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a=b,", "found '', expected: identifier after ','"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a = = b", "unable to parse requirement: found '=', expected: identifier"),
        ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a=>", "unable to parse requirement: found '>', expected: identifier"),
        ("a=!b", "unable to parse requirement: found '!', expected: identifier"),
        ("a<<1", "unable to parse requirement: found '<', expected: identifier"),
        (
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "a>1_0",
            "unable to parse requirement: values[0]: Invalid value: \"1_0\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "a>-1",
            f'unable to parse requirement: values[0][a]: Invalid value: "-1": {VALUE_MSG}',
        ),
        (
            "a in (-x,_y)",
            f'unable to parse requirement: [values[0][a]: Invalid value: "-x": {VALUE_MSG}, '
            f'values[1][a]: Invalid value: "_y": {VALUE_MSG}]',
        ),
        ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": name part {KEY_MSG}'),
        (
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty',
        ),
        (
            "p/",
            'unable to parse requirement: <nil>: Invalid value: "p/": name part must be non-empty; '
            f"name part {KEY_MSG}",
        ),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key '
            f"{KEY_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "a=" + "x" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"x" * 64}": '
            "must be no more than 63 bytes",
        ),
        ('a"b', f'unable to parse requirement: <nil>: Invalid value: "a\\"b": name part {KEY_MSG}'),
        ("\x0b", f'unable to parse requirement: <nil>: Invalid value: "\\v": name part {KEY_MSG}'),
    ],
)
def test_errors_are_the_apiserver_texts(selector: str, message: str) -> None:
    with pytest.raises(LabelSelectorError) as e:
        parse_label_selector(selector)
    assert str(e.value) == message


def test_lengths_are_bytes() -> None:
    assert validation.is_label_value("é" * 32) != []  # 64 bytes: too long and not matching
    assert validation.is_label_value("é" * 32)[0] == "must be no more than 63 bytes"
    assert validation.is_label_key("a" * 63) == []
    assert validation.is_label_key("a" * 64) == ["name part must be no more than 63 bytes"]
    assert validation.is_label_key("x" * 254 + "/a")[0] == "prefix part must be no more than 253 bytes"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (b,c)", {"a": "c"}, True),
        ("a notin (b,c)", {"a": "d"}, True),
        ("a notin (b,c)", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("a=", {"a": ""}, True),
        ("a>1", {"a": "2"}, True),
        ("a>1", {"a": "1"}, False),
        ("a<1", {"a": "-5"}, True),
        ("a<1", {"a": "x"}, False),
        ("a>1", {}, False),
        ("a=b,c", {"a": "b"}, False),
        ("", {}, True),
    ],
)
def test_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


def test_everything_and_none_labels() -> None:
    assert parse_label_selector("") is EVERYTHING and EVERYTHING.empty
    assert EVERYTHING.matches(None)
    assert parse_label_selector("!a").matches(None)


def test_requires_exact_match() -> None:
    sel = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert sel.requires_exact_match("a") == "1"
    assert sel.requires_exact_match("b") == "2"
    assert sel.requires_exact_match("c") is None
    assert sel.requires_exact_match("d") is None
    assert sel.requires_exact_match("z") is None


def test_string_form() -> None:
    sel = parse_label_selector("z notin (b,a), !y, x, w>3, v==1, u!=2, t in ()")
    assert str(sel) == "t in (),u!=2,v==1,w>3,x,!y,z notin (a,b)"
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"


# -- properties ------------------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "app", "example.com/x", "K.8-s_1"])
values = st.sampled_from(["", "v", "w", "1", "2", "10", "a.b"])
ops = st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"])


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    key, op = draw(keys), draw(ops)
    if op in ("exists", "!"):
        vals: tuple[str, ...] = ()
    elif op in ("in", "notin"):
        vals = tuple(sorted(set(draw(st.lists(values, min_size=1, max_size=3)))))
    elif op in ("gt", "lt"):
        vals = (str(draw(st.integers(min_value=0, max_value=20))),)
    else:
        vals = (draw(values),)
    return Requirement(key, op, vals)


def model(r: Requirement, labels: dict[str, str]) -> bool:
    """Set semantics, written independently of the implementation."""
    present = r.key in labels
    v = labels.get(r.key, "")
    if r.op in ("=", "==", "in"):
        return present and v in r.values
    if r.op in ("!=", "notin"):
        return not present or v not in r.values
    if r.op == "exists":
        return present
    if r.op == "!":
        return not present
    if not present or not v.lstrip("-").isdigit():
        return False
    return int(v) > int(r.values[0]) if r.op == "gt" else int(v) < int(r.values[0])


@given(st.lists(requirements(), max_size=4), st.dictionaries(keys, values, max_size=4))
def test_string_parses_back_and_matching_is_the_and_of_terms(
    rs: list[Requirement], labels: dict[str, str]
) -> None:
    text = ",".join(str(r) for r in rs)
    parsed = parse_label_selector(text)
    assert sorted(parsed.requirements, key=str) == sorted(rs, key=str)
    assert parsed.matches(labels) == all(model(r, labels) for r in rs)
    assert LabelSelector(tuple(rs)).matches(labels) == parsed.matches(labels)


@given(st.text(alphabet="ab=!(),<> \tin-_./1", max_size=12))
def test_parse_never_fails_otherwise(selector: str) -> None:
    """Any input parses or raises LabelSelectorError (never another exception)."""
    try:
        sel = parse_label_selector(selector)
    except LabelSelectorError as e:
        assert str(e)
    else:
        assert parse_label_selector(str(sel)).requirements == sel.requirements
