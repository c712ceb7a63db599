"""Platform behaviour: the watch cap (``--max-watch-seconds``) and the graceful drain on SIGTERM.

Watch cap. Serverless and Knative platforms cut a response at a fixed request timeout (Knative and
Cloud Run: 300 s by default; Azure Functions HTTP triggers: 230 s). A watch cut that way looks to
the client like a network failure. :func:`cap_watch_query` instead gives every watch a
``timeoutSeconds`` no larger than the cap (also when the caller gave none), so the API server ends
the watch itself, cleanly, before the platform does, and the client re-watches from its last
``resourceVersion`` as client-go's reflector does after any watch ends
(k8s.io/client-go/tools/cache/reflector.go ``watchWithResync``: a watch that ends without error is
simply restarted). kube-apiserver reads ``timeoutSeconds`` with ``strconv.ParseInt`` into
``ListOptions.TimeoutSeconds`` (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/get.go,
``ListResource``: a zero or absent value means the server's own random 30-60 min timeout): a value
that does not parse is left as it is, so the caller still gets the API server's 400.

Drain. On SIGTERM (or SIGINT) whatever serves the app first sends each process serving it
:data:`DRAIN_SIGNAL` (:func:`request_drain`); that process's :class:`Drain` then answers ``/readyz``
with 503 and ends every open watch response cleanly (the last events already sent stay delivered,
the chunked body is terminated, so the client re-watches rather than seeing a broken stream). Then
the server stops as it would anyway: it stops accepting, short requests finish, and what is still
busy after the grace period (``--shutdown-grace-seconds``) is ended, so the process exits within the
grace period whatever is open. Two servers do this with the same signal and the same
:class:`Drain`:

- granian (every mode but the client-certificate ones): the main process signals its workers
  (:func:`handler.cli.drain_on_signals`), then granian stops them and kills a worker still busy
  after ``workers_kill_timeout`` (the grace);
- uvicorn (``client-certificate``, ``request-header``; :mod:`handler._uvicorn_tls`): one process
  signals itself from uvicorn's SIGTERM/SIGINT handler, or uvicorn's supervisor signals its workers
  before it terminates them; uvicorn cancels what is still open after ``timeout_graceful_shutdown``
  (the grace), and the supervisor kills a worker that outlives it.

This is kube-apiserver's own order on SIGTERM (k8s.io/apiserver/pkg/server/genericapiserver.go,
``RunWithContext``: ``/readyz`` fails first, then the listener closes and non-long-running requests
get ``--shutdown-delay-duration``), except that watches are not simply cut: kube-apiserver ends
them at shutdown too (``ShutdownWatchTerminationGracePeriod``), and here every watch ends with its
chunked body terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from kubeapi.query import Query

log = logging.getLogger(__name__)

#: The signal the ``serve`` main process sends its workers before stopping them.
DRAIN_SIGNAL = signal.SIGUSR1


def request_drain(pid: int) -> None:
    """Send :data:`DRAIN_SIGNAL` to process ``pid`` (a worker, or this process), so its
    :class:`Drain` starts; a process already gone (or not ours) is skipped."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, DRAIN_SIGNAL)


#: Default ``--max-watch-seconds``: below the 300 s request timeout of Knative Serving and Cloud Run
#: (and below Azure Functions' 230 s when set to 220 there), with room for the re-watch.
DEFAULT_MAX_WATCH_SECONDS = 270

#: Default ``--shutdown-grace-seconds``: below Kubernetes' default terminationGracePeriodSeconds
#: (30 s) and Cloud Run's 10 s SIGTERM-to-SIGKILL window is set to 8 in its manifest.
DEFAULT_SHUTDOWN_GRACE_SECONDS = 20.0


def cap_watch_query(query: Query, cap: int) -> Query | None:
    """The watch ``query`` with ``timeoutSeconds`` capped at ``cap`` seconds, or None when it needs
    no change (``cap`` <= 0 disables the cap; a value within the cap is kept).

    Absent, empty, zero or negative values become ``cap`` (kube-apiserver treats zero and absent
    alike, as no caller timeout); a value that is not a base-10 integer is left for the API server
    to refuse (400), as is any query where it is repeated differently (Go reads the first).
    """
    if cap <= 0:
        return None
    raw = query.get("timeoutSeconds")
    if raw:
        try:
            given = int(raw, 10)
        except ValueError:
            return None
        if 0 < given <= cap:
            return None
    return query.replace("timeoutSeconds", [str(cap)])


class Drain:
    """One worker's drain state: whether it is draining, and the watch tasks to end when it does.

    :meth:`track` registers the task serving a watch; :meth:`start` (the :data:`DRAIN_SIGNAL`
    handler) marks the worker draining and cancels those tasks, which the pipeline recognises
    (:meth:`ended`: by the task, since a library awaited inside may re-raise the cancellation with
    its own message) and turns into a clean end of the response.
    """

    def __init__(self) -> None:
        self.draining = False
        self._watches: set[asyncio.Task[object]] = set()
        self._ended: set[asyncio.Task[object]] = set()

    def track(self, task: asyncio.Task[object]) -> None:
        """Register ``task`` (serving a watch); it is ended at once when the worker already drains."""
        self._watches.add(task)
        if self.draining:
            self._ended.add(task)
            task.cancel()

    def untrack(self, task: asyncio.Task[object]) -> None:
        """Forget ``task`` (its response ended)."""
        self._watches.discard(task)
        self._ended.discard(task)

    def start(self) -> None:
        """Begin draining: ``/readyz`` turns 503 and every tracked watch is ended."""
        if not self.draining:
            log.info("draining: ending %d open watch(es); /readyz now answers 503", len(self._watches))
        self.draining = True
        for task in list(self._watches):
            self._ended.add(task)
            task.cancel()

    def ended(self, task: asyncio.Task[object]) -> bool:
        """Whether ``task`` was cancelled by this drain (rather than by a disconnect or shutdown)."""
        return task in self._ended

    def install(self) -> None:
        """Handle :data:`DRAIN_SIGNAL` in the running event loop by :meth:`start`. Does nothing
        where a loop cannot take signal handlers (not the main thread, or no Unix signals)."""
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError, AttributeError):
            asyncio.get_running_loop().add_signal_handler(DRAIN_SIGNAL, self.start)
