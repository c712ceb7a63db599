"""JSON text to Python values without recursion, with Go ``encoding/json``'s depth rule and texts.

CPython's ``json`` parser recurses once per nesting level and stops near 1,000 levels
(``RecursionError``); Go's scanner (``encoding/json/scanner.go``, as forked in sigs.k8s.io/json,
which kube-apiserver decodes request bodies with) accepts 10,000 and refuses the 10,001st opener
with ``invalid character '[' exceeded max depth``. :func:`loads_iterative` is the fallback
:func:`kubeapi.decode.decode_json` uses when CPython's parser gives up: an explicit stack, strings
through ``json.decoder.scanstring`` (C), numbers through the same hooks as the fast path.

Errors are :class:`JSONScanError` (position, Go's ``where`` text), which the caller words as Go
does (``invalid character 'x' looking for beginning of value``, ``unexpected end of JSON input``).
Go reports the first problem in document order (``checkValid`` scans the whole input before
decoding); so does this parser.
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable
from typing import Any

__all__ = ["JSONScanError", "loads_iterative"]

_WS = re.compile(r"[ \t\n\r]*")
#: CPython's string scanner (C): ``(text, index after the opening quote, strict)`` → (str, end).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class JSONScanError(ValueError):
    """A syntax error at ``pos`` of ``doc``; ``where`` is Go's context (``looking for beginning of
    value``, ``after object key``, ``exceeded max depth``...), or None for the end of input."""

    def __init__(self, doc: str, pos: int, where: str | None) -> None:
        self.doc = doc
        self.pos = pos
        self.where = where
        super().__init__(f"{where} at {pos}")


def loads_iterative(
    doc: str,
    max_depth: int,
    parse_int: Callable[[str], Any],
    parse_float: Callable[[str], Any],
) -> Any:
    """``doc`` parsed as one JSON value (RFC 8259, as Go reads it: no ``NaN``, no trailing commas).

    ``max_depth`` bounds the nesting of arrays and objects (Go: 10000); ``parse_int`` and
    ``parse_float`` turn number texts into values. Raises :class:`JSONScanError`; a later
    duplicate key replaces the earlier one, as in Go. Cost: about 1 µs per token.
    """
    # Each open container: (the container, the pending key for an object or None for an array).
    stack: list[list[Any]] = []
    ws = _skip
    end = len(doc)
    pos = ws(doc, 0)
    while True:
        # -- a value starts at pos
        if pos >= end:
            raise JSONScanError(doc, pos, None)
        ch = doc[pos]
        value: Any
        if ch == "{" or ch == "[":
            if len(stack) >= max_depth:
                raise JSONScanError(doc, pos, "exceeded max depth")
            pos = ws(doc, pos + 1)
            if ch == "[":
                if pos < end and doc[pos] == "]":
                    value, pos = [], pos + 1
                else:
                    stack.append([[], None])
                    continue
            else:
                if pos < end and doc[pos] == "}":
                    value, pos = {}, pos + 1
                else:
                    key, pos = _key(doc, pos)
                    stack.append([{}, key])
                    continue
        elif ch == '"':
            value, pos = _string(doc, pos + 1)
        elif ch in "-0123456789":
            m = _NUMBER.match(doc, pos)
            if m is None:
                raise JSONScanError(doc, pos + 1, "in numeric literal")
            integer, frac, exp = m.groups()
            value = parse_float(m.group()) if frac or exp else parse_int(integer)
            pos = m.end()
        else:
            for word, literal in _LITERALS.items():
                if doc.startswith(word, pos):
                    value, pos = literal, pos + len(word)
                    break
            else:
                raise JSONScanError(doc, pos, "looking for beginning of value")
        # -- a value ended: put it in its container and close what is complete
        while True:
            pos = ws(doc, pos)
            if not stack:
                if pos < end:
                    raise JSONScanError(doc, pos, "after top-level value")
                return value
            top = stack[-1]
            container, key = top
            if key is None:
                container.append(value)
                closer, where = "]", "after array element"
            else:
                container[key] = value
                closer, where = "}", "after object key:value pair"
            if pos >= end:
                raise JSONScanError(doc, pos, None)
            if doc[pos] == ",":
                pos = ws(doc, pos + 1)
                if key is not None:
                    top[1], pos = _key(doc, pos)
                break
            if doc[pos] != closer:
                raise JSONScanError(doc, pos, where)
            stack.pop()
            value, pos = container, pos + 1


def _skip(doc: str, pos: int) -> int:
    """The position after the JSON blanks (space, tab, CR, LF) at ``pos``."""
    m = _WS.match(doc, pos)
    return m.end() if m is not None else pos


def _key(doc: str, pos: int) -> tuple[str, int]:
    """An object key at ``pos`` and the position after its ``:`` and the blanks that follow."""
    if pos >= len(doc):
        raise JSONScanError(doc, pos, None)
    if doc[pos] != '"':
        raise JSONScanError(doc, pos, "looking for beginning of object key string")
    key, pos = _string(doc, pos + 1)
    pos = _skip(doc, pos)
    if pos >= len(doc):
        raise JSONScanError(doc, pos, None)
    if doc[pos] != ":":
        raise JSONScanError(doc, pos, "after object key")
    return key, _skip(doc, pos + 1)


def _string(doc: str, pos: int) -> tuple[str, int]:
    """The string whose text starts at ``pos`` (after its quote), and the position after it; Go's
    errors: a control character ``in string literal``, a bad escape ``in string escape code``, a
    bad ``\\u`` digit ``in \\u hexadecimal character escape``, no closing quote: end of input."""
    try:
        return _scanstring(doc, pos, True)
    except ValueError as e:
        msg, at = str(e), getattr(e, "pos", pos)
    if msg.startswith("Unterminated string"):
        raise JSONScanError(doc, len(doc), None)
    if msg.startswith("Invalid \\uXXXX"):
        digits = at + 2
        while digits < len(doc) and doc[digits] in "0123456789abcdefABCDEF":
            digits += 1
        raise JSONScanError(doc, digits, "in \\u hexadecimal character escape")
    if msg.startswith("Invalid \\escape"):
        raise JSONScanError(doc, at + 1, "in string escape code")
    raise JSONScanError(doc, at, "in string literal")
