"""Watch events as kube-apiserver writes them on a JSON watch stream.

Each event is one line ``{"type":"ADDED","object":{...}}\\n`` (metav1 ``WatchEvent``, Go field
order ``type``, ``object``; k8s.io/apiserver/pkg/endpoints/handlers/watch.go with the JSON
stream framer, one object per line). ``type`` is ``ADDED``, ``MODIFIED``, ``DELETED``,
``BOOKMARK`` or ``ERROR`` (k8s.io/apimachinery/pkg/watch ``EventType``):

- ``ERROR`` carries a ``Status`` (e.g. 410 Expired ``too old resource version``), after which the
  server ends the watch;
- ``BOOKMARK`` carries an object of the watched kind with only ``metadata.resourceVersion`` (and
  for the end of the initial events, KEP-3157, the annotation ``k8s.io/initial-events-end:
  "true"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from kubeapi.status import StatusError
from kubeapi.types import JSON

__all__ = [
    "ADDED",
    "BOOKMARK",
    "DELETED",
    "ERROR",
    "EVENT_TYPES",
    "INITIAL_EVENTS_END_ANNOTATION",
    "MODIFIED",
    "OBJECT_EVENT_TYPES",
    "WatchEvent",
    "bookmark_event",
    "bookmark_object",
    "dumps",
    "encode_event",
    "error_event",
    "event_line",
    "initial_events_end_event",
    "parse_event",
]

ADDED: Final = "ADDED"
MODIFIED: Final = "MODIFIED"
DELETED: Final = "DELETED"
BOOKMARK: Final = "BOOKMARK"
ERROR: Final = "ERROR"
EVENT_TYPES: Final = frozenset({ADDED, MODIFIED, DELETED, BOOKMARK, ERROR})
#: The event types that carry an object of the watched kind and change the client's view.
OBJECT_EVENT_TYPES: Final = frozenset({ADDED, MODIFIED, DELETED})
#: The annotation of the BOOKMARK that ends a watch's initial events (KEP-3157, watch-list).
INITIAL_EVENTS_END_ANNOTATION: Final = "k8s.io/initial-events-end"


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8 with non-ASCII unescaped (as Go writes it); a lone surrogate, which
    UTF-8 cannot carry, is written as a ``\\udcXX`` escape instead of failing the stream."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def event_line(event_type: str, obj_raw: bytes) -> bytes:
    """One event line from an already encoded object: ``{"type":T,"object":RAW}\\n`` (no re-encoding,
    for servers that keep each object's JSON)."""
    return b'{"type":"' + event_type.encode() + b'","object":' + obj_raw + b"}\n"


def encode_event(event_type: str, obj: Any) -> bytes:
    """One event line for a decoded object."""
    return event_line(event_type, dumps(obj))


def error_event(err: StatusError) -> bytes:
    """The ``ERROR`` event carrying ``err``'s Status (the last event of a watch)."""
    return event_line(ERROR, dumps(err.status()))


def bookmark_object(
    kind: str, api_version: str, resource_version: str, annotations: dict[str, str] | None = None
) -> JSON:
    """A BOOKMARK's object: ``{"kind", "apiVersion", "metadata": {"resourceVersion"[, "annotations"]}}``."""
    meta: JSON = {"resourceVersion": resource_version}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": kind, "apiVersion": api_version, "metadata": meta}


def bookmark_event(
    kind: str, api_version: str, resource_version: str, annotations: dict[str, str] | None = None
) -> bytes:
    """A ``BOOKMARK`` event line at ``resource_version`` for objects of ``kind``/``api_version``."""
    return encode_event(BOOKMARK, bookmark_object(kind, api_version, resource_version, annotations))


def initial_events_end_event(kind: str, api_version: str, resource_version: str) -> bytes:
    """The ``BOOKMARK`` that ends the initial ``ADDED`` events (annotated
    ``k8s.io/initial-events-end: "true"``), as the watch cache sends it when bookmarks are
    allowed."""
    return bookmark_event(kind, api_version, resource_version, {INITIAL_EVENTS_END_ANNOTATION: "true"})


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A decoded event: ``type`` (one of :data:`EVENT_TYPES`, or whatever the line said) and its
    ``object`` (an object of the watched kind, a Status for ERROR)."""

    type: str
    object: Any

    def encode(self) -> bytes:
        """This event as a line (see :func:`encode_event`)."""
        return encode_event(self.type, self.object)


def parse_event(line: bytes | str) -> WatchEvent | None:
    """A watch stream line as a :class:`WatchEvent`; None when it is not a JSON object with a string
    ``type`` (a relay then passes it on as is). Surrounding whitespace is ignored."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        return None
    return WatchEvent(doc["type"], doc.get("object"))
