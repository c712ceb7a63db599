"""Fidelity of fakekube's simulated KubeRay operator against the real one (issue 15, "Fidelity").

The real KubeRay operator (``github.com/ray-project/kuberay/ray-operator`` v1.5.0, built by
``infra/kuberay-operator/build.sh`` as a Go module dependency; its RayCluster and RayJob
reconcilers, a harness marking its Pods Running/Ready and its submitter Jobs Complete, a fake Ray
dashboard) runs against refkube; fakekube runs with ``--simulate-operator``. The same samples
(``../shared/kuberay/samples/ray-cluster.sample.yaml``, ``ray-job.sample.yaml``, the latter also
with its Ray job scripted to fail) go to both, and
:mod:`tests.contract.operator_fidelity` records status transitions and created objects as fields.
Every differing field must match a :data:`KNOWN_OPERATOR` entry (a reason) or the test fails; an
entry that matches nothing fails too ("remove it"), so the list cannot go stale — except an
entry for a race (reason ``race: ...``), which matches only when the race went one way.

Runs only with ``KUBERAY_OPERATOR_FIDELITY=1`` (``make operator-fidelity``), never in
``make test``: a cold build of the operator takes longer than that target's budget. With the
variable set, a failed build is a failure, never a skip. The summary line
``operator fidelity: N/M fields agree`` is printed at the end of the session.

Timelines are made equal on both sides: Pods Running/Ready 1 s after creation (fakekube's
``pod_start_delay``; ``--pod-ready-delay``), Ray jobs PENDING 1 s then RUNNING 3 s then SUCCEEDED
(``job_start_delay``/``job_duration``; ``--job-pending``/``--job-running``), submitter Job
Complete 0.5 s after its Ray job ended (``submitter_exit_delay``; ``--submitter-exit-delay``).
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.client import RefKube, Target
from tests.contract.known_divergences import KNOWN_OPERATOR
from tests.contract.operator_fidelity import compare, observe
from tests.contract.results import RESULTS
from tests.procs import free_port, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
OPERATOR_DIR = REPO / "infra" / "kuberay-operator"
ENABLE_ENV = "KUBERAY_OPERATOR_FIDELITY"
# case -> (sample file, annotations added to it). The outcome annotation scripts the Ray job's end
# on both sides (fakekube's simulation; infra/kuberay-operator's fake dashboard reads it from the
# RayCluster, to which the operator copies the RayJob's annotations).
CASES = {
    "raycluster": ("ray-cluster.sample.yaml", {}),
    "rayjob": ("ray-job.sample.yaml", {}),
    "rayjob-failed": ("ray-job.sample.yaml", {"fakekube.kuberay.io/simulate-outcome": "FAILED"}),
}


@pytest.fixture(scope="session")
def kuberay_operator(refkube: RefKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real KubeRay operator (infra/kuberay-operator) running against refkube; yields its log."""
    p = subprocess.run([str(OPERATOR_DIR / "build.sh")], capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        pytest.fail(f"infra/kuberay-operator cannot be built:\n{(p.stdout + p.stderr)[-3000:]}")
    log = tmp_path_factory.mktemp("kuberay-operator") / "operator.log"
    argv = [
        str(OPERATOR_DIR / "bin" / "kuberay-operator"),
        f"--kubeconfig={refkube.kubeconfig}",
        "--pod-ready-delay=1s",
        "--job-pending=1s",
        "--job-running=3s",
        "--submitter-exit-delay=500ms",
    ]
    with log.open("w") as logf:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=logf, bufsize=0)
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
        deadline, buf = time.monotonic() + 120, b""
        while b"kuberay-operator: started" not in buf:
            if time.monotonic() > deadline or proc.poll() is not None:
                tail = log.read_text()[-3000:]
                pytest.fail(f"kuberay-operator did not start (exit {proc.poll()}):\n{tail}")
            if sel.select(timeout=0.5):
                buf += os.read(proc.stdout.fileno(), 4096)
        RESULTS.notes.append(buf.decode().strip().splitlines()[-1])
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def fakekube_simulated() -> Iterator[Target]:
    """``fakekube serve --simulate-operator`` (default timelines, see the module docstring)."""
    port = free_port()
    proc = start_server(
        ["fakekube", "serve", "--host", "127.0.0.1", "--port", str(port), "--simulate-operator"], port
    )
    try:
        yield Target("fakekube-simulated", f"http://127.0.0.1:{port}")
    finally:
        stop_server(proc)


def _sample(kuberay_dir: Path, name: str) -> Any:
    file, annotations = CASES[name]
    docs = yaml.safe_load_all((kuberay_dir / "samples" / file).read_text())
    manifest = next(d for d in docs if d and d.get("kind") in ("RayCluster", "RayJob"))
    manifest["metadata"].setdefault("annotations", {}).update(annotations)
    return manifest


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_fidelity(
    name: str,
    kuberay_dir: Path,
    refkube: RefKube,
    kuberay_operator: Path,
    fakekube_simulated: Target,
) -> None:
    """The simulated operator's status transitions and objects equal the real operator's, field by
    field, except the differences listed (with reasons) in ``KNOWN_OPERATOR``."""
    manifest = _sample(kuberay_dir, name)
    try:
        real = observe(refkube.target, manifest)
    except TimeoutError as e:
        pytest.fail(f"{e}\noperator log:\n{kuberay_operator.read_text()[-4000:]}")
    simulated = observe(fakekube_simulated, manifest)
    diffs, total = compare(real, simulated)
    known = {k: v for k, v in KNOWN_OPERATOR.items() if k[0] == name}
    used: set[tuple[str, str]] = set()
    unexplained = []
    for d in diffs:
        hit = next((k for k in known if re.search(k[1], d)), None)
        if hit is None:
            unexplained.append(d)
        else:
            used.add(hit)
    RESULTS.operator_fidelity.append((name, total - len(diffs), total, diffs, unexplained))
    # an entry for a race may match nothing when the race went the other way
    stale = sorted(k[1] for k in set(known) - used if not known[k].startswith("race:"))
    problems = [f"NEW  {d}" for d in unexplained] + [f"STALE KNOWN entry (remove it): {p}" for p in stale]
    assert not problems, f"{name}: {len(diffs)}/{total} fields differ\n" + "\n".join(problems)
