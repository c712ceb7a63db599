"""Default values for Ray objects, from a YAML file, applied as an object hook.

The file (``--defaults FILE``, ``KUBERAY_APISERVER_DEFAULTS``, ``Settings.defaults``) has two
optional sections::

    kinds:            # a partial object per kind: RayCluster, RayJob, RayService, RayCronJob
      RayCluster:
        metadata: {labels: {team: unknown}}
        spec: {rayVersion: "2.52.0", enableInTreeAutoscaling: true}
    groups:           # a partial group spec for the head group and every worker group
      rayStartParams: {dashboard-host: 0.0.0.0}
      template: {spec: {containers: [{name: ray-head, image: rayproject/ray:2.52.0}]}}

Merging fills only what the request leaves unset and never overwrites what the caller wrote:

- a mapping key absent from the request (or ``null``) gets the default; mappings present on both
  sides are merged key by key;
- lists of objects are merged by key, ``groupName`` for ``workerGroupSpecs`` and ``name`` for any
  other list whose items have names (containers, env, volumes...): a default item fills the
  request's item of the same key; the request's list keeps exactly its own members. A list the
  request leaves unset gets the default list whole. Other lists (tolerations, args) are atomic;
- ``groups`` apply to the cluster spec of every kind that has one (RayCluster ``spec``, RayJob
  ``spec.rayClusterSpec``, RayService ``spec.rayClusterConfig``, RayCronJob
  ``spec.jobTemplate.rayClusterSpec``); in the head group default
  containers named ``ray-worker`` are ignored, in worker groups those named ``ray-head``.

The per-kind partial is applied first, then ``groups``, so a value written for one kind wins over
the per-group value. Defaults run on create and update, before compute templates (so a default may
name a ``computeTemplate``) and before user hooks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handler.hooks import ObjectHook, RequestContext, object_hook
from handler.raycluster import HEAD_CONTAINER, WORKER_CONTAINER, cluster_spec, groups
from kubeapi.types import JSON

#: Kinds the file may give defaults for, and their plurals.
KIND_PLURALS = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}
SECTIONS = ("kinds", "groups")


class DefaultsError(ValueError):
    """The defaults file is missing, not YAML, or not of the documented shape (message says where)."""


@dataclass(frozen=True)
class Defaults:
    """Parsed defaults: ``kinds`` plural → partial object, ``groups`` the partial group spec."""

    kinds: dict[str, JSON] = field(default_factory=dict)
    groups: JSON = field(default_factory=dict)


def parse(doc: Any, source: str = "defaults") -> Defaults:
    """Validate a loaded YAML document into :class:`Defaults`; DefaultsError naming ``source``."""
    if doc is None:
        return Defaults()
    if not isinstance(doc, dict):
        raise DefaultsError(f"{source}: must be a mapping with sections {', '.join(SECTIONS)}")
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise DefaultsError(f"{source}: unknown sections {sorted(unknown)} (expected {', '.join(SECTIONS)})")
    kinds = doc.get("kinds")
    kinds = {} if kinds is None else kinds
    if not isinstance(kinds, dict):
        raise DefaultsError(f"{source}: kinds must be a mapping of kind to partial object")
    by_plural: dict[str, JSON] = {}
    for kind, partial in kinds.items():
        if kind not in KIND_PLURALS:
            raise DefaultsError(f"{source}: kinds.{kind}: not one of {', '.join(KIND_PLURALS)}")
        if not isinstance(partial, dict):
            raise DefaultsError(f"{source}: kinds.{kind}: must be a mapping (a partial {kind})")
        by_plural[KIND_PLURALS[kind]] = partial
    group = doc.get("groups")
    group = {} if group is None else group
    if not isinstance(group, dict):
        raise DefaultsError(f"{source}: groups must be a mapping (a partial head/worker group spec)")
    return Defaults(by_plural, group)


def load(path: str) -> Defaults:
    """Read and validate the defaults file at ``path``; raises DefaultsError."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise DefaultsError(f"cannot read defaults file {path}: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DefaultsError(f"defaults file {path} is not YAML: {e}") from None
    return parse(doc, path)


def _list_key(name: str, target: list[Any], default: list[Any]) -> str | None:
    """The merge key of list field ``name``, or None when it is atomic."""
    if name == "workerGroupSpecs":
        return "groupName"
    items = [*target, *default]
    if items and all(isinstance(i, dict) and "name" in i for i in items):
        return "name"
    return None


def fill(target: JSON, default: JSON) -> None:
    """Fill ``target`` in place from ``default`` (see the module docstring); never overwrites."""
    for key, value in default.items():
        current = target.get(key)
        if current is None:
            target[key] = copy.deepcopy(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            fill(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merge_key = _list_key(key, current, value)
            if merge_key is None:
                continue
            by_key = {d.get(merge_key): d for d in value}
            for item in current:
                if isinstance(item, dict) and item.get(merge_key) in by_key:
                    fill(item, by_key[item[merge_key]])


def _for_group(partial: JSON, ray_container: str) -> JSON:
    """``partial`` without the default containers meant for the other kind of group."""
    other = WORKER_CONTAINER if ray_container == HEAD_CONTAINER else HEAD_CONTAINER
    spec = partial.get("template", {}).get("spec", {}) if isinstance(partial.get("template"), dict) else {}
    items = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(items, list):
        return partial
    out = copy.deepcopy(partial)
    out["template"]["spec"]["containers"] = [
        c for c in items if not (isinstance(c, dict) and c.get("name") == other)
    ]
    return out


def apply(defaults: Defaults, resource: str, obj: Any) -> Any:
    """``obj`` (a Ray object of plural ``resource``) with ``defaults`` filled in, in place."""
    if not isinstance(obj, dict):
        return obj
    partial = defaults.kinds.get(resource)
    if partial:
        fill(obj, partial)
    if defaults.groups:
        spec, prefix = cluster_spec(obj, resource)
        if spec is not None:
            for g in groups(spec, prefix):
                fill(g.spec, _for_group(defaults.groups, g.ray_container))
    return obj


def hook(defaults: Defaults) -> ObjectHook:
    """The defaults object hook: create and update of every Ray kind."""

    async def apply_defaults(ctx: RequestContext, obj: Any) -> Any:
        """Fill ``obj`` with the configured defaults."""
        return apply(defaults, ctx.resource, obj)

    return object_hook(["create", "update"], [f"ray.io/{p}" for p in KIND_PLURALS.values()])(apply_defaults)
