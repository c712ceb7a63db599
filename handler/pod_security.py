"""``--pod-security``: Kubernetes Pod Security Standards on the pod templates of Ray objects.

The levels are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/:
``privileged`` (nothing checked: the cluster's own admission decides), ``baseline`` and
``restricted``. Each check is a transcription of one check of the PodSecurity admission plugin,
``k8s.io/pod-security-admission/policy/check_*.go`` (v0.37, the policy version ``latest``), with
its reason and detail texts, run in the plugin's order (baseline check IDs sorted, then restricted
ones; a restricted check replaces the baseline check it overrides):

================================  ========  ==================================================
check (policy/check_*.go)          level     fields
================================  ========  ==================================================
appArmorProfile                    baseline  ``securityContext.appArmorProfile.type`` (pod and
                                             containers), ``container.apparmor.security.beta.
                                             kubernetes.io/*`` annotations
capabilities_baseline              baseline  ``capabilities.add`` beyond the default set
hostNamespaces                     baseline  ``hostNetwork``, ``hostPID``, ``hostIPC``
hostPathVolumes                    baseline  ``volumes[*].hostPath``
hostPorts                          baseline  ``ports[*].hostPort``
hostProbesAndHostLifecycle         baseline  ``host`` of probes and lifecycle handlers
privileged                         baseline  ``securityContext.privileged``
procMount                          baseline  ``securityContext.procMount`` (any, if ``hostUsers: false``)
seLinuxOptions                     baseline  ``seLinuxOptions`` type, user, role
seccompProfile_baseline            baseline  ``seccompProfile.type`` Unconfined
sysctls                            baseline  ``securityContext.sysctls`` outside the safe set
windowsHostProcess                 baseline  ``windowsOptions.hostProcess``
allowPrivilegeEscalation           restrict  ``allowPrivilegeEscalation`` must be false
capabilities_restricted            restrict  drop ``ALL``, add only ``NET_BIND_SERVICE``
procMount_restricted               restrict  ``procMount`` Default even with ``hostUsers: false``
restrictedVolumes                  restrict  only configMap, csi, downwardAPI, emptyDir, ephemeral,
                                             image, persistentVolumeClaim, projected, secret
runAsNonRoot                       restrict  ``runAsNonRoot: true`` (pod or every container)
runAsUser                          restrict  no ``runAsUser: 0``
seccompProfile_restricted          restrict  ``RuntimeDefault`` or ``Localhost`` set
================================  ========  ==================================================

Containers are visited as ``visitContainers`` does: init containers, containers, ephemeral
containers. The pod templates of a Ray object (:func:`pod_templates`): each cluster spec's
``headGroupSpec.template`` and ``workerGroupSpecs[*].template`` (RayCluster ``spec``, RayJob
``spec.rayClusterSpec``, RayService ``spec.rayClusterConfig``, RayCronJob
``spec.jobTemplate.rayClusterSpec``), the submitter's ``submitterPodTemplate`` (RayJob ``spec``,
RayCronJob ``spec.jobTemplate``), and, when ``enableInTreeAutoscaling`` is true, the autoscaler
container KubeRay adds to the head pod (named ``autoscaler``, with
``autoscalerOptions.securityContext``).

A refusal is the plugin's: 403 ``Forbidden``, ``NewForbidden`` of the Ray resource with
``violates PodSecurity "baseline:latest": <path>: <reasons (details)>``, one ``path: ...`` per
violating template, joined with ``; ``; ``details.causes`` has one ``FieldValueForbidden`` per
template (``field`` the template's path, ``message`` the plugin's aggregate detail).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from handler.raycluster import CLUSTER_SPEC_PATHS, cluster_spec, groups
from handler.request import GatewayRequest
from handler.responses import AnyResponse
from handler.routing import Handler, Step
from handler.settings import POD_SECURITY_LEVELS
from kubeapi.field_errors import FORBIDDEN
from kubeapi.status import StatusError, from_status_object, new_forbidden
from kubeapi.types import JSON

#: The levels, least strict first (``--pod-security``).
LEVELS = POD_SECURITY_LEVELS
#: Where the submitter pod template is, per Ray plural.
SUBMITTER_PATHS: dict[str, tuple[str, ...]] = {
    "rayjobs": ("spec", "submitterPodTemplate"),
    "raycronjobs": ("spec", "jobTemplate", "submitterPodTemplate"),
}
#: KubeRay's autoscaler sidecar (ray-operator/controllers/ray/common/pod.go ``BuildAutoscalerContainer``).
AUTOSCALER_CONTAINER = "autoscaler"

_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)
_ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
# The restricted check's names for volume sources, in its switch order (check_restrictedVolumes.go).
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    """One failed check: ``reason`` (``ForbiddenReason``) and ``detail`` (``ForbiddenDetail``)."""

    reason: str
    detail: str

    def __str__(self) -> str:
        """``reason (detail)``, as ``AggregateCheckResult.ForbiddenDetail`` writes one result."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


# -- helpers.go ------------------------------------------------------------------------------------


def _join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _named(kind: str, names: list[str]) -> str:
    """``container "a"`` / ``containers "a", "b"``."""
    return f"{_plural(kind, kind + 's', len(names))} {_join_quote(names)}"


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(spec: JSON) -> list[JSON]:
    """``visitContainers``: init containers, containers, ephemeral containers (dicts only)."""
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in _list(spec.get(key))
        if isinstance(c, dict)
    ]


def _name(c: JSON) -> str:
    return str(c.get("name") or "")


def _sc(obj: JSON) -> JSON | None:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else None


def _user_namespace(spec: JSON) -> bool:
    """``relaxPolicyForUserNamespacePod``: ``hostUsers`` set to false."""
    return spec.get("hostUsers") is False


def _windows(spec: JSON) -> bool:
    return _dict(spec.get("os")).get("name") == "windows"


Check = Callable[[JSON, JSON], Violation | None]

# -- baseline ----------------------------------------------------------------------------------------


def app_armor_profile(meta: JSON, spec: JSON) -> Violation | None:
    """check_appArmorProfile.go ``appArmorProfile_1_0``."""
    setters: list[str] = []
    values: set[str] = set()

    def bad(sc: JSON | None) -> bool:
        profile = sc.get("appArmorProfile") if sc else None
        if not isinstance(profile, dict):
            return False
        kind = str(profile.get("type") or "")
        if kind in ("RuntimeDefault", "Localhost"):
            return False
        values.add(kind)
        return True

    if bad(_sc(spec)):
        setters.append("pod")
    containers = [_name(c) for c in _containers(spec) if bad(_sc(c))]
    if containers:
        setters.append(_named("container", containers))
    value_list = sorted(values)
    annotations = [
        f"{k}={json.dumps(v)}"
        for k, v in _dict(meta.get("annotations")).items()
        if k.startswith(_APPARMOR_ANNOTATION)
        and isinstance(v, str)
        and not (v == "" or v == "runtime/default" or v.startswith("localhost/"))
    ]
    if annotations:
        value_list += sorted(annotations)
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    return Violation(
        _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(value_list)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(value_list)}",
    )


def capabilities_baseline(meta: JSON, spec: JSON) -> Violation | None:
    """check_capabilities_baseline.go ``capabilitiesBaseline_1_0``."""
    bad: list[str] = []
    caps: set[str] = set()
    for c in _containers(spec):
        added = [str(x) for x in _list(_dict(_dict(_sc(c)).get("capabilities")).get("add"))]
        extra = [x for x in added if x not in _DEFAULT_CAPABILITIES]
        if extra:
            bad.append(_name(c))
            caps.update(extra)
    if not bad:
        return None
    return Violation(
        "non-default capabilities",
        f"{_named('container', bad)} must not include {_join_quote(sorted(caps))} "
        "in securityContext.capabilities.add",
    )


def host_namespaces(meta: JSON, spec: JSON) -> Violation | None:
    """check_hostNamespaces.go ``hostNamespaces_1_0``."""
    found = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return Violation("host namespaces", ", ".join(found)) if found else None


def host_path_volumes(meta: JSON, spec: JSON) -> Violation | None:
    """check_hostPathVolumes.go ``hostPathVolumes_1_0``."""
    names = [
        str(v.get("name") or "")
        for v in _list(spec.get("volumes"))
        if isinstance(v, dict) and _set(v, "hostPath")
    ]
    return Violation("hostPath volumes", _named("volume", names)) if names else None


def host_ports(meta: JSON, spec: JSON) -> Violation | None:
    """check_hostPorts.go ``hostPorts_1_0``."""
    bad: list[str] = []
    ports: set[str] = set()
    for c in _containers(spec):
        used = [p.get("hostPort") for p in _list(c.get("ports")) if isinstance(p, dict)]
        used = [p for p in used if p not in (None, 0)]
        if used:
            bad.append(_name(c))
            ports.update(str(p) for p in used)
    if not bad:
        return None
    return Violation(
        "hostPort",
        f"{_named('container', bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def host_probes_and_host_lifecycle(meta: JSON, spec: JSON) -> Violation | None:
    """check_hostProbesAndhostLifecycle.go ``hostProbesAndHostLifecycleV1Dot34``."""
    bad: set[str] = set()
    hosts: set[str] = set()
    for c in _containers(spec):
        handlers = [_dict(c.get(p)) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = _dict(c.get("lifecycle"))
        handlers += [_dict(lifecycle.get(h)) for h in ("postStart", "preStop")]
        for h in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = _dict(h.get(action)).get("host")
                if isinstance(host, str) and host:
                    bad.add(_name(c))
                    hosts.add(host)
    if not bad:
        return None
    return Violation(
        "probe or lifecycle host",
        f"{_named('container', sorted(bad))} {_plural('uses', 'use', len(bad))} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_join_quote(sorted(hosts))}",
    )


def privileged(meta: JSON, spec: JSON) -> Violation | None:
    """check_privileged.go ``privileged_1_0``."""
    bad = [_name(c) for c in _containers(spec) if _dict(_sc(c)).get("privileged") is True]
    if not bad:
        return None
    return Violation("privileged", f"{_named('container', bad)} must not set securityContext.privileged=true")


def _proc_mount(spec: JSON) -> Violation | None:
    """check_procMount_baseline.go ``procMount_1_0``."""
    bad: list[str] = []
    kinds: set[str] = set()
    for c in _containers(spec):
        mount = _dict(_sc(c)).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(_name(c))
            kinds.add(str(mount))
    if not bad:
        return None
    return Violation(
        "procMount",
        f"{_named('container', bad)} must not set securityContext.procMount to {_join_quote(sorted(kinds))}",
    )


def proc_mount(meta: JSON, spec: JSON) -> Violation | None:
    """check_procMount_baseline.go ``procMount1_35baseline``: any value in a user namespace."""
    return None if _user_namespace(spec) else _proc_mount(spec)


def se_linux_options(meta: JSON, spec: JSON) -> Violation | None:
    """check_seLinuxOptions.go ``seLinuxOptions1_31``."""
    types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(sc: JSON | None) -> bool:
        opts = sc.get("seLinuxOptions") if sc else None
        if not isinstance(opts, dict):
            return True
        ok = True
        kind = str(opts.get("type") or "")
        if kind not in _SELINUX_TYPES:
            ok = False
            types.add(kind)
        for key in ("user", "role"):
            if opts.get(key):
                ok, flags[key] = False, True
        return ok

    setters = ["pod"] if not valid(_sc(spec)) else []
    bad = [_name(c) for c in _containers(spec) if not valid(_sc(c))]
    if bad:
        setters.append(_named("container", bad))
    if not setters:
        return None
    data = [f"{_plural('type', 'types', len(types))} {_join_quote(sorted(types))}"] if types else []
    data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
    return Violation(
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def _seccomp_type(sc: JSON | None) -> str | None:
    """``seccompProfile.type`` of a security context; None when no profile is set."""
    profile = sc.get("seccompProfile") if sc else None
    return str(profile.get("type") or "") if isinstance(profile, dict) else None


def _seccomp(spec: JSON, required: bool) -> Violation | None:
    """check_seccompProfile_baseline.go ``seccompProfileBaseline_1_19`` (``required`` False) and
    check_seccompProfile_restricted.go ``seccompProfileRestricted_1_19`` (True)."""
    setters: list[str] = []
    values: set[str] = set()
    pod_type = _seccomp_type(_sc(spec))
    pod_set = False
    if pod_type is not None:
        if pod_type in ("RuntimeDefault", "Localhost"):
            pod_set = True
        else:
            setters.append("pod")
            values.add(pod_type)
    explicit: list[str] = []
    implicit: list[str] = []
    for c in _containers(spec):
        kind = _seccomp_type(_sc(c))
        if kind is None:
            if not pod_set:
                implicit.append(_name(c))
        elif kind not in ("RuntimeDefault", "Localhost"):
            explicit.append(_name(c))
            values.add(kind)
    if explicit:
        setters.append(_named("container", explicit))
    if setters:
        return Violation(
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_join_quote(sorted(values))}",
        )
    if required and implicit:
        return Violation(
            "seccompProfile",
            f"pod or {_named('container', implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


def seccomp_profile_baseline(meta: JSON, spec: JSON) -> Violation | None:
    """check_seccompProfile_baseline.go ``seccompProfileBaseline_1_19``."""
    return _seccomp(spec, required=False)


def sysctls(meta: JSON, spec: JSON) -> Violation | None:
    """check_sysctls.go ``sysctlsV1Dot37``."""
    names = [
        str(s.get("name") or "")
        for s in _list(_dict(_sc(spec)).get("sysctls"))
        if isinstance(s, dict) and s.get("name") not in _SAFE_SYSCTLS
    ]
    return Violation("forbidden sysctls", ", ".join(names)) if names else None


def windows_host_process(meta: JSON, spec: JSON) -> Violation | None:
    """check_windowsHostProcess.go ``windowsHostProcess_1_0``."""

    def host_process(sc: JSON | None) -> bool:
        return _dict(_dict(sc).get("windowsOptions")).get("hostProcess") is True

    setters = ["pod"] if host_process(_sc(spec)) else []
    bad = [_name(c) for c in _containers(spec) if host_process(_sc(c))]
    if bad:
        setters.append(_named("container", bad))
    if not setters:
        return None
    return Violation(
        "hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    )


# -- restricted --------------------------------------------------------------------------------------


def allow_privilege_escalation(meta: JSON, spec: JSON) -> Violation | None:
    """check_allowPrivilegeEscalation.go ``allowPrivilegeEscalation_1_25``."""
    if _windows(spec):
        return None
    bad = [_name(c) for c in _containers(spec) if _dict(_sc(c)).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_named('container', bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted(meta: JSON, spec: JSON) -> Violation | None:
    """check_capabilities_restricted.go ``capabilitiesRestricted_1_25``."""
    if _windows(spec):
        return None
    missing_drop: list[str] = []
    adding: list[str] = []
    caps: set[str] = set()
    for c in _containers(spec):
        capabilities = _dict(_sc(c)).get("capabilities")
        if not isinstance(capabilities, dict):
            missing_drop.append(_name(c))
            continue
        if "ALL" not in [str(x) for x in _list(capabilities.get("drop"))]:
            missing_drop.append(_name(c))
        extra = [str(x) for x in _list(capabilities.get("add")) if x != "NET_BIND_SERVICE"]
        if extra:
            adding.append(_name(c))
            caps.update(extra)
    details = []
    if missing_drop:
        details.append(
            f'{_named("container", missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_named('container', adding)} must not include {_join_quote(sorted(caps))} "
            "in securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


def proc_mount_restricted(meta: JSON, spec: JSON) -> Violation | None:
    """check_procMount_restricted.go: ``procMount_1_0`` whatever ``hostUsers`` says."""
    return _proc_mount(spec)


def _set(volume: JSON, source: str) -> bool:
    """Whether volume source ``source`` is set (present and not null, as a non-nil Go pointer)."""
    return volume.get(source) is not None


def restricted_volumes(meta: JSON, spec: JSON) -> Violation | None:
    """check_restrictedVolumes.go ``restrictedVolumes_1_0``."""
    bad: list[str] = []
    kinds: set[str] = set()
    for v in _list(spec.get("volumes")):
        if not isinstance(v, dict) or any(_set(v, s) for s in _ALLOWED_VOLUMES):
            continue
        bad.append(str(v.get("name") or ""))
        kinds.add(next((s for s in _RESTRICTED_VOLUMES if _set(v, s)), "unknown"))
    if not bad:
        return None
    return Violation(
        "restricted volume types",
        f"{_named('volume', bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_join_quote(sorted(kinds))}",
    )


def run_as_non_root(meta: JSON, spec: JSON) -> Violation | None:
    """check_runAsNonRoot.go ``runAsNonRoot1_35``."""
    if _user_namespace(spec):
        return None
    setters: list[str] = []
    pod_value = _dict(_sc(spec)).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit: list[str] = []
    implicit: list[str] = []
    for c in _containers(spec):
        value = _dict(_sc(c)).get("runAsNonRoot")
        if value is False:
            explicit.append(_name(c))
        elif value is None and pod_value is not True:
            implicit.append(_name(c))
    if explicit:
        setters.append(_named("container", explicit))
    if setters:
        return Violation(
            "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return Violation(
            "runAsNonRoot != true",
            f"pod or {_named('container', implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def run_as_user(meta: JSON, spec: JSON) -> Violation | None:
    """check_runAsUser.go ``runAsUser1_35``."""
    if _user_namespace(spec):
        return None

    def root(sc: JSON | None) -> bool:
        value = _dict(sc).get("runAsUser")
        return value == 0 and not isinstance(value, bool)

    setters = ["pod"] if root(_sc(spec)) else []
    bad = [_name(c) for c in _containers(spec) if root(_sc(c))]
    if bad:
        setters.append(_named("container", bad))
    return Violation("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def seccomp_profile_restricted(meta: JSON, spec: JSON) -> Violation | None:
    """check_seccompProfile_restricted.go ``seccompProfileRestricted_1_25``."""
    return None if _windows(spec) else _seccomp(spec, required=True)


#: The checks of each level in the plugin's order (``populate`` in policy/registry.go).
BASELINE: tuple[Check, ...] = (
    app_armor_profile,
    capabilities_baseline,
    host_namespaces,
    host_path_volumes,
    host_ports,
    host_probes_and_host_lifecycle,
    privileged,
    proc_mount,
    se_linux_options,
    seccomp_profile_baseline,
    sysctls,
    windows_host_process,
)
_OVERRIDDEN = {capabilities_baseline, host_path_volumes, proc_mount, seccomp_profile_baseline}
RESTRICTED: tuple[Check, ...] = (
    *(c for c in BASELINE if c not in _OVERRIDDEN),
    allow_privilege_escalation,
    capabilities_restricted,
    proc_mount_restricted,
    restricted_volumes,
    run_as_non_root,
    run_as_user,
    seccomp_profile_restricted,
)
CHECKS: dict[str, tuple[Check, ...]] = {"privileged": (), "baseline": BASELINE, "restricted": RESTRICTED}


def _annotation_profile(annotation: str) -> JSON | None:
    """pkg/api/pod/util.go ``ApparmorFieldForAnnotation`` (None: no valid field for it)."""
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    profile = annotation.removeprefix("localhost/")
    if (
        annotation.startswith("localhost/")
        and profile
        and profile.strip() == profile
        and len(profile) <= 4095
    ):
        return {"type": "Localhost", "localhostProfile": profile}
    return None


def _host_network_ports(spec: JSON) -> None:
    """pkg/apis/core/v1/defaults.go ``defaultHostNetworkPorts``: with ``hostNetwork``, a port's
    ``hostPort`` defaults to its ``containerPort`` (containers and init containers), in place."""
    for key in ("containers", "initContainers"):
        for c in _list(spec.get(key)):
            for port in _list(c.get("ports")) if isinstance(c, dict) else []:
                if isinstance(port, dict) and port.get("hostPort") in (None, 0):
                    port["hostPort"] = port.get("containerPort")


def _app_armor_skew(meta: JSON, spec: JSON) -> None:
    """pkg/registry/core/pod/strategy.go ``applyAppArmorVersionSkew``, in place: a container's
    deprecated AppArmor annotation becomes its ``appArmorProfile`` when it has none (and the
    profile differs from the pod's)."""
    annotations = _dict(meta.get("annotations"))
    if _windows(spec) or not any(k.startswith(_APPARMOR_ANNOTATION) for k in annotations):
        return
    pod_profile = _dict(_sc(spec)).get("appArmorProfile")
    for c in _containers(spec):
        annotation = annotations.get(_APPARMOR_ANNOTATION + _name(c))
        field = _annotation_profile(annotation) if isinstance(annotation, str) else None
        sc = _sc(c)
        if field is not None and (sc is None or sc.get("appArmorProfile") is None) and field != pod_profile:
            c["securityContext"] = {**(sc or {}), "appArmorProfile": field}


def as_created(meta: JSON, spec: JSON) -> JSON:
    """``spec`` as the API server stores the Pod made from it, for what the checks read (both run
    before admission, so the plugin sees their result): ``hostPort`` defaulted from
    ``containerPort`` under ``hostNetwork`` (:func:`_host_network_ports`), and deprecated AppArmor
    annotations turned into fields (:func:`_app_armor_skew`). Returns a copy; ``spec`` is not
    changed."""
    if spec.get("hostNetwork") is not True and not any(
        k.startswith(_APPARMOR_ANNOTATION) for k in _dict(meta.get("annotations"))
    ):
        return spec
    out: JSON = copy.deepcopy(spec)
    if out.get("hostNetwork") is True:
        _host_network_ports(out)
    _app_armor_skew(meta, out)
    return out


def check_pod(level: str, meta: JSON, spec: JSON) -> list[Violation]:
    """The violations of pod ``spec`` with pod metadata ``meta`` at ``level`` (``EvaluatePod`` on
    the Pod as created, :func:`as_created`), in the plugin's order; empty when allowed. Raises
    KeyError for an unknown level."""
    checks = CHECKS[level]
    if checks:
        spec = as_created(meta, spec)
    return [v for check in checks if (v := check(meta, spec)) is not None]


def forbidden_detail(violations: list[Violation]) -> str:
    """``AggregateCheckResult.ForbiddenDetail``: ``reason (detail), reason (detail)``."""
    return ", ".join(str(v) for v in violations)


# -- Ray objects -------------------------------------------------------------------------------------


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def pod_templates(obj: Any, resource: str) -> Iterator[tuple[str, JSON, JSON]]:
    """Every pod template of Ray object ``obj`` of plural ``resource``, as ``(path, metadata,
    spec)`` (see the module docstring); the head pod's spec gains KubeRay's autoscaler container
    when in-tree autoscaling is on. Templates that are not objects are skipped."""
    spec, prefix = cluster_spec(obj, resource)
    if spec is not None:
        for g in groups(spec, prefix):
            template = g.spec.get("template")
            if not isinstance(template, dict):
                continue
            pod = _dict(template.get("spec"))
            if g.field.endswith(".headGroupSpec") and spec.get("enableInTreeAutoscaling") is True:
                options = _dict(spec.get("autoscalerOptions"))
                autoscaler: JSON = {"name": AUTOSCALER_CONTAINER}
                if isinstance(options.get("securityContext"), dict):
                    autoscaler["securityContext"] = options["securityContext"]
                pod = {**pod, "containers": [*_list(pod.get("containers")), autoscaler]}
            yield f"{g.field}.template", _dict(template.get("metadata")), pod
    path = SUBMITTER_PATHS.get(resource)
    submitter = _at(obj, path) if path else None
    if path and isinstance(submitter, dict):
        yield ".".join(path), _dict(submitter.get("metadata")), _dict(submitter.get("spec"))


def evaluate(level: str, obj: Any, resource: str) -> list[tuple[str, list[Violation]]]:
    """``(template path, violations)`` for each pod template of ``obj`` that ``level`` refuses."""
    found = []
    for path, meta, spec in pod_templates(obj, resource):
        violations = check_pod(level, meta, spec)
        if violations:
            found.append((path, violations))
    return found


def refusal(level: str, resource: str, name: str, found: list[tuple[str, list[Violation]]]) -> StatusError:
    """The 403 ``Forbidden`` Status for the violations ``found`` (see the module docstring)."""
    policy = f"{level}:latest"
    text = "; ".join(f"{path}: {forbidden_detail(v)}" for path, v in found)
    error = new_forbidden("ray.io", resource, name, f"violates PodSecurity {json.dumps(policy)}: {text}")
    assert error.details is not None
    error.details["causes"] = [
        {"reason": FORBIDDEN, "message": forbidden_detail(v), "field": path} for path, v in found
    ]
    return error


class EnforcePodSecurity(Step):
    """Refuse (403) a create, update, patch or apply of a RayCluster, RayJob, RayService or
    RayCronJob whose pod templates violate the ``--pod-security`` level (module docstring).

    Creates and updates are checked on the body as it goes upstream (after the object hooks). A
    patch (merge, JSON patch, apply) is first sent with ``dryRun=All`` under the caller's identity,
    and the object the API server would store is checked; the real patch is then pinned to the
    checked object's ``resourceVersion`` (merge and apply: ``metadata.resourceVersion`` in the
    body; JSON patch: an ``add`` of ``/metadata/resourceVersion`` appended), so that if the object
    changed in between the patch fails with 409 ``Conflict`` instead of landing unchecked. What
    remains: an apply that creates the object has no version to pin (a concurrent create of the
    same name in between would be patched unchecked); strategic merge patches are not served for
    custom resources (415 upstream). ``privileged`` checks nothing and costs nothing.
    """

    name = "pod_security"

    def __init__(self, level: str = "privileged") -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown pod security level {level!r}; one of {', '.join(LEVELS)}")
        self.level = level

    def __repr__(self) -> str:
        return f"<step pod_security: {self.level}>"

    async def __call__(self, request: GatewayRequest, next: Handler) -> AnyResponse:
        """Check the request's object (if any), then go on."""
        route = request.route
        if (
            self.level == "privileged"
            or request.method not in ("POST", "PUT", "PATCH")
            or route.resource not in CLUSTER_SPEC_PATHS
            or route.subresource is not None
            or not request.raw_body.has_body
        ):
            return await next(request)
        resource = route.resource
        if request.method == "PATCH":
            obj = await self._dry_run(request)
        else:
            obj = await request.json()
        found = evaluate(self.level, obj, resource)
        if found:
            meta = _dict(obj.get("metadata")) if isinstance(obj, dict) else {}
            raise refusal(self.level, resource, route.object_name or str(meta.get("name") or ""), found)
        if request.method == "PATCH":
            await self._pin(request, str(_dict(_dict(obj).get("metadata")).get("resourceVersion") or ""))
        return await next(request)

    async def _dry_run(self, request: GatewayRequest) -> Any:
        """The object a patch would produce, from the upstream's ``dryRun=All`` answer."""
        query = request.params.replace("dryRun", ["All"]).encode()
        status, obj = await request.upstream.send_bytes(
            "PATCH",
            request.path,
            await request.body(),
            request.header("content-type") or "application/merge-patch+json",
            query,
            route=request.route.name,
            identity=request.identity,
        )
        if status not in (200, 201):
            raise from_status_object(status, obj, f"cannot patch {request.route.resource}")
        return obj

    async def _pin(self, request: GatewayRequest, version: str) -> None:
        """Make the patch conditional on ``version`` (see the class docstring)."""
        if not version:
            return
        doc = await request.json()
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/json-patch+json" and isinstance(doc, list):
            doc.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})
        elif isinstance(doc, dict):
            meta = doc.setdefault("metadata", {})
            if not isinstance(meta, dict):
                return  # the upstream refuses such a body itself
            meta["resourceVersion"] = version
        else:
            return
        # JSON is valid YAML: an apply body keeps its content type.
        request.set_body(json.dumps(doc, separators=(",", ":")).encode())
