"""The authn benchmark's harness logic: round order, the bound on review requests per window, the
review log, the canned review answers (as the gateway reads them) and the figures it reports."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.bench_authn import (
    GOAL_RATIO,
    MODES,
    _figures,
    per_round_differences,
    per_round_ratios,
    review_bound,
)
from benchmarks.rounds import Rounds, round_order
from benchmarks.servers import gateway_command
from benchmarks.upstream import REVIEW_ANSWERS, REVIEW_LOG, nginx_config, review_counts, write_bodies
from benchmarks.wrk import WrkResult
from handler.auth.reviews import SELF_SUBJECT_REVIEWS, SUBJECT_ACCESS_REVIEWS, TOKEN_REVIEWS, user_from_json


@given(st.lists(st.integers(), min_size=1, max_size=5, unique=True), st.integers(0, 100))
def test_every_side_takes_every_position_once_per_cycle(sides: list[int], start: int) -> None:
    cycle = [round_order(sides, start + r) for r in range(len(sides))]
    for order in cycle:
        assert sorted(order) == sorted(sides)
    for position in range(len(sides)):
        assert sorted(order[position] for order in cycle) == sorted(sides)


def test_two_sides_alternate_and_three_rotate() -> None:
    assert [round_order(["a", "b"], r) for r in range(3)] == [["a", "b"], ["b", "a"], ["a", "b"]]
    assert round_order(list(MODES), 1) == ["token-review", "passthrough", "none"]
    assert round_order([], 3) == []


def test_review_bound_counts_one_refresh_per_ttl_started_in_the_window() -> None:
    assert review_bound("token-review", 3.0, 10.0) == 2  # one TokenReview + one SubjectAccessReview
    assert review_bound("passthrough", 3.0, 10.0) == 1  # one SelfSubjectReview
    assert review_bound("none", 30.0, 10.0) == 0
    assert review_bound("token-review", 25.0, 10.0) == 6  # expiries at most at t, t+10, t+20
    with pytest.raises(ValueError):
        review_bound("token-review", 3.0, 0.0)
    with pytest.raises(KeyError):
        review_bound("oidc", 3.0)


def test_same_round_ratios_and_differences() -> None:
    assert per_round_ratios([9.0, 8.0, 5.0], [10.0, 0.0, 5.0]) == [0.9, 1.0]  # a 0 reference is skipped
    assert per_round_differences([0.5, 0.25], [0.25, 0.5]) == [0.25, -0.25]
    with pytest.raises(ValueError):
        per_round_ratios([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        per_round_differences([1.0, 2.0], [1.0])


def test_review_log_counts_each_review_path_and_ignores_other_lines() -> None:
    text = (
        f"POST {TOKEN_REVIEWS} 201\n"
        f"POST {SUBJECT_ACCESS_REVIEWS} 201\n"
        f"POST {SUBJECT_ACCESS_REVIEWS} 201\n"
        "GET /apis/ray.io/v1/namespaces/bench/rayclusters/one 200\n"
        f"POST {SELF_SUBJECT_REVIEWS}"  # half-written last line
    )
    assert review_counts(text) == {TOKEN_REVIEWS: 1, SUBJECT_ACCESS_REVIEWS: 2, SELF_SUBJECT_REVIEWS: 0}
    assert review_counts("") == dict.fromkeys(REVIEW_ANSWERS, 0)


def test_nginx_answers_and_logs_only_the_review_apis(tmp_path: Path) -> None:
    conf = nginx_config(write_bodies(tmp_path, lists=("list-2k",)), 8080, tmp_path)
    assert conf.count("access_log off;") == 1
    logged = re.findall(r"location = (\S+) \{ access_log (\S+) reviews; return 201 '([^']*)'; \}", conf)
    assert {path for path, _, _ in logged} == {TOKEN_REVIEWS, SUBJECT_ACCESS_REVIEWS, SELF_SUBJECT_REVIEWS}
    assert {log for _, log, _ in logged} == {f"{tmp_path}/{REVIEW_LOG}"}
    answers = {path: json.loads(body) for path, _, body in logged}
    # The answers are what the gateway's token-review and passthrough modes accept.
    token = answers[TOKEN_REVIEWS]["status"]
    assert token["authenticated"] is True
    user = user_from_json(token["user"])
    assert user is not None and user.name == "bench-user"
    assert answers[SUBJECT_ACCESS_REVIEWS]["status"]["allowed"] is True
    assert "denied" not in answers[SUBJECT_ACCESS_REVIEWS]["status"]
    assert user_from_json(answers[SELF_SUBJECT_REVIEWS]["status"]["userInfo"]) == user


def test_the_gateway_runs_without_authentication_unless_asked() -> None:
    plain = gateway_command("http://u", 1, 1)
    assert "--authentication=none" in plain
    reviewed = gateway_command("http://u", 1, 1, "token-review", ["--token-file=/t"])
    assert reviewed[-2:] == ["--authentication=token-review", "--token-file=/t"]


def _wrk(rps: float, p50: float) -> WrkResult:
    return WrkResult(int(rps), 1.0, rps, p50, 2 * p50, transfer_bytes_per_s=0, errors=0)


def test_figures_put_the_goal_on_token_review_c32_throughput_only() -> None:
    samples = {
        "none": [_wrk(100.0, 1.0), _wrk(200.0, 1.0)],
        "token-review": [_wrk(95.0, 1.5), _wrk(160.0, 1.25)],
        "passthrough": [_wrk(50.0, 2.0), _wrk(60.0, 2.0)],
    }
    rounds = Rounds("get.c32", list(MODES), 2, samples)
    c32 = {f.key: f for f in _figures("get", 32, rounds)}
    goal = c32["authn.token-review.get.c32.rps"]
    # The median of the same-round ratios 0.95 and 0.8, not 127.5 / 150.
    assert goal.ratio == pytest.approx(0.875)
    assert goal.rounds == "get.c32"
    assert goal.goal is not None and goal.goal.text == f"≥ {GOAL_RATIO:g}x none"
    assert goal.goal.met is False  # 0.875 < 0.9
    assert [k for k, f in c32.items() if f.goal] == ["authn.token-review.get.c32.rps"]
    assert c32["authn.passthrough.get.c32.rps"].reference_name == "none"
    assert c32["authn.token-review.get.c32.rps_round_ratio"].subject_raw == [0.95, 0.8]
    assert not c32["authn.token-review.get.c32.rps_round_ratio"].checked
    c1 = {f.key: f for f in _figures("get", 1, Rounds("get.c1", list(MODES), 2, samples))}
    assert c1["authn.token-review.get.c1.p50_added"].subject_raw == [0.5, 0.25]
    assert c1["authn.passthrough.get.c1.p50_added"].subject_raw == [1.0, 1.0]
    assert not any(f.goal for f in c1.values())
