"""Compute templates in KubeRay's format, and the hook that applies them to Ray objects.

A compute template is a ConfigMap labelled ``ray.io/config-type=compute-template`` and
``ray.io/compute-template=<name>``, named after the template, whose ``data`` holds ``name``,
``namespace``, ``cpu``, ``memory``, ``memory_unit`` (default ``Gi``), ``gpu``, ``gpu_accelerator``,
``extended_resources`` (a JSON object of resource name → count) and ``tolerations`` (a JSON list of
``{key, operator, value, effect}``), as KubeRay's APIServer V1 stores them (``NewComputeTemplate``
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
from kubeapi.status import from_status_object
from kubeapi.types import JSON

TYPE_LABEL = "ray.io/config-type"
TYPE_VALUE = "compute-template"
NAME_LABEL = "ray.io/compute-template"
ANNOTATION = "ray.io/compute-template"
GROUP_KEY = "computeTemplate"
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_MEMORY_UNIT = "Gi"
#: Memory units a template may name (Kubernetes quantity suffixes).
MEMORY_UNITS = frozenset({"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"})
TOLERATION_OPERATORS = frozenset({"Exists", "Equal"})
TOLERATION_EFFECTS = frozenset({"", "NoSchedule", "PreferNoSchedule", "NoExecute"})
TOLERATION_KEYS = ("key", "operator", "value", "effect")

_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_COUNT = re.compile(r"^\d+$")
# A resource name: optional DNS-subdomain prefix and a name (k8s.io/apimachinery validation).
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class TemplateError(ValueError):
    """A malformed template: ``key`` is the data key (or V1 JSON field) at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f'malformed "{key}": {message}')
        self.key = key


@dataclass(frozen=True)
class ComputeTemplate:
    """A validated compute template.

    ``cpu`` is a Kubernetes quantity string (``"2"``, ``"500m"``), ``memory`` a number string in
    ``memory_unit`` (``"4"`` with ``"Gi"``), ``gpu`` a count of ``gpu_accelerator`` (empty means
    ``nvidia.com/gpu``), ``extended_resources`` resource name → count, ``tolerations`` Kubernetes
    ``Toleration`` dicts (``key``, ``operator``, ``value``, ``effect``).
    """

    name: str
    namespace: str
    cpu: str
    memory: str
    memory_unit: str = DEFAULT_MEMORY_UNIT
    gpu: int = 0
    gpu_accelerator: str = ""
    extended_resources: dict[str, int] = field(default_factory=dict)
    tolerations: list[dict[str, str]] = field(default_factory=list)

    @property
    def gpu_resource(self) -> str:
        """The resource name the GPU count is requested under."""
        return self.gpu_accelerator or DEFAULT_GPU_RESOURCE


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _count(key: str, raw: str) -> int:
    if not _COUNT.match(raw.strip()):
        raise TemplateError(key, f"{raw!r} is not a non-negative integer")
    return int(raw.strip())


def _tolerations(key: str, raw: Any) -> list[dict[str, str]]:
    items = raw
    if isinstance(raw, str):
        if not raw.strip():
            return []
        try:
            items = json.loads(raw)
        except ValueError as e:
            raise TemplateError(key, f"not JSON: {e}") from None
    if not isinstance(items, list):
        raise TemplateError(key, "must be a JSON list of tolerations")
    out: list[dict[str, str]] = []
    for i, t in enumerate(items):
        if not isinstance(t, dict) or not all(isinstance(t.get(k, ""), str) for k in TOLERATION_KEYS):
            raise TemplateError(key, f"item {i} must be an object of strings key, operator, value, effect")
        operator = t.get("operator") or "Equal"
        if operator not in TOLERATION_OPERATORS:
            raise TemplateError(key, f"item {i}: operator {operator!r} is not one of Exists, Equal")
        if t.get("effect", "") not in TOLERATION_EFFECTS:
            raise TemplateError(
                key, f"item {i}: effect {t['effect']!r} is not NoSchedule, PreferNoSchedule or NoExecute"
            )
        out.append({k: t[k] for k in TOLERATION_KEYS if t.get(k)})
    return out


def _extended(key: str, raw: Any) -> dict[str, int]:
    mapping = raw
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            mapping = json.loads(raw)
        except ValueError as e:
            raise TemplateError(key, f"not JSON: {e}") from None
    if not isinstance(mapping, dict):
        raise TemplateError(key, "must be a JSON object of resource name to count")
    out: dict[str, int] = {}
    for name, count in mapping.items():
        if not _RESOURCE.match(name):
            raise TemplateError(key, f"{name!r} is not a resource name")
        if isinstance(count, bool) or not isinstance(count, int | str) or not _COUNT.match(str(count)):
            raise TemplateError(key, f"count of {name!r} must be a non-negative integer")
        out[name] = int(count)
    return out


def parse(fields: JSON, name: str, namespace: str, keys: dict[str, str] | None = None) -> ComputeTemplate:
    """Validate template ``fields`` (ConfigMap data, or V1 JSON mapped to data keys) into a template.

    ``keys`` maps data keys to the names to report in errors (V1 JSON uses ``gpuAccelerator``...).
    Raises :class:`TemplateError` naming the first malformed key.
    """
    shown = keys or {}

    def get(key: str) -> str:
        value = fields.get(key)
        return "" if value is None else _text(value).strip()

    def err(key: str, message: str) -> TemplateError:
        return TemplateError(shown.get(key, key), message)

    cpu = get("cpu")
    if not _CPU.match(cpu):
        raise err("cpu", f"{cpu!r} is not a CPU quantity (e.g. 2, 0.5, 500m)")
    memory = get("memory")
    if not _NUMBER.match(memory):
        raise err("memory", f"{memory!r} is not a number (the unit is memory_unit)")
    unit = get("memory_unit") or DEFAULT_MEMORY_UNIT
    if unit not in MEMORY_UNITS:
        raise err("memory_unit", f"{unit!r} is not one of {', '.join(sorted(MEMORY_UNITS))}")
    gpu_raw = get("gpu") or "0"
    if not _COUNT.match(gpu_raw):
        raise err("gpu", f"{gpu_raw!r} is not a non-negative integer")
    accelerator = get("gpu_accelerator")
    if accelerator and not _RESOURCE.match(accelerator):
        raise err("gpu_accelerator", f"{accelerator!r} is not a resource name")
    try:
        extended = _extended("extended_resources", fields.get("extended_resources") or "")
        tolerations = _tolerations("tolerations", fields.get("tolerations") or "")
    except TemplateError as e:
        raise TemplateError(shown.get(e.key, e.key), str(e).split(": ", 1)[1]) from None
    return ComputeTemplate(
        name, namespace, cpu, memory, unit, int(gpu_raw), accelerator, extended, tolerations
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
