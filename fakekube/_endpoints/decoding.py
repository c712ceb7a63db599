"""Decoding request bodies into objects, with the apiserver's decode errors.

The texts follow ``k8s.io/apiserver/pkg/endpoints/handlers/rest.go`` ``transformDecodeError``:
a body whose kind cannot be told is ``the object provided is unrecognized (must be of type K):
ERR (SUMMARY)`` (SUMMARY = the body if it starts with ``{``, else its hex, cut at 30 bytes); a body
of a known kind that does not fit is ``K2 in version "v" cannot be handled as a K: ERR``. ERR
is Go's ``encoding/json`` or go-yaml's message: JSON and YAML parsing, their Go wording, limits
and the summary are :mod:`kubeapi.decode`'s, the same code the gateway decodes bodies with.
Custom resources need ``apiVersion`` and ``kind`` in the body (unstructured decoding); core kinds
take them from the URL when absent.
"""

from __future__ import annotations

from typing import Any

from fakekube import _apierrors as errors
from fakekube._resources import ALL_TYPES, ResourceType
from kubeapi import media
from kubeapi.decode import DecodeError, UnmarshalError, decode_json, decode_yaml, unrecognized
from kubeapi.types import JSON

JSON_TYPES = ("application/json", "*/*")
_CORE_KINDS = frozenset(
    {rt.kind for rt in ALL_TYPES if not rt.group}
    | {"Pod", "Secret", "ServiceAccount", "Node", "PersistentVolumeClaim", "Endpoints", "LimitRange"}
)


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def parse(rt: ResourceType, body: bytes, content_type: str) -> Any:
    """Parse ``body`` as JSON or YAML per ``content_type``; 400 on syntax errors, 415 on other types."""
    if content_type in JSON_TYPES:
        try:
            return decode_json(body)
        except UnmarshalError as e:
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {e}'
            ) from None
        except DecodeError as e:
            raise unrecognized(rt.kind, f"couldn't get version/kind; json parse error: {e}", body) from None
    if content_type in media.YAML_TYPES:
        try:
            return decode_yaml(body)
        except DecodeError as e:
            raise unrecognized(rt.kind, str(e), body) from None
    raise errors.unsupported_media_type(
        content_type,
        ["application/json", "application/yaml"]
        + ([] if rt.custom else ["application/vnd.kubernetes.protobuf"]),
    )


def to_object(rt: ResourceType, obj: Any, body: bytes) -> JSON:
    """Check a parsed body is an object of ``rt``'s kind and version and that its metadata has the
    right types; fill ``apiVersion``/``kind`` for core kinds. Returns ``obj`` (modified in place)."""
    if not isinstance(obj, dict):
        raise unrecognized(
            rt.kind,
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{_json_type(obj)} into Go value of type struct {{ APIVersion string "
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
            body,
        )
    kind = obj.get("kind") or ""
    if rt.custom and not kind:
        raw = body.decode("utf-8", "replace")
        raise unrecognized(rt.kind, f"Object 'Kind' is missing in '{raw}'", body)
    api_version = obj.get("apiVersion") or ("" if rt.custom else rt.api_version)
    if api_version != rt.api_version:
        err = errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({rt.api_version})"
        )
        if rt.custom:
            # A custom resource of an unserved version decodes with no schema: the real server warns
            # that every field besides the type and object meta is unknown.
            extra = [k for k in obj if k not in ("apiVersion", "kind", "metadata")]
            err.warnings = [f'unknown field "{k}"' for k in extra]
        raise err
    kind = kind or rt.kind
    cannot = f'{kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
    if kind != rt.kind and not rt.custom:
        if kind in _CORE_KINDS:
            raise errors.bad_request(
                cannot + f"converting (v1.{kind}) to (core.{rt.kind}): unknown conversion"
            )
        raise errors.bad_request(
            cannot + f'no kind "{kind}" is registered for version "{rt.version}" in scheme '
            '"pkg/runtime/scheme.go:111"'
        )
    obj["apiVersion"], obj["kind"] = api_version, kind
    # Custom resources decode metadata through unstructured helpers, core kinds through typed
    # structs: the Go field path in the message differs.
    prefix = "ObjectMeta." if rt.custom else "ObjectMeta.metadata."
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise errors.bad_request(
            cannot + f"json: cannot unmarshal {_json_type(meta)} into Go value of type v1.ObjectMeta"
        )
    for field in ("labels", "annotations"):
        m = meta.get(field)
        if not m and m is not None and isinstance(m, dict):
            m = None  # an empty map is omitted, as the apiserver's encoding does (omitempty)
        if m is None:
            meta.pop(field, None)
        elif not isinstance(m, dict):
            raise errors.bad_request(
                cannot + f"json: cannot unmarshal {_json_type(m)} into Go struct field "
                f"{prefix}{field} of type map[string]string"
            )
        else:
            for v in m.values():
                if not isinstance(v, str):
                    raise errors.bad_request(
                        cannot + f"json: cannot unmarshal {_json_type(v)} into Go struct "
                        f"field {prefix}{field} of type string"
                    )
    for field in ("name", "namespace", "generateName", "resourceVersion", "uid"):
        v = meta.get(field)
        if v is None:
            meta.pop(field, None)
        elif not isinstance(v, str):
            raise errors.bad_request(
                cannot + f"json: cannot unmarshal {_json_type(v)} into Go struct field "
                f"{prefix}{field} of type string"
            )
    if meta.get("finalizers") == [] or meta.get("finalizers", 0) is None:
        meta.pop("finalizers")
    if "finalizers" in meta and not (
        isinstance(meta["finalizers"], list) and all(isinstance(f, str) for f in meta["finalizers"])
    ):
        raise errors.bad_request(
            cannot + f"json: cannot unmarshal {_json_type(meta['finalizers'])} into Go "
            f"struct field {prefix}finalizers of type []string"
        )
    return obj


def decode(rt: ResourceType, body: bytes, content_type: str) -> JSON:
    """Parse and check a create/update body for ``rt`` (see :func:`parse`, :func:`to_object`)."""
    return to_object(rt, parse(rt, body, content_type or "application/json"), body)
