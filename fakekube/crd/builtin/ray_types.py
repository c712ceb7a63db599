"""Ray-level fields of the ``ray.io`` kinds, as schema fragments written for this project.

Each builder returns an ``openAPIV3Schema`` fragment (a dict). A fragment ``{"$k8s": NAME}``
stands for the Kubernetes OpenAPI definition ``NAME`` (e.g. ``io.k8s.api.core.v1.PodTemplateSpec``)
and is expanded by :mod:`fakekube.crd.builtin.generate` from the ``kubernetes-validate``
package. Field names, types, required fields, enums, defaults and CEL rules describe the public
KubeRay API (``ray.io/v1``; ``v1alpha1`` is the older, smaller variant); descriptions are ours.
"""

from __future__ import annotations

from typing import Any

from kubeapi.types import JSON

MANAGED_BY_VALUES = ("ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue")
DELETION_POLICIES = ["DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone"]


def k8s(name: str, desc: str = "") -> JSON:
    """Placeholder for the Kubernetes definition ``io.k8s....NAME`` (expanded by the generator)."""
    out: JSON = {"$k8s": name}
    if desc:
        out["description"] = desc
    return out


def string(desc: str = "", **kw: Any) -> JSON:
    """A ``type: string`` field; ``kw`` adds keywords (enum, default, minLength, format...)."""
    return {"type": "string", **({"description": desc} if desc else {}), **kw}


def int32(desc: str = "", **kw: Any) -> JSON:
    """A ``type: integer, format: int32`` field."""
    return {"type": "integer", "format": "int32", **({"description": desc} if desc else {}), **kw}


def int64(desc: str = "", **kw: Any) -> JSON:
    """A ``type: integer, format: int64`` field."""
    return {"type": "integer", "format": "int64", **({"description": desc} if desc else {}), **kw}


def number(desc: str = "") -> JSON:
    """A ``type: number`` field."""
    return {"type": "number", **({"description": desc} if desc else {})}


def boolean(desc: str = "") -> JSON:
    """A ``type: boolean`` field."""
    return {"type": "boolean", **({"description": desc} if desc else {})}


def time(desc: str = "", **kw: Any) -> JSON:
    """An RFC 3339 timestamp (``type: string, format: date-time``)."""
    return string(desc, format="date-time", **kw)


def string_map(desc: str = "") -> JSON:
    """A ``map[string]string`` (``additionalProperties: {type: string}``)."""
    return {
        "type": "object",
        "additionalProperties": {"type": "string"},
        **({"description": desc} if desc else {}),
    }


def array(items: JSON, desc: str = "", **kw: Any) -> JSON:
    """A ``type: array`` of ``items``."""
    return {"type": "array", "items": items, **({"description": desc} if desc else {}), **kw}


def obj(props: JSON, desc: str = "", required: tuple[str, ...] = (), **kw: Any) -> JSON:
    """A ``type: object`` with ``properties`` (and ``required`` when given)."""
    out: JSON = {"type": "object", "properties": props}
    if desc:
        out["description"] = desc
    if required:
        out["required"] = list(required)
    out.update(kw)
    return out


def rules(*pairs: tuple[str, str]) -> JSON:
    """``x-kubernetes-validations`` from (rule, message) pairs."""
    return {"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in pairs]}


QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"


def managed_by() -> JSON:
    """``spec.managedBy``: which controller reconciles the object; immutable once set."""
    allowed = ", ".join(f"'{v}'" for v in MANAGED_BY_VALUES)
    return string(
        "Controller that reconciles this object; empty means the KubeRay operator. Cannot be changed.",
        **rules(
            ("self == oldSelf", "managedBy cannot be changed once set"),
            (f"self in [{allowed}]", f"managedBy must be one of {allowed}"),
        ),
    )


def env_credential(desc: str) -> JSON:
    """A secret-ish value given inline (``value``) or from a source (``valueFrom``)."""
    return obj(
        {
            "value": string("Literal value."),
            "valueFrom": k8s("io.k8s.api.core.v1.EnvVarSource", "Where to read it."),
        },
        desc,
    )


def autoscaler_options(alpha: bool) -> JSON:
    """``spec.autoscalerOptions``: the Ray autoscaler sidecar of the head pod."""
    props: JSON = {
        "resources": k8s("io.k8s.api.core.v1.ResourceRequirements", "Autoscaler container resources."),
        "image": string("Autoscaler container image (defaults to the Ray image)."),
        "imagePullPolicy": string("Pull policy of the autoscaler image."),
        "securityContext": k8s(
            "io.k8s.api.core.v1.SecurityContext", "Autoscaler container security context."
        ),
        "idleTimeoutSeconds": int32("Seconds a worker stays idle before it is removed."),
        "upscalingMode": string("How fast to scale up.", enum=["Default", "Aggressive", "Conservative"]),
        "env": array(k8s("io.k8s.api.core.v1.EnvVar"), "Extra environment of the autoscaler container."),
        "envFrom": array(k8s("io.k8s.api.core.v1.EnvFromSource"), "Environment sources of the autoscaler."),
        "volumeMounts": array(k8s("io.k8s.api.core.v1.VolumeMount"), "Volume mounts of the autoscaler."),
    }
    if not alpha:
        props["version"] = string("Autoscaler generation.", enum=["v1", "v2"])
        props["command"] = array(string(), "Overrides the autoscaler container command.")
        props["args"] = array(string(), "Overrides the autoscaler container args.")
    return obj(props, "Settings of the Ray autoscaler (used when enableInTreeAutoscaling is true).")


def network_rules() -> JSON:
    """Ingress/egress allowances of one group, as NetworkPolicy rules."""
    return obj(
        {
            "ingressRules": array(
                k8s("io.k8s.api.networking.v1.NetworkPolicyIngressRule"), "Allowed ingress."
            ),
            "egressRules": array(k8s("io.k8s.api.networking.v1.NetworkPolicyEgressRule"), "Allowed egress."),
        },
        "Traffic allowed to/from the pods of one group in addition to the defaults.",
    )


def network_policy() -> JSON:
    """``spec.networkPolicy``: NetworkPolicies the operator creates for the cluster."""
    worker_group = network_rules()
    worker_group["properties"]["groupName"] = string("Worker group the rules apply to.")
    worker_group["required"] = ["groupName"]
    return obj(
        {
            "mode": string(
                "Which default-deny policy to create.",
                enum=["DenyAll", "DenyAllIngress", "DenyAllEgress"],
                default="DenyAll",
            ),
            "head": network_rules(),
            "worker": network_rules(),
            "workerGroups": array(
                worker_group,
                "Per-worker-group rules (override `worker`).",
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["groupName"]},
            ),
        },
        "Network isolation of the Ray pods.",
    )


def gcs_fault_tolerance() -> JSON:
    """``spec.gcsFaultToleranceOptions``: external storage of the GCS."""
    return obj(
        {
            "backend": string(
                "Storage backend of the GCS. Cannot be changed.",
                enum=["redis", "rocksdb"],
                **rules(("self == oldSelf", "backend cannot be changed once set")),
            ),
            "redisUsername": env_credential("Redis user name."),
            "redisPassword": env_credential("Redis password."),
            "redisAddress": string("Redis address, host:port."),
            "externalStorageNamespace": string("Namespace of the GCS data in the external storage."),
            "storage": obj(
                {
                    "claimName": string("Existing PersistentVolumeClaim to use."),
                    "storageClassName": string("Storage class of the claim the operator creates."),
                    "size": k8s(QUANTITY, "Size of the claim."),
                    "accessModes": array(string(), "Access modes of the claim."),
                    "subPath": string("Directory inside the volume."),
                    "deletionPolicy": string(
                        "What happens to the claim when the cluster is deleted.",
                        enum=["DeleteWithCluster", "Retain"],
                    ),
                },
                "Persistent volume for the rocksdb backend.",
            ),
        },
        "GCS fault tolerance: keep the head's metadata outside the head pod.",
    )


def head_group(alpha: bool) -> JSON:
    """``spec.headGroupSpec``: the head pod."""
    props: JSON = {
        "serviceType": string("Type of the head Service (ClusterIP, NodePort, LoadBalancer)."),
        "headService": k8s("io.k8s.api.core.v1.Service", "Overrides of the head Service."),
        "enableIngress": boolean("Create an Ingress for the dashboard."),
        "rayStartParams": string_map("Arguments of `ray start` on the head (flag name to value)."),
        "template": k8s(POD_TEMPLATE, "Pod template of the head."),
    }
    if not alpha:
        props["resources"] = string_map("Ray logical resources of the head, overriding rayStartParams.")
        props["labels"] = string_map("Ray node labels of the head.")
        props["ingressOptions"] = obj(
            {
                "host": string("Host of the Ingress rule."),
                "path": string("Path of the Ingress rule."),
                "pathType": string("Path matching.", enum=["Exact", "Prefix", "ImplementationSpecific"]),
                "tls": array(k8s("io.k8s.api.networking.v1.IngressTLS"), "TLS of the Ingress."),
            },
            "Settings of the dashboard Ingress.",
        )
    required = ("rayStartParams", "template") if alpha else ("template",)
    return obj(props, "The head group: one pod running the GCS, dashboard and driver endpoint.", required)


def worker_group(alpha: bool) -> JSON:
    """One ``spec.workerGroupSpecs[]`` entry: a group of identical worker pods."""
    props: JSON = {
        "groupName": string("Name of the group, unique in the cluster."),
        "replicas": int32("Desired number of workers.", default=0),
        "minReplicas": int32("Lower bound for the autoscaler.", default=0),
        "maxReplicas": int32("Upper bound for the autoscaler.", default=2147483647),
        "rayStartParams": string_map("Arguments of `ray start` on the workers."),
        "template": k8s(POD_TEMPLATE, "Pod template of the workers."),
        "scaleStrategy": obj(
            {"workersToDelete": array(string(), "Pod names to remove first when scaling down.")},
            "Hints for scaling down.",
        ),
    }
    required: tuple[str, ...] = ("groupName", "maxReplicas", "minReplicas", "rayStartParams", "template")
    if not alpha:
        props.update(
            {
                "suspend": boolean("Delete the group's pods while keeping its definition."),
                "idleTimeoutSeconds": int32(
                    "Idle time before the autoscaler removes a worker of this group."
                ),
                "numOfHosts": int32("Hosts per replica (multi-host TPU slices).", default=1),
                "priority": int32("Scale-up priority of the group.", default=0),
                "resources": string_map("Ray logical resources of each worker."),
                "labels": string_map("Ray node labels of the workers."),
            }
        )
        required = ("groupName", "maxReplicas", "minReplicas", "template")
    return obj(props, "A group of worker pods.", required)


def ray_cluster_spec(alpha: bool = False) -> JSON:
    """``RayCluster.spec`` (also embedded in RayJob and RayService)."""
    props: JSON = {
        "suspend": boolean("Delete all pods while keeping the cluster."),
        "rayVersion": string("Ray version used in the images."),
        "enableInTreeAutoscaling": boolean("Run the Ray autoscaler sidecar in the head pod."),
        "autoscalerOptions": autoscaler_options(alpha),
        "headServiceAnnotations": string_map("Annotations of the head Service."),
        "headGroupSpec": head_group(alpha),
        "workerGroupSpecs": array(worker_group(alpha), "Worker groups."),
    }
    if not alpha:
        props.update(
            {
                "managedBy": managed_by(),
                "upgradeStrategy": obj(
                    {"type": string("What to do when the pod templates change.", enum=["Recreate", "None"])},
                    "How pods are replaced when the spec changes.",
                ),
                "authOptions": obj(
                    {
                        "mode": string("Authentication of Ray clients.", enum=["disabled", "token"]),
                        "enableK8sTokenAuth": boolean("Accept Kubernetes service-account tokens."),
                        "secretName": string("Secret holding the token."),
                    },
                    "Authentication of the Ray cluster.",
                ),
                "gcsFaultToleranceOptions": gcs_fault_tolerance(),
                "networkPolicy": network_policy(),
                "tlsOptions": obj({"enabled": boolean("Enable TLS between Ray components.")}, "TLS of Ray."),
                "historyServerOptions": obj(
                    {
                        "collectorOptions": obj(
                            {
                                "image": string("Collector image."),
                                "imagePullPolicy": string("Pull policy of the collector image."),
                                "env": array(k8s("io.k8s.api.core.v1.EnvVar"), "Collector environment."),
                                "resources": k8s(
                                    "io.k8s.api.core.v1.ResourceRequirements", "Collector resources."
                                ),
                            },
                            "Log/event collector sidecar.",
                        )
                    },
                    "Ray history server integration.",
                ),
            }
        )
    return obj(props, "Desired state of a Ray cluster.", ("headGroupSpec",))


def quantity_status(desc: str) -> JSON:
    """A resource total in the status (a Quantity)."""
    return k8s(QUANTITY, desc)


def ray_cluster_status(alpha: bool = False) -> JSON:
    """``RayCluster.status`` (also embedded in RayJob and RayService status)."""
    props: JSON = {
        "state": string("Overall state (ready, suspended...)."),
        "reason": string("Why the cluster is in its state."),
        "desiredCPU": quantity_status("Total CPU requested by all pods."),
        "desiredMemory": quantity_status("Total memory requested by all pods."),
        "desiredGPU": quantity_status("Total GPUs requested by all pods."),
        "desiredTPU": quantity_status("Total TPUs requested by all pods."),
        "availableWorkerReplicas": int32("Workers that are running."),
        "readyWorkerReplicas": int32("Workers that are ready."),
        "desiredWorkerReplicas": int32("Workers wanted."),
        "minWorkerReplicas": int32("Sum of minReplicas."),
        "maxWorkerReplicas": int32("Sum of maxReplicas."),
        "endpoints": string_map("Named ports of the head Service."),
        "head": obj(
            {"podIP": string("Head pod IP."), "serviceIP": string("Head Service IP.")}
            | (
                {} if alpha else {"podName": string("Head pod name."), "serviceName": string("Head Service.")}
            ),
            "Where the head runs.",
        ),
        "lastUpdateTime": time("Last status update.", nullable=True),
        "observedGeneration": int64("Generation this status describes."),
    }
    if not alpha:
        props["conditions"] = array(
            k8s("io.k8s.apimachinery.pkg.apis.meta.v1.Condition"),
            "Conditions of the cluster.",
            **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        )
        props["stateTransitionTimes"] = {
            "type": "object",
            "additionalProperties": time(),
            "description": "When each state was entered.",
        }
    return obj(props, "Observed state of a Ray cluster.")


def deletion_strategy() -> JSON:
    """``RayJob.spec.deletionStrategy``: what to delete when the job ends."""
    policy = string("What to delete.", enum=DELETION_POLICIES)
    condition = obj(
        {
            "jobStatus": string("Ray job status that triggers the rule.", enum=["SUCCEEDED", "FAILED"]),
            "jobDeploymentStatus": string("Deployment status that triggers the rule.", enum=["Failed"]),
            "ttlSeconds": int32("Delay after the trigger.", default=0, minimum=0),
        },
        "When the rule fires: exactly one of jobStatus and jobDeploymentStatus.",
        **rules(
            (
                "!(has(self.jobStatus) && has(self.jobDeploymentStatus))",
                "set only one of jobStatus and jobDeploymentStatus",
            ),
            (
                "has(self.jobStatus) || has(self.jobDeploymentStatus)",
                "set one of jobStatus and jobDeploymentStatus",
            ),
        ),
    )
    return obj(
        {
            "onSuccess": obj({"policy": policy}, "Legacy: what to delete after success."),
            "onFailure": obj({"policy": policy}, "Legacy: what to delete after failure."),
            "deletionRules": array(
                obj(
                    {"policy": policy, "condition": condition}, "One deletion rule.", ("condition", "policy")
                ),
                "Ordered deletion rules.",
                minItems=1,
                **{"x-kubernetes-list-type": "atomic"},
            ),
        },
        "Deletion of the cluster and job after the job ends: onSuccess and onFailure, or deletionRules.",
        **rules(
            (
                "!((has(self.onSuccess) || has(self.onFailure)) && has(self.deletionRules))",
                "use either onSuccess/onFailure or deletionRules, not both",
            ),
            (
                "((has(self.onSuccess) && has(self.onFailure)) || has(self.deletionRules))",
                "set both onSuccess and onFailure, or deletionRules",
            ),
        ),
    )


def ray_job_spec(alpha: bool = False) -> JSON:
    """``RayJob.spec`` (also RayCronJob ``spec.jobTemplate``)."""
    props: JSON = {
        "entrypoint": string("Command that starts the Ray job."),
        "metadata": string_map("Metadata attached to the Ray job submission."),
        "runtimeEnvYAML": string("Ray runtime environment, as YAML."),
        "jobId": string("Ray job submission id (generated when empty)."),
        "shutdownAfterJobFinishes": boolean("Delete the cluster when the job ends."),
        "ttlSecondsAfterFinished": int32("Delay before the cleanup after the job ends.", default=0),
        "rayClusterSpec": ray_cluster_spec(alpha),
        "clusterSelector": string_map("Labels of an existing RayCluster to run on instead of creating one."),
        "submitterPodTemplate": k8s(POD_TEMPLATE, "Pod template of the submitter Job."),
        "entrypointNumCpus": number("CPUs reserved for the entrypoint."),
        "entrypointNumGpus": number("GPUs reserved for the entrypoint."),
        "entrypointResources": string("Custom resources reserved for the entrypoint, as JSON."),
        "suspend": boolean("Stop the job and delete its cluster."),
    }
    if not alpha:
        props.update(
            {
                "activeDeadlineSeconds": int32("Deadline of the whole job."),
                "backoffLimit": int32("Retries of the job.", default=0),
                "preRunningDeadlineSeconds": int32("Deadline for reaching Running.", minimum=1),
                "submissionMode": string(
                    "How the job is submitted (K8sJobMode, HTTPMode, InteractiveMode, SidecarMode).",
                    default="K8sJobMode",
                ),
                "submitterConfig": obj(
                    {"backoffLimit": int32("Retries of the submitter Job.")}, "Submitter settings."
                ),
                "managedBy": managed_by(),
                "deletionStrategy": deletion_strategy(),
            }
        )
    return obj(props, "Desired state of a Ray job.", ("entrypoint",) if alpha else ())


def ray_job_status(alpha: bool = False) -> JSON:
    """``RayJob.status``."""
    props: JSON = {
        "jobId": string("Ray job submission id."),
        "rayClusterName": string("Cluster the job runs on."),
        "dashboardURL": string("Dashboard address."),
        "jobStatus": string("Ray job status (PENDING, RUNNING, SUCCEEDED...)."),
        "jobDeploymentStatus": string("Deployment status (Initializing, Running, Complete...)."),
        "message": string("Human-readable detail."),
        "startTime": time("When the job started."),
        "endTime": time("When the job ended."),
        "rayClusterStatus": ray_cluster_status(alpha),
        "observedGeneration": int64("Generation this status describes."),
    }
    if not alpha:
        props.update(
            {
                "reason": string("Why the job is in its state."),
                "succeeded": int32("Successful attempts.", default=0),
                "failed": int32("Failed attempts.", default=0),
                "jobStatusCheckFailureStartTime": time("Since when the job status cannot be read."),
                "rayJobInfo": obj({"startTime": time(), "endTime": time()}, "Times reported by Ray."),
            }
        )
    return obj(props, "Observed state of a Ray job.")


def serve_status() -> JSON:
    """Status of the Serve applications on one cluster of a RayService."""
    deployment = obj({"status": string(), "message": string()}, "One Serve deployment.")
    application = obj(
        {
            "status": string(),
            "message": string(),
            "serveDeploymentStatuses": {"type": "object", "additionalProperties": deployment},
        },
        "One Serve application.",
    )
    return obj(
        {
            "applicationStatuses": {"type": "object", "additionalProperties": application},
            "rayClusterName": string("Cluster name."),
            "rayClusterStatus": ray_cluster_status(),
            "targetCapacity": int32("Share of capacity targeted during an upgrade, in percent."),
            "trafficRoutedPercent": int32("Share of traffic routed, in percent."),
            "lastTrafficMigratedTime": time("Last traffic shift."),
        },
        "Serve status of one cluster.",
    )


def ray_service_spec(alpha: bool = False) -> JSON:
    """``RayService.spec``."""
    props: JSON = {
        "serveConfigV2": string("Ray Serve config (multi-application), as YAML."),
        "rayClusterConfig": ray_cluster_spec(alpha),
        "serveService": k8s("io.k8s.api.core.v1.Service", "Overrides of the Serve Service."),
        "serviceUnhealthySecondThreshold": int32("Deprecated."),
        "deploymentUnhealthySecondThreshold": int32("Deprecated."),
    }
    if not alpha:
        props.update(
            {
                "managedBy": managed_by(),
                "suspend": boolean("Delete the clusters while keeping the service."),
                "excludeHeadPodFromServeSvc": boolean("Do not route Serve traffic to the head."),
                "rayClusterDeletionDelaySeconds": int32("Delay before an old cluster is deleted.", minimum=0),
                "upgradeStrategy": obj(
                    {
                        "type": string("NewCluster, NewClusterWithIncrementalUpgrade or None."),
                        "clusterUpgradeOptions": obj(
                            {
                                "gatewayClassName": string("Gateway class for traffic splitting."),
                                "intervalSeconds": int32("Seconds between traffic steps."),
                                "stepSizePercent": int32("Traffic moved per step, in percent."),
                                "maxSurgePercent": int32(
                                    "Extra capacity during the upgrade, in percent.", default=100
                                ),
                            },
                            "Incremental upgrade settings.",
                            ("gatewayClassName", "intervalSeconds", "stepSizePercent"),
                        ),
                    },
                    "How a new cluster replaces the old one.",
                ),
            }
        )
    return obj(props, "Desired state of a Ray service.", () if alpha else ("rayClusterConfig",))


def ray_service_status(alpha: bool = False) -> JSON:
    """``RayService.status``."""
    props: JSON = {
        "activeServiceStatus": serve_status(),
        "pendingServiceStatus": serve_status(),
        "serviceStatus": string("Overall status."),
        "observedGeneration": int64("Generation this status describes."),
        "lastUpdateTime": time("Last status update."),
    }
    if not alpha:
        props["numServeEndpoints"] = int32("Pods serving traffic.")
        props["conditions"] = array(
            k8s("io.k8s.apimachinery.pkg.apis.meta.v1.Condition"),
            "Conditions of the service.",
            **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        )
    return obj(props, "Observed state of a Ray service.")


def ray_cron_job_spec() -> JSON:
    """``RayCronJob.spec``."""
    return obj(
        {
            "schedule": string("Cron schedule."),
            "timeZone": string("IANA time zone of the schedule.", minLength=1),
            "suspend": boolean("Stop creating RayJobs."),
            "jobTemplate": ray_job_spec(),
        },
        "Desired state of a Ray cron job.",
        ("jobTemplate", "schedule"),
    )


def ray_cron_job_status() -> JSON:
    """``RayCronJob.status``."""
    return obj(
        {"lastScheduleTime": time("When a RayJob was last created.")}, "Observed state of a Ray cron job."
    )


def root(kind: str, spec: JSON, status: JSON) -> JSON:
    """The ``openAPIV3Schema`` of a kind: apiVersion, kind, metadata, spec, status."""
    return obj(
        {
            "apiVersion": string("Versioned schema of this object."),
            "kind": string("Kind of this object."),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        f"{kind} of the ray.io API.",
    )
