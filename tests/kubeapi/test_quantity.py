"""``kubeapi.quantity``: parsing and the canonical text of ``resource.Quantity`` (values taken
from apimachinery's ``quantity_test.go`` and what a real API server returns), sums as the KubeRay
operator makes them, and round trips of generated quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import quantity
from kubeapi.quantity import BINARY_SI, DECIMAL_EXPONENT, DECIMAL_SI, Quantity, parse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0", "0"),
        ("1", "1"),
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1500", "1500"),
        ("2000", "2k"),
        ("1000000", "1M"),
        ("2Gi", "2Gi"),
        ("1.5Gi", "1536Mi"),
        ("1024Mi", "1Gi"),
        ("1000Mi", "1000Mi"),
        ("512", "512"),
        ("1Ki", "1Ki"),
        ("0.5Ki", "512"),  # below 1024 in a binary format: written as DecimalSI
        ("1e3", "1e3"),
        ("1E6", "1e6"),
        ("100n", "100n"),
        ("1.0000000001", "1000000001n"),  # beyond nano precision: rounded up
        ("-1", "-1"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert parse(text).canonical() == canonical


@pytest.mark.parametrize("bad", ["", "abc", "1Qi", "1.2.3", "--1", "1e", "Gi"])
def test_malformed_quantities_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse(bad)


def test_sums_keep_the_first_operands_format() -> None:
    zero = Quantity()
    assert (zero + parse("1") + parse("500m") * 2).canonical() == "2"
    assert (zero + parse("2Gi") + parse("1Gi") * 3).canonical() == "5Gi"
    assert (zero + parse("1G") + parse("1Gi")).canonical() == "2073741824"  # DecimalSI first
    assert (zero + parse("1Gi") + parse("1G")).canonical() == "2073741824"  # not a power of 1024
    assert zero.canonical() == "0"
    assert quantity.of(2).canonical() == "2" and parse("1500m").ceil() == 2


_DECIMAL_TEXTS = st.builds(
    lambda n, s: f"{n}{s}",
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(["", "n", "u", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-3"]),
)


@given(_DECIMAL_TEXTS)
def test_canonical_text_parses_back_to_the_same_value(text: str) -> None:
    q = parse(text)
    again = parse(q.canonical())
    assert again.value == q.value
    assert again.canonical() == q.canonical()  # canonical text is a fixed point


@given(
    st.decimals(min_value=Decimal(-(10**12)), max_value=Decimal(10**12), places=3),
    st.sampled_from([DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT]),
)
def test_any_value_in_any_format_round_trips(value: Decimal, fmt: str) -> None:
    q = Quantity(value, fmt)
    assert parse(q.canonical()).value == value
