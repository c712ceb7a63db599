"""Differential property test: generated operation sequences against refkube and another target.

Hypothesis generates a sequence of operations on RayClusters — creates with generated names and
labels, replaces (GET then PUT), merge and JSON patches, deletes, gets, lists with generated label
and field selectors (valid and invalid), and optionally a closing watch from the sequence's start
with a generated selector — runs it in a fresh namespace on refkube and on the target, and
requires the normalised transcripts (``tests.contract.normalise``) to be equal. Hypothesis shrinks a
failing sequence; shrunk failures are kept below as ``@example`` regression cases.

The outcome per target is added to the conformance summary by ``conftest.pytest_runtest_logreport``.
Examples per target: ``CONTRACT_EXAMPLES`` (default 20); derandomised so CI runs are repeatable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.contract.client import Session, Target
from tests.contract.normalise import diff_transcripts, normalise
from tests.contract.scenarios import JSONPATCH, MERGE, raycluster
from tests.contract.targets import get_target

NAMES = ["a", "b", "c"]
KEYS = ["app", "tier"]
VALUES = ["x", "y"]


@dataclass(frozen=True)
class Op:
    """One operation: ``kind`` in create/replace/merge/jsonpatch/delete/get/list; ``arg`` per kind."""

    kind: str
    name: str = ""
    arg: Any = None

    def __repr__(self) -> str:  # short, so shrunk examples read well
        return f"Op({self.kind!r}, {self.name!r}, {self.arg!r})"


labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)
label_patch = st.dictionaries(
    st.sampled_from(KEYS), st.one_of(st.none(), st.sampled_from(VALUES)), max_size=2
)


@st.composite
def label_term(draw: st.DrawFn) -> str:
    k = draw(st.sampled_from(KEYS))
    vs = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True))
    return draw(
        st.sampled_from(
            [
                f"{k}={vs[0]}",
                f"{k}=={vs[0]}",
                f"{k}!={vs[0]}",
                f"{k} in ({','.join(vs)})",
                f"{k} notin ({','.join(vs)})",
                k,
                f"!{k}",
            ]
        )
    )


label_selector = st.one_of(
    st.lists(label_term(), min_size=1, max_size=2).map(",".join),
    st.sampled_from(["app=", "app in x", "=x", "app notin ()", "app=x,", "a b", "!app=x"]),
)
field_selector = st.one_of(
    st.sampled_from(NAMES).flatmap(
        lambda n: st.sampled_from([f"metadata.name={n}", f"metadata.name!={n}", f"metadata.name=={n}"])
    ),
    # fields a custom resource does not support (400), none the gateway evaluates itself
    st.sampled_from(["spec.headGroupSpec.serviceType=x", "metadata.name", "metadata.uid=x"]),
)
json_ops = st.one_of(
    st.builds(
        lambda k, v: [{"op": "add", "path": f"/metadata/labels/{k}", "value": v}],
        st.sampled_from(KEYS),
        st.sampled_from(VALUES),
    ),
    st.builds(
        lambda n: [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": n}],
        st.integers(0, 3),
    ),
    st.builds(lambda k: [{"op": "remove", "path": f"/metadata/labels/{k}"}], st.sampled_from(KEYS)),
)
name = st.sampled_from(NAMES)
op = st.one_of(
    st.builds(Op, st.just("create"), name, labels),
    st.builds(Op, st.just("replace"), name, st.tuples(labels, st.integers(0, 3))),
    st.builds(Op, st.just("merge"), name, label_patch),
    st.builds(Op, st.just("jsonpatch"), name, json_ops),
    st.builds(Op, st.just("delete"), name),
    st.builds(Op, st.just("get"), name),
    st.builds(
        Op,
        st.just("list"),
        st.just(""),
        st.tuples(st.one_of(st.none(), label_selector), st.one_of(st.none(), field_selector)),
    ),
)
program = st.tuples(st.lists(op, min_size=1, max_size=8), st.one_of(st.none(), label_selector))


def run_program(
    target: Target, ops: list[Op], watch_selector: str | None, watch: bool
) -> list[dict[str, Any]]:
    """Run ``ops`` on ``target`` in a fresh namespace; return the normalised transcript."""
    s = Session.open(target)
    try:
        listed = s.get(s.ray()).json()  # a broken answer shows up in the transcript diff
        start = listed.get("metadata", {}).get("resourceVersion", "0")
        for o in ops:
            apply(s, o)
        if watch:
            params: dict[str, str | int] = {"resourceVersion": start, "timeoutSeconds": 1}
            if watch_selector is not None:
                params["labelSelector"] = watch_selector
            s.watch(s.ray(), params)
    finally:
        s.close()
    return normalise(s.transcript(), [s.ns])


def with_schema_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with the values the RayCluster CRD schema would default spelled out, so that this
    test exercises API semantics and schema defaulting is left to the scenario tests."""
    for group in obj["spec"]["workerGroupSpecs"]:
        group.setdefault("numOfHosts", 1)
        group.setdefault("priority", 0)
    return obj


def apply(s: Session, o: Op) -> None:
    """Send the request(s) for one operation through the recording session."""
    if o.kind == "create":
        s.post(s.ray(), with_schema_defaults(raycluster(o.name, o.arg or None)))
    elif o.kind == "replace":
        cur = s.get(s.ray(name=o.name))
        if cur.status_code == 200:
            body = cur.json()
            new_labels, replicas = o.arg
            body["metadata"]["labels"] = new_labels
            body["spec"]["workerGroupSpecs"][0]["replicas"] = replicas
            s.put(s.ray(name=o.name), body)
    elif o.kind == "merge":
        s.patch(s.ray(name=o.name), {"metadata": {"labels": o.arg}}, MERGE)
    elif o.kind == "jsonpatch":
        s.patch(s.ray(name=o.name), o.arg, JSONPATCH)
    elif o.kind == "delete":
        s.delete(s.ray(name=o.name))
    elif o.kind == "get":
        s.get(s.ray(name=o.name))
    elif o.kind == "list":
        ls, fs = o.arg
        params = {k: v for k, v in (("labelSelector", ls), ("fieldSelector", fs)) if v is not None}
        s.get(s.ray(), params=params)
    else:
        raise ValueError(o.kind)


@pytest.mark.parametrize("target_name", ["fakekube", "gateway-fakekube"])
@settings(
    max_examples=int(os.environ.get("CONTRACT_EXAMPLES", "20")),
    deadline=None,
    derandomize=True,
    report_multiple_bugs=False,  # one shrunk failure per target is enough; shrinking talks to real servers
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(prog=program, watch=st.booleans())
@example(
    prog=([Op("create", "a", {"app": "x"}), Op("list", "", ("app in (x,y)", None))], "!tier"), watch=True
)
def test_differential(
    target_name: str, prog: tuple[list[Op], str | None], watch: bool, request: pytest.FixtureRequest
) -> None:
    ops, watch_selector = prog
    ref = run_program(get_target(request, "refkube"), ops, watch_selector, watch)
    got = run_program(get_target(request, target_name), ops, watch_selector, watch)
    diffs = diff_transcripts(got, ref)
    assert not diffs, f"{ops!r} watch={watch} {watch_selector!r}:\n" + "\n".join(diffs[:15])
