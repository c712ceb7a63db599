"""Media types: the names kube-apiserver serves, ``Content-Type`` parsing, ``Accept`` negotiation.

- Request bodies (``Content-Type``): k8s.io/apiserver/pkg/endpoints/handlers/negotiation
  ``NegotiateInputSerializerForMediaType``: an absent header means the first supported type
  (``application/json``); the header is parsed with Go's ``mime.ParseMediaType``
  (:func:`parse_media_type`); a header that does not parse or names no supported type is a 415
  (:func:`kubeapi.status.new_unsupported_media_type`).
- Responses (``Accept``): ``NegotiateMediaTypeOptions`` over ``goautoneg.ParseAccept``
  (github.com/munnerz/goautoneg v0.0.0-20191010083416, the version k8s.io/apiserver pins), with
  the resource endpoints' ``AllowsMediaTypeTransform`` (handlers/rest.go): ``as=Table`` only as
  JSON or YAML, ``as=PartialObjectMetadata[List]`` in any type, both only with
  ``g=meta.k8s.io`` and ``v=v1``/``v1beta1``; ``stream=watch`` only for serializers that stream
  (not YAML); ``sv`` must be ``v1``. See :func:`negotiate_output`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ACCEPTED_BODY_TYPES",
    "ACCEPTED_BODY_TYPES_CUSTOM",
    "ACCEPTED_PATCH_TYPES",
    "ACCEPTED_PATCH_TYPES_CUSTOM",
    "APPLY_PATCH_CBOR",
    "APPLY_PATCH_YAML",
    "CBOR",
    "JSON",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "PROTOBUF",
    "STRATEGIC_MERGE_PATCH",
    "TABLE_ACCEPT",
    "TEXT_PLAIN",
    "YAML",
    "YAML_TYPES",
    "AcceptClause",
    "MediaTypeError",
    "Negotiated",
    "asks_for_aggregated_discovery",
    "asks_for_table",
    "body_media_type",
    "is_yaml",
    "negotiate_output",
    "parse_accept",
    "parse_media_type",
]

JSON: Final = "application/json"
YAML: Final = "application/yaml"
#: Every spelling of YAML a body may come in: kube-apiserver's YAML serializer answers to
#: ``application/yaml``; ``application/x-yaml`` and ``text/yaml`` are what clients send too and
#: both servers here have always read as YAML.
YAML_TYPES: Final = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
CBOR: Final = "application/cbor"
TEXT_PLAIN: Final = "text/plain"
MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
APPLY_PATCH_YAML: Final = "application/apply-patch+yaml"
APPLY_PATCH_CBOR: Final = "application/apply-patch+cbor"
#: Every patch type (``types.PatchType``) kube-apiserver knows.
PATCH_TYPES: Final = frozenset(
    {MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH_YAML, APPLY_PATCH_CBOR}
)
#: What kubectl sends to get a Table (``kubectl get``), falling back to plain JSON.
TABLE_ACCEPT: Final = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)

#: The "accepted media types include" lists of kube-apiserver's 415 for a create/update body:
#: built-in kinds also take protobuf; custom resources JSON and YAML (CBOR is alpha-gated).
ACCEPTED_BODY_TYPES: Final = (JSON, YAML, PROTOBUF)
ACCEPTED_BODY_TYPES_CUSTOM: Final = (JSON, YAML)
#: The patch types of a PATCH's 415 (``patchTypes`` of the endpoint, order as served): custom
#: resources have no strategic merge patch.
ACCEPTED_PATCH_TYPES_CUSTOM: Final = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH_YAML)
ACCEPTED_PATCH_TYPES: Final = (*ACCEPTED_PATCH_TYPES_CUSTOM, STRATEGIC_MERGE_PATCH)


def is_yaml(media_type: str) -> bool:
    """Whether a (parameter-free, lower-case) media type is one of :data:`YAML_TYPES` or the apply
    patch's ``application/apply-patch+yaml`` (both servers decode those bodies as YAML)."""
    return media_type in YAML_TYPES or media_type == APPLY_PATCH_YAML


# -- Content-Type: mime.ParseMediaType ---------------------------------------------------------------


class MediaTypeError(ValueError):
    """A ``Content-Type`` Go's ``mime.ParseMediaType`` refuses; ``str(e)`` is its error text."""


_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')
_TOKEN_END = re.compile(r'[\x00-\x20\x7f-\U0010ffff()<>@,;:\\"/\[\]?=]')


def _consume_token(v: str) -> tuple[str, str]:
    """Go mime ``consumeToken``: the leading run of token characters, and the rest."""
    m = _TOKEN_END.search(v)
    if m is None:
        return v, ""
    return v[: m.start()], v[m.start() :]


def _consume_value(v: str) -> tuple[str, str]:
    """Go mime ``consumeValue``: a token, or a quoted-string (``\\`` escapes; only ``"`` and ``\\``
    may be escaped... Go keeps any escaped char), and the rest; ``("", v)`` when neither."""
    if not v:
        return "", v
    if v[0] != '"':
        return _consume_token(v)
    out: list[str] = []
    i = 1
    while i < len(v):
        ch = v[i]
        if ch == '"':
            return "".join(out), v[i + 1 :]
        if ch == "\\" and i + 1 < len(v) and v[i + 1] in _TSPECIALS:
            out.append(v[i + 1])
            i += 2
            continue
        if ch in "\r\n":
            return "", v
        out.append(ch)
        i += 1
    return "", v


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Go ``mime.ParseMediaType`` for a ``Content-Type``: ``("type/subtype", params)`` with the type
    and parameter names lower-cased and surrounding space trimmed.

    Raises :class:`MediaTypeError` with Go's texts: ``mime: no media type``, ``mime: expected slash
    after first token``, ``mime: expected token after slash``, ``mime: unexpected content after
    media subtype``, ``mime: invalid media parameter``, ``mime: duplicate parameter name``. (RFC
    2231 continuations, ``name*0=``, are kept as given rather than joined.)
    """
    base, sep, rest = value.partition(";")
    mediatype = base.strip().lower()
    typ, after = _consume_token(mediatype)
    if not typ:
        raise MediaTypeError("mime: no media type")
    if after:
        if not after.startswith("/"):
            raise MediaTypeError("mime: expected slash after first token")
        sub, after = _consume_token(after[1:])
        if not sub:
            raise MediaTypeError("mime: expected token after slash")
        if after:
            raise MediaTypeError("mime: unexpected content after media subtype")
    params: dict[str, str] = {}
    v = sep + rest
    while True:
        v = v.lstrip()
        if not v:
            break
        key, val, remaining = _consume_param(v)
        if not key:
            if v.strip() == ";":
                break  # a trailing semicolon is ignored
            raise MediaTypeError("mime: invalid media parameter")
        if key in params:
            raise MediaTypeError("mime: duplicate parameter name")
        params[key] = val
        v = remaining
    return mediatype, params


def _consume_param(v: str) -> tuple[str, str, str]:
    """Go mime ``consumeMediaParam``: ``(name, value, rest)``, or ``("", "", v)`` when none."""
    rest = v.lstrip()
    if not rest.startswith(";"):
        return "", "", v
    rest = rest[1:].lstrip()
    name, rest = _consume_token(rest)
    name = name.lower()
    if not name:
        return "", "", v
    rest = rest.lstrip()
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip()
    val, rest2 = _consume_value(rest)
    if not val and rest2 == rest:
        return "", "", v
    return name, val, rest2


def body_media_type(content_type: str | None, supported: Sequence[str] = ACCEPTED_BODY_TYPES) -> str | None:
    """The media type a request body is read as (``NegotiateInputSerializerForMediaType``): an absent
    or empty header is ``supported[0]``; otherwise the parsed, lower-cased ``type/subtype`` when it
    is in ``supported``; None (answer 415 with ``supported``) when it does not parse or is not."""
    if not content_type:
        return supported[0]
    try:
        media, _ = parse_media_type(content_type)
    except MediaTypeError:
        return None
    return media if media in supported else None


# -- Accept: goautoneg + NegotiateMediaTypeOptions -----------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptClause:
    """One clause of an ``Accept`` header as goautoneg keeps it: ``type``/``subtype`` (not
    lower-cased), ``q`` (float32 precision; 0 when it does not parse), ``params`` (not
    lower-cased, ``q`` excluded)."""

    type: str
    subtype: str
    q: float = 1.0
    params: Mapping[str, str] = field(default_factory=dict)


_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?i:inf|infinity|nan)")


def _parse_q(text: str) -> float:
    """``strconv.ParseFloat(text, 32)`` as goautoneg uses it: errors give 0 (the value Go returns
    with a syntax error), values are rounded to float32."""
    if not _FLOAT.fullmatch(text):
        return 0.0
    f = float(text)
    try:
        return float(struct.unpack("f", struct.pack("f", f))[0])
    except OverflowError:
        return float("inf") if f > 0 else float("-inf")


def _split1(s: str, sep: str) -> tuple[str, str]:
    """goautoneg ``nextSplitElement``: before and after the first ``sep`` (``(s, "")`` without)."""
    i = s.find(sep)
    return (s, "") if i < 0 else (s[:i], s[i + 1 :])


def _less(a: AcceptClause, b: AcceptClause) -> bool:
    """goautoneg ``acceptSlice.Less`` (not a strict ordering: a wildcard loses to any concrete type
    whatever the q values, which is why the sort below is Go's own)."""
    if a.q > b.q:
        return True
    if a.type != "*" and b.type == "*":
        return True
    return a.subtype != "*" and b.subtype == "*"


def parse_accept(header: str) -> list[AcceptClause]:
    """goautoneg ``ParseAccept``: clauses split on ``,``, spaces trimmed; a clause without ``/``
    (other than ``*``) or with two is dropped; params split on ``;``, each ``k=v`` (one ``=``),
    ``q`` read as the quality. Sorted as Go's ``sort.Sort`` sorts up to 12 elements (insertion
    sort with goautoneg's ``Less``; Go switches to pdqsort above 12 clauses, where the order of
    equal clauses may differ)."""
    clauses: list[AcceptClause] = []
    remaining = header
    while remaining:
        part, remaining = _split1(remaining, ",")
        part = part.strip(" ")
        media, params_text = _split1(part, ";")
        typ, sub_rest = _split1(media, "/")
        typ = typ.strip(" ")
        if not sub_rest:
            if typ != "*":
                continue
            sub = "*"
        else:
            sub, extra = _split1(sub_rest, "/")
            if extra:
                continue
            sub = sub.strip(" ")
        q = 1.0
        params: dict[str, str] = {}
        while params_text:
            item, params_text = _split1(params_text, ";")
            key, value_rest = _split1(item, "=")
            if not value_rest:
                continue
            value, extra = _split1(value_rest, "=")
            if extra:
                continue
            key = key.strip(" ")
            if key == "q":
                q = _parse_q(value)
            else:
                params[key] = value.strip(" ")
        clauses.append(AcceptClause(typ, sub, q, params))
    for i in range(1, len(clauses)):  # Go's insertionSort
        j = i
        while j > 0 and _less(clauses[j], clauses[j - 1]):
            clauses[j], clauses[j - 1] = clauses[j - 1], clauses[j]
            j -= 1
    return clauses


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of :func:`negotiate_output`: the serializer's ``media_type``; ``convert``
    ``(group, version, kind)`` for ``as=Table``/``PartialObjectMetadata[List]``, else None;
    ``stream`` (``"watch"`` or ``""``); ``pretty`` (``pretty=1``)."""

    media_type: str
    convert: tuple[str, str, str] | None = None
    stream: str = ""
    pretty: bool = False

    @property
    def is_table(self) -> bool:
        """Whether the caller asked for a ``meta.k8s.io`` Table."""
        return self.convert is not None and self.convert[2] == "Table"


_META_GROUP_VERSIONS = frozenset({("meta.k8s.io", "v1"), ("meta.k8s.io", "v1beta1")})
#: Serializers without a stream serializer (``stream=watch`` is refused for them).
_NOT_STREAMING = frozenset({YAML})


def negotiate_output(
    header: str | None, offered: Sequence[str] = (JSON, YAML, PROTOBUF)
) -> Negotiated | None:
    """``NegotiateMediaTypeOptions(header, offered, resource endpoint)``: an empty header gets
    ``offered[0]``; otherwise the first clause (in :func:`parse_accept` order) that names, or
    wildcards, an offered type and whose parameters the endpoint allows. None when no clause fits:
    kube-apiserver answers 406 (:func:`kubeapi.status.new_not_acceptable`).
    """
    if not header:
        return Negotiated(offered[0]) if offered else None
    split = [(m, *m.split("/", 1)) for m in offered]
    for clause in parse_accept(header):
        for media, typ, sub in split:
            if not (
                (clause.type == typ and clause.subtype in (sub, "*"))
                or (clause.type == "*" and clause.subtype == "*")
            ):
                continue
            got = _accept_params(clause.params, media, typ, sub)
            if got is not None:
                return got
    return None


def asks_for_table(header: str | None, offered: Sequence[str] = (JSON, YAML, PROTOBUF)) -> bool:
    """Whether a resource request with ``Accept: header`` is answered with a ``meta.k8s.io``
    ``Table`` (kubectl's ``application/json;as=Table;v=v1;g=meta.k8s.io,application/json``): the
    :func:`negotiate_output` choice is a Table. A header with no ``as`` in it cannot ask for one
    and is not parsed (the common case costs a substring test)."""
    if not header or "as" not in header:
        return False
    got = negotiate_output(header, offered)
    return got is not None and got.is_table


#: The aggregated discovery document's parameters (``apidiscovery.k8s.io/v2``).
_AGGREGATED_PARAMS: Final = (("g", "apidiscovery.k8s.io"), ("v", "v2"), ("as", "APIGroupDiscoveryList"))


def asks_for_aggregated_discovery(header: str | None) -> bool:
    """Whether ``GET /api`` or ``/apis`` with ``Accept: header`` is answered with aggregated
    discovery v2 (kubectl 1.26+ sends
    ``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json``):
    the first clause in :func:`parse_accept` order that asks for it (whatever its type) comes before
    any ``application/json`` or ``*/*`` clause, as the discovery endpoint's negotiation picks
    (k8s.io/apiserver/pkg/endpoints/discovery/aggregated ``WrapAggregatedDiscoveryToHandler``)."""
    if not header or "APIGroupDiscoveryList" not in header:
        return False
    for clause in parse_accept(header):
        if all(clause.params.get(k) == v for k, v in _AGGREGATED_PARAMS):
            return True
        if f"{clause.type}/{clause.subtype}" in (JSON, "*/*"):
            return False
    return False


def _accept_params(params: Mapping[str, str], media: str, typ: str, sub: str) -> Negotiated | None:
    """``acceptMediaTypeOptions`` + ``RequestScope.AllowsMediaTypeTransform`` for one serializer."""
    group = version = kind = ""
    convert = False
    stream = ""
    pretty = False
    for k, v in params.items():
        if k == "as":
            kind, convert = v, True
        elif k == "g":
            group, convert = v, True
        elif k == "v":
            version, convert = v, True
        elif k == "stream":
            if v and (media in _NOT_STREAMING or v != "watch"):
                return None
            stream = v
        elif k == "sv":
            if v and v != "v1":
                return None
        elif k == "pretty":
            pretty = v == "1"
    if not convert:
        return Negotiated(media, None, stream, pretty)
    if (group, version) not in _META_GROUP_VERSIONS:
        return None
    if kind == "Table":
        if typ != "application" or sub not in ("json", "yaml"):
            return None
    elif kind not in ("PartialObjectMetadata", "PartialObjectMetadataList"):
        return None
    return Negotiated(media, (group, version, kind), stream, pretty)
