"""Patch application: JSON merge patch (RFC 7386) and JSON patch (RFC 6902, via ``jsonpatch``).

Error mapping follows the apiserver's ``handlers/patch.go``: a patch document that cannot be
decoded is a 400 ``BadRequest``; a JSON patch whose operations fail against the object (unknown op,
missing path, failed ``test``) is a 422 ``Invalid`` with the generic "the server rejected our request
due to an error in our request" (the library's reason is not shown, as by the real server).
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import jsonpointer

from fakekube._apierrors import bad_request
from kubeapi import media
from kubeapi.status import StatusError

#: The patch media types (:mod:`kubeapi.media`).
MERGE = media.MERGE_PATCH
JSON_PATCH = media.JSON_PATCH
STRATEGIC = media.STRATEGIC_MERGE_PATCH
APPLY = media.APPLY_PATCH_YAML


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(target, patch): objects merge recursively, ``null`` deletes a member,
    anything else (including arrays) replaces. Returns a new value; inputs are not modified, but
    untouched members of ``target`` are shared with the result."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def apply_patch(content_type: str, doc: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Apply a patch ``body`` of ``content_type`` (MERGE or JSON_PATCH) to ``doc`` (not modified).

    Raises StatusError 400 for an undecodable patch (or a result that is not a JSON object), 422 for a
    JSON patch that does not apply.
    """
    try:
        patch = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("invalid JSON patch") from None
    if content_type == MERGE:
        if not isinstance(patch, dict):
            what = "array" if isinstance(patch, list) else "value"
            raise bad_request(
                f"error decoding patch: json: cannot unmarshal {what} into Go value of type "
                "map[string]interface {}"
            )
        result = merge_patch(doc, patch)
    else:
        if not isinstance(patch, list):
            what = "object" if isinstance(patch, dict) else "value"
            raise bad_request(
                f"error decoding patch: json: cannot unmarshal {what} into Go value of type "
                "[]handlers.jsonPatchOp"
            )
        try:
            ops = jsonpatch.JsonPatch(patch)
            result = ops.apply(doc, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError):
            # The apiserver hides the library's reason behind errors.NewGenericServerResponse(422).
            raise StatusError(
                422, "Invalid", "the server rejected our request due to an error in our request", {}
            ) from None
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    return result
