"""Per-kind strategies: what differs between kinds on create, update and delete.

The generic store (:mod:`fakekube._registry.generic`) runs the same steps for every kind and asks
the kind's :class:`Strategy` at fixed points, as ``k8s.io/apiserver/pkg/registry/rest``'s
``BeforeCreate``/``BeforeUpdate``/``BeforeDelete`` ask a ``RESTCreateStrategy``,
``RESTUpdateStrategy`` and ``RESTDeleteStrategy`` (``create.go``, ``update.go``, ``delete.go``):

=============================  =====================================================================
method / attribute             Kubernetes counterpart
=============================  =====================================================================
``prepare_for_create``         ``PrepareForCreate``: reset fields the client may not set
``validate``                   ``Validate`` (+ the CRD schema for custom resources): ``details.causes``
``defaults_on_create``         fields set once the new object is valid (``Canonicalize`` on create)
``prepare_for_update``         ``PrepareForUpdate``: keep what this (sub)resource may not change
``validate_update``            ``ValidateUpdate``
``generation_tracked``         whether ``metadata.generation`` is set and bumped on spec changes
``allow_unconditional_update`` ``AllowUnconditionalUpdate``: PUT without ``resourceVersion``
``return_deleted_object``      the generic ``Store.ReturnDeletedObject`` (answer a delete with the object)
``before_delete``              a kind's own deletion (the namespace REST's ``Delete``, CRD cleanup)
=============================  =====================================================================

Strategies of this module: :class:`Strategy` (built-in kinds without rules of their own, e.g.
ConfigMaps), :class:`NamespaceStrategy` (``pkg/registry/core/namespace/strategy.go``),
:class:`ServiceStrategy` (``pkg/registry/core/service/strategy.go``), :class:`PodStrategy`
(``pkg/registry/core/pod/strategy.go``), :class:`JobStrategy` (``pkg/registry/batch/job/strategy.go``),
:class:`EventStrategy`,
:class:`CRDStrategy` (apiextensions ``pkg/registry/customresourcedefinition/strategy.go``),
:class:`StatusStrategy` (any ``/status``), :class:`CustomResourceStrategy` and
:class:`CustomResourceStatusStrategy` (apiextensions
``pkg/registry/customresource/strategy.go`` and ``status_strategy.go``). :func:`strategy_for` picks one.
A new kind with rules of its own gets a subclass and an entry in :data:`_BUILTIN`.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakekube import _apierrors as errors
from fakekube._admission.schema import Schemas
from fakekube._registry import objects, poddefaults
from fakekube._registry.kinds import has_cel_rules, prepare_crd
from fakekube._resources import CORE_EVENTS, CRDS, EVENTS_V1, JOBS, NAMESPACES, PODS, SERVICES, ResourceType
from fakekube._storage.store import Store, Stored
from kubeapi.types import JSON


@dataclass
class WriteContext:
    """What a write knows about its request (Go passes it as ``ctx`` and the options).

    ``manager``: the field manager recorded in managedFields; ``field_validation``: ``""``,
    ``Ignore``, ``Warn`` or ``Strict``; ``dry_run``: compute the answer, store nothing;
    ``warnings``: ``Warning`` header texts the write adds (unknown fields, deprecations)."""

    manager: str = "unknown"
    field_validation: str = ""
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


class Strategy:
    """The default strategy: a built-in kind with ObjectMeta validation only (e.g. ConfigMaps).

    Subclasses override the hooks; every hook may mutate the object it is given (owned by the
    generic store). ``validate``/``validate_update`` get the causes the generic ObjectMeta
    validation found and return the object to go on with (a schema may prune and default it)
    with all ``details.causes`` of a 422 (empty: valid), the kind's after the generic ones."""

    #: ``metadata.generation`` is 1 on create and bumped when anything but metadata/status changes.
    generation_tracked = False
    #: Whether an update may omit ``metadata.resourceVersion`` (else 422 ``resourceVersion`` required).
    allow_unconditional_update = True
    #: Whether a DELETE that removes the object answers with it (else a ``Status`` Success).
    return_deleted_object = False
    #: A ``/status`` strategy: the write changes ``status`` only; no ObjectMeta validation,
    #: generation or key-order step (``status_strategy.go``).
    status_only = False

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt

    def prepare_for_create(self, ctx: WriteContext, obj: JSON) -> None:
        """Reset what a create body may not set (after the generic store dropped system metadata)."""

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """The kind's own checks of a new object, after the generic ObjectMeta ``causes``."""
        return obj, causes

    def defaults_on_create(self, obj: JSON) -> None:
        """Fields set once a new object is valid (before its key order is canonicalised)."""

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """Copy from ``old`` into ``obj`` what this (sub)resource's writes may not change."""

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """The kind's own checks of an update, after the generic ObjectMeta ``causes``."""
        return self.validate(ctx, obj, causes)

    def before_delete(self, storage: Store, old: Stored, dry_run: bool) -> Stored | JSON | None:
        """A kind's own deletion step: an object to answer instead of deleting (e.g. a namespace
        marked Terminating), or None to go on with the generic finalizer-aware deletion."""
        return None


class NamespaceStrategy(Strategy):
    """Namespaces: ``spec.finalizers: [kubernetes]`` and ``status.phase: Active`` on create, the
    ``kubernetes.io/metadata.name`` label; spec and status never change through the object; a
    DELETE marks the namespace Terminating (the namespace controller empties and removes it)."""

    return_deleted_object = True

    def defaults_on_create(self, obj: JSON) -> None:
        """The immutable name label, the ``kubernetes`` finalizer and phase ``Active``."""
        meta = obj["metadata"]
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """Spec (finalizers) and status are only changed by the server."""
        obj["spec"] = old.get("spec", {})
        obj["status"] = old.get("status", {})

    def before_delete(self, storage: Store, old: Stored, dry_run: bool) -> Stored | JSON | None:
        """Mark the namespace Terminating (``deletionTimestamp``, ``status.phase``); its
        ``spec.finalizers: [kubernetes]`` keeps it until the namespace controller has emptied it."""
        obj = objects.deep_copy(old.raw)
        if not obj["metadata"].get("deletionTimestamp"):
            obj["metadata"]["deletionTimestamp"] = objects.now()
        obj["status"] = {"phase": "Terminating"}
        if dry_run:
            return obj
        return storage.replace(NAMESPACES.storage_key, obj["metadata"]["name"], obj)


_cluster_ips = itertools.count(10)


class ServiceStrategy(Strategy):
    """Services: spec defaults (type, protocol, targetPort, an allocated clusterIP...) with minimal
    validation of the ports; ``clusterIP`` is immutable once allocated."""

    return_deleted_object = True

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """Defaults and minimal validation of the spec."""
        return obj, causes + _service_defaults(obj)

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """An update without ``clusterIP`` keeps the allocated one."""
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict) and not spec.get("clusterIP"):
            spec["clusterIP"] = old.get("spec", {}).get("clusterIP", "")


def _service_defaults(obj: JSON) -> list[JSON]:
    """Defaults and minimal validation of a Service spec; returns causes (400 for a non-object spec)."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise errors.bad_request(
            "json: cannot unmarshal into Go struct field Service.spec of type v1.ServiceSpec"
        )
    spec.setdefault("type", "ClusterIP")
    causes: list[JSON] = []
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and not headless and spec["type"] != "ExternalName":
        causes.append(errors.field_required("spec.ports", ""))
    for i, p in enumerate(ports):
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            causes.append(errors.field_required(f"spec.ports[{i}].port", ""))
            continue
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p["port"])
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            n = next(_cluster_ips)
            spec["clusterIP"] = str(ipaddress.IPv4Address("10.96.0.0") + n)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    obj.setdefault("status", {"loadBalancer": {}})
    return causes


_RESTART = ("OnFailure", "Never")


class JobStrategy(Strategy):
    """``batch/v1`` Jobs: the rules of ``pkg/registry/batch/job/strategy.go`` (kube-apiserver
    v1.37) that the simulated KubeRay operator's submitter Jobs need.

    - create: ``status`` reset, ``generation`` tracked; defaults of ``pkg/apis/batch/v1/defaults.go``
      (``completions``/``parallelism`` 1 when both unset, ``backoffLimit`` 6, ``completionMode``
      ``NonIndexed``, ``suspend`` false, ``podReplacementPolicy`` ``TerminatingOrFailed``,
      ``manualSelector`` false); ``generateSelector``: ``spec.selector.matchLabels``
      ``batch.kubernetes.io/controller-uid: <uid>`` and the template labels
      ``batch.kubernetes.io/controller-uid``, ``batch.kubernetes.io/job-name``, ``controller-uid``,
      ``job-name``, which an unlabelled Job also takes as its own labels;
    - validation: ``spec.template.spec.restartPolicy`` must be ``OnFailure`` or ``Never``
      (``ValidateJobSpec``); ``spec.selector`` and ``spec.template`` are immutable on update
      (``ValidateJobUpdate``, the template while not suspended).

    The template gets the Pod spec defaults (:func:`fakekube._registry.poddefaults.template_defaults`);
    its own validation (``ValidatePodTemplateSpec``) is not done.
    """

    generation_tracked = True
    return_deleted_object = True

    def prepare_for_create(self, ctx: WriteContext, obj: JSON) -> None:
        """``PrepareForCreate``: a new Job has no status."""
        obj["status"] = {}

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """``SetDefaults_Job`` and ``ValidateJobSpec``'s restartPolicy rule."""
        spec = obj.setdefault("spec", {})
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = spec["parallelism"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        if "podFailurePolicy" not in spec:
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        pod = (spec.get("template") or {}).get("spec")
        if not isinstance(pod, dict):
            return obj, [*causes, errors.field_required("spec.template.spec.containers", "")]
        poddefaults.template_defaults(pod)
        if pod.get("restartPolicy") not in _RESTART:
            # Any other value (also "Always") is a Required error with the valid values (checked
            # on kube-apiserver v1.37: refkube).
            detail = f'valid values: "{_RESTART[0]}", "{_RESTART[1]}"'
            causes = [*causes, errors.field_required("spec.template.spec.restartPolicy", detail)]
        return obj, causes

    def defaults_on_create(self, obj: JSON) -> None:
        """``generateSelector`` (the uid exists now)."""
        spec = obj["spec"]
        if spec.get("manualSelector"):
            return
        uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        spec["manualSelector"] = False
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        # SetDefaults_Job: a Job without labels takes its template's.
        if not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """``PrepareForUpdate``: status is kept; selector and template are immutable, so an update
        that omits them keeps the old ones (a changed value is refused by ``validate_update``)."""
        obj["status"] = old.get("status", {})

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """Defaults again, then ``field is immutable`` for a changed selector or (unsuspended) template."""
        obj, causes = self.validate(ctx, obj, causes)
        new_spec, old_spec = obj["spec"], old.get("spec") or {}
        if new_spec.get("selector") is None:
            new_spec["selector"] = old_spec.get("selector")
        elif new_spec.get("selector") != old_spec.get("selector"):
            causes = [
                *causes,
                errors.field_invalid("spec.selector", new_spec["selector"], "field is immutable"),
            ]
        if not old_spec.get("suspend") and new_spec.get("template") != old_spec.get("template"):
            causes = [
                *causes,
                errors.field_invalid("spec.template", new_spec.get("template"), "field is immutable"),
            ]
        return obj, causes


class PodStrategy(Strategy):
    """Pods (``pkg/registry/core/pod/strategy.go``): a create's status is reset to ``Pending``
    with its QoS class, the v1 defaults and admission additions are filled in
    (:mod:`fakekube._registry.poddefaults`); the object's writes keep the stored status (it
    changes through ``/status``, the kubelet's way). Spec immutability on update is not checked.
    A DELETE removes the pod at once (as with ``gracePeriodSeconds=0``; there is no kubelet to
    wait for unless the simulation runs one). ``metadata.generation`` is tracked (bumped on spec
    changes, as since ``PodObservedGenerationTracking``)."""

    return_deleted_object = True
    generation_tracked = True

    def prepare_for_create(self, ctx: WriteContext, obj: JSON) -> None:
        """The status is the server's: ``Pending`` and the QoS class (set after validation)."""
        obj.pop("status", None)

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """Containers required, each named (uniquely) and with an image."""
        return obj, causes + poddefaults.validate(obj)

    def defaults_on_create(self, obj: JSON) -> None:
        """Defaults, admission additions and the initial status."""
        poddefaults.apply_defaults(obj)
        obj["status"] = poddefaults.initial_status(obj)

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """The stored status is kept (``newPod.Status = oldPod.Status``)."""
        if "status" in old:
            obj["status"] = old["status"]


class EventStrategy(Strategy):
    """Core v1 Events (also stored for ``events.k8s.io/v1``): not validated; the zero values a
    typed Event serializes are filled in on create."""

    def defaults_on_create(self, obj: JSON) -> None:
        """Null times, empty strings and source, as the typed core v1 Event serializes them."""
        obj.setdefault("involvedObject", {})
        for f in ("firstTimestamp", "lastTimestamp", "eventTime"):
            obj.setdefault(f, None)
        obj.setdefault("source", {})
        obj.setdefault("reportingComponent", "")
        obj.setdefault("reportingInstance", "")


class CRDStrategy(Strategy):
    """CustomResourceDefinitions: checked and completed by :func:`fakekube._registry.kinds.prepare_crd`
    (422 causes, v1 defaults, the status a real server's controllers set at once); ``generation``
    tracked; deleting one deletes its objects first (the ``customresourcecleanup`` step)."""

    generation_tracked = True

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """``validate_crd`` causes, defaults and status of a new CRD."""
        obj, crd_causes = prepare_crd(obj, None, objects.now())
        return obj, causes + crd_causes

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """As :meth:`validate`, keeping the stored conditions and storedVersions."""
        obj, crd_causes = prepare_crd(obj, old, objects.now())
        return obj, causes + crd_causes

    def before_delete(self, storage: Store, old: Stored, dry_run: bool) -> Stored | JSON | None:
        """A CRD without finalizers takes its custom resources with it (its objects go first)."""
        meta = old.obj["metadata"]
        if not dry_run and not meta.get("finalizers"):
            for k, _ in list(storage.scan(meta["name"])):
                storage.delete(meta["name"], k)
        return None


class CustomResourceStrategy(Strategy):
    """Custom resources (apiextensions ``customresource/strategy.go``): the body's ``kind`` must be
    the CRD's; the CRD schema prunes, defaults and validates (:mod:`fakekube._admission.schema`,
    None when schemas are off); with a ``status`` subresource the object's writes leave ``status``
    alone; ``generation`` tracked; updates need ``metadata.resourceVersion``."""

    generation_tracked = True
    allow_unconditional_update = False

    def __init__(self, rt: ResourceType, schemas: Schemas | None) -> None:
        super().__init__(rt)
        self.schemas = schemas
        self.status_subresource = "status" in rt.subresources

    def prepare_for_create(self, ctx: WriteContext, obj: JSON) -> None:
        """With a ``status`` subresource a create's ``status`` is dropped."""
        if self.status_subresource:
            obj.pop("status", None)

    def _schema(self, ctx: WriteContext, obj: JSON, old: JSON | None) -> tuple[JSON, list[JSON]]:
        if self.schemas is None:
            return obj, []
        out = self.schemas.check(self.rt, obj, old, ctx.field_validation)
        ctx.warnings.extend(out.warnings)
        return out.obj, out.causes

    def validate(self, ctx: WriteContext, obj: JSON, causes: list[JSON]) -> tuple[JSON, list[JSON]]:
        """The kind check, then the schema (its causes after the metadata ones, as Validate)."""
        return self._validate(ctx, obj, None, causes)

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """As :meth:`validate`, with ``old`` for ratcheting and transition rules."""
        return self._validate(ctx, obj, old, causes)

    def _validate(
        self, ctx: WriteContext, obj: JSON, old: JSON | None, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        causes = list(causes)
        if obj.get("kind") != self.rt.kind:
            causes.append(errors.field_invalid("kind", obj.get("kind", ""), f"must be {self.rt.kind}"))
        if self.schemas is None:
            return obj, causes
        obj, schema_causes = self._schema(ctx, obj, old)
        causes += schema_causes
        if has_cel_rules(self.rt):
            causes += objects.cel_skipped(causes)
        return obj, causes

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """With a ``status`` subresource the stored ``status`` is kept."""
        if self.status_subresource:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)


class StatusStrategy(Strategy):
    """Writes to a ``/status`` subresource: only ``status`` changes, everything else is the stored
    object's (``status_strategy.go`` of the kinds that have one); no further checks."""

    status_only = True

    def prepare_for_update(self, ctx: WriteContext, obj: JSON, old: JSON) -> None:
        """Everything but ``status`` comes from ``old``."""
        status = obj.get("status", _NO_STATUS)
        obj.clear()
        obj.update(copy.deepcopy(old))
        if status is _NO_STATUS:
            obj.pop("status", None)
        else:
            obj["status"] = status

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """No checks of its own (``causes`` is empty: a status write skips ObjectMeta validation)."""
        return obj, causes


class CustomResourceStatusStrategy(StatusStrategy):
    """Writes to a custom resource's ``/status`` (apiextensions ``status_strategy.go``): validated
    by the CRD schema only."""

    def __init__(self, rt: ResourceType, schemas: Schemas | None) -> None:
        super().__init__(rt)
        self.main = CustomResourceStrategy(rt, schemas)

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """The schema only."""
        if self.main.schemas is None:
            return obj, causes
        obj, schema_causes = self.main._schema(ctx, obj, old)
        return obj, causes + schema_causes


class CRDStatusStrategy(StatusStrategy):
    """Writes to a CRD's ``/status``: the status the server's controllers keep is recomputed
    (:func:`fakekube._registry.kinds.prepare_crd`)."""

    def validate_update(
        self, ctx: WriteContext, obj: JSON, old: JSON, causes: list[JSON]
    ) -> tuple[JSON, list[JSON]]:
        """The CRD check, keeping the stored conditions and storedVersions."""
        obj, crd_causes = prepare_crd(obj, old, objects.now())
        return obj, causes + crd_causes


_NO_STATUS: Any = object()

_BUILTIN: dict[int, Callable[[ResourceType], Strategy]] = {
    id(NAMESPACES): NamespaceStrategy,
    id(SERVICES): ServiceStrategy,
    id(PODS): PodStrategy,
    id(CORE_EVENTS): EventStrategy,
    id(EVENTS_V1): EventStrategy,
    id(CRDS): CRDStrategy,
    id(JOBS): JobStrategy,
}


def strategy_for(rt: ResourceType, schemas: Schemas | None, subresource: str | None = None) -> Strategy:
    """The strategy of writes to ``rt`` (``subresource`` ``"status"`` of a custom resource: its
    status strategy); ``schemas`` checks custom resources against their CRD (None: no schema)."""
    if rt.custom:
        if subresource == "status":
            return CustomResourceStatusStrategy(rt, schemas)
        return CustomResourceStrategy(rt, schemas)
    if subresource == "status":
        return CRDStatusStrategy(rt) if rt is CRDS else StatusStrategy(rt)
    return _BUILTIN.get(id(rt), Strategy)(rt)
