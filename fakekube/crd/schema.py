"""Structural schemas compiled into a tree of :class:`Node` objects, once per CRD version.

A CRD version's ``openAPIV3Schema`` (a plain dict, several MB for the KubeRay CRDs) is turned
into ``Node`` objects with the keywords the validators need pre-parsed: regexes compiled,
enums and ``required`` as tuples; CEL rules are kept raw here and compiled by
:mod:`fakekube.crd.cel` into :attr:`Node.compiled_rules` on first use (this module does not import it). Child
nodes are compiled lazily on first use, so loading a CRD costs little and a request only pays
for the part of the schema its object touches.

Keywords follow ``JSONSchemaProps``
(``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types_jsonschema.go``) and the
structural-schema rules of
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fakekube.crd.celrule import Rule
from fakekube.crd.model import CustomResourceDefinition

MISSING: Any = object()


def translate_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an ECMA/RE2 ``pattern`` for Python's ``re`` (RE2 and Python agree on CRD patterns).

    ``\\z`` (RE2 end of text) becomes ``\\Z``; Go matches unanchored, so callers use ``search``.
    """
    return re.compile(pattern.replace("\\z", "\\Z"))


class SchemaContext:
    """Facts about a whole schema tree computed in one pass: which nodes lead to CEL rules."""

    __slots__ = ("rule_ids",)

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.rule_ids: set[int] = set()
        self._scan(root)

    def _scan(self, raw: Any) -> bool:
        if isinstance(raw, Mapping):
            found = "x-kubernetes-validations" in raw
            for k, v in raw.items():
                if k in ("properties", "patternProperties", "definitions") and isinstance(v, Mapping):
                    for sub in v.values():
                        found = self._scan(sub) or found
                elif k in ("items", "additionalProperties", "not"):
                    found = self._scan(v) or found
                elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
                    for sub in v:
                        found = self._scan(sub) or found
            if found:
                self.rule_ids.add(id(raw))
            return found
        return False


class Node:
    """One compiled schema node. Attributes mirror the JSONSchemaProps keywords they come from."""

    __slots__ = (
        "_additional",
        "_all_of",
        "_any_of",
        "_items",
        "_not",
        "_one_of",
        "_props",
        "compiled_rules",
        "ctx",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "fast_default",
        "fast_prep",
        "fast_root",
        "fast_valid",
        "fields_plan",
        "format",
        "int_or_string",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "nullable",
        "pattern",
        "pattern_text",
        "preserve_unknown",
        "raw",
        "required",
        "type",
        "types",
    )

    def __init__(self, raw: Mapping[str, Any], ctx: SchemaContext | None = None) -> None:
        self.raw = raw
        self.ctx = ctx if ctx is not None else SchemaContext(raw)
        t = raw.get("type")
        self.type: str | None = t if isinstance(t, str) and t else None
        self.int_or_string: bool = bool(raw.get("x-kubernetes-int-or-string"))
        # kube-openapi validates an int-or-string node as type ["integer", "string"]
        self.types: tuple[str, ...] = (
            ("integer", "string") if self.int_or_string else ((self.type,) if self.type else ())
        )
        self.nullable: bool = bool(raw.get("nullable"))
        self.preserve_unknown: bool = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        self.embedded: bool = bool(raw.get("x-kubernetes-embedded-resource"))
        self.default: Any = raw.get("default", MISSING)
        enum = raw.get("enum")
        self.enum: tuple[Any, ...] | None = tuple(enum) if enum is not None else None
        self.required: tuple[str, ...] = tuple(raw.get("required") or ())
        self.format: str = raw.get("format") or ""
        self.maximum: float | None = raw.get("maximum")
        self.minimum: float | None = raw.get("minimum")
        self.exclusive_maximum: bool = bool(raw.get("exclusiveMaximum"))
        self.exclusive_minimum: bool = bool(raw.get("exclusiveMinimum"))
        self.multiple_of: float | None = raw.get("multipleOf")
        self.max_length: int | None = raw.get("maxLength")
        self.min_length: int | None = raw.get("minLength")
        self.max_items: int | None = raw.get("maxItems")
        self.min_items: int | None = raw.get("minItems")
        self.max_properties: int | None = raw.get("maxProperties")
        self.min_properties: int | None = raw.get("minProperties")
        self.pattern_text: str | None = raw.get("pattern")
        self.pattern: re.Pattern[str] | None = (
            translate_pattern(self.pattern_text) if self.pattern_text is not None else None
        )
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.list_map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys") or ())
        self._props: dict[str, Node] | None = None
        self._items: Node | Any | None = MISSING
        self._additional: Node | Any | None = MISSING
        self._all_of: tuple[Node, ...] | None = None
        self._any_of: tuple[Node, ...] | None = None
        self._one_of: tuple[Node, ...] | None = None
        self._not: Node | Any | None = MISSING
        #: The compiled ``x-kubernetes-validations`` (set by :func:`fakekube.crd.cel.rules_of`).
        self.compiled_rules: tuple[Rule, ...] | None = None
        # closures and values compiled by fakekube.crd.fastpath on first use
        self.fast_valid: Any = None
        self.fast_prep: Any = None
        self.fast_root: Any = None
        self.fast_default: Any = None
        #: the managedFields walk of a create compiled for this node (fakekube._registry.managedfields)
        self.fields_plan: Any = None

    @property
    def properties(self) -> dict[str, Node]:
        """``properties`` as compiled nodes (empty dict when none)."""
        if self._props is None:
            self._props = {k: Node(v, self.ctx) for k, v in (self.raw.get("properties") or {}).items()}
        return self._props

    @property
    def has_properties(self) -> bool:
        """True when the schema declares ``properties`` (even an empty set)."""
        return "properties" in self.raw

    @property
    def items(self) -> Node | None:
        """The ``items`` schema, or None."""
        if self._items is MISSING:
            raw = self.raw.get("items")
            self._items = Node(raw, self.ctx) if isinstance(raw, Mapping) else None
        return self._items

    @property
    def additional(self) -> Node | None:
        """The ``additionalProperties`` schema, or None (also for ``additionalProperties: true/false``)."""
        if self._additional is MISSING:
            raw = self.raw.get("additionalProperties")
            self._additional = Node(raw, self.ctx) if isinstance(raw, Mapping) else None
        return self._additional

    def _list(self, key: str) -> tuple[Node, ...]:
        return tuple(Node(x, self.ctx) for x in self.raw.get(key) or ())

    @property
    def all_of(self) -> tuple[Node, ...]:
        """``allOf`` value validations."""
        if self._all_of is None:
            self._all_of = self._list("allOf")
        return self._all_of

    @property
    def any_of(self) -> tuple[Node, ...]:
        """``anyOf`` value validations."""
        if self._any_of is None:
            self._any_of = self._list("anyOf")
        return self._any_of

    @property
    def one_of(self) -> tuple[Node, ...]:
        """``oneOf`` value validations."""
        if self._one_of is None:
            self._one_of = self._list("oneOf")
        return self._one_of

    @property
    def not_(self) -> Node | None:
        """``not`` value validation."""
        if self._not is MISSING:
            raw = self.raw.get("not")
            self._not = Node(raw, self.ctx) if isinstance(raw, Mapping) else None
        return self._not

    @property
    def raw_rules(self) -> tuple[Mapping[str, Any], ...]:
        """The node's ``x-kubernetes-validations`` as written in the CRD (compiled by
        :func:`fakekube.crd.cel.rules_of`)."""
        raw = self.raw.get("x-kubernetes-validations")
        return tuple(r for r in raw if isinstance(r, Mapping)) if isinstance(raw, list) else ()

    @property
    def subtree_has_rules(self) -> bool:
        """True when this node or any node below it declares ``x-kubernetes-validations``."""
        return id(self.raw) in self.ctx.rule_ids

    @property
    def has_rules(self) -> bool:
        """True when the node declares ``x-kubernetes-validations``."""
        return bool(self.raw.get("x-kubernetes-validations"))

    def child(self, key: str) -> Node | None:
        """Schema of property ``key``: from ``properties``, else ``additionalProperties``, else None."""
        node = self.properties.get(key)
        if node is not None:
            return node
        return self.additional


def compiled(crd: CustomResourceDefinition, version: str) -> Node:
    """The root :class:`Node` of ``crd``'s ``version`` schema, compiled once and cached on ``crd``.

    A version without a schema gets an object node that preserves unknown fields. Raises
    KeyError for a version the CRD does not define.
    """
    key = "schema:" + version
    node = crd._cache.get(key)
    if node is None:
        raw = crd.version(version).schema
        if raw is None:
            raw = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        node = Node(raw)
        crd._cache[key] = node
    return node
