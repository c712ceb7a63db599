"""Request options read from the query and body, with the apiserver's validation and error texts.

``ListOptions`` (``labelSelector``, ``fieldSelector``, ``limit``, ``continue``, ``resourceVersion``,
``resourceVersionMatch``, ``timeoutSeconds``; ``ValidateListOptions`` in
``k8s.io/apimachinery/pkg/apis/meta/internalversion/validation``), the write options
(``dryRun``, ``fieldManager``, ``fieldValidation``, ``force``; ``ValidateCreateOptions`` & co. in
``k8s.io/apimachinery/pkg/apis/meta/v1/validation``) and ``DeleteOptions`` (body and query).
Integers and booleans are read from :class:`kubeapi.query.Query` with Go's rules
(``strconv.ParseInt``; ``Convert_Slice_string_To_bool``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fakekube import _apierrors as errors
from fakekube._endpoints.asgi import Request
from fakekube._endpoints.routing import Target
from fakekube._registry import managedfields, patch
from fakekube._resources import ResourceType
from fakekube._storage import versioning
from fakekube._storage.selection import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from kubeapi.query import NumError
from kubeapi.status import StatusError
from kubeapi.types import JSON

_PROPAGATION = ("Foreground", "Background", "Orphan")
_SUPPORTED_POLICIES = '"Foreground", "Background", "Orphan", "nil"'


def int_param(req: Request, name: str) -> int | None:
    """An integer query parameter (``limit``, ``timeoutSeconds``, ``gracePeriodSeconds``) read as
    ``Convert_Slice_string_To_int64``: None when absent; 400 with Go's strconv text otherwise."""
    try:
        return req.query.int(name)
    except NumError as e:
        raise errors.bad_request(str(e)) from None


def selectors(req: Request, rt: ResourceType) -> tuple[LabelSelector, FieldSelector]:
    """The ``labelSelector`` and ``fieldSelector`` of a list, watch or deletecollection; 400 with
    the apiserver's parse error."""
    try:
        labels = parse_label_selector(req.query.get("labelSelector", "") or "")
        fields = parse_field_selector(req.query.get("fieldSelector", "") or "", rt)
    except ValueError as e:  # LabelSelectorError, FieldSelectorSyntaxError, FieldLabelError
        raise errors.bad_request(str(e)) from None
    return labels, fields


def key_prefix(t: Target, fields: FieldSelector) -> str:
    """The storage key prefix a collection request reads: its namespace's, or the namespace an
    exact ``metadata.namespace`` field selector names, or everything."""
    if t.namespace is not None:
        return t.namespace + "/"
    if t.rt.namespaced:
        ns = fields.requires_exact_match("metadata.namespace")
        if ns is not None:
            return ns + "/"
    return ""


@dataclass
class ListOptions:
    """A list request's options: selectors, ``limit`` (0: all), the snapshot ``at`` (None: now)
    and ``start`` key a continue token or an Exact resourceVersion asks for, and whether a
    continue token was given."""

    labels: LabelSelector
    fields: FieldSelector
    limit: int
    at: int | None
    start: str
    continuing: bool


def list_options(req: Request, rt: ResourceType) -> ListOptions:
    """Parse and validate a list's options in the apiserver's order; 400 or 422
    (``ListOptions.meta.k8s.io "" is invalid``) when they are bad."""
    labels, fields = selectors(req, rt)
    limit = max(int_param(req, "limit") or 0, 0)
    int_param(req, "timeoutSeconds")
    token = req.query.get("continue", "") or ""
    rv_param = req.query.get("resourceVersion", "") or ""
    match = req.query.get("resourceVersionMatch", "") or ""
    start = ""
    at: int | None = None
    if token:
        if rv_param and rv_param != "0":
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        at, start = versioning.decode_continue(token)
        if at == -1:
            at = None
    elif rv_param and match == "Exact":
        at = versioning.parse_resource_version(rv_param)
    if match and match not in ("Exact", "NotOlderThan"):
        raise _list_options_invalid(
            "resourceVersionMatch",
            "FieldValueNotSupported",
            f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""',
        )
    if match and not rv_param:
        raise _list_options_invalid(
            "resourceVersionMatch",
            "FieldValueForbidden",
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        )
    elif rv_param:
        versioning.parse_resource_version(rv_param)
    if "sendInitialEvents" in req.query and not req.flag("watch"):
        # ValidateListOptions: the parameter at all (any value) on a list
        raise _list_options_invalid(
            "sendInitialEvents", "FieldValueForbidden", "Forbidden: sendInitialEvents is forbidden for list"
        )
    return ListOptions(labels, fields, limit, at, start, bool(token))


def _list_options_invalid(field: str, reason: str, message: str) -> StatusError:
    """422 for bad list options (``ValidateListOptions``): ``ListOptions.meta.k8s.io "" is invalid``."""
    return options_invalid("ListOptions", field, message, reason)


def options_invalid(
    kind: str, field: str, message: str, reason: str = "FieldValueNotSupported"
) -> StatusError:
    """422 for a bad option: ``CreateOptions.meta.k8s.io "" is invalid: dryRun: ...``."""
    return StatusError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
        {
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def _check_field_manager(req: Request, kind: str) -> None:
    """``force`` only with an apply patch; ``fieldManager`` at most 128 bytes of printable
    characters (apimachinery ``ValidatePatchOptions`` / ``ValidateFieldManager``); else 422."""
    if kind == "PatchOptions" and "force" in req.query and req.content_type != patch.APPLY:
        msg = "Forbidden: may not be specified for non-apply patch"
        raise options_invalid(kind, "force", msg, "FieldValueForbidden")
    fm = req.query.get("fieldManager", "") or ""
    if len(fm.encode()) > managedfields.FIELD_MANAGER_MAX:
        msg = f"Too long: may not be more than {managedfields.FIELD_MANAGER_MAX} bytes"
        raise options_invalid(kind, "fieldManager", msg, "FieldValueTooLong")
    for i, ch in enumerate(fm):
        if not ch.isprintable():
            msg = f"Invalid value: {json.dumps(fm)}: invalid character U+{ord(ch):04X} (at position {i})"
            raise options_invalid(kind, "fieldManager", msg, "FieldValueInvalid")


def write_options(req: Request, kind: str, options: JSON | None = None) -> bool:
    """Validate the write options of a request (``dryRun``; ``fieldManager`` and
    ``fieldValidation`` except for deletes) as ``ValidateCreateOptions`` & co. do; return whether
    it is a dry run. ``kind`` is CreateOptions, UpdateOptions, PatchOptions or DeleteOptions (the
    422 names it); ``options``: a DeleteOptions body, whose ``dryRun`` counts too."""
    values = req.query.values("dryRun")
    if options and isinstance(options.get("dryRun"), list):
        values += [str(v) for v in options["dryRun"]]
    for v in values:
        if v != "All":
            raise options_invalid(kind, "dryRun", f'Unsupported value: ["{v}"]: supported values: "All"')
    if kind != "DeleteOptions":
        _check_field_manager(req, kind)
    fv = req.query.get("fieldValidation")
    if kind != "DeleteOptions" and fv not in (None, "", "Ignore", "Strict", "Warn"):
        raise options_invalid(
            kind,
            "fieldValidation",
            f'Unsupported value: "{fv}": supported values: "", "Ignore", "Strict", "Warn"',
        )
    return bool(values)


async def delete_options(req: Request) -> JSON:
    """The DeleteOptions of a DELETE: the JSON body (if any) with the query's
    ``propagationPolicy``; 400 for an undecodable body or bad ``gracePeriodSeconds``, 422 for an
    unknown propagation policy. Graceful deletion is accepted and checked, but the kinds served
    here have none: finalizer-held objects get ``deletionGracePeriodSeconds`` 0, others go at once."""
    body = await req.body()
    options: JSON = {}
    if body.strip():
        try:
            options = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
    if "propagationPolicy" in req.query:
        options["propagationPolicy"] = req.query.get("propagationPolicy")
    int_param(req, "gracePeriodSeconds")
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.bad_request(
            "json: cannot unmarshal into Go struct field DeleteOptions.gracePeriodSeconds of type int64"
        )
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in _PROPAGATION:
        msg = f'Unsupported value: "{policy}": supported values: {_SUPPORTED_POLICIES}'
        raise options_invalid("DeleteOptions", "propagationPolicy", msg)
    return options
