"""Field selectors on any allowlisted field: which terms the gateway evaluates itself.

A real API server accepts ``fieldSelector`` on custom resources only for ``metadata.name``,
``metadata.namespace`` and a CRD's ``selectableFields``; anything else is a 400 (kubernetes.io
"Field Selectors", "Custom Resources"). KubeRay's docs promise selectors such as
``status.state=ready``, so the gateway evaluates selectors on an allowlist of fields itself
(``Settings.field_selector_fields``, by default :data:`DEFAULT_FIELDS`) and sends the terms the
upstream supports (``metadata.name``, ``metadata.namespace``) upstream (:func:`plan`).

Parsing and matching are kube-apiserver's (:mod:`kubeapi.fields`: k8s.io/apimachinery/pkg/fields
``ParseSelector``, and :func:`kubeapi.fields.field_value`, the value a CRD's selectable field
compares: ``""`` when missing, ``fmt.Sprint`` of the value otherwise, so ``spec.suspend=true``
works). A selector with a term on a field that is neither upstream-supported nor allowlisted, or
that does not parse, is sent upstream unchanged, so the caller gets the upstream's own 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeapi.fields import FieldRequirement, FieldSelectorSyntaxError, field_value, parse_field_selector

__all__ = ["DEFAULT_FIELDS", "UPSTREAM_FIELDS", "SelectorSplit", "matches", "plan"]

#: Fields evaluated by the gateway unless configured otherwise.
DEFAULT_FIELDS = (
    "status.state",
    "status.jobStatus",
    "status.jobDeploymentStatus",
    "status.serviceStatus",
    "spec.rayVersion",
    "spec.suspend",
)
#: Fields every API server supports on custom resources (sent upstream).
UPSTREAM_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class SelectorSplit:
    """How to serve a selector: ``upstream`` is the selector text to send upstream (may be empty),
    ``local`` the terms the gateway evaluates. ``local`` empty means pass the request through."""

    upstream: str
    local: tuple[FieldRequirement, ...]


def plan(selector: str, allowlist: Sequence[str]) -> SelectorSplit:
    """Split ``selector`` between the upstream and the gateway (see the module docstring)."""
    try:
        terms = parse_field_selector(selector).requirements
    except FieldSelectorSyntaxError:
        return SelectorSplit(selector, ())
    allowed = set(allowlist)
    if any(t.field not in UPSTREAM_FIELDS and t.field not in allowed for t in terms):
        return SelectorSplit(selector, ())
    upstream = ",".join(t.raw for t in terms if t.field in UPSTREAM_FIELDS)
    local = tuple(t for t in terms if t.field not in UPSTREAM_FIELDS)
    return SelectorSplit(upstream, local)


def matches(terms: Sequence[FieldRequirement], obj: Any) -> bool:
    """Whether ``obj`` (a decoded object) satisfies every term (AND); a non-object matches only an
    empty selector or terms that accept ``""``."""
    source = obj if isinstance(obj, dict) else {}
    for t in terms:  # noqa: SIM110 - a plain loop: all() costs more on list hot paths
        if not t.matches(field_value(source, t.field)):
            return False
    return True
