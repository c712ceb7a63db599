"""``GET /api/v1/namespaces/{ns}/pods/{name}/log``: a container's log, as kube-apiserver serves it.

Follows ``pkg/registry/core/pod/rest/log.go`` (``LogREST.Get``: ``PodLogOptions`` validated by
``ValidatePodLogOptions``, 422 ``PodLogOptions "NAME" is invalid``) and
``pkg/registry/core/pod/strategy.go`` ``LogLocation``/``validateContainer``:

- ``container``: may be omitted for a one-container Pod; otherwise 400 ``a container name must be
  specified for pod NAME, choose one of: [a b]``; an unknown one is 400 ``container C is not
  valid for pod NAME``;
- a Pod not yet bound to a node (no ``spec.nodeName``) answers 204 No Content (no location:
  ``LocationStreamer`` has nothing to stream);
- a container still waiting is the kubelet's 400 ``container "C" in pod "P" is waiting to start:
  REASON``; ``previous=true`` without a terminated instance is 400 ``previous terminated container
  "C" in pod "P" not found``;
- ``tailLines`` (last N lines), ``sinceSeconds``/``sinceTime`` (lines at or after), ``limitBytes``
  (stop after that many bytes), ``timestamps`` (each line prefixed with its RFC 3339 nano time
  and a space), ``follow`` (stream new lines until the container stops or the Pod is deleted, or
  the client goes away). The body is ``text/plain``.

The lines come from :class:`fakekube._storage.podlogs.PodLogs`, written by the simulated kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from fakekube import _apierrors as errors
from fakekube._endpoints import options
from fakekube._endpoints.asgi import Request, Send, respond
from fakekube._storage.podlogs import ContainerLog, PodLogs
from kubeapi import status
from kubeapi.status import StatusError
from kubeapi.types import JSON

_TEXT = b"text/plain"


def _invalid(name: str, field: str, value: object, detail: str) -> StatusError:
    return status.new_invalid("", "PodLogOptions", name, [errors.field_invalid(field, value, detail)])


def _container(pod: JSON, wanted: str) -> str:
    """``validateContainer``: the container a log request reads (400 when it cannot be told)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    names = [str(c.get("name", "")) for c in spec.get("containers") or []]
    every = [str(c.get("name", "")) for c in spec.get("initContainers") or []] + names
    if not wanted:
        if len(names) == 1:
            return names[0]
        if not names:
            raise status.new_bad_request(f"pod {name} does not have a container")
        raise status.new_bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]"
        )
    if wanted not in every:
        raise status.new_bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def _waiting_reason(pod: JSON, container: str) -> str | None:
    """The ``waiting`` reason of ``container``'s status, or None when it has started."""
    st = pod.get("status") or {}
    for cs in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]:
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            return str(waiting.get("reason") or "") if waiting is not None else None
    return "ContainerCreating"


def _since(req: Request, name: str) -> str | None:
    """The earliest timestamp to show (from ``sinceSeconds`` or ``sinceTime``), or None."""
    seconds = options.int_param(req, "sinceSeconds")
    since_time = req.query.get("sinceTime") or ""
    if seconds is not None and since_time:
        cause = {  # the field path is the empty root, which field.Path renders as "[]"
            "reason": "FieldValueForbidden",
            "message": "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            "field": "[]",
        }
        raise status.new_invalid("", "PodLogOptions", name, [cause])
    if seconds is not None:
        if seconds < 1:
            raise _invalid(name, "sinceSeconds", seconds, "must be greater than 0")
        t = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 1000:09d}Z"
    if since_time:
        try:
            t = dt.datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise status.new_bad_request(f'parsing time "{since_time}" as RFC3339: cannot parse') from None
        return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 1000:09d}Z"
    return None


async def pod_log(pod: JSON, logs: PodLogs, req: Request, send: Send) -> None:
    """Answer a ``pods/log`` GET for the stored ``pod`` from ``logs``."""
    name = pod["metadata"]["name"]
    tail = options.int_param(req, "tailLines")
    if tail is not None and tail < 0:
        raise _invalid(name, "tailLines", tail, "must be greater than or equal to 0")
    limit = options.int_param(req, "limitBytes")
    if limit is not None and limit < 1:
        raise _invalid(name, "limitBytes", limit, "must be greater than 0")
    since = _since(req, name)
    container = _container(pod, req.query.get("container") or "")
    if not (pod.get("spec") or {}).get("nodeName"):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if req.flag("previous"):
        raise status.new_bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    reason = _waiting_reason(pod, container)
    if reason is not None:
        raise status.new_bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    log = logs.log(pod["metadata"]["uid"], container) or ContainerLog(closed=True)
    start = 0
    if since is not None:
        start = next((i for i, (ts, _) in enumerate(log.lines) if ts >= since), len(log.lines))
    if tail is not None:
        start = max(start, len(log.lines) - tail)
    stamps = req.flag("timestamps")
    if not req.flag("follow"):
        body = b"".join(_line(ts, text, stamps) for ts, text in log.lines[start:])
        await respond(send, 200, body[:limit] if limit is not None else body, _TEXT)
        return
    await _follow(req, send, log, start, stamps, limit)


def _line(ts: str, text: str, stamps: bool) -> bytes:
    return (f"{ts} {text}\n" if stamps else f"{text}\n").encode()


async def _follow(
    req: Request, send: Send, log: ContainerLog, start: int, stamps: bool, limit: int | None
) -> None:
    """Stream ``log`` from line ``start`` until it ends, ``limit`` bytes are out or the client leaves."""
    gone = asyncio.Event()

    async def disconnected() -> None:
        while (await req.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(disconnected())
    left = limit
    try:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", _TEXT)]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        lines = PodLogs.follow(log, start).__aiter__()
        while not gone.is_set():
            nxt = asyncio.ensure_future(lines.__anext__())
            stop = asyncio.ensure_future(gone.wait())
            done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if nxt not in done:
                nxt.cancel()
                break
            try:
                ts, text = nxt.result()
            except StopAsyncIteration:
                break
            chunk = _line(ts, text, stamps)
            if left is not None:
                chunk, left = chunk[:left], left - len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if left is not None and left <= 0:
                break
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (OSError, RuntimeError, asyncio.CancelledError):
        pass  # the client went away mid-stream
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
