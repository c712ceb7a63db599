"""The RayJob operator's helpers: validation, counts, deadlines, the objects it builds, deletion.

Each function names the Go function of ``ray-operator/controllers/ray/`` (``rayjob_controller.go``,
``common/job.go``, ``utils/validation.go``, ``utils/util.go``; KubeRay feeaf72) it follows; they
are used by :mod:`fakekube._controllers.kuberay.rayjob_machine`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import re
from typing import Any, Protocol

import yaml

from fakekube._controllers.kuberay.rayjobs_model import JobError, JobManager, RayJobRecord
from kubeapi.types import JSON

#: ``MaxRayJobNameLength`` (``MaxRayClusterNameLength`` 53 minus 6).
MAX_RAYJOB_NAME = 47
OPERATOR = "kuberay-operator"
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
CLUSTER_DOMAIN = "cluster.local"


class RayJobWorld(Protocol):
    """What the state machine reads and writes: the RayJob's cluster, services, submitter Job,
    the cluster's Ray dashboard, Events. The fakekube controller implements it over the store;
    tests implement it with dicts."""

    def get_cluster(self, namespace: str, name: str) -> JSON | None:
        """The RayCluster, or None."""

    def create_cluster(self, obj: JSON) -> None:
        """Create a RayCluster (raises on refusal)."""

    def delete_cluster(self, obj: JSON) -> None:
        """Delete a RayCluster (background propagation)."""

    def update_cluster(self, obj: JSON) -> None:
        """Update a RayCluster's spec (``DeleteWorkers`` suspends its worker groups)."""

    def get_service(self, namespace: str, name: str) -> JSON | None:
        """A Service, or None."""

    def create_service(self, obj: JSON) -> None:
        """Create a Service."""

    def get_submitter(self, namespace: str, name: str) -> JSON | None:
        """The submitter ``batch/v1`` Job, or None."""

    def create_submitter(self, obj: JSON) -> None:
        """Create the submitter Job."""

    def delete_submitter(self, obj: JSON) -> None:
        """Delete the submitter Job (background propagation)."""

    def dashboard(self, namespace: str, cluster: str) -> JobManager | None:
        """The Ray job manager behind the cluster's dashboard, or None when unreachable."""

    def event(self, rayjob: JSON, type_: str, reason: str, action: str, message: str) -> None:
        """Record an Event about ``rayjob`` (``events.k8s.io/v1``: type, reason, action, note)."""

    def set_finalizers(self, rayjob: JSON, finalizers: list[str]) -> None:
        """Replace the RayJob's ``metadata.finalizers``."""

    def delete_rayjob(self, rayjob: JSON) -> None:
        """Delete the RayJob itself."""


def dashboard_url(cluster: JSON, world: RayJobWorld) -> str | None:
    """``FetchHeadServiceURL``: ``<head svc>.<ns>.svc.cluster.local:<dashboard port>`` (None while
    the head Service or its ``dashboard`` port is missing)."""
    ns = cluster["metadata"]["namespace"]
    head = ((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("headService") or {}
    svc_name = (head.get("metadata") or {}).get("name") or f"{cluster['metadata']['name']}-head-svc"
    svc = world.get_service(ns, svc_name)
    if svc is None:
        return None
    ports = (svc.get("spec") or {}).get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "dashboard"), None)
    return None if port is None else f"{svc_name}.{ns}.svc.{CLUSTER_DOMAIN}:{port}"


#: ``validation.IsDNS1035Label``'s error list as ``%v`` prints it.
DNS1035_MESSAGE = (
    "[a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]"
)


def is_dns1035(name: str) -> bool:
    """``validation.IsDNS1035Label`` (at most 63 characters)."""
    return len(name) <= 63 and _DNS1035.match(name) is not None


def validate(job: JSON) -> tuple[str, str] | None:
    """``validateRayJob``: (event reason, message) of the first failed check, or None.
    ``ValidateRayJobMetadata``, ``ValidateRayJobSpec`` (the checks that do not need the whole
    RayCluster validation) and ``ValidateRayJobStatus``."""
    name = job["metadata"]["name"]
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    if len(name) > MAX_RAYJOB_NAME:
        return "InvalidRayJobMetadata", (
            f"The RayJob metadata is invalid: RayJob name should be no more than {MAX_RAYJOB_NAME} characters"
        )
    if not is_dns1035(name):
        return "InvalidRayJobMetadata", (
            "The RayJob metadata is invalid: RayJob name should be a valid DNS1035 label: " + DNS1035_MESSAGE
        )
    msg = _validate_spec(spec)
    if msg is not None:
        return "InvalidRayJobSpec", msg
    if status.get("jobDeploymentStatus") == "Waiting" and spec.get("submissionMode") != "InteractiveMode":
        return "InvalidRayJobStatus", (
            "The RayJob status is invalid: JobDeploymentStatus cannot be `Waiting` "
            "when SubmissionMode is not InteractiveMode"
        )
    return None


def _validate_spec(spec: JSON) -> str | None:
    """``ValidateRayJobSpec``'s messages."""
    invalid = "The RayJob spec is invalid: "
    shutdown = bool(spec.get("shutdownAfterJobFinishes"))
    selector = spec.get("clusterSelector") or {}
    mode = spec.get("submissionMode") or "K8sJobMode"
    backoff = spec.get("backoffLimit")
    if spec.get("suspend") and not shutdown:
        return invalid + "a RayJob with shutdownAfterJobFinishes set to false is not allowed to be suspended"
    ttl = spec.get("ttlSecondsAfterFinished") or 0
    if ttl < 0:
        return invalid + "TTLSecondsAfterFinished must be a non-negative integer"
    if not shutdown and ttl > 0:
        return (
            invalid
            + "a RayJob with shutdownAfterJobFinishes set to false cannot have TTLSecondsAfterFinished"
        )
    strategy = spec.get("deletionStrategy") or {}
    if strategy.get("deletionRules") and shutdown:
        return (
            invalid
            + "spec.shutdownAfterJobFinishes and spec.deletionStrategy.deletionRules are mutually exclusive"
        )
    if spec.get("suspend") and selector:
        return invalid + "the ClusterSelector mode doesn't support the suspend operation"
    if spec.get("rayClusterSpec") is None and not selector:
        return invalid + "one of RayClusterSpec or ClusterSelector must be set"
    if selector:
        if not selector.get("ray.io/cluster"):
            return "cluster name in ClusterSelector should not be empty"
        if mode == "SidecarMode":
            return "ClusterSelector is not supported in SidecarMode"
        if backoff is not None and backoff > 0:
            return invalid + "BackoffLimit is incompatible with ClusterSelector mode"
    if mode == "InteractiveMode" and backoff is not None and backoff > 0:
        return invalid + "BackoffLimit is incompatible with InteractiveMode"
    try:
        yaml.safe_load(spec.get("runtimeEnvYAML") or "")
    except yaml.YAMLError as e:
        return f"failed to unmarshal RuntimeEnvYAML: {spec.get('runtimeEnvYAML')}: {e}"
    for key, what in (
        ("activeDeadlineSeconds", "activeDeadlineSeconds"),
        ("preRunningDeadlineSeconds", "preRunningDeadlineSeconds"),
    ):
        if spec.get(key) is not None and spec[key] <= 0:
            return invalid + f"{what} must be a positive integer"
    if backoff is not None and backoff < 0:
        return invalid + "backoffLimit must be a positive integer"
    return None


def check_backoff_limit(spec: JSON, status: JSON) -> None:
    """``checkBackoffLimitAndUpdateStatusIfNeeded``: count this pass's ``failed``/``succeeded``
    and move a failure with retries left (not a deadline) to ``Retrying``."""
    failed = status.get("failed") or 0
    succeeded = status.get("succeeded") or 0
    if status.get("jobDeploymentStatus") == "Failed":
        failed += 1
    if status.get("jobStatus") == "SUCCEEDED" and status.get("jobDeploymentStatus") == "Complete":
        succeeded += 1
    status["failed"], status["succeeded"] = failed, succeeded
    limit = spec.get("backoffLimit")
    if status.get("jobDeploymentStatus") == "Failed" and limit is not None and failed < limit + 1:
        if status.get("reason") in ("DeadlineExceeded", "JobStatusCheckTimeoutExceeded"):
            return
        status["jobDeploymentStatus"] = "Retrying"


def check_deadline(spec: JSON, status: JSON, now: dt.datetime, key: str, reason: str) -> bool:
    """``checkActiveDeadlineAndUpdateStatusIfNeeded`` / ``checkPreRunningDeadline...``: Failed
    with ``reason`` once ``startTime + spec[key]`` s has passed."""
    seconds = spec.get(key)
    start = status.get("startTime")
    if seconds is None or not start:
        return False
    started = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if now < started + dt.timedelta(seconds=seconds):
        return False
    status["jobDeploymentStatus"] = "Failed"
    status["reason"] = reason
    # Go's %v of a metav1.Time prints time.Time's String(): "2006-01-02 15:04:05 +0000 UTC".
    status["message"] = (
        f"The RayJob has passed the {key}. StartTime: {started:%Y-%m-%d %H:%M:%S} +0000 UTC. "
        f"{key[0].upper() + key[1:]}: {seconds}"
    )
    return True


def owner_reference(job: JSON) -> JSON:
    """``ctrl.SetControllerReference(rayJob, ...)``."""
    return {
        "apiVersion": job.get("apiVersion", "ray.io/v1"),
        "kind": "RayJob",
        "name": job["metadata"]["name"],
        "uid": job["metadata"].get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _origin_labels(job: JSON) -> dict[str, str]:
    return {"ray.io/originated-from-cr-name": job["metadata"]["name"], "ray.io/originated-from-crd": "RayJob"}


def cluster_for_rayjob(job: JSON, name: str) -> JSON:
    """``constructRayClusterForRayJob``: the RayJob's labels plus the origin labels and
    ``ray.io/job-submission-mode``, its annotations, a copy of ``spec.rayClusterSpec``; in
    SidecarMode the ``ray-job-submitter`` container added to the head Pod (``restartPolicy:
    Never``, annotation ``ray.io/disable-provisioned-head-restart``)."""
    meta = job["metadata"]
    spec = job.get("spec") or {}
    labels = {**(meta.get("labels") or {}), **_origin_labels(job)}
    labels["ray.io/job-submission-mode"] = spec.get("submissionMode") or "K8sJobMode"
    annotations = dict(meta.get("annotations") or {})
    if spec.get("submissionMode") == "SidecarMode":
        annotations["ray.io/disable-provisioned-head-restart"] = "true"
    out: JSON = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(job)],
        },
        "spec": copy.deepcopy(spec.get("rayClusterSpec") or {}),
    }
    if spec.get("submissionMode") == "SidecarMode":
        pod = out["spec"].setdefault("headGroupSpec", {}).setdefault("template", {}).setdefault("spec", {})
        containers = pod.setdefault("containers", [{}])
        address = "http://127.0.0.1:8265"
        job_id = (job.get("status") or {}).get("jobId", "")
        containers.append(
            {
                "name": "ray-job-submitter",
                "image": containers[0].get("image", "rayproject/ray"),
                "command": ["/bin/bash", "-ce", "--"],
                "args": [
                    f"ray job submit --address {address} --no-wait --submission-id {job_id} -- "
                    f"{(spec.get('entrypoint') or '').strip()} ; "
                    f"ray job logs --address {address} --follow {job_id}"
                ],
                "env": [
                    {"name": "PYTHONUNBUFFERED", "value": "1"},
                    {
                        "name": "RAY_DASHBOARD_ADDRESS",
                        "value": (job.get("status") or {}).get("dashboardURL", ""),
                    },
                    {"name": "RAY_JOB_SUBMISSION_ID", "value": job_id},
                ],
                "resources": {
                    "limits": {"cpu": "1", "memory": "1Gi"},
                    "requests": {"cpu": "500m", "memory": "200Mi"},
                },
            }
        )
        pod["restartPolicy"] = "Never"
    if annotations:
        out["metadata"]["annotations"] = annotations
    return out


def submit_command(job: JSON, status: JSON) -> list[str]:
    """``BuildJobSubmitCommand`` for K8sJobMode (the parts the simulation shows)."""
    spec = job.get("spec") or {}
    address = status.get("dashboardURL", "")
    if not address.startswith("http://"):
        address = "http://" + address
    job_id = status.get("jobId", "")
    cmd = ["if", "!", "ray", "job", "status", "--address", address, job_id, ">/dev/null", "2>&1", ";", "then"]
    cmd += ["ray", "job", "submit", "--address", address, "--no-wait"]
    if spec.get("runtimeEnvYAML"):
        cmd += ["--runtime-env-json", json.dumps(json.dumps(yaml.safe_load(spec["runtimeEnvYAML"])))]
    if spec.get("metadata"):
        cmd += ["--metadata-json", json.dumps(json.dumps(spec["metadata"]))]
    cmd += ["--submission-id", job_id, "--", (spec.get("entrypoint") or "").strip(), ";", "fi", ";"]
    cmd += ["ray", "job", "logs", "--address", address, "--follow", job_id]
    return cmd


def submitter_job(job: JSON, status: JSON, cluster: JSON) -> JSON:
    """``getSubmitterTemplate`` + ``createNewK8sJob``: the submitter ``batch/v1`` Job, named as
    the RayJob, ``backoffLimit`` from ``submitterConfig`` (default 2)."""
    spec = job.get("spec") or {}
    template = copy.deepcopy(spec.get("submitterPodTemplate") or {})
    if not template:
        head = (((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {}).get(
            "spec"
        ) or {}
        image = ((head.get("containers") or [{}])[0]).get("image", "rayproject/ray")
        template = {
            "spec": {
                "containers": [
                    {
                        "name": "ray-job-submitter",
                        "image": image,
                        "resources": {
                            "limits": {"cpu": "1", "memory": "1Gi"},
                            "requests": {"cpu": "500m", "memory": "200Mi"},
                        },
                    }
                ],
                "restartPolicy": "Never",
            }
        }
    container = template.setdefault("spec", {}).setdefault("containers", [{}])[0]
    if not container.get("command"):
        container["command"] = ["/bin/bash", "-ce", "--"]
        container["args"] = [" ".join(submit_command(job, status))]
    container.setdefault("env", []).extend(
        [
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "RAY_DASHBOARD_ADDRESS", "value": status.get("dashboardURL", "")},
            {"name": "RAY_JOB_SUBMISSION_ID", "value": status.get("jobId", "")},
        ]
    )
    labels = {**_origin_labels(job), "app.kubernetes.io/created-by": OPERATOR}
    template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    backoff = (spec.get("submitterConfig") or {}).get("backoffLimit")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job["metadata"]["name"],
            "namespace": job["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(job)],
        },
        "spec": {"backoffLimit": 2 if backoff is None else backoff, "template": template},
    }


def submitter_state(submitter: JSON) -> tuple[tuple[str, str] | None, dt.datetime | None]:
    """``checkK8sJobStatus`` + ``getJobFinishedCondition``: ((reason, message) of a ``Failed``
    condition or None, when the Job finished (``Complete``/``Failed`` lastTransitionTime) or None)."""
    failed: tuple[str, str] | None = None
    finished: dt.datetime | None = None
    for c in (submitter.get("status") or {}).get("conditions") or []:
        if c.get("status") != "True" or c.get("type") not in ("Complete", "Failed"):
            continue
        if c["type"] == "Failed" and failed is None:
            failed = (c.get("reason", ""), c.get("message", ""))
        if finished is None and c.get("lastTransitionTime"):
            finished = dt.datetime.fromisoformat(c["lastTransitionTime"].replace("Z", "+00:00"))
    return failed, finished


def submit_request(job: JSON, job_id: str) -> JSON:
    """``ConvertRayJobToReq``: the ``JobSubmitRequest`` a RayJob makes."""
    spec = job.get("spec") or {}
    req: dict[str, Any] = {"entrypoint": spec.get("entrypoint") or "", "submission_id": job_id}
    if spec.get("metadata"):
        req["metadata"] = dict(spec["metadata"])
    if spec.get("runtimeEnvYAML"):
        req["runtime_env"] = yaml.safe_load(spec["runtimeEnvYAML"])
    if spec.get("entrypointNumCpus"):
        req["entrypoint_num_cpus"] = spec["entrypointNumCpus"]
    if spec.get("entrypointNumGpus"):
        req["entrypoint_num_gpus"] = spec["entrypointNumGpus"]
    if spec.get("entrypointResources"):
        req["entrypoint_resources"] = json.loads(spec["entrypointResources"])
    return req


def script_of(job: JSON) -> dict[str, str]:
    """The RayJob's annotations (the simulation's outcome/duration keys among them)."""
    return dict(job["metadata"].get("annotations") or {})


def submit_http(job: JSON, status: JSON, manager: JobManager, now: dt.datetime) -> None:
    """``reconcileHTTPModeJobNotFound``: submit the job (an already-used id is no error)."""
    with contextlib.suppress(JobError):
        manager.submit(submit_request(job, status.get("jobId", "")), now, script_of(job))


def sidecar_finished_at(rec: RayJobRecord, manager: JobManager, now: dt.datetime) -> dt.datetime | None:
    """``getSubmitterContainerFinishedTime`` in SidecarMode: the submitter container's
    ``ray job logs --follow`` ends ``submitter_exit_delay`` after the Ray job (None before)."""
    status, since = rec.status_at(now, manager.timings.job_start_delay)
    if since is None or status not in ("SUCCEEDED", "FAILED", "STOPPED"):
        return None
    at = since + dt.timedelta(seconds=manager.timings.submitter_exit_delay)
    return at if now >= at else None


def ensure_rayjob_head_service(job: JSON, cluster: JSON, world: RayJobWorld) -> None:
    """``reconcileServices`` / ``BuildHeadServiceForRayJob``: a ``<rayjob>-head-svc`` Service,
    owned by the RayJob, with the cluster head service's ports and selector."""
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    svc_name = f"{name}-head-svc"
    if world.get_service(ns, svc_name) is not None:
        return
    head = world.get_service(ns, f"{cluster['metadata']['name']}-head-svc")
    if head is None:
        return
    spec = {
        k: v for k, v in copy.deepcopy(head.get("spec") or {}).items() if k in ("ports", "selector", "type")
    }
    labels = {**_origin_labels(job), "ray.io/node-type": "head", "ray.io/identifier": f"{name}-head"}
    world.create_service(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": svc_name,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [owner_reference(job)],
            },
            "spec": spec,
        }
    )
    world.event(job, "Normal", "CreatedService", "Create", f"Created the service {ns}/{svc_name}")


def delete_cluster_resources(job: JSON, status: JSON, world: RayJobWorld) -> bool:
    """``deleteClusterResources``: whether the cluster is gone (deleting it if not yet)."""
    if (job.get("spec") or {}).get("clusterSelector"):
        return True
    ns, name = job["metadata"]["namespace"], status.get("rayClusterName", "")
    cluster = world.get_cluster(ns, name)
    if cluster is None:
        return True
    if not cluster["metadata"].get("deletionTimestamp"):
        world.delete_cluster(cluster)
        world.event(job, "Normal", "DeletedRayCluster", "Delete", f"Deleted cluster {ns}/{name}")
    return False


def delete_submitter(job: JSON, world: RayJobWorld) -> bool:
    """``deleteSubmitterJob``: whether the submitter Job is gone (deleting it if not yet)."""
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    sub = world.get_submitter(ns, name)
    if sub is None:
        return True
    if not sub["metadata"].get("deletionTimestamp"):
        world.delete_submitter(sub)
        world.event(
            job, "Normal", "DeletedRayJobSubmitter", "Delete", f"Deleted submitter K8s Job {ns}/{name}"
        )
    return False


def _end_time(job: JSON) -> dt.datetime:
    end = (job.get("status") or {}).get("endTime")
    return dt.datetime.fromisoformat(end.replace("Z", "+00:00")) if end else dt.datetime.now(dt.UTC)


def handle_shutdown_after_job_finishes(job: JSON, world: RayJobWorld, now: dt.datetime) -> float | None:
    """``handleShutdownAfterJobFinishes``: delete the cluster ``ttlSecondsAfterFinished`` s after
    ``endTime`` (the operator requeues 2 s past it: ``requeueDelayFor``)."""
    at = _end_time(job) + dt.timedelta(seconds=(job.get("spec") or {}).get("ttlSecondsAfterFinished") or 0)
    if at > now:
        return (at - now).total_seconds()
    delete_cluster_resources(job, job.get("status") or {}, world)
    return None


_IMPACT = {"DeleteSelf": 4, "DeleteCluster": 3, "DeleteWorkers": 2, "DeleteNone": 1}


def handle_deletion_strategy(job: JSON, world: RayJobWorld, now: dt.datetime) -> float | None:
    """``handleDeletionRules`` (the most impactful overdue rule runs, one per pass) and
    ``handleLegacyDeletionPolicy`` (``onSuccess``/``onFailure`` after ``ttlSecondsAfterFinished``)."""
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    strategy = spec.get("deletionStrategy") or {}
    end = _end_time(job)
    if not strategy.get("deletionRules"):
        side = {"SUCCEEDED": "onSuccess", "FAILED": "onFailure"}.get(status.get("jobStatus", ""))
        policy = ((strategy.get(side) or {}).get("policy") if side else None) or "DeleteNone"
        if policy == "DeleteNone":
            return None
        at = end + dt.timedelta(seconds=spec.get("ttlSecondsAfterFinished") or 0)
        if at > now:
            return (at - now).total_seconds()
        _execute(job, world, policy)
        return None
    overdue: list[str] = []
    nxt: dt.datetime | None = None
    for rule in strategy["deletionRules"]:
        cond = rule.get("condition") or {}
        if "jobStatus" in cond:
            if cond["jobStatus"] != status.get("jobStatus"):
                continue
        elif cond.get("jobDeploymentStatus") != status.get("jobDeploymentStatus"):
            continue
        at = end + dt.timedelta(seconds=cond.get("ttlSeconds") or 0)
        if now < at:
            nxt = at if nxt is None or at < nxt else nxt
        elif not _completed(job, world, rule["policy"]):
            overdue.append(rule["policy"])
    if overdue:
        _execute(job, world, max(overdue, key=lambda p: _IMPACT.get(p, 0)))
    return None if nxt is None else (nxt - now).total_seconds()


def _completed(job: JSON, world: RayJobWorld, policy: str) -> bool:
    """``isDeletionActionCompleted``."""
    if policy == "DeleteNone":
        return True
    if policy == "DeleteSelf":
        return False
    cluster = world.get_cluster(
        job["metadata"]["namespace"], (job.get("status") or {}).get("rayClusterName", "")
    )
    if cluster is None or cluster["metadata"].get("deletionTimestamp"):
        return True
    if policy == "DeleteCluster":
        return False
    return all(wg.get("suspend") for wg in (cluster.get("spec") or {}).get("workerGroupSpecs") or [])


def _execute(job: JSON, world: RayJobWorld, policy: str) -> None:
    """``executeDeletionPolicy``."""
    if policy == "DeleteCluster":
        delete_cluster_resources(job, job.get("status") or {}, world)
    elif policy == "DeleteSelf":
        world.delete_rayjob(job)
    elif policy == "DeleteWorkers":
        ns = job["metadata"]["namespace"]
        cluster = world.get_cluster(ns, (job.get("status") or {}).get("rayClusterName", ""))
        if cluster is None:
            return
        cluster = copy.deepcopy(cluster)
        for wg in (cluster.get("spec") or {}).get("workerGroupSpecs") or []:
            wg["suspend"] = True
        world.update_cluster(cluster)
        world.event(
            job,
            "Normal",
            "UpdatedRayCluster",
            "Update",
            "Set the `suspend` field to true for all worker groups in cluster "
            f"{ns}/{cluster['metadata']['name']}",
        )
