"""Kubernetes resource quantities (``k8s.io/apimachinery/pkg/api/resource``): parse, add,
multiply, and the canonical string a ``Quantity`` serializes to.

A :class:`Quantity` is an exact decimal ``value`` with the ``format`` its text was written in
(``DecimalSI``: ``500m``, ``2``, ``1k``; ``BinarySI``: ``2Gi``; ``DecimalExponent``: ``1e3``).
Arithmetic keeps the format of the left operand unless it is zero (``Quantity.Add``: a zero
receiver takes the other's format). :meth:`Quantity.canonical` is ``Quantity.String()``
(``CanonicalizeBytes``): a ``BinarySI`` value below 1024 in magnitude, or not a whole number, is
written as ``DecimalSI``; decimal values are written with the largest exponent that is a
multiple of 3 and keeps the mantissa whole (``1500m``, ``1500``, ``2k``); binary ones with the
largest power of 1024 that divides them (``1536Mi``). Values are rounded up to nano units, as
``ParseQuantity`` does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = ["BINARY_SI", "DECIMAL_EXPONENT", "DECIMAL_SI", "Quantity", "of", "parse"]

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eEinumkKMGTP]*[-+]?[0-9]*)$")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL.items()}
_BINARY_SUFFIX = {0: "", **{e: s for s, e in _BINARY.items()}}
_NANO = Decimal("1e-9")


@dataclass(frozen=True)
class Quantity:
    """A quantity: its exact ``value`` and the ``format`` it is written in ("" for the zero
    value of an unset ``resource.Quantity``)."""

    value: Decimal = Decimal(0)
    format: str = ""

    def __add__(self, other: Quantity) -> Quantity:
        """``Quantity.Add``: the sum, in this format (the other's when this is zero)."""
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def __mul__(self, n: int) -> Quantity:
        """``Quantity.Mul``: ``n`` times the value, same format."""
        return Quantity(self.value * n, self.format)

    def is_zero(self) -> bool:
        """Whether the value is 0."""
        return self.value == 0

    def ceil(self) -> int:
        """``Quantity.Value()``: the value rounded up to a whole number."""
        return math.ceil(self.value)

    def canonical(self) -> str:
        """The text ``Quantity.String()`` gives (see the module docstring)."""
        v = (
            self.value.quantize(_NANO, rounding=ROUND_CEILING)
            if self.value != self.value.to_integral_value()
            else self.value
        )
        if v == 0:
            return "0"
        fmt = self.format or DECIMAL_SI
        if fmt == BINARY_SI and (abs(v) < 1024 or v != v.to_integral_value()):
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            n, exp = int(v), 0
            while exp < 60 and n % 1024 == 0:
                n //= 1024
                exp += 10
            return f"{n}{_BINARY_SUFFIX[exp]}"
        mantissa, exp = _decimal_parts(v)
        if fmt == DECIMAL_EXPONENT:
            return f"{mantissa}e{exp}" if exp else str(mantissa)
        while exp > 18:
            mantissa, exp = mantissa * 1000, exp - 3
        return f"{mantissa}{_DECIMAL_SUFFIX[exp]}"


def _decimal_parts(v: Decimal) -> tuple[int, int]:
    """(mantissa, exponent) with ``v == mantissa * 10**exponent``, exponent a multiple of 3 and as
    large as a whole mantissa allows."""
    sign, digits, exp = v.normalize().as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    while exp % 3:
        mantissa, exp = mantissa * 10, exp - 1
    return mantissa, exp


def parse(text: str) -> Quantity:
    """Parse a quantity (``resource.ParseQuantity``); ValueError for malformed text."""
    m = _QUANTITY.match(text.strip())
    if m is None:
        raise ValueError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = m.group(1), m.group(2)
    try:
        base = Decimal(number)
        if suffix in _BINARY:
            return Quantity(base * (Decimal(2) ** _BINARY[suffix]), BINARY_SI)
        if suffix in _DECIMAL:
            return Quantity(base.scaleb(_DECIMAL[suffix]), DECIMAL_SI)
        if suffix[:1] in ("e", "E") and re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
            return Quantity(base.scaleb(int(suffix[1:])), DECIMAL_EXPONENT)
    except InvalidOperation as e:
        raise ValueError(str(e)) from e
    raise ValueError("unable to parse quantity's suffix")


def of(value: object) -> Quantity:
    """A quantity from JSON: a string is parsed, a number read as ``DecimalSI``."""
    if isinstance(value, bool):
        raise ValueError("quantity must be a string or a number")
    if isinstance(value, int | float):
        return Quantity(Decimal(str(value)), DECIMAL_SI)
    return parse(str(value))
