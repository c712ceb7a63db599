"""CRD-driven schema engine of fakekube: what a real API server does with a CustomResourceDefinition.

Public API:

- :func:`load_crds` / :class:`CustomResourceDefinition` (names, scope, versions, subresources,
  printer columns, selectable fields) — :mod:`fakekube.crd.model`;
- :func:`validate_object` -> :class:`Result` (pruned + defaulted copy, :class:`Cause` list,
  ``Warning`` texts, the 400/422 ``Status``) — :mod:`fakekube.crd.engine`;
- :func:`apply_schema_defaults` for objects read back from storage;
- :func:`validate_crd` / :func:`crd_invalid_status`: a CRD document checked as the API server
  checks one on create — :mod:`fakekube.crd.crd_validation`;
- :func:`builtin_crds`: the Ray CRDs written by this project — :mod:`fakekube.crd.builtin`;
- :mod:`fakekube.crd.generators`: Hypothesis strategies (valid Ray objects), for tests.

Typical use by a server (create, then update)::

    crd = {c.names.kind: c for c in builtin_crds()}["RayCluster"]
    result = validate_object(crd, "v1", body, field_validation=query.get("fieldValidation", "Warn"))
    if not result.ok:
        return result.status(name=generated_name_or_None)   # 400 BadRequest or 422 Invalid
    headers = [("Warning", "299 - " + json.dumps(w)) for w in result.warnings]  # quoted-string
    store(result.obj)                                          # pruned + defaulted copy
    ...
    result = validate_object(crd, "v1", new_body, old=stored_object)   # transition rules, ratcheting
"""

from fakekube.crd.builtin import builtin_crds
from fakekube.crd.causes import Cause, bad_request_status, invalid_status
from fakekube.crd.crd_validation import crd_invalid_status, validate_crd
from fakekube.crd.engine import Result, apply_schema_defaults, validate_object
from fakekube.crd.model import CRDError, CustomResourceDefinition, Names, PrinterColumn, Version, load_crds

__all__ = [
    "CRDError",
    "Cause",
    "CustomResourceDefinition",
    "Names",
    "PrinterColumn",
    "Result",
    "Version",
    "apply_schema_defaults",
    "bad_request_status",
    "builtin_crds",
    "crd_invalid_status",
    "invalid_status",
    "load_crds",
    "validate_crd",
    "validate_object",
]
