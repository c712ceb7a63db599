"""``kubeapi.quantity``: Go's ``ParseQuantity`` grammar, values and error texts (resource/quantity.go)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeapi.quantity import FORMAT_WRONG, SUFFIX_WRONG, QuantityError, is_quantity, parse_quantity

# The grammar quantity.go's comment gives, as parseQuantityString reads it: a sign, digits with an
# optional "." part (either side may be empty), then a suffix: SI, binary SI or an integer exponent.
GRAMMAR = re.compile(r"^[+-]?[0-9]*(\.[0-9]*)?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")


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
    st.sampled_from(["", "m", "k", "Ki", "Gi", "e3", "E-2", "e", "i", "KiB", "mi", "e+", "n", "Ei"]),
)


@settings(max_examples=1000)
@given(_alphabet | _shaped)
def test_accepts_exactly_the_grammar(text: str) -> None:
    assert is_quantity(text) == (text != "" and bool(GRAMMAR.match(text)))
