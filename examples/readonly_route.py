"""Two extra read-only routes: a ConfigMap served read-only, and a static document.

- ``GET /ray-settings/namespaces/{namespace}``: the ``data`` of the ConfigMap ``ray-settings`` in
  that namespace, read upstream with the request's identity; any other verb is a 405, a missing
  ConfigMap a 404 ``Status``. The gateway's allowlist otherwise keeps ConfigMaps other than compute
  templates out of reach; this route opens exactly one, for reading.
- ``GET /docs/ray``: a fixed JSON document, made by the backend without any upstream call.

    from handler import Settings, create_app
    from readonly_route import readonly_routes

    app = create_app(Settings(...), routes=readonly_routes)
"""

from __future__ import annotations

from urllib.parse import quote

from handler import GatewayRequest, Route, RouteFamily, RouteTable, json_response
from handler.responses import AnyResponse
from handler.steps import RequestRules
from kubeapi.status import from_status_object

SETTINGS_CONFIGMAP = "ray-settings"
READ = frozenset({"GET", "HEAD"})
DOC = {"name": "kuberay-apiserver", "routes": "see the README, 'What the gateway serves'"}


async def settings_configmap(request: GatewayRequest) -> AnyResponse:
    """Backend: the ``data`` of ``ray-settings`` in the request's namespace."""
    namespace = request.route.namespace or ""
    status, obj = await request.get_json(
        f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/{SETTINGS_CONFIGMAP}"
    )
    if status != 200:
        raise from_status_object(status, obj, f"cannot read configmap {SETTINGS_CONFIGMAP}")
    return json_response(200, obj.get("data") or {})


async def static_doc(request: GatewayRequest) -> AnyResponse:
    """Backend: a fixed document."""
    return json_response(200, DOC)


def readonly_routes(table: RouteTable) -> None:
    """A ``create_app(routes=...)`` function adding both routes. The ConfigMap route runs the
    gateway's request rules (the same object the ``ray`` route uses), so a rule refusing a caller
    refuses it here too."""
    rules = next(s for s in table.routes[0].steps if isinstance(s, RequestRules))
    table.add(
        Route(
            "/ray-settings/namespaces/{namespace}",
            READ,
            "ray-settings",
            RouteFamily.CUSTOM,
            steps=(rules,),
            backend=settings_configmap,
        )
    )
    table.add(Route("/docs/ray", READ, "docs", RouteFamily.CUSTOM, steps=(), backend=static_doc))
