"""A team-quota step: refuse a RayCluster whose workers exceed its namespace's replica quota.

A step added to the ``ray`` route (after the object hooks, so replicas that defaults or compute
templates set are counted) that, on create and replace of a RayCluster, adds up the worker
replicas of every worker group (``maxReplicas`` when set, since the autoscaler may scale that
far, else ``replicas``, else 1) and answers 403 ``Forbidden`` when the total exceeds the
namespace's quota. Quotas are a plain dict here; a real one might read a ConfigMap through
``await request.get_json(path)``.

    from handler import Settings, create_app
    from team_quota import worker_quota

    app = create_app(Settings(...), routes=worker_quota({"team-a": 10}, default=4))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handler import GatewayError, GatewayRequest, RouteTable, step
from handler.responses import AnyResponse
from handler.routing import Handler


def worker_replicas(cluster: Any) -> int:
    """The most worker pods a RayCluster object may run: per worker group ``maxReplicas``, else
    ``replicas``, else 1, summed."""
    spec = cluster.get("spec") if isinstance(cluster, dict) else None
    groups = spec.get("workerGroupSpecs") if isinstance(spec, dict) else None
    total = 0
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        count = group.get("maxReplicas", group.get("replicas", 1))
        total += count if isinstance(count, int) and not isinstance(count, bool) else 1
    return total


def worker_quota(quotas: Mapping[str, int], default: int | None = None) -> Any:
    """A ``create_app(routes=...)`` function adding the quota step to the ``ray`` route.

    ``quotas`` maps a namespace to its most worker replicas per RayCluster; ``default`` applies to
    other namespaces (None: no quota there).
    """

    @step(name="team_quota")
    async def team_quota(request: GatewayRequest, next: Handler) -> AnyResponse:
        target = request.route
        if (
            request.method in ("POST", "PUT")
            and target.resource == "rayclusters"
            and target.subresource is None
            and request.raw_body.has_body
        ):
            limit = quotas.get(target.namespace or "", default)
            cluster = await request.json()
            asked = worker_replicas(cluster)
            if limit is not None and asked > limit:
                name = (cluster.get("metadata") or {}).get("name", "") if isinstance(cluster, dict) else ""
                raise GatewayError(
                    403,
                    "Forbidden",
                    f'rayclusters.ray.io "{name}" is forbidden: {asked} worker replicas exceed the quota of '
                    f"{limit} in namespace {target.namespace}",
                    {"name": name, "group": "ray.io", "kind": "rayclusters"},
                )
        return await next(request)

    def install(table: RouteTable) -> None:
        table.add_step("ray", team_quota, after="object_hooks")

    return install
