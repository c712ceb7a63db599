"""Small synthetic CRDs for the schema-feature tests."""

from __future__ import annotations

from typing import Any

from fakekube.crd import CustomResourceDefinition, load_crds


def make_crd(
    spec_schema: dict[str, Any], *, status: dict[str, Any] | None = None, **version: Any
) -> CustomResourceDefinition:
    """A namespaced ``Widget`` CRD in group ``example.com``, version ``v1``, with ``spec_schema``."""
    props: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": spec_schema,
    }
    if status is not None:
        props["status"] = status
    doc = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": props}},
                    **version,
                }
            ],
        },
    }
    (crd,) = load_crds(doc)
    return crd


def widget(spec: Any, name: str = "w1") -> dict[str, Any]:
    """A Widget object with ``spec``."""
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def obj_schema(props: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """``{"type": "object", "properties": props, **kw}``."""
    return {"type": "object", "properties": props, **kw}
