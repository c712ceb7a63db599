"""The simulated kubelet (with the scheduler's binding): Pods Pending → Running and Ready.

Registered only with the simulation on (:mod:`fakekube.simulation`). For each new Pod:

1. bind it to the one node (``spec.nodeName``, as the scheduler's ``pods/binding`` does) and
   write the status a kubelet reports for a Pod whose containers are being created: phase
   ``Pending``, conditions ``PodReadyToStartContainers``/``Initialized``/``Ready``/
   ``ContainersReady``/``PodScheduled`` (``Ready`` False with reason ``ContainersNotReady``;
   ``Initialized`` False, ``ContainersNotInitialized``, while init containers run), each
   container ``waiting: {reason: ContainerCreating}`` (``PodInitializing`` with init
   containers), ``hostIP``, ``startTime``;
2. after ``Simulation.pod_start_delay`` seconds: phase ``Running``, every condition True, a Pod
   IP (``10.244.x.y``, ``podIP``/``podIPs``), init containers ``terminated`` (``Completed``),
   each container ``running`` with ``ready`` and ``started``, a ``containerID``; then the
   start-up lines of each (init) container are written to its log
   (:class:`fakekube._storage.podlogs.PodLogs`) by the first :data:`LogSource` that knows it.

Status shapes follow ``pkg/kubelet/status/generate.go`` and ``kubelet_pods.go``
(``convertToAPIContainerStatuses``, ``generateAPIPodStatus``). :meth:`Kubelet.finish` ends a
Pod's containers (``terminated`` with an exit code, phase ``Succeeded``/``Failed``) and its logs:
what a container that exits does (e.g. a RayJob's submitter). All writes go through the registry
(``/status`` for the status) as field manager ``kubelet``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
from collections.abc import Callable

from fakekube._controllers import Controller, ControllerContext
from fakekube._controllers.clock import DueQueue
from fakekube._registry import objects
from fakekube._registry.strategy import WriteContext
from fakekube._resources import PODS
from fakekube._storage.podlogs import PodLogs
from fakekube._storage.store import ADDED, DELETED, Change, Stored, object_key
from fakekube.simulation import Simulation
from kubeapi.types import JSON

#: Start-up log lines of a container: ``(pod, container name)`` → the text, or None when this
#: source does not know the container (the next source is asked).
LogSource = Callable[[JSON, str], str | None]

_HOST_IP = "172.18.0.2"
_MANAGER = "kubelet"


def _condition(type_: str, ok: bool, at: str, reason: str = "", message: str = "") -> JSON:
    c: JSON = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": at,
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _container_id(uid: str, name: str) -> str:
    return "containerd://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()


def _image_id(image: str) -> str:
    repo = image.split("@")[0].rpartition(":")[0] if ":" in image.rsplit("/", 1)[-1] else image
    if "/" not in repo:
        repo = "library/" + repo
    if repo.count("/") == 1:
        repo = "docker.io/" + repo
    return f"{repo}@sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _waiting(c: JSON, reason: str) -> JSON:
    """The status of a container not started yet (waiting with ``reason``)."""
    return {
        "name": c["name"],
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": c.get("image", ""),
        "imageID": "",
        "started": False,
    }


class Kubelet(Controller):
    """Binds, starts (after the delay) and finishes the Pods of ``ctx.storage``; writes their logs
    into ``logs``. ``log_sources`` are asked, in order, for each started container's lines."""

    name = "kubelet"

    def __init__(self, ctx: ControllerContext, sim: Simulation, logs: PodLogs) -> None:
        super().__init__(ctx)
        self.sim = sim
        self.logs = logs
        self.log_sources: list[LogSource] = []
        self._new: list[str] = []
        self._starts = DueQueue()
        self._due = False
        self._ips = (ipaddress.IPv4Address("10.244.0.0") + n for n in itertools.count(2))

    def observe(self, change: Change) -> None:
        """New Pods are to be bound; deleted ones are not started."""
        if change.storage != PODS.storage_key:
            return
        if change.type == ADDED:
            self._new.append(change.key)
        elif change.type == DELETED:
            self._starts.cancel((change.key, change.new.obj["metadata"].get("uid")))

    def pending(self) -> bool:
        """New Pods, or a start that is due."""
        return bool(self._new) or self._due

    def requeue(self) -> None:
        """A start is due."""
        self._due = True

    def sync(self) -> None:
        """Bind the new Pods, start the due ones, requeue for the next start."""
        new, self._new = self._new, []
        clock = self.ctx.clock
        for key in new:
            s = self.ctx.storage.get(PODS.storage_key, key)
            if s is not None and (s.obj.get("status") or {}).get("phase") == "Pending":
                self._bind(s)
                self._starts.schedule(
                    (key, s.obj["metadata"]["uid"]), clock.monotonic() + self.sim.pod_start_delay
                )
        self._due = False
        for due in self._starts.pop_due(clock.monotonic()):
            assert isinstance(due, tuple)
            key, uid = due
            s = self.ctx.storage.get(PODS.storage_key, key)
            if (
                s is not None
                and s.obj["metadata"]["uid"] == uid
                and not s.obj["metadata"].get("deletionTimestamp")
            ):
                self._start(s)
        nxt = self._starts.next_due()
        if nxt is not None:
            self.ctx.requeue_after(self, nxt - clock.monotonic())

    # -- the Pod's life ------------------------------------------------------------------------

    def _write_status(self, old: Stored, status: JSON) -> Stored:
        new = objects.deep_copy(old.raw)
        new["status"] = status
        out = self.ctx.registry.store(PODS).update(WriteContext(manager=_MANAGER), old, new, "", "status")
        assert isinstance(out, Stored)
        return out

    def _bind(self, s: Stored) -> None:
        """``spec.nodeName`` (the binding, unless the Pod names its node) and the status of a Pod
        whose containers are being created."""
        bound = s
        if not s.obj["spec"].get("nodeName"):
            pod = objects.deep_copy(s.raw)
            pod["spec"]["nodeName"] = self.sim.node_name
            out = self.ctx.registry.store(PODS).update(
                WriteContext(manager="kube-scheduler"), s, pod, "", None
            )
            assert isinstance(out, Stored)
            bound = out
        at = self.ctx.clock.rfc3339()
        spec = bound.obj["spec"]
        names = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        unready = f"containers with unready status: [{' '.join(names)}]"
        initialized = _condition("Initialized", True, at)
        if inits:
            initialized = _condition(
                "Initialized",
                False,
                at,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(inits)}]",
            )
        waiting = "PodInitializing" if inits else "ContainerCreating"
        status = dict(bound.obj.get("status") or {})
        status.update(
            {
                "phase": "Pending",
                "conditions": [
                    _condition("PodReadyToStartContainers", False, at),
                    initialized,
                    _condition("Ready", False, at, "ContainersNotReady", unready),
                    _condition("ContainersReady", False, at, "ContainersNotReady", unready),
                    _condition("PodScheduled", True, at),
                ],
                "hostIP": _HOST_IP,
                "hostIPs": [{"ip": _HOST_IP}],
                "startTime": at,
                "containerStatuses": [_waiting(c, waiting) for c in spec.get("containers") or []],
            }
        )
        if inits:
            status["initContainerStatuses"] = [
                _waiting(c, "PodInitializing") for c in spec.get("initContainers") or []
            ]
        self._write_status(bound, status)

    def _start(self, s: Stored) -> None:
        """Running and Ready, a Pod IP, each container running; then the start-up log lines."""
        at = self.ctx.clock.rfc3339()
        uid = s.obj["metadata"]["uid"]
        ip = str(next(self._ips))
        containers = s.obj["spec"].get("containers") or []
        status = dict(s.obj.get("status") or {})
        status.update(
            {
                "phase": "Running",
                "conditions": [
                    _condition(t, True, at)
                    for t in (
                        "PodReadyToStartContainers",
                        "Initialized",
                        "Ready",
                        "ContainersReady",
                        "PodScheduled",
                    )
                ],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "containerStatuses": [
                    {
                        "name": c["name"],
                        "state": {"running": {"startedAt": at}},
                        "lastState": {},
                        "ready": True,
                        "restartCount": 0,
                        "image": c.get("image", ""),
                        "imageID": _image_id(str(c.get("image", ""))),
                        "containerID": _container_id(uid, c["name"]),
                        "started": True,
                    }
                    for c in containers
                ],
            }
        )
        inits = s.obj["spec"].get("initContainers") or []
        if inits:
            status["initContainerStatuses"] = [
                {
                    "name": c["name"],
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": at,
                            "finishedAt": at,
                            "containerID": _container_id(uid, c["name"]),
                        }
                    },
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": _image_id(str(c.get("image", ""))),
                    "containerID": _container_id(uid, c["name"]),
                    "started": False,
                }
                for c in inits
            ]
        started = self._write_status(s, status)
        for c in [*inits, *containers]:
            for source in self.log_sources:
                text = source(started.obj, c["name"])
                if text is not None:
                    self.write_log(started.obj, c["name"], text)
                    break

    def write_log(self, pod: JSON, container: str, text: str) -> None:
        """Append ``text`` (lines) to ``container``'s log in ``pod``, stamped now."""
        self.logs.append(pod["metadata"]["uid"], container, text, self.ctx.clock.rfc3339_nano())

    def finish(self, namespace: str, name: str, exit_code: int = 0, reason: str = "") -> None:
        """End the Pod's containers with ``exit_code`` (phase ``Succeeded`` when 0, else
        ``Failed``; ``reason`` defaults to ``Completed``/``Error``) and its logs."""
        s = self.ctx.storage.get(PODS.storage_key, object_key(namespace, name))
        if s is None:
            return
        at = self.ctx.clock.rfc3339()
        reason = reason or ("Completed" if exit_code == 0 else "Error")
        status = dict(s.obj.get("status") or {})
        status["phase"] = "Succeeded" if exit_code == 0 else "Failed"
        status["conditions"] = [
            _condition(
                t,
                t in ("Initialized", "PodScheduled"),
                at,
                "PodCompleted" if t in ("Ready", "ContainersReady") else "",
            )
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        statuses = []
        for cs in status.get("containerStatuses") or []:
            started_at = ((cs.get("state") or {}).get("running") or {}).get("startedAt", at)
            terminated = {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": at,
                "containerID": cs.get("containerID", ""),
            }
            statuses.append({**cs, "state": {"terminated": terminated}, "ready": False, "started": False})
        status["containerStatuses"] = statuses
        self._write_status(s, status)
        self.logs.close(s.obj["metadata"]["uid"])
