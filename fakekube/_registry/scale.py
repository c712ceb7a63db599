"""The ``scale`` subresource of custom resources: ``autoscaling/v1`` ``Scale`` views of an object.

A CRD version with ``subresources.scale`` names three JSONPaths: ``specReplicasPath``,
``statusReplicasPath`` and ``labelSelectorPath``. GET ``.../NAME/scale`` answers a ``Scale`` read
from them; PUT/PATCH write ``spec.replicas`` back at ``specReplicasPath`` (everything else of
the object is left alone). Source: ``k8s.io/apiextensions-apiserver/pkg/registry/customresource/etcd.go``
(``ScaleREST``, ``scaleFromCustomResource``, ``scaleUpdatedObjectInfo``) and
``k8s.io/kubernetes/pkg/apis/autoscaling/validation`` (``ValidateScale``: replicas ≥ 0).
"""

from __future__ import annotations

from typing import Any

from fakekube import _apierrors as errors
from fakekube._resources import ResourceType
from kubeapi.status import StatusError
from kubeapi.types import JSON


def _path(json_path: str) -> list[str]:
    return [p for p in json_path.lstrip(".").split(".") if p]


def _read(obj: Any, json_path: str | None) -> Any:
    if not json_path:
        return None
    for p in _path(json_path):
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def to_scale(rt: ResourceType, obj: JSON) -> JSON:
    """The ``Scale`` of ``obj`` (a stored custom resource of ``rt``, whose CRD version has ``scale``)."""
    sub = rt.crd.version(rt.version).scale
    meta = obj["metadata"]
    spec_replicas = _read(obj, sub.spec_replicas_path)
    status: JSON = {"replicas": _read(obj, sub.status_replicas_path) or 0}
    selector = _read(obj, sub.label_selector_path)
    if selector:
        status["selector"] = selector
    out_meta = {
        k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
    }
    spec: JSON = {"replicas": spec_replicas} if spec_replicas else {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_meta,
        "spec": spec,
        "status": status,
    }


def apply_scale(rt: ResourceType, obj: JSON, scale: Any) -> JSON:
    """``obj`` (a copy the caller owns) with ``spec.replicas`` of ``scale`` written at the CRD's
    ``specReplicasPath``; 400 for a body that is no Scale object, 422 for bad replicas."""
    if not isinstance(scale, dict):
        raise errors.bad_request("the body of the request is not a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    name = obj["metadata"]["name"]
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.bad_request(f"Scale.autoscaling/v1: spec.replicas must be an integer, got {replicas!r}")
    if replicas < 0:
        msg = f"Invalid value: {replicas}: must be greater than or equal to 0"
        raise StatusError(
            422,
            "Invalid",
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: {msg}',
            {
                "name": name,
                "group": "autoscaling",
                "kind": "Scale",
                "causes": [{"reason": "FieldValueInvalid", "message": msg, "field": "spec.replicas"}],
            },
        )
    sub = rt.crd.version(rt.version).scale
    cur = obj
    parts = _path(sub.spec_replicas_path)
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = cur[p] = {}
        cur = nxt
    cur[parts[-1]] = replicas
    return obj
