"""Two example object hooks for the gateway (see the README, "Object hooks").

- :func:`gpu_quota` rejects a RayCluster (or the cluster a RayJob, RayService or RayCronJob brings up) that
  asks for more than ``max_gpus`` GPUs across its groups. A group asks for its Ray container's GPU
  limit (``nvidia.com/gpu``, ``amd.com/gpu``, ``gpu.intel.com/i915``) times its pods: 1 for the
  head group, ``maxReplicas`` (else ``replicas``, else 1) for a worker group, since the autoscaler
  may scale it that far. Hooks run after compute templates, so GPUs a template adds are counted.
- :func:`created_by` stamps the verified user's name (``ctx.user``, as the gateway's
  ``--authentication`` established it; never a header the caller sends) as the annotation
  ``example.com/created-by`` on every object created through the gateway.

Use them with ``handler.create_app(settings, middleware=[gpu_quota(8), created_by()])``.
"""

from __future__ import annotations

from typing import Any

from handler import HookError, ObjectHook, RequestContext, object_hook
from handler.raycluster import CLUSTER_SPEC_PATHS, HEAD_CONTAINER, cluster_spec, containers, groups

#: Resource names counted as GPUs.
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915")


def _pods(group: dict[str, Any], head: bool) -> int:
    if head:
        return 1
    for key in ("maxReplicas", "replicas"):
        value = group.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 1


def _gpus_per_pod(group: dict[str, Any]) -> int:
    total = 0
    for c in containers(group):
        resources = c.get("resources")
        if not isinstance(resources, dict):
            continue
        asked = resources.get("limits") or resources.get("requests") or {}
        for name in GPU_RESOURCES:
            value = asked.get(name) if isinstance(asked, dict) else None
            if value is not None and str(value).isdigit():
                total += int(value)
    return total


def requested_gpus(obj: Any, resource: str) -> tuple[int, list[str]]:
    """GPUs the cluster spec in ``obj`` (a Ray object of plural ``resource``) may use, and per-group notes."""
    spec, prefix = cluster_spec(obj, resource)
    if spec is None:
        return 0, []
    total, notes = 0, []
    for g in groups(spec, prefix):
        pods = _pods(g.spec, g.ray_container == HEAD_CONTAINER)
        per_pod = _gpus_per_pod(g.spec)
        if per_pod:
            notes.append(f"{g.label}: {per_pod} x {pods} pods")
        total += per_pod * pods
    return total, notes


def gpu_quota(max_gpus: int) -> ObjectHook:
    """A hook refusing create/update of Ray clusters asking for more than ``max_gpus`` GPUs (403)."""

    @object_hook(["create", "update"], [f"ray.io/{plural}" for plural in CLUSTER_SPEC_PATHS])
    async def quota(ctx: RequestContext, obj: Any) -> Any:
        """Refuse ``obj`` with a 403 ``Forbidden`` Status when its GPUs exceed the quota."""
        total, notes = requested_gpus(obj, ctx.resource)
        if total > max_gpus:
            name = (obj.get("metadata") or {}).get("name", "")
            raise HookError(
                403,
                f'{ctx.resource}.ray.io "{name}" is forbidden: asks for {total} GPUs, '
                f"the quota is {max_gpus} ({'; '.join(notes)})",
                causes=[{"reason": "FieldValueForbidden", "message": n, "field": "spec"} for n in notes],
                details={"name": name, "group": "ray.io", "kind": ctx.resource},
            )
        return obj

    return quota


def created_by(annotation: str = "example.com/created-by") -> ObjectHook:
    """A hook writing the verified user's name into annotation ``annotation`` of every created object.

    The name is ``ctx.user.name`` (a :class:`kubeapi.authn.UserInfo` the gateway verified), never
    a request header: a header is whatever the caller typed. A create without a verified user
    (``--authentication none``, or a passthrough token the API server would not describe) is
    refused with 403 ``Forbidden``, so every object has a known creator.
    """

    @object_hook(["create"], ["*"])
    async def stamp(ctx: RequestContext, obj: Any) -> Any:
        """Set ``metadata.annotations[annotation]`` to the user's name."""
        if ctx.user is None or not ctx.user.name:
            raise HookError(403, "creating objects here needs an authenticated user")
        if isinstance(obj, dict):
            obj.setdefault("metadata", {}).setdefault("annotations", {})[annotation] = ctx.user.name
        return obj

    return stamp
