"""Ratios, spreads, percentiles, the spread-based regression rule and the RESULTS.md writer's stamps."""

import json
import math
from pathlib import Path

from benchmarks.results import (
    Figure,
    Section,
    baseline_ratios,
    load_sections,
    percentile,
    regressions,
    render_markdown,
    save_sections,
)


def section(*figures: Figure, reproducible: bool | None = True) -> Section:
    return Section("proxy", "t", "d", "c", "cmd", "layout", list(figures), reproducible=reproducible)


def test_ratio_is_the_median_of_same_round_ratios() -> None:
    # Round ratios 0.5, 4.5, 0.03: the median 0.5, not median(subject) / median(reference) = 1.5.
    fig = Figure("k", "l", "req/s", "higher", [1.0, 9.0, 3.0], [2.0, 2.0, 100.0])
    assert fig.subject == 3.0
    assert fig.reference == 2.0
    assert fig.round_ratios == [0.5, 4.5, 0.03]
    assert fig.ratio == 0.5
    sp = fig.spread
    assert sp is not None and (sp.lo, sp.hi, sp.n) == (0.03, 4.5, 3)


def test_unpaired_samples_give_median_over_median_without_a_round_spread() -> None:
    fig = Figure("k", "l", "ms", "lower", [1.0, 9.0, 3.0], [2.0, 2.0, 100.0], paired=False)
    assert fig.round_ratios is None
    assert fig.ratio == 1.5
    sp = fig.spread  # of the subject's samples
    assert sp is not None and (sp.lo, sp.median, sp.hi) == (1.0, 3.0, 9.0)


def test_figure_without_samples_has_no_ratio_nor_spread() -> None:
    fig = Figure("k", "l", "req/s", "higher", [], [], unstable="0 quiet rounds")
    assert math.isnan(fig.subject)
    assert fig.ratio is None
    assert fig.spread is None


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([5.0], 99) == 5.0


def _base(ratio: float, lo: float, hi: float) -> dict[str, dict[str, object]]:
    return {"proxy.x": {"ratio": ratio, "better": "higher", "min": lo, "max": hi, "n": 5}}


def test_regression_uses_the_baseline_range_widened_by_the_new_spread() -> None:
    # Baseline rounds 0.95-1.05; new rounds 0.80-0.90 (median 0.85, half-range 0.05): the limit
    # is 0.95 - 0.05 = 0.90, and 0.85 is below it.
    worse = Figure("proxy.x", "l", "req/s", "higher", [0.80, 0.85, 0.90], [1.0, 1.0, 1.0])
    found, skipped = regressions([section(worse)], _base(1.0, 0.95, 1.05))
    assert len(found) == 1 and "limit 0.900" in found[0] and skipped == []
    # The same median with a wide spread (0.6-1.1, half-range 0.25): limit 0.70, not a regression.
    noisy = Figure("proxy.x", "l", "req/s", "higher", [0.6, 0.85, 1.1], [1.0, 1.0, 1.0])
    assert regressions([section(noisy)], _base(1.0, 0.95, 1.05)) == ([], [])
    # A fixed 20 % rule would have let 0.85 through; it would also have failed 0.79 from a baseline
    # whose own rounds went down to 0.75.
    assert (
        regressions(
            [section(Figure("proxy.x", "l", "u", "higher", [0.79] * 3, [1.0] * 3))], _base(1.0, 0.75, 1.2)
        )[0]
        == []
    )


def test_lower_is_better_regresses_above_the_widened_maximum() -> None:
    base = {"proxy.p": {"ratio": 1.0, "better": "lower", "min": 0.9, "max": 1.1, "n": 5}}
    assert regressions([section(Figure("proxy.p", "l", "ms", "lower", [1.2] * 3, [1.0] * 3))], base)[0]
    assert not regressions([section(Figure("proxy.p", "l", "ms", "lower", [1.09] * 3, [1.0] * 3))], base)[0]


def test_legacy_baseline_unstable_and_unchecked_figures_are_not_checked() -> None:
    legacy = {"proxy.x": {"ratio": 2.0, "better": "higher"}}
    fig = Figure("proxy.x", "l", "req/s", "higher", [0.5] * 3, [1.0] * 3)
    found, skipped = regressions([section(fig)], legacy)
    assert found == [] and "no per-round range" in skipped[0]
    shaky = Figure("proxy.x", "l", "req/s", "higher", [0.1] * 3, [1.0] * 3, unstable="2 quiet rounds")
    found, skipped = regressions([section(shaky)], _base(1.0, 0.95, 1.05))
    assert found == [] and "unstable" in skipped[0]
    ttfb = Figure("proxy.x", "l", "ms", "lower", [50.0], [1.0], checked=False)
    assert regressions([section(ttfb)], _base(1.0, 0.95, 1.05)) == ([], [])


def test_baseline_stores_the_round_range_of_checked_stable_figures_only() -> None:
    good = Figure("proxy.a", "l", "req/s", "higher", [1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    unchecked = Figure("stream.ttfb", "l", "ms", "lower", [50.0], [1.0], checked=False)
    shaky = Figure("proxy.b", "l", "req/s", "higher", [1.0], [1.0], unstable="why")
    unpaired = Figure("proxy.c", "l", "ms", "lower", [1.0, 2.0], [1.0, 1.0], paired=False)
    stored = baseline_ratios({"s": section(good, unchecked, shaky, unpaired)})
    assert stored == {"proxy.a": {"ratio": 2.0, "better": "higher", "min": 1.0, "max": 3.0, "n": 3}}


def test_results_json_round_trip_keeps_rounds_and_verdicts(tmp_path: Path) -> None:
    fig = Figure("proxy.a", "l", "req/s", "higher", [1.0, 2.0], [1.0, 1.0], rounds="get.c1", unstable="why")
    sec = section(fig, reproducible=False)
    sec.rounds = {"get.c1": {"wanted": 5, "quiet": 2, "attempted": 10, "unstable": "why", "records": []}}
    sec.stamp = "get.c1: why"
    save_sections({"proxy": sec}, {"description": "m"}, tmp_path / "r.json")
    back = load_sections(tmp_path / "r.json")["proxy"]
    assert back.figures[0].unstable == "why" and back.figures[0].rounds == "get.c1"
    assert back.reproducible is False and back.rounds == sec.rounds and back.stamp == sec.stamp
    stored = json.loads((tmp_path / "r.json").read_text())["sections"]["proxy"]["figures"][0]
    assert stored["spread"]["min"] == 1.0 and stored["spread"]["max"] == 2.0 and stored["ratio"] == 1.5


def test_legacy_figures_are_unpaired_and_their_sections_stamped() -> None:
    legacy = {
        "key": "fakekube.list",
        "label": "l",
        "unit": "ms",
        "better": "lower",
        "subject_raw": [1.0, 9.0, 3.0],
        "reference_raw": [2.0, 2.0, 100.0],
    }
    fig = Figure.from_json(legacy)
    assert fig.paired is False and fig.ratio == 1.5
    text = render_markdown({"proxy": section(fig, reproducible=None)}, {}, ["proxy"])
    assert "NOT REPRODUCIBLE: measured before the quiet gate" in text


def test_markdown_shows_unstable_figures_instead_of_values_and_stamps_forced_sections() -> None:
    shaky = Figure(
        "proxy.a", "GET c32 rps", "req/s", "higher", [123.0], [100.0], unstable="3 quiet rounds of 10"
    )
    good = Figure("proxy.b", "list c32 rps", "req/s", "higher", [1.0, 1.2], [1.0, 1.0])
    sec = section(shaky, good, reproducible=False)
    sec.stamp = "written with --force: proxy.a: 3 quiet rounds of 10"
    text = render_markdown({"proxy": sec}, {}, ["proxy"])
    assert "| GET c32 rps | unstable: 3 quiet rounds of 10 |" in text
    assert "123" not in text
    assert "**NOT REPRODUCIBLE: written with --force" in text
    assert "1.00-1.20 x (n=2" in text
    clean = render_markdown({"proxy": section(good)}, {}, ["proxy"])
    assert "NOT REPRODUCIBLE" not in clean
