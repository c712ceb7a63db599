"""``/openapi/v2`` in protobuf: a Swagger 2.0 document as gnostic's ``openapi.v2.Document`` message.

kube-apiserver serves ``/openapi/v2`` as JSON or, when asked, as the protobuf encoding of
gnostic's OpenAPI v2 messages (``github.com/google/gnostic-models`` ``openapiv2/OpenAPIv2.proto``):
k8s.io/kube-openapi/pkg/handler/handler.go ``ToProtoBinary`` compiles the JSON document with
gnostic's ``openapiv2.ParseDocument`` and marshals it with ``proto.Marshal``. client-go asks for it
(``discovery.OpenAPISchema``: ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``)
and ``proto.Unmarshal``\\ s the answer whatever its type; ``kubectl explain
--output=plaintext-openapiv2`` and ``kubectl apply``'s field-validation check read it.

The message classes are protoc's output for that ``.proto`` (``kubeapi/_gnostic``, regenerated
by ``infra/gnostic/generate.sh``); the encoding is the ``protobuf`` library's. What is written
here is the compiler's mapping from JSON to those messages, which gnostic generates in Go
(``openapiv2/OpenAPIv2.go``, ``New<Message>`` for each message) and which this module follows
from the message descriptors:

- a JSON object becomes the message of the field it is read into; its keys are the fields'
  names in lowerCamelCase (``_ref`` is ``$ref``), keys matching ``^x-`` go to ``vendor_extension``
  as ``NamedAny``; any other key makes the object invalid for that message ("has invalid
  property"), as do missing required keys and values outside a field's enum
  (:data:`REQUIRED`, :data:`ENUMS`, copied from ``OpenAPIv2.go``);
- a message made only of repeated ``Named*`` fields is a map (``Definitions``, ``Properties``,
  ``Paths``, ``Responses``...): one ``{name, value}`` per key, in document order; ``Paths`` sends
  ``^/`` keys to ``path``, ``Responses`` ``^([0-9]{3})$|^(default)$`` keys to ``response_code``;
- a message whose fields form a ``oneof`` (``Parameter``, ``ParametersItem``, ``SchemaItem``,
  ``ResponseValue``, ``AdditionalPropertiesItem``, ``NonBodyParameter``...) takes the **last**
  alternative the value is valid for, as the Go code tries them in order and keeps overwriting;
- ``Any`` holds the value as YAML text (``compiler.Marshal``: block style; the text differs from
  Go's yaml.v3 in layout only, e.g. indentation, and reads back to the same value);
  ``TypeItem`` is a string or a list of strings, ``ItemsItem`` one schema, ``StringArray`` a list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, cast

import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kubeapi._gnostic.openapiv2 import OpenAPIv2_pb2 as pb
from kubeapi.media import parse_accept

__all__ = [
    "ENUMS",
    "PROTOBUF",
    "PROTOBUF_DEPRECATED",
    "REQUIRED",
    "Document",
    "NotConvertible",
    "document",
    "keep_paths",
    "negotiate",
    "parse",
    "to_protobuf",
    "yaml_text",
]

Document = pb.Document

#: The protobuf media type kube-openapi answers with.
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
#: The older name of it, what client-go still asks for (answered with :data:`PROTOBUF`).
PROTOBUF_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

#: Keys a message needs (``requiredKeys`` in OpenAPIv2.go, gnostic-models v0.7.0).
REQUIRED: dict[str, tuple[str, ...]] = {
    "ApiKeySecurity": ("in", "name", "type"),
    "BasicAuthenticationSecurity": ("type",),
    "BodyParameter": ("in", "name", "schema"),
    "Document": ("info", "paths", "swagger"),
    "ExternalDocs": ("url",),
    "FileSchema": ("type",),
    "Header": ("type",),
    "Info": ("title", "version"),
    "JsonReference": ("$ref",),
    "License": ("name",),
    "NonBodyParameter": ("in", "name", "type"),
    "Oauth2AccessCodeSecurity": ("authorizationUrl", "flow", "tokenUrl", "type"),
    "Oauth2ApplicationSecurity": ("flow", "tokenUrl", "type"),
    "Oauth2ImplicitSecurity": ("authorizationUrl", "flow", "type"),
    "Oauth2PasswordSecurity": ("flow", "tokenUrl", "type"),
    "Operation": ("responses",),
    "PathParameterSubSchema": ("required",),
    "Response": ("description",),
    "Tag": ("name",),
}

_PRIMITIVE = frozenset({"string", "number", "boolean", "integer", "array"})
_FORMATS = frozenset({"csv", "ssv", "tsv", "pipes"})
#: ``(message, key)``: the values a string field may have ("check for valid enum values").
ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("ApiKeySecurity", "type"): frozenset({"apiKey"}),
    ("ApiKeySecurity", "in"): frozenset({"header", "query"}),
    ("BasicAuthenticationSecurity", "type"): frozenset({"basic"}),
    ("BodyParameter", "in"): frozenset({"body"}),
    ("Document", "swagger"): frozenset({"2.0"}),
    ("FileSchema", "type"): frozenset({"file"}),
    ("FormDataParameterSubSchema", "in"): frozenset({"formData"}),
    ("FormDataParameterSubSchema", "type"): _PRIMITIVE | {"file"},
    ("FormDataParameterSubSchema", "collectionFormat"): _FORMATS | {"multi"},
    ("Header", "type"): _PRIMITIVE,
    ("Header", "collectionFormat"): _FORMATS,
    ("HeaderParameterSubSchema", "in"): frozenset({"header"}),
    ("HeaderParameterSubSchema", "type"): _PRIMITIVE,
    ("HeaderParameterSubSchema", "collectionFormat"): _FORMATS,
    ("Oauth2AccessCodeSecurity", "type"): frozenset({"oauth2"}),
    ("Oauth2AccessCodeSecurity", "flow"): frozenset({"accessCode"}),
    ("Oauth2ApplicationSecurity", "type"): frozenset({"oauth2"}),
    ("Oauth2ApplicationSecurity", "flow"): frozenset({"application"}),
    ("Oauth2ImplicitSecurity", "type"): frozenset({"oauth2"}),
    ("Oauth2ImplicitSecurity", "flow"): frozenset({"implicit"}),
    ("Oauth2PasswordSecurity", "type"): frozenset({"oauth2"}),
    ("Oauth2PasswordSecurity", "flow"): frozenset({"password"}),
    ("PathParameterSubSchema", "in"): frozenset({"path"}),
    ("PathParameterSubSchema", "type"): _PRIMITIVE,
    ("PathParameterSubSchema", "collectionFormat"): _FORMATS,
    ("PrimitivesItems", "type"): _PRIMITIVE,
    ("PrimitivesItems", "collectionFormat"): _FORMATS,
    ("QueryParameterSubSchema", "in"): frozenset({"query"}),
    ("QueryParameterSubSchema", "type"): _PRIMITIVE,
    ("QueryParameterSubSchema", "collectionFormat"): _FORMATS | {"multi"},
}

#: Which map field a key of a two-field map message goes to (``allowedPatterns`` in OpenAPIv2.go).
_MAP_PATTERNS: dict[str, re.Pattern[str]] = {
    "vendor_extension": re.compile(r"^x-"),
    "path": re.compile(r"^/"),
    "response_code": re.compile(r"^([0-9]{3})$|^(default)$"),
}


class NotConvertible(ValueError):
    """A JSON value the compiler does not accept for a message (``where`` is its JSON path)."""


def _json_key(field: FieldDescriptor) -> str:
    """The JSON key of a message field: lowerCamelCase of its name; ``_ref`` is ``$ref``."""
    if field.name == "_ref":
        return "$ref"
    head, *rest = field.name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def yaml_text(value: Any) -> str:
    """``value`` as the YAML text an ``Any`` holds (block style, keys in document order).

    Characters outside ASCII are written as escapes in double-quoted scalars: PyYAML writes some
    (NEL, ``\x85``) raw into plain scalars, where a reader folds them into a space; escaped they
    read back as written (Go's yaml.v3 writes UTF-8; the value read is the same)."""
    text = yaml.safe_dump(
        value, sort_keys=False, default_flow_style=False, allow_unicode=False, width=1 << 30
    )
    return text.removesuffix("...\n")


def _is_map(desc: Descriptor) -> bool:
    """Whether a message is a map: only repeated ``Named*`` message fields."""
    return bool(desc.fields) and all(
        f.is_repeated and f.message_type is not None and f.message_type.name.startswith("Named")
        for f in desc.fields
    )


def _scalar_text(v: Any) -> str | None:
    """A YAML scalar node's text for ``TypeItem`` (None for a map or a list)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str | int | float):
        return str(v)
    return None


class _Compiler:
    """The JSON-to-message mapping (see the module docstring); one instance per document."""

    def __init__(self) -> None:
        self.classes: dict[str, type[Message]] = {}
        self.keys: dict[str, dict[str, FieldDescriptor]] = {}

    def fields_by_key(self, desc: Descriptor) -> dict[str, FieldDescriptor]:
        """A message's fields by JSON key (``vendor_extension`` left out), built once per type."""
        got = self.keys.get(desc.full_name)
        if got is None:
            got = {_json_key(f): f for f in desc.fields if f.name != "vendor_extension"}
            self.keys[desc.full_name] = got
        return got

    def new(self, desc: Descriptor) -> Message:
        cls = self.classes.get(desc.full_name)
        if cls is None:
            cls = self.classes[desc.full_name] = getattr(pb, desc.name)
        return cls()

    def message(self, desc: Descriptor, value: Any, where: str) -> Message:
        """``value`` compiled into a new message of type ``desc``; NotConvertible when invalid."""
        msg = self.new(desc)
        self.fill(desc, msg, value, where)
        return msg

    def fill(self, desc: Descriptor, msg: Message, value: Any, where: str) -> Message:
        """``value`` compiled into ``msg`` (empty, of type ``desc``) in place: nested messages are
        filled where they lie, not built apart and copied in. ``msg`` is marked present even when
        ``value`` leaves it empty (``properties: {}``), as Go's non-nil pointer is encoded."""
        msg.SetInParent()
        name = desc.name
        if name == "Any":
            msg.yaml = yaml_text(value)  # type: ignore[attr-defined]
            return msg
        if name in ("TypeItem", "StringArray"):
            self._strings(msg, name, value, where)
            return msg
        if name == "ItemsItem":
            if not isinstance(value, dict):
                raise NotConvertible(f"{where}: has unexpected value for item array")
            schema = desc.fields_by_name["schema"].message_type
            assert schema is not None
            self.fill(schema, msg.schema.add(), value, where)  # type: ignore[attr-defined]
            return msg
        if desc.oneofs:
            return self._oneof(desc, msg, value, where)
        if not isinstance(value, dict):
            raise NotConvertible(f"{where}: has unexpected value: {type(value).__name__}")
        if _is_map(desc):
            self._map(desc, msg, value, where)
            return msg
        self._object(desc, msg, value, where)
        return msg

    def _strings(self, msg: Message, name: str, value: Any, where: str) -> None:
        """``TypeItem`` (a scalar or a list of scalars, read as their text) or ``StringArray`` (a
        list; a non-string element reads as ``""``, as ``NewStringArray`` ignores its error)."""
        if name == "TypeItem" and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise NotConvertible(f"{where}: has unexpected value for string array")
        out: list[str] = []
        for v in value:
            if name == "StringArray":
                out.append(v if isinstance(v, str) else "")
                continue
            text = _scalar_text(v)
            if text is None:
                raise NotConvertible(f"{where}: has unexpected value for string array element")
            out.append(text)
        msg.value.extend(out)  # type: ignore[attr-defined]

    def _oneof(self, desc: Descriptor, msg: Message, value: Any, where: str) -> Message:
        """The last alternative ``value`` is valid for (Go tries each in order, keeping the last)."""
        required = REQUIRED.get(desc.name, ())
        if required and not (isinstance(value, dict) and all(k in value for k in required)):
            raise NotConvertible(f"{where}: is missing required properties for {desc.name}")
        chosen: tuple[FieldDescriptor, Any] | None = None
        for field in desc.oneofs[0].fields:
            if field.message_type is not None:
                if not isinstance(value, dict):
                    continue
                try:
                    chosen = (field, self.message(field.message_type, value, where))
                except NotConvertible:
                    continue
            elif field.type == FieldDescriptor.TYPE_BOOL and isinstance(value, bool):
                chosen = (field, value)
        if chosen is None:
            raise NotConvertible(f"{where}: contains an invalid {desc.name}")
        field, got = chosen
        if isinstance(got, Message):
            getattr(msg, field.name).CopyFrom(got)
        else:
            setattr(msg, field.name, got)
        return msg

    def _map(self, desc: Descriptor, msg: Message, value: dict[str, Any], where: str) -> None:
        fields = desc.fields
        for key, v in value.items():
            if len(fields) == 1:
                field = fields[0]
            else:
                found = [f for f in fields if _MAP_PATTERNS[f.name].search(key)]
                if not found:
                    raise NotConvertible(f"{where}: has invalid property: {key}")
                field = found[0]
            named = getattr(msg, field.name).add()
            named.name = key
            assert field.message_type is not None
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is None:
                if not isinstance(v, str):
                    raise NotConvertible(f"{where}.{key}: has unexpected value")
                named.value = v
            else:
                self.fill(value_field.message_type, named.value, v, f"{where}.{key}")

    def _object(self, desc: Descriptor, msg: Message, value: dict[str, Any], where: str) -> None:
        name = desc.name
        missing = [k for k in REQUIRED.get(name, ()) if k not in value]
        if missing:
            raise NotConvertible(f"{where}: is missing required properties: {', '.join(missing)}")
        by_key = self.fields_by_key(desc)
        extensions = desc.fields_by_name.get("vendor_extension")
        for key, v in value.items():
            field = by_key.get(key)
            if field is None:
                if extensions is None or not key.startswith("x-"):
                    raise NotConvertible(f"{where}: has invalid property: {key}")
                named = msg.vendor_extension.add()  # type: ignore[attr-defined]
                named.name = key
                named.value.yaml = yaml_text(v)
                continue
            self._field(msg, name, field, key, v, f"{where}.{key}")

    def _field(self, msg: Message, name: str, field: FieldDescriptor, key: str, v: Any, where: str) -> None:
        sub = field.message_type
        if field.is_repeated:
            if not isinstance(v, list):
                raise NotConvertible(f"{where}: has unexpected value")
            target = getattr(msg, field.name)
            if sub is not None:
                for i, item in enumerate(v):
                    self.fill(sub, target.add(), item, f"{where}[{i}]")
            else:
                target.extend(s for s in v if isinstance(s, str))
            return
        if sub is not None:
            self.fill(sub, getattr(msg, field.name), v, where)
            return
        setattr(msg, field.name, _scalar(field, v, where))
        allowed = ENUMS.get((name, key))
        if allowed is not None and v not in allowed:
            raise NotConvertible(f"{where}: has unexpected value for {key}: {v}")


def _scalar(field: FieldDescriptor, v: Any, where: str) -> Any:
    """A scalar field's value, with the compiler's type checks (a string is not a number...)."""
    t = field.type
    if t == FieldDescriptor.TYPE_STRING and isinstance(v, str):
        return v
    if t == FieldDescriptor.TYPE_BOOL and isinstance(v, bool):
        return v
    if t == FieldDescriptor.TYPE_INT64 and isinstance(v, int) and not isinstance(v, bool):
        return v
    if t == FieldDescriptor.TYPE_DOUBLE and isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    raise NotConvertible(f"{where}: has unexpected value: {v!r}")


def document(swagger: Mapping[str, Any]) -> Any:
    """A Swagger 2.0 document (decoded JSON) as an ``openapi.v2.Document`` message
    (gnostic's ``ParseDocument``); NotConvertible for a document the compiler refuses."""
    return _Compiler().message(cast(Descriptor, pb.Document.DESCRIPTOR), dict(swagger), "$")


def to_protobuf(swagger: Mapping[str, Any]) -> bytes:
    """``swagger`` encoded as kube-apiserver encodes ``/openapi/v2`` in protobuf
    (``ToProtoBinary``; deterministic: the same document gives the same bytes)."""
    return bytes(document(swagger).SerializeToString(deterministic=True))


def parse(data: bytes) -> Any:
    """Protobuf bytes as an ``openapi.v2.Document`` (``proto.Unmarshal``, as client-go does);
    ``google.protobuf.message.DecodeError`` for bytes that are not one."""
    return pb.Document.FromString(data)


def keep_paths(data: bytes, keep: Callable[[str], bool]) -> bytes:
    """A protobuf document with only the ``paths`` entries whose path ``keep`` accepts
    (``definitions`` untouched, so references still resolve)."""
    doc = parse(data)
    kept = [p for p in doc.paths.path if keep(p.name)]
    del doc.paths.path[:]
    doc.paths.path.extend(kept)
    return bytes(doc.SerializeToString(deterministic=True))


def negotiate(accept: str | None) -> str | None:
    """Which form of ``/openapi/v2`` kube-openapi answers for ``Accept: accept``: ``"json"``,
    ``"protobuf"``, or None (406). The first clause in goautoneg order that matches (wildcards
    included) ``application/json``, then the deprecated, then the current protobuf type
    (k8s.io/kube-openapi/pkg/handler/handler.go ``RegisterOpenAPIVersionedService``)."""
    offered = (
        ("application", "json", "json"),
        ("application", PROTOBUF_DEPRECATED.split("/")[1], "protobuf"),
        ("application", PROTOBUF.split("/")[1], "protobuf"),
    )
    for clause in parse_accept(accept or "*/*"):
        for typ, sub, form in offered:
            if clause.type in (typ, "*") and clause.subtype in (sub, "*"):
                return form
    return None
