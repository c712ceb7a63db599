"""The ``fieldSelector`` grammar of k8s.io/apimachinery/pkg/fields/selector.go.

A selector is terms separated by unescaped ``,`` (AND); each term is ``field=value``,
``field==value`` or ``field!=value``, split at the first operator; in values ``\\`` escapes
``\\``, ``,`` and ``=``. Errors carry the apiserver's wording, so a caller can answer with it
as the ``message`` of a 400 ``BadRequest``.
"""

from __future__ import annotations

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
            raise FieldSelectorSyntaxError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if escaped:
        raise FieldSelectorSyntaxError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)
