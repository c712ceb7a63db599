"""Label selectors: parse with kube-apiserver's error texts, match label sets.

The grammar, lexer, parser and validation of k8s.io/apimachinery/pkg/labels/selector.go
(``Parse``, ``Lexer``, ``Parser``, ``NewRequirement``, ``Requirement.Matches``, ``String``):

- requirements joined by ``,`` (AND): ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
  ``k notin (a,b)``, ``k`` (exists), ``!k`` (does not exist), ``k>1``, ``k<1``; whitespace is
  ``' '``, ``\\t``, ``\\r``, ``\\n`` only; ``in``/``notin`` are identifiers in value position;
  ``k=`` and ``k in ()`` mean the empty value; a NUL byte ends the input as Go's lexer reads it;
- keys must be label keys and values label values (:mod:`kubeapi.validation`); ``gt``/``lt``
  values must parse with ``strconv.ParseInt``;
- requirements are sorted by key; set values are sorted and de-duplicated.

kube-apiserver parses ``labelSelector`` while decoding ListOptions and answers a failure as 400
BadRequest whose message is ``str(LabelSelectorError)``, e.g.
``unable to parse requirement: found '', expected: identifier`` (Go's ``fmt.Errorf`` texts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from kubeapi import gostrconv, validation

__all__ = [
    "EVERYTHING",
    "OPERATORS",
    "LabelSelector",
    "LabelSelectorError",
    "Requirement",
    "parse_label_selector",
    "selector_from_set",
]


class LabelSelectorError(ValueError):
    """A selector kube-apiserver refuses; ``str(e)`` is its 400 BadRequest message."""


#: selection.Operator values as this module spells them (Go's ``selection`` constants).
OPERATORS: Final = frozenset({"in", "notin", "=", "==", "!=", "exists", "!", "gt", "lt"})
_POSITIVE = frozenset({"in", "=", "=="})
_NEGATIVE = frozenset({"notin", "!="})
_NO_LABELS: Mapping[str, str] = {}

# -- lexer (selector.go Lexer) ------------------------------------------------------------------

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
_OPERATOR_TOKENS = {"IN": "in", "NOTIN": "notin", "EQ": "=", "DEQ": "==", "NEQ": "!=", "GT": "gt", "LT": "lt"}


def _lex(s: str) -> list[tuple[str, str]]:
    """(token, literal) pairs up to and including ("EOS", ""), as ``Parser.scan`` collects them.

    Go reads bytes and treats a NUL as the end of input where a token starts; a NUL inside an
    identifier or symbol run ends that token (and is consumed).
    """
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _WHITESPACE:
            i += 1
        if i >= n or s[i] == "\x00":
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
                if j < n and s[j] == "\x00":
                    j += 1
                out.append(("ERROR", f"error expected: keyword found '{buf}'"))
                i = j
            else:
                out.append((_SYMBOLS[last], last))
                i = last_end
        else:
            j = i
            while j < n and s[j] not in _SPECIAL and s[j] not in _WHITESPACE and s[j] != "\x00":
                j += 1
            lit = s[i:j]
            if j < n and s[j] == "\x00":
                j += 1
            out.append((_KEYWORDS.get(lit, "ID"), lit))
            i = j


# -- requirements and selectors ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term (Go ``labels.Requirement``); ``op`` is one of :data:`OPERATORS`;
    ``values`` sorted for parsed set operators, ``()`` for exists and ``!``."""

    key: str
    op: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``Requirement.Matches``: in/=/== need the key with one of the values; notin/!= hold when
        the key is absent or its value is not one of them; gt/lt need the key with an integer
        value (``strconv.ParseInt``) above/below the requirement's."""
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
        if v is None or len(self.values) != 1:
            return False
        try:
            have = gostrconv.parse_int(v)
            want = gostrconv.parse_int(self.values[0])
        except ValueError:
            return False
        return have > want if op == "gt" else have < want

    def __str__(self) -> str:
        """``Requirement.String``: ``!k``, ``k``, ``k=v``, ``k in (a,b)``, ``k>1``..."""
        op = self.op
        if op == "!":
            return "!" + self.key
        if op == "exists":
            return self.key
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        sym = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{self.key}{sym}{self.values[0] if self.values else ''}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector: the AND of ``requirements`` (empty = everything)."""

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
        """True when the selector selects everything (Go ``Empty``)."""
        return not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """``RequiresExactMatch``: the single value an ``=``/``==``/one-value ``in`` requirement on
        ``key`` demands, or None."""
        for r in self.requirements:
            if r.key == key:
                if r.op in _POSITIVE and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        """``String``: the requirements joined by ``,`` (a canonical form that parses back)."""
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = LabelSelector(())


def selector_from_set(labels: Mapping[str, str]) -> LabelSelector:
    """``SelectorFromSet``: ``k=v`` for each pair, sorted by key (not validated)."""
    return LabelSelector(tuple(Requirement(k, "=", (v,)) for k, v in sorted(labels.items())))


# -- parser (selector.go Parser) ------------------------------------------------------------------


def _invalid(path: str, value: str, detail: str) -> str:
    """A ``field.Invalid`` error text for a string value: ``PATH: Invalid value: "v": DETAIL``."""
    return f"{path}: Invalid value: {gostrconv.quote(value)}: {detail}"


class _Parser:
    __slots__ = ("items", "pos")

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
                except LabelSelectorError as e:
                    raise LabelSelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self._next()
                if t == "EOS":
                    return reqs
                if t == "COMMA":
                    t2, l2 = self._peek()
                    if t2 not in ("ID", "NOT"):
                        raise LabelSelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise LabelSelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "EOS":
                return reqs
            else:
                raise LabelSelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        tok, lit = self._next()
        op = ""
        if tok == "NOT":
            op = "!"
            tok, lit = self._next()
        if tok != "ID":
            raise LabelSelectorError(f"found '{lit}', expected: identifier")
        key = lit
        errs = validation.is_label_key(key)
        if errs:
            raise LabelSelectorError(_invalid("<nil>", key, "; ".join(errs)))
        if self._peek()[0] in ("EOS", "COMMA") and op != "!":
            op = "exists"
        if op in ("!", "exists"):
            return Requirement(key, op, ())
        tok, lit = self._next(values=False)
        op = _OPERATOR_TOKENS.get(tok, "")
        if not op:
            raise LabelSelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        values = self._set_values() if op in ("in", "notin") else self._exact_value()
        return _new_requirement(key, op, values)

    def _set_values(self) -> list[str]:
        tok, lit = self._next()
        if tok != "OPAR":
            raise LabelSelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok in ("ID", "COMMA"):
            values = self._identifiers()
            if self._next()[0] != "CPAR":
                raise LabelSelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == "CPAR":
            self._next()
            return [""]
        raise LabelSelectorError(f"found '{lit}', expected: ',', ')' or identifier")

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
                raise LabelSelectorError(f"found '{l2}', expected: ',' or ')'")
            if tok == "COMMA":
                if not found:
                    found.add("")
                t2, _ = self._peek()
                if t2 == "CPAR":
                    found.add("")
                    return sorted(found)
                if t2 == "COMMA":
                    found.add("")
            else:
                raise LabelSelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        tok, _ = self._peek()
        if tok in ("EOS", "COMMA"):
            return [""]
        tok, lit = self._next()
        if tok == "ID":
            return [lit]
        raise LabelSelectorError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """``NewRequirement``'s value checks (the parser already checked the key); several errors are
    aggregated as ``[a, b]`` (utilerrors aggregate, repeats dropped)."""
    errs: list[str] = []
    if op in ("gt", "lt"):
        for i, v in enumerate(values):
            try:
                gostrconv.parse_int(v)
            except ValueError:
                errs.append(
                    _invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                )
    for i, v in enumerate(values):
        verrs = validation.is_label_value(v)
        if verrs:
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(verrs)))
    if errs:
        unique = list(dict.fromkeys(errs))
        raise LabelSelectorError(unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")
    return Requirement(key, op, tuple(values))


def parse_label_selector(selector: str) -> LabelSelector:
    """``labels.Parse(selector)``: the selector, requirements sorted by key; ``""`` (or only
    whitespace) selects everything. Raises :class:`LabelSelectorError` with the apiserver's text."""
    reqs = _Parser(selector).parse()
    if not reqs:
        return EVERYTHING
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))
