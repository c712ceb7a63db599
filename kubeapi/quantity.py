"""Kubernetes resource quantities (``resource.Quantity``), parsed as the API server parses them.

Follows ``ParseQuantity`` and ``parseQuantityString`` in
k8s.io/apimachinery/pkg/api/resource/quantity.go and the suffix tables of ``suffix.go``:

- an optional sign, digits with an optional ``.`` fraction (``"1."``, ``".5"``; Go's parser also
  takes a bare sign or ``"."`` as zero, kept here), then a suffix;
- decimal SI suffixes ``n u m "" k M G T P E``, binary SI ``Ki Mi Gi Ti Pi Ei``, or a decimal
  exponent ``e<int>`` / ``E<int>`` (``1e3``);
- errors worded as Go's: ``ErrFormatWrong`` (``quantities must match the regular expression
  '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'``) and ``ErrSuffix`` (``unable to parse
  quantity's suffix``).

Arithmetic and the canonical text (``resource.Quantity``'s ``Add``, ``Mul`` and ``String()``):
a :class:`Quantity` is an exact decimal ``value`` with the ``format`` its text was written in
(``DecimalSI``: ``500m``, ``2``, ``1k``; ``BinarySI``: ``2Gi``; ``DecimalExponent``: ``1e3``).
Arithmetic keeps the format of the left operand unless it is zero (``Quantity.Add``: a zero
receiver takes the other's format). :meth:`Quantity.canonical` is ``Quantity.String()``
(``CanonicalizeBytes``): a ``BinarySI`` value below 1024 in magnitude, or not a whole number, is
written as ``DecimalSI``; decimal values are written with the largest exponent that is a
multiple of 3 and keeps the mantissa whole (``1500m``, ``1500``, ``2k``); binary ones with the
largest power of 1024 that divides them (``1536Mi``). Values are rounded up to nano units, as
``ParseQuantity`` does.

Shared by fakekube's CEL ``quantity`` library, the simulated KubeRay operator's ``desiredCPU``...
sums and the gateway's compute-template checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "FORMAT_WRONG",
    "SPLIT_RE",
    "SUFFIXES",
    "SUFFIX_WRONG",
    "Quantity",
    "QuantityError",
    "is_quantity",
    "of",
    "parse",
    "parse_quantity",
]

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

#: ``splitREString`` of quantity.go, quoted in ``ErrFormatWrong``.
SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
SUFFIX_WRONG = "unable to parse quantity's suffix"
NUMERIC_WRONG = "unable to parse numeric part of quantity"

#: Decimal SI and binary SI suffixes and their multipliers (suffix.go ``newSuffixer``).
SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_INT64 = 2**63
_SLOW_BINARY = frozenset(("Pi", "Ei"))
_NANO_FACTOR = Decimal("1e-9")


class QuantityError(ValueError):
    """A string that is not a quantity; the message is Go's error text."""


def _split(text: str) -> tuple[str, str]:
    """``(signed number, suffix)`` as ``parseQuantityString`` splits ``text``; QuantityError else."""
    end, pos = len(text), 0
    if pos < end and text[0] in "+-":
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return text[:1] if text[:1] == "-" else "", ""  # all zeros (or a bare sign): zero
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end and text[pos] == ".":
        pos += 1
        while pos < end and text[pos] in _DIGITS:
            pos += 1
    number, start = text[:pos], pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return number, text[start:]


def _multiplier(suffix: str) -> Decimal:
    """``suffixHandler.interpret``: the factor of ``suffix``; QuantityError(ErrSuffix) when unknown."""
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = suffix[1:]
        digits = exponent[1:] if exponent[:1] in "+-" else exponent
        if digits and all(c in _DIGITS for c in digits) and -_INT64 <= int(exponent) < _INT64:
            e32 = (int(exponent) + 2**31) % 2**32 - 2**31  # Go's int32(parsed)
            return Decimal(10) ** e32
    raise QuantityError(SUFFIX_WRONG)


def parse_quantity(text: str) -> Decimal:
    """The value of quantity ``text`` (``"500m"`` → 0.5, ``"1Gi"`` → 1073741824) as a Decimal.

    Raises :class:`QuantityError` with Go's message for the empty string, a malformed number or
    an unknown suffix (``ParseQuantity``)."""
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == "0":
        return Decimal(0)
    number, suffix = _split(text)
    try:
        factor = _multiplier(suffix)
    except ArithmeticError:
        raise QuantityError(NUMERIC_WRONG) from None
    digits = number.lstrip("+-")
    if digits in ("", "."):
        # No digit at all: Go's fast path (an int64 mantissa, ParseQuantity's ``precision >= 0``
        # and ``scale >= Nano``) reads it as 0; its slow path, ``inf.Dec.SetString`` of the number
        # text, refuses it. The slow path is taken for Pi and Ei (``15 - 1 - exponent*3/10 - 1``
        # < 0) and for a decimal scale below nano ("e-10"), as refkube answers.
        if suffix in _SLOW_BINARY or factor < _NANO_FACTOR:
            raise QuantityError(NUMERIC_WRONG)
        return Decimal(0)
    try:
        value = Decimal(digits if not digits.endswith(".") else digits[:-1]) * factor
    except ArithmeticError:
        # Beyond Decimal's exponent range (Go's inf.Dec has none): refused rather than rounded.
        raise QuantityError(NUMERIC_WRONG) from None
    return -value if number.startswith("-") else value


def is_quantity(text: str) -> bool:
    """Whether ``text`` parses as a quantity (CEL's ``isQuantity``)."""
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = frozenset(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL.items()}
_BINARY_SUFFIX = {0: "", 10: "Ki", 20: "Mi", 30: "Gi", 40: "Ti", 50: "Pi", 60: "Ei"}
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
    """Parse a quantity with its format (``resource.ParseQuantity``): the value of
    :func:`parse_quantity`, ``BinarySI`` for a ``Ki``... suffix, ``DecimalExponent`` for ``e<n>``,
    ``DecimalSI`` otherwise. Raises :class:`QuantityError` (a ValueError) with Go's message."""
    value = parse_quantity(text)
    suffix = _split(text)[1] if text != "0" else ""
    if suffix in _BINARY:
        return Quantity(value, BINARY_SI)
    if suffix in SUFFIXES:  # "E" alone is exa, a decimal SI suffix
        return Quantity(value, DECIMAL_SI)
    return Quantity(value, DECIMAL_EXPONENT)


def of(value: object) -> Quantity:
    """A quantity from JSON: a string is parsed (:func:`parse`), a number read as ``DecimalSI``;
    ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError("quantity must be a string or a number")
    if isinstance(value, int | float):
        return Quantity(Decimal(str(value)), DECIMAL_SI)
    return parse(str(value))
