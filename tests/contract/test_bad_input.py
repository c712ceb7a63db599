"""The bad-input corpus (tests/contract/bad_input/) against fakekube and the gateway, judged by refkube.

For each case and each target (fakekube, and the gateway in front of fakekube and of refkube) the
oracle is the issue 13 one:

- the same HTTP code and Status ``reason`` as refkube (the real kube-apiserver) answers;
- the stored objects unchanged when refkube refused the request;
- the server alive (``/healthz`` 200) and the answer within 1 s;
- the RSS of the server's processes back within 50 MB of where it was before the case.

A code/reason divergence fails the test unless ``bad_input.known.KNOWN`` lists it with its
reason (then it is an expected failure, and a listed case that agrees fails as stale); the other
checks always fail the test. The tally is printed at the end of the run as
``bad-input: N/M agree with kube-apiserver`` with every divergence and its explanation.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.contract.bad_input.corpus import RC, BadInput, cases, raycluster
from tests.contract.bad_input.known import explain
from tests.contract.bad_input.oracle import (
    Answer,
    alive,
    pids_listening,
    port_of,
    rss_mb,
    send,
    stored,
    summary,
)
from tests.contract.client import Target, create_namespace
from tests.contract.results import BAD_INPUT, BadInputComparison
from tests.contract.targets import get_target

CASES = {c.name: c for c in cases()}
TARGETS = ["fakekube", "gateway-fakekube", "gateway-refkube"]
_REFERENCE: dict[str, Answer] = {}
_NAMESPACES: dict[str, str] = {}
#: Seconds a bad input may take to be answered, and MB its server's RSS may stay above where it was.
MAX_SECONDS = 1.0
MAX_RSS_GROWTH_MB = 50.0


def _namespace(target: Target) -> str:
    """One namespace per target for the whole corpus, holding RayCluster ``a``."""
    if target.name not in _NAMESPACES:
        ns = create_namespace(target, "bad")
        with target.setup.client() as c:
            r = c.post(RC.format(ns=ns), json=raycluster("a"))
            assert r.status_code == 201, r.text
        _NAMESPACES[target.name] = ns
    return _NAMESPACES[target.name]


def _reference(case: BadInput, request: pytest.FixtureRequest) -> Answer:
    if case.name not in _REFERENCE:
        ref = get_target(request, "refkube")
        ns = _namespace(ref)
        with ref.client(timeout=30) as c:
            _REFERENCE[case.name] = send(c, case, ns)
        if _REFERENCE[case.name].code < 400 and case.method != "GET":
            _restore(ref, ns)
    return _REFERENCE[case.name]


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, httpx.Client]]:
    """One client per target name, kept for the module."""
    made: dict[str, httpx.Client] = {}
    yield made
    for c in made.values():
        c.close()


@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("case_name", list(CASES))
def test_bad_input(
    case_name: str, target_name: str, request: pytest.FixtureRequest, clients: dict[str, httpx.Client]
) -> None:
    case = CASES[case_name]
    ref = _reference(case, request)
    target = get_target(request, target_name)
    ns = _namespace(target)
    if target_name not in clients:
        clients[target_name] = target.client(timeout=30)
    pids = pids_listening(port_of(target))
    rss_before = rss_mb(pids)
    before = stored(target, ns)
    got = send(clients[target_name], case, ns)
    problems = []
    if got.seconds > MAX_SECONDS:
        problems.append(f"answered in {got.seconds:.2f}s (more than {MAX_SECONDS}s)")
    if not alive(target):
        problems.append("the server no longer answers /healthz")
    if ref.code >= 400 and stored(target, ns) != before:
        problems.append("the store changed although refkube refused the request")
    growth = rss_mb(pids) - rss_before
    if growth > MAX_RSS_GROWTH_MB:
        problems.append(f"RSS grew by {growth:.0f} MB")
    if got.code < 400 and ref.code < 400 and case.method in ("POST", "PUT", "PATCH", "DELETE"):
        _restore(target, ns)
    agrees = (got.code, got.reason) == (ref.code, ref.reason)
    known = explain(case_name, target_name)
    BAD_INPUT.comparisons.append(
        BadInputComparison(case_name, target_name, summary(got), summary(ref), None if agrees else known)
    )
    assert not problems, "; ".join(problems)
    if agrees and known:
        pytest.fail(
            f"{case_name} [{target_name}] now agrees with refkube: remove it from bad_input.known.KNOWN"
        )
    if not agrees:
        detail = f"{summary(got)} ({got.message[:160]}) where refkube {summary(ref)} ({ref.message[:160]})"
        if known is None:
            pytest.fail(f"not a known divergence: {detail}")
        pytest.xfail(f"known: {known}")
    if got.code >= 400 and ref.is_status:  # (refkube's own 404 for an unknown path is text)
        assert got.is_status, f"a {got.code} answer that is not a Status: {got.message!r}"


def _restore(target: Target, ns: str) -> None:
    """Put the namespace back as the corpus expects it: only RayCluster ``a``, recreated when a
    case deleted or replaced it, anything a case created removed."""
    with target.setup.client() as c:
        for name, _ in stored(target, ns):
            if name != "a":
                c.delete(f"{RC.format(ns=ns)}/{name}")
        if c.get(f"{RC.format(ns=ns)}/a").status_code == 404:
            c.post(RC.format(ns=ns), json=raycluster("a"))
