"""Every contract scenario against every target, each compared with the real kube-apiserver.

Parametrised over scenarios (``scenarios.SCENARIOS`` plus one per KubeRay sample file)
and targets (refkube, fakekube, and the gateway in front of each). On refkube a scenario checks
that its assertions describe the real server; on the others it also compares the normalised
transcript with refkube's (run once per scenario and cached). A divergence fails the test unless
listed in ``known_divergences.KNOWN`` with its reason and the differences it consists of, in
which case it is an expected failure; a listed divergence that shows any other difference, or
that is gone, fails (so the list stays true). Scenarios on core kinds (``Scenario.core``) are not
paired with the gateway targets: the gateway does not route those kinds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.contract.client import Session, Target
from tests.contract.known_divergences import KNOWN
from tests.contract.normalise import diff_transcripts, normalise
from tests.contract.results import RESULTS, Comparison
from tests.contract.scenarios import SCENARIOS, Scenario, sample_scenario
from tests.contract.targets import GATEWAY_TARGETS, TARGET_NAMES, get_target

SAMPLES = Path(os.environ.get("KUBERAY_SHARED", Path(__file__).resolve().parents[3] / "shared" / "kuberay"))


def _all_scenarios() -> dict[str, Scenario]:
    out = dict(SCENARIOS)
    for path in sorted((SAMPLES / "samples").glob("*.yaml")):
        from tests.contract.scenarios import ray_documents

        if ray_documents(path):
            name = f"sample[{path.stem}]"
            out[name] = Scenario(name, sample_scenario(path))
    return out


ALL = _all_scenarios()
# core scenarios use kinds the gateway does not route (out of its scope): not paired with gateways
CASES = [
    (sc, target) for sc in ALL for target in TARGET_NAMES if not (ALL[sc].core and target in GATEWAY_TARGETS)
]
_REFERENCE: dict[str, list[dict[str, object]] | BaseException] = {}


def run_scenario(sc: Scenario, target: Target) -> tuple[list[dict[str, object]], BaseException | None]:
    """Run ``sc`` on ``target`` in fresh namespaces; return (normalised transcript, assertion error)."""
    s = Session.open(target)
    err: BaseException | None = None
    try:
        sc.run(s)
    except AssertionError as e:
        err = e
    finally:
        s.close()
    return normalise(s.transcript(), [s.ns, *s.extra_namespaces]), err


def reference(sc: Scenario, ref: Callable[[], Target]) -> list[dict[str, object]]:
    """refkube's normalised transcript of ``sc`` (run once per session)."""
    if sc.name not in _REFERENCE:
        transcript, err = run_scenario(sc, ref())
        _REFERENCE[sc.name] = err if err is not None else transcript
    got = _REFERENCE[sc.name]
    if isinstance(got, BaseException):
        pytest.fail(f"scenario {sc.name} fails on the reference server itself: {got}")
    return got


def first_line(err: BaseException) -> str:
    """The first line of an assertion's message, or its repr when it has none (a bare ``assert``)."""
    return (str(err).splitlines() or [repr(err)])[0]


@pytest.mark.parametrize(("scenario_name", "target_name"), CASES)
def test_scenario(scenario_name: str, target_name: str, request: pytest.FixtureRequest) -> None:
    sc = ALL[scenario_name]
    target = get_target(request, target_name)
    if target.reference:
        transcript, err = run_scenario(sc, target)
        _REFERENCE[sc.name] = err if err is not None else transcript
        if err is not None:
            raise err
        return
    transcript, err = run_scenario(sc, target)
    ref = reference(sc, lambda: get_target(request, "refkube"))
    diffs = diff_transcripts(transcript, ref)
    if err is not None:
        diffs.insert(0, f"assertion failed on {target_name}: {first_line(err)[:300]}")
    known = KNOWN.get((sc.name, target_name))
    unexplained = known.unexplained(diffs) if known else diffs
    RESULTS.add(Comparison(sc.name, target_name, diffs, known.reason if known and not unexplained else None))
    if known and not diffs:
        pytest.fail(f"{sc.name} [{target_name}] now agrees: remove it from known_divergences.KNOWN")
    assert not unexplained, "\n".join(unexplained[:20])
    if known:
        pytest.xfail(f"known divergence: {known.reason}")
