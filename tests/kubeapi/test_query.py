"""kubeapi.query and kubeapi.gostrconv: Go's ParseQuery, Convert_Slice_string_To_bool/int64,
strconv.ParseBool/ParseInt with their exact accepted sets and error texts."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import gostrconv
from kubeapi.query import NumError, Query, is_false, query_escape, query_unescape

# -- the watch rule (Convert_Slice_string_To_bool) ------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "tRuE", "yes", "", "2", "on", "t", " false"])
def test_watch_values_kube_apiserver_takes_as_true(value: str) -> None:
    assert Query.parse(f"watch={query_escape(value)}").bool("watch") is True


@pytest.mark.parametrize("value", ["0", "false", "False", "FALSE", "fAlSe", "fal\u017fe"])
def test_watch_values_kube_apiserver_takes_as_false(value: str) -> None:
    assert Query.parse(f"watch={query_escape(value)}").bool("watch") is False


def test_bare_name_is_an_empty_value_hence_true() -> None:
    q = Query.parse("watch")
    assert q.get("watch") == "" and q.has("watch") and q.bool("watch") is True


def test_absent_bool_is_the_default() -> None:
    q = Query.parse("limit=1")
    assert q.bool("watch") is False
    assert q.bool("watch", default=True) is True


def test_first_value_wins() -> None:
    q = Query.parse("watch=0&watch=1")
    assert q.bool("watch") is False
    assert q.values("watch") == ["0", "1"]
    assert q.get("watch") == "0"


@pytest.mark.parametrize("value", ["00", "-0", "no", "off", "f", "F", "falsey", "0 "])
def test_only_zero_and_false_are_false(value: str) -> None:
    assert not is_false(value)


# -- strconv.ParseBool -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(v, True) for v in ("1", "t", "T", "TRUE", "true", "True")]
    + [(v, False) for v in ("0", "f", "F", "FALSE", "false", "False")],
)
def test_parse_bool_accepts_exactly_go_set(value: str, expected: bool) -> None:
    assert gostrconv.parse_bool(value) is expected
    assert Query.parse(f"pretty={value}").parse_bool("pretty") is expected


@pytest.mark.parametrize("value", ["yes", "no", "", "tRuE", "TRue", " true", "2", "y", "on"])
def test_parse_bool_refuses_the_rest_with_go_text(value: str) -> None:
    with pytest.raises(NumError) as e:
        gostrconv.parse_bool(value)
    assert str(e.value) == f'strconv.ParseBool: parsing "{value}": invalid syntax'


@given(st.text(max_size=6))
def test_parse_bool_set_is_closed(value: str) -> None:
    accepted = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
    if value in accepted:
        gostrconv.parse_bool(value)
    else:
        with pytest.raises(NumError):
            gostrconv.parse_bool(value)


def test_parse_bool_absent_is_none() -> None:
    assert Query.parse("").parse_bool("pretty") is None


# -- strconv.ParseInt ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("10", 10),
        ("+5", 5),
        ("-5", -5),
        ("007", 7),
        ("-0", 0),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_parse_int_accepts(value: str, expected: int) -> None:
    assert Query.parse(f"limit={query_escape(value)}").int("limit") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", 'strconv.ParseInt: parsing "": invalid syntax'),
        ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
        (" 1", 'strconv.ParseInt: parsing " 1": invalid syntax'),
        ("1 ", 'strconv.ParseInt: parsing "1 ": invalid syntax'),
        ("1_000", 'strconv.ParseInt: parsing "1_000": invalid syntax'),
        ("0x10", 'strconv.ParseInt: parsing "0x10": invalid syntax'),
        ("+", 'strconv.ParseInt: parsing "+": invalid syntax'),
        ("--1", 'strconv.ParseInt: parsing "--1": invalid syntax'),
        ("1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        ("\u0661", 'strconv.ParseInt: parsing "\u0661": invalid syntax'),  # Arabic-Indic one
        ('a"b', 'strconv.ParseInt: parsing "a\\"b": invalid syntax'),
        ("a\nb", 'strconv.ParseInt: parsing "a\\nb": invalid syntax'),
        ("9223372036854775808", 'strconv.ParseInt: parsing "9223372036854775808": value out of range'),
        ("-9223372036854775809", 'strconv.ParseInt: parsing "-9223372036854775809": value out of range'),
    ],
)
def test_parse_int_errors_are_go_texts(value: str, message: str) -> None:
    with pytest.raises(NumError) as e:
        Query.parse(f"limit={query_escape(value)}").int("limit")
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


def test_atoi_names_itself() -> None:
    with pytest.raises(NumError) as e:
        gostrconv.atoi("x")
    assert str(e.value) == 'strconv.Atoi: parsing "x": invalid syntax'


def test_absent_int_is_none() -> None:
    assert Query.parse("watch=1").int("limit") is None


@given(st.integers(min_value=gostrconv.INT64_MIN, max_value=gostrconv.INT64_MAX))
def test_parse_int_round_trips_int64(n: int) -> None:
    assert gostrconv.parse_int(str(n)) == n


@given(st.integers(min_value=0, max_value=2**80), st.booleans())
def test_parse_int_out_of_range(excess: int, negative: bool) -> None:
    n = gostrconv.INT64_MIN - 1 - excess if negative else gostrconv.INT64_MAX + 1 + excess
    with pytest.raises(NumError, match="value out of range"):
        gostrconv.parse_int(str(n))


@pytest.mark.parametrize(
    ("s", "quoted"),
    [
        ("abc", '"abc"'),
        ("\x00\x7f", '"\\x00\\x7f"'),
        ("\t\a", '"\\t\\a"'),
        ("é", '"é"'),
        ("\u200b", '"\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
        ("\\", '"\\\\"'),
        ("\udc80", '"\\x80"'),
    ],
)
def test_quote_is_go_strconv_quote(s: str, quoted: str) -> None:
    assert gostrconv.quote(s) == quoted


# -- ParseQuery ------------------------------------------------------------------------------------


def test_semicolon_pairs_are_dropped_as_go_does() -> None:
    q = Query.parse("watch=1;limit=2&labelSelector=a")
    assert q.pairs == [("labelSelector", "a")]
    assert q.dropped == ("watch=1;limit=2",)
    assert not q.has("watch")
    assert q.encode() == "watch=1;limit=2&labelSelector=a"  # forwarded as received


@pytest.mark.parametrize("bad", ["a=%zz", "a=%4", "a=%", "%g1=b"])
def test_bad_escapes_drop_the_pair(bad: str) -> None:
    q = Query.parse(f"{bad}&b=1")
    assert q.pairs == [("b", "1")]
    assert q.dropped == (bad,)


def test_plus_is_space_and_escapes_decode_utf8() -> None:
    q = Query.parse("labelSelector=a+in+(x%2Cy)&n=%C3%A9&m=%FF")
    assert q.get("labelSelector") == "a in (x,y)"
    assert q.get("n") == "é"
    assert q.get("m") == "\ufffd"


def test_raw_non_ascii_bytes_are_utf8() -> None:
    assert Query.parse("n=é".encode()).get("n") == "é"


def test_empty_pairs_skipped_and_empty_name_kept() -> None:
    q = Query.parse("&&a=1&=v&")
    assert q.pairs == [("a", "1"), ("", "v")]


def test_value_keeps_later_equals() -> None:
    assert Query.parse("fieldSelector=a%3Db=c").get("fieldSelector") == "a=b=c"
    assert Query.parse("fieldSelector=a=b").get("fieldSelector") == "a=b"


pair_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)


@given(st.lists(st.tuples(pair_text, pair_text), max_size=5))
def test_from_pairs_round_trips(pairs: list[tuple[str, str]]) -> None:
    q = Query.from_pairs(pairs)
    assert q.pairs == pairs
    assert Query.parse(q.encode()).pairs == pairs
    assert Query.parse(q.encode().encode("ascii")).pairs == pairs


@given(pair_text)
def test_escape_unescape(s: str) -> None:
    assert query_unescape(query_escape(s)) == s


raw_query = st.text(alphabet="ab=&+%2C3Dc9;", max_size=16)


@given(raw_query)
def test_agrees_with_parse_qsl_where_go_and_python_agree(raw: str) -> None:
    """Python's parse_qsl is Go's ParseQuery on the pairs Go keeps (no ``;``, no bad escape)."""
    q = Query.parse(raw)
    kept = "&".join(part for part in raw.split("&") if part and part not in q.dropped)
    assert q.pairs == parse_qsl(kept, keep_blank_values=True, errors="replace")
    for part in q.dropped:
        assert ";" in part or any(
            not ("0" <= c <= "9" or "a" <= c <= "f" or "A" <= c <= "F")
            for chunk in part.split("%")[1:]
            for c in (chunk[:2] if len(chunk) >= 2 else "g")
        )


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "watch"]), pair_text), max_size=5), pair_text)
def test_replace_without_add(pairs: list[tuple[str, str]], value: str) -> None:
    q = Query.from_pairs(pairs)
    r = q.replace("a", [value, "x"])
    assert r.values("a") == [value, "x"]
    assert [p for p in r.pairs if p[0] != "a"] == [p for p in pairs if p[0] != "a"]
    assert q.pairs == pairs  # unchanged
    assert not q.without("a", "b").has("a")
    assert q.without("a").pairs == [p for p in pairs if p[0] != "a"]
    assert q.add("b", value).values("b") == [*q.values("b"), value]


def test_replace_keeps_other_raw_text() -> None:
    q = Query.parse("labelSelector=a%3db&fieldSelector=x%3Dy&limit=5")
    r = q.replace("fieldSelector", ["x=y,regarding.apiVersion=ray.io/v1"])
    assert r.encode() == (
        "labelSelector=a%3db&limit=5&fieldSelector=x%3Dy%2Cregarding.apiVersion%3Dray.io%2Fv1"
    )


def test_empty_query() -> None:
    q = Query.parse(b"")
    assert not q and len(q) == 0 and q.pairs == [] and q.get("a") is None and q.encode() == ""
    assert q == Query.parse("") and "a" not in q
