"""A RayCluster's ``status`` as the KubeRay operator computes it.

Follows ``raycluster_controller.go`` ``calculateStatus``, ``updateEndpoints``, ``updateHeadInfo``,
``getHeadServiceIPAndName`` and ``utils/util.go`` (``CalculateReadyReplicas``,
``CalculateAvailableReplicas``, ``CalculateDesiredReplicas``/``Min``/``Max``,
``CalculateDesiredResources``, ``CheckAllPodsRunning``, ``FindHeadPodReadyCondition``,
``FindRayClusterSuspendStatus``), ``utils/consistency.go`` (``InconsistentRayClusterStatus``: the
status is written only when it differs in more than ``lastUpdateTime``/``observedGeneration``/
desired resources) and ``k8s.io/apimachinery/pkg/api/meta`` ``SetStatusCondition`` (a condition's
``lastTransitionTime`` moves only when its status changes). The feature gate
``RayClusterStatusConditions`` is on (its default), so conditions are kept.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fakekube._controllers.kuberay import naming
from kubeapi import quantity
from kubeapi.types import JSON

MAX_INT32 = 2**31 - 1
PROVISIONED = "RayClusterProvisioned"
HEAD_POD_READY = "HeadPodReady"
REPLICA_FAILURE = "ReplicaFailure"
SUSPENDING = "RayClusterSuspending"
SUSPENDED = "RayClusterSuspended"


def set_condition(conditions: list[JSON], new: JSON, now: str) -> None:
    """``meta.SetStatusCondition``: add ``new`` or update the condition of its type."""
    new = {
        "type": new["type"],
        "status": new["status"],
        "reason": new.get("reason", ""),
        "message": new.get("message", ""),
    }
    for c in conditions:
        if c["type"] == new["type"]:
            if c.get("status") != new["status"]:
                c["status"] = new["status"]
                c["lastTransitionTime"] = now
            c["reason"], c["message"] = new["reason"], new["message"]
            return
    conditions.append(
        {
            "type": new["type"],
            "status": new["status"],
            "lastTransitionTime": now,
            "reason": new["reason"],
            "message": new["message"],
        }
    )


def is_true(conditions: list[JSON], type_: str) -> bool:
    """``meta.IsStatusConditionTrue``."""
    return any(c["type"] == type_ and c.get("status") == "True" for c in conditions)


def suspend_status(conditions: list[JSON]) -> str:
    """``FindRayClusterSuspendStatus``: ``RayClusterSuspending``, ``RayClusterSuspended`` or ""."""
    for c in conditions:
        if c["type"] in (SUSPENDING, SUSPENDED) and c.get("status") == "True":
            return str(c["type"])
    return ""


def _int(v: Any, default: int) -> int:
    return int(v) if isinstance(v, int) else default


def group_desired(group: JSON) -> int:
    """``GetWorkerGroupDesiredReplicas``: replicas clamped to min/max, times ``numOfHosts``
    (0 when the group is suspended)."""
    if group.get("suspend") is True:
        return 0
    lo, hi = _int(group.get("minReplicas"), 0), _int(group.get("maxReplicas"), MAX_INT32)
    replicas = group.get("replicas")
    n = lo if replicas is None or replicas < lo else min(int(replicas), hi)
    return n * _int(group.get("numOfHosts"), 1)


def _groups(cluster: JSON) -> list[JSON]:
    return [g for g in cluster["spec"].get("workerGroupSpecs") or [] if isinstance(g, dict)]


def _pod_resources(template: JSON) -> dict[str, quantity.Quantity]:
    """``CalculatePodResource``: per resource, each container's request (else limit), summed."""
    out: dict[str, quantity.Quantity] = {}
    for c in (template.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        merged = dict(res.get("requests") or {})
        for k, v in (res.get("limits") or {}).items():
            merged.setdefault(k, v)
        for k, v in merged.items():
            out[k] = out.get(k, quantity.Quantity()) + quantity.of(v)
    return out


def desired_resources(cluster: JSON) -> dict[str, quantity.Quantity]:
    """``CalculateDesiredResources``: the head Pod's plus each (unsuspended) group's times
    ``replicas * numOfHosts`` (``replicas`` as written, not clamped)."""
    total = _pod_resources((cluster["spec"].get("headGroupSpec") or {}).get("template") or {})
    for g in _groups(cluster):
        if g.get("suspend") is True:
            continue
        n = _int(g.get("replicas"), 0) * _int(g.get("numOfHosts"), 1)
        for k, v in _pod_resources(g.get("template") or {}).items():
            total[k] = total.get(k, quantity.Quantity()) + v * n
    return total


def _ready(pod: JSON) -> bool:
    """``IsRunningAndReady``."""
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []
    )


def all_running(pods: list[JSON]) -> bool:
    """``CheckAllPodsRunning``: some Pods, all Running, none with Ready not True."""
    if not pods:
        return False
    for p in pods:
        st = p.get("status") or {}
        if st.get("phase") != "Running":
            return False
        if any(c.get("type") == "Ready" and c.get("status") != "True" for c in st.get("conditions") or []):
            return False
    return True


def head_pod_ready_condition(head: JSON) -> JSON:
    """``FindHeadPodReadyCondition``: from the head Pod's ``Ready`` condition."""
    out: JSON = {"type": HEAD_POD_READY, "status": "False", "reason": "Unknown", "message": ""}
    for c in (head.get("status") or {}).get("conditions") or []:
        if c.get("type") != "Ready":
            continue
        out["status"], out["message"] = c.get("status", "False"), c.get("message", "")
        reason = c.get("reason", "")
        if c.get("status") == "True" and not reason:
            reason = "HeadPodRunningAndReady"
        if reason:
            out["reason"] = reason
        if reason == "ContainersNotReady":
            for cs in (head.get("status") or {}).get("containerStatuses") or []:
                state = cs.get("state") or {}
                why = state.get("waiting") or state.get("terminated")
                if why is not None:
                    out["message"] += (
                        "; " if out["message"] else ""
                    ) + f"{cs.get('name')}: {why.get('message', '')}"
                    out["reason"] = why.get("reason", "")
                    break
        break
    return out


def _is_gpu(key: str) -> bool:
    """``IsGPUResourceKey``."""
    return key.endswith("gpu") or re.search(r"nvidia\.com/mig-\d+g\.\d+gb$", key) is not None


def calculate(
    cluster: JSON, pods: list[JSON], service: JSON | None, reconcile_error: tuple[str, str] | None, now: str
) -> JSON:
    """The new status of ``cluster`` given its ``pods`` (all with its ``ray.io/cluster`` label),
    its head ``service`` (None when absent) and the reconcile error, as ``(replica failure
    reason or "", message)``; ``now`` is the RFC 3339 time of this computation."""
    old = cluster.get("status") or {}
    status: JSON = copy.deepcopy(old)
    spec = cluster["spec"]
    conds: list[JSON] = status.setdefault("conditions", [])
    if reconcile_error is not None:
        if reconcile_error[0]:
            set_condition(
                conds,
                {
                    "type": REPLICA_FAILURE,
                    "status": "True",
                    "reason": reconcile_error[0],
                    "message": reconcile_error[1],
                },
                now,
            )
    else:
        conds[:] = [c for c in conds if c["type"] != REPLICA_FAILURE]
    status["observedGeneration"] = cluster["metadata"].get("generation", 0)
    workers = [p for p in pods if (p["metadata"].get("labels") or {}).get(naming.NODE_TYPE_LABEL) == "worker"]
    status["readyWorkerReplicas"] = sum(1 for p in workers if _ready(p))
    status["availableWorkerReplicas"] = sum(
        1 for p in workers if (p.get("status") or {}).get("phase") == "Running"
    )
    groups = _groups(cluster)
    status["desiredWorkerReplicas"] = sum(group_desired(g) for g in groups)
    active = [g for g in groups if g.get("suspend") is not True]
    status["minWorkerReplicas"] = sum(
        _int(g.get("minReplicas"), 0) * _int(g.get("numOfHosts"), 1) for g in active
    )
    status["maxWorkerReplicas"] = min(
        MAX_INT32, sum(_int(g.get("maxReplicas"), MAX_INT32) * _int(g.get("numOfHosts"), 1) for g in active)
    )
    total = desired_resources(cluster)
    gpu = quantity.Quantity()
    for k in sorted(total):
        if _is_gpu(k) and not total[k].is_zero():
            gpu = gpu + total[k]
    status["desiredCPU"] = total.get("cpu", quantity.Quantity()).canonical()
    status["desiredMemory"] = total.get("memory", quantity.Quantity()).canonical()
    status["desiredGPU"] = gpu.canonical()
    status["desiredTPU"] = total.get("google.com/tpu", quantity.Quantity()).canonical()
    if reconcile_error is None and len(pods) == status["desiredWorkerReplicas"] + 1 and all_running(pods):
        status["state"] = "ready"
        status.pop("reason", None)
    heads = [p for p in pods if (p["metadata"].get("labels") or {}).get(naming.NODE_TYPE_LABEL) == "head"]
    head = heads[0] if len(heads) == 1 else None
    if head is None:
        set_condition(
            conds,
            {
                "type": HEAD_POD_READY,
                "status": "False",
                "reason": "HeadPodNotFound",
                "message": "Head Pod not found",
            },
            now,
        )
    else:
        set_condition(conds, head_pod_ready_condition(head), now)
    _suspend_conditions(conds, spec, pods, now)
    if spec.get("suspend") is True and not pods:
        status["state"] = "suspended"
    _endpoints_and_head(status, head, service)
    status["lastUpdateTime"] = now
    if old.get("state") != status.get("state"):
        status.setdefault("stateTransitionTimes", {})[status.get("state", "")] = now
    return _omit_empty(status)


def _suspend_conditions(conds: list[JSON], spec: JSON, pods: list[JSON], now: str) -> None:
    """``RayClusterProvisioned`` and the suspend conditions (``calculateStatus``)."""
    suspend = suspend_status(conds)
    if not is_true(conds, PROVISIONED) and suspend != SUSPENDED:
        if all_running(pods):
            set_condition(
                conds,
                {
                    "type": PROVISIONED,
                    "status": "True",
                    "reason": "AllPodRunningAndReadyFirstTime",
                    "message": "All Ray Pods are ready for the first time",
                },
                now,
            )
        else:
            set_condition(
                conds,
                {
                    "type": PROVISIONED,
                    "status": "False",
                    "reason": "RayClusterPodsProvisioning",
                    "message": "RayCluster Pods are being provisioned for first time",
                },
                now,
            )
    if suspend == SUSPENDING:
        if not pods:
            set_condition(
                conds,
                {
                    "type": PROVISIONED,
                    "status": "False",
                    "reason": "RayClusterPodsProvisioning",
                    "message": "RayCluster has been suspended",
                },
                now,
            )
            set_condition(conds, {"type": SUSPENDING, "status": "False", "reason": SUSPENDING}, now)
            set_condition(conds, {"type": SUSPENDED, "status": "True", "reason": SUSPENDED}, now)
    elif suspend == SUSPENDED:
        if spec.get("suspend") is False:
            set_condition(conds, {"type": SUSPENDED, "status": "False", "reason": SUSPENDED}, now)
    else:
        set_condition(conds, {"type": SUSPENDED, "status": "False", "reason": SUSPENDED}, now)
        going = spec.get("suspend") is True
        set_condition(
            conds, {"type": SUSPENDING, "status": "True" if going else "False", "reason": SUSPENDING}, now
        )


def _endpoints_and_head(status: JSON, head: JSON | None, service: JSON | None) -> None:
    """``updateEndpoints`` and ``updateHeadInfo``: the head Service's named ports, the head
    Pod's name and IP, the Service's name and IP (the head Pod's IP for a headless Service)."""
    info: JSON = status.setdefault("head", {})
    info["podIP"] = (head.get("status") or {}).get("podIP", "") if head else ""
    info["podName"] = head["metadata"]["name"] if head else ""
    if service is None:
        return
    endpoints = status.setdefault("endpoints", {})
    for p in (service.get("spec") or {}).get("ports") or []:
        if not p.get("name"):
            continue
        if p.get("nodePort"):
            endpoints[p["name"]] = str(p["nodePort"])
        elif isinstance(p.get("targetPort"), int) and p["targetPort"]:
            endpoints[p["name"]] = str(p["targetPort"])
        elif isinstance(p.get("targetPort"), str) and p["targetPort"]:
            endpoints[p["name"]] = p["targetPort"]
    cluster_ip = (service.get("spec") or {}).get("clusterIP", "")
    info["serviceIP"] = info["podIP"] if cluster_ip == "None" else cluster_ip
    info["serviceName"] = service["metadata"]["name"]


def _omit_empty(status: JSON) -> JSON:
    """Drop what the Go struct's ``omitempty`` drops: zero counts, empty strings and maps."""
    for k in (
        "readyWorkerReplicas",
        "availableWorkerReplicas",
        "desiredWorkerReplicas",
        "minWorkerReplicas",
        "maxWorkerReplicas",
        "observedGeneration",
    ):
        if not status.get(k):
            status.pop(k, None)
    for k in ("state", "reason", "endpoints", "conditions", "stateTransitionTimes"):
        if not status.get(k):
            status.pop(k, None)
    status["head"] = {k: v for k, v in (status.get("head") or {}).items() if v}
    return status


_CONSISTENCY_FIELDS = (
    "state",
    "reason",
    "readyWorkerReplicas",
    "availableWorkerReplicas",
    "desiredWorkerReplicas",
    "minWorkerReplicas",
    "maxWorkerReplicas",
    "endpoints",
    "head",
    "conditions",
)


def inconsistent(old: JSON, new: JSON) -> bool:
    """``InconsistentRayClusterStatus``: whether the new status must be written."""
    return any(old.get(k) != new.get(k) for k in _CONSISTENCY_FIELDS)
