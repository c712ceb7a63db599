"""Validation of a CustomResourceDefinition document, as the API server does on create/update.

A subset of ``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation/validation.go``
with its wording (each checked against a real kube-apiserver):

- ``metadata.name`` must be an RFC 1123 subdomain equal to ``<plural>.<group>``;
  ``spec.group`` a domain with at least one dot; ``spec.names.plural`` (and ``singular``) a
  DNS-1035 label; ``spec.names.kind`` required; ``listKind`` different from ``kind``;
  ``spec.scope`` ``Cluster`` or ``Namespaced``;
- versions: DNS-1035 names, unique, exactly one ``storage: true``, a schema each;
- structural schema: object at the root, a ``type`` for every property, ``items`` for arrays,
  not both ``properties`` and ``additionalProperties``, list-map keys required or defaulted,
  ``default`` values valid against their schema;
- ``x-kubernetes-validations``: ``rule`` and ``messageExpression`` must compile (syntax only:
  the CEL library used here has no type checker, so type errors are not found).

Schema paths are ``spec.validation.openAPIV3Schema...`` when every version has the same schema
(the API server's internal form hoists it there) and ``spec.versions[i].schema.openAPIV3Schema...``
otherwise; properties appear as ``properties[name]``. Not checked: CEL cost limits, printer
column and selectable field paths, conversion settings, ``status.storedVersions`` on update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fakekube.crd import causes as C
from fakekube.crd.causes import Cause
from fakekube.crd.cel import compile_error_text
from fakekube.crd.openapi import validate_value
from fakekube.crd.schema import Node
from kubeapi import validation
from kubeapi.types import JSON


def _go_json(v: Any) -> str:
    """``encoding/json`` output: compact, with ``<``, ``>`` and ``&`` escaped as Go does."""
    text = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _rule_dump(rule: Mapping[str, Any]) -> str:
    """A rule as the internal ``ValidationRule`` struct marshals (the bad value of CEL errors)."""
    return _go_json(
        {
            "Rule": rule.get("rule", ""),
            "Message": rule.get("message", ""),
            "MessageExpression": rule.get("messageExpression", ""),
            "Reason": rule.get("reason"),
            "FieldPath": rule.get("fieldPath", ""),
            "OptionalOldSelf": rule.get("optionalOldSelf"),
        }
    )


def _version_dump(versions: list[Any], hoisted: bool) -> str:
    """``spec.versions`` as the internal structs marshal (hoisted parts shown as null)."""
    out = []
    for v in versions:
        v = v if isinstance(v, Mapping) else {}
        out.append(
            {
                "Name": v.get("name", ""),
                "Served": bool(v.get("served")),
                "Storage": bool(v.get("storage")),
                "Deprecated": bool(v.get("deprecated")),
                "DeprecationWarning": v.get("deprecationWarning"),
                "Schema": None if hoisted else v.get("schema"),
                "Subresources": None if hoisted else v.get("subresources"),
                "AdditionalPrinterColumns": None if hoisted else v.get("additionalPrinterColumns"),
                "SelectableFields": v.get("selectableFields"),
            }
        )
    return _go_json(out)


class _SchemaChecker:
    """Structural checks of one ``openAPIV3Schema`` (see the module doc)."""

    def __init__(self, out: list[Cause]) -> None:
        self.out = out

    def check(self, s: Any, path: str, root: bool = False) -> None:
        if not isinstance(s, Mapping):
            return
        t = s.get("type")
        if root and t not in (None, "object"):
            self.out.append(C.make(C.INVALID, f"{path}.type", t, "must be object at the root"))
        if t == "array" and "items" not in s:
            self.out.append(C.make(C.REQUIRED, f"{path}.items", detail="must be specified"))
        props = s.get("properties") or {}
        if (
            props
            and isinstance(s.get("additionalProperties"), Mapping | bool)
            and s.get("additionalProperties") is not False
        ):
            detail = "additionalProperties and properties are mutual exclusive"
            self.out.append(C.make(C.FORBIDDEN, f"{path}.additionalProperties", detail=detail))
        for name, sub in props.items():
            sub_path = f"{path}.properties[{name}]"
            if isinstance(sub, Mapping) and not self._typed(sub):
                detail = "must not be empty for specified object fields"
                self.out.append(C.make(C.REQUIRED, f"{sub_path}.type", detail=detail))
            self.check(sub, sub_path)
        items = s.get("items")
        if isinstance(items, Mapping):
            self._map_keys(s, items, path)
            self.check(items, f"{path}.items")
        additional = s.get("additionalProperties")
        if isinstance(additional, Mapping):
            self.check(additional, f"{path}.additionalProperties")
        if "default" in s:
            self._default(s, path)
        for i, rule in enumerate(s.get("x-kubernetes-validations") or ()):
            self._rule(rule, f"{path}.x-kubernetes-validations[{i}]")

    @staticmethod
    def _typed(s: Mapping[str, Any]) -> bool:
        return (
            bool(s.get("type"))
            or bool(s.get("x-kubernetes-int-or-string"))
            or bool(s.get("x-kubernetes-preserve-unknown-fields"))
        )

    def _map_keys(self, s: Mapping[str, Any], items: Mapping[str, Any], path: str) -> None:
        if s.get("x-kubernetes-list-type") != "map":
            return
        required = set(items.get("required") or ())
        for key in s.get("x-kubernetes-list-map-keys") or ():
            prop = (items.get("properties") or {}).get(key)
            if isinstance(prop, Mapping) and key not in required and "default" not in prop:
                detail = (
                    "this property is in x-kubernetes-list-map-keys, "
                    "so it must have a default or be a required property"
                )
                self.out.append(C.make(C.REQUIRED, f"{path}.items.properties[{key}].default", detail=detail))

    def _default(self, s: Mapping[str, Any], path: str) -> None:
        schema = {k: v for k, v in s.items() if k not in ("default", "x-kubernetes-validations")}
        for cause in validate_value(Node(schema), s["default"]):
            field = f"{path}.default" if cause.field == C.ROOT else f"{path}.default.{cause.field}"
            self.out.append(Cause(cause.type, field, cause.message))

    def _rule(self, rule: Any, path: str) -> None:
        if not isinstance(rule, Mapping):
            return
        err = compile_error_text(str(rule.get("rule", "")))
        if err:
            self.out.append(
                C.make(C.INVALID, f"{path}.rule", C.Raw(_rule_dump(rule)), f"compilation failed: {err}")
            )
        expr = rule.get("messageExpression")
        err = compile_error_text(str(expr)) if expr else None
        if err:
            detail = f"messageExpression compilation failed: {err}"
            self.out.append(C.make(C.INVALID, f"{path}.messageExpression", C.Raw(_rule_dump(rule)), detail))


def validate_crd(doc: Mapping[str, Any]) -> list[Cause]:
    """Field errors of a CRD document (empty when a real API server would accept it)."""
    out: list[Cause] = []
    name = str((doc.get("metadata") or {}).get("name") or "")
    spec: Mapping[str, Any] = doc["spec"] if isinstance(doc.get("spec"), Mapping) else {}
    names: Mapping[str, Any] = spec["names"] if isinstance(spec.get("names"), Mapping) else {}
    group = str(spec.get("group") or "")
    plural = str(names.get("plural") or "")
    name_errs = validation.name_is_dns1123_subdomain(name) if name else []
    out.extend(C.make(C.INVALID, "metadata.name", name, msg) for msg in name_errs)
    if not name_errs and name != f"{plural}.{group}":
        out.append(C.make(C.INVALID, "metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(C.make(C.REQUIRED, "spec.group"))
    elif "." not in group:
        out.append(C.make(C.INVALID, "spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        out.append(C.make(C.REQUIRED, "spec.names.plural"))
    elif errs := validation.name_is_dns1035_label(plural):
        out.append(C.make(C.INVALID, "spec.names.plural", plural, ",".join(errs)))
    singular = names.get("singular")
    if singular and (errs := validation.name_is_dns1035_label(str(singular))):
        out.append(C.make(C.INVALID, "spec.names.singular", singular, ",".join(errs)))
    kind = names.get("kind")
    if not kind:
        out.append(C.make(C.REQUIRED, "spec.names.kind"))
    elif names.get("listKind") == kind:
        detail = "kind and listKind may not be the same"
        out.append(C.make(C.INVALID, "spec.names.listKind", kind, detail))
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        out.append(C.make(C.NOT_SUPPORTED, "spec.scope", scope, 'supported values: "Cluster", "Namespaced"'))
    versions = [v for v in spec.get("versions") or () if isinstance(v, Mapping)]
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions]
    hoisted = bool(versions) and all(
        json.dumps(x, sort_keys=True) == json.dumps(schemas[0], sort_keys=True) for x in schemas
    )
    for i, v in enumerate(versions):
        vname = str(v.get("name") or "")
        if errs := validation.name_is_dns1035_label(vname):
            out.append(C.make(C.INVALID, f"spec.versions[{i}].name", vname, ",".join(errs)))
            if i == 0:  # the internal form also carries the first version as spec.version
                out.append(C.make(C.INVALID, "spec.version", vname, ",".join(errs)))
    if len({str(v.get("name")) for v in versions}) != len(versions):
        dump = C.Raw(_version_dump(versions, hoisted))
        out.append(C.make(C.INVALID, "spec.versions", dump, "must contain unique version names"))
    stored = [str(v.get("name")) for v in versions if v.get("storage")]
    if len(stored) != 1:
        dump = C.Raw(_version_dump(versions, hoisted))
        detail = "must have exactly one version marked as storage version"
        out.append(C.make(C.INVALID, "spec.versions", dump, detail))
        # on create status.storedVersions starts from the storage version, hence these two
        if not stored:
            detail = "must have at least one stored version"
            out.append(C.make(C.INVALID, "status.storedVersions", None, detail))
        else:
            detail = f"must have the storage version {stored[0]}"
            out.append(C.make(C.INVALID, "status.storedVersions", C.Raw(_go_json(stored[:1])), detail))
    checker = _SchemaChecker(out)
    if hoisted:
        if schemas[0] is None:
            out.extend(
                C.make(C.REQUIRED, f"spec.versions[{i}].schema.openAPIV3Schema") for i in range(len(versions))
            )
        else:
            checker.check(schemas[0], "spec.validation.openAPIV3Schema", root=True)
    else:
        for i, s in enumerate(schemas):
            path = f"spec.versions[{i}].schema.openAPIV3Schema"
            if s is None:
                out.append(C.make(C.REQUIRED, path))
            else:
                checker.check(s, path, root=True)
    return out


def crd_invalid_status(doc: Mapping[str, Any], causes: list[Cause]) -> JSON:
    """The 422 ``Status`` for a CRD document refused with ``causes``."""
    name = str((doc.get("metadata") or {}).get("name") or "")
    return C.invalid_status("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)
