"""``kubeapi.quantity``: Go's ``ParseQuantity`` grammar, values and error texts (resource/quantity.go)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeapi.quantity import (
    FORMAT_WRONG,
    NUMERIC_WRONG,
    SUFFIX_WRONG,
    QuantityError,
    is_quantity,
    parse_quantity,
)

# The grammar quantity.go's comment gives, as parseQuantityString reads it: a sign, digits with an
# optional "." part (either side may be empty), then a suffix: SI, binary SI or an integer exponent.
GRAMMAR = re.compile(
    r"^(?P<num>[+-]?[0-9]*(\.[0-9]*)?)(?P<suf>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)


def _go_numeric_refusal(number: str, suffix: str) -> bool:
    """A number with no digit at all that ParseQuantity's slow path (``inf.Dec.SetString``) reads:
    Pi and Ei, or a decimal exponent below -9 (checked on refkube: "Ei" and "e-10" are 400
    "unable to parse numeric part of quantity", "Ti", "E" and "e-9" are 0)."""
    if any(c.isdigit() for c in number):
        return False
    return suffix in ("Pi", "Ei") or (suffix[:1] in ("e", "E") and len(suffix) > 1 and int(suffix[1:]) < -9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1", 1),
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("1Gi", 2**30),
        ("0.5Ki", 512),
        ("2k", 2000),
        ("1e3", 1000),
        ("1E-2", Decimal("0.01")),
        ("-1", -1),
        ("+7", 7),
        ("1.", 1),
        (".5", Decimal("0.5")),
        ("+", 0),  # Go's parser reads a bare sign or "." as zero
        (".", 0),
        ("007", 7),
        ("100n", Decimal("1e-7")),
        ("Ti", 0),  # no digit but on Go's fast path (refkube: 201, stored as "0")
        ("-Ki", 0),
        ("E", 0),
        ("e-9", 0),
        ("0Ei", 0),
    ],
)
def test_values(text: str, value: Decimal | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT_WRONG),
        ("abc", FORMAT_WRONG),
        ("1KiB", FORMAT_WRONG),
        ("1.5.5", FORMAT_WRONG),
        ("1 ", FORMAT_WRONG),
        ("1e", SUFFIX_WRONG),
        ("1k5", SUFFIX_WRONG),
        ("1mi", SUFFIX_WRONG),
        ("1e+", SUFFIX_WRONG),
        ("Ei", NUMERIC_WRONG),  # refkube: no digit is read as 0 only on Go's int64 fast path
        ("-Pi", NUMERIC_WRONG),
        (".Ei", NUMERIC_WRONG),
        ("e-10", NUMERIC_WRONG),
    ],
)
def test_errors_are_gos(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert str(e.value) == message
    assert not is_quantity(text)


_alphabet = st.text(alphabet="0123456789.+-eEinumkKMGTP ", max_size=7)
_shaped = st.builds(
    lambda sign, a, dot, b, suffix: f"{sign}{a}{dot}{b}{suffix}",
    st.sampled_from(["", "+", "-"]),
    st.text(alphabet="0123456789", max_size=3),
    st.sampled_from(["", "."]),
    st.text(alphabet="0123456789", max_size=3),
    st.sampled_from(
        ["", "m", "k", "Ki", "Gi", "e3", "E-2", "e", "i", "KiB", "mi", "e+", "n", "Ei", "Pi", "e-10", "Ti"]
    ),
)


@settings(max_examples=1000)
@given(_alphabet | _shaped)
def test_accepts_exactly_the_grammar(text: str) -> None:
    m = GRAMMAR.match(text)
    expected = text != "" and m is not None and not _go_numeric_refusal(m["num"], m["suf"] or "")
    assert is_quantity(text) == expected
