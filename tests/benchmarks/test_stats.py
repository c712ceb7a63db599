"""The statistics of benchmark rounds: spread invariants, paired ratios, the 10 % reproducibility
rule and the spread-based regression limit (benchmarks/stats.py)."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from benchmarks.stats import (
    Spread,
    is_regression,
    paired_ratios,
    regression_limit,
    relative_difference,
    spread,
    within,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=30)


@given(samples)
def test_order_statistics_are_ordered(values: list[float]) -> None:
    sp = spread(values)
    assert sp.lo <= sp.q1 <= sp.median <= sp.q3 <= sp.hi
    assert sp.lo == min(values) and sp.hi == max(values) and sp.n == len(values)
    assert sp.range_rel >= sp.iqr_rel >= 0


@given(samples, st.randoms(use_true_random=False))
def test_spread_ignores_the_order_of_the_rounds(values: list[float], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert spread(shuffled) == spread(values)


@given(st.lists(positive, min_size=1, max_size=30), st.floats(min_value=1e-2, max_value=1e2))
def test_scaling_scales_the_statistics_and_keeps_the_relative_spreads(values: list[float], c: float) -> None:
    a, b = spread(values), spread([v * c for v in values])
    for x, y in ((a.median, b.median), (a.lo, b.lo), (a.hi, b.hi), (a.q1, b.q1), (a.q3, b.q3)):
        assert y == pytest.approx(x * c, rel=1e-9)
    assert b.range_rel == pytest.approx(a.range_rel, rel=1e-6, abs=1e-12)
    assert b.iqr_rel == pytest.approx(a.iqr_rel, rel=1e-6, abs=1e-12)


@given(samples, st.floats(min_value=-1e3, max_value=1e3))
def test_shifting_shifts_the_order_statistics(values: list[float], d: float) -> None:
    a, b = spread(values), spread([v + d for v in values])
    assert b.median == pytest.approx(a.median + d, abs=1e-6)
    assert b.hi - b.lo == pytest.approx(a.hi - a.lo, abs=1e-6)


@given(finite, st.integers(1, 20))
def test_equal_rounds_have_no_spread(value: float, n: int) -> None:
    sp = spread([value] * n)
    assert (sp.lo, sp.q1, sp.median, sp.q3, sp.hi) == (value,) * 5
    assert sp.range_rel == sp.iqr_rel == 0


def test_known_quartiles_and_relative_spreads() -> None:
    sp = spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (sp.lo, sp.q1, sp.median, sp.q3, sp.hi) == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert sp.range_rel == pytest.approx(4 / 3) and sp.iqr_rel == pytest.approx(2 / 3)
    assert spread([-1.0, 0.0, 1.0]).range_rel == math.inf
    assert spread([1.0, 2.0]).to_json()["range_rel"] == pytest.approx(2 / 3)
    assert spread([-1.0, 0.0, 1.0]).to_json()["range_rel"] is None


def test_empty_or_non_finite_samples_have_no_spread() -> None:
    with pytest.raises(ValueError):
        spread([])
    with pytest.raises(ValueError):
        spread([1.0, math.inf])


@given(st.lists(st.tuples(positive, positive), min_size=1, max_size=20), positive)
def test_paired_ratios_scale_with_the_subject(pairs: list[tuple[float, float]], c: float) -> None:
    subject, reference = [s for s, _ in pairs], [r for _, r in pairs]
    ratios = paired_ratios(subject, reference)
    scaled = paired_ratios([s * c for s in subject], reference)
    assert scaled == pytest.approx([r * c for r in ratios])
    assert paired_ratios(subject, subject) == pytest.approx([1.0] * len(pairs))


def test_paired_ratios_need_the_same_rounds_and_a_reference() -> None:
    assert paired_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    with pytest.raises(ValueError):
        paired_ratios([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        paired_ratios([1.0], [0.0])


@given(positive, positive)
def test_relative_difference_is_symmetric_and_within_is_its_threshold(a: float, b: float) -> None:
    assert relative_difference(a, b) == relative_difference(b, a)
    assert relative_difference(a, a) == 0 and within(a, a)
    assert within(a, b) == (relative_difference(a, b) <= 0.10)


def test_ten_percent_is_of_the_smaller_median() -> None:
    assert within(1.0, 1.0999)  # just under 10 % of 1.0
    assert not within(1.0, 1.11)
    assert within(100.0, 91.0)  # 9 / 91 = 9.9 %
    assert not within(100.0, 90.0)  # 10 / 90 = 11 %: relative to the smaller
    assert relative_difference(100.0, 91.0) == pytest.approx(9 / 91)
    assert relative_difference(0.0, 1.0) == math.inf


def _sp(lo: float, median: float, hi: float) -> Spread:
    return Spread(3, median, lo, hi, lo, hi)


@given(positive, positive, positive, st.sampled_from(["higher", "lower"]))
def test_a_median_inside_the_baseline_range_never_regresses(
    lo: float, width: float, noise: float, better: str
) -> None:
    base = _sp(lo, lo + width / 2, lo + width)
    for median in (base.lo, base.median, base.hi):
        new = _sp(median - noise, median, median + noise)
        assert not is_regression(base, new, better)


@given(positive, positive, positive, positive)
def test_a_wider_new_spread_only_widens_the_limit(
    lo: float, width: float, narrow: float, extra: float
) -> None:
    base = _sp(lo, lo + width / 2, lo + width)
    tight = _sp(1.0, 1.0 + narrow, 1.0 + 2 * narrow)
    wide = _sp(1.0, 1.0 + narrow + extra, 1.0 + 2 * (narrow + extra))
    assert regression_limit(base, wide, "higher") <= regression_limit(base, tight, "higher")
    assert regression_limit(base, wide, "lower") >= regression_limit(base, tight, "lower")


@given(positive, positive, positive)
def test_a_median_far_beyond_the_widened_range_regresses(lo: float, width: float, half: float) -> None:
    base = _sp(lo, lo + width / 2, lo + width)
    worse_high = base.lo - half - 1.0
    assume(worse_high - half > -1e9)
    assert is_regression(base, _sp(worse_high - half, worse_high, worse_high + half), "higher")
    worse_low = base.hi + half + 1.0
    assert is_regression(base, _sp(worse_low - half, worse_low, worse_low + half), "lower")


def test_better_must_be_named() -> None:
    with pytest.raises(ValueError):
        regression_limit(_sp(1, 1, 1), _sp(1, 1, 1), "sideways")
