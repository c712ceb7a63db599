"""Go's ``strconv`` parsing and quoting, for the apiserver's query-parameter errors.

kube-apiserver converts query parameters with Go's ``strconv`` (see :mod:`kubeapi.query`) and
answers a failure with the ``*strconv.NumError`` text as the message of a 400 ``BadRequest``:
``strconv.ParseInt: parsing "x": invalid syntax``. This module reproduces the accepted inputs and
those texts exactly (Go ``src/strconv/atoi.go``, ``atob.go``, ``quote.go``).
"""

from __future__ import annotations

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NumError",
    "atoi",
    "parse_bool",
    "parse_int",
    "parse_uint",
    "quote",
]

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)

#: Go's strconv.ParseBool accepted spellings (atob.go ``ParseBool``), and nothing else.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

#: Single-character escapes of Go's ``appendEscapedRune`` (quote.go).
_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


class NumError(ValueError):
    """A failed strconv conversion; ``str(e)`` is Go's ``*strconv.NumError`` text.

    ``func`` is the Go function name (``ParseInt``, ``Atoi``, ``ParseBool``), ``num`` the input,
    ``err`` ``"invalid syntax"`` or ``"value out of range"``.
    """

    def __init__(self, func: str, num: str, err: str) -> None:
        self.func = func
        self.num = num
        self.err = err
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {err}")


def quote(s: str) -> str:
    """``s`` as Go's ``strconv.Quote`` writes it: double quotes, ``\\"`` and ``\\\\`` escaped,
    ``\\n``-style escapes, ``\\xNN`` for other ASCII controls, ``\\uNNNN``/``\\UNNNNNNNN`` for
    non-printable runes; printable Unicode is kept as is (Go ``unicode.IsPrint`` ≈ Python
    ``str.isprintable``; the two may differ for code points one Unicode version has and the other
    has not). A lone surrogate (an undecodable byte kept by ``surrogateescape``) is written
    ``\\xNN`` as Go writes an invalid UTF-8 byte.
    """
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:  # not a valid rune: Go writes U+FFFD's escape
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def parse_int(s: str, func: str = "ParseInt") -> int:
    """``strconv.ParseInt(s, 10, 64)``: an optional ``+``/``-`` then ASCII digits only (no spaces,
    no underscores, no ``0x``; leading zeros allowed), within int64.

    Raises :class:`NumError` ``strconv.ParseInt: parsing "s": invalid syntax`` (also for ``""``)
    or ``...: value out of range``. ``func`` names the Go function in the message.
    """
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isascii() or not digits.isdigit():
        raise NumError(func, s, "invalid syntax")
    n = int(s)
    if n > INT64_MAX or n < INT64_MIN:
        raise NumError(func, s, "value out of range")
    return n


def parse_uint(s: str) -> int:
    """``strconv.ParseUint(s, 10, 64)``: ASCII digits only (no sign, no spaces, no underscores),
    within uint64. Raises :class:`NumError` ``strconv.ParseUint: parsing "s": invalid syntax``
    (also for ``""``) or ``...: value out of range`` (above 18446744073709551615)."""
    if not s or not s.isascii() or not s.isdigit():
        raise NumError("ParseUint", s, "invalid syntax")
    n = int(s)
    if n >= 1 << 64:
        raise NumError("ParseUint", s, "value out of range")
    return n


def atoi(s: str) -> int:
    """``strconv.Atoi(s)`` on a 64-bit platform: :func:`parse_int` with ``Atoi`` in the message."""
    return parse_int(s, "Atoi")


def parse_bool(s: str) -> bool:
    """``strconv.ParseBool(s)``: true for ``1 t T TRUE true True``, false for ``0 f F FALSE false
    False``; anything else (``yes``, ``tRuE``, ``""``, `` true``) raises :class:`NumError`
    ``strconv.ParseBool: parsing "s": invalid syntax``."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise NumError("ParseBool", s, "invalid syntax")
