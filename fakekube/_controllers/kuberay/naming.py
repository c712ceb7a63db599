"""The KubeRay operator's names: labels, ports, the names it gives the objects it creates.

From ``ray-operator/controllers/ray/utils/constant.go`` and ``utils/util.go``
(``GenerateHeadServiceName``, ``PodName``, ``GenerateIdentifier``) of the KubeRay release whose CRDs
are in ``../shared/kuberay/crds`` (ray-project/kuberay at ``feeaf72``).
"""

from __future__ import annotations

#: The storage key of RayClusters (``rayclusters.ray.io``).
RAYCLUSTERS = "rayclusters.ray.io"
#: ``ray.io/v1``: the API version of the objects the operator owns its children with.
RAY_API_VERSION = "ray.io/v1"

CLUSTER_LABEL = "ray.io/cluster"  # RayClusterLabelKey
NODE_TYPE_LABEL = "ray.io/node-type"  # RayNodeTypeLabelKey
GROUP_LABEL = "ray.io/group"  # RayNodeGroupLabelKey
IS_RAY_NODE_LABEL = "ray.io/is-ray-node"  # RayNodeLabelKey
IDENTIFIER_LABEL = "ray.io/identifier"  # RayIDLabelKey
APP_NAME_LABEL = "app.kubernetes.io/name"  # KubernetesApplicationNameLabelKey
CREATED_BY_LABEL = "app.kubernetes.io/created-by"  # KubernetesCreatedByLabelKey
ORIGINATED_FROM_NAME_LABEL = "ray.io/originated-from-cr-name"
ORIGINATED_FROM_CRD_LABEL = "ray.io/originated-from-crd"
APPLICATION = "kuberay"  # ApplicationName
OPERATOR = "kuberay-operator"  # ComponentName
HEAD_GROUP = "headgroup"  # the ray.io/group value of head Pods
RECREATE_HASH_ANNOTATION = "ray.io/upgrade-strategy-recreate-hash"  # UpgradeStrategyRecreateHashKey
KUBERAY_VERSION_ANNOTATION = "ray.io/kuberay-version"  # KubeRayVersion

CLIENT_PORT, CLIENT_PORT_NAME = 10001, "client"
GCS_PORT, GCS_PORT_NAME = 6379, "gcs-server"
DASHBOARD_PORT, DASHBOARD_PORT_NAME = 8265, "dashboard"
METRICS_PORT, METRICS_PORT_NAME = 8080, "metrics"
SERVING_PORT, SERVING_PORT_NAME = 8000, "serve"
DEFAULT_APP_PROTOCOL = "tcp"

_MAX_POD_PREFIX = 50  # 63 - len("-worker-") - 5 generated characters


def pod_generate_name(prefix: str, node_type: str) -> str:
    """``utils.PodName(prefix, nodeType, true)``: the first 50 characters of ``prefix``, then
    ``-head-`` or ``-worker-``, lower-cased. The operator passes the cluster name for the head
    and ``<cluster>-<group>`` for workers."""
    return (prefix[:_MAX_POD_PREFIX] + "-" + node_type + "-").lower()


def head_pod_generate_name(cluster: str) -> str:
    """``<cluster>-head-``."""
    return pod_generate_name(cluster, "head")


def worker_pod_generate_name(cluster: str, group: str) -> str:
    """``<cluster>-<group>-worker-``."""
    return pod_generate_name(f"{cluster}-{group}", "worker")


def head_service_name(cluster: str, spec: dict[str, object] | None = None) -> str:
    """``utils.GenerateHeadServiceName`` for a RayCluster: ``headGroupSpec.headService.metadata.name``
    when set, else ``<cluster>-head-svc``."""
    head = (spec or {}).get("headGroupSpec")
    svc = head.get("headService") if isinstance(head, dict) else None
    meta = svc.get("metadata") if isinstance(svc, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else f"{cluster}-head-svc"


def identifier(cluster: str, node_type: str) -> str:
    """The ``ray.io/identifier`` label (``utils.GenerateIdentifier``): ``<cluster>-head`` or
    ``<cluster>-worker``."""
    return f"{cluster}-{node_type}"


def check_label(value: str) -> str:
    """``utils.CheckLabel``: a label value longer than 63 keeps its last 63 characters; one
    starting with punctuation gets ``r`` in its place."""
    if len(value) > 63:
        value = value[len(value) - 63 :]
    if value and not value[0].isalnum():
        value = "r" + value[1:]
    return value
