"""Property tests of the Hypothesis strategies and of the engine on the objects they draw."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekube.crd import CustomResourceDefinition, builtin_crds, validate_object
from fakekube.crd.generators import ray_objects
from tests.fakekube.crd.mutations import FAMILIES, mutate

KINDS = ["RayCluster", "RayJob", "RayService", "RayCronJob"]
OURS = {c.names.kind: c for c in builtin_crds()}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
def test_drawn_objects_are_valid_for_ours_and_the_official_crds(
    kind: str, official: dict[str, CustomResourceDefinition]
) -> None:
    @FAST
    @given(ray_objects(kind, max_optional=3))
    def check(obj: dict[str, Any]) -> None:
        for crds in (OURS, official):
            r = validate_object(crds[kind], "v1", obj)
            assert r.ok, [str(c) for c in r.causes]
            assert r.warnings == []

    check()


@FAST
@given(st.sampled_from(KINDS).flatmap(lambda k: ray_objects(k, max_optional=3)))
def test_pruning_and_defaulting_are_idempotent(obj: dict[str, Any]) -> None:
    crd = OURS[obj["kind"]]
    once = validate_object(crd, "v1", obj)
    twice = validate_object(crd, "v1", once.obj)
    assert twice.ok and twice.obj == once.obj and twice.warnings == []


@FAST
@given(ray_objects("RayCluster"), st.sampled_from(["Strict", "Warn", "Ignore"]))
def test_an_unknown_field_is_answered_per_field_validation(obj: dict[str, Any], mode: str) -> None:
    obj["spec"]["headGroupSpec"]["surprise"] = True
    r = validate_object(OURS["RayCluster"], "v1", obj, field_validation=mode)
    assert "surprise" not in r.obj["spec"]["headGroupSpec"]
    if mode == "Strict":
        assert r.code == 400 and r.bad_request is not None
        assert r.bad_request.endswith('unknown field "spec.headGroupSpec.surprise"')
    else:
        assert r.ok
        assert r.warnings == (['unknown field "spec.headGroupSpec.surprise"'] if mode == "Warn" else [])


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="RayThing"):
        ray_objects("RayThing")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(KINDS).flatmap(lambda k: ray_objects(k, max_optional=3)),
    st.sampled_from(FAMILIES),
    st.randoms(use_true_random=False),
)
def test_mutated_drawn_objects_get_the_same_answer_from_ours_and_official(
    official: dict[str, CustomResourceDefinition], obj: dict[str, Any], family: str, rng: Any
) -> None:
    mutated = mutate(obj, family, rng)
    if mutated is None:
        return
    path, m = mutated
    a = validate_object(official[m["kind"]], "v1", m)
    b = validate_object(OURS[m["kind"]], "v1", m)
    assert (a.code, [str(c) for c in a.causes], a.warnings) == (
        b.code,
        [str(c) for c in b.causes],
        b.warnings,
    ), path
