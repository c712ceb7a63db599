"""OpenAPI documents built from the served resources: ``/openapi/v3`` (index and one document per
group/version) and ``/openapi/v2`` (one Swagger 2.0 document).

Custom resources get their CRD version's ``openAPIV3Schema`` with ``apiVersion``, ``kind`` and
``metadata`` (a ``$ref`` to ``ObjectMeta``) filled in and ``x-kubernetes-group-version-kind``, plus
a ``<Kind>List`` schema, as the apiextensions-apiserver's OpenAPI builder does
(``k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder/builder.go``); that is what
``kubectl explain`` reads. Every path carries its operations with ``x-kubernetes-action`` and
``x-kubernetes-group-version-kind``, the write operations their ``dryRun``/``fieldManager``/
``fieldValidation`` parameters (``kubectl apply``/``create`` leave validation to the server when
they find ``fieldValidation``: ``k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go``) and
the PATCH operations the patch content types they accept (custom resources: no strategic merge,
so ``kubectl apply`` sends a JSON merge patch). Built-in kinds get paths but no schemas, so kubectl
keeps using its compiled-in types for them.

The v2 document converts the schemas the way the builder does for v2 (``nullable``, ``oneOf``,
``anyOf``, ``not`` dropped; ``x-kubernetes-int-or-string`` kept), with ``#/definitions/`` refs.
Documents are built once per registry generation and cached as JSON bytes; ``/openapi/v2`` also
in protobuf (:meth:`OpenAPI.v2_protobuf`, gnostic's messages through :mod:`kubeapi.openapiv2`),
the form client-go asks for.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fakekube._registry.kinds import ServedKinds
from fakekube._resources import ResourceType
from kubeapi import openapiv2
from kubeapi.types import JSON

_WRITE_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation")
]
_PATCH_TYPES_CUSTOM = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
_PATCH_TYPES_CORE = (*_PATCH_TYPES_CUSTOM, "application/strategic-merge-patch+json")
_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_API_VERSION_DESC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DESC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DESC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
#: A trimmed ``ObjectMeta`` (the fields explain shows most; the real one has all of them).
_OBJECT_META: JSON = {
    "description": "ObjectMeta is metadata that all persisted resources must have, which includes all "
    "objects users must create.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {
            "type": "string",
            "description": "GenerateName is an optional prefix, used by the "
            "server, to generate a unique name ONLY IF the Name field has not been provided.",
        },
        "namespace": {
            "type": "string",
            "description": "Namespace defines the space within which each name must be unique.",
        },
        "uid": {
            "type": "string",
            "description": "UID is the unique in time and space value for this object.",
        },
        "resourceVersion": {
            "type": "string",
            "description": "An opaque value that represents the internal version of this object.",
        },
        "generation": {
            "type": "integer",
            "format": "int64",
            "description": "A sequence number representing a specific generation of the desired state.",
        },
        "creationTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "CreationTimestamp is a "
            "timestamp representing the server time when this object was created.",
        },
        "deletionTimestamp": {
            "type": "string",
            "format": "date-time",
            "description": "DeletionTimestamp is "
            "RFC 3339 date and time at which this resource will be deleted.",
        },
        "labels": {
            **_STR_MAP,
            "description": "Map of string keys and values that can be used to organize "
            "and categorize (scope and select) objects.",
        },
        "annotations": {
            **_STR_MAP,
            "description": "Annotations is an unstructured key value map stored with "
            "a resource that may be set by external tools to store and retrieve arbitrary metadata.",
        },
        "finalizers": {
            "type": "array",
            "items": {"type": "string", "default": ""},
            "description": "Must be empty before the object is deleted from the registry.",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "description": "List of objects depended by this object.",
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "description": "ManagedFields maps workflow-id and version to the set of "
            "fields that are managed by that workflow.",
        },
    },
}
_LIST_META: JSON = {
    "description": "ListMeta describes metadata that synthetic resources must have, including lists.",
    "type": "object",
    "properties": {
        "continue": {"type": "string", "description": "continue may be set if the user set a limit."},
        "remainingItemCount": {"type": "integer", "format": "int64"},
        "resourceVersion": {
            "type": "string",
            "description": "String that identifies the server's internal version of this object.",
        },
    },
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(rt: ResourceType, kind: str | None = None) -> str:
    """The definition name of a kind: reversed group + version + kind (``io.ray.v1.RayCluster``)."""
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{kind or rt.kind}"


def _gvk(rt: ResourceType, kind: str | None = None) -> JSON:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _ref(prefix: str, name: str) -> JSON:
    return {"$ref": f"{prefix}{name}"}


def _op(rt: ResourceType, verb: str, write: bool, prefix: str) -> JSON:
    op: JSON = {
        "operationId": f"{verb}{rt.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": _gvk(rt),
        "responses": {"200": {"description": "OK"}},
    }
    if write:
        op["parameters"] = _WRITE_PARAMS
    if verb == "patch":
        types = _PATCH_TYPES_CUSTOM if rt.custom else _PATCH_TYPES_CORE
        schema = _ref(prefix, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
        op["requestBody"] = {"content": {t: {"schema": schema} for t in types}, "required": True}
    return op


def _kind_schema(rt: ResourceType, meta_ref: JSON) -> JSON:
    """The CRD version's schema as a definition (the builder's ``buildKubeNative`` additions)."""
    version = rt.crd.version(rt.version)
    base: JSON = dict(version.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = dict(base.get("properties") or {})
    props["apiVersion"] = {"type": "string", "description": _API_VERSION_DESC}
    props["kind"] = {"type": "string", "description": _KIND_DESC}
    props["metadata"] = {"description": _METADATA_DESC, "allOf": [meta_ref]}
    base["properties"] = props
    base.setdefault("type", "object")
    base["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return base


def _list_schema(rt: ResourceType, item_ref: JSON, list_meta_ref: JSON) -> JSON:
    return {
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION_DESC},
            "items": {"type": "array", "items": item_ref, "description": f"List of {rt.plural}."},
            "kind": {"type": "string", "description": _KIND_DESC},
            "metadata": {"description": "Standard list metadata.", "allOf": [list_meta_ref]},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
    }


def _to_v2(schema: Any) -> Any:
    """A v3 schema as Swagger 2.0 allows (the builder's v2 conversion: drop what v2 lacks)."""
    if isinstance(schema, list):
        return [_to_v2(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: JSON = {}
    for k, v in schema.items():
        if k in ("nullable", "oneOf", "anyOf", "not"):
            continue
        if k == "$ref" and isinstance(v, str):
            out[k] = v.replace("#/components/schemas/", "#/definitions/")
        elif k in ("properties", "patternProperties", "definitions"):
            out[k] = {n: _to_v2(s) for n, s in v.items()} if isinstance(v, dict) else v
        elif k in ("items", "additionalProperties", "allOf"):
            out[k] = _to_v2(v)
        else:
            out[k] = v
    return out


class OpenAPI:
    """The OpenAPI documents of one :class:`~fakekube._registry.kinds.ServedKinds`, cached per
    generation of the served kinds."""

    def __init__(self, registry: ServedKinds) -> None:
        self.kinds = registry
        self._cache: dict[str, bytes | None] = {}
        self._generation = -1

    def _cached(self, key: str, build: Any) -> bytes | None:
        if self._generation != self.kinds.generation:
            self._cache.clear()
            self._generation = self.kinds.generation
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _parts(self, types: list[ResourceType], prefix: str, with_ops: bool = True) -> tuple[JSON, JSON]:
        """(paths, schemas) of ``types``; refs start with ``prefix``."""
        paths: JSON = {}
        schemas: JSON = {}
        meta_ref, list_meta_ref = _ref(prefix, _META_REF), _ref(prefix, _LIST_META_REF)
        for rt in types:
            base = "/" + _gv_path(rt.group, rt.version) + ("/namespaces/{namespace}" if rt.namespaced else "")
            if with_ops:
                paths[f"{base}/{rt.plural}"] = {
                    "get": _op(rt, "list", False, prefix),
                    "post": _op(rt, "post", True, prefix),
                }
                item = {
                    "get": _op(rt, "get", False, prefix),
                    "put": _op(rt, "put", True, prefix),
                    "patch": _op(rt, "patch", True, prefix),
                    "delete": _op(rt, "delete", False, prefix),
                }
                paths[f"{base}/{rt.plural}/{{name}}"] = item
                if "status" in rt.subresources:
                    paths[f"{base}/{rt.plural}/{{name}}/status"] = {
                        k: item[k] for k in ("get", "put", "patch")
                    }
            if rt.crd is not None:
                schemas[schema_name(rt)] = _kind_schema(rt, meta_ref)
                item_ref = _ref(prefix, schema_name(rt))
                schemas[schema_name(rt, rt.list_kind)] = _list_schema(rt, item_ref, list_meta_ref)
        if schemas:
            schemas[_META_REF] = _OBJECT_META
            schemas[_LIST_META_REF] = _LIST_META
            schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"] = {
                "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH "
                "request body.",
                "type": "object",
            }
        return paths, schemas

    def group_version_doc(self, group: str, version: str) -> bytes | None:
        """The OpenAPI v3 document of one served group/version (JSON bytes), or None."""

        def build() -> bytes | None:
            types = self.kinds.group_version(group, version)
            if not types:
                return None
            paths, schemas = self._parts(list(types.values()), "#/components/schemas/")
            doc = {
                "openapi": "3.0.0",
                "info": {"title": "fakekube", "version": "v0.1.0"},
                "paths": paths,
                "components": {"schemas": schemas},
            }
            return json.dumps(doc, separators=(",", ":")).encode()

        return self._cached(f"v3/{group}/{version}", build)

    def root_doc(self) -> bytes:
        """``/openapi/v3``: each group/version's document path with a content hash."""

        def build() -> bytes:
            paths: JSON = {}
            gvs = {(rt.group, rt.version) for rt in self.kinds.types()}
            for g, v in sorted(gvs):
                doc = self.group_version_doc(g, v)
                assert doc is not None
                digest = hashlib.sha512(doc).hexdigest().upper()
                paths[_gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={digest}"}
            return json.dumps({"paths": paths}, separators=(",", ":")).encode()

        doc = self._cached("v3", build)
        assert doc is not None
        return doc

    def v2_doc(self) -> bytes:
        """``/openapi/v2``: one Swagger 2.0 document with every path and the custom kinds' definitions."""

        def build() -> bytes:
            paths, schemas = self._parts(self.kinds.types(), "#/definitions/")
            for item in paths.values():
                for op in item.values():
                    body = op.pop("requestBody", None)
                    if body is not None:
                        op["consumes"] = list(body["content"])
                    if "parameters" in op:
                        op["parameters"] = [
                            {"name": p["name"], "in": "query", "type": "string", "uniqueItems": True}
                            for p in op["parameters"]
                        ]
            doc = {
                "swagger": "2.0",
                "info": {"title": "fakekube", "version": "v0.1.0"},
                "paths": paths,
                "definitions": {n: _to_v2(s) for n, s in schemas.items()},
            }
            return json.dumps(doc, separators=(",", ":")).encode()

        doc = self._cached("v2", build)
        assert doc is not None
        return doc

    def v2_protobuf(self) -> bytes:
        """``/openapi/v2`` in protobuf: :meth:`v2_doc` as gnostic's ``openapi.v2.Document``
        (:func:`kubeapi.openapiv2.to_protobuf`, kube-openapi's ``ToProtoBinary``), built once per
        registry generation (about a second for the Ray CRDs' schemas)."""

        def build() -> bytes:
            return openapiv2.to_protobuf(json.loads(self.v2_doc()))

        doc = self._cached("v2.pb", build)
        assert doc is not None
        return doc
