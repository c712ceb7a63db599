"""Contract-suite fixtures: the reference kube-apiserver (refkube), the targets, the summary.

Gating: these tests need a real Kubernetes API server built from Go sources (minutes on a cold
machine), so they run only when ``KUBERAY_CONTRACT=1`` is set — ``make test`` and
``make conformance`` set it. Otherwise they are deselected (reported by pytest as deselected, not
skipped or passed). When they run, they run after every other test (see
``pytest_collection_modifyitems``).

refkube: ``infra/refkube/build.sh`` builds (or reuses) the binary; the session fixture starts it
with the official KubeRay CRDs from ``../shared/kuberay/crds`` and stops it at the end. When it
cannot be built the refkube targets skip — unless ``CI`` is set, where that is a failure (and
``make test`` fails on a failed build in any case).

Summary: every comparison of a target's normalised transcript with refkube's is recorded in
``tests.contract.results.RESULTS``; at the end the terminal summary prints
``conformance: N/M scenarios agree`` and the divergences; every difference of every divergence
goes to ``build/conformance-divergences.txt`` (gitignored).
"""

from __future__ import annotations

import base64
import os
import selectors
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.contract.client import RefKube, Target
from tests.contract.identities import apply_rbac, write_token_auth_file
from tests.contract.results import RESULTS, Comparison
from tests.contract.targets import (
    AUDIT_LOGS,
    fakekube_auth,
    fakekube_target,
    gateway_fakekube_target,
    gateway_refkube_target,
)

# Scenarios are plain modules (imported later by the tests): rewrite their asserts so that a bare
# ``assert`` explains itself in the divergence list.
pytest.register_assert_rewrite("tests.contract.scenarios", "tests.contract.normalise")

REPO = Path(__file__).resolve().parents[2]
REFKUBE_DIR = REPO / "infra" / "refkube"
ENABLE_ENV = "KUBERAY_CONTRACT"
HERE = Path(__file__).resolve().parent
# Session fixtures defined beside the targets they build; re-exported so pytest finds them.
__all__ = ["fakekube_auth", "fakekube_target", "gateway_fakekube_target", "gateway_refkube_target"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "contract: contract test against real/fake API servers (KUBERAY_CONTRACT=1)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect this directory's tests unless KUBERAY_CONTRACT=1 (see module docstring).

    When they run, tests that need refkube (this directory's and any ``test_*refkube*.py``
    module) go last, in their collected order: ``make test`` builds refkube in the background
    while the other tests run, and the first of these waits for that build (``build.sh`` locks).
    """
    mine = [i for i in items if HERE in Path(str(i.path)).resolve().parents]
    for item in mine:
        item.add_marker(pytest.mark.contract)
    if os.environ.get(ENABLE_ENV) == "1":
        late = {id(i) for i in mine} | {id(i) for i in items if "refkube" in Path(str(i.path)).name}
        items[:] = [i for i in items if id(i) not in late] + [i for i in items if id(i) in late]
        return
    if not mine:
        return
    mine_ids = {id(i) for i in mine}
    keep = [i for i in items if id(i) not in mine_ids]
    config.hook.pytest_deselected(items=mine)
    items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the conformance figure and the list of divergences."""
    if not RESULTS.comparisons:
        return
    for line in RESULTS.summary_lines():
        terminalreporter.write_line(line)
    full = REPO / "build" / "conformance-divergences.txt"
    full.parent.mkdir(exist_ok=True)
    full.write_text(RESULTS.full_report())
    terminalreporter.write_line(f"all differences of every divergence: {full.relative_to(REPO)}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each differential property test (one per target) as one comparison in the summary."""
    if report.when != "call" or "test_differential[" not in report.nodeid:
        return
    target = report.nodeid.rsplit("[", 1)[1].rstrip("]")
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    # the assertion message: the shrunk program, then one line per difference
    lines = [line.strip() for line in message.splitlines()] or [f"{report.outcome} without a message"]
    diffs = [] if report.passed else [lines[0][:300], *(x[:300] for x in lines if x.startswith("step "))]
    RESULTS.add(Comparison("differential", target, diffs))


def build_refkube() -> tuple[bool, str]:
    """Run infra/refkube/build.sh (cached; a cold build takes minutes); return (ok, output)."""
    try:
        p = subprocess.run([str(REFKUBE_DIR / "build.sh")], capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return p.returncode == 0, p.stdout + p.stderr


def _read_ready(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    """Read refkube's ``refkube: key=value ...`` stdout lines until url and proxy are known."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    info: dict[str, str] = {}
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while not ("url" in info and "proxy" in info):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"refkube not ready (exit {proc.poll()}), got {info}")
        if not sel.select(timeout=0.5):
            continue
        buf += os.read(fd, 4096)  # unbuffered: a buffered reader would hide lines from select()
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"refkube:"):
                for kv in line.decode().split()[1:]:
                    key, _, value = kv.partition("=")
                    info[key] = value
    return info


@pytest.fixture(scope="session")
def refkube(kuberay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefKube]:
    """A real kube-apiserver with the KubeRay CRDs, for the whole session.

    It runs RBAC authorization without anonymous access, with the test identities of
    ``tests.contract.identities`` in its token file and their RBAC objects applied (namespace
    ``team-a`` included); the target's own token is admin's (system:masters). Its audit log
    (every request at Metadata level) is ``RefKube.audit_log``."""
    ok, out = build_refkube()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"refkube cannot be built (CI is set):\n{out[-3000:]}")
        pytest.skip(f"refkube cannot be built here:\n{out[-1000:]}")
    d = tmp_path_factory.mktemp("refkube")
    kubeconfig, log = d / "kubeconfig", d / "refkube.log"
    tokens = write_token_auth_file(d / "identities.csv")
    t0 = time.monotonic()
    with log.open("w") as logf:
        proc = subprocess.Popen(
            [
                str(REFKUBE_DIR / "bin" / "refkube"),
                "--crd",
                str(kuberay_dir / "crds"),
                "--port",
                "0",
                "--proxy-port",
                "0",
                "--kubeconfig",
                str(kubeconfig),
                "--token-auth-file",
                str(tokens),
                "--audit-log-path",
                str(d / "audit.log"),
            ],
            stdout=subprocess.PIPE,
            stderr=logf,
            bufsize=0,
        )
    try:
        try:
            info = _read_ready(proc, timeout=180)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{log.read_text()[-3000:]}") from e
        started = time.monotonic() - t0
        kc = yaml.safe_load(kubeconfig.read_text())
        ca = d / "ca.crt"
        ca.write_bytes(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]))
        token = kc["users"][0]["user"]["token"]
        target = Target("refkube", info["url"], token=token, verify=str(ca), reference=True)
        AUDIT_LOGS[target.url] = d / "audit.log"
        with target.client() as admin:
            apply_rbac(admin)
        RESULTS.notes.append(f"refkube started in {started:.1f}s (its own figure: {info.get('started_in')})")
        yield RefKube(target, info["proxy"], kubeconfig, started, d / "audit.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
