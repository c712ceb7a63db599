"""Pod specs for the Pod Security Standards tests: a pod that every level admits, one change per
PodSecurity check, and a Hypothesis strategy of pods that kube-apiserver's Pod validation accepts
(so that the contract test can create them as Pods on refkube and read the real verdict)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Json = dict[str, Any]

#: A pod the ``restricted`` level admits.
GOOD_POD: Json = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "ray-head",
            "image": "rayproject/ray:2.52.0",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
    "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
}


def _c(spec: Json) -> Json:
    return spec["containers"][0]


def _sc(spec: Json) -> Json:
    return _c(spec)["securityContext"]


Change = Callable[[Json, Json], None]  # (pod metadata, pod spec) -> None, in place

#: name → (change, level that first refuses it, reason, detail) — texts from
#: k8s.io/pod-security-admission/policy/check_*.go.
CASES: dict[str, tuple[Change, str, str, str]] = {
    "hostNetwork": (
        lambda m, s: s.update(hostNetwork=True),
        "baseline",
        "host namespaces",
        "hostNetwork=true",
    ),
    "hostPID+hostIPC": (
        lambda m, s: s.update(hostPID=True, hostIPC=True),
        "baseline",
        "host namespaces",
        "hostPID=true, hostIPC=true",
    ),
    "hostPath": (
        lambda m, s: s["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
        "baseline",
        "hostPath volumes",
        'volume "root"',
    ),
    "privileged": (
        lambda m, s: _sc(s).update(privileged=True, allowPrivilegeEscalation=True),
        "baseline",
        "privileged",
        'container "ray-head" must not set securityContext.privileged=true',
    ),
    "capabilities": (
        lambda m, s: _sc(s)["capabilities"].update(add=["SYS_ADMIN", "CHOWN"]),
        "baseline",
        "non-default capabilities",
        'container "ray-head" must not include "SYS_ADMIN" in securityContext.capabilities.add',
    ),
    "hostPort": (
        lambda m, s: _c(s).update(ports=[{"containerPort": 8080, "hostPort": 8080}]),
        "baseline",
        "hostPort",
        'container "ray-head" uses hostPort 8080',
    ),
    "appArmor": (
        lambda m, s: _sc(s).update(appArmorProfile={"type": "Unconfined"}),
        "baseline",
        "forbidden AppArmor profile",
        'container "ray-head" must not set AppArmor profile type to "Unconfined"',
    ),
    "appArmor annotation": (
        # The API server turns the container's annotation into its appArmorProfile field before
        # admission (applyAppArmorVersionSkew), so the plugin names both; joinQuote wraps the
        # %q-formatted annotation in quotes without escaping it.
        lambda m, s: m.setdefault("annotations", {}).update(
            {"container.apparmor.security.beta.kubernetes.io/ray-head": "unconfined"}
        ),
        "baseline",
        "forbidden AppArmor profiles",
        'container "ray-head" and annotation must not set AppArmor profile type to "Unconfined", '
        '"container.apparmor.security.beta.kubernetes.io/ray-head="unconfined""',
    ),
    "seLinux": (
        lambda m, s: _sc(s).update(seLinuxOptions={"type": "spc_t", "user": "root"}),
        "baseline",
        "seLinuxOptions",
        'container "ray-head" set forbidden securityContext.seLinuxOptions: '
        'type "spc_t"; user may not be set',
    ),
    "procMount": (
        lambda m, s: _sc(s).update(procMount="Unmasked"),
        "baseline",
        "procMount",
        'container "ray-head" must not set securityContext.procMount to "Unmasked"',
    ),
    "seccomp Unconfined": (
        lambda m, s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "baseline",
        "seccompProfile",
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    "sysctls": (
        lambda m, s: s["securityContext"].update(
            sysctls=[
                {"name": "kernel.shm_rmid_forced", "value": "1"},
                {"name": "kernel.msgmax", "value": "1"},
            ]
        ),
        "baseline",
        "forbidden sysctls",
        "kernel.msgmax",
    ),
    "windows hostProcess": (
        lambda m, s: s["securityContext"].update(windowsOptions={"hostProcess": True}),
        "baseline",
        "hostProcess",
        "pod must not set securityContext.windowsOptions.hostProcess=true",
    ),
    "probe host": (
        lambda m, s: _c(s).update(readinessProbe={"httpGet": {"port": 80, "host": "169.254.169.254"}}),
        "baseline",
        "probe or lifecycle host",
        'container "ray-head" uses probe or lifecycle host "169.254.169.254"',
    ),
    "allowPrivilegeEscalation": (
        lambda m, s: _sc(s).pop("allowPrivilegeEscalation"),
        "restricted",
        "allowPrivilegeEscalation != false",
        'container "ray-head" must set securityContext.allowPrivilegeEscalation=false',
    ),
    "drop ALL": (
        lambda m, s: _sc(s)["capabilities"].update(drop=["NET_RAW"]),
        "restricted",
        "unrestricted capabilities",
        'container "ray-head" must set securityContext.capabilities.drop=["ALL"]',
    ),
    "add beyond NET_BIND_SERVICE": (
        lambda m, s: _sc(s)["capabilities"].update(add=["NET_BIND_SERVICE", "CHOWN"]),
        "restricted",
        "unrestricted capabilities",
        'container "ray-head" must not include "CHOWN" in securityContext.capabilities.add',
    ),
    "nfs volume": (
        lambda m, s: s["volumes"].append({"name": "data", "nfs": {"server": "nfs", "path": "/"}}),
        "restricted",
        "restricted volume types",
        'volume "data" uses restricted volume type "nfs"',
    ),
    "runAsNonRoot": (
        lambda m, s: s["securityContext"].pop("runAsNonRoot"),
        "restricted",
        "runAsNonRoot != true",
        'pod or container "ray-head" must set securityContext.runAsNonRoot=true',
    ),
    "runAsUser 0": (
        lambda m, s: s["securityContext"].update(runAsUser=0),
        "restricted",
        "runAsUser=0",
        "pod must not set runAsUser=0",
    ),
    "seccomp unset": (
        lambda m, s: s["securityContext"].pop("seccompProfile"),
        "restricted",
        "seccompProfile",
        'pod or container "ray-head" must set securityContext.seccompProfile.type '
        'to "RuntimeDefault" or "Localhost"',
    ),
    "procMount in a user namespace": (
        lambda m, s: (s.update(hostUsers=False), _sc(s).update(procMount="Unmasked")),
        "restricted",
        "procMount",
        'container "ray-head" must not set securityContext.procMount to "Unmasked"',
    ),
}


def changed(name: str) -> tuple[Json, Json]:
    """``(pod metadata, pod spec)``: :data:`GOOD_POD` with the change of case ``name``."""
    meta: Json = {}
    spec = copy.deepcopy(GOOD_POD)
    CASES[name][0](meta, spec)
    return meta, spec


# -- pods kube-apiserver's validation accepts (for the refkube comparison) ---------------------------

_opt_bool = st.sampled_from([None, True, False])


@st.composite
def _container(draw: st.DrawFn, name: str, allow_privileged: bool) -> Json:
    sc: Json = {}
    privileged = draw(_opt_bool if allow_privileged else st.sampled_from([None, False]))
    if privileged is not None:
        sc["privileged"] = privileged
    ape = draw(_opt_bool)
    if ape is not None and not (ape is False and privileged is True):  # invalid together
        sc["allowPrivilegeEscalation"] = ape
    caps: Json = {}
    add = draw(st.lists(st.sampled_from(["NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN", "NET_RAW"]), unique=True))
    if add:
        caps["add"] = add
    if draw(st.booleans()):
        caps["drop"] = draw(st.sampled_from([["ALL"], ["NET_RAW"]]))
    if caps or draw(st.booleans()):
        sc["capabilities"] = caps
    for key, values in (
        ("runAsNonRoot", [True, False]),
        ("runAsUser", [0, 1000]),
        ("seccompProfile", [{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
        ("appArmorProfile", [{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
        ("seLinuxOptions", [{"type": "container_t"}, {"type": "spc_t"}, {"level": "s0:c1"}]),
    ):
        if draw(st.booleans()):
            sc[key] = draw(st.sampled_from(values))
    container: Json = {"name": name, "image": "rayproject/ray:2.52.0"}
    if sc or draw(st.booleans()):
        container["securityContext"] = sc
    if draw(st.booleans()):
        base = {"ray-head": 8000, "sidecar": 9000}.get(name, 7000)  # no port used twice (validation)
        port = base + draw(st.sampled_from([80, 265]))
        container["ports"] = [{"containerPort": port, **({"hostPort": port} if draw(st.booleans()) else {})}]
    if draw(st.booleans()):
        container["readinessProbe"] = {
            "tcpSocket": {"port": 80, "host": draw(st.sampled_from(["", "10.0.0.1"]))}
        }
        if name == "init":  # only a sidecar init container may have probes (validation)
            container["restartPolicy"] = "Always"
    return container


@st.composite
def valid_pods(draw: st.DrawFn, allow_privileged: bool = True) -> tuple[Json, Json]:
    """``(pod metadata, pod spec)`` over the fields the PodSecurity checks read, limited to what
    Pod validation accepts (no IPC sysctls with hostIPC, privileged never with
    allowPrivilegeEscalation false, hostPort equal to containerPort; no privileged container at
    all unless ``allow_privileged``, as kube-apiserver's ``--allow-privileged`` defaults to false)."""
    spec: Json = {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if draw(st.booleans()):
            spec[key] = draw(st.booleans())
    names = draw(st.sampled_from([["ray-head"], ["ray-head", "sidecar"]]))
    spec["containers"] = [draw(_container(n, allow_privileged)) for n in names]
    if draw(st.booleans()):
        spec["initContainers"] = [draw(_container("init", allow_privileged))]
    psc: Json = {}
    for key, values in (
        ("runAsNonRoot", [True, False]),
        ("runAsUser", [0, 1000]),
        ("seccompProfile", [{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
        ("seLinuxOptions", [{"type": "container_t"}, {"type": "spc_t"}, {"role": "sysadm_r"}]),
    ):
        if draw(st.booleans()):
            psc[key] = draw(st.sampled_from(values))
    if not spec.get("hostIPC") and draw(st.booleans()):
        psc["sysctls"] = [
            {"name": n, "value": "1"}
            for n in draw(
                st.lists(
                    st.sampled_from(["kernel.shm_rmid_forced", "kernel.msgmax"]), unique=True, min_size=1
                )
            )
        ]
    if psc or draw(st.booleans()):
        spec["securityContext"] = psc
    volumes = draw(
        st.lists(
            st.sampled_from(
                [
                    {"emptyDir": {}},
                    {"hostPath": {"path": "/"}},
                    {"nfs": {"server": "nfs.example", "path": "/"}},
                    {"configMap": {"name": "c"}},
                    {"csi": {"driver": "d.example.com"}},
                ]
            ),
            max_size=3,
        )
    )
    if volumes:
        spec["volumes"] = [{"name": f"v{i}", **v} for i, v in enumerate(volumes)]
    meta: Json = {}
    head_profile = spec["containers"][0].get("securityContext", {}).get("appArmorProfile")
    if head_profile is None and draw(st.booleans()):  # annotation and field must agree (validation)
        value = draw(st.sampled_from(["runtime/default", "unconfined", "localhost/p"]))
        meta["annotations"] = {"container.apparmor.security.beta.kubernetes.io/ray-head": value}
    return meta, spec
