"""Running a request body's CPU work off the event loop, so one large body does not stall a server.

Both servers use it. fakekube's store is single-threaded on the event loop. Decoding a body,
pruning, defaulting and validating it against its schema and computing its managedFields read no
storage, and for a 2.5 MB RayCluster with 30,000 ``env`` entries they take ~0.6 s of CPU: on the
loop, every other request (``/readyz``, watches) waited that long. :func:`run` moves such work to a
worker thread when the body is at least :data:`OFFLOAD_BYTES`; the loop keeps answering (the worker
holds the GIL for at most ``sys.getswitchinterval()``, 5 ms, at a time), and fakekube's handler commits the
result on the loop afterwards, re-checking what it worked from (:meth:`GenericStore.commit_create`,
:meth:`GenericStore.commit_update`). kube-apiserver does the same work on the request's own
goroutine (``k8s.io/apiserver/pkg/endpoints/handlers/create.go``), never blocking other requests.
The gateway decodes and re-encodes a body its object hooks parse (``handler.request``,
``handler.steps``) the same way. Small bodies stay on the loop: a thread hop (~50-100 µs) would cost
more than their work.

What still holds the GIL, and so the loop, for a large body: one C-level ``json.loads`` or
``json.dumps`` call (tens of ms for 2.5 MB) and a full garbage collection triggered by the
worker's allocations (hence ``gc.freeze()`` after fakekube's startup, ``fakekube.cli``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["OFFLOAD_BYTES", "run"]

P = ParamSpec("P")
T = TypeVar("T")

OFFLOAD_BYTES = 64 * 1024
"""Bodies of at least this many bytes are decoded and checked in a worker thread (a 64 KiB
RayCluster takes ~15 ms of this CPU work, the most the loop does inline)."""


async def run(size: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: in a worker thread (``asyncio.to_thread``) when ``size`` (the
    request body's length in bytes) is at least :data:`OFFLOAD_BYTES`, else inline. ``fn`` must
    not touch the store; its exceptions (a :class:`~kubeapi.status.StatusError`) propagate."""
    if size < OFFLOAD_BYTES:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)
