"""The operator-fidelity comparison's own logic, without the operator: the race filter, the name
normalisation, the field comparison and that the KNOWN_OPERATOR patterns are pinned (they accept
the recorded version difference and nothing else). Runs in ``make test`` (KUBERAY_CONTRACT=1)."""

from __future__ import annotations

import json
import re

from tests.contract.known_divergences import KNOWN_OPERATOR
from tests.contract.operator_fidelity import _names, compare, normalise, without_races

PROV = "RayClusterProvisioned=False/RayClusterPodsProvisioning"


def test_without_races_drops_only_the_racy_states() -> None:
    """The three racy transients go; a state the operator decides on its own stays."""
    cluster = [
        "None | ",
        f"None | HeadPodReady=False/Unknown, {PROV}",
        f"None | HeadPodReady=False/ContainerCreating, {PROV}",
        f"None | HeadPodReady=True/HeadPodRunningAndReady, {PROV}",
        "ready | HeadPodReady=True/HeadPodRunningAndReady",
    ]
    assert without_races(cluster) == [cluster[0], cluster[2], cluster[4]]
    # Unknown not followed by another HeadPodReady=False state is what the operator wrote: kept
    assert without_races(["None | ", f"None | HeadPodReady=False/Unknown, {PROV}"])[1].startswith(
        "None | Head"
    )
    job = ["Initializing/None", "Running/RUNNING", "Running/SUCCEEDED", "Complete/SUCCEEDED"]
    assert without_races(job) == ["Initializing/None", "Running/RUNNING", "Complete/SUCCEEDED"]
    stuck = ["Running/RUNNING", "Running/SUCCEEDED"]  # never completes: not a race, kept
    assert without_races(stuck) == stuck


def test_names_and_values_normalised() -> None:
    """Random suffixes, the RayJob's cluster name, job id, namespace, IPs, times and uids."""
    norm = _names("opfid-1a2b3c", "rj", "rj-x7k2m9q", "rj-b8c9d")
    assert norm("rj-b8c9d-head-zzq4t") == "<rayjob>-<rand>-head-<rand5>"
    assert norm("ray job logs rj-x7k2m9q -n opfid-1a2b3c") == "ray job logs <jobId> -n <ns>"
    assert norm("workergroup") == "workergroup"
    value = {"ip": "10.0.0.7", "t": "2026-01-01T00:00:00Z", "uid": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    assert normalise(value, norm) == {"ip": "<ip>", "t": "<ts>", "uid": "<uid>"}


def test_compare_lists_each_differing_field() -> None:
    """Differing and one-sided fields are reported with both values; the count is the union."""
    diffs, total = compare({"a": 1, "b": [1], "c": "x"}, {"a": 1, "b": [2], "d": None})
    assert total == 4
    assert diffs == [
        "b: real [1] vs simulated [2]",
        'c: real "x" vs simulated <absent>',
        "d: real <absent> vs simulated null",
    ]


def _known(sample: str, line: str) -> bool:
    return any(re.search(k[1], line) for k in KNOWN_OPERATOR if k[0] == sample)


def test_known_patterns_are_pinned() -> None:
    """Each KNOWN_OPERATOR pattern accepts the recorded difference, not a variation of it."""
    real_env = ["RAY_ADDRESS", "RAY_CLUSTER_NAME", "RAY_PORT"]
    sim_env = ["RAY_ADDRESS", "RAY_CLUSTER_NAME", "RAY_CLUSTER_NAMESPACE", "RAY_PORT"]
    line = "pods[head/headgroup].containers.ray-head.env: real {} vs simulated {}"
    assert _known("raycluster", line.format(json.dumps(real_env), json.dumps(sim_env)))
    assert not _known("raycluster", line.format(json.dumps(real_env[:-1]), json.dumps(sim_env)))
    args = (
        'pods[worker/workergroup].containers.ray-worker.args: real ["ulimit -n 65536; ray start  '
        '--address=h:6379  --block "] vs simulated ["ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; '
        'ray start --address=h:6379  --block "]'
    )
    assert _known("raycluster", args)
    assert not _known("raycluster", args.replace('--block "]', '--block --num-cpus=2 "]', 1))
    label = 'raycluster.metadata.labels.ray.io/job-submission-mode: real <absent> vs simulated "K8sJobMode"'
    assert _known("rayjob", label) and not _known("raycluster", label)
    assert not _known("rayjob", label.replace("K8sJobMode", "HTTPMode"))
