"""The engine against the real kube-apiserver (refkube) on the mutant corpus, both CRD sets.

For each CRD set (the official KubeRay CRDs and ours) a refkube is started with those CRDs; each
mutant is POSTed with ``dryRun=All`` under ``fieldValidation=Warn`` and ``Strict``, and the
real answer (HTTP code, ``Status.message``, ``Warning`` texts) is compared with
``validate_object``'s. Names made by ``generateName`` are normalised (the store makes them, not
the engine). Also shows that the real server accepts our generated CRDs as structural schemas.

Needs ``infra/refkube`` (a kube-apiserver built from Go modules, minutes on a cold machine), so it
runs only with ``KUBERAY_CONTRACT=1`` (``make conformance``), like the contract suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crd_mutations import mutants

from fakekube.crd import load_crds, validate_object
from fakekube.crd.builtin import HERE as BUILTIN_DIR

REFKUBE = Path(__file__).resolve().parents[2] / "infra" / "refkube"
pytestmark = pytest.mark.skipif(
    os.environ.get("KUBERAY_CONTRACT") != "1",
    reason="needs refkube: set KUBERAY_CONTRACT=1 (make conformance)",
)


def start_refkube(crd_dir: Path, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start refkube with the CRDs of ``crd_dir``; return the process and its plain-HTTP proxy URL."""
    build = subprocess.run([str(REFKUBE / "build.sh")], capture_output=True, text=True, timeout=3600)
    if build.returncode != 0:
        pytest.fail(f"refkube cannot be built:\n{(build.stdout + build.stderr)[-2000:]}")
    log = (workdir / "refkube.log").open("w")
    proc = subprocess.Popen(
        [str(REFKUBE / "bin" / "refkube"), "--crd", str(crd_dir), "--port", "0", "--proxy-port", "0",
         "--kubeconfig", str(workdir / "kubeconfig")],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    # a loaded 2-core machine can take minutes; the watchdog ends a refkube that never gets ready
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:  # blocking reads: no select() on a buffered pipe
            if line.startswith("refkube: proxy="):
                return proc, line.split("=", 1)[1].strip()
    finally:
        watchdog.cancel()
    log.close()
    tail = (workdir / "refkube.log").read_text()[-2000:]
    pytest.fail(f"refkube did not start (exit {proc.poll()}):\n{tail}")


def post(proxy: str, obj: dict[str, Any], field_validation: str) -> tuple[int, dict[str, Any], list[str]]:
    """POST ``obj`` with dryRun=All; return code, body and the decoded ``Warning`` texts."""
    group_version = obj["apiVersion"]
    url = (
        f"{proxy}/apis/{group_version}/namespaces/default/{obj['kind'].lower()}s"
        f"?dryRun=All&fieldValidation={field_validation}"
    )
    req = urllib.request.Request(
        url, data=json.dumps(obj).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            code, body, headers = r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        code, body, headers = e.code, json.loads(e.read()), e.headers
    # RFC 7234 warn-value: 299 - "text"
    warnings = [json.loads(w.split(" ", 2)[2]) for w in headers.get_all("Warning") or []]
    return code, body, warnings


@pytest.fixture(scope="module", params=["official", "ours"])
def served(
    request: pytest.FixtureRequest, kuberay_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str]]:
    crd_dir = kuberay_dir / "crds" if request.param == "official" else BUILTIN_DIR
    proc, proxy = start_refkube(crd_dir, tmp_path_factory.mktemp("refkube"))
    try:
        yield request.param, crd_dir, proxy
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_engine_answers_like_the_real_apiserver(
    served: tuple[str, Path, str], kuberay_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, crd_dir, proxy = served
    crds = {c.names.kind: c for c in load_crds(crd_dir)}
    corpus = mutants(kuberay_dir / "samples")[::2]
    agree, diffs = 0, []
    for m in corpus:
        obj = {**m.obj, "metadata": {k: v for k, v in m.obj["metadata"].items() if k != "namespace"}}
        for fv in ("Warn", "Strict"):
            code, body, warnings = post(proxy, obj, fv)
            mine = validate_object(crds[m.kind], m.version, obj, field_validation=fv)
            status = mine.status()
            real_msg = body.get("message") if body.get("kind") == "Status" else None
            prefix = obj["metadata"].get("generateName")
            if prefix and real_msg:
                real_msg = re.sub(rf'"{re.escape(prefix)}[a-z0-9]{{5}}"', f'"{prefix}"', real_msg)
            got = (
                201 if mine.ok else mine.code,
                status["message"] if status else None,
                sorted(mine.warnings),
            )
            want = (code, real_msg, sorted(warnings))
            if got == want:
                agree += 1
            else:
                diffs.append(f"  {m.label} [{fv}]: real={want} engine={got}")
    with capsys.disabled():
        print(f"\nengine vs kube-apiserver ({name} CRDs): {agree}/{2 * len(corpus)}")
        for d in diffs[:50]:
            print(d)
    assert diffs == []
