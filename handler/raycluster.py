"""Where the RayCluster spec and its head and worker groups live in each Ray kind.

A RayCluster's spec is ``spec``; a RayJob embeds one at ``spec.rayClusterSpec``, a RayService
at ``spec.rayClusterConfig`` and a RayCronJob at ``spec.jobTemplate.rayClusterSpec`` (KubeRay CRDs,
``ray-operator/apis/ray/v1``). Each cluster spec has a
head group (``headGroupSpec``, Ray container conventionally named ``ray-head``) and worker groups
(``workerGroupSpecs``, identified by ``groupName``, Ray container ``ray-worker``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubeapi.types import JSON

#: plural → (kind, path of the RayCluster spec inside the object)
CLUSTER_SPEC_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rayclusters": ("RayCluster", ("spec",)),
    "rayjobs": ("RayJob", ("spec", "rayClusterSpec")),
    "rayservices": ("RayService", ("spec", "rayClusterConfig")),
    "raycronjobs": ("RayCronJob", ("spec", "jobTemplate", "rayClusterSpec")),
}

#: Ray container name of the head group and of worker groups.
HEAD_CONTAINER = "ray-head"
WORKER_CONTAINER = "ray-worker"


@dataclass
class Group:
    """One head or worker group of a cluster spec.

    ``spec`` is the group dict itself (mutable, inside the request object); ``field`` its path for
    error messages (``spec.workerGroupSpecs[1]``); ``label`` a human name (``head group``,
    ``worker group "gpu"``); ``ray_container`` the Ray container's conventional name.
    """

    spec: JSON
    field: str
    label: str
    ray_container: str


def kind_of(resource: str) -> str:
    """The kind of a Ray plural (``rayclusters`` → ``RayCluster``); the plural itself if unknown."""
    entry = CLUSTER_SPEC_PATHS.get(resource)
    return entry[0] if entry else resource


def cluster_spec(obj: Any, resource: str) -> tuple[JSON | None, str]:
    """The RayCluster spec dict inside ``obj`` of plural ``resource`` and its dotted path.

    ``(None, path)`` when the object has no such spec (or ``resource`` embeds none).
    """
    entry = CLUSTER_SPEC_PATHS.get(resource)
    if entry is None:
        return None, ""
    node: Any = obj
    for key in entry[1]:
        node = node.get(key) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), ".".join(entry[1])


def groups(spec: JSON, prefix: str) -> Iterator[Group]:
    """The head group then each worker group of cluster ``spec`` (dicts only), ``prefix`` its path."""
    head = spec.get("headGroupSpec")
    if isinstance(head, dict):
        yield Group(head, f"{prefix}.headGroupSpec", "head group", HEAD_CONTAINER)
    workers = spec.get("workerGroupSpecs")
    if isinstance(workers, list):
        for i, w in enumerate(workers):
            if isinstance(w, dict):
                label = f'worker group "{w.get("groupName", i)}"'
                yield Group(w, f"{prefix}.workerGroupSpecs[{i}]", label, WORKER_CONTAINER)


def pod_spec(group: JSON, create: bool = True) -> JSON | None:
    """``group.template.spec`` (created as empty dicts when ``create``), None when absent or not a dict."""
    node: Any = group
    for key in ("template", "spec"):
        if not isinstance(node, dict):
            return None
        if key not in node and create:
            node[key] = {}
        node = node.get(key)
    return node if isinstance(node, dict) else None


def containers(group: JSON) -> list[JSON]:
    """The container dicts of the group's pod template (empty when none)."""
    spec = pod_spec(group, create=False)
    items = spec.get("containers") if spec else None
    return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []


def ray_container(group: Group) -> JSON | None:
    """The group's Ray container: the one named ``ray-head`` / ``ray-worker``, else the first."""
    items = containers(group.spec)
    named = next((c for c in items if c.get("name") == group.ray_container), None)
    return named or (items[0] if items else None)
