"""Helpers every strategy and the generic store share: server-set metadata, ObjectMeta validation,
key order, copies, and the conversions between served and stored forms.

* ``generateName`` (5 random characters from ``k8s.io/apiserver/pkg/storage/names``), the time
  format of ``metav1.Time``;
* ObjectMeta validation (name per kind: RFC 1123 subdomain, RFC 1123 label for namespaces,
  RFC 1035 label for Services; labels and annotation keys and size), the 422 it makes, and the
  "rules were not checked" cause of a blocked CEL validation;
* the key order the apiserver writes (:func:`canonical`), no-op write detection;
* core ``v1`` ⇄ ``events.k8s.io/v1`` Event conversion and served ⇄ stored ``apiVersion``.

What differs between kinds is in :mod:`fakekube._registry.strategy`; the create/update/delete
steps are :mod:`fakekube._registry.generic`.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

from fakekube import _apierrors as errors
from fakekube._resources import EVENTS_V1, ResourceType
from kubeapi import validation
from kubeapi.meta import OBJECT_META_ORDER, SERVER_SET_FIELDS
from kubeapi.status import StatusError
from kubeapi.types import JSON

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: Metadata the server sets (``FillObjectMetaSystemFields``), cleared from a create body.
SYSTEM_META = SERVER_SET_FIELDS


#: (second since the epoch, its RFC 3339 text): one tuple, replaced whole, so a write's worker
#: thread never reads one second's number with another's text.
_now_cache: tuple[int, str] = (-1, "")


def now() -> str:
    """The current UTC time in RFC 3339 with seconds, as ``metav1.Time`` serializes. The text is
    formatted once per second (every write of a burst asks for it, often twice)."""
    global _now_cache
    second = int(time.time())
    cached = _now_cache
    if cached[0] == second:
        return cached[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    _now_cache = (second, text)
    return text


_UID_BATCH = 256
_uid_pool: list[str] = []
if hasattr(os, "register_at_fork"):  # a forked server process draws its own uids
    os.register_at_fork(after_in_child=_uid_pool.clear)


def _uid_batch() -> list[str]:
    """``_UID_BATCH`` version-4 UUIDs from one ``os.urandom`` read (one getrandom(2) call instead
    of one per create), formatted as ``uuid.UUID`` does."""
    raw = os.urandom(16 * _UID_BATCH)
    return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)]


def new_uid() -> str:
    """A new ``metadata.uid``: a random (version 4) UUID, as ``uuid.NewUUID`` in the apiserver,
    from the operating system's CSPRNG as ``uuid.uuid4`` (and Go's crypto/rand) draws it."""
    try:
        return _uid_pool.pop()
    except IndexError:
        _uid_pool.extend(_uid_batch())
        return _uid_pool.pop()


def generate_name(prefix: str) -> str:
    """``prefix`` plus 5 random characters (names.SimpleNameGenerator; prefix cut to fit 63)."""
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(random.choices(_GENERATE_ALPHABET, k=5))


#: TotalAnnotationSizeLimitB: the most bytes an object's annotation keys and values may take.
ANNOTATIONS_SIZE_LIMIT = 256 * 1024


def validate_meta(rt: ResourceType, obj: JSON) -> list[JSON]:
    """``details.causes`` for invalid metadata of ``obj`` (name, labels, annotation keys and size),
    as apimachinery's ``ValidateObjectMeta`` (``api/validation/objectmeta.go``)."""
    meta = obj["metadata"]
    causes: list[JSON] = []
    name = meta.get("name", "")
    if not name:
        causes.append(errors.field_required("metadata.name", "name or generateName is required"))
    else:
        for msg in rt.name_validator(name):
            causes.append(errors.field_invalid("metadata.name", name, msg))
    for key, value in (meta.get("labels") or {}).items():
        for msg in validation.is_label_key(key):
            causes.append(errors.field_invalid("metadata.labels", key, msg))
        for msg in validation.is_label_value(value):
            causes.append(errors.field_invalid("metadata.labels", value, msg))
    for key in meta.get("annotations") or {}:
        for msg in validation.is_label_key(key.lower()):
            causes.append(errors.field_invalid("metadata.annotations", key, msg))
    # ValidateAnnotationsSize (apimachinery objectmeta.go): keys + values at most 256 KiB in all,
    # which is what refuses a client-side `kubectl apply` of a multi-MB CRD on a real cluster.
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in (meta.get("annotations") or {}).items())
    if size > ANNOTATIONS_SIZE_LIMIT:
        msg = f"Too long: may not be more than {ANNOTATIONS_SIZE_LIMIT} bytes"
        causes.append({"reason": "FieldValueTooLong", "message": msg, "field": "metadata.annotations"})
    return causes


def invalid(rt: ResourceType, obj: JSON, causes: list[JSON]) -> StatusError:
    """The 422 for ``causes`` found in ``obj`` (named by the body's kind, as apiextensions does)."""
    return errors.invalid(rt, obj["metadata"].get("name", ""), causes, obj.get("kind"))


def canonical(rt: ResourceType, obj: JSON) -> JSON:
    """``obj`` with its keys in the order the apiserver writes them: custom resources (unstructured,
    Go maps) sorted; built-in kinds ``kind, apiVersion, metadata`` first and metadata in ObjectMeta's
    field order. A ``resourceVersion`` slot is kept for the store to fill."""
    meta = {"resourceVersion": "", **obj["metadata"]}
    if rt.custom:
        meta = {k: meta[k] for k in sorted(meta)}
        return {k: (meta if k == "metadata" else obj[k]) for k in sorted(obj)}
    ordered = {k: meta[k] for k in OBJECT_META_ORDER if k in meta}
    ordered.update((k, v) for k, v in meta.items() if k not in ordered)
    out: JSON = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "metadata": ordered}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def without(obj: JSON, *keys: str) -> JSON:
    """A shallow copy of ``obj`` without ``keys``."""
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


def cel_skipped(causes: list[JSON]) -> list[JSON]:
    """The "rules were not checked" cause the strategy adds when a blocking error (also a metadata
    one, e.g. a missing name) kept a CRD's CEL rules from running; [] otherwise. Only for a CRD
    version that has rules (a CRD without, and the CRD kind itself, get no such cause)."""
    if any(c["reason"] in _BLOCKING for c in causes) and _SKIPPED not in causes:
        return [_SKIPPED]
    return []


def same_content(a: JSON, b: JSON) -> bool:
    """Whether two objects differ only in ``metadata.resourceVersion`` (a no-op write)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        if k == "metadata":
            if without(a[k], "resourceVersion") != without(b[k], "resourceVersion"):
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


def fail_if(cond: bool, err: StatusError) -> None:
    """Raise ``err`` when ``cond`` holds (keeps request handlers linear)."""
    if cond:
        raise err
