"""Request bodies to objects: JSON and YAML decoding with kube-apiserver's errors and limits.

Both servers read a create/update/patch body the way kube-apiserver does:

- size: at most :data:`MAX_BODY_BYTES` (3 MiB, k8s.io/apiserver/pkg/server/config.go
  ``MaxRequestBodyBytes``); above it 413 ``Request entity too large: limit is 3145728``
  (:func:`check_size`, handlers/rest.go ``limitedReadBody``);
- JSON (Go ``encoding/json`` / sigs.k8s.io/json): syntax errors worded as Go words them
  (:func:`go_json_error`); nesting deeper than Go's 10000 is ``invalid character '[' exceeded max
  depth`` (Python's own parser stops near 1000 levels, so such a body gets that error too);
- YAML (sigs.k8s.io/yaml ``YAMLToJSON`` over go.yaml.in/yaml/v2 v2.4): the first document only;
  plain scalars resolved by yaml.v2's rules (:func:`resolve_plain`: YAML 1.1 booleans ``yes``/
  ``on``, ``0777`` octal, ``1e3`` a float, ``1_000`` an int, timestamps and ``12:30`` kept as
  strings), map keys turned into strings; **aliases** counted as yaml.v2 counts them and refused
  with ``yaml: document contains excessive aliasing`` before anything is expanded (the
  "billion laughs"), an alias inside its own anchor with ``yaml: anchor 'a' value contains
  itself``, an unknown one with ``yaml: unknown anchor 'a' referenced``; a redefined anchor
  replaces the earlier one for later aliases (yaml.v2; PyYAML would refuse it); nesting beyond
  :attr:`DecodeLimits.max_depth` with ``yaml: exceeded max depth of N``. libyaml, whose parser is
  used here, stops at 1000 levels where Go allows 10000: deeper documents get Go's text for 10000
  (no Kubernetes object comes near either). The composer is iterative, so Python's recursion
  limit plays no part.

Errors are :class:`DecodeError` (a ValueError) whose ``str`` is Go's text; each server wraps it in
its own 400 Status (fakekube as kube-apiserver: :func:`unrecognized`; the gateway as
``the body of the request was in an unknown format: ERR``). Limits are a :class:`DecodeLimits`
value, so a stricter deployment passes its own.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubeapi import fields, gostrconv, jsonscan, media
from kubeapi.status import StatusError, new_bad_request, new_request_entity_too_large_limit

__all__ = [
    "DEFAULT_LIMITS",
    "GO_MAX_DEPTH",
    "MAX_BODY_BYTES",
    "DecodeError",
    "DecodeLimits",
    "UnmarshalError",
    "check_size",
    "decode",
    "decode_json",
    "decode_yaml",
    "go_json_error",
    "resolve_plain",
    "summarize",
    "unrecognized",
]

#: kube-apiserver's default ``--max-request-body-bytes``... (``DefaultMaxRequestBodyBytes``, 3 MiB).
MAX_BODY_BYTES = 3 * 1024 * 1024
#: Go's nesting limits: encoding/json ``maxNestingDepth``, yaml.v2 ``max_flow_level``/``max_indents``.
GO_MAX_DEPTH = 10000


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on a body: ``max_bytes`` (413 above), ``max_depth`` (nesting of arrays/objects),
    ``check_aliases`` (yaml.v2's excessive-aliasing rule). Defaults are kube-apiserver's."""

    max_bytes: int = MAX_BODY_BYTES
    max_depth: int = GO_MAX_DEPTH
    check_aliases: bool = True


DEFAULT_LIMITS = DecodeLimits()


class DecodeError(ValueError):
    """A body that does not decode; ``str(e)`` is Go's error text (``yaml: line 3: ...``,
    ``invalid character 'x' looking for beginning of value``)."""


def check_size(size: int, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
    """Raise the 413 StatusError ``Request entity too large: limit is N`` when ``size`` (bytes) is
    above ``limits.max_bytes``."""
    if size > limits.max_bytes:
        raise new_request_entity_too_large_limit(limits.max_bytes)


# -- JSON ------------------------------------------------------------------------------------------

_JSON_WHERE = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
    "Unexpected UTF-8 BOM (decode using utf-8-sig)": "looking for beginning of value",
}


def _go_quote_char(ch: str) -> str:
    """encoding/json ``quoteChar``: the first UTF-8 byte of ``ch`` as Go prints a byte in a syntax
    error (``'x'``, ``'\\''``, ``'\\x00'``, ``'ï'`` for the first byte of a BOM)."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    byte = ch.encode("utf-8", "surrogateescape")[:1] or b"\x00"
    return "'" + gostrconv.quote(chr(byte[0]))[1:-1] + "'"


def go_json_error(e: json.JSONDecodeError) -> str:
    """The Go ``encoding/json`` wording for a Python JSON syntax error: ``unexpected end of JSON
    input``, or ``invalid character 'x' looking for beginning of value``. The offending character
    is shown as Go shows the byte it stands for when ``e.doc`` holds one character per byte (as a
    continue token decoded as latin-1 does): printable as is, otherwise ``\\uXXXX``."""
    doc, pos = e.doc, e.pos
    if pos >= len(doc.rstrip()):
        return "unexpected end of JSON input"
    ch = doc[pos]
    if ch == "'":
        shown = "'\\''"
    elif ch.isprintable():
        shown = f"'{ch}'"
    else:
        shown = f"'\\u{ord(ch):04x}'"
    where = _JSON_WHERE.get(e.msg)
    return f"invalid character {shown} {where}" if where else e.msg


class UnmarshalError(DecodeError):
    """A body that is valid JSON but whose value Go cannot hold: a number beyond float64
    (``json: cannot unmarshal number 1e400 into Go value of type float64``). kube-apiserver words
    it as ``K in version "v" cannot be handled as a K: ERR`` (400)."""


class _Constant(Exception):
    """``NaN``/``Infinity`` met by CPython's parser (Go has no such literal)."""


def _go_int(text: str) -> int | float:
    """sigs.k8s.io/json ``UnmarshalCaseSensitivePreserveInts``: an integer that fits int64 stays
    an int, any other becomes a float64 (``99999999999999999999`` → ``1e+20``)."""
    if len(text) <= 20:
        n = int(text)
        if gostrconv.INT64_MIN <= n <= gostrconv.INT64_MAX:
            return n
    return _go_float(text)


def _go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``; beyond float64, Go's ``UnmarshalTypeError``."""
    f = float(text)
    if math.isinf(f):
        raise UnmarshalError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return f


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def decode_json(body: bytes | str, limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """``body`` parsed as JSON the way kube-apiserver reads it (sigs.k8s.io/json over Go's
    ``encoding/json``): UTF-8 only (no BOM, no UTF-16 detection; invalid bytes in strings become
    U+FFFD), no ``NaN``/``Infinity``, integers kept when they fit int64 (floats otherwise),
    nesting up to ``limits.max_depth`` (Go: 10000; beyond CPython's ~1000 levels the iterative
    :func:`kubeapi.jsonscan.loads_iterative` takes over). Raises :class:`DecodeError` with Go's
    text (:class:`UnmarshalError` for a number beyond float64)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Errors name the offending byte (surrogateescape keeps it); values get U+FFFD as in Go.
            _loads(body.decode("utf-8", "surrogateescape"), limits)
            text = body.decode("utf-8", "replace")
    else:
        text = body
    return _loads(text, limits)


#: What ``json.loads(text, parse_int=..., parse_float=..., parse_constant=...)`` builds on every
#: call (a JSONDecoder and its C scanner), made once: decoding keeps no state in it.
_DECODER = json.JSONDecoder(parse_int=_go_int, parse_float=_go_float, parse_constant=_refuse_constant)


def _loads(text: str, limits: DecodeLimits) -> Any:
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        # CPython's messages do not say which container failed: the iterative parser words it as
        # Go does; if it finds no error (it should not happen), CPython's text mapped to Go's.
        _loads_iterative(text, limits.max_depth)
        raise DecodeError(go_json_error(e)) from None
    except (RecursionError, _Constant):
        return _loads_iterative(text, limits.max_depth)
    # Parsed past Go's limit? Possible once kubeapi.recursion raised CPython's; only a body with
    # more openers than the limit can be (counting them is C-fast, so most bodies stop here).
    if text.count("[") + text.count("{") > limits.max_depth and _depth(value) > limits.max_depth:
        return _loads_iterative(text, limits.max_depth)  # raises Go's error at the right opener
    return value


def _loads_iterative(text: str, max_depth: int) -> Any:
    try:
        return jsonscan.loads_iterative(text, max_depth, _go_int, _go_float)
    except jsonscan.JSONScanError as e:
        if e.where is None or e.pos >= len(e.doc):
            raise DecodeError("unexpected end of JSON input") from None
        raise DecodeError(f"invalid character {_go_quote_char(e.doc[e.pos])} {e.where}") from None


def _depth(value: Any) -> int:
    """Nesting depth of arrays/objects in a decoded value (iterative)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        d += 1
        deepest = max(deepest, d)
        stack.extend((c, d) for c in children)
    return deepest


# -- YAML: yaml.v2's plain-scalar resolution ------------------------------------------------------------

_BOOL_NULL_FLOAT: dict[str, Any] = {
    **dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
    **dict.fromkeys(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], None),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], math.nan),
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], math.inf),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_DIGITS = {
    2: frozenset("01"),
    8: frozenset("01234567"),
    10: frozenset("0123456789"),
    16: frozenset("0123456789abcdefABCDEF"),
}
_UINT64_MAX = (1 << 64) - 1


def _parse_int_base0(s: str) -> int | None:
    """Go ``strconv.ParseInt(s, 0, 64)`` (then ``ParseUint`` up to 2^64-1): sign, ``0x``/``0o``/
    ``0b``/leading-``0`` prefixes; None when it does not parse."""
    neg = s[:1] == "-"
    body = s[1:] if s[:1] in ("+", "-") else s
    if body[:2] in ("0x", "0X"):
        base, digits = 16, body[2:]
    elif body[:2] in ("0o", "0O"):
        base, digits = 8, body[2:]
    elif body[:2] in ("0b", "0B"):
        base, digits = 2, body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    n = int(digits, base)
    n = -n if neg else n
    if -(1 << 63) <= n < (1 << 63) or (not s.startswith(("+", "-")) and n <= _UINT64_MAX):
        return n
    return None


def resolve_plain(value: str) -> Any:
    """A plain (unquoted, untagged) YAML scalar as yaml.v2 ``resolve`` reads it into ``interface{}``:
    booleans (``y``, ``yes``, ``on``, ``true``... and their negations), null (``""``, ``~``,
    ``null``), ``.inf``/``.nan``, integers (``ParseInt(s, 0, 64)`` after removing ``_``, then
    uint64), floats (``.5``; ``[-+]?(\\.d+|d+(\\.d*)?)([eE][-+]?d+)?``), and otherwise the string
    (timestamps included: v2 keeps them strings for ``interface{}``)."""
    if value in _BOOL_NULL_FLOAT:
        return _BOOL_NULL_FLOAT[value]
    first = value[0]
    if first == ".":
        return float(value) if _DOT_FLOAT.fullmatch(value) else value
    if first in "+-0123456789":
        plain = value.replace("_", "")
        n = _parse_int_base0(plain)
        if n is not None:
            return n
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            return float(plain)
    return value


# PyYAML's loader mixins are untyped glue (each calls the others' methods); they are used as Any.
_Composer: Any = yaml.composer.Composer
_SafeConstructor: Any = yaml.constructor.SafeConstructor
_Resolver: Any = yaml.resolver.Resolver
_Reader: Any = yaml.reader.Reader
_Scanner: Any = yaml.scanner.Scanner
_Parser: Any = yaml.parser.Parser
#: libyaml's event parser, when PyYAML was built with it (yaml.cyaml fails to import otherwise).
try:
    _CParser: Any = importlib.import_module("yaml.cyaml").CParser
except ImportError:  # pragma: no cover - depends on the PyYAML build
    _CParser = None


class _GoComposer(_Composer):  # type: ignore[misc]
    """An iterative composer (events to nodes) with yaml.v2's anchor semantics, alias accounting
    and a depth bound; PyYAML's own composer recurses (about 200 levels fit in Python's stack).

    An alias is composed as a shallow copy of its anchor's node (same class, tag and children), so
    the constructor still shares the children while the copy marks where the alias stood. A
    redefined anchor replaces the earlier one for later aliases, as in yaml.v2 (PyYAML refuses
    it); an alias to an anchor still open (its own value) is refused as yaml.v2 refuses it.
    """

    go_aliases: dict[int, tuple[Node, str]]
    go_max_depth: int

    def go_init(self, max_depth: int) -> None:
        self.go_aliases = {}
        self.go_max_depth = max_depth

    def compose_document(self) -> Node:
        self.get_event()  # DocumentStart
        anchors: dict[str, Node] = {}
        open_ids: set[int] = set()
        # Open collections: (node, its children so far, anchor or None); for a mapping the
        # children are flat [k1, v1, k2, v2...] and paired when it closes.
        stack: list[tuple[Node, list[Node]]] = []
        root: Node | None = None
        while root is None:
            event: Any = self.get_event()
            # Compared by class (not isinstance) so the loosely typed PyYAML events stay Any.
            cls = type(event)
            node: Node | None = None
            if cls is yaml.AliasEvent:
                target = anchors.get(event.anchor)
                if target is None:
                    raise DecodeError(f"yaml: unknown anchor '{event.anchor}' referenced")
                if id(target) in open_ids:
                    raise DecodeError(f"yaml: anchor '{event.anchor}' value contains itself")
                node = copy.copy(target)  # same class, tag, children list
                self.go_aliases[id(node)] = (target, event.anchor)
            elif cls is yaml.ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolve(ScalarNode, event.value, event.implicit)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                if event.anchor is not None:
                    anchors[event.anchor] = node
            elif cls is yaml.SequenceStartEvent or cls is yaml.MappingStartEvent:
                if len(stack) >= self.go_max_depth:
                    mark = event.start_mark
                    where = f"line {mark.line + 1}: " if mark is not None and mark.line else ""
                    raise DecodeError(f"yaml: {where}exceeded max depth of {self.go_max_depth}")
                is_seq = cls is yaml.SequenceStartEvent
                kind = SequenceNode if is_seq else MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolve(kind, None, event.implicit)
                coll: Node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if event.anchor is not None:
                    anchors[event.anchor] = coll
                    open_ids.add(id(coll))
                stack.append((coll, []))
                continue
            elif cls is yaml.SequenceEndEvent or cls is yaml.MappingEndEvent:
                node, children = stack.pop()
                open_ids.discard(id(node))
                if isinstance(node, MappingNode):
                    node.value = list(zip(children[::2], children[1::2], strict=True))
                else:
                    node.value = children
                node.end_mark = event.end_mark
            else:  # pragma: no cover - the parser emits nothing else inside a document
                raise DecodeError(f"yaml: unexpected event {type(event).__name__}")
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        self.get_event()  # DocumentEnd
        return root


class _GoConstructor(_SafeConstructor):  # type: ignore[misc]
    """Plain scalars through :func:`resolve_plain`; explicit tags as PyYAML reads them; map keys
    made strings as they are inserted (so ``1`` and ``true`` stay two keys, as in Go's
    ``map[interface{}]interface{}``, instead of colliding as Python's ``1 == True``)."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {getattr(node, 'id', '?')}", node.start_mark
            )
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            mapping[_key_string(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_plain(loader: Any, node: Node) -> Any:
    assert isinstance(node, ScalarNode)
    return resolve_plain(node.value)


_GoConstructor.add_constructor("tag:kubeapi:plain", _construct_plain)


class _GoResolver(_Resolver):  # type: ignore[misc]
    """Every plain scalar gets the private tag that :func:`resolve_plain` reads; quoted scalars
    are strings; collections as usual."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool] | None) -> str:
        if kind is ScalarNode and implicit is not None and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else "tag:kubeapi:plain"
        tag: str = super().resolve(kind, value, implicit)
        return tag


class _GoLoaderBase(_GoComposer, _GoConstructor, _GoResolver):
    """The composer, constructor and resolver above; a subclass adds the event parser."""

    def go_setup(self, max_depth: int) -> None:
        _GoComposer.__init__(self)
        _GoConstructor.__init__(self)
        _GoResolver.__init__(self)
        self.go_init(max_depth)

    def first_document(self) -> Node | None:
        """The first document's node (None for an empty stream); later documents are not read,
        as yaml.v2's ``Unmarshal`` reads one."""
        self.get_event()  # StreamStart
        if self.check_event(yaml.StreamEndEvent):
            return None
        document: Node = self.compose_document()
        return document


class _GoLoaderPure(_Reader, _Scanner, _Parser, _GoLoaderBase):  # type: ignore[misc]
    """Pure-Python PyYAML parsing (when libyaml is not installed)."""

    def __init__(self, stream: bytes, max_depth: int) -> None:
        _Reader.__init__(self, stream)
        _Scanner.__init__(self)
        _Parser.__init__(self)
        self.go_setup(max_depth)


_LOADER: Callable[[bytes, int], _GoLoaderBase] = _GoLoaderPure
if _CParser is not None:

    class _GoLoaderC(_CParser, _GoLoaderBase):  # type: ignore[misc]
        """libyaml's event parser (a C port of the same libyaml go-yaml ports, so its problem texts
        are go-yaml's) under the Python composer."""

        def __init__(self, stream: bytes, max_depth: int) -> None:
            _CParser.__init__(self, stream)
            self.go_setup(max_depth)

    _LOADER = _GoLoaderC


def _alias_ratio_allowed(decode_count: int) -> float:
    """yaml.v2 decode.go ``allowedAliasRatio``."""
    if decode_count <= 400_000:
        return 0.99
    if decode_count >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * ((decode_count - 400_000) / 3_600_000)


def _check_aliasing(root: Node, aliases: dict[int, tuple[Node, str]]) -> None:
    """Replay yaml.v2's ``decodeCount``/``aliasCount`` over the composed graph without expanding it.

    v2 counts one per node it decodes (the document node too, map keys too), and counts into
    ``aliasCount`` every node decoded below an alias; it fails as soon as ``aliasCount > 100``,
    ``decodeCount > 1000`` and their ratio exceeds :func:`_alias_ratio_allowed`. Within one alias
    expansion both counts grow together, so checking at the end of each top-level expansion finds
    every failure Go's per-node check finds.
    """
    sizes: dict[int, int] = {}

    def expanded(node: Node) -> int:
        """Nodes decoded for ``node`` with aliases expanded (memoised, iterative)."""
        todo: list[tuple[Node, bool]] = [(node, False)]
        while todo:
            n, done = todo.pop()
            key = id(n)
            if key in sizes:
                continue
            alias = aliases.get(key)
            kids = [] if isinstance(n, ScalarNode) else _children(n)
            if not done:
                todo.append((n, True))
                if alias is not None:
                    todo.append((alias[0], False))
                else:
                    todo.extend((k, False) for k in kids)
                continue
            if alias is not None:
                sizes[key] = 1 + sizes[id(alias[0])]
            else:
                sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
        return sizes[id(node)]

    decode_count = 1  # the document node
    alias_count = 0
    stack: list[Node] = [root]
    while stack:
        n = stack.pop()
        alias = aliases.get(id(n))
        if alias is None:
            decode_count += 1
            if not isinstance(n, ScalarNode):
                stack.extend(reversed(_children(n)))
            continue
        size = expanded(alias[0])
        decode_count += 1 + size
        alias_count += size
        if (
            alias_count > 100
            and decode_count > 1000
            and alias_count / decode_count > _alias_ratio_allowed(decode_count)
        ):
            raise DecodeError("yaml: document contains excessive aliasing")


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [x for pair in node.value for x in pair]
    return list(node.value)


def _jsonable(value: Any) -> Any:
    """sigs.k8s.io/yaml ``convertToJSONableObject`` + ``json.Marshal``: NaN/Inf refused as Go refuses
    them, ``!!binary`` bytes as text, other non-JSON scalars (an explicit ``!!timestamp``) as
    strings; shared (aliased) children copied, so the result is a tree (iterative)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        v, into, slot = stack.pop()
        if isinstance(v, dict):
            out_d: dict[str, Any] = {}
            into[slot] = out_d
            for k, item in v.items():
                sk = _key_string(k)
                out_d[sk] = None
                stack.append((item, out_d, sk))
        elif isinstance(v, list):
            out_l: list[Any] = [None] * len(v)
            into[slot] = out_l
            stack.extend((item, out_l, i) for i, item in enumerate(v))
        elif isinstance(v, float):
            into[slot] = _finite(v)
        elif isinstance(v, bytes):
            into[slot] = v.decode("utf-8", "replace")
        elif v is not None and not isinstance(v, (str, int, bool)):
            into[slot] = str(v)
        else:
            into[slot] = v
    return root[0]


def _finite(f: float) -> float:
    if math.isnan(f):
        raise DecodeError("json: unsupported value: NaN")
    if math.isinf(f):
        raise DecodeError(f"json: unsupported value: {'+Inf' if f > 0 else '-Inf'}")
    return f


def _key_string(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        if math.isnan(k):
            return ".nan"
        if math.isinf(k):
            return ".inf" if k > 0 else "-.inf"
        return fields.go_format_float(k, 32)
    raise DecodeError(f"unsupported map key of type: {type(k).__name__}, key: {k!r}")


def decode_yaml(body: bytes | str, limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """``body``'s first YAML document as JSON-ready Python values (see the module docstring), None
    for an empty body. Raises :class:`DecodeError` with go-yaml's texts where they are known
    (aliasing, depth) and ``yaml: line N: PROBLEM`` (PyYAML's problem text) for syntax errors."""
    data = body.encode() if isinstance(body, str) else body
    loader = _LOADER(data, limits.max_depth)
    try:
        node = loader.first_document()
        if node is None:
            return None
        if limits.check_aliases and loader.go_aliases:
            _check_aliasing(node, loader.go_aliases)
        value = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        raise DecodeError(_go_yaml_error(e)) from None
    except yaml.reader.ReaderError as e:  # libyaml's reasons are go-yaml's (readerc.go)
        raise DecodeError(f"yaml: {e.reason}") from None
    except yaml.YAMLError as e:
        raise DecodeError(f"yaml: {e}") from None
    except RecursionError:
        raise DecodeError(f"yaml: exceeded max depth of {GO_MAX_DEPTH}") from None
    except TypeError as e:  # an unhashable (collection) map key
        raise DecodeError(f"yaml: {e}") from None
    finally:
        loader.dispose()
    return _jsonable(value)


def _go_yaml_error(e: yaml.MarkedYAMLError) -> str:
    """go-yaml's ``parser.fail`` text: ``yaml: line N: PROBLEM``, where N is the problem mark's
    0-based line (+1 for a scanner error), else the context mark's, and no ``line`` part when 0."""
    problem = e.problem or "unknown problem parsing YAML content"
    if problem == "exceeded maximum nesting depth":  # libyaml's guard (1000 levels; Go's is 10000)
        problem = f"exceeded max depth of {GO_MAX_DEPTH}"
    line = 0
    if e.problem_mark is not None and e.problem_mark.line != 0:
        line = e.problem_mark.line + (1 if isinstance(e, yaml.scanner.ScannerError) else 0)
    elif e.context_mark is not None and e.context_mark.line != 0:
        line = e.context_mark.line
    return f"yaml: line {line}: {problem}" if line else f"yaml: {problem}"


# -- both ----------------------------------------------------------------------------------------


def decode(body: bytes, media_type: str, limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """``body`` decoded per ``media_type`` (parameter-free, lower case): YAML for
    :func:`kubeapi.media.is_yaml` types, JSON otherwise. Checks the size first (413 StatusError),
    then raises :class:`DecodeError` for a body that does not decode."""
    check_size(len(body), limits)
    if media.is_yaml(media_type):
        return decode_yaml(body, limits)
    return decode_json(body, limits)


def summarize(body: bytes, limit: int = 30) -> str:
    """handlers/rest.go ``summarizeData``: the body when it starts with ``{``, else its hex; cut to
    ``limit`` bytes with `` ...``; ``<empty>`` for an empty body."""
    if not body:
        return "<empty>"
    cut = body[:limit]
    text = cut.decode("utf-8", "replace") if body[:1] == b"{" else cut.hex()
    return text + (" ..." if len(body) > limit else "")


def unrecognized(kind: str, err: str, body: bytes) -> StatusError:
    """400 for a body whose kind cannot be told (handlers/rest.go ``transformDecodeError``):
    ``the object provided is unrecognized (must be of type KIND): ERR (SUMMARY)``."""
    return new_bad_request(
        f"the object provided is unrecognized (must be of type {kind}): {err} ({summarize(body)})"
    )
