"""``validate_object``: what the API server does to a custom resource body before storing it.

The steps and their order follow the apiextensions-apiserver request path
(``k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_handler.go`` decoding, then
``pkg/registry/customresource/strategy.go`` / ``validator.go`` validation):

1. unknown fields are pruned and non-nullable nulls dropped (:mod:`fakekube.crd.prune`).
   A ``metadata`` (of the object or of an embedded resource) that does not decode as
   ObjectMeta fails with 400 ``RayCluster in version "v1" cannot be handled as a RayCluster:
   json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string``.
   With ``fieldValidation=Strict`` any unknown field fails with 400 ``RayCluster in version
   "v1" cannot be handled as a RayCluster: strict decoding error: unknown field "spec.foo"``
   before validation; with ``Warn`` (the default) each one becomes a ``Warning`` header text
   ``unknown field "spec.foo"``; with ``Ignore`` they are dropped silently
   (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation);
2. ``default`` values are applied (:mod:`fakekube.crd.defaulting`);
3. OpenAPI schema validation (:mod:`fakekube.crd.openapi`), list-type uniqueness and
   embedded-resource checks (:mod:`fakekube.crd.listtype`); on update, values equal to their
   stored counterpart are not re-validated (ratcheting, :mod:`fakekube.crd.ratchet`);
4. CEL ``x-kubernetes-validations`` (:mod:`fakekube.crd.cel`; on update a rule failing on an
   unchanged value is only a ``Warning``, e.g. ``spec.x: Invalid value: 10: failed rule:
   self > 50``), skipped when step 3 found a
   type, required, enum, maxLength or maxItems error (``hasBlockingErr`` in ``strategy.go``),
   which adds ``<nil>: Invalid value: null: some validation rules were not checked because the
   object was invalid; correct the existing errors to complete validation``.

Object metadata rules (name syntax, generateName, ...) are not part of this module.

Steps 1-3 are what an object pays on every write; when it turns out to need no error message
(no unknown field, no OpenAPI or list-type error) they are done in one compiled walk instead
(:mod:`fakekube.crd.fastpath`), with the same result; every other object runs the steps above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fakekube.crd import causes as C
from fakekube.crd.causes import Cause
from fakekube.crd.cel import validate_rules
from fakekube.crd.defaulting import apply_defaults, deep_copy_json
from fakekube.crd.fastpath import prepare
from fakekube.crd.listtype import validate_lists
from fakekube.crd.model import CustomResourceDefinition
from fakekube.crd.openapi import validate_value
from fakekube.crd.prune import prune, prune_nulls
from fakekube.crd.schema import MISSING, compiled
from kubeapi.types import JSON

FieldValidation = Literal["Strict", "Warn", "Ignore"]

_BLOCKING = {C.NOT_SUPPORTED, C.REQUIRED, C.TOO_LONG, C.TOO_MANY, C.TYPE_INVALID}
_SKIPPED_CEL = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


@dataclass(slots=True)
class Result:
    """Outcome of :func:`validate_object`.

    ``obj``: the pruned and defaulted copy to store (the input is never modified);
    ``causes``: field errors (empty when valid); ``warnings``: ``Warning`` header texts;
    ``unknown_fields``: pruned paths; ``bad_request``: the message of a 400 answer (unknown
    fields under ``Strict``, or a ``metadata`` that does not decode as ObjectMeta).
    """

    crd: CustomResourceDefinition
    obj: JSON
    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)
    bad_request: str | None = None

    @property
    def ok(self) -> bool:
        """True when the object may be stored."""
        return not self.causes and self.bad_request is None

    @property
    def code(self) -> int:
        """HTTP code of the outcome: 200 when ok, 400 for a decoding error, 422 for causes."""
        if self.bad_request is not None:
            return 400
        return 422 if self.causes else 200

    def status(self, name: str | None = None) -> JSON | None:
        """The failure ``Status`` body (400 BadRequest or 422 Invalid), or None when ok.

        ``name`` defaults to the object's ``metadata.name`` (or ``generateName``).
        """
        if self.bad_request is not None:
            return C.bad_request_status(self.bad_request)
        if not self.causes:
            return None
        if name is None:
            meta = self.obj.get("metadata")
            if not isinstance(meta, dict):
                meta = {}
            name = str(meta.get("name") or meta.get("generateName") or "")
        return C.invalid_status(self.crd.names.kind, self.crd.group, name, self.causes)


def apply_schema_defaults(crd: CustomResourceDefinition, version: str, obj: JSON) -> JSON:
    """A stored object as the API server reads it back: a copy with fields the (possibly newer)
    schema does not know pruned, non-nullable nulls dropped and defaults applied (the storage
    decoder of ``customresource_handler.go`` does the same, without warnings)."""
    out: JSON = deep_copy_json(obj)
    root = compiled(crd, version)
    if not crd.preserve_unknown_fields:
        prune(out, root)
    prune_nulls(out, root)
    apply_defaults(out, root)
    return out


def validate_object(
    crd: CustomResourceDefinition,
    version: str,
    obj: JSON,
    old: JSON | None = None,
    field_validation: FieldValidation | str = "Warn",
    fast_path: bool = True,
) -> Result:
    """Prune, default and validate ``obj`` (a decoded custom resource) for ``crd``'s ``version``.

    ``old`` is the stored object on update: it enables CEL transition rules (``oldSelf``) and
    ratcheting. ``field_validation`` is the request's ``fieldValidation`` (``Strict``, ``Warn``
    or ``Ignore``; anything else is treated as ``Warn``). The 422 ``Status`` names the object
    by ``metadata.name``: pass the generated name to :meth:`Result.status` for ``generateName``.
    Raises KeyError when ``version`` is not a version of ``crd``.

    An object without unknown fields or schema errors takes the compiled one-pass walk of
    :mod:`fakekube.crd.fastpath`; any other runs the passes listed in this module, which word
    the errors. ``fast_path=False`` always runs those passes (the answer is the same; tests
    compare the two).
    """
    root = compiled(crd, version)
    old_value = MISSING if old is None else old
    if fast_path and not crd.preserve_unknown_fields:
        prepared = prepare(root, obj)
        if prepared is not None:
            # no unknown field and no OpenAPI/list-type error: only the CEL rules are left
            result = Result(crd=crd, obj=prepared)
            rule_errors, rule_warnings = validate_rules(root, prepared, old_value)
            result.causes = rule_errors
            result.warnings.extend(str(c) for c in rule_warnings)
            return result
    out: JSON = deep_copy_json(obj)
    unknown: list[str] = []
    decode_error = None
    if not crd.preserve_unknown_fields:
        unknown, decode_error = prune(out, root)
        prune_nulls(out, root)
    result = Result(crd=crd, obj=out, unknown_fields=unknown)
    cannot_handle = f'{crd.names.kind} in version "{version}" cannot be handled as a {crd.names.kind}: '
    if decode_error is not None:
        result.bad_request = cannot_handle + decode_error
        return result
    if unknown:
        texts = [f'unknown field "{p}"' for p in unknown]
        if field_validation == "Strict":
            result.bad_request = cannot_handle + "strict decoding error: " + ", ".join(texts)
            return result
        if field_validation != "Ignore":
            result.warnings.extend(texts)
    apply_defaults(out, root)
    errs = validate_value(root, out, old_value)
    errs += validate_lists(root, out, old_value)
    if any(e.type in _BLOCKING for e in errs):
        if root.subtree_has_rules:
            errs.append(C.make(C.INVALID, C.ROOT, None, _SKIPPED_CEL))
    else:
        rule_errors, rule_warnings = validate_rules(root, out, old_value)
        errs += rule_errors
        result.warnings.extend(str(c) for c in rule_warnings)
    result.causes = errs
    return result
