"""A minimal OpenAPI v3 discovery: ``/openapi/v3`` and ``/openapi/v3/{api/v1|apis/G/V}``.

Enough for ``kubectl apply``/``create`` with their default ``--validate=strict``: kubectl looks up
the PATCH operation of the kind (``x-kubernetes-group-version-kind``) and, finding a
``fieldValidation`` query parameter there, leaves validation to the server
(``k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go``). Custom kinds get a schema that
preserves unknown fields (fakekube does not yet validate against the CRD schemas); built-in kinds
get none, so kubectl keeps using its compiled-in types for strategic merge. ``/openapi/v2`` is not
served (404): kubectl only falls back to it when v3 is missing.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from fakekube.resources import ALL_TYPES, BY_GROUP_VERSION, ResourceType

JSON = dict[str, Any]

_WRITE_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rt: ResourceType) -> str:
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


def _op(rt: ResourceType, verb: str, write: bool) -> JSON:
    op: JSON = {
        "operationId": f"{verb}{rt.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "responses": {"200": {"description": "OK"}},
    }
    if write:
        op["parameters"] = _WRITE_PARAMS
    return op


@cache
def group_version_doc(group: str, version: str) -> bytes | None:
    """The OpenAPI v3 document of one served group/version (JSON bytes), or None."""
    types = BY_GROUP_VERSION.get((group, version))
    if not types:
        return None
    paths: JSON = {}
    schemas: JSON = {}
    for rt in types.values():
        base = "/" + _gv_path(group, version) + ("/namespaces/{namespace}" if rt.namespaced else "")
        paths[f"{base}/{rt.plural}"] = {"get": _op(rt, "list", False), "post": _op(rt, "post", True)}
        item = {
            "get": _op(rt, "get", False),
            "put": _op(rt, "put", True),
            "patch": _op(rt, "patch", True),
            "delete": _op(rt, "delete", False),
        }
        paths[f"{base}/{rt.plural}/{{name}}"] = item
        if "status" in rt.subresources:
            paths[f"{base}/{rt.plural}/{{name}}/status"] = {k: item[k] for k in ("get", "put", "patch")}
        if rt.custom:
            schemas[_schema_name(rt)] = {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [
                    {"group": rt.group, "version": rt.version, "kind": rt.kind}
                ],
            }
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "fakekube", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@cache
def root_doc() -> bytes:
    """``/openapi/v3``: each group/version's document path with a content hash."""
    paths: JSON = {}
    for g, v in sorted({(rt.group, rt.version) for rt in ALL_TYPES}):
        doc = group_version_doc(g, v)
        assert doc is not None
        digest = hashlib.sha512(doc).hexdigest().upper()
        paths[_gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={digest}"}
    return json.dumps({"paths": paths}, separators=(",", ":")).encode()
