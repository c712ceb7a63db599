"""Ray pods, read-only: the steps of the gateway's ``pods`` routes (:mod:`handler.routes`).

The gateway serves the core ``pods`` resource only for Ray's own pods, the ones the KubeRay
operator labels ``ray.io/is-ray-node=yes`` (``ray-operator/controllers/ray/utils/constant.go``
``RayNodeLabelKey``; set on every head and worker pod by ``common/pod.go``), and only to read:
``get``, ``list``, ``watch`` and the ``log`` subresource (what KubeRay's Dashboard and
``kubectl ray get nodes`` / ``kubectl ray log`` ask for). Every other verb is a 405 from the route
table; every other subresource a 404.

- Lists and watches (:class:`ForceRayNodeSelector`): ``ray.io/is-ray-node=yes`` is ANDed into the
  caller's ``labelSelector`` (:func:`handler.steps.force_label_selector`, forced requirement
  first), so no caller selector can reach other pods. A watch on one pod
  (``pods/{name}?watch=1``, read by the API server as a watch with ``metadata.name`` selected)
  gets the same selector.
- One pod and its log (:class:`RequireRayPod`): the pod is read first **with the caller's
  identity** (``GatewayRequest.get_json``); a pod without the label is answered 404 as if it did
  not exist, the way :class:`handler.steps.RequireKubeRayService` hides non-KubeRay Services.

The check-then-read window: between the lookup and the upstream's answer to the real request,
the pod may be deleted and another one created under the same name without the label. For a pod
``GET`` answered in JSON (a ``Pod``, or a ``Table`` whose rows carry the object's metadata, the
default ``includeObject=Metadata``), the answer itself is checked again: its ``uid`` must be the
one looked up and it must still carry the label, else 404 (the check then closes the window). A
``GET`` answered in protobuf or YAML, a ``Table`` with ``includeObject=None`` and ``pods/{name}/log``
(plain text, possibly a ``follow`` stream relayed as it comes) cannot be re-checked: for them the
window remains, bounded by one name reuse between two upstream calls made back to back, and the
caller still needs its own RBAC permission to read the pod the upstream serves.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from handler._headers import caller_response_headers
from handler.request import GatewayRequest
from handler.responses import AnyResponse, Response, UpstreamResponse
from handler.routing import Handler, Step
from handler.steps import force_label_selector
from kubeapi import meta
from kubeapi.media import MediaTypeError, parse_media_type
from kubeapi.status import StatusError, from_status_object

#: The label (key, value) a pod needs to be served (KubeRay's ``RayNodeLabelKey``).
RAY_NODE_LABEL = ("ray.io/is-ray-node", "yes")
#: The selector ANDed into every pod list and watch.
RAY_NODE_SELECTOR = "=".join(RAY_NODE_LABEL)
#: The most of a pod ``GET`` answer read for the re-check (the API server's object limit is 1.5 MiB
#: in etcd; a Table of one pod is smaller still).
MAX_RECHECK_BYTES = 3 * 1024 * 1024


def is_ray_pod(pod: Any) -> bool:
    """Whether ``pod`` (a decoded object) carries ``ray.io/is-ray-node=yes`` in ``metadata.labels``."""
    key, value = RAY_NODE_LABEL
    return meta.labels(pod).get(key) == value


def pod_not_found(name: str, why: str = "") -> StatusError:
    """The 404 ``Status`` of a pod the gateway does not serve, worded as the API server's
    ``NewNotFound`` (``pods "NAME" not found``), with ``why`` appended when given."""
    message = f'pods "{name}" not found' + (f": {why}" if why else "")
    return StatusError(404, "NotFound", message, {"name": name, "kind": "pods"})


class ForceRayNodeSelector(Step):
    """AND ``ray.io/is-ray-node=yes`` into the ``labelSelector`` of a pod list or watch (on a
    collection always; on one pod when it is a watch). Placed after the request rules, so no rule
    can undo it."""

    name = "force_ray_node_selector"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Rewrite the query, then go on."""
        if request.route.object_name is None or request.watch:
            request.query = force_label_selector(request.params, RAY_NODE_SELECTOR)
        return await next(request)


class RequireRayPod(Step):
    """Serve ``pods/{name}`` and ``pods/{name}/log`` only for a pod labelled
    ``ray.io/is-ray-node=yes``: look the pod up with the caller's identity first (404 unless it
    exists and carries the label; the upstream's own error, e.g. 403, otherwise), then go on; a JSON
    answer to a pod ``GET`` is checked again (see the module docstring for the window)."""

    name = "require_ray_pod"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Check the pod, run the rest of the route, re-check a JSON pod answer."""
        uid = await self.check(request)
        recheck = request.method == "GET" and not request.watch and request.route.subresource is None
        if recheck:
            # an uncompressed answer, so it can be read (the API server compresses only large ones)
            request.headers = [(k, v) for k, v in request.headers if k != "accept-encoding"]
        response = await next(request)
        if recheck and isinstance(response, UpstreamResponse) and response.status == 200:
            return await self._recheck(request, response, uid)
        return response

    async def check(self, request: GatewayRequest) -> str:
        """The pod's ``uid`` when it exists and is a Ray pod; StatusError 404 when it is not, or
        the upstream's error for the lookup (as a ``Status``)."""
        target = request.route
        assert target.namespace is not None and target.object_name is not None
        name = target.object_name
        path = f"/api/v1/namespaces/{quote(target.namespace, safe='')}/pods/{quote(name, safe='')}"
        status, pod = await request.get_json(path)
        if status == 404:
            raise pod_not_found(name)
        if status != 200:
            raise from_status_object(status, pod, f"cannot read pod {name}")
        if not is_ray_pod(pod):
            raise pod_not_found(name, "the gateway only serves pods labelled " + RAY_NODE_SELECTOR)
        return meta.uid(pod)

    async def _recheck(self, request: GatewayRequest, response: UpstreamResponse, uid: str) -> AnyResponse:
        """The answer, read whole and checked again when it is JSON (a Pod or a Table of rows with
        object metadata); passed on unread otherwise."""
        upstream = response.upstream
        try:
            media_type, params = parse_media_type(upstream.get_header("content-type") or "")
        except MediaTypeError:
            return response
        encoding = upstream.get_header("content-encoding")
        if media_type != "application/json" or encoding not in (None, "", "identity"):
            return response  # protobuf or YAML: not re-checked (the module docstring's window)
        length = upstream.get_header("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_RECHECK_BYTES:
            return response
        try:
            raw = bytes(await upstream.bytes())
        finally:
            await response.aclose()
        name = request.route.object_name or ""
        try:
            obj = json.loads(raw)
        except ValueError:
            raise pod_not_found(name, "the upstream's answer could not be checked") from None
        for pod in _objects_of(obj, params.get("as") == "Table"):
            if meta.uid(pod) != uid or not is_ray_pod(pod):
                raise pod_not_found(name, "the pod changed while it was read")
        return Response(response.status, caller_response_headers(upstream.headers.items()), raw)


def _objects_of(obj: Any, table: bool) -> list[Any]:
    """The objects to re-check in a pod ``GET`` answer: the Pod itself, or a Table's rows' objects
    (their ``PartialObjectMetadata``; rows without an object, ``includeObject=None``, give none)."""
    if not table:
        return [obj]
    rows = obj.get("rows") if isinstance(obj, dict) else None
    out: list[Any] = []
    for row in rows if isinstance(rows, list) else []:
        o = row.get("object") if isinstance(row, dict) else None
        if isinstance(o, dict) and o.get("metadata"):
            out.append(o)
    return out
