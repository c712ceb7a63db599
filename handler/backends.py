"""The backends a route ends in: what makes the response once the steps have run.

- :func:`upstream_passthrough`: the request as it now is, sent upstream (with retries, through
  :class:`handler.upstream_client.UpstreamClient`), the answer relayed as it streams;
- :func:`discovery_documents`: discovery and OpenAPI documents, fetched and filtered to what the
  gateway serves (:mod:`handler.discovery_filter`), or passed through when not filtered; in the
  form the caller asks for: aggregated discovery on ``/api`` and ``/apis``, protobuf on
  ``/openapi/v2``;
- :func:`handler.template_api.compute_templates_v1` (KubeRay APIServer V1's compute template
  JSON API) lives with the rest of the compute-template API.

A backend is any async ``fn(request) -> response`` (:data:`handler.routing.Handler`).

:mod:`kubeapi.openapiv2` (protobuf and gnostic's generated messages: ~4 MB of a worker's memory
and a share of its cold start) is imported on the first ``/openapi/v2`` request, not with this
module: most gateways never serve one (``tests/handler/test_cold_start.py`` keeps it so).
"""

from __future__ import annotations

import asyncio
import json

from handler import discovery_filter
from handler.request import GatewayRequest
from handler.responses import AnyResponse, Response, UpstreamResponse, json_response
from handler.target import RouteFamily
from kubeapi.media import asks_for_aggregated_discovery
from kubeapi.status import StatusError, from_status_object, new_path_not_found


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
    root = path.rstrip("/")
    if root in ("/api", "/apis") and asks_for_aggregated_discovery(request.header("accept")):
        return await _aggregated_discovery(request, root)
    if root == "/openapi/v2":
        from kubeapi import openapiv2  # protobuf: loaded when first asked for (module docstring)

        form = openapiv2.negotiate(request.header("accept"))
        if form is None:
            return Response(406, [(b"vary", b"Accept")])  # no Content-Type, as kube-openapi's 406
        if form == "protobuf":
            return await _openapi_v2_protobuf(request)
    keep = discovery_filter.filter_for(path)
    if keep is None:
        return await upstream_passthrough(request)
    status, doc = await request.get_json(path, request.query)
    if status != 200:
        raise from_status_object(status, doc, f"the upstream answered {status} for {path}")
    return json_response(status, keep(doc))


async def _openapi_v2_protobuf(request: GatewayRequest) -> AnyResponse:
    """``/openapi/v2`` for a caller asking for protobuf (client-go's ``OpenAPISchema``): the
    upstream's protobuf document with its ``paths`` reduced as the JSON one is
    (:func:`handler.discovery_filter.openapi_v2_path_served`; decoded and re-encoded with gnostic's
    messages, :mod:`kubeapi.openapiv2`). An upstream answering JSON instead has its document
    filtered and encoded here, so the caller always gets what it asked for."""
    from google.protobuf.message import DecodeError

    from kubeapi import openapiv2

    headers = [("accept", f"{openapiv2.PROTOBUF},application/json;q=0.5")]
    response = await request.upstream.stream(
        "GET", request.path, request.query, headers, None, request.route.name, request.identity
    )
    try:
        status = response.status
        content_type = response.upstream.get_header("content-type") or ""
        raw = bytes(await response.upstream.bytes())
    finally:
        await response.aclose()
    if status != 200:
        doc = json.loads(raw) if content_type.startswith("application/json") and raw else None
        raise from_status_object(status, doc, f"the upstream answered {status} for {request.path}")
    if content_type.startswith(openapiv2.PROTOBUF):
        try:
            body = await asyncio.to_thread(openapiv2.keep_paths, raw, discovery_filter.openapi_v2_path_served)
        except DecodeError:
            raise StatusError(502, "InternalError", "the upstream's /openapi/v2 is not protobuf") from None
    else:
        swagger = discovery_filter.FILTERS["/openapi/v2"](json.loads(raw))
        body = await asyncio.to_thread(openapiv2.to_protobuf, swagger)
    return Response(200, [(b"content-type", openapiv2.PROTOBUF.encode()), (b"vary", b"Accept")], body)


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
