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

Shared by fakekube's CEL ``quantity`` library and the gateway's compute-template checks.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "FORMAT_WRONG",
    "SPLIT_RE",
    "SUFFIXES",
    "SUFFIX_WRONG",
    "QuantityError",
    "is_quantity",
    "parse_quantity",
]

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
