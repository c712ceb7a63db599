"""Official KubeRay CRDs vs the CRDs written by this project, on the official samples and mutants.

Both CRD sets run through the same engine (``fakekube.crd.validate_object``); an answer is the
HTTP code, the set of cause fields and the unknown-field warnings. The figure is printed as
``schema agreement: N/M`` with every disagreement listed, and the test requires full agreement.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from fakekube.crd import CustomResourceDefinition, Result, builtin_crds, validate_object
from tests.fakekube.crd.mutations import mutants, ray_samples


@pytest.fixture(scope="module")
def ours() -> dict[str, CustomResourceDefinition]:
    return {c.names.kind: c for c in builtin_crds()}


def answer(r: Result) -> tuple[Any, ...]:
    return (r.code, tuple(sorted({c.field for c in r.causes})), tuple(r.warnings))


def test_every_official_sample_is_accepted_by_both(
    kuberay_dir: Path,
    official: dict[str, CustomResourceDefinition],
    ours: dict[str, CustomResourceDefinition],
) -> None:
    samples = ray_samples(kuberay_dir / "samples")
    assert len(samples) >= 50
    kinds = {doc["kind"] for _, doc in samples}
    assert kinds == {"RayCluster", "RayJob", "RayService", "RayCronJob"}
    refused = []
    for label, doc in samples:
        version = doc["apiVersion"].split("/", 1)[1]
        for name, crds in (("official", official), ("ours", ours)):
            r = validate_object(crds[doc["kind"]], version, doc)
            if not r.ok or r.warnings:
                refused.append(f"{name} {label}: {[str(c) for c in r.causes]} {r.warnings}")
    assert refused == []


def test_mutated_samples_get_the_same_answer_from_both(
    kuberay_dir: Path,
    official: dict[str, CustomResourceDefinition],
    ours: dict[str, CustomResourceDefinition],
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = mutants(kuberay_dir / "samples")
    agree, rejected, warned, disagreements = 0, 0, 0, []
    for m in corpus:
        a = validate_object(official[m.kind], m.version, m.obj)
        b = validate_object(ours[m.kind], m.version, m.obj)
        rejected += not a.ok
        warned += bool(a.warnings)
        if answer(a) == answer(b):
            agree += 1
        else:
            disagreements.append(f"  {m.label}: official={answer(a)} ours={answer(b)}")
    with capsys.disabled():
        print(
            f"\nschema agreement: {agree}/{len(corpus)} ({rejected} rejected, {warned} with unknown fields)"
        )
        for line in disagreements:
            print(line)
    # the corpus must exercise both outcomes, or agreement would mean nothing
    assert rejected > len(corpus) // 4 and len(corpus) - rejected > len(corpus) // 4 and warned > 100
    assert disagreements == []


def test_validating_a_typical_raycluster_against_the_official_crd_takes_milliseconds(
    kuberay_dir: Path, official: dict[str, CustomResourceDefinition], capsys: pytest.CaptureFixture[str]
) -> None:
    (doc,) = [
        d
        for label, d in ray_samples(kuberay_dir / "samples")
        if label.startswith("ray-cluster.complete.yaml")
    ]
    crd = official["RayCluster"]
    t0 = time.perf_counter()
    first = validate_object(crd, "v1", doc)
    first_ms = (time.perf_counter() - t0) * 1000
    assert first.ok
    runs = []
    for _ in range(50):
        t0 = time.perf_counter()
        validate_object(crd, "v1", doc)
        runs.append((time.perf_counter() - t0) * 1000)
    median = statistics.median(runs)
    with capsys.disabled():
        print(f"\nvalidate RayCluster (official CRD): first {first_ms:.1f} ms, then median {median:.2f} ms")
    # generous bound for a shared 2-core machine; measured ~0.4 ms
    assert median < 20
