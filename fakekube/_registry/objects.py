"""Object lifecycle rules: what the server sets, keeps, defaults and validates on each write.

These are the apiserver's ``rest.BeforeCreate`` / ``rest.BeforeUpdate`` and the kinds' registry
strategies, reduced to the served kinds:

* create: ``generateName`` (5 random characters from ``k8s.io/apiserver/pkg/storage/names``),
  ``uid``, ``creationTimestamp``, ``generation: 1`` (custom resources), deletion fields cleared;
  with a ``status`` subresource, ``status`` is dropped (apiextensions ``strategy.PrepareForCreate``).
* update: identity and system metadata come from the stored object; with a ``status`` subresource a
  write to the object keeps the stored ``status`` and a write to ``/status`` keeps everything but
  ``status`` (apiextensions ``strategy.go`` / ``status_strategy.go``); ``generation`` increments when
  anything but ``metadata`` and ``status`` changed (custom resources).
* validation: ``metadata.name`` (per kind: RFC 1123 subdomain, RFC 1123 label for namespaces,
  RFC 1035 label for Services), labels and annotation keys, the kind of a custom resource.
* Namespace and Service defaults; core ``v1`` ⇄ ``events.k8s.io/v1`` Event conversion.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import itertools
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from fakekube import _apierrors as errors
from fakekube import _validation as validation
from fakekube._apierrors import ApiError
from fakekube._registry.kinds import has_cel_rules
from fakekube._resources import CRDS, EVENTS_V1, NAMESPACES, SERVICES, ResourceType

JSON = dict[str, Any]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
)


def now() -> str:
    """The current UTC time in RFC 3339 with seconds, as ``metav1.Time`` serializes."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    """``prefix`` plus 5 random characters (names.SimpleNameGenerator; prefix cut to fit 63)."""
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(random.choices(_GENERATE_ALPHABET, k=5))


#: TotalAnnotationSizeLimitB: the most bytes an object's annotation keys and values may take.
ANNOTATIONS_SIZE_LIMIT = 256 * 1024


def validate_meta(rt: ResourceType, obj: JSON) -> list[JSON]:
    """``details.causes`` for invalid metadata of ``obj`` (name, labels, annotation keys and size)."""
    meta = obj["metadata"]
    causes: list[JSON] = []
    name = meta.get("name", "")
    if not name:
        causes.append(errors.field_required("metadata.name", "name or generateName is required"))
    else:
        for msg in rt.name_validator(name):
            causes.append(errors.field_invalid("metadata.name", name, msg))
    for key, value in (meta.get("labels") or {}).items():
        for msg in validation.qualified_name(key):
            causes.append(errors.field_invalid("metadata.labels", key, msg))
        for msg in validation.label_value(value):
            causes.append(errors.field_invalid("metadata.labels", value, msg))
    for key in meta.get("annotations") or {}:
        for msg in validation.qualified_name(key.lower()):
            causes.append(errors.field_invalid("metadata.annotations", key, msg))
    # ValidateAnnotationsSize (apimachinery objectmeta.go): keys + values at most 256 KiB in all,
    # which is what refuses a client-side `kubectl apply` of a multi-MB CRD on a real cluster.
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in (meta.get("annotations") or {}).items())
    if size > ANNOTATIONS_SIZE_LIMIT:
        msg = f"Too long: may not be more than {ANNOTATIONS_SIZE_LIMIT} bytes"
        causes.append({"reason": "FieldValueTooLong", "message": msg, "field": "metadata.annotations"})
    if rt.custom and obj.get("kind") != rt.kind:
        causes.append(errors.field_invalid("kind", obj.get("kind", ""), f"must be {rt.kind}"))
    return causes


def invalid(rt: ResourceType, obj: JSON, causes: list[JSON]) -> ApiError:
    """The 422 for ``causes`` found in ``obj`` (named by the body's kind, as apiextensions does)."""
    return errors.invalid(rt, obj["metadata"].get("name", ""), causes, obj.get("kind"))


_cluster_ips = itertools.count(10)


def _service_defaults(obj: JSON) -> list[JSON]:
    """Defaults and minimal validation of a Service spec; returns causes."""
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


def _event_defaults(obj: JSON) -> None:
    """The zero values a typed core v1 Event serializes (null times, empty strings/source)."""
    obj.setdefault("involvedObject", {})
    for f in ("firstTimestamp", "lastTimestamp", "eventTime"):
        obj.setdefault(f, None)
    obj.setdefault("source", {})
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")


def _namespace_defaults(obj: JSON) -> None:
    meta = obj["metadata"]
    meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    obj["spec"] = {"finalizers": ["kubernetes"]}
    obj["status"] = {"phase": "Active"}


SchemaHook = Callable[[JSON, "JSON | None"], "tuple[JSON, list[JSON]]"]


def prepare_create(
    rt: ResourceType, namespace: str | None, obj: JSON, schema: SchemaHook | None = None
) -> JSON:
    """Turn a create body (already shape- and type-checked, owned by the caller) into the object to store.

    ``schema(obj, old)`` returns the pruned/defaulted object and its schema causes (custom
    resources); they are reported together with the metadata causes, metadata first, as the
    apiextensions strategy's Validate does. Raises 400 on a contradicting namespace, 422 Invalid
    on bad names/labels/kind/schema.
    """
    meta = obj["metadata"]
    if rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(meta["generateName"])
    for f in _SYSTEM_META:
        meta.pop(f, None)
    meta.pop("managedFields", None)
    if "status" in rt.subresources and rt.custom:
        obj.pop("status", None)  # PrepareForCreate drops it before validation
    causes = validate_meta(rt, obj)
    if schema is not None:
        obj, schema_causes = schema(obj, None)
        meta = obj["metadata"]
        causes += schema_causes
        if rt.custom and has_cel_rules(rt):
            causes += _cel_skipped(causes)
    if rt is SERVICES:
        causes += _service_defaults(obj)
    if causes:
        raise invalid(rt, obj, causes)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    if rt.custom or rt is CRDS:  # CRDs too (apiextensions customresourcedefinition/strategy.go)
        meta["generation"] = 1
    if rt is NAMESPACES:
        _namespace_defaults(obj)
    if rt.storage == "events":
        _event_defaults(obj)
    return canonical(rt, obj)


_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def canonical(rt: ResourceType, obj: JSON) -> JSON:
    """``obj`` with its keys in the order the apiserver writes them: custom resources (unstructured,
    Go maps) sorted; built-in kinds ``kind, apiVersion, metadata`` first and metadata in ObjectMeta's
    field order. A ``resourceVersion`` slot is kept for the store to fill."""
    meta = {"resourceVersion": "", **obj["metadata"]}
    if rt.custom:
        meta = {k: meta[k] for k in sorted(meta)}
        return {k: (meta if k == "metadata" else obj[k]) for k in sorted(obj)}
    ordered = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered.update((k, v) for k, v in meta.items() if k not in ordered)
    out: JSON = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "metadata": ordered}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def _without(obj: JSON, *keys: str) -> JSON:
    return {k: v for k, v in obj.items() if k not in keys}


# Cause reasons that stop the apiextensions strategy from running CEL rules (hasBlockingErr).
_BLOCKING = frozenset(
    {
        "FieldValueRequired",
        "FieldValueNotSupported",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
_SKIPPED = {
    "reason": "FieldValueInvalid",
    "field": "<nil>",
    "message": "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
}


def _cel_skipped(causes: list[JSON]) -> list[JSON]:
    """The "rules were not checked" cause the strategy adds when a blocking error (also a metadata
    one, e.g. a missing name) kept a CRD's CEL rules from running; [] otherwise. Only for a CRD
    version that has rules (a CRD without, and the CRD kind itself, get no such cause)."""
    if any(c["reason"] in _BLOCKING for c in causes) and _SKIPPED not in causes:
        return [_SKIPPED]
    return []


def prepare_update(
    rt: ResourceType, old: JSON, new: JSON, subresource: str | None, schema: SchemaHook | None = None
) -> JSON:
    """The object an update of ``old`` with body ``new`` (owned by the caller) stores.

    ``subresource`` is None or ``"status"``. Identity and system metadata are taken from ``old``;
    the status split and ``generation`` rule are described in the module docstring; ``schema`` as
    for :func:`prepare_create` (with ``old`` for ratcheting and transition rules). Raises 422 on
    invalid metadata or schema.
    """
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        if schema is not None:
            result, causes = schema(result, old)
            if causes:
                raise invalid(rt, result, causes)
        return result
    meta = new["metadata"]
    old_meta = old["metadata"]
    for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        if f in old_meta:
            meta[f] = old_meta[f]
        else:
            meta.pop(f, None)
    meta["name"] = old_meta["name"]
    if rt.namespaced:
        meta["namespace"] = old_meta["namespace"]
    meta.pop("managedFields", None)
    if "status" in rt.subresources and rt.custom:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if rt is NAMESPACES:
        new["spec"] = old.get("spec", {})
        new["status"] = old.get("status", {})
    causes = validate_meta(rt, new)
    if schema is not None:
        new, schema_causes = schema(new, old)
        meta = new["metadata"]
        causes += schema_causes
        if rt.custom and has_cel_rules(rt):
            causes += _cel_skipped(causes)
    if old_meta.get("deletionTimestamp"):
        added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
        if added:
            # ValidateObjectMetaUpdate: a deleting object may lose finalizers but not gain any.
            shown = ", ".join(f'"{f}"' for f in added)
            cause = {
                "reason": "FieldValueForbidden",
                "field": "metadata.finalizers",
                "message": "Forbidden: no new finalizers can be added if the object is being "
                f"deleted, found new finalizers []string{{{shown}}}",
            }
            causes += [cause, cause]  # reported twice by the real server (object and meta update checks)
    if rt is SERVICES:
        # clusterIP is immutable once allocated.
        spec = new.setdefault("spec", {})
        if isinstance(spec, dict) and not spec.get("clusterIP"):
            spec["clusterIP"] = old.get("spec", {}).get("clusterIP", "")
        causes += _service_defaults(new)
    if causes:
        raise invalid(rt, new, causes)
    versioned = rt.custom or rt is CRDS
    if versioned and _without(new, "metadata", "status") != _without(old, "metadata", "status"):
        meta["generation"] = old_meta.get("generation", 1) + 1
    return canonical(rt, new)


def same_content(a: JSON, b: JSON) -> bool:
    """Whether two objects differ only in ``metadata.resourceVersion`` (a no-op write)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        if k == "metadata":
            if _without(a[k], "resourceVersion") != _without(b[k], "resourceVersion"):
                return False
        elif a[k] != b[k]:
            return False
    return True


def deep_copy(raw: bytes) -> JSON:
    """A private, mutable copy of a stored object from its JSON (faster than ``copy.deepcopy``)."""
    obj: JSON = json.loads(raw)
    return obj


# --- core v1 Event ⇄ events.k8s.io/v1 Event (pkg/apis/events/v1 conversion) ----------------------

_EVENT_RENAMES = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)


def to_storage(rt: ResourceType, obj: JSON) -> JSON:
    """Convert a request object of ``rt`` to the stored form (events.k8s.io Events are stored as core v1;
    a custom resource of a non-storage version gets the storage version's ``apiVersion``)."""
    if rt.stored_version and rt.stored_version != rt.version:
        return {**obj, "apiVersion": f"{rt.group}/{rt.stored_version}"}
    if rt is not EVENTS_V1:
        return obj
    out = {k: v for k, v in obj.items() if k not in {n for _, n in _EVENT_RENAMES}}
    for core, new in _EVENT_RENAMES:
        if new in obj:
            out[core] = obj[new]
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def from_storage(rt: ResourceType, obj: JSON) -> JSON:
    """Convert a stored object to the form ``rt`` serves: events.k8s.io Events renamed; a custom
    resource served in a non-storage version with ``apiVersion`` rewritten (conversion strategy None)."""
    if rt.stored_version and rt.stored_version != rt.version:
        return {**obj, "apiVersion": rt.api_version}
    if rt is not EVENTS_V1:
        return obj
    out = {k: v for k, v in obj.items() if k not in {c for c, _ in _EVENT_RENAMES}}
    for core, new in _EVENT_RENAMES:
        if core in obj:
            out[new] = obj[core]
    out["apiVersion"], out["kind"] = rt.api_version, "Event"
    # events.k8s.io/v1 declares these omitempty: zero values are left out.
    for f in (
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
        "note",
        "type",
        "deprecatedCount",
    ):
        if out.get(f) in ("", 0):
            out.pop(f, None)
    return out


def fail_if(cond: bool, err: ApiError) -> None:
    """Raise ``err`` when ``cond`` holds (keeps request handlers linear)."""
    if cond:
        raise err
