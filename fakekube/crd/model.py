"""CustomResourceDefinition (``apiextensions.k8s.io/v1``) as typed, read-only dataclasses.

:func:`load_crds` parses CRD documents (YAML or JSON text, files, directories or already
decoded dicts) into :class:`CustomResourceDefinition` objects. Field names follow the
``apiextensions.k8s.io/v1`` types (``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go``,
documented at https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/custom-resource-definition-v1/).
The raw document stays available as :attr:`CustomResourceDefinition.raw` so a server can
serve it back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubeapi.types import JSON

try:  # libyaml makes the multi-MB official CRDs load in ~0.2 s instead of seconds
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - only without libyaml
    _Loader = yaml.SafeLoader


class CRDError(ValueError):
    """A document is not a usable ``apiextensions.k8s.io/v1`` CustomResourceDefinition."""


@dataclass(frozen=True, slots=True)
class Names:
    """``spec.names``: plural, singular, kind, listKind, shortNames, categories."""

    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (``jsonPath`` is a simple JSONPath like ``.status.state``)."""

    name: str
    type: str
    json_path: str
    format: str = ""
    description: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class ScaleSubresource:
    """``subresources.scale``: JSONPaths of spec replicas, status replicas and label selector."""

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of ``spec.versions``.

    ``schema`` is the raw ``openAPIV3Schema`` dict (None when absent); ``status`` tells whether
    the ``status`` subresource is enabled; ``selectable_fields`` are the JSONPaths of
    ``selectableFields`` (e.g. ``.spec.color``).
    """

    name: str
    served: bool
    storage: bool
    schema: JSON | None
    status: bool = False
    scale: ScaleSubresource | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    selectable_fields: tuple[str, ...] = ()
    deprecated: bool = False
    deprecation_warning: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class CustomResourceDefinition:
    """A parsed CRD: ``name`` (``<plural>.<group>``), group, names, scope, versions, raw document.

    Compiled schema walkers are cached per version on this object (see
    :func:`fakekube.crd.schema.compiled`), so keep one instance per CRD and reuse it.
    """

    name: str
    group: str
    names: Names
    scope: str
    versions: tuple[Version, ...]
    preserve_unknown_fields: bool
    raw: JSON = field(repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def storage_version(self) -> Version:
        """The version with ``storage: true`` (exactly one in a valid CRD)."""
        for v in self.versions:
            if v.storage:
                return v
        raise CRDError(f"{self.name}: no storage version")

    def version(self, name: str) -> Version:
        """The version called ``name``; raises KeyError when the CRD has none of that name."""
        for v in self.versions:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no version {name!r}")

    def deprecation_warning(self, version: str) -> str | None:
        """The ``Warning`` text a request to ``version`` gets, or None when it is not deprecated.

        ``deprecationWarning`` when set, else ``<group>/<version> <Kind> is deprecated``
        (``apiextensions-apiserver`` ``customresource_handler.go``). The server sends it on every
        request to that version, before any other warning.
        """
        v = self.version(version)
        if not v.deprecated:
            return None
        return v.deprecation_warning or f"{self.group}/{v.name} {self.names.kind} is deprecated"

    @property
    def served_versions(self) -> tuple[Version, ...]:
        """Versions with ``served: true``, in CRD order."""
        return tuple(v for v in self.versions if v.served)

    @property
    def namespaced(self) -> bool:
        """True for ``scope: Namespaced``."""
        return self.scope == "Namespaced"


def _str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in value or ())


def _parse_version(doc: Mapping[str, Any], top_schema: JSON | None, top_sub: Any, top_cols: Any) -> Version:
    sub = doc.get("subresources", top_sub) or {}
    scale = sub.get("scale")
    schema = (doc.get("schema") or {}).get("openAPIV3Schema", top_schema)
    cols = doc.get("additionalPrinterColumns", top_cols) or ()
    return Version(
        name=str(doc["name"]),
        served=bool(doc.get("served", False)),
        storage=bool(doc.get("storage", False)),
        schema=schema,
        status="status" in sub,
        scale=ScaleSubresource(
            spec_replicas_path=scale["specReplicasPath"],
            status_replicas_path=scale["statusReplicasPath"],
            label_selector_path=scale.get("labelSelectorPath"),
        )
        if scale is not None
        else None,
        printer_columns=tuple(
            PrinterColumn(
                name=c["name"],
                type=c["type"],
                json_path=c["jsonPath"],
                format=c.get("format", ""),
                description=c.get("description", ""),
                priority=int(c.get("priority", 0)),
            )
            for c in cols
        ),
        selectable_fields=tuple(f["jsonPath"] for f in doc.get("selectableFields") or ()),
        deprecated=bool(doc.get("deprecated", False)),
        deprecation_warning=doc.get("deprecationWarning"),
    )


def parse_crd(doc: Mapping[str, Any]) -> CustomResourceDefinition:
    """Parse one decoded CRD document; raises :class:`CRDError` when it is not a v1 CRD.

    Also accepts the pre-v1 top-level ``spec.validation`` / ``spec.subresources`` /
    ``spec.additionalPrinterColumns`` (shared by all versions) for old manifests.
    """
    if doc.get("kind") != "CustomResourceDefinition":
        raise CRDError(f"not a CustomResourceDefinition: kind={doc.get('kind')!r}")
    try:
        spec = doc["spec"]
        names_doc = spec["names"]
        group = str(spec["group"])
        names = Names(
            plural=str(names_doc["plural"]),
            singular=str(names_doc.get("singular") or names_doc["kind"].lower()),
            kind=str(names_doc["kind"]),
            list_kind=str(names_doc.get("listKind") or names_doc["kind"] + "List"),
            short_names=_str_tuple(names_doc.get("shortNames")),
            categories=_str_tuple(names_doc.get("categories")),
        )
        top_schema = (spec.get("validation") or {}).get("openAPIV3Schema")
        versions = tuple(
            _parse_version(v, top_schema, spec.get("subresources"), spec.get("additionalPrinterColumns"))
            for v in spec["versions"]
        )
    except (KeyError, TypeError) as e:
        raise CRDError(f"malformed CustomResourceDefinition: missing {e}") from e
    name = str((doc.get("metadata") or {}).get("name") or f"{names.plural}.{group}")
    return CustomResourceDefinition(
        name=name,
        group=group,
        names=names,
        scope=str(spec.get("scope", "Namespaced")),
        versions=versions,
        preserve_unknown_fields=bool(spec.get("preserveUnknownFields", False)),
        raw=dict(doc),
    )


def _docs_from_text(text: str) -> list[Any]:
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            pass
        else:
            return data if isinstance(data, list) else [data]
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def _expand(source: Any) -> Iterable[Any]:
    if isinstance(source, Mapping):
        if source.get("kind") == "List" or source.get("kind", "").endswith("DefinitionList"):
            yield from source.get("items") or ()
        else:
            yield source
    elif isinstance(source, Path):
        if source.is_dir():
            for p in sorted(source.iterdir()):
                if p.suffix in (".yaml", ".yml", ".json"):
                    yield from _expand(p)
        else:
            yield from _docs_from_text(source.read_text())
    elif isinstance(source, str):
        if "\n" not in source and (source.endswith((".yaml", ".yml", ".json")) or Path(source).is_dir()):
            yield from _expand(Path(source))
        else:
            yield from _docs_from_text(source)
    elif isinstance(source, Iterable):
        for item in source:
            yield from _expand(item)
    else:
        raise CRDError(f"cannot read CRDs from {type(source).__name__}")


def load_crds(source: Any) -> list[CustomResourceDefinition]:
    """Parse every CustomResourceDefinition in ``source``; other kinds are skipped.

    ``source``: a path (file or directory of ``.yaml``/``.yml``/``.json``), YAML/JSON text
    (multi-document allowed), a decoded dict (a CRD or a ``List`` of them), or an iterable of
    any of these. Raises :class:`CRDError` for a malformed CRD and OSError for unreadable files.
    """
    out: list[CustomResourceDefinition] = []
    for doc in _expand(source):
        if isinstance(doc, Mapping) and doc.get("kind") == "CustomResourceDefinition":
            out.append(parse_crd(doc))
    return out
