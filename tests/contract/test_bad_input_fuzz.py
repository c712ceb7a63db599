"""A Hypothesis fuzzer over Ray objects and list requests, with the bad-input oracle (refkube judges).

Each example mutates a valid RayCluster (a value replaced by one of another type, an integer at
or past the int32/int64/float64 edges, unicode and control characters, a deep nesting; a key
removed or an unknown one added) and sends it as a dry-run create, as JSON or YAML, to refkube and
to the target; or sends a list whose ``limit``, ``labelSelector``, ``fieldSelector``,
``timeoutSeconds`` or ``resourceVersion`` is drawn from hostile text. The target must answer the
same code and Status reason as refkube, stay alive and answer within 1 s. Example counts are
bounded (``max_examples``) so the contract suite stays fast; each target's run counts as one
line of the ``bad-input`` summary.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract.bad_input.corpus import RC, raycluster
from tests.contract.client import Target, create_namespace
from tests.contract.results import BAD_INPUT, BadInputComparison
from tests.contract.targets import get_target

TARGETS = ["fakekube", "gateway-fakekube", "gateway-refkube"]
EXAMPLES = 25

_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_edges = st.sampled_from(
    [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, 10**20, 1.5, 1e20, -0.0, 1e300]
)
_scalars = (
    st.none()
    | st.booleans()
    | _edges
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _texts
)
_values = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_texts, kids, max_size=3),
    max_leaves=6,
)
_deep = st.integers(1, 60).map(lambda n: json.loads("[" * n + "]" * n))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indices) to a value inside ``obj``."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    """A RayCluster body with 1-3 mutations, and its content type."""
    obj = raycluster("fz")
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(obj) if p[:2] != ("metadata", "name") and p[:1] != ("kind",)]
        path = draw(st.sampled_from(paths))
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["replace", "replace", "deep", "delete", "unknown"]))
        last = path[-1]
        if kind == "delete" and isinstance(parent, dict):
            del parent[last]
        elif kind == "unknown" and isinstance(parent, dict):
            parent[draw(_texts) or "x"] = draw(_values)
        else:
            parent[last] = draw(_deep if kind == "deep" else _values)
    if draw(st.booleans()):
        return json.dumps(obj).encode(), "application/json"
    return yaml.safe_dump(obj, allow_unicode=True).encode(), "application/yaml"


_queries = st.dictionaries(
    st.sampled_from(["limit", "labelSelector", "fieldSelector", "timeoutSeconds", "resourceVersion"]),
    _texts
    | st.sampled_from(["-1", "", "0", "99999999999999999999", "a=b", "a in (b)", "!a", "metadata.name=x"]),
    min_size=1,
    max_size=3,
)


def _answer(
    client: httpx.Client, method: str, path: str, body: bytes | None, ctype: str | None
) -> tuple[int, str]:
    headers = {"Content-Type": ctype} if ctype else {}
    r = client.request(method, path, content=body, headers=headers)
    try:
        obj = r.json()
    except ValueError:
        obj = None
    reason = str(obj.get("reason", "")) if isinstance(obj, dict) and obj.get("kind") == "Status" else ""
    return r.status_code, reason


@pytest.mark.parametrize("target_name", TARGETS)
def test_fuzzed_ray_objects_and_lists_answer_as_kube_apiserver(
    target_name: str, request: pytest.FixtureRequest
) -> None:
    ref: Target = get_target(request, "refkube")
    target: Target = get_target(request, target_name)
    ns_ref, ns = create_namespace(ref, "fz"), create_namespace(target, "fz")
    failures: list[str] = []
    with ref.client(timeout=30) as rc, target.client(timeout=30) as tc:

        def compare(method: str, path: str, body: bytes | None, ctype: str | None, label: str) -> None:
            want = _answer(rc, method, path.format(ns=ns_ref), body, ctype)
            t0 = time.monotonic()
            got = _answer(tc, method, path.format(ns=ns), body, ctype)
            took = time.monotonic() - t0
            assert took < 1.0, f"{label}: answered in {took:.2f}s"
            assert tc.get("/healthz").status_code == 200, f"{label}: the server stopped answering"
            if got != want:
                failures.append(f"{label}: {got} where refkube {want}")
            assert got == want, f"{label}: {got} where refkube {want}"

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(mutated())
        def creates(case: tuple[bytes, str]) -> None:
            body, ctype = case
            compare("POST", RC + "?dryRun=All", body, ctype, f"create {body[:200]!r} as {ctype}")

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(_queries)
        def lists(query: dict[str, str]) -> None:
            compare("GET", RC + "?" + urlencode(query), None, None, f"list ?{urlencode(query)}")

        try:
            creates()
            lists()
        finally:
            got = "agrees" if not failures else f"{len(failures)} examples differ, e.g. {failures[-1][:300]}"
            BAD_INPUT.comparisons.append(
                BadInputComparison(f"fuzz ({2 * EXAMPLES} examples)", target_name, got, "agrees")
            )
