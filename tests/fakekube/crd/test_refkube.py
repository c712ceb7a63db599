"""The engine against the real kube-apiserver (refkube) on the mutant corpus, both CRD sets.

For each CRD set (the official KubeRay CRDs and ours) a refkube is started with those CRDs; each
mutant is POSTed with ``dryRun=All`` under ``fieldValidation=Warn`` and ``Strict``, and the
real answer (HTTP code, ``Status.message``, ``Warning`` texts) is compared with
``validate_object``'s. Names made by ``generateName`` are normalised (the store makes them, not
the engine). Also shows that the real server accepts our generated CRDs as structural schemas.

Needs ``infra/refkube`` (a kube-apiserver built from Go modules, minutes on a cold machine), so it
runs only with ``KUBERAY_CONTRACT=1``, like the contract suite:
``KUBERAY_CONTRACT=1 .venv/bin/pytest tests/fakekube/crd/test_refkube.py`` (~2 min with a built refkube).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakekube.crd import Result, load_crds, validate_object
from fakekube.crd.builtin import HERE as BUILTIN_DIR
from fakekube.crd.crd_validation import validate_crd
from tests.fakekube.crd import feature_cases
from tests.fakekube.crd.mutations import mutants

REFKUBE = Path(__file__).resolve().parents[3] / "infra" / "refkube"
pytestmark = pytest.mark.skipif(
    os.environ.get("KUBERAY_CONTRACT") != "1",
    reason="needs refkube (a real kube-apiserver): set KUBERAY_CONTRACT=1",
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


def call(
    proxy: str, method: str, path: str, obj: dict[str, Any], query: str = ""
) -> tuple[int, dict[str, Any], list[str]]:
    """Send ``obj`` as JSON; return code, decoded body and the ``Warning`` texts."""
    req = urllib.request.Request(
        f"{proxy}{path}?{query}", data=json.dumps(obj).encode(), method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            code, body, headers = r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        code, body, headers = e.code, json.loads(e.read()), e.headers
    # RFC 7234 warn-value: 299 - "text"
    warnings = [json.loads(w.split(" ", 2)[2]) for w in headers.get_all("Warning") or []]
    return code, body, warnings


def post(proxy: str, obj: dict[str, Any], field_validation: str) -> tuple[int, dict[str, Any], list[str]]:
    """POST ``obj`` to its collection in ``default`` with dryRun=All."""
    path = f"/apis/{obj['apiVersion']}/namespaces/default/{obj['kind'].lower()}s"
    return call(proxy, "POST", path, obj, f"dryRun=All&fieldValidation={field_validation}")


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate refkube and wait for it."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", params=["official", "ours"])
def served(
    request: pytest.FixtureRequest, kuberay_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str]]:
    crd_dir = kuberay_dir / "crds" if request.param == "official" else BUILTIN_DIR
    proc, proxy = start_refkube(crd_dir, tmp_path_factory.mktemp("refkube"))
    try:
        yield request.param, crd_dir, proxy
    finally:
        stop(proc)


def real_answer(code: int, body: dict[str, Any], warnings: list[str]) -> tuple[Any, ...]:
    """(code, outcome, warnings) of a real response; outcome is the spec when it succeeded, the
    ``Status`` message for a 400, and the sorted (field, reason, message) causes for a 422
    (the apiserver lists an object's property errors in Go map order, i.e. randomly)."""
    if code < 300:
        return code, body.get("spec"), sorted(warnings)
    if code == 422:
        causes = body.get("details", {}).get("causes", [])
        return code, sorted((c.get("field"), c["reason"], c["message"]) for c in causes), sorted(warnings)
    return code, body.get("message"), sorted(warnings)


def engine_answer(result: Result, ok_code: int) -> tuple[Any, ...]:
    """The same triple from ``validate_object``'s result (``ok_code`` is 201 for create, 200 for update)."""
    status = result.status()
    if status is None:
        return ok_code, result.obj.get("spec"), sorted(result.warnings)
    if result.code == 422:
        causes = status["details"]["causes"]
        return 422, sorted((c["field"], c["reason"], c["message"]) for c in causes), sorted(result.warnings)
    return result.code, status["message"], sorted(result.warnings)


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
            want = real_answer(*post(proxy, obj, fv))
            result = validate_object(crds[m.kind], m.version, obj, field_validation=fv)
            deprecation = crds[m.kind].deprecation_warning(m.version)
            result.warnings[:0] = [deprecation] if deprecation else []  # the handler sends it first
            got = engine_answer(result, 201)
            if want[0] == 201:  # the dry-run create answers the object with server-set metadata
                want, got = want[::2], got[::2]
            if got == want:
                agree += 1
            else:
                diffs.append(f"  {m.label} [{fv}]: real={want} engine={got}")
    with capsys.disabled():
        print(f"\nengine vs kube-apiserver ({name} CRDs): {agree}/{2 * len(corpus)}")
        for d in diffs[:50]:
            print(d)
    assert diffs == []


@pytest.fixture(scope="module")
def feature_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A refkube serving the feature-test CRDs (Widget, and Gizmo in its lenient form)."""
    d = tmp_path_factory.mktemp("features")
    (d / "crds").mkdir()
    (d / "crds" / "widgets.json").write_text(json.dumps(feature_cases.CRD))
    (d / "crds" / "gizmos.json").write_text(json.dumps(feature_cases.GIZMO_LENIENT))
    proc, proxy = start_refkube(d / "crds", d)
    try:
        yield proxy
    finally:
        stop(proc)


def test_every_schema_feature_answers_like_the_real_apiserver(
    feature_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (crd,) = load_crds(feature_cases.CRD)
    proxy = feature_server
    base = "/apis/features.example.com/v1/namespaces/default/widgets"
    diffs = []
    for i, case in enumerate(feature_cases.CASES):
        name = f"w{i}"
        obj: dict[str, Any] = {
            "apiVersion": "features.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": name, **(case.extra_metadata or {})},
            **(case.extra_top or {}),
        }
        old = None
        query = f"dryRun=All&fieldValidation={case.field_validation}"
        if case.old_spec is None:
            response = call(proxy, "POST", base, {**obj, "spec": case.spec}, query)
        else:
            created_code, old, _ = call(proxy, "POST", base, {**obj, "spec": case.old_spec})
            assert created_code == 201, old
            meta = {**obj["metadata"], "resourceVersion": old["metadata"]["resourceVersion"]}
            response = call(
                proxy, "PUT", f"{base}/{name}", {**obj, "metadata": meta, "spec": case.spec}, query
            )
        mine = validate_object(
            crd, "v1", {**obj, "spec": case.spec}, old=old, field_validation=case.field_validation
        )
        want = real_answer(*response)
        got = engine_answer(mine, 201 if old is None else 200)
        if want != got:
            diffs.append(f"  {case.label}:\n    real  ={want}\n    engine={got}")
    with capsys.disabled():
        n = len(feature_cases.CASES)
        print(f"\nschema features vs kube-apiserver: {n - len(diffs)}/{n}")
        for d in diffs:
            print(d)
    assert diffs == []


def test_ratcheting_like_the_real_apiserver(feature_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Objects stored under a lenient CRD, updated after the CRD became strict."""
    proxy = feature_server
    base = "/apis/features.example.com/v1/namespaces/default/gizmos"
    head = {"apiVersion": "features.example.com/v1", "kind": "Gizmo"}
    code, _, _ = call(
        proxy, "POST", base, {**head, "metadata": {"name": "g"}, "spec": feature_cases.GIZMO_OLD}
    )
    assert code == 201
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.features.example.com"
    with urllib.request.urlopen(f"{proxy}{crd_path}", timeout=30) as r:
        current = json.loads(r.read())
    strict = {**feature_cases.GIZMO_STRICT}
    strict["metadata"] = {**strict["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
    assert call(proxy, "PUT", crd_path, strict)[0] == 200
    (crd,) = load_crds(feature_cases.GIZMO_STRICT)
    diffs = []
    for label, spec in feature_cases.RATCHET_CASES:
        deadline = time.monotonic() + 30
        while True:  # the new schema takes effect asynchronously
            with urllib.request.urlopen(f"{proxy}{base}/g", timeout=30) as r:
                old = json.loads(r.read())
            meta = {"name": "g", "resourceVersion": old["metadata"]["resourceVersion"]}
            new = {**head, "metadata": meta, "spec": spec}
            want = real_answer(*call(proxy, "PUT", f"{base}/g", new, "dryRun=All"))
            if want[0] != 200 or label != "unrelated field changed" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        got = engine_answer(validate_object(crd, "v1", new, old=old), 200)
        if want != got:
            diffs.append(f"  {label}:\n    real  ={want}\n    engine={got}")
    with capsys.disabled():
        n = len(feature_cases.RATCHET_CASES)
        print(f"\nratcheting vs kube-apiserver: {n - len(diffs)}/{n}")
        for d in diffs:
            print(d)
    assert diffs == []


def test_crd_validation_like_the_real_apiserver(
    feature_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    diffs = []
    for label, doc in feature_cases.CRD_CASES.items():
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        code, body, _ = call(feature_server, "POST", path, doc, "dryRun=All")
        want = (
            code,
            sorted(
                (c.get("field"), c["reason"], c["message"]) for c in body.get("details", {}).get("causes", [])
            ),
        )
        causes = validate_crd(doc)
        got = (422 if causes else 201, sorted((c.field, c.type, c.message) for c in causes))
        if want != got:
            diffs.append(f"  {label}:\n    real  ={want}\n    engine={got}")
    with capsys.disabled():
        n = len(feature_cases.CRD_CASES)
        print(f"\nCRD validation vs kube-apiserver: {n - len(diffs)}/{n}")
        for d in diffs:
            print(d)
    assert diffs == []
