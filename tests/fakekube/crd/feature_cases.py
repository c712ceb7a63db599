"""A CRD using every schema feature the engine implements, and requests against it.

Used by ``test_refkube.py`` to compare the engine with the real kube-apiserver: each case is
a ``spec`` to create (dry run), optionally after a stored ``old_spec`` (then a dry-run update),
under a ``fieldValidation`` mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

QUANTITY = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE])?$",
}


def _rule(src: str, **kw: Any) -> dict[str, Any]:
    return {"x-kubernetes-validations": [{"rule": src, **kw}]}


SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "x-kubernetes-validations": [
        {
            "rule": "!has(self.min) || !has(self.max) || self.min <= self.max",
            "message": "min must not exceed max",
        },
        {
            "rule": "!(has(self.a) && has(self.b))",
            "messageExpression": "'a and b are exclusive, a=' + self.a",
            "reason": "FieldValueForbidden",
            "fieldPath": ".b",
        },
    ],
    "properties": {
        "name": {"type": "string", "maxLength": 8, "minLength": 2, "pattern": "^[a-z]+$"},
        "replicas": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10, "default": 1},
        "ratio": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": True, "maximum": 10},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
        "flag": {"type": "boolean"},
        "when": {"type": "string", "format": "date-time"},
        "uid": {"type": "string", "format": "uuid"},
        "port": {"x-kubernetes-int-or-string": True},
        "cpu": QUANTITY,
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "a": {"type": "string"},
        "b": {"type": "string"},
        "note": {"type": "string", "nullable": True},
        "plain": {"type": "string"},
        "tags": {
            "type": "array",
            "maxItems": 3,
            "items": {"type": "string"},
            "x-kubernetes-list-type": "set",
        },
        "ports": {
            "type": "array",
            "maxItems": 4,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {
                "type": "object",
                "required": ["port"],
                "properties": {
                    "port": {"type": "integer"},
                    "protocol": {"type": "string", "default": "TCP"},
                    "size": {"type": "integer", **_rule("self >= oldSelf", message="size cannot shrink")},
                },
            },
        },
        "labels": {"type": "object", "maxProperties": 2, "additionalProperties": {"type": "string"}},
        "free": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"known": {"type": "object", "properties": {"x": {"type": "string"}}}},
        },
        "child": {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "properties": {"spec": {"type": "object", "properties": {"image": {"type": "string"}}}},
        },
        "nested": {
            "type": "object",
            "default": {},
            "properties": {"level": {"type": "integer", "default": 3}, "inner": {"type": "string"}},
        },
        "immutable": {"type": "string", **_rule("self == oldSelf", message="immutable is immutable")},
        "fmt": {
            "type": "object",
            "properties": {
                f: {"type": "string", "format": f}
                for f in (
                    "byte",
                    "ipv4",
                    "ipv6",
                    "cidr",
                    "mac",
                    "hostname",
                    "email",
                    "uri",
                    "date",
                    "duration",
                )
            },
        },
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "limits": {
            "type": "object",
            "additionalProperties": {"type": "integer", **_rule("self >= 0", message="must not be negative")},
        },
        "quotient": {"type": "integer", **_rule("100 / self > 1")},
        "lookup": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            **_rule("self['must'] == 'x'"),
        },
        "maybe": {"type": "string", "nullable": True, "default": "dflt"},
        "items": {
            "type": "array",
            "maxItems": 4,
            "items": {"type": "object", "properties": {"k": {"type": "string", "default": "v"}}},
        },
        "rootFlag": {"type": "boolean"},
        "lib": {
            "type": "object",
            "properties": {
                k: {"type": "string", "maxLength": 64, **_rule(rule, message=k)}
                for k, rule in {
                    "lower": "self.lowerAscii() == self",
                    "csv": "self.split(',').size() <= 2 && self.indexOf(',') != 0",
                    "mem": "isQuantity(self) && quantity(self).isLessThan(quantity('2Gi'))",
                    "url": "isURL(self)",
                    "ip": "isIP(self) || isCIDR(self)",
                    "trimmed": "self.trim() == self && self.substring(0, 1) != 'x'",
                    "digits": "self.find('[0-9]+') != '' && self.upperAscii() != self",
                }.items()
            }
            | {
                "nums": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {"type": "integer", "maximum": 100},
                    **_rule("self.isSorted() && self.sum() < 50 && self.max() < 40", message="nums"),
                },
                "words": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {"type": "string", "maxLength": 8},
                    **_rule("self.join('-').size() < 12 && self.min() != ''", message="words"),
                },
            },
        },
        "counter": {
            "type": "integer",
            **_rule("oldSelf.hasValue() ? self >= oldSelf.value() : self < 100", optionalOldSelf=True),
        },
    },
}

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.features.example.com"},
    "spec": {
        "group": "features.example.com",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-validations": [
                            {"rule": "!has(self.spec.rootFlag) || self.metadata.name.startsWith('w')"},
                            {
                                "rule": "!has(self.spec.rootFlag) || !self.spec.rootFlag",
                                "message": "root rule",
                            },
                        ],
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": SPEC_SCHEMA,
                        },
                    }
                },
            }
        ],
    },
}


@dataclass(frozen=True)
class Case:
    """One request: ``spec`` (create, or update of ``old_spec``) under ``field_validation``;
    ``extra_metadata`` / ``extra_top`` add keys to ``metadata`` / the object root."""

    label: str
    spec: Any
    old_spec: Any = None
    field_validation: str = "Warn"
    extra_metadata: dict[str, Any] | None = None
    extra_top: dict[str, Any] | None = None


OK = {"name": "ok"}
CASES: list[Case] = [
    Case("valid with defaults", {"name": "abc", "ports": [{"port": 80}]}),
    Case("wrong types", {"name": 5, "replicas": "x", "flag": "yes", "tags": "t", "labels": []}),
    Case("integral float", {"name": "ab", "replicas": 3.0, "ratio": 2}),
    Case("missing required", {"replicas": 1}),
    Case("bad enum", {**OK, "mode": "medium"}),
    Case("bounds", {**OK, "replicas": 11, "ratio": 10}),
    Case("below minimum", {**OK, "replicas": -1}),
    Case("multipleOf", {**OK, "ratio": 0.3}),
    Case("string length and pattern", {"name": "ABCDEFGHIJ"}),
    Case("too short", {"name": "a"}),
    Case("formats", {**OK, "when": "yesterday", "uid": "nope"}),
    Case("formats ok", {**OK, "when": "2024-05-06T07:08:09Z", "uid": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    Case("int-or-string", {**OK, "port": "http"}),
    Case("int-or-string bad", {**OK, "port": 1.5}),
    Case("int-or-string bool", {**OK, "port": True}),
    Case("quantity ok", {**OK, "cpu": "500m"}),
    Case("quantity bad", {**OK, "cpu": "lots"}),
    Case("quantity object", {**OK, "cpu": {"a": 1}}),
    Case("too many items", {**OK, "tags": ["a", "b", "c", "d"]}),
    Case("set duplicates", {**OK, "tags": ["a", "b", "a"]}),
    Case("map duplicates after default", {**OK, "ports": [{"port": 1}, {"port": 1, "protocol": "TCP"}]}),
    Case("map distinct", {**OK, "ports": [{"port": 1}, {"port": 1, "protocol": "UDP"}]}),
    Case("too many properties", {**OK, "labels": {"a": "1", "b": "2", "c": "3"}}),
    Case("map value type", {**OK, "labels": {"a": 1}}),
    Case("nullable and non-nullable nulls", {**OK, "note": None, "plain": None, "mode": None}),
    Case("null in list", {**OK, "tags": ["a", None]}),
    Case("preserve unknown", {**OK, "free": {"anything": [1, {"x": 2}], "known": {"x": "s", "y": 1}}}),
    Case("unknown fields warn", {**OK, "foo": 1, "nested": {"bar": 2}}),
    Case("unknown fields strict", {**OK, "foo": 1, "nested": {"bar": 2}}, field_validation="Strict"),
    Case("unknown fields ignore", {**OK, "foo": 1, "nested": {"bar": 2}}, field_validation="Ignore"),
    Case("strict with schema error", {"name": 1, "foo": 1}, field_validation="Strict"),
    Case(
        "embedded resource",
        {
            **OK,
            "child": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "zz": 1},
                "spec": {"image": "i"},
            },
        },
    ),
    Case("embedded resource missing kind", {**OK, "child": {"spec": {"image": "i"}}}),
    Case(
        "embedded resource bad metadata",
        {**OK, "child": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad", "labels": {"a": 1}}}},
    ),
    Case(
        "embedded resource bad name only",
        {**OK, "child": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name", "uid": "u"}}},
    ),
    Case("embedded resource bad apiVersion", {**OK, "child": {"apiVersion": "a/b/c", "kind": "Pod"}}),
    Case("cel message", {**OK, "min": 5, "max": 1}),
    Case("cel messageExpression reason fieldPath", {**OK, "a": "x", "b": "y"}),
    Case("cel skipped after blocking error", {"name": "ok", "min": 5, "max": 1, "mode": "bad"}),
    Case("cel not blocked by a non-blocking error", {"name": "ok", "min": 5, "max": 1, "replicas": 99}),
    Case("transition ok", {**OK, "immutable": "x"}, old_spec={**OK, "immutable": "x"}),
    Case("transition changed", {**OK, "immutable": "y"}, old_spec={**OK, "immutable": "x"}),
    Case("transition newly set", {**OK, "immutable": "y"}, old_spec=OK),
    Case(
        "transition list-map by key",
        {**OK, "ports": [{"port": 2, "size": 1}, {"port": 1, "size": 4}]},
        old_spec={**OK, "ports": [{"port": 1, "size": 5}, {"port": 2, "size": 1}]},
    ),
    Case("optionalOldSelf create ok", {**OK, "counter": 5}),
    Case("optionalOldSelf create bad", {**OK, "counter": 500}),
    Case("optionalOldSelf update", {**OK, "counter": 3}, old_spec={**OK, "counter": 4}),
    Case("spec wrong type", "not-an-object"),
    Case("root rule", {**OK, "rootFlag": True}),
    Case(
        "cel library ok",
        {
            **OK,
            "lib": {
                "lower": "abc",
                "csv": "a,b",
                "mem": "512Mi",
                "url": "https://example.com/x",
                "ip": "10.0.0.0/8",
                "trimmed": "abc",
                "digits": "a1",
                "nums": [1, 2, 30],
                "words": ["ab", "cd"],
            },
        },
    ),
    Case(
        "cel library failing",
        {
            **OK,
            "lib": {
                "lower": "aBc",
                "csv": "a,b,c",
                "mem": "3Gi",
                "url": "not a url",
                "ip": "300.1.1.1",
                "trimmed": " abc",
                "digits": "ABC",
                "nums": [3, 2, 1],
                "words": ["abcdefg", "hijklmn"],
            },
        },
    ),
    Case("cel library bad quantity", {**OK, "lib": {"mem": "lots"}}),
    Case(
        "formats valid",
        {
            **OK,
            "fmt": {
                "byte": "aGVsbG8=",
                "ipv4": "10.0.0.1",
                "ipv6": "::1",
                "cidr": "10.0.0.0/8",
                "mac": "01:23:45:67:89:ab",
                "hostname": "a.example.com",
                "email": "a@b.c",
                "uri": "https://x/y",
                "date": "2024-02-29",
                "duration": "1h30m",
            },
        },
    ),
    Case(
        "formats invalid",
        {
            **OK,
            "fmt": {
                "byte": "not base64!",
                "ipv4": "10.0.0.300",
                "ipv6": "12345::",
                "cidr": "10.0.0.0",
                "mac": "01:23",
                "hostname": "-bad-",
                "email": "nobody",
                "uri": "not a uri",
                "date": "2024-13-01",
                "duration": "soon",
            },
        },
    ),
    Case("integer enum", {**OK, "level": 4}),
    Case("cel on map values", {**OK, "limits": {"a": 1, "b": -1}}),
    Case("cel runtime error", {**OK, "quotient": 0}),
    Case("cel missing key", {**OK, "lookup": {"other": "y"}}),
    Case("nullable with default", {**OK, "maybe": None}),
    Case("defaults in list items", {**OK, "items": [{}, {"k": "x"}, {"z": 1}]}),
    Case("update with unknown fields", {**OK, "zzz": 1}, old_spec=OK),
    Case("unknown metadata and root fields", OK, extra_metadata={"colour": "red"}, extra_top={"extra": 1}),
    Case("unknown metadata strict", OK, field_validation="Strict", extra_metadata={"colour": "red"}),
    Case("root metadata wrong type", OK, extra_metadata={"labels": {"a": 1}}),
    Case("root metadata list", OK, extra_metadata={"finalizers": "x"}),
    Case(
        "embedded metadata list",
        {**OK, "child": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": ["a"], "finalizers": 1}}},
    ),
]


def _gizmo_crd(strict: bool) -> dict[str, Any]:
    """A CRD made stricter after objects exist (``strict``), to exercise validation ratcheting."""
    short = {"type": "string", "maxLength": 1 if strict else 10}
    spec = {
        "type": "object",
        **({"required": ["z"]} if strict else {}),
        "properties": {
            "name": {"type": "string", "maxLength": 3 if strict else 10},
            "x": {"type": "integer", **_rule("self > 50" if strict else "self > 5")},
            "mode": {"type": "string", **({"enum": ["a"]} if strict else {})},
            "other": {"type": "string"},
            "obj": {
                "type": "object",
                "properties": {"p": short, "q": {"type": "string"}},
                **(_rule("self.p == 'z'") if strict else {}),
            },
            "list": {"type": "array", "items": short},
            "mlist": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["k"],
                "items": {
                    "type": "object",
                    "required": ["k"],
                    "properties": {"k": {"type": "string"}, "v": short},
                },
            },
            "z": {"type": "string"},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.features.example.com"},
        "spec": {
            "group": "features.example.com",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                            },
                        }
                    },
                }
            ],
        },
    }


GIZMO_LENIENT = _gizmo_crd(strict=False)
GIZMO_STRICT = _gizmo_crd(strict=True)
# Valid under GIZMO_LENIENT, invalid in many places under GIZMO_STRICT.
GIZMO_OLD: dict[str, Any] = {
    "name": "abcdef",
    "x": 10,
    "mode": "b",
    "other": "o",
    "obj": {"p": "abc", "q": "q"},
    "list": ["aa", "bb"],
    "mlist": [{"k": "a", "v": "vv"}, {"k": "b", "v": "ww"}],
}
RATCHET_CASES: list[tuple[str, dict[str, Any]]] = [
    ("unrelated field changed", {**GIZMO_OLD, "other": "changed"}),
    ("invalid field changed", {**GIZMO_OLD, "name": "abcdefg"}),
    ("cel field changed", {**GIZMO_OLD, "x": 11, "z": "set"}),
    ("cel field unchanged", {**GIZMO_OLD, "z": "set"}),
    ("enum field changed", {**GIZMO_OLD, "mode": "c"}),
    ("object rule, sibling changed", {**GIZMO_OLD, "obj": {"p": "abc", "q": "changed"}, "z": "set"}),
    ("object field changed", {**GIZMO_OLD, "obj": {"p": "abd", "q": "q"}}),
    ("atomic list appended", {**GIZMO_OLD, "list": ["aa", "bb", "cc"]}),
    ("atomic list reordered", {**GIZMO_OLD, "list": ["bb", "aa"]}),
    ("map list reordered", {**GIZMO_OLD, "mlist": [{"k": "b", "v": "ww"}, {"k": "a", "v": "vv"}]}),
    ("map list item changed", {**GIZMO_OLD, "mlist": [{"k": "a", "v": "vv"}, {"k": "b", "v": "w2"}]}),
    ("new required field set", {**GIZMO_OLD, "z": "now"}),
    ("unchanged", dict(GIZMO_OLD)),
]


def _crd_base() -> dict[str, Any]:
    spec_schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.x.example.com"},
        "spec": {
            "group": "x.example.com",
            "names": {"plural": "things", "singular": "thing", "kind": "Thing", "listKind": "ThingList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
                }
            ],
        },
    }


def _edit(fn: Any) -> dict[str, Any]:
    doc = _crd_base()
    fn(doc)
    return doc


def _spec_props(doc: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]
    return props


def _second_version(doc: dict[str, Any]) -> None:
    v2 = json.loads(json.dumps(doc["spec"]["versions"][0]))
    v2.update(name="v2", storage=False)
    v2["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["b"] = {}
    doc["spec"]["versions"].append(v2)


CRD_CASES: dict[str, dict[str, Any]] = {
    "valid": _crd_base(),
    "name not plural.group": _edit(lambda d: d["metadata"].update(name="wrong.example.com")),
    "uppercase plural": _edit(
        lambda d: (
            d["metadata"].update(name="Things.x.example.com"),
            d["spec"]["names"].update(plural="Things"),
        )
    ),
    "group without dot": _edit(
        lambda d: (d["metadata"].update(name="things.example"), d["spec"].update(group="example"))
    ),
    "kind missing": _edit(lambda d: d["spec"]["names"].pop("kind")),
    "listKind equals kind": _edit(lambda d: d["spec"]["names"].update(listKind="Thing")),
    "bad scope": _edit(lambda d: d["spec"].update(scope="Galaxy")),
    "bad version name": _edit(lambda d: d["spec"]["versions"][0].update(name="V1")),
    "no storage version": _edit(lambda d: d["spec"]["versions"][0].update(storage=False)),
    "duplicate version": _edit(
        lambda d: d["spec"]["versions"].append(json.loads(json.dumps(d["spec"]["versions"][0])))
    ),
    "no schema": _edit(lambda d: d["spec"]["versions"][0].pop("schema")),
    "root not object": _edit(
        lambda d: d["spec"]["versions"][0]["schema"]["openAPIV3Schema"].update(type="string")
    ),
    "property without type": _edit(lambda d: _spec_props(d).update(b={"description": "untyped"})),
    "array without items": _edit(lambda d: _spec_props(d).update(l={"type": "array"})),
    "properties and additionalProperties": _edit(
        lambda d: _spec_props(d).update(
            o={
                "type": "object",
                "properties": {"x": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        )
    ),
    "list-map key optional": _edit(
        lambda d: _spec_props(d).update(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["k"],
                "items": {"type": "object", "properties": {"k": {"type": "string"}}},
            }
        )
    ),
    "default of the wrong type": _edit(lambda d: _spec_props(d)["a"].update(default=5)),
    "default object with a bad field": _edit(
        lambda d: _spec_props(d).update(
            o={"type": "object", "properties": {"n": {"type": "integer"}}, "default": {"n": "x"}}
        )
    ),
    "rule syntax error": _edit(
        lambda d: _spec_props(d)["a"].update({"x-kubernetes-validations": [{"rule": "self =="}]})
    ),
    "messageExpression syntax error": _edit(
        lambda d: _spec_props(d)["a"].update(
            {"x-kubernetes-validations": [{"rule": "self.size() > 1", "messageExpression": "bad +"}]}
        )
    ),
    "second version with an untyped property": _edit(_second_version),
}
