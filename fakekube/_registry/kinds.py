"""The served kinds (:class:`ServedKinds`): the built-in kinds plus what the installed CRDs define.

A :class:`ServedKinds` turns each installed ``apiextensions.k8s.io/v1`` CustomResourceDefinition
(parsed by :mod:`fakekube.crd`) into one :class:`~fakekube._resources.ResourceType` per served
version: group, version, scope, names (plural, singular, kind, listKind, shortNames,
categories), the ``status`` subresource, ``additionalPrinterColumns`` (a CRD without any gets the
``Age`` column, as apiextensions' ``tableconvertor`` does), ``selectableFields`` as extra
``fieldSelector`` labels, deprecation warnings, and the storage version (requests to another
served version are answered from the same objects with ``apiVersion`` rewritten: conversion
strategy ``None``). Sources: ``k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_handler.go``
and ``pkg/controller/establish``; https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/.

CRDs live in the store as ``customresourcedefinitions.apiextensions.k8s.io`` objects, so they are
read, listed, watched and deleted like any object; the registry follows the store (a listener)
and re-reads a CRD only when its ``spec`` changed. :func:`prepare_crd` is the create/update check
of a CRD body (``validate_crd`` causes → 422; defaults; the ``NamesAccepted`` and ``Established``
conditions set at once, as a real server's controllers do within milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fakekube._resources import ALL_TYPES, CRDS, META_FIELDS, PrinterColumn, ResourceType
from fakekube._storage.store import ADDED, DELETED, Change, Store, dumps
from fakekube.crd import CustomResourceDefinition, load_crds, validate_crd
from fakekube.crd.model import parse_crd
from kubeapi.types import JSON

_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of kube-aware version order (``v1 > v1beta2 > v1beta1 > v1alpha1 > v2alpha1 ... >
    other strings``), as ``k8s.io/apimachinery/pkg/version.CompareKubeAwareVersionStrings``."""
    m = _KUBE_VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m[1]), m[2], int(m[3] or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def resource_types(crd: CustomResourceDefinition) -> tuple[ResourceType, ...]:
    """One resource type per served version of ``crd``."""
    storage = crd.storage_version.name
    out = []
    for v in crd.served_versions:
        fields = dict(META_FIELDS)
        for path in v.selectable_fields:
            label = path.lstrip(".")
            fields[label] = tuple(label.split("."))
        cols = tuple(
            PrinterColumn(c.name, c.type, c.json_path, c.description, c.priority, c.format)
            for c in v.printer_columns
        )
        out.append(
            ResourceType(
                group=crd.group,
                version=v.name,
                plural=crd.names.plural,
                singular=crd.names.singular,
                kind=crd.names.kind,
                namespaced=crd.namespaced,
                custom=True,
                subresources=frozenset({"status"} if v.status else ()) | ({"scale"} if v.scale else set()),
                short_names=crd.names.short_names,
                categories=crd.names.categories,
                field_labels=fields,
                printer_columns=cols or (_AGE,),
                list_kind_name=crd.names.list_kind,
                stored_version=storage if storage != v.name else "",
                deprecation=crd.deprecation_warning(v.name),
                crd=crd,
            )
        )
    return tuple(out)


class ServedKinds:
    """The served resource types (built-in kinds and installed CRDs), looked up by group/version/plural.

    ``generation`` grows with every change, so documents built from the registry (discovery,
    OpenAPI) can be cached per generation.
    """

    def __init__(self) -> None:
        self._crds: dict[str, tuple[CustomResourceDefinition, tuple[ResourceType, ...]]] = {}
        self._by_gv: dict[tuple[str, str], dict[str, ResourceType]] = {}
        self.generation = 0
        self._rebuild()

    def _rebuild(self) -> None:
        by_gv: dict[tuple[str, str], dict[str, ResourceType]] = {}
        for rt in self.types():
            by_gv.setdefault((rt.group, rt.version), {})[rt.plural] = rt
        self._by_gv = by_gv
        self.generation += 1

    def types(self) -> list[ResourceType]:
        """Every served resource type: built-in kinds, then each CRD's versions (CRD name order)."""
        out = list(ALL_TYPES)
        for name in sorted(self._crds):
            out.extend(self._crds[name][1])
        return out

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The served resource ``plural`` in ``group/version``, or None."""
        return self._by_gv.get((group, version), {}).get(plural)

    def group_version(self, group: str, version: str) -> dict[str, ResourceType] | None:
        """plural → resource type of one served group/version, or None."""
        return self._by_gv.get((group, version))

    def group_versions(self) -> dict[str, list[str]]:
        """Served non-core group → its versions, preferred first (kube-aware version order)."""
        out: dict[str, list[str]] = {}
        for group, version in self._by_gv:
            if group:
                out.setdefault(group, []).append(version)
        return {g: sorted(vs, key=version_priority) for g, vs in out.items()}

    def crds(self) -> list[CustomResourceDefinition]:
        """The installed CRDs, by name."""
        return [self._crds[n][0] for n in sorted(self._crds)]

    def install(self, crd: CustomResourceDefinition) -> None:
        """Serve ``crd`` (replacing an installed CRD of the same name)."""
        self._crds[crd.name] = (crd, resource_types(crd))
        self._rebuild()

    def remove(self, name: str) -> None:
        """Stop serving the CRD called ``name`` (its objects are the caller's business)."""
        if self._crds.pop(name, None) is not None:
            self._rebuild()

    def follow(self, store: Store) -> None:
        """Keep the registry in step with the CRD objects of ``store``."""
        store.subscribe(self._on_change)

    def _on_change(self, ch: Change) -> None:
        if ch.storage != CRDS.storage_key:
            return
        if ch.type == DELETED:
            self.remove(ch.key)
            return
        installed = self._crds.get(ch.key)
        if installed is not None and installed[0].raw.get("spec") is ch.new.obj.get("spec"):
            return  # installed from this very document (see install_into)
        if ch.type != ADDED and ch.old is not None and ch.old.obj.get("spec") == ch.new.obj.get("spec"):
            return  # a status or metadata change: same served API
        self.install(parse_crd(ch.new.obj))


def _mentions(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_mentions(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, key) for v in value)
    return False


def has_cel_rules(rt: ResourceType) -> bool:
    """Whether ``rt``'s CRD version schema has ``x-kubernetes-validations`` (cached per CRD)."""
    if rt.crd is None:
        return False
    cache = rt.crd._cache
    key = "has_cel:" + rt.version
    if key not in cache:
        cache[key] = _mentions(rt.crd.version(rt.version).schema, "x-kubernetes-validations")
    return bool(cache[key])


def _accepted_names(spec: JSON) -> JSON:
    names = dict(spec.get("names") or {})
    return {
        k: names[k]
        for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
        if k in names
    }


def _conditions(now: str) -> list[JSON]:
    return [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]


def prepare_crd(obj: JSON, old: JSON | None, now: str) -> tuple[JSON, list[JSON]]:
    """A CRD body checked and completed for storage: (object, ``details.causes`` of a 422).

    Applies the v1 defaults (``SetDefaults_CustomResourceDefinition``: ``names.singular`` = lower-case
    kind, ``names.listKind`` = kind + ``List``, ``conversion.strategy`` = ``None``) and sets the status a
    real server's controllers write at once: ``acceptedNames``, ``storedVersions`` and the
    ``NamesAccepted``/``Established`` conditions (kept from ``old`` on update). Name conflicts
    with other CRDs are not detected.
    """
    spec = obj.get("spec")
    if isinstance(spec, dict):
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})
    causes = [c.to_status_cause() for c in validate_crd(obj)]
    # ObjectMeta validation reports metadata.name itself.
    causes = [
        c for c in causes if not (c.get("field") == "metadata.name" and not obj["metadata"].get("name"))
    ]
    if causes or not isinstance(spec, dict):
        return obj, causes
    stored = [v["name"] for v in spec.get("versions") or () if isinstance(v, dict) and v.get("storage")]
    old_status = (old or {}).get("status") or {}
    stored_versions = list(old_status.get("storedVersions") or [])
    for v in stored:
        if v not in stored_versions:
            stored_versions.append(v)
    obj["status"] = {
        "conditions": old_status.get("conditions") or _conditions(now),
        "acceptedNames": _accepted_names(spec),
        "storedVersions": stored_versions,
    }
    return obj, causes


def crd_document(crd: CustomResourceDefinition, now: str) -> JSON:
    """The object to store for an already parsed ``crd`` (its ``spec`` shared, not copied: stored
    objects are never mutated, and the registry recognises it by identity)."""
    raw = crd.raw
    spec = raw.get("spec") or {}
    doc: JSON = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            k: v for k, v in (raw.get("metadata") or {}).items() if k in ("name", "labels", "annotations")
        },
        "spec": spec,
    }
    doc["metadata"]["name"] = crd.name
    doc["status"] = {
        "conditions": _conditions(now),
        "acceptedNames": _accepted_names(spec),
        "storedVersions": [crd.storage_version.name],
    }
    return doc


def encoder(crd: CustomResourceDefinition) -> Callable[[JSON], bytes]:
    """An encoder giving ``dumps(doc)`` for a :func:`crd_document` of ``crd``, with the (multi-MB)
    ``spec`` serialized once per CRD instead of once per app (``create_app`` stays ~1 ms)."""

    def encode(doc: JSON) -> bytes:
        spec = crd.raw.get("spec")
        cached = crd._cache.get("spec_json")
        if cached is None:
            cached = crd._cache["spec_json"] = dumps(spec)
        parts = [dumps(k) + b":" + (cached if v is spec else dumps(v)) for k, v in doc.items()]
        return b"{" + b",".join(parts) + b"}"

    return encode


def load_sources(sources: Iterable[Any]) -> list[CustomResourceDefinition]:
    """Parse the CRDs of ``sources`` (files, directories, YAML/JSON text, dicts) and check each as the
    API server would on create; raises ValueError naming the first refused CRD and its causes."""
    out = []
    for crd in load_crds(list(sources)):
        causes = validate_crd(crd.raw)
        if causes:
            text = "; ".join(c.to_status_cause().get("message", "") for c in causes[:5])
            raise ValueError(f"CustomResourceDefinition {crd.name!r} is invalid: {text}")
        out.append(crd)
    return out
