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

import json

from handler import discovery_filter
from handler.request import GatewayRequest
from handler.responses import AnyResponse, Response, UpstreamResponse, json_response
from kubeapi.media import asks_for_aggregated_discovery
from kubeapi.status import from_status_object, new_path_not_found


async def upstream_passthrough(request: GatewayRequest) -> UpstreamResponse:
    """Send the request upstream and relay the response unchanged (but for hop-by-hop headers)."""
    return await request.upstream.stream(
        request.method,
        request.path,
        request.query,
        request.headers,
        request.raw_body,
        request.route.name,
        request.identity,
    )


async def discovery_documents(request: GatewayRequest) -> AnyResponse:
    """A discovery/OpenAPI document filtered to what the gateway serves, or passed through
    unchanged when no filter applies; 404 for an OpenAPI group-version it does not serve."""
    path = request.path
    if not discovery_filter.allowed(path):
        raise new_path_not_found()
    root = path.rstrip("/")
    if root in ("/api", "/apis") and asks_for_aggregated_discovery(request.header("accept")):
        return await _aggregated_discovery(request, root)
    keep = discovery_filter.filter_for(path)
    if keep is None:
        return await upstream_passthrough(request)
    status, doc = await request.get_json(path, request.query)
    if status != 200:
        raise from_status_object(status, doc, f"the upstream answered {status} for {path}")
    return json_response(status, keep(doc))


async def _aggregated_discovery(request: GatewayRequest, root: str) -> AnyResponse:
    """``/api`` or ``/apis`` for a caller asking for aggregated discovery: the upstream's
    ``APIGroupDiscoveryList`` filtered (:func:`handler.discovery_filter.filter_aggregated`) with its
    media type, so kubectl learns every served resource in these two requests; when the upstream
    answers the legacy document instead, that one filtered as JSON (client-go then goes on with
    legacy discovery, as it decides by the answer's ``Content-Type``)."""
    status, doc = await request.get_json(root, request.query, discovery_filter.AGGREGATED_ACCEPT)
    if status != 200:
        raise from_status_object(status, doc, f"the upstream answered {status} for {root}")
    if discovery_filter.is_aggregated(doc):
        body = json.dumps(discovery_filter.filter_aggregated(doc), separators=(",", ":")).encode()
        headers = [(b"content-type", discovery_filter.AGGREGATED_V2.encode()), (b"vary", b"Accept")]
        return Response(200, headers, body)
    keep = discovery_filter.filter_for(root)
    return json_response(status, keep(doc) if keep is not None else doc)
