"""Field selectors on any allowlisted field: parsing, splitting, and matching objects.

A real API server accepts ``fieldSelector`` on custom resources only for ``metadata.name``,
``metadata.namespace`` and a CRD's ``selectableFields``; anything else is a 400 (kubernetes.io
"Field Selectors", "Custom Resources"). KubeRay's docs promise selectors such as
``status.state=ready``, so the gateway evaluates selectors on an allowlist of fields itself
(``Settings.field_selector_fields``, by default :data:`DEFAULT_FIELDS`) and sends the terms the
upstream supports (``metadata.name``, ``metadata.namespace``) upstream.

Grammar, as k8s.io/apimachinery/pkg/fields/selector.go ``ParseSelector``: terms separated by
``,`` (AND), each ``field=value``, ``field==value`` or ``field!=value``; in values ``\\``
escapes ``\\``, ``,`` and ``=``. A selector with a term on a field that is neither upstream-
supported nor allowlisted, or that does not parse, is sent upstream unchanged, so the caller gets
the upstream's own 400.

Matching compares the field's value as a string: a missing field is ``""``, booleans are
``true`` / ``false``, numbers their decimal form (so ``spec.suspend=true`` works).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeapi import fields

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


class SelectorSyntaxError(ValueError):
    """The selector does not parse (left to the upstream to reject with its own message)."""


@dataclass(frozen=True)
class Term:
    """One requirement: ``field`` ``op`` (``=`` or ``!=``) ``value`` (unescaped); ``raw`` as written."""

    field: str
    op: str
    value: str
    raw: str

    def matches(self, obj: Any) -> bool:
        """Whether ``obj`` satisfies this requirement."""
        equal = field_value(obj, self.field) == self.value
        return equal if self.op == "=" else not equal


def parse(selector: str) -> list[Term]:
    """Parse a field selector into terms; raises SelectorSyntaxError. Empty selector → no terms."""
    if not selector.strip():
        return []
    terms: list[Term] = []
    for raw in fields.split_terms(selector):
        terms.append(_term(raw))
    return terms


def _term(raw: str) -> Term:
    """One term, split at its first operator (selector.go ``splitTerm``); ``==`` reads as ``=``."""
    split = fields.split_term(raw)
    if split is None:
        raise SelectorSyntaxError(f"invalid selector: {raw!r}; can't understand it")
    field, op, value = split
    if not field.strip():
        raise SelectorSyntaxError(f"invalid selector: {raw!r}; no field name")
    try:
        return Term(field.strip(), "!=" if op == "!=" else "=", fields.unescape_value(value), raw)
    except fields.FieldSelectorSyntaxError as e:
        raise SelectorSyntaxError(str(e)) from None


@dataclass(frozen=True)
class SelectorSplit:
    """How to serve a selector: ``upstream`` is the selector text to send upstream (may be empty),
    ``local`` the terms the gateway evaluates. ``local`` empty means pass the request through."""

    upstream: str
    local: tuple[Term, ...]


def plan(selector: str, allowlist: Sequence[str]) -> SelectorSplit:
    """Split ``selector`` between the upstream and the gateway (see the module docstring)."""
    try:
        terms = parse(selector)
    except SelectorSyntaxError:
        return SelectorSplit(selector, ())
    allowed = set(allowlist)
    if any(t.field not in UPSTREAM_FIELDS and t.field not in allowed for t in terms):
        return SelectorSplit(selector, ())
    upstream = ",".join(t.raw for t in terms if t.field in UPSTREAM_FIELDS)
    local = tuple(t for t in terms if t.field not in UPSTREAM_FIELDS)
    return SelectorSplit(upstream, local)


def field_value(obj: Any, path: str) -> str:
    """The value at dotted ``path`` in ``obj`` as a selector compares it (``""`` when missing)."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, str):
        return node
    return json.dumps(node, separators=(",", ":"))


def matches(terms: Sequence[Term], obj: Any) -> bool:
    """Whether ``obj`` satisfies every term (AND)."""
    return all(t.matches(obj) for t in terms)
