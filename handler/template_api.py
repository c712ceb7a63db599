"""Managing compute templates through the gateway: as ConfigMaps, and at KubeRay V1's paths.

``/api/v1/namespaces/{ns}/configmaps[/{name}]`` serves only compute-template ConfigMaps (label
``ray.io/config-type=compute-template``, see :mod:`handler.templates`):

- list and watch: ``labelSelector`` forced to include ``ray.io/config-type=compute-template``
  (ANDed with the caller's, so no selector widens it);
- create and replace: the body as the caller sent it may carry only the template data keys, the
  two template labels and no ``binaryData``, with well-formed values (:func:`write_causes`, step
  :class:`TemplateConfigMapWriteCheck`, before the object hooks); anything else is a 422
  ``Invalid`` with one field error per fault (``data[mapRoles]: Forbidden: ...``). After the
  hooks (trusted operator code) the body must still be a labelled, well-formed template;
  ``ray.io/compute-template`` is set to the name when missing;
- get, replace, delete of one: the stored ConfigMap must carry the label; any other ConfigMap is
  answered 404 ``NotFound``, exactly as if it did not exist (a 403 would confirm it exists). The
  replace and the delete are conditional on the checked ConfigMap's ``resourceVersion`` (and, for
  the delete, its ``uid``), so one relabelled or replaced after the check is not touched (409);
- PATCH is not served (405): its result cannot be checked before it is stored.

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
    TEMPLATE_KEYS,
    TYPE_LABEL,
    TYPE_VALUE,
    TemplateError,
    errors,
    from_configmap,
    from_v1,
    is_template_configmap,
    to_configmap,
    to_v1,
)
from kubeapi.field_errors import FORBIDDEN, INVALID, OMIT, REQUIRED, Cause, make, not_supported
from kubeapi.meta import resource_version
from kubeapi.query import Query
from kubeapi.status import StatusError, from_status_object, new_invalid
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


def _invalid(name: str, kind: str, causes: list[Cause]) -> StatusError:
    """422 ``Invalid`` for object ``name`` of ``kind`` (core group), as ``errors.NewInvalid``."""
    return new_invalid("", kind, name, [c.to_status_cause() for c in causes])


_ALLOWED_KEYS = ", ".join(TEMPLATE_KEYS)
_ALLOWED_LABELS = f"{TYPE_LABEL}, {NAME_LABEL}"


def write_causes(obj: JSON, namespace: str, name: str) -> list[Cause]:
    """What keeps ConfigMap ``obj`` (to be written as ``namespace/name``) from being a compute
    template the gateway may write, as field errors (empty: it may be written).

    Only the labels ``ray.io/config-type=compute-template`` (required) and
    ``ray.io/compute-template`` (equal to the name when set); no ``binaryData``; only the data keys
    of :data:`handler.templates.TEMPLATE_KEYS` (``data.name`` / ``data.namespace`` equal to the
    object's when set), each value well formed (:func:`handler.templates.errors`). Worded as
    kube-apiserver words field errors (``field.Forbidden``, ``field.NotSupported``,
    ``field.Required``, ``field.Invalid`` in k8s.io/apimachinery/pkg/util/validation/field).
    """
    causes: list[Cause] = []
    meta = obj.get("metadata")
    raw_labels = meta.get("labels") if isinstance(meta, dict) else None
    labels: JSON = raw_labels if isinstance(raw_labels, dict) else {}
    for key in sorted(labels):
        if key not in (TYPE_LABEL, NAME_LABEL):
            detail = f"a compute-template ConfigMap carries only the labels {_ALLOWED_LABELS}"
            causes.append(make(FORBIDDEN, f"metadata.labels[{key}]", detail=detail))
    type_field = f"metadata.labels[{TYPE_LABEL}]"
    if TYPE_LABEL not in labels:
        causes.append(
            make(REQUIRED, type_field, detail=f"the gateway writes only ConfigMaps labelled {LABEL_SELECTOR}")
        )
    elif labels[TYPE_LABEL] != TYPE_VALUE:
        causes.append(not_supported(type_field, labels[TYPE_LABEL], [TYPE_VALUE]))
    if NAME_LABEL in labels and labels[NAME_LABEL] != name:
        causes.append(
            make(
                INVALID, f"metadata.labels[{NAME_LABEL}]", labels[NAME_LABEL], f"must equal the name {name!r}"
            )
        )
    if obj.get("binaryData"):
        causes.append(
            make(FORBIDDEN, "binaryData", detail="a compute-template ConfigMap holds only text data")
        )
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return [*causes, make(INVALID, "data", OMIT, "must be a map of strings")]
    for key in sorted(data):
        if key not in TEMPLATE_KEYS:
            detail = f"not a compute-template key (the keys are {_ALLOWED_KEYS})"
            causes.append(make(FORBIDDEN, f"data[{key}]", detail=detail))
    for key, want in (("name", name), ("namespace", namespace)):
        given = data.get(key)
        if given not in (None, "", want):
            causes.append(make(INVALID, f"data[{key}]", given, f"must equal the ConfigMap's {key} {want!r}"))
    causes.extend(e.cause(f"data[{e.key}]") for e in errors(data))
    return causes


async def _stored(request: GatewayRequest, namespace: str, name: str) -> JSON | None:
    """The compute-template ConfigMap ``namespace/name``, None when absent or not a template."""
    status, obj = await request.get_json(_configmap_path(namespace, name))
    if status == 404:
        return None
    if status != 200:
        raise from_status_object(status, obj, f"cannot read configmap {name!r}")
    return obj if is_template_configmap(obj) else None


def _name_of(obj: JSON, route: RequestTarget) -> str:
    raw_meta = obj.get("metadata")
    meta: JSON = raw_meta if isinstance(raw_meta, dict) else {}
    return str(meta.get("name") or route.object_name or "")


def _body(obj: Any) -> JSON:
    if not isinstance(obj, dict):
        raise StatusError(400, "BadRequest", "the body must be a ConfigMap object")
    return obj


class TemplateConfigMapWriteCheck(Step):
    """Refuse (422, one field error per fault, :func:`write_causes`) a create or replace of a
    ConfigMap whose body, as the caller sent it, is not a compute template the gateway may write.

    Runs before the object hooks: the restriction is on what a caller writes; the operator's own
    hooks (which may stamp a label on every object) are trusted code. The guard after them still
    requires the template label and well-formed values on the final body."""

    name = "template_configmap_write_check"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Check a POST or PUT body, then go on."""
        if request.method in ("POST", "PUT"):
            route = request.route
            obj = _body(await request.json())
            name = _name_of(obj, route)
            causes = write_causes(obj, route.namespace or "", name)
            if causes:
                raise _invalid(name, "ConfigMap", causes)
        return await next(request)


def _check_body(obj: Any, route: RequestTarget, stored: JSON | None = None) -> JSON:
    """The final ConfigMap body to create or (``stored`` being the checked template) replace, as
    the object hooks left it: it must still carry the template label and well-formed template
    values (422 otherwise); the name label is filled in; on replace, the ``resourceVersion`` of
    ``stored`` is set when the caller gave none, so that the ConfigMap replaced is the one whose
    label was checked (409 ``Conflict`` if it changed in between)."""
    body = _body(obj)
    name = _name_of(body, route)
    causes: list[Cause] = []
    if not is_template_configmap(body):
        detail = f"the gateway writes only ConfigMaps labelled {LABEL_SELECTOR}"
        causes.append(make(REQUIRED, f"metadata.labels[{TYPE_LABEL}]", detail=detail))
    data = body.get("data")
    if isinstance(data, dict):
        causes.extend(e.cause(f"data[{e.key}]") for e in errors(data))
    if causes:
        raise _invalid(name, "ConfigMap", causes)
    meta = body["metadata"]
    meta["labels"].setdefault(NAME_LABEL, name)
    if stored is not None and not meta.get("resourceVersion"):
        meta["resourceVersion"] = resource_version(stored)
    return body


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
            request.set_json(_check_body(await request.json(), route, stored))
        elif request.method == "DELETE":
            request.set_json(await _delete_options(request, stored))
        return await next(request)


def _uid(obj: JSON) -> str:
    meta = obj.get("metadata")
    return str(meta.get("uid", "")) if isinstance(meta, dict) else ""


async def _delete_options(request: GatewayRequest, stored: JSON) -> JSON:
    """The caller's ``DeleteOptions`` with ``preconditions.uid`` and ``preconditions.resourceVersion``
    of the ConfigMap that was checked, so a ConfigMap replaced or relabelled between the label check
    and the delete is not deleted (409 ``Conflict`` instead): the delete acts on exactly the version
    whose label was read. A caller's own preconditions stay (the upstream then judges them; a
    caller's resourceVersion other than the checked one fails there too)."""
    body = await request.json() if request.raw_body.has_body else None
    options: JSON = body if isinstance(body, dict) else {}
    options.setdefault("apiVersion", "v1")
    options.setdefault("kind", "DeleteOptions")
    pre = options.setdefault("preconditions", {})
    if not isinstance(pre, dict):
        raise StatusError(400, "BadRequest", "DeleteOptions.preconditions must be an object")
    for key, value in (("uid", _uid(stored)), ("resourceVersion", resource_version(stored))):
        if value:
            pre.setdefault(key, value)
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
            raise _invalid(str(shown or ""), "ComputeTemplate", [e.cause(e.key)]) from None
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
        pre = {"uid": _uid(stored), "resourceVersion": resource_version(stored)}
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": pre}
        status, deleted = await request.send_json("DELETE", _configmap_path(namespace, name), options)
        if status not in (200, 202):
            raise from_status_object(status, deleted, f"cannot delete compute template {name!r}")
        return json_response(200, {})
    try:
        return json_response(200, to_v1(from_configmap(stored)))
    except TemplateError as e:
        raise _invalid(name, "ComputeTemplate", [e.cause(e.key)]) from None
