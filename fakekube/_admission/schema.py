"""CRD schema handling of custom resource writes, through :mod:`fakekube.crd`.

For each write of a custom resource the body is pruned of unknown fields, defaulted and
validated against its CRD (OpenAPI schema, list types, CEL rules; the bundled Ray CRDs unless
others were installed), as the apiextensions-apiserver does (``customresource_handler.go``,
``strategy.go``). The request's ``fieldValidation`` decides what unknown fields do:
``Strict`` → 400, ``Warn`` (default) → ``Warning`` response headers, ``Ignore`` → silently dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from fakekube import _apierrors as errors
from fakekube._resources import ResourceType
from kubeapi.types import JSON


@dataclass
class SchemaOutcome:
    """The checked object (pruned and defaulted), its ``details.causes`` and ``Warning`` texts."""

    obj: JSON
    causes: list[JSON] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Schemas:
    """Applies a custom resource's CRD (``ResourceType.crd``, see :mod:`fakekube._registry.kinds`)
    to its writes."""

    def check(self, rt: ResourceType, obj: JSON, old: JSON | None, field_validation: str) -> SchemaOutcome:
        """Prune, default and validate ``obj`` (not modified) against ``rt``'s version of its CRD;
        raise 400 for a ``Strict`` unknown field or an undecodable embedded ``metadata``. Kinds
        without a CRD pass unchanged."""
        crd = rt.crd if rt.custom else None
        if crd is None:
            return SchemaOutcome(obj)
        from fakekube.crd import validate_object

        result = validate_object(crd, rt.version, obj, old, field_validation or "Warn")
        if result.bad_request is not None:
            raise errors.bad_request(result.bad_request)
        return SchemaOutcome(result.obj, [c.to_status_cause() for c in result.causes], list(result.warnings))


def sendable_warning(text: str) -> bool:
    """Whether kube-apiserver sends a warning with ``text``: k8s.io/apimachinery/pkg/util/net
    ``NewWarningHeader`` refuses (and the warning recorder then drops) a text that is empty or
    contains a control character, e.g. ``unknown field "spec.\x01"`` (checked against refkube;
    such a header would also be refused by the HTTP server, answering 500)."""
    return bool(text) and not any(unicodedata.category(ch) == "Cc" for ch in text)


def warning_header(text: str) -> tuple[bytes, bytes]:
    """A ``Warning: 299 - "text"`` response header (RFC 7234 §5.5, as the apiserver sends them)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return b"warning", f'299 - "{escaped}"'.encode()
