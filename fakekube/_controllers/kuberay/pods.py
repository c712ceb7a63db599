"""The Pods and the head Service the KubeRay operator builds for a RayCluster.

Follows ``ray-operator/controllers/ray/common/pod.go`` (``DefaultHeadPodTemplate``,
``DefaultWorkerPodTemplate``, ``BuildPod``, ``labelPod``, ``setMissingRayStartParams``,
``generateRayStartCommand``, ``convertParamMap``, ``setContainerEnvVars``, ``addEmptyDir``),
``common/service.go`` (``BuildServiceForHeadPod``, ``getServicePorts``) and
``raycluster_controller.go`` (``buildHeadPod``, ``buildWorkerPod``: ``generateName``, the
controller owner reference) with the operator's default settings (init container injection on,
probe injection on, head Service headless, ``RayMultiHostIndexing`` on). Not built: the
autoscaler sidecar, GCS fault tolerance, TLS and auth settings.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

from fakekube._controllers.kuberay import naming
from kubeapi import quantity
from kubeapi.types import JSON

KUBERAY_VERSION = "nightly"  # utils.KUBERAY_VERSION of the release followed
_SHM_VOLUME, _SHM_PATH = "shared-mem", "/dev/shm"
_BOOLEAN_VALUED = ("log-color", "include-dashboard", "include-log-monitor")


def owner_reference(cluster: JSON) -> JSON:
    """``controllerutil.SetControllerReference``: the RayCluster as controller owner."""
    meta = cluster["metadata"]
    return {
        "apiVersion": naming.RAY_API_VERSION,
        "kind": "RayCluster",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def head_port(cluster: JSON) -> str:
    """``GetHeadPort``: the head's ``rayStartParams.port``, else 6379."""
    params = (cluster["spec"].get("headGroupSpec") or {}).get("rayStartParams") or {}
    return str(params.get("port", naming.GCS_PORT))


def fqdn_head(cluster: JSON) -> str:
    """``GenerateFQDNServiceName``: ``<head service>.<namespace>.svc.cluster.local``."""
    meta = cluster["metadata"]
    return f"{naming.head_service_name(meta['name'], cluster['spec'])}.{meta['namespace']}.svc.cluster.local"


def _labels(node_type: str, cluster: str, group: str, override: dict[str, str]) -> dict[str, str]:
    """``labelPod``: the operator's labels; ``override`` may change all but type, group, cluster."""
    out = {
        naming.IS_RAY_NODE_LABEL: "yes",
        naming.CLUSTER_LABEL: cluster,
        naming.NODE_TYPE_LABEL: node_type,
        naming.GROUP_LABEL: group,
        naming.IDENTIFIER_LABEL: naming.check_label(naming.identifier(cluster, node_type)),
        naming.APP_NAME_LABEL: naming.APPLICATION,
        naming.CREATED_BY_LABEL: naming.OPERATOR,
    }
    for k, v in override.items():
        if k not in (naming.NODE_TYPE_LABEL, naming.GROUP_LABEL, naming.CLUSTER_LABEL):
            out[k] = v
    return out


def _start_params(
    params: dict[str, Any], node_type: str, port: str, fqdn: str, resources: JSON
) -> dict[str, str]:
    """``setMissingRayStartParams`` then the resource flags of ``generateRayStartCommand``."""
    out = {k: str(v) for k, v in params.items()}
    if node_type == "worker":
        out.setdefault("address", f"{fqdn}:{port}")
    else:
        out.setdefault("dashboard-host", "0.0.0.0")
    out.setdefault("metrics-export-port", str(naming.METRICS_PORT))
    out["block"] = "true"
    out.setdefault("dashboard-agent-listen-port", "52365")
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if "num-cpus" not in out:
        for source in (limits, requests):
            if source.get("cpu") is not None and not quantity.of(source["cpu"]).is_zero():
                out["num-cpus"] = str(quantity.of(source["cpu"]).ceil())
                break
    if (
        "memory" not in out
        and limits.get("memory") is not None
        and not quantity.of(limits["memory"]).is_zero()
    ):
        out["memory"] = str(quantity.of(limits["memory"]).ceil())
    if "num-gpus" not in out and limits.get("nvidia.com/gpu") is not None:
        gpus = quantity.of(limits["nvidia.com/gpu"])
        if not gpus.is_zero():
            out["num-gpus"] = str(gpus.ceil())
    return out


def _flags(params: dict[str, str]) -> str:
    """``convertParamMap``: `` --k=v `` per parameter in key order; ``true`` booleans as `` --k ``,
    ``false`` ones dropped (but for the flags that take an explicit boolean)."""
    out = ""
    for k in sorted(params):
        v = params[k]
        if v.lower() in ("true", "false") and k not in _BOOLEAN_VALUED:
            if v.lower() == "true":
                out += f" --{k} "
        else:
            out += f" --{k}={v} "
    return out


def _add_shm(pod: JSON, container: JSON) -> None:
    """``addEmptyDir`` for ``/dev/shm`` (memory medium, size limit = the container's memory)."""
    mounts = container.setdefault("volumeMounts", [])
    if any(m.get("mountPath") == _SHM_PATH for m in mounts):
        return
    volumes = pod["spec"].setdefault("volumes", [])
    if not any(v.get("name") == _SHM_VOLUME for v in volumes):
        res = container.get("resources") or {}
        memory = (res.get("requests") or {}).get("memory") or (res.get("limits") or {}).get("memory")
        empty: JSON = {"medium": "Memory"}
        if memory is not None:
            empty["sizeLimit"] = memory
        volumes.append({"name": _SHM_VOLUME, "emptyDir": empty})
    mounts.append({"mountPath": _SHM_PATH, "name": _SHM_VOLUME})


def _env(container: JSON, node_type: str, fqdn: str, port: str, start_cmd: str, crd: str) -> None:
    """``setContainerEnvVars``: the variables KubeRay sets on the Ray container."""
    env = container.setdefault("env", [])
    names = {e.get("name") for e in env}
    ip = "127.0.0.1"
    if node_type == "worker":
        ip = fqdn
        env += [{"name": "FQ_RAY_IP", "value": fqdn}, {"name": "RAY_IP", "value": fqdn.split(".")[0]}]
    for name, path in (
        ("RAY_CLUSTER_NAME", f"metadata.labels['{naming.CLUSTER_LABEL}']"),
        ("RAY_CLUSTER_NAMESPACE", "metadata.namespace"),
        ("RAY_CLOUD_INSTANCE_ID", "metadata.name"),
        ("RAY_NODE_TYPE_NAME", f"metadata.labels['{naming.GROUP_LABEL}']"),
    ):
        env.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}})
    env.append({"name": "KUBERAY_GEN_RAY_START_CMD", "value": start_cmd})
    if "RAY_PORT" not in names:
        env.append({"name": "RAY_PORT", "value": port})
    if "RAY_ADDRESS" not in names:
        env.append({"name": "RAY_ADDRESS", "value": f"{ip}:{port}"})
    if "RAY_USAGE_STATS_KUBERAY_IN_USE" not in names:
        env.append({"name": "RAY_USAGE_STATS_KUBERAY_IN_USE", "value": "1"})
    if node_type == "head":
        env.append(
            {
                "name": "RAY_USAGE_STATS_EXTRA_TAGS",
                "value": f"kuberay_version={KUBERAY_VERSION};kuberay_crd={crd}",
            }
        )
    if "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE" not in names:
        env.append({"name": "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE", "value": "1"})


def _container_command(container: JSON, node_type: str, params: dict[str, str], overwrite: bool) -> str:
    """``BuildPod``'s command: ``/bin/bash -c -- "ulimit ...; ray start ..."`` (after the user's
    own command when it does not run ``ray start``). Returns the ``ray start`` command."""
    start = ("ray start --head" if node_type == "head" else "ray start") + _flags(params)
    cmd = "".join(_shell_join(container.get(k) or []) for k in ("command", "args"))
    if not overwrite and "ray start" not in cmd:
        generated = f"ulimit -n ${{RAY_START_ULIMIT_OPEN_FILES:-65536}}; {start}"
        container["command"] = ["/bin/bash", "-c", "--"]
        container["args"] = [f"{cmd} && {generated}" if cmd else generated]
    return start


def _shell_join(parts: list[Any]) -> str:
    """``convertCmdToString``: the parts joined with spaces, each followed by a space."""
    return "".join(f"{p} " for p in parts)


#: ``utils.BaseWgetHealthCommand``.
_WGET = "wget --tries 1 -T {timeout} -q -O- http://localhost:{port}/{path} | grep success"


def _version_at_least(version: str, minimum: tuple[int, int, int]) -> bool:
    """``supportsUnifiedHealthCheck``: ``version.ParseGeneric(v).AtLeast(minimum)`` (False when
    ``version`` does not parse)."""
    parts = version.split(".")
    try:
        nums = tuple(int(p) for p in parts[:3])
    except ValueError:
        return False
    return len(nums) >= 2 and nums + (0,) * (3 - len(nums)) >= minimum


def _probes(ray: JSON, node_type: str, crd: str, params: dict[str, str], ray_version: str) -> None:
    """``initLivenessAndReadinessProbe``: probes the Ray container lacks (``/api/healthz`` over
    HTTP for Ray >= 2.53, else ``wget`` of the raylet (and GCS, head) health endpoints)."""
    agent = int(params.get("dashboard-agent-listen-port", 52365))
    dashboard = int(params.get("dashboard-port", naming.DASHBOARD_PORT))
    commands = [_WGET.format(timeout=2, port=agent, path="api/local_raylet_healthz")]
    if node_type == "head":
        commands.append(_WGET.format(timeout=10, port=dashboard, path="api/gcs_healthz"))
    http = _version_at_least(ray_version, (2, 53, 0))
    head = node_type == "head"

    def action() -> JSON:
        if http:
            return {"httpGet": {"path": "/api/healthz", "port": agent}}
        return {"exec": {"command": ["bash", "-c", " && ".join(commands)]}}

    if "livenessProbe" not in ray:
        ray["livenessProbe"] = {
            **action(),
            "initialDelaySeconds": 30,
            "timeoutSeconds": 5 if head else 2,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 120,
        }
    if "readinessProbe" not in ray:
        ray["readinessProbe"] = {
            **action(),
            "initialDelaySeconds": 10,
            "timeoutSeconds": 5 if head else 2,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 10,
        }
        if crd == "RayService" and not head:
            serve_port = next(
                (
                    p.get("containerPort")
                    for p in ray.get("ports") or []
                    if p.get("name") == naming.SERVING_PORT_NAME
                ),
                naming.SERVING_PORT,
            )
            serve = _WGET.format(timeout=10, port=serve_port, path="-/healthz")
            probe = ray["readinessProbe"]
            probe.pop("httpGet", None)
            probe["exec"] = {"command": ["bash", "-c", " && ".join([*commands, serve])]}
            probe["failureThreshold"] = 1


def _metrics_port(container: JSON) -> None:
    ports = container.setdefault("ports", [])
    if not any(p.get("name") == naming.METRICS_PORT_NAME for p in ports):
        ports.append({"name": naming.METRICS_PORT_NAME, "containerPort": naming.METRICS_PORT})


def _build(cluster: JSON, group_spec: JSON, node_type: str, group: str, generate_name: str) -> JSON:
    """The Pod of ``group_spec``'s template for ``node_type`` (DefaultXPodTemplate + BuildPod)."""
    meta = cluster["metadata"]
    template = copy.deepcopy(group_spec.get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = {**(tmeta.get("labels") or {}), **(group_spec.get("labels") or {})}
    annotations = dict(tmeta.get("annotations") or {})
    overwrite = (
        str((meta.get("annotations") or {}).get("ray.io/overwrite-container-cmd", "")).lower() == "true"
    )
    if overwrite:
        annotations["ray.io/overwrite-container-cmd"] = "true"
    pod: JSON = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": generate_name,
            "namespace": meta["namespace"],
            "labels": _labels(node_type, meta["name"], group, labels),
            "annotations": annotations,
            "ownerReferences": [owner_reference(cluster)],
        },
        "spec": spec,
    }
    containers = spec.get("containers") or []
    if not containers:
        return pod
    ray = containers[0]
    port, fqdn = head_port(cluster), fqdn_head(cluster)
    crd = (meta.get("labels") or {}).get(naming.ORIGINATED_FROM_CRD_LABEL) or "RayCluster"
    if node_type == "worker":
        spec.setdefault("initContainers", []).append(_wait_gcs_ready(ray, fqdn, port))
    _metrics_port(ray)
    params = _start_params(
        group_spec.get("rayStartParams") or {}, node_type, port, fqdn, ray.get("resources") or {}
    )
    _add_shm(pod, ray)
    start = _container_command(ray, node_type, params, overwrite)
    for init in spec.get("initContainers") or []:
        init.setdefault("env", []).append({"name": "FQ_RAY_IP", "value": fqdn})
        init["env"].append({"name": "RAY_IP", "value": fqdn.split(".")[0]})
    _env(ray, node_type, fqdn, port, start, crd)
    _probes(ray, node_type, crd, params, str(cluster["spec"].get("rayVersion") or ""))
    return pod


def _wait_gcs_ready(ray: JSON, fqdn: str, port: str) -> JSON:
    """The ``wait-gcs-ready`` init container of worker Pods (``DefaultWorkerPodTemplate``)."""
    script = (
        "\n\t\t\t\t\tSECONDS=0\n\t\t\t\t\twhile true; do\n\t\t\t\t\t\tif (( SECONDS <= 120 )); then\n"
        f"\t\t\t\t\t\t\tif ray health-check --address {fqdn}:{port} > /dev/null 2>&1; then\n"
        '\t\t\t\t\t\t\t\techo "GCS is ready."\n\t\t\t\t\t\t\t\tbreak\n\t\t\t\t\t\t\tfi\n'
        '\t\t\t\t\t\t\techo "$SECONDS seconds elapsed: Waiting for GCS to be ready."\n\t\t\t\t\t\telse\n'
        f"\t\t\t\t\t\t\tif ray health-check --address {fqdn}:{port}; then\n"
        '\t\t\t\t\t\t\t\techo "GCS is ready. Any error messages above can be safely ignored."\n'
        "\t\t\t\t\t\t\t\tbreak\n\t\t\t\t\t\t\tfi\n"
        '\t\t\t\t\t\t\techo "$SECONDS seconds elapsed: Still waiting for GCS to be ready. '
        "For troubleshooting, "
        'refer to the FAQ at https://docs.ray.io/en/master/cluster/kubernetes/troubleshooting.html."\n'
        "\t\t\t\t\t\tfi\n\t\t\t\t\t\tsleep 5\n\t\t\t\t\tdone\n\t\t\t\t"
    )
    init: JSON = {
        "name": "wait-gcs-ready",
        "image": ray.get("image", ""),
        "command": ["/bin/bash", "-c", "--"],
        "args": [script],
        "env": copy.deepcopy(ray.get("env") or []),
        "resources": {
            "limits": {"cpu": "200m", "memory": "256Mi"},
            "requests": {"cpu": "200m", "memory": "256Mi"},
        },
    }
    if ray.get("imagePullPolicy"):
        init["imagePullPolicy"] = ray["imagePullPolicy"]
    if ray.get("securityContext") is not None:
        init["securityContext"] = copy.deepcopy(ray["securityContext"])
    if ray.get("volumeMounts"):
        init["volumeMounts"] = copy.deepcopy(ray["volumeMounts"])
    return init


def cluster_hash(spec: JSON) -> str:
    """``GenerateHashWithoutReplicasAndWorkersToDelete``: base32hex of the SHA-1 of the spec
    without replicas, min/max replicas, ``workersToDelete``, tolerations, scheduling gates and
    ``upgradeStrategy``. (The operator hashes Go's JSON of its typed spec; this hashes the
    stored JSON with sorted keys, so the values differ from the operator's but change with the
    same edits.)"""
    muted = copy.deepcopy(spec)
    muted.pop("upgradeStrategy", None)
    templates = [(muted.get("headGroupSpec") or {}).get("template") or {}]
    for g in muted.get("workerGroupSpecs") or []:
        for k in ("replicas", "minReplicas", "maxReplicas"):
            g.pop(k, None)
        (g.get("scaleStrategy") or {}).pop("workersToDelete", None)
        templates.append(g.get("template") or {})
    for t in templates:
        for k in ("tolerations", "schedulingGates"):
            (t.get("spec") or {}).pop(k, None)
    digest = hashlib.sha1(json.dumps(muted, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.b32hexencode(digest).decode()


def head_pod(cluster: JSON) -> JSON:
    """``buildHeadPod`` + ``createHeadPod``: generateName ``<cluster>-head-``, group ``headgroup``,
    the ``ray.io/upgrade-strategy-recreate-hash`` and ``ray.io/kuberay-version`` annotations."""
    name = cluster["metadata"]["name"]
    head = cluster["spec"].get("headGroupSpec") or {}
    pod = _build(cluster, head, "head", naming.HEAD_GROUP, naming.head_pod_generate_name(name))
    pod["metadata"]["annotations"][naming.RECREATE_HASH_ANNOTATION] = cluster_hash(cluster["spec"])
    pod["metadata"]["annotations"][naming.KUBERAY_VERSION_ANNOTATION] = KUBERAY_VERSION
    return pod


def worker_pod(cluster: JSON, group: JSON, replica_index: int) -> JSON:
    """``buildWorkerPod``: generateName ``<cluster>-<group>-worker-``, with its replica index label."""
    name = cluster["metadata"]["name"]
    pod = _build(
        cluster,
        group,
        "worker",
        group.get("groupName", ""),
        naming.worker_pod_generate_name(name, group.get("groupName", "")),
    )
    pod["metadata"]["labels"]["ray.io/worker-group-replica-index"] = str(replica_index)
    if not pod["metadata"]["annotations"]:
        del pod["metadata"]["annotations"]  # an empty map is omitted (omitempty)
    return pod


def head_service_selector(cluster: JSON) -> dict[str, str]:
    """``HeadServiceLabels``: the head Service's labels and selector."""
    name = cluster["metadata"]["name"]
    return {
        naming.CLUSTER_LABEL: name,
        naming.NODE_TYPE_LABEL: "head",
        naming.IDENTIFIER_LABEL: naming.check_label(naming.identifier(name, "head")),
        naming.APP_NAME_LABEL: naming.APPLICATION,
        naming.CREATED_BY_LABEL: naming.OPERATOR,
    }


def _service_ports(cluster: JSON) -> dict[str, int]:
    """``getServicePorts``: the head container's ports by name (``<port>-port`` when unnamed),
    else the defaults; ``metrics`` added when missing."""
    containers = ((cluster["spec"].get("headGroupSpec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or [{}]
    ports = {
        str(p.get("name") or f"{p.get('containerPort')}-port"): int(p.get("containerPort", 0))
        for p in containers[0].get("ports") or []
    }
    if not ports:
        ports = {
            naming.CLIENT_PORT_NAME: naming.CLIENT_PORT,
            naming.GCS_PORT_NAME: naming.GCS_PORT,
            naming.DASHBOARD_PORT_NAME: naming.DASHBOARD_PORT,
            naming.METRICS_PORT_NAME: naming.METRICS_PORT,
            naming.SERVING_PORT_NAME: naming.SERVING_PORT,
        }
    ports.setdefault(naming.METRICS_PORT_NAME, naming.METRICS_PORT)
    return ports


def head_service(cluster: JSON) -> JSON:
    """``BuildServiceForHeadPod`` (the default head Service: headless, ports sorted by name, a
    user ``headService`` merged in) with the owner reference ``createService`` adds."""
    meta, spec = cluster["metadata"], cluster["spec"]
    head = spec.get("headGroupSpec") or {}
    default_labels = head_service_selector(cluster)
    template_labels = ((head.get("template") or {}).get("metadata") or {}).get("labels") or {}
    given = (
        {naming.APP_NAME_LABEL: template_labels[naming.APP_NAME_LABEL]}
        if naming.APP_NAME_LABEL in template_labels
        else {}
    )
    selector = {k: given.get(k, v) for k, v in default_labels.items()}
    ports = [
        {"name": n, "port": p, "appProtocol": naming.DEFAULT_APP_PROTOCOL}
        for n, p in sorted(_service_ports(cluster).items())
    ]
    annotations = dict(spec.get("headServiceAnnotations") or {})
    custom = head.get("headService")
    if isinstance(custom, dict):
        svc = copy.deepcopy(custom)
        smeta = svc.setdefault("metadata", {})
        smeta["annotations"] = {**(smeta.get("annotations") or {}), **annotations}
        smeta["labels"] = {**(smeta.get("labels") or {}), **selector}
        smeta["name"] = smeta.get("name") or f"{meta['name']}-head-svc"
        smeta["namespace"] = meta["namespace"]
        sspec = svc.setdefault("spec", {})
        sspec["selector"] = selector
        sspec["ports"] = [*(sspec.get("ports") or []), *ports]
        if not sspec.get("type"):
            sspec["type"] = head.get("serviceType") or "ClusterIP"
    else:
        svc = {
            "metadata": {
                "name": f"{meta['name']}-head-svc",
                "namespace": meta["namespace"],
                "labels": dict(selector),
                "annotations": annotations,
            },
            "spec": {"selector": selector, "ports": ports},
        }
        if head.get("serviceType"):
            svc["spec"]["type"] = head["serviceType"]
        if head.get("serviceType") in (None, "", "ClusterIP"):
            svc["spec"]["clusterIP"] = "None"
            svc["spec"]["publishNotReadyAddresses"] = True
    svc["apiVersion"], svc["kind"] = "v1", "Service"
    svc["metadata"]["ownerReferences"] = [owner_reference(cluster)]
    return svc
