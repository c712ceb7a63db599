"""The backends a route ends in: what makes the response once the steps have run.

- :func:`upstream_passthrough`: the request as it now is, sent upstream (with retries, through
  :class:`handler.upstream_client.UpstreamClient`), the answer relayed as it streams;
- :func:`discovery_documents`: discovery and OpenAPI documents, fetched and filtered to what the
  gateway serves (:mod:`handler.discovery_filter`), or passed through when not filtered;
- :func:`handler.template_api.compute_templates_v1` (KubeRay APIServer V1's compute template
  JSON API) lives with the rest of the compute-template API.

A backend is any async ``fn(request) -> response`` (:data:`handler.routing.Handler`).
"""

from __future__ import annotations

from handler import discovery_filter
from handler.request import GatewayRequest
from handler.responses import AnyResponse, UpstreamResponse, json_response
from handler.target import RouteFamily
from kubeapi.status import from_status_object, new_path_not_found


async def upstream_passthrough(request: GatewayRequest) -> UpstreamResponse:
    """Send the request upstream and relay the response unchanged (but for hop-by-hop headers).
    Watches and the services proxy are long-running (no request timeout), as kube-apiserver's
    ``LongRunningFunc`` reads them (verb ``watch``, subresource ``proxy``)."""
    return await request.upstream.stream(
        request.method,
        request.path,
        request.query,
        request.headers,
        request.raw_body,
        request.route.name,
        request.identity,
        long_running=request.watch or request.route.family is RouteFamily.SERVICE_PROXY,
    )


async def discovery_documents(request: GatewayRequest) -> AnyResponse:
    """A discovery/OpenAPI document filtered to what the gateway serves, or passed through
    unchanged when no filter applies; 404 for an OpenAPI group-version it does not serve."""
    path = request.path
    if not discovery_filter.allowed(path):
        raise new_path_not_found()
    keep = discovery_filter.filter_for(path)
    if keep is None:
        return await upstream_passthrough(request)
    status, doc = await request.get_json(path, request.query)
    if status != 200:
        raise from_status_object(status, doc, f"the upstream answered {status} for {path}")
    return json_response(status, keep(doc))
