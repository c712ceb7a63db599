"""Events written by controllers, as ``k8s.io/client-go/tools/events`` (the events.k8s.io/v1
recorder controller-runtime's ``mgr.GetEventRecorder(name)`` returns) writes them.

``EventRecorder(ctx, "raycluster-controller").event(obj, "Normal", "CreatedHeadPod", "Create",
note)`` creates an ``events.k8s.io/v1`` Event through the registry (so it is stored once and
read through both Event APIs, and watches see it): name ``<regarding name>.<unix nanos in hex>``
(``generateEvent``), ``eventTime`` with microseconds, ``reportingController`` the recorder's
name, ``reportingInstance`` ``<name>-<host>``, ``regarding`` a reference to ``obj`` with its
resourceVersion (``reference.GetReference``). Series are not kept (each event is one Event);
an Event the server refuses is dropped, as the recorder drops it after its retries.
"""

from __future__ import annotations

import contextlib
import time

from fakekube._controllers import ControllerContext
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import EVENTS_V1
from kubeapi.status import StatusError
from kubeapi.types import JSON

_HOST = "fakekube"


class EventRecorder:
    """Writes Events about objects for the controller ``name``."""

    def __init__(self, ctx: ControllerContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self._last_nanos = 0

    def event(self, obj: JSON, type_: str, reason: str, action: str, note: str) -> None:
        """Record an event of ``type_`` (``Normal``/``Warning``) about the stored object ``obj``."""
        meta = obj["metadata"]
        nanos = max(time.time_ns(), self._last_nanos + 1)  # distinct names within one tick
        self._last_nanos = nanos
        t = self.ctx.clock.now()
        regarding = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        ev: JSON = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{nanos:x}",
                "namespace": meta.get("namespace") or "default",
            },
            "eventTime": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z",
            "reportingController": self.name,
            "reportingInstance": f"{self.name}-{_HOST}",
            "action": action,
            "reason": reason,
            "regarding": regarding,
            "note": note,
            "type": type_,
        }
        store = self.ctx.registry.store(EVENTS_V1)
        # A refused Event (e.g. in a Terminating namespace) is dropped, as the recorder drops it.
        with contextlib.suppress(StatusError):
            ctx = WriteContext(manager=self.name)
            store.create(ctx, ev["metadata"]["namespace"], objects.to_storage(EVENTS_V1, ev))
