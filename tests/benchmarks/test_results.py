"""Ratios, percentiles and the 20 % regression rule of the benchmark results."""

import pytest

from benchmarks.results import Figure, Section, baseline_ratios, percentile, regressions


def section(*figures: Figure) -> Section:
    return Section("proxy", "t", "d", "c", "cmd", "layout", list(figures))


def test_ratio_is_subject_median_over_reference_median() -> None:
    fig = Figure("k", "l", "req/s", "higher", [1.0, 9.0, 3.0], [2.0, 2.0, 100.0])
    assert fig.subject == 3.0
    assert fig.reference == 2.0
    assert fig.ratio == 1.5


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize(
    ("better", "ratio", "fails"),
    [
        ("higher", 0.81, False),
        ("higher", 0.79, True),
        ("lower", 1.24, False),
        ("lower", 1.26, True),
    ],
)
def test_regression_is_more_than_20_percent_worse(better: str, ratio: float, fails: bool) -> None:
    fig = Figure("proxy.x", "l", "u", better, [ratio], [1.0])  # type: ignore[arg-type]
    assert bool(regressions([section(fig)], {"proxy.x": {"ratio": 1.0, "better": better}})) is fails


def test_unchecked_figures_stay_out_of_the_baseline_and_the_check() -> None:
    fig = Figure("stream.ttfb", "l", "ms", "lower", [50.0], [1.0], checked=False)
    assert baseline_ratios({"s": section(fig)}) == {}
    assert regressions([section(fig)], {"stream.ttfb": {"ratio": 1.0, "better": "lower"}}) == []
