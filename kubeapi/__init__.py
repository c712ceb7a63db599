"""Kubernetes API primitives shared by the gateway (:mod:`handler`) and :mod:`fakekube`.

Both servers must read request syntax and write answers exactly as kube-apiserver does; keeping
one copy here means they cannot drift apart. Nothing in this package imports either side.
Every module cites the Kubernetes (Go) source it follows, and says where it deliberately differs.

Modules (each with its own ``__all__``; constants are reached through the module, e.g.
``media.MERGE_PATCH``, ``status.REASON_NOT_FOUND``, ``watchevents.BOOKMARK``):

- :mod:`kubeapi.requestinfo`: :func:`request_info` → :class:`RequestInfo` (verb, group, version,
  namespace, resource, name, subresource, services proxy target), parsed once per request, as
  k8s.io/apiserver ``RequestInfoFactory.NewRequestInfo``; unsafe paths refused (404).
- :mod:`kubeapi.query`: :class:`Query`, the query string parsed once with Go's ``url.ParseQuery``
  rules, read with kube-apiserver's conversions (``watch=TRUE``/``yes``/``""`` are true).
- :mod:`kubeapi.gostrconv`: Go ``strconv`` (``ParseInt``, ``Atoi``, ``ParseBool``, ``Quote``) with
  Go's error texts.
- :mod:`kubeapi.status`: :class:`StatusError` (a ``Status`` answer) and its constructors named
  after k8s.io/apimachinery/pkg/api/errors (``new_not_found``, ``new_invalid``...), reasons.
- :mod:`kubeapi.labels`: label selectors (parse with the apiserver's errors, match).
- :mod:`kubeapi.fields`: field selectors (parse, match) and the one :func:`field_value`.
- :mod:`kubeapi.validation`: label key/value syntax (``content.IsLabelKey``/``IsLabelValue``).
- :mod:`kubeapi.media`: media type names, ``Content-Type`` parsing, ``Accept`` negotiation.
- :mod:`kubeapi.decode`: JSON/YAML bodies with Go's decoding rules, errors and limits (3 MiB,
  nesting depth, YAML alias expansion).
- :mod:`kubeapi.jsonscan`: the iterative JSON parser :mod:`kubeapi.decode` falls back to past
  CPython's nesting limit (Go's 10,000 levels, Go's syntax error texts).
- :mod:`kubeapi.recursion`: :func:`deep_values`, room on the Python stack for values as deep as
  kube-apiserver accepts, while a request is handled.
- :mod:`kubeapi.offload`: :func:`run`, a large body's CPU work in a worker thread so one request
  does not stall the event loop.
- :mod:`kubeapi.headlimit`: Go's 1 MiB request-head bound and its 431 ``Status``.
- :mod:`kubeapi.watchevents`: watch event lines (``ERROR``, ``BOOKMARK``, initial-events-end).
- :mod:`kubeapi.meta`: ObjectMeta accessors and field lists.
- :mod:`kubeapi.authn`: :class:`UserInfo`, impersonation headers, authorization
  :class:`Attributes` and the 403/401 ``Status`` kube-apiserver answers.
- :mod:`kubeapi.quantity`: :func:`parse_quantity`, ``resource.Quantity`` read as Go's
  ``ParseQuantity`` reads it, with its error texts.
- :mod:`kubeapi.field_errors`: :class:`Cause` (one ``field.Error``) built as the
  ``field.Invalid/Forbidden/NotSupported/Required`` constructors word it.
- :mod:`kubeapi.openapiv2`: ``/openapi/v2`` in protobuf: Swagger 2.0 JSON compiled into gnostic's
  ``openapi.v2.Document`` messages (``kubeapi/_gnostic``, protoc's output), path filtering and
  kube-openapi's ``Accept`` negotiation.
- :mod:`kubeapi.types`: ``JSON`` (``dict[str, Any]``) and ``JSONValue``.
- :mod:`kubeapi.quantity`: resource quantities (``resource.Quantity``: parse, add, multiply,
  the canonical text).
"""

from kubeapi import (
    authn,
    decode,
    fields,
    gostrconv,
    headlimit,
    jsonscan,
    labels,
    media,
    meta,
    quantity,
    query,
    recursion,
    requestinfo,
    status,
    types,
    validation,
    watchevents,
)
from kubeapi.decode import DecodeError, DecodeLimits, decode_json, decode_yaml
from kubeapi.fields import (
    FieldRequirement,
    FieldSelector,
    FieldSelectorSyntaxError,
    field_value,
    parse_field_selector,
)
from kubeapi.gostrconv import NumError, parse_bool, parse_int
from kubeapi.labels import LabelSelector, LabelSelectorError, Requirement, parse_label_selector
from kubeapi.media import MediaTypeError, Negotiated, negotiate_output, parse_media_type
from kubeapi.query import Query
from kubeapi.requestinfo import (
    RequestInfo,
    ServiceProxyTarget,
    UnsafePathError,
    request_info,
    request_info_from_scope,
)
from kubeapi.status import StatusError, failure_status
from kubeapi.types import JSON, JSONValue
from kubeapi.watchevents import WatchEvent, parse_event

__all__ = [
    "JSON",
    "DecodeError",
    "DecodeLimits",
    "FieldRequirement",
    "FieldSelector",
    "FieldSelectorSyntaxError",
    "JSONValue",
    "LabelSelector",
    "LabelSelectorError",
    "MediaTypeError",
    "Negotiated",
    "NumError",
    "Query",
    "RequestInfo",
    "Requirement",
    "ServiceProxyTarget",
    "StatusError",
    "UnsafePathError",
    "WatchEvent",
    "authn",
    "decode",
    "decode_json",
    "decode_yaml",
    "failure_status",
    "field_value",
    "fields",
    "gostrconv",
    "headlimit",
    "jsonscan",
    "labels",
    "media",
    "meta",
    "negotiate_output",
    "parse_bool",
    "parse_event",
    "parse_field_selector",
    "parse_int",
    "parse_label_selector",
    "parse_media_type",
    "quantity",
    "query",
    "recursion",
    "request_info",
    "request_info_from_scope",
    "requestinfo",
    "status",
    "types",
    "validation",
    "watchevents",
]
