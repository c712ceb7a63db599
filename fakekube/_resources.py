"""The table of served kinds: group, version, plural, kind, scope, verbs, subresources, field labels.

A :class:`ResourceType` is what the apiserver calls a resource (``rayclusters.ray.io``) in one API
version. Two resource types may share storage (core ``v1`` ``events`` and ``events.k8s.io/v1``
``events`` are one set of objects seen through two versions), so each has a ``storage`` key.

Field labels are the ``fieldSelector`` keys each kind supports, with the path into the stored
object they read. Sources: custom resources use ``runtime.DefaultMetaV1FieldSelectorConversion``
(``metadata.name``, ``metadata.namespace``); core kinds use the conversions registered in
``pkg/apis/core/v1/conversion.go`` (Event, Namespace, Service) and ``pkg/apis/events/v1/conversion.go``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeapi import validation

#: An object-name check: the error details for a name, empty when valid (``ValidateNameFunc``).
NameValidator = Callable[[str], list[str]]

#: Verbs a collection or object answers, as in discovery's ``APIResource.verbs``.
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

#: The ``fieldSelector`` labels every kind takes (DefaultMetaV1FieldSelectorConversion).
META_FIELDS: Mapping[str, tuple[str, ...]] = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
}

_CORE_EVENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    **META_FIELDS,
    **{
        f"involvedObject.{f}": ("involvedObject", f)
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": ("reason",),
    "reportingComponent": ("reportingComponent",),
    "source": ("source", "component"),
    "type": ("type",),
}

# events.k8s.io/v1 labels read the same stored (core v1 shaped) object under their new names.
_EVENTS_V1_FIELDS: Mapping[str, tuple[str, ...]] = {
    **META_FIELDS,
    **{
        f"regarding.{f}": ("involvedObject", f)
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": ("reason",),
    "reportingController": ("reportingComponent",),
    "source": ("source", "component"),
    "type": ("type",),
}


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry: a Table column read from ``json_path`` (dotted, no ``$``)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """A served resource in one group/version.

    ``custom`` marks CustomResourceDefinition semantics (apiextensions-apiserver): ``generation``
    bumps on non-metadata/status changes, ``metadata.resourceVersion`` is required on update,
    strategic-merge patch is refused, field selectors are ``metadata.*`` only.
    ``field_labels`` maps each accepted ``fieldSelector`` label to a path in the stored object;
    ``field_label_error`` is the Go format of the error for any other label (``%s`` = label).
    """

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    custom: bool = False
    storage: str = ""
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    field_labels: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: META_FIELDS)
    field_label_error: str = "field label not supported: {label}"
    name_validator: NameValidator = validation.name_is_dns1123_subdomain
    printer_columns: tuple[PrinterColumn, ...] = ()
    #: The ``listKind`` when it is not ``kind + "List"`` (a CRD may name its own).
    list_kind_name: str = ""
    #: The version objects are stored in when it differs from ``version`` (a CRD's storage
    #: version; requests to other served versions get ``apiVersion`` rewritten, strategy None).
    stored_version: str = ""
    #: The Warning text every request to this version gets (a deprecated CRD version).
    deprecation: str | None = None
    #: The :class:`fakekube.crd.CustomResourceDefinition` this resource comes from, if any.
    crd: Any = field(default=None, compare=False, repr=False)

    @property
    def api_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The list kind, e.g. ``RayClusterList``."""
        return self.list_kind_name or self.kind + "List"

    @property
    def group_resource(self) -> str:
        """``plural.group`` (``rayclusters.ray.io``) or ``plural`` for core: the name errors use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """``Kind.group`` (``RayCluster.ray.io``) or ``Kind`` for core: the name Invalid errors use."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def converted(self) -> bool:
        """Whether served objects differ from stored ones (shared storage or another stored version)."""
        return bool(self.storage) or self.stored_version not in ("", self.version)

    @property
    def storage_key(self) -> str:
        """The key of this resource's objects in the store."""
        return self.storage or self.group_resource


def _default_meta_error() -> str:
    # runtime.DefaultMetaV1FieldSelectorConversion's text.
    return '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


NAMESPACES = ResourceType(
    group="",
    version="v1",
    plural="namespaces",
    singular="namespace",
    kind="Namespace",
    namespaced=False,
    subresources=frozenset({"status"}),
    short_names=("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    field_labels={"metadata.name": ("metadata", "name"), "status.phase": ("status", "phase")},
    name_validator=validation.name_is_dns1123_label,
)
CONFIGMAPS = ResourceType(
    group="",
    version="v1",
    plural="configmaps",
    singular="configmap",
    kind="ConfigMap",
    short_names=("cm",),
    field_label_error=_default_meta_error(),
)
SERVICES = ResourceType(
    group="",
    version="v1",
    plural="services",
    singular="service",
    kind="Service",
    short_names=("svc",),
    subresources=frozenset({"status", "proxy"}),
    categories=("all",),
    verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    field_labels={**META_FIELDS, "spec.clusterIP": ("spec", "clusterIP"), "spec.type": ("spec", "type")},
    name_validator=validation.name_is_dns1035_label,
)
#: Pods (``pkg/registry/core/pod``): field labels of ``pod/strategy.go`` ``ToSelectableFields``;
#: ``log`` is the ``pods/log`` subresource (``GET`` only, ``pkg/registry/core/pod/rest/log.go``).
PODS = ResourceType(
    group="",
    version="v1",
    plural="pods",
    singular="pod",
    kind="Pod",
    short_names=("po",),
    subresources=frozenset({"status", "log"}),
    categories=("all",),
    field_labels={
        **META_FIELDS,
        "spec.nodeName": ("spec", "nodeName"),
        "spec.restartPolicy": ("spec", "restartPolicy"),
        "spec.schedulerName": ("spec", "schedulerName"),
        "spec.serviceAccountName": ("spec", "serviceAccountName"),
        "spec.hostNetwork": ("spec", "hostNetwork"),
        "status.phase": ("status", "phase"),
        "status.podIP": ("status", "podIP"),
        "status.nominatedNodeName": ("status", "nominatedNodeName"),
    },
)
CORE_EVENTS = ResourceType(
    group="",
    version="v1",
    plural="events",
    singular="event",
    kind="Event",
    short_names=("ev",),
    storage="events",
    field_labels=_CORE_EVENT_FIELDS,
)
EVENTS_V1 = ResourceType(
    group="events.k8s.io",
    version="v1",
    plural="events",
    singular="event",
    kind="Event",
    short_names=("ev",),
    storage="events",
    field_labels=_EVENTS_V1_FIELDS,
)
#: ``batch/v1`` Jobs (``pkg/registry/batch/job``): the simulated KubeRay operator's submitter Jobs.
#: Field labels: ``batch/v1`` ``conversion.go`` registers ``status.successful`` besides metadata.
JOBS = ResourceType(
    group="batch",
    version="v1",
    plural="jobs",
    singular="job",
    kind="Job",
    subresources=frozenset({"status"}),
    categories=("all",),
    field_labels={**META_FIELDS, "status.successful": ("status", "succeeded")},
)

CRDS = ResourceType(
    group="apiextensions.k8s.io",
    version="v1",
    plural="customresourcedefinitions",
    singular="customresourcedefinition",
    kind="CustomResourceDefinition",
    namespaced=False,
    subresources=frozenset({"status"}),
    short_names=("crd", "crds"),
    categories=("api-extensions",),
)

#: The built-in (non-CRD) kinds; custom resources come from CRDs (:mod:`fakekube._registry.kinds`).
ALL_TYPES: tuple[ResourceType, ...] = (
    NAMESPACES,
    CONFIGMAPS,
    SERVICES,
    PODS,
    CORE_EVENTS,
    EVENTS_V1,
    JOBS,
    CRDS,
)

#: (group, version) → {plural → ResourceType}
BY_GROUP_VERSION: dict[tuple[str, str], dict[str, ResourceType]] = {}
for _rt in ALL_TYPES:
    BY_GROUP_VERSION.setdefault((_rt.group, _rt.version), {})[_rt.plural] = _rt


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    """The served resource ``plural`` in ``group/version``, or None."""
    return BY_GROUP_VERSION.get((group, version), {}).get(plural)
