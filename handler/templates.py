"""Compute templates in KubeRay's format, and the hook that applies them to Ray objects.

A compute template is a ConfigMap labelled ``ray.io/config-type=compute-template`` and
``ray.io/compute-template=<name>``, named after the template, whose ``data`` holds ``name``,
``namespace``, ``cpu``, ``memory``, ``memory_unit`` (default ``Gi``), ``gpu``, ``gpu_accelerator``,
``extended_resources`` (a JSON object of resource name → whole-number quantity) and ``tolerations``
(a JSON list of core/v1 ``Toleration``: ``key``, ``operator``, ``value``, ``effect``,
``tolerationSeconds``), as KubeRay's APIServer V1 stores them (``NewComputeTemplate``
in apiserver/pkg/util/cluster.go of the KubeRay repository; see also the README, "Compute
templates"), so templates made by KubeRay's tools work here and the reverse.

On create and replace (POST, PUT) of a RayCluster (``spec``), RayJob (``spec.rayClusterSpec``),
RayService (``spec.rayClusterConfig``) or RayCronJob (``spec.jobTemplate.rayClusterSpec``, beyond
KubeRay's own set), each head or worker group naming ``computeTemplate: <name>``
gets, from the template in the object's namespace:

- in every container, ``resources.requests`` and ``resources.limits`` of ``cpu`` and ``memory``
  (``<memory><memory_unit>``), set equal as KubeRay does;
- in the Ray container (``ray-head`` / ``ray-worker``, else the first), the GPU (resource
  ``gpu_accelerator``, default ``nvidia.com/gpu``) when ``gpu`` > 0, and every extended resource;
- the template's tolerations appended to the pod spec's ``tolerations``;
- the annotation ``ray.io/compute-template: <name>`` on the pod template;

and the ``computeTemplate`` key is removed. An unknown template, or a template ConfigMap with a
malformed key, is a 422 ``Invalid`` ``Status`` naming the group, the template and the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from handler.hooks import HookError, ObjectHook, RequestContext, object_hook
from handler.raycluster import (
    CLUSTER_SPEC_PATHS,
    Group,
    cluster_spec,
    containers,
    kind_of,
    pod_spec,
    ray_container,
)
from handler.raycluster import groups as cluster_groups
from kubeapi.field_errors import INVALID, NOT_SUPPORTED, OMIT, REQUIRED, Cause, make
from kubeapi.quantity import QuantityError, parse_quantity
from kubeapi.status import from_status_object
from kubeapi.types import JSON
from kubeapi.validation import is_label_key, is_label_value

TYPE_LABEL = "ray.io/config-type"
TYPE_VALUE = "compute-template"
NAME_LABEL = "ray.io/compute-template"
ANNOTATION = "ray.io/compute-template"
GROUP_KEY = "computeTemplate"
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_MEMORY_UNIT = "Gi"
#: Memory units a template may name (Kubernetes quantity suffixes).
MEMORY_UNITS = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E")
#: core/v1 Toleration: operators and effects (pkg/apis/core/validation ``validateTolerations``).
TOLERATION_OPERATORS = ("Equal", "Exists")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
#: The data keys of a compute-template ConfigMap (``NewComputeTemplate``), in KubeRay's order.
TEMPLATE_KEYS = (
    "name",
    "namespace",
    "cpu",
    "memory",
    "memory_unit",
    "gpu",
    "gpu_accelerator",
    "extended_resources",
    "tolerations",
)

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_COUNT = re.compile(r"^[0-9]+$")
# A resource name: optional DNS-subdomain prefix and a name (k8s.io/apimachinery validation).
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class TemplateError(ValueError):
    """A malformed template value: ``key`` is the data key (or V1 JSON field) at fault.

    ``type`` is the field error's CauseType (``FieldValueInvalid``, ``FieldValueNotSupported``,
    ``FieldValueRequired``), ``value`` the bad value (``OMIT`` when not shown), ``detail`` the
    text after it; :meth:`cause` words it as kube-apiserver's ``field.Error`` at a given path.
    """

    def __init__(self, key: str, detail: str, *, type: str = INVALID, value: Any = OMIT) -> None:
        super().__init__(f'malformed "{key}": {detail}')
        self.key = key
        self.detail = detail
        self.type = type
        self.value = value

    def cause(self, field: str) -> Cause:
        """This error as a field error at ``field`` (e.g. ``data[cpu]``)."""
        return make(self.type, field, self.value, self.detail)


@dataclass(frozen=True)
class ComputeTemplate:
    """A validated compute template.

    ``cpu`` is a Kubernetes quantity string (``"2"``, ``"500m"``), ``memory`` a number string in
    ``memory_unit`` (``"4"`` with ``"Gi"``), ``gpu`` a count of ``gpu_accelerator`` (empty means
    ``nvidia.com/gpu``), ``extended_resources`` resource name → count, ``tolerations`` core/v1
    ``Toleration`` dicts (``key``, ``operator``, ``value``, ``effect``, ``tolerationSeconds``).
    """

    name: str
    namespace: str
    cpu: str
    memory: str
    memory_unit: str = DEFAULT_MEMORY_UNIT
    gpu: int = 0
    gpu_accelerator: str = ""
    extended_resources: dict[str, int] = field(default_factory=dict)
    tolerations: list[JSON] = field(default_factory=list)

    @property
    def gpu_resource(self) -> str:
        """The resource name the GPU count is requested under."""
        return self.gpu_accelerator or DEFAULT_GPU_RESOURCE


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json(key: str, raw: Any) -> Any:
    """``raw`` decoded when it is a JSON string (ConfigMap data), as is otherwise (V1 JSON)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError as e:
        raise TemplateError(key, f"must be JSON: {e}", value=raw) from None


def quantity(key: str, raw: str, what: str) -> Decimal:
    """``raw`` as a non-negative Kubernetes quantity (:func:`kubeapi.quantity.parse_quantity`);
    TemplateError naming ``key`` otherwise (``what`` names the resource in the message)."""
    try:
        value = parse_quantity(raw)
    except QuantityError as e:
        raise TemplateError(key, f"must be a {what} quantity (e.g. 2, 500m): {e}", value=raw) from None
    if value < 0:
        raise TemplateError(key, "must be greater than or equal to 0", value=raw)
    return value


def _toleration(key: str, i: int, t: Any) -> JSON:
    """One core/v1 ``Toleration``, checked as ``validateTolerations`` checks it."""
    where = f"item {i}"
    if not isinstance(t, dict):
        raise TemplateError(key, f"{where} must be a Toleration object")
    unknown = sorted(set(t) - set(TOLERATION_KEYS))
    if unknown:
        raise TemplateError(
            key, f"{where}: unknown field {unknown[0]!r} (a Toleration has {', '.join(TOLERATION_KEYS)})"
        )
    for k in ("key", "operator", "value", "effect"):
        if not isinstance(t.get(k, ""), str):
            raise TemplateError(key, f"{where}: {k} must be a string")
    seconds = t.get("tolerationSeconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise TemplateError(key, f"{where}: tolerationSeconds must be an integer")
    name, operator, value, effect = (str(t.get(k) or "") for k in ("key", "operator", "value", "effect"))
    if name:
        problems = is_label_key(name)
        if problems:
            raise TemplateError(key, f"{where}: key {name!r}: {'; '.join(problems)}")
    elif operator != "Exists":
        raise TemplateError(
            key,
            f"{where}: operator must be Exists when `key` is empty, "
            'which means "match all values and all keys"',
        )
    if seconds is not None and effect != "NoExecute":
        raise TemplateError(key, f"{where}: effect must be 'NoExecute' when `tolerationSeconds` is set")
    if operator in ("", "Equal"):
        problems = is_label_value(value)
        if problems:
            raise TemplateError(key, f"{where}: value {value!r}: {'; '.join(problems)}")
    elif operator == "Exists":
        if value:
            raise TemplateError(key, f"{where}: value must be empty when `operator` is 'Exists'")
    else:
        raise TemplateError(
            key, f"{where}: operator {operator!r} is not one of {', '.join(TOLERATION_OPERATORS)}"
        )
    if effect and effect not in TOLERATION_EFFECTS:
        raise TemplateError(key, f"{where}: effect {effect!r} is not one of {', '.join(TOLERATION_EFFECTS)}")
    return {k: t[k] for k in TOLERATION_KEYS if t.get(k) not in (None, "")}


def _tolerations(key: str, raw: Any) -> list[JSON]:
    if isinstance(raw, str) and not raw.strip():
        return []
    items = _json(key, raw)
    if not isinstance(items, list):
        raise TemplateError(key, "must be a JSON list of tolerations")
    return [_toleration(key, i, t) for i, t in enumerate(items)]


def _extended(key: str, raw: Any) -> dict[str, int]:
    if isinstance(raw, str) and not raw.strip():
        return {}
    mapping = _json(key, raw)
    if not isinstance(mapping, dict):
        raise TemplateError(key, "must be a JSON object of resource name to quantity")
    out: dict[str, int] = {}
    for name, count in mapping.items():
        if not _RESOURCE.match(name):
            raise TemplateError(key, f"{name!r} is not a resource name")
        if isinstance(count, bool) or not isinstance(count, int | str):
            raise TemplateError(key, f"quantity of {name!r} must be an integer or a quantity string")
        value = quantity(key, str(count), f"{name!r}")
        if value != value.to_integral_value():
            # Extended resources are whole units (pkg/apis/core/validation: "must be an integer").
            raise TemplateError(key, f"quantity of {name!r} must be an integer, not {count!r}")
        out[name] = int(value)
    return out


def _check(fields: JSON, key: str) -> Any:
    """The parsed value of template ``key`` in ``fields``; TemplateError naming the key."""
    raw = fields.get(key)
    text = "" if raw is None else _text(raw).strip()
    if key == "cpu":
        if not text:
            raise TemplateError(key, "", type=REQUIRED)
        quantity(key, text, "CPU")
        return text
    if key == "memory":
        if not text:
            raise TemplateError(key, "", type=REQUIRED)
        if not _NUMBER.match(text):
            raise TemplateError(key, "must be a non-negative number (its unit is memory_unit)", value=text)
        return text
    if key == "memory_unit":
        unit = text or DEFAULT_MEMORY_UNIT
        if unit not in MEMORY_UNITS:
            supported = ", ".join(json.dumps(u) for u in MEMORY_UNITS)
            raise TemplateError(key, f"supported values: {supported}", type=NOT_SUPPORTED, value=unit)
        return unit
    if key == "gpu":
        if not _COUNT.match(text or "0"):
            raise TemplateError(key, "must be a non-negative integer", value=text)
        return int(text or "0")
    if key == "gpu_accelerator":
        if text and not _RESOURCE.match(text):
            raise TemplateError(key, "must be a resource name (e.g. nvidia.com/gpu)", value=text)
        return text
    if key == "extended_resources":
        return _extended(key, raw if raw is not None else "")
    if key == "tolerations":
        return _tolerations(key, raw if raw is not None else "")
    return text


def errors(fields: JSON, keys: dict[str, str] | None = None) -> list[TemplateError]:
    """Every malformed value among the template keys of ``fields``, each naming its key (as
    ``keys`` renames it: V1 JSON reports ``gpuAccelerator``...), in :data:`TEMPLATE_KEYS` order;
    the memory quantity ``<memory><memory_unit>`` is checked whole as well."""
    shown = keys or {}
    found: list[TemplateError] = []
    for key in TEMPLATE_KEYS:
        try:
            _check(fields, key)
        except TemplateError as e:
            found.append(TemplateError(shown.get(key, key), e.detail, type=e.type, value=e.value))
    if not any(
        e.key in (shown.get("memory", "memory"), shown.get("memory_unit", "memory_unit")) for e in found
    ):
        total = _check(fields, "memory") + _check(fields, "memory_unit")
        try:
            quantity("memory", total, "memory")
        except TemplateError as e:
            found.append(TemplateError(shown.get("memory", "memory"), e.detail, value=total))
    return found


def parse(fields: JSON, name: str, namespace: str, keys: dict[str, str] | None = None) -> ComputeTemplate:
    """Validate template ``fields`` (ConfigMap data, or V1 JSON mapped to data keys) into a template.

    ``keys`` maps data keys to the names to report in errors (V1 JSON uses ``gpuAccelerator``...).
    Raises :class:`TemplateError` naming the first malformed key (:func:`errors` lists them all).
    """
    found = errors(fields, keys)
    if found:
        raise found[0]
    return ComputeTemplate(
        name,
        namespace,
        _check(fields, "cpu"),
        _check(fields, "memory"),
        _check(fields, "memory_unit"),
        _check(fields, "gpu"),
        _check(fields, "gpu_accelerator"),
        _check(fields, "extended_resources"),
        _check(fields, "tolerations"),
    )


def is_template_configmap(obj: Any) -> bool:
    """Whether ``obj`` is a ConfigMap labelled ``ray.io/config-type=compute-template``."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return isinstance(labels, dict) and labels.get(TYPE_LABEL) == TYPE_VALUE


def from_configmap(cm: JSON) -> ComputeTemplate:
    """The template stored in ConfigMap ``cm``; raises TemplateError naming a malformed data key."""
    meta = cm.get("metadata") or {}
    data = cm.get("data") or {}
    if not isinstance(data, dict):
        raise TemplateError("data", "must be a map of strings")
    name = str(meta.get("labels", {}).get(NAME_LABEL) or data.get("name") or meta.get("name", ""))
    return parse(data, name, str(meta.get("namespace") or data.get("namespace") or ""))


def to_configmap(t: ComputeTemplate) -> JSON:
    """The ConfigMap storing ``t``, in KubeRay's layout (name and labels from the template name)."""
    data = {
        "name": t.name,
        "namespace": t.namespace,
        "cpu": t.cpu,
        "memory": t.memory,
        "memory_unit": t.memory_unit,
        "gpu": str(t.gpu),
        "gpu_accelerator": t.gpu_accelerator,
        "extended_resources": json.dumps(t.extended_resources),
        "tolerations": json.dumps(t.tolerations),
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": t.name,
            "namespace": t.namespace,
            "labels": {TYPE_LABEL: TYPE_VALUE, NAME_LABEL: t.name},
        },
        "data": data,
    }


#: KubeRay APIServer V1 JSON field (protojson lowerCamelCase, as its grpc-gateway marshals with
#: ``UseProtoNames: false``) → ConfigMap data key. Both spellings are accepted on input.
V1_FIELDS = {
    "name": "name",
    "namespace": "namespace",
    "cpu": "cpu",
    "memory": "memory",
    "memoryUnit": "memory_unit",
    "gpu": "gpu",
    "gpuAccelerator": "gpu_accelerator",
    "extendedResources": "extended_resources",
    "tolerations": "tolerations",
}
_V1_BY_KEY = {v: k for k, v in V1_FIELDS.items()}


def from_v1(obj: Any, namespace: str) -> ComputeTemplate:
    """A template from KubeRay V1's ``ComputeTemplate`` JSON (proto/config.proto ``ComputeTemplate``).

    Accepts the lowerCamelCase and the proto (snake_case) field names. Raises TemplateError naming
    the JSON field at fault (``name`` when missing).
    """
    if not isinstance(obj, dict):
        raise TemplateError("computeTemplate", "the body must be a JSON object")
    fields: JSON = {}
    for k, v in obj.items():
        key = V1_FIELDS.get(k, k if k in _V1_BY_KEY else None)
        if key is not None:
            fields[key] = v
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise TemplateError("name", "a compute template needs a name")
    return parse(fields, name, namespace, _V1_BY_KEY)


def _number(value: str) -> int | float | str:
    if _COUNT.match(value):
        return int(value)
    return float(value) if _NUMBER.match(value) else value


def to_v1(t: ComputeTemplate) -> JSON:
    """``t`` as KubeRay V1 ``ComputeTemplate`` JSON (zero values omitted, as protojson does)."""
    out: JSON = {
        "name": t.name,
        "namespace": t.namespace,
        "cpu": _number(t.cpu),
        "memory": _number(t.memory),
    }
    if t.gpu:
        out["gpu"] = t.gpu
    if t.gpu_accelerator:
        out["gpuAccelerator"] = t.gpu_accelerator
    if t.extended_resources:
        out["extendedResources"] = dict(t.extended_resources)
    if t.tolerations:
        out["tolerations"] = [dict(x) for x in t.tolerations]
    out["memoryUnit"] = t.memory_unit
    return out


def apply(t: ComputeTemplate, group: Group) -> None:
    """Apply template ``t`` to ``group`` in place (resources, GPU, tolerations, annotation)."""
    group.spec.pop(GROUP_KEY, None)
    pod = pod_spec(group.spec)
    assert pod is not None  # created when missing
    for c in containers(group.spec):
        res = c.setdefault("resources", {})
        for side in ("requests", "limits"):
            res.setdefault(side, {}).update({"cpu": t.cpu, "memory": f"{t.memory}{t.memory_unit}"})
    ray = ray_container(group)
    if ray is not None:
        extra = dict(t.extended_resources)
        if t.gpu:
            extra[t.gpu_resource] = t.gpu
        for side in ("requests", "limits"):
            ray["resources"][side].update({k: str(v) for k, v in extra.items()})
    if t.tolerations:
        existing = pod.get("tolerations")
        pod["tolerations"] = [*(existing if isinstance(existing, list) else []), *t.tolerations]
    template = group.spec["template"]
    meta = template.setdefault("metadata", {})
    meta.setdefault("annotations", {})[ANNOTATION] = t.name


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> HookError:
    """A 422 ``Invalid`` Status for object ``name`` of ``kind``; ``causes`` are ``(field, detail)``.

    Message and causes follow ``NewInvalid`` (k8s.io/apimachinery/pkg/api/errors/errors.go) with
    ``field.ErrorTypeInvalid`` errors: ``Kind.group "name" is invalid: field: Invalid value: ...``.
    """
    errors = [f"{f}: {detail}" for f, detail in causes]
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return HookError(
        422,
        f'{kind}.{group} "{name}" is invalid: {joined}',
        causes=[{"reason": "FieldValueInvalid", "message": detail, "field": f} for f, detail in causes],
        details={"name": name, "group": group, "kind": kind},
    )


async def fetch(ctx: RequestContext, namespace: str, name: str) -> JSON | None:
    """The compute-template ConfigMap ``name`` in ``namespace`` (None when absent or not a template).

    Raises StatusError with the upstream's code for any other failure to read it.
    """
    status, obj = await ctx.get_json(
        f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/{quote(name, safe='')}"
    )
    if status == 404:
        return None
    if status != 200:
        raise from_status_object(status, obj, f"cannot read compute template {name!r}")
    return obj if is_template_configmap(obj) else None


async def apply_templates(ctx: RequestContext, obj: Any) -> Any:
    """The compute-template hook: apply every ``computeTemplate`` named in ``obj`` (see module doc)."""
    spec, prefix = cluster_spec(obj, ctx.resource)
    if spec is None:
        return obj
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    namespace = ctx.namespace or str(meta.get("namespace") or "default")
    name = str(meta.get("name") or meta.get("generateName") or ctx.name or "")
    kind = kind_of(ctx.resource)
    loaded: dict[str, ComputeTemplate | str] = {}  # template name → template or the error detail
    causes: list[tuple[str, str]] = []
    todo: list[tuple[Group, ComputeTemplate]] = []
    for g in cluster_groups(spec, prefix):
        if GROUP_KEY not in g.spec:
            continue
        wanted = g.spec[GROUP_KEY]
        where = f"{g.field}.{GROUP_KEY}"
        if not isinstance(wanted, str) or not wanted:
            causes.append(
                (where, f"Invalid value: {json.dumps(wanted)}: must be a template name ({g.label})")
            )
            continue
        if wanted not in loaded:
            cm = await fetch(ctx, namespace, wanted)
            if cm is None:
                loaded[wanted] = f'compute template "{wanted}" not found in namespace "{namespace}"'
            else:
                try:
                    loaded[wanted] = from_configmap(cm)
                except TemplateError as e:
                    loaded[wanted] = f'compute template "{wanted}" (ConfigMap {namespace}/{wanted}) is {e}'
        found = loaded[wanted]
        if isinstance(found, str):
            causes.append((where, f'Invalid value: "{wanted}": {found} ({g.label})'))
        else:
            todo.append((g, found))
    if causes:
        raise invalid(kind, "ray.io", name, causes)
    for g, t in todo:
        apply(t, g)
    return obj


def hook() -> ObjectHook:
    """The compute-template object hook: create and update of RayCluster, RayJob, RayService, RayCronJob."""
    resources = [f"ray.io/{plural}" for plural in CLUSTER_SPEC_PATHS]
    # Bodies that never mention computeTemplate stay bytes (no parse on the hot path).
    return object_hook(["create", "update"], resources, lambda raw: GROUP_KEY.encode() in raw)(
        apply_templates
    )
