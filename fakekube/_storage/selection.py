"""Label and field selectors as the storage layer filters with them (``storage.SelectionPredicate``).

Parsing and matching are :mod:`kubeapi.labels` and :mod:`kubeapi.fields` (the apiserver's grammar
and error texts, shared with the gateway); what is fakekube's is which field labels a kind accepts
and where they live in the stored object (the kind's ``ConvertFieldLabel``, from
:attr:`~fakekube._resources.ResourceType.field_labels`). Every parse error is a ``ValueError``
whose text is the message of the apiserver's 400 ``BadRequest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakekube._resources import ResourceType
from kubeapi import fields
from kubeapi.fields import FieldSelector
from kubeapi.labels import LabelSelector, LabelSelectorError, parse_label_selector

__all__ = [
    "FieldLabelError",
    "FieldSelector",
    "LabelSelector",
    "LabelSelectorError",
    "field_matches",
    "parse_field_selector",
    "parse_label_selector",
]


class FieldLabelError(ValueError):
    """A field label the kind does not support; ``str(e)`` is its conversion error."""


def parse_field_selector(selector: str, rt: ResourceType) -> FieldSelector:
    """Parse a ``fieldSelector`` for resource ``rt``: syntax errors raise
    :class:`kubeapi.fields.FieldSelectorSyntaxError`, an unsupported label :class:`FieldLabelError`
    with ``rt``'s conversion error (``field label not supported: x``...)."""
    sel = fields.parse_field_selector(selector)
    for r in sel.requirements:
        if r.field not in rt.field_labels:
            raise FieldLabelError(rt.field_label_error.format(label=r.field))
    return sel


def field_matches(sel: FieldSelector, obj: Mapping[str, Any], rt: ResourceType) -> bool:
    """Whether stored ``obj`` of ``rt`` satisfies every term (values rendered by
    :func:`kubeapi.fields.field_value`; a missing field reads as ``""``)."""
    return sel.matches_object(obj, rt.field_labels)
