"""Managing compute templates through the gateway: as ConfigMaps, and at KubeRay V1's paths.

``/api/v1/namespaces/{ns}/configmaps[/{name}]`` serves only compute-template ConfigMaps (label
``ray.io/config-type=compute-template``, see :mod:`handler.templates`):

- list and watch: ``labelSelector`` forced to include ``ray.io/config-type=compute-template``
  (ANDed with the caller's, so no selector widens it);
- create and replace: the body must carry the label (403 ``Forbidden`` otherwise) and valid template
  data (422 ``Invalid`` naming the key otherwise); ``ray.io/compute-template`` is set to the name
  when missing;
- get, replace, delete of one: the stored ConfigMap must carry the label; any other ConfigMap is
  answered 404 ``NotFound``, exactly as if it did not exist.

KubeRay APIServer V1's compute template API (``proto/config.proto`` ``ComputeTemplateService``,
JSON as its grpc-gateway marshals it: lowerCamelCase names, zero values omitted) is served on the
same ConfigMaps: ``POST /apis/v1/namespaces/{ns}/compute_templates`` (body a ``ComputeTemplate``,
answers it), ``GET .../compute_templates`` (``{"computeTemplates": [...]}``),
``GET`` / ``DELETE .../compute_templates/{name}`` (``DELETE`` answers ``{}``) and
``GET /apis/v1/compute_templates`` (every namespace). Errors are ``Status`` objects, as everywhere
in the gateway (V1 answered gRPC status JSON).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

from handler.request import GatewayRequest
from handler.responses import AnyResponse, json_response
from handler.routing import Handler, Step
from handler.target import RequestTarget
from handler.templates import (
    NAME_LABEL,
    TYPE_LABEL,
    TYPE_VALUE,
    TemplateError,
    from_configmap,
    from_v1,
    is_template_configmap,
    to_configmap,
    to_v1,
)
from kubeapi.query import Query
from kubeapi.status import StatusError, from_status_object
from kubeapi.types import JSON

log = logging.getLogger("handler.template_api")

LABEL_SELECTOR = f"{TYPE_LABEL}={TYPE_VALUE}"


def force_label_selector(query: Query) -> str:
    """``query`` as a raw query string with ``ray.io/config-type=compute-template`` ANDed into
    ``labelSelector`` (the caller's other parameters kept as written)."""
    selectors = [v for v in query.values("labelSelector") if v]
    return query.replace("labelSelector", [",".join([*selectors, LABEL_SELECTOR])]).encode()


def _configmap_path(namespace: str | None, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps" if namespace else "/api/v1/configmaps"
    return base + (f"/{quote(name, safe='')}" if name else "")


def _not_found(name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'configmaps "{name}" not found', {"name": name, "kind": "configmaps"}
    )


def _template_not_found(name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'compute template "{name}" not found', {"name": name, "kind": "compute_templates"}
    )


def _invalid(name: str, kind: str, field: str, error: TemplateError) -> StatusError:
    detail = str(error)
    return StatusError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {field}: {detail}',
        {
            "name": name,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        },
    )


async def _stored(request: GatewayRequest, namespace: str, name: str) -> JSON | None:
    """The compute-template ConfigMap ``namespace/name``, None when absent or not a template."""
    status, obj = await request.get_json(_configmap_path(namespace, name))
    if status == 404:
        return None
    if status != 200:
        raise from_status_object(status, obj, f"cannot read configmap {name!r}")
    return obj if is_template_configmap(obj) else None


def _check_body(obj: Any, route: RequestTarget) -> JSON:
    """A ConfigMap body to create or replace: labelled, valid; name label filled in."""
    if not isinstance(obj, dict):
        raise StatusError(400, "BadRequest", "the body must be a ConfigMap object")
    raw_meta = obj.get("metadata")
    meta: JSON = raw_meta if isinstance(raw_meta, dict) else {}
    name = str(meta.get("name") or route.object_name or "")
    if not is_template_configmap(obj):
        raise StatusError(
            403,
            "Forbidden",
            f'configmaps "{name}" is forbidden: '
            f"the gateway only manages ConfigMaps labelled {LABEL_SELECTOR}",
            {"name": name, "kind": "configmaps"},
        )
    try:
        from_configmap(obj)
    except TemplateError as e:
        raise _invalid(name, "ConfigMap", f"data.{e.key}", e) from None
    meta["labels"].setdefault(NAME_LABEL, name)
    return obj


class TemplateConfigMapGuard(Step):
    """Confine ``/api/v1/namespaces/{ns}/configmaps[/{name}]`` to compute-template ConfigMaps (see
    the module docstring): forces the label selector on lists and watches, checks created and
    replaced bodies, answers GET of a template itself, and 404s any other ConfigMap."""

    name = "template_configmap_guard"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """The guarded request's response."""
        route = request.route
        namespace, name = route.namespace or "", route.object_name
        if name is None:
            if request.method == "POST":
                request.set_json(_check_body(await request.json(), route))
            else:
                request.query = force_label_selector(request.params)
            return await next(request)
        stored = await _stored(request, namespace, name)
        if stored is None:
            raise _not_found(name)
        if request.method == "GET":
            return json_response(200, stored)
        if request.method == "PUT":
            request.set_json(_check_body(await request.json(), route))
        elif request.method == "DELETE":
            request.set_json(await _delete_options(request, stored))
        return await next(request)


def _uid(obj: JSON) -> str:
    meta = obj.get("metadata")
    return str(meta.get("uid", "")) if isinstance(meta, dict) else ""


async def _delete_options(request: GatewayRequest, stored: JSON) -> JSON:
    """The caller's ``DeleteOptions`` with ``preconditions.uid`` of the ConfigMap that was checked, so
    a ConfigMap replaced between the label check and the delete is not deleted (409 instead)."""
    body = await request.json() if request.raw_body.has_body else None
    options: JSON = body if isinstance(body, dict) else {}
    options.setdefault("apiVersion", "v1")
    options.setdefault("kind", "DeleteOptions")
    uid = _uid(stored)
    if uid:  # a caller's own uid precondition stays: the upstream then judges it
        options.setdefault("preconditions", {}).setdefault("uid", uid)
    return options


def _template(cm: Any) -> JSON | None:
    try:
        return to_v1(from_configmap(cm))
    except TemplateError as e:
        log.warning(
            "skipping malformed compute template ConfigMap %s: %s", cm.get("metadata", {}).get("name"), e
        )
        return None


async def compute_templates_v1(request: GatewayRequest) -> AnyResponse:
    """Backend of KubeRay V1's ``compute_templates`` paths (see the module docstring)."""
    route = request.route
    namespace, name = route.namespace, route.object_name
    if request.method == "POST":
        assert namespace is not None
        body = await request.json()
        try:
            template = from_v1(body, namespace)
        except TemplateError as e:
            shown = body.get("name") if isinstance(body, dict) else ""
            raise _invalid(str(shown or ""), "ComputeTemplate", e.key, e) from None
        status, created = await request.send_json("POST", _configmap_path(namespace), to_configmap(template))
        if status != 201 and status != 200:
            raise from_status_object(status, created, f"cannot create compute template {template.name!r}")
        return json_response(200, to_v1(from_configmap(created)))
    if name is None:
        status, listed = await request.get_json(
            _configmap_path(namespace), urlencode({"labelSelector": LABEL_SELECTOR})
        )
        if status != 200:
            raise from_status_object(status, listed, "cannot list compute templates")
        items = [t for t in (_template(cm) for cm in listed.get("items", [])) if t is not None]
        return json_response(200, {"computeTemplates": items})
    assert namespace is not None
    stored = await _stored(request, namespace, name)
    if stored is None:
        raise _template_not_found(name)
    if request.method == "DELETE":
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": _uid(stored)}}
        status, deleted = await request.send_json("DELETE", _configmap_path(namespace, name), options)
        if status not in (200, 202):
            raise from_status_object(status, deleted, f"cannot delete compute template {name!r}")
        return json_response(200, {})
    try:
        return json_response(200, to_v1(from_configmap(stored)))
    except TemplateError as e:
        raise _invalid(name, "ComputeTemplate", e.key, e) from None
