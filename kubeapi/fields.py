"""Field selectors: the ``fieldSelector`` grammar of k8s.io/apimachinery/pkg/fields/selector.go,
matching, and the one :func:`field_value` both servers compare with.

A selector is terms separated by unescaped ``,`` (AND); each term is ``field=value``,
``field==value`` or ``field!=value``, split at the first operator; in values ``\\`` escapes
``\\``, ``,`` and ``=``. Errors carry the apiserver's wording, so a caller can answer with it
as the ``message`` of a 400 ``BadRequest``. Which field labels a kind accepts is the caller's
(kube-apiserver's per-kind ``ConvertFieldLabel``): see :meth:`FieldSelector.transform`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "EVERYTHING",
    "OPERATORS",
    "FieldRequirement",
    "FieldSelector",
    "FieldSelectorSyntaxError",
    "escape_value",
    "field_value",
    "go_format_float",
    "go_sprint",
    "parse_field_selector",
    "split_term",
    "split_terms",
    "unescape_value",
]

#: Operators in the order selector.go's ``splitTerm`` tries them at each position.
OPERATORS = ("!=", "==", "=")


class FieldSelectorSyntaxError(ValueError):
    """A term or value does not parse; ``str(e)`` is the apiserver's message."""


def split_terms(selector: str) -> list[str]:
    """Split ``selector`` on unescaped commas (selector.go ``splitTerms``); escapes are kept."""
    terms: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in selector:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return terms


def split_term(term: str) -> tuple[str, str, str] | None:
    """``(field, operator, escaped value)`` split at the first operator, or None when there is none
    (selector.go ``splitTerm``). The field is not stripped, as in Go."""
    for i in range(len(term)):
        for op in OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def unescape_value(value: str) -> str:
    """Unescape a term's value (selector.go ``UnescapeValue``).

    Raises FieldSelectorSyntaxError for a bad escape or a bare ``,`` / ``=``, worded as the
    apiserver words it (Go prints the offending rune as its code point).
    """
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise FieldSelectorSyntaxError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise FieldSelectorSyntaxError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise FieldSelectorSyntaxError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def escape_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` in a term's value (selector.go ``EscapeValue``); the inverse of
    :func:`unescape_value`."""
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


# -- parsed selectors -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One term: ``field`` (as written, not stripped), ``equal`` (``=``/``==``: True, ``!=``: False),
    ``value`` (unescaped), ``raw`` (the term as written, for forwarding it unchanged)."""

    field: str
    equal: bool
    value: str
    raw: str = ""

    @property
    def operator(self) -> str:
        """``=`` or ``!=`` (Go's ``hasTerm``/``notHasTerm``; ``==`` reads as ``=``)."""
        return "=" if self.equal else "!="

    def matches(self, value: str) -> bool:
        """Whether a field whose value is ``value`` (``""`` when absent) satisfies this term."""
        return (value == self.value) == self.equal

    def __str__(self) -> str:
        """``hasTerm.String``/``notHasTerm.String``: ``field=escaped`` or ``field!=escaped``."""
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector: the AND of ``requirements``, in sorted term order (empty = all)."""

    requirements: tuple[FieldRequirement, ...]

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """``Selector.Matches(fields.Set)``: every term against ``fields`` (label → value, a missing
        label reads as ``""``)."""
        for r in self.requirements:  # noqa: SIM110 (a plain loop: all() costs ~2x on list hot paths)
            if (fields.get(r.field, "") == r.value) != r.equal:
                return False
        return True

    def matches_object(
        self, obj: Mapping[str, Any], paths: Mapping[str, Sequence[str]] | None = None
    ) -> bool:
        """Whether ``obj`` satisfies every term, each field read with :func:`field_value` at
        ``paths[field]`` (default: the field label split on ``.``, as a CRD selectable field's
        JSONPath ``.a.b`` is the label ``a.b``)."""
        for r in self.requirements:
            path = paths.get(r.field) if paths is not None else None
            have = field_value(obj, path if path is not None else r.field)
            if (have == r.value) != r.equal:
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """``RequiresExactMatch``: the value an ``=`` term on ``field`` demands, or None. Go answers
        only for a selector that is that single term or an AND holding it; so does this."""
        for r in self.requirements:
            if r.field == field and r.equal:
                return r.value
        return None

    def transform(self, fn: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """``Selector.Transform``: each term's (field, value) through ``fn`` (a field-label
        conversion); ``fn`` raises to refuse a label (its message is the apiserver's 400 text)."""
        out: list[FieldRequirement] = []
        for r in self.requirements:
            f, v = fn(r.field, r.value)
            out.append(FieldRequirement(f, r.equal, v, r.raw))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        """``Selector.String``: the terms joined by ``,`` (values escaped)."""
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = FieldSelector(())


def parse_field_selector(selector: str) -> FieldSelector:
    """``fields.ParseSelector``: terms split on unescaped ``,``, **sorted** (Go sorts the raw terms,
    so the first error reported is the first in that order), empty terms skipped.

    Raises :class:`FieldSelectorSyntaxError` with Go's text: ``invalid selector: 'SELECTOR';
    can't understand 'TERM'`` for a term without an operator, or :func:`unescape_value`'s.
    """
    if not selector:
        return EVERYTHING
    reqs: list[FieldRequirement] = []
    for part in sorted(split_terms(selector)):
        if not part:
            continue
        split = split_term(part)
        if split is None:
            raise FieldSelectorSyntaxError(f"invalid selector: '{selector}'; can't understand '{part}'")
        lhs, op, rhs = split
        reqs.append(FieldRequirement(lhs, op != "!=", unescape_value(rhs), part))
    return FieldSelector(tuple(reqs))


# -- field values -------------------------------------------------------------------------------------


def field_value(obj: Mapping[str, Any], path: str | Sequence[str]) -> str:
    """The value a field selector compares for ``obj`` at ``path`` (dotted ``"status.state"`` or
    a key sequence): ``""`` when a key is missing, the value is null, or an intermediate value is
    not an object; otherwise ``fmt.Sprint(value)`` (:func:`go_sprint`).

    This is how kube-apiserver renders a CRD's selectable field
    (k8s.io/apiextensions-apiserver/pkg/registry/customresource/strategy.go ``selectableFields``:
    JSONPath with missing keys allowed, ``fmt.Sprint`` of the unstructured value, ``""`` for nil).
    Built-in kinds' field labels are strings, booleans and integers in their Go structs, which
    ``fmt.Sprint`` renders the same way.
    """
    keys = path.split(".") if isinstance(path, str) else path
    node: Any = obj
    for key in keys:
        if not isinstance(node, Mapping):
            return ""
        node = node.get(key)
        if node is None:
            return ""
    return node if isinstance(node, str) else go_sprint(node)


def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value as Go holds it in unstructured content: strings as is,
    ``true``/``false``, integers in decimal, floats as ``%v`` (``strconv.FormatFloat(f, 'g', -1, 64)``:
    ``1.5``, ``1`` for 1.0, ``1e+06``, ``1.2345675e+06``), null ``<nil>``, objects
    ``map[k1:v1 k2:v2]`` with sorted keys, arrays ``[a b]``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return str(value)


def _go_float(f: float) -> str:
    return go_format_float(f, 64)


def _shortest_digits(f: float, bits: int) -> tuple[int, str, int]:
    """(sign, digits, exponent) of the shortest decimal that reads back as ``f`` at ``bits``."""
    if bits == 64:
        text = repr(f)
    else:
        target = struct.unpack("f", struct.pack("f", f))[0]
        text = repr(target)
        for precision in range(1, 10):
            candidate = f"{target:.{precision}g}"
            if struct.unpack("f", struct.pack("f", float(candidate)))[0] == target:
                text = candidate
                break
    sign, digit_tuple, exp = Decimal(text).as_tuple()
    assert isinstance(exp, int)
    raw = "".join(map(str, digit_tuple))
    digits = raw.rstrip("0") or "0"
    return sign, digits, exp + len(raw) - len(digits)


def go_format_float(f: float, bits: int = 64) -> str:
    """``strconv.FormatFloat(f, 'g', -1, bits)`` as fmt's ``%v`` writes it: the shortest digits that
    read back at ``bits`` (64 or 32), in ``%e`` form when the exponent is < -4 or >= 6
    for the shortest form (strconv ftoa.go ``eprec = 6``), e.g. ``1e+06``, ``123456``, ``1e-05``;
    ``+Inf``, ``-Inf``, ``NaN``."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digits, exp = _shortest_digits(f, bits)
    nd = len(digits)
    dp = nd + exp  # position of the decimal point relative to the digits
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return f"{neg}{digits}{'0' * (dp - nd)}"
    return f"{neg}{digits[:dp]}.{digits[dp:]}"
