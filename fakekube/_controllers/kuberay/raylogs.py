"""Start-up log lines of simulated Ray containers: what ``ray start --head`` / ``ray start
--address=...`` print (Ray's ``python/ray/scripts/scripts.py`` ``start``), with the Pod's IP and
the cluster's head Service address filled in. The kubelet writes them to the container's log
when the Pod starts (:data:`fakekube._controllers.kubelet.LogSource`).
"""

from __future__ import annotations

from fakekube._controllers.kuberay import naming
from kubeapi.types import JSON


def ray_start_lines(pod: JSON, container: str) -> str | None:
    """The lines of the Ray container (the first container of a KubeRay Pod, labelled
    ``ray.io/node-type``) and of a worker's ``wait-gcs-ready`` init container; None for other
    Pods and containers."""
    labels = pod["metadata"].get("labels") or {}
    node_type = labels.get(naming.NODE_TYPE_LABEL)
    if container == "wait-gcs-ready" and node_type == "worker":
        return "GCS is ready."
    containers = pod.get("spec", {}).get("containers") or []
    if node_type not in ("head", "worker") or not containers or containers[0].get("name") != container:
        return None
    ip = (pod.get("status") or {}).get("podIP", "")
    cluster = labels.get(naming.CLUSTER_LABEL, "")
    ns = pod["metadata"].get("namespace", "default")
    head = f"{naming.head_service_name(cluster)}.{ns}.svc.cluster.local"
    usage = (
        "Usage stats collection is enabled by default without user confirmation because this "
        "terminal is detected to be non-interactive. To disable this, add `--disable-usage-stats` "
        "to the command that starts the cluster, or run the following command: "
        "`ray disable-usage-stats` before starting the cluster."
    )
    if node_type == "head":
        return "\n".join(
            [
                usage,
                f"Local node IP: {ip}",
                "",
                "--------------------",
                "Ray runtime started.",
                "--------------------",
                "",
                "Next steps",
                "  To add another node to this Ray cluster, run",
                f"    ray start --address='{ip}:{naming.GCS_PORT}'",
                "",
                "  To connect to this Ray cluster:",
                "    import ray",
                "    ray.init()",
                "",
                "  To submit a Ray job using the Ray Jobs CLI:",
                f"    RAY_API_SERVER_ADDRESS='http://{ip}:{naming.DASHBOARD_PORT}' ray job submit "
                "--working-dir . -- python my_script.py",
                "",
                "  To terminate the Ray runtime, run",
                "    ray stop",
                "",
                "  To view the status of the cluster, use",
                "    ray status",
                "",
                "  To monitor and debug Ray, view the dashboard at ",
                f"    {ip}:{naming.DASHBOARD_PORT}",
                "",
                "--block",
                "  This command will now block forever until terminated by a signal.",
                "  Running subprocesses are monitored and a message will be printed if any of them "
                "terminate unexpectedly. Subprocesses exit with SIGTERM will be treated as graceful, "
                "thus NOT reported.",
            ]
        )
    return "\n".join(
        [
            f"Waiting for GCS to be ready at {head}:{naming.GCS_PORT}",
            f"Local node IP: {ip}",
            "",
            "--------------------",
            "Ray runtime started.",
            "--------------------",
            "",
            "To terminate the Ray runtime, run",
            "  ray stop",
            "",
            "--block",
            "  This command will now block forever until terminated by a signal.",
        ]
    )
