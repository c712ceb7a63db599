"""Divergences from the real kube-apiserver that are known, each with the reason it is accepted.

Keys are ``(scenario, target)``. Each entry pins its divergence: a listed comparison is an
expected failure only while every one of its differences matches one of the entry's
``differences`` patterns (``re.search`` on the lines ``normalise.diff_transcripts``
gives); any other difference fails the test as a new divergence, and a listed comparison that
agrees fails too ("remove it from KNOWN"), so this list can neither hide a new bug nor go stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    """Why a divergence is accepted, and regexes that every one of its differences must match."""

    reason: str
    differences: tuple[str, ...]

    def unexplained(self, diffs: list[str]) -> list[str]:
        """The differences in ``diffs`` that none of ``self.differences`` matches."""
        return [d for d in diffs if not any(re.search(p, d) for p in self.differences)]


_GATEWAY_FIELDS = Known(
    "by design (README 'Field selectors on any field'): the gateway evaluates fieldSelector terms "
    "on its allowlisted fields (status.state, spec.rayVersion, ...) itself and answers 200 with "
    "the matching objects, where an API server answers 400 'field label not supported'",
    (
        r"fieldSelector=(spec\.rayVersion|status\.state)",
        r"^assertion failed on gateway-[a-z]+: \{'spec\.rayVersion=2\.52\.0': 200",
    ),
)
_GATEWAY_DISCOVERY = Known(
    "by design (README, allowlist): the gateway serves only ray.io/v1, so /apis and the OpenAPI "
    "v3 index list no ray.io/v1alpha1, which the official CRDs also serve",
    (r"NOTE (ray\.io group|openapi v3 ray\.io paths): .*v1alpha1",),
)
KNOWN: dict[tuple[str, str], Known] = {
    ("field_selector_ray_fields", "gateway-refkube"): _GATEWAY_FIELDS,
    ("field_selector_ray_fields", "gateway-fakekube"): _GATEWAY_FIELDS,
    ("discovery_groups", "gateway-refkube"): _GATEWAY_DISCOVERY,
    ("discovery_groups", "gateway-fakekube"): _GATEWAY_DISCOVERY,
}

# test_operator_fidelity: differences between the real KubeRay operator (v1.5.0, the newest the Go
# module proxy serves, on refkube, with infra/kuberay-operator's harness) and fakekube's simulated
# operator. Keys are (sample, regex that must match the whole "path: real X vs simulated Y" line);
# the value is why the difference is accepted. An entry that matches no difference fails the test
# (remove it). Every entry below is a version difference: the simulation follows ray-project/kuberay
# at feeaf72 (2026-08-19, the commit ../shared/kuberay comes from), which is newer than v1.5.0;
# each reason cites the feeaf72 source that makes the simulated value right for that commit.
_V = "version (simulation follows kuberay feeaf72, the operator here is v1.5.0): "
_ULIMIT = (
    _V
    + "feeaf72 common/pod.go:888 starts the command with `ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}` "
    "(v1.5.0: `ulimit -n 65536`) and joins `ray start` and its parameters with one space, not two"
)
_ARGS_HEAD = (
    r"^pods\[head/headgroup\]\.containers\.ray-head\.args: "
    r"real \[\"ulimit -n 65536; ray start --head  --block  (.*)\"\] vs simulated "
    r"\[\"ulimit -n \$\{RAY_START_ULIMIT_OPEN_FILES:-65536\}; ray start --head --block  \1\"\]$"
)
_ARGS_WORKER = (
    r"^pods\[worker/[a-z-]+\]\.containers\.ray-worker\.args: "
    r"real \[\"ulimit -n 65536; ray start  --address=(.*)\"\] vs simulated "
    r"\[\"ulimit -n \$\{RAY_START_ULIMIT_OPEN_FILES:-65536\}; ray start --address=\1\"\]$"
)
_ENV = (
    _V + "feeaf72 common/pod.go:1244 gives every Ray container RAY_CLUSTER_NAMESPACE "
    "(fieldRef metadata.namespace)"
)
_ENV_RE = (
    r"^pods\[[a-z]+/[a-z-]+\]\.containers\.ray-(head|worker)\.env: "
    r"real \[(.*)\"RAY_CLUSTER_NAME\", (.*)\] vs simulated "
    r"\[\2\"RAY_CLUSTER_NAME\", \"RAY_CLUSTER_NAMESPACE\", \3\]$"
)
_REPLICA_INDEX = (
    _V + "feature gate RayMultiHostIndexing is Beta, default on, in feeaf72 (pkg/features/features.go:108; "
    "Alpha, off in v1.5.0), so common/pod.go:676 labels each worker ray.io/worker-group-replica-index"
)
_HEAD_ANNOTATIONS = (
    _V + "feeaf72 raycluster_controller.go:1644 createHeadPod annotates the head Pod with "
    "ray.io/upgrade-strategy-recreate-hash and ray.io/kuberay-version (upgradeStrategy, not in v1.5.0)"
)
_HEAD_READY_REASON = (
    _V + "feeaf72 utils/util.go:112 FindHeadPodReadyCondition replaces the PodReady reason "
    "ContainersNotReady with the first not-ready container's waiting reason (ContainerCreating); "
    "v1.5.0 keeps ContainersNotReady"
)
_TRANSITIONS_RE = (
    r"^raycluster\.transitions: "
    r"real \[\"None \| \", \"None \| HeadPodReady=False/ContainersNotReady, (.*)\", \"(ready \| .*)\"\] "
    r"vs simulated "
    r"\[\"None \| \", \"None \| HeadPodReady=False/ContainerCreating, \1\", \"\2\"\]$"
)
KNOWN_OPERATOR: dict[tuple[str, str], str] = {}
for _sample, _group in (
    ("raycluster", "workergroup"),
    ("rayjob", "small-group"),
    ("rayjob-failed", "small-group"),
):
    KNOWN_OPERATOR |= {
        (_sample, _ARGS_HEAD): _ULIMIT,
        (_sample, _ARGS_WORKER): _ULIMIT,
        (_sample, _ENV_RE): _ENV,
        (
            _sample,
            rf"^pods\[worker/{_group}\]\.labels\.ray\.io/worker-group-replica-index: "
            r"real <absent> vs simulated \"0\"$",
        ): _REPLICA_INDEX,
        (
            _sample,
            r"^pods\[head/headgroup\]\.annotationKeys: real \[\"ray\.io/ft-enabled\"\] vs simulated "
            r"\[\"ray\.io/ft-enabled\", \"ray\.io/kuberay-version\", "
            r"\"ray\.io/upgrade-strategy-recreate-hash\"\]$",
        ): _HEAD_ANNOTATIONS,
        (_sample, _TRANSITIONS_RE): _HEAD_READY_REASON,
    }
for _sample in ("rayjob", "rayjob-failed"):
    KNOWN_OPERATOR |= {
        (
            _sample,
            r"^raycluster\.metadata\.labels\.ray\.io/job-submission-mode: "
            r"real <absent> vs simulated \"K8sJobMode\"$",
        ): _V + "feeaf72 rayjob_controller.go:1002 constructRayClusterForRayJob labels the RayCluster "
        "ray.io/job-submission-mode (for its NetworkPolicy controller)",
        (
            _sample,
            r"^jobs\[rayjob-sample\]\.podLabels\.(app\.kubernetes\.io/created-by|ray\.io/originated-from-cr-name|"
            r"ray\.io/originated-from-crd): real <absent> vs simulated \"[A-Za-z-]+\"$",
        ): _V + "feeaf72 rayjob_controller.go:602 getSubmitterTemplate labels the submitter Pod template "
        "ray.io/originated-from-cr-name, ray.io/originated-from-crd and app.kubernetes.io/created-by",
    }

# A race, not a decision (entries whose reason starts with "race:" may match nothing in a run, so
# they are exempt from the stale check): when the Ray job FAILED, the submitter Job fails 0.5 s
# later (both sides: its `ray job logs --follow` ends); the real operator learns of it at once (it
# watches Jobs) but polls the dashboard only every 3 s (RayJobDefaultRequeueDuration), so it usually
# sees the submitter's failure first: checkSubmitterAndUpdateStatusIfNeeded (rayjob_controller.go)
# sets Failed/SubmissionFailed with the Job's message while jobStatus is still RUNNING. The
# simulation checks the dashboard at the Ray job's end (a timer), so it always sees FAILED first
# and writes Failed/AppFailed. The simulation shows the less likely of the two real outcomes.
_RACE = (
    "race: the submitter Job's failure reached the real operator before its next dashboard poll "
    "(every 3 s) saw the Ray job FAILED; the simulation checks the dashboard at the job's end"
)
KNOWN_OPERATOR |= {
    ("rayjob-failed", r'^rayjob\.status\.jobStatus: real "RUNNING" vs simulated "FAILED"$'): _RACE,
    ("rayjob-failed", r'^rayjob\.status\.reason: real "SubmissionFailed" vs simulated "AppFailed"$'): _RACE,
    ("rayjob-failed", r'^rayjob\.status\.rayJobInfo\.endTime: real <absent> vs simulated "<ts>"$'): _RACE,
    (
        "rayjob-failed",
        r'^rayjob\.status\.message: real "Job submission has failed\. Reason: BackoffLimitExceeded\. '
        r'Message: Job has reached the specified backoff limit" vs simulated "Job entrypoint command failed '
        r"with exit code 1, ",
    ): _RACE,
    (
        "rayjob-failed",
        r'^rayjob\.transitions: real \[(.*), "Running/RUNNING", "Failed/RUNNING"\] '
        r'vs simulated \[\1, "Running/RUNNING", "Failed/FAILED"\]$',
    ): _RACE,
}
