"""Label and field selectors: parsing with the apiserver's error texts, and matching.

Label selectors follow ``k8s.io/apimachinery/pkg/labels/selector.go`` (lexer, parser and
``NewRequirement`` validation): ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k``, ``!k``, ``k>1``, ``k<1``, joined by ``,`` (AND). Field selectors follow
``k8s.io/apimachinery/pkg/fields/selector.go``: ``field=v``, ``field==v``, ``field!=v`` with ``\\``
escapes; which fields a kind supports is decided by :func:`parse_field_selector` from its
:class:`~fakekube._resources.ResourceType`. Errors raise :class:`SelectorError` whose text is the
message the apiserver puts into its 400 ``BadRequest``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fakekube import _validation as validation
from fakekube._resources import ResourceType
from kubeapi import fields


class SelectorError(ValueError):
    """A selector the apiserver would refuse; ``str(err)`` is the BadRequest message."""


# ---------------------------------------------------------------------------------------------------
# label selectors

_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_KEYWORDS = {"in": "IN", "notin": "NOTIN"}
_SYMBOLS = {
    ")": "CPAR",
    ",": "COMMA",
    "!": "NOT",
    "==": "DEQ",
    "=": "EQ",
    ">": "GT",
    "<": "LT",
    "!=": "NEQ",
    "(": "OPAR",
}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(s: str) -> list[tuple[str, str]]:
    """Tokens of ``s`` as (token, literal) pairs ending with ("EOS", ""), like labels.Lexer."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _WHITESPACE:
            i += 1
        if i >= n:
            out.append(("EOS", ""))
            return out
        if s[i] in _SPECIAL:
            buf, last, last_end = "", "", i
            j = i
            while j < n and s[j] in _SPECIAL:
                buf += s[j]
                if buf in _SYMBOLS:
                    last, last_end = buf, j + 1
                elif last:
                    break
                j += 1
            if not last:
                out.append(("ERROR", f"error expected: keyword found '{buf}'"))
                i = j
            else:
                out.append((_SYMBOLS[last], last))
                i = last_end
        else:
            j = i
            while j < n and s[j] not in _SPECIAL and s[j] not in _WHITESPACE:
                j += 1
            lit = s[i:j]
            out.append((_KEYWORDS.get(lit, "ID"), lit))
            i = j


def _invalid(path: str, value: str, detail: str) -> str:
    return f'{path}: Invalid value: "{value}": {detail}'


_POSITIVE = frozenset({"in", "=", "=="})
_NEGATIVE = frozenset({"notin", "!="})
_NO_LABELS: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; ``op`` one of in, notin, =, ==, !=, exists, !, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this term (labels.Requirement.Matches)."""
        op = self.op
        v = labels.get(self.key)
        if op in _POSITIVE:
            return v is not None and v in self.values
        if op in _NEGATIVE:
            return v is None or v not in self.values
        if op == "exists":
            return v is not None
        if op == "!":
            return v is None
        # gt / lt: the label must hold an integer
        if v is None:
            return False
        try:
            have = int(v)
        except ValueError:
            return False
        want = int(self.values[0])
        return have > want if op == "gt" else have < want


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector: the AND of its requirements (empty = everything)."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether ``labels`` (None = no labels) satisfies every requirement."""
        lab = labels or _NO_LABELS
        # A plain loop: all() over a generator costs ~2x on the list hot path.
        for r in self.requirements:  # noqa: SIM110
            if not r.matches(lab):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements


EVERYTHING = LabelSelector(())


class _LabelParser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def _peek(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if values and tok in ("IN", "NOTIN"):
            tok = "ID"
        return tok, lit

    def _next(self, values: bool = True) -> tuple[str, str]:
        item = self._peek(values)
        if self.pos < len(self.items) - 1:
            self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok in ("ID", "NOT"):
                try:
                    reqs.append(self._requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self._next()
                if t == "EOS":
                    return reqs
                if t == "COMMA":
                    t2, l2 = self._peek()
                    if t2 not in ("ID", "NOT"):
                        raise SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "EOS":
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        tok, lit = self._next()
        op = ""
        if tok == "NOT":
            op = "!"
            tok, lit = self._next()
        if tok != "ID":
            raise SelectorError(f"found '{lit}', expected: identifier")
        key = lit
        errs = validation.qualified_name(key)
        if errs:
            raise SelectorError(_invalid("<nil>", key, "; ".join(errs)))
        if self._peek()[0] in ("EOS", "COMMA") and op != "!":
            op = "exists"
        if op in ("!", "exists"):
            return Requirement(key, op, ())
        tok, lit = self._next(values=False)
        ops = {"IN": "in", "NOTIN": "notin", "EQ": "=", "DEQ": "==", "NEQ": "!=", "GT": "gt", "LT": "lt"}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        op = ops[tok]
        values = self._set_values() if op in ("in", "notin") else self._exact_value()
        return _new_requirement(key, op, values)

    def _set_values(self) -> list[str]:
        tok, lit = self._next()
        if tok != "OPAR":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok in ("ID", "COMMA"):
            values = self._identifiers()
            if self._next()[0] != "CPAR":
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == "CPAR":
            self._next()
            return [""]
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> list[str]:
        found: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == "ID":
                found.add(lit)
                t2, l2 = self._peek()
                if t2 == "COMMA":
                    continue
                if t2 == "CPAR":
                    return sorted(found)
                raise SelectorError(f"found '{l2}', expected: ',' or ')'")
            if tok == "COMMA":
                if not found:
                    found.add("")
                t2, _ = self._peek()
                if t2 == "CPAR":
                    found.add("")
                    return sorted(found)
                if t2 == "COMMA":
                    self._next()
                    found.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        tok, _ = self._peek()
        if tok in ("EOS", "COMMA"):
            return [""]
        tok, lit = self._next()
        if tok == "ID":
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """labels.NewRequirement's value checks (the key was checked by the parser)."""
    errs: list[str] = []
    if op in ("gt", "lt"):
        for i, v in enumerate(values):
            try:
                int(v)
            except ValueError:
                errs.append(
                    _invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                )
    for i, v in enumerate(values):
        verrs = validation.label_value(v)
        if verrs:
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(verrs)))
    if errs:
        raise SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, tuple(values))


def parse_label_selector(selector: str) -> LabelSelector:
    """Parse a ``labelSelector`` query value; raise :class:`SelectorError` with the apiserver's text."""
    if not selector.strip():
        return EVERYTHING
    reqs = _LabelParser(selector).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# ---------------------------------------------------------------------------------------------------
# field selectors


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """``path (==|!=) value`` over the stored object; ``path`` as resolved from the field label."""

    label: str
    path: tuple[str, ...]
    equal: bool
    value: str


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector: the AND of its terms (empty = everything)."""

    terms: tuple[FieldTerm, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the stored object satisfies every term (a missing field reads as "")."""
        for t in self.terms:
            have = field_value(obj, t.path)
            if (have == t.value) != t.equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.terms

    def exact(self, label: str) -> str | None:
        """The value required by an ``label=value`` term, if any (used to narrow scans)."""
        for t in self.terms:
            if t.label == label and t.equal:
                return t.value
        return None


NO_FIELDS = FieldSelector(())


def field_value(obj: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """The string form of ``obj`` at ``path`` ("" when absent); booleans as ``true``/``false``."""
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(p)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str, rt: ResourceType) -> FieldSelector:
    """Parse a ``fieldSelector`` for resource ``rt``; unsupported labels raise its conversion error."""
    terms: list[FieldTerm] = []
    for part in sorted(fields.split_terms(selector)):
        if not part:
            continue
        split = fields.split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        lhs, op, rhs = split
        try:
            value = fields.unescape_value(rhs)
        except fields.FieldSelectorSyntaxError as e:
            raise SelectorError(str(e)) from None
        path = rt.field_labels.get(lhs)
        if path is None:
            raise SelectorError(rt.field_label_error.format(label=lhs))
        terms.append(FieldTerm(lhs, path, op != "!=", value))
    return FieldSelector(tuple(terms))


Matcher = Callable[[Mapping[str, Any]], bool]
