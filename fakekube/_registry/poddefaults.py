"""What kube-apiserver fills into a Pod on create: the v1 defaults, the admission plugins' additions
and the initial status.

Sources: ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_PodSpec``, ``SetDefaults_Container``,
``SetDefaults_ContainerPort``, ``SetDefaults_Probe``, ``SetDefaults_HTTPGetAction``), the
``ServiceAccount`` admission plugin (``serviceAccountName: default``; the projected
``kube-api-access-*`` volume is not added), ``DefaultTolerationSeconds`` (the
``not-ready``/``unreachable`` tolerations, 300 s), ``Priority`` (``priority: 0``,
``preemptionPolicy``), and ``pkg/registry/core/pod/strategy.go`` ``PrepareForCreate`` (status
``Pending`` with the QoS class of ``pkg/apis/core/helper/qos.GetPodQOS``).
"""

from __future__ import annotations

from typing import Any

from fakekube import _apierrors as errors
from kubeapi.types import JSON

_TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{taint}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for taint in ("not-ready", "unreachable")
]


def _pull_policy(image: str) -> str:
    """``Always`` for an untagged or ``:latest`` image, else ``IfNotPresent`` (SetDefaults_Container)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container_defaults(c: JSON) -> None:
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(name)
        if isinstance(probe, dict):  # SetDefaults_Probe, SetDefaults_HTTPGetAction
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("scheme", "HTTP")


def template_defaults(spec: JSON) -> None:
    """``SetDefaults_PodSpec``/``SetDefaults_Container`` of a pod template's ``spec`` (in place),
    as a workload's template gets them (a Job's: checked on refkube); no admission additions."""
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(c, dict):
            _container_defaults(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def apply_defaults(obj: JSON) -> None:
    """Fill the defaults and admission additions into a new Pod ``obj`` (in place)."""
    spec = obj.setdefault("spec", {})
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(c, dict):
            _container_defaults(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    have = {t.get("key") for t in tolerations if isinstance(t, dict)}
    tolerations.extend(dict(t) for t in _TOLERATIONS if t["key"] not in have)


def qos_class(spec: JSON) -> str:
    """``Guaranteed``, ``Burstable`` or ``BestEffort`` (``qos.GetPodQOS``, simplified to cpu and
    memory: Guaranteed when every container limits both and requests equal the limits)."""
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or str(req.get(r, lim[r])) != str(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def validate(obj: JSON) -> list[JSON]:
    """The Pod spec checks fakekube makes (a subset of ``ValidatePodCreate``): containers are
    required, each with a ``name`` and an ``image``, names unique. Returns 422 causes."""
    spec: Any = obj.get("spec")
    if not isinstance(spec, dict):
        return [errors.field_required("spec.containers", "")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [errors.field_required("spec.containers", "")]
    causes: list[JSON] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append(errors.field_required(f"spec.containers[{i}].name", ""))
            continue
        name = c.get("name")
        if not isinstance(name, str) or not name:
            causes.append(errors.field_required(f"spec.containers[{i}].name", ""))
        elif name in seen:
            causes.append(errors.field_duplicate(f"spec.containers[{i}].name", name))
        else:
            seen.add(name)
        if not isinstance(c.get("image"), str) or not c.get("image"):
            causes.append(errors.field_required(f"spec.containers[{i}].image", ""))
    return causes


def initial_status(obj: JSON) -> JSON:
    """The status a Pod is created with (``PrepareForCreate``): phase ``Pending`` and its QoS class."""
    return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
