"""Figures, the results store, RESULTS.md and the regression check against the committed baseline.

A *figure* is one measured quantity for the subject (the gateway, or fakekube) and, where one
exists, the same quantity for its reference measured in the same rounds.  Its ratio is the median
of the per-round ratios ``subject[i] / reference[i]`` (rounds alternate the sides, so each pair saw
the same machine), and its spread (:mod:`benchmarks.stats`) is the spread of those per-round
ratios, or of the subject's samples when there is no reference.

The regression check compares ratios only (absolute numbers move with the machine) and uses the
spreads, not a fixed tolerance: a checked ratio regresses when its median is worse than the
baseline's lowest (highest) per-round ratio by more than half the new run's own range
(:func:`benchmarks.stats.is_regression`).

A section is *reproducible* when every figure comes from enough quiet rounds
(:mod:`benchmarks.rounds`); RESULTS.md renders the others, and sections measured before the quiet
gate existed, with a stamp saying they are not reproducible.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.stats import Spread, is_regression, paired_ratios, regression_limit, spread

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
#: The soak's section of RESULTS.md (benchmarks/soak.py) lies between these; ``make bench`` keeps it.
SOAK_START = "<!-- soak:start -->"
SOAK_END = "<!-- soak:end -->"


def soak_section(text: str) -> str:
    """The soak section of a RESULTS.md text (markers included), or "" when it has none."""
    if SOAK_START not in text or SOAK_END not in text:
        return ""
    return SOAK_START + text.split(SOAK_START, 1)[1].split(SOAK_END, 1)[0] + SOAK_END


BASELINE_JSON = HERE / "baseline.json"

Better = Literal["higher", "lower"]


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence (raises statistics.StatisticsError when empty)."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, -(-len(ordered) * pct // 100))
    return float(ordered[int(rank) - 1])


@dataclass
class Goal:
    """A target from the issue, e.g. ``ratio ≥ 1.0`` or ``subject ≤ 10 MB``, and whether it was met."""

    text: str
    met: bool


@dataclass
class Figure:
    """One figure: the per-round samples of subject and reference, their medians, ratio and spread.

    ``key`` is stable (used by the baseline); ``checked`` says whether the regression check
    applies to its ratio (ratios of sub-millisecond or near-zero quantities are too noisy).
    ``rounds`` names the :class:`benchmarks.rounds.Rounds` its samples come from (its section's
    ``rounds`` record holds their noise); ``unstable`` is why it is not reported (None: it is).
    ``paired`` is False when ``subject_raw[i]`` and ``reference_raw[i]`` are not from the same round
    (repeated requests in one window): the ratio is then median / median, with no per-round spread.
    Medians of no samples (every round refused) are NaN.
    """

    key: str
    label: str
    unit: str
    better: Better
    subject_raw: list[float]
    reference_raw: list[float] = field(default_factory=list)
    reference_name: str = ""
    checked: bool = True
    goal: Goal | None = None
    rounds: str = ""
    unstable: str | None = None
    paired: bool = True

    @property
    def subject(self) -> float:
        """Median of the subject's samples (NaN when there are none)."""
        return median(self.subject_raw) if self.subject_raw else math.nan

    @property
    def reference(self) -> float | None:
        """Median of the reference's samples, None when there is no reference."""
        return median(self.reference_raw) if self.reference_raw else None

    @property
    def round_ratios(self) -> list[float] | None:
        """``subject[i] / reference[i]`` per round when both have the same rounds and no reference
        sample is 0; None otherwise (no reference, or samples not paired by round)."""
        try:
            if not self.paired or not self.reference_raw:
                return None
            return paired_ratios(self.subject_raw, self.reference_raw)
        except ValueError:
            return None

    @property
    def ratio(self) -> float | None:
        """Median of :attr:`round_ratios`; for unpaired samples median(subject) / median(reference);
        None without a reference or when the reference median is 0."""
        paired = self.round_ratios
        if paired:
            return median(paired)
        ref = self.reference
        return self.subject / ref if ref and self.subject_raw else None

    @property
    def spread(self) -> Spread | None:
        """Spread of the per-round ratios, or of the subject's samples without paired reference
        samples; None without samples (or with non-finite ones, e.g. an event that never came)."""
        values = self.round_ratios or self.subject_raw
        try:
            return spread(values)
        except ValueError:
            return None

    @property
    def compared(self) -> float | None:
        """The number two runs compare: the ratio when there is one, else the subject's median."""
        ratio = self.ratio
        return ratio if ratio is not None else (self.subject if self.subject_raw else None)

    def to_json(self) -> dict[str, Any]:
        """Serialisable form with the medians, ratio and spread spelled out."""
        data = asdict(self)
        spread_ = self.spread
        data.update(
            subject=_finite(self.subject),
            reference=self.reference,
            ratio=self.ratio,
            spread=spread_.to_json() if spread_ is not None else None,
        )
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Figure:
        """Inverse of :meth:`to_json`."""
        goal = Goal(**data["goal"]) if data.get("goal") else None
        return Figure(
            key=data["key"],
            label=data["label"],
            unit=data["unit"],
            better=data["better"],
            subject_raw=list(data["subject_raw"]),
            reference_raw=list(data.get("reference_raw", [])),
            reference_name=data.get("reference_name", ""),
            checked=bool(data.get("checked", True)),
            goal=goal,
            rounds=data.get("rounds", ""),
            unstable=data.get("unstable"),
            # Figures stored before issue 16 (no "rounds") paired nothing by round.
            paired=bool(data.get("paired", "rounds" in data)),
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Section:
    """The outcome of one benchmark: its figures plus when, where and how it was measured.

    ``rounds`` holds every comparison's rounds with their noise (``Rounds.to_json``), keyed by the
    name figures refer to; ``reproducible`` is True when every figure came from enough quiet rounds,
    False when it did not (written anyway with ``--force``: ``stamp`` says so), and None for
    sections measured before the quiet gate existed (no noise recorded).
    """

    name: str
    title: str
    date: str
    commit: str
    command: str
    layout: str
    figures: list[Figure]
    notes: list[str] = field(default_factory=list)
    rounds: dict[str, Any] = field(default_factory=dict)
    reproducible: bool | None = None
    stamp: str = ""

    def unstable(self) -> list[str]:
        """``"key: reason"`` for each figure that is not to be reported."""
        return [f"{f.key}: {f.unstable}" for f in self.figures if f.unstable]

    def to_json(self) -> dict[str, Any]:
        """Serialisable form."""
        return {
            **{k: v for k, v in asdict(self).items() if k != "figures"},
            "figures": [f.to_json() for f in self.figures],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Section:
        """Inverse of :meth:`to_json`."""
        return Section(
            name=data["name"],
            title=data["title"],
            date=data["date"],
            commit=data["commit"],
            command=data["command"],
            layout=data["layout"],
            figures=[Figure.from_json(f) for f in data["figures"]],
            notes=list(data.get("notes", [])),
            rounds=dict(data.get("rounds", {})),
            reproducible=data.get("reproducible"),
            stamp=data.get("stamp", ""),
        )


def load_sections(path: Path = RESULTS_JSON) -> dict[str, Section]:
    """Sections stored by earlier runs, keyed by benchmark name ({} when there is no file)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {name: Section.from_json(sec) for name, sec in data["sections"].items()}


def save_sections(sections: dict[str, Section], machine: dict[str, Any], path: Path = RESULTS_JSON) -> None:
    """Write every section (and the machine description) to results.json."""
    payload = {"machine": machine, "sections": {n: s.to_json() for n, s in sections.items()}}
    path.write_text(json.dumps(payload, indent=1) + "\n")


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "-" if value is None else str(value)
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _raw(values: Iterable[float]) -> str:
    return ", ".join(_fmt(v) for v in values) or "-"


def _spread_text(fig: Figure) -> str:
    """``min-max (±x % of the median)`` of the ratio's (or subject's) rounds, "-" without."""
    sp = fig.spread
    if sp is None:
        return "-"
    unit = "x" if fig.round_ratios else fig.unit
    rel = f", range {sp.range_rel:.0%}, IQR {sp.iqr_rel:.0%}" if math.isfinite(sp.range_rel) else ""
    return f"{_fmt(sp.lo)}-{_fmt(sp.hi, unit)} (n={sp.n}{rel})"


def _stamp(sec: Section) -> str:
    if sec.reproducible is None:
        return "NOT REPRODUCIBLE: measured before the quiet gate (issue 16), no per-round noise recorded"
    if not sec.reproducible:
        return "NOT REPRODUCIBLE: " + (sec.stamp or "; ".join(sec.unstable()) or "fewer rounds than required")
    return ""


def render_markdown(sections: dict[str, Section], machine: dict[str, Any], order: Sequence[str]) -> str:
    """RESULTS.md: machine, goals, then per benchmark a table of medians, ratio, spread and raw samples."""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python -m benchmarks.run` (see README.md for what each figure means and how",
        "the rounds are gated). Every ratio is the median of per-round subject / reference ratios,",
        "the sides alternating within each round; *spread* is min-max of those per-round ratios (of",
        "the subject's samples where there is no reference) with range and IQR relative to the",
        "median. Only rounds the quiet gate let through count. ✅/❌ is the goal from issue 6",
        "(authn: issue 12).",
        "",
        f"Machine: {machine.get('description', 'unknown')}",
        "",
        "Tools: " + ", ".join(f"{k}: {v}" for k, v in machine.get("tools", {}).items()),
        "",
    ]
    if "cpufreq" in machine:
        lines += [
            f"CPU frequency: {machine['cpufreq']}",
            "",
            f"Quiet gate per round: {machine.get('gate', '-')}",
            "",
        ]
    goals = [(s, f) for name in order if (s := sections.get(name)) for f in s.figures if f.goal]
    if goals:
        lines += [
            "## Goals",
            "",
            "| goal | figure | value | spread | met |",
            "| --- | --- | --- | --- | --- |",
        ]
        for goal_sec, fig in goals:
            assert fig.goal is not None
            if fig.unstable:
                lines.append(f"| {fig.goal.text} | {fig.label} | unstable: {fig.unstable} | - | - |")
                continue
            value = _fmt(fig.ratio, "x") if "x" in fig.goal.text else _fmt(fig.subject, fig.unit)
            mark = "✅" if fig.goal.met else "❌"
            if goal_sec.reproducible is not True:
                mark += " (not reproducible)"
            lines.append(f"| {fig.goal.text} | {fig.label} | {value} | {_spread_text(fig)} | {mark} |")
        lines.append("")
    for name in order:
        sec = sections.get(name)
        if sec is None:
            continue
        lines += [f"## {sec.title}", ""]
        if stamp := _stamp(sec):
            lines += [f"**{stamp}**", ""]
        lines += [
            f"- date: {sec.date}, commit: `{sec.commit}`",
            f"- command: `{sec.command}`",
            f"- CPUs: {sec.layout}",
        ]
        if sec.rounds:
            lines.append("- rounds: " + _rounds_summary(sec.rounds))
        lines += [f"- {note}" for note in sec.notes]
        lines += [
            "",
            "| figure | subject | reference | ratio | spread | goal | raw subject | raw reference |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for fig in sec.figures:
            if fig.unstable:
                lines.append(f"| {fig.label} | unstable: {fig.unstable} | | | | | | |")
                continue
            goal = f"{fig.goal.text} {'✅' if fig.goal.met else '❌'}" if fig.goal else ""
            ref = f"{_fmt(fig.reference, fig.unit)} ({fig.reference_name})" if fig.reference_raw else "-"
            lines.append(
                f"| {fig.label} | {_fmt(fig.subject, fig.unit)} | {ref} | {_fmt(fig.ratio, 'x')} "
                f"| {_spread_text(fig)} | {goal} | {_raw(fig.subject_raw)} | {_raw(fig.reference_raw)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _rounds_summary(rounds: dict[str, Any]) -> str:
    """Kept/attempted rounds over the section and the worst noise of a kept round."""
    kept = sum(int(r["quiet"]) for r in rounds.values())
    attempted = sum(int(r["attempted"]) for r in rounds.values())
    quiet = [rec["noise"] for r in rounds.values() for rec in r["records"] if rec["quiet"]]
    worst = ""
    if quiet:
        worst = (
            f"; worst kept round: other processes {max(n['other_cpu'] for n in quiet):.2f} cores, "
            f"steal {max(n['steal_pct'] for n in quiet):.1f} %, "
            f"load {max(max(n['load1_before'], n['load1_after']) for n in quiet):.2f}"
        )
    return f"{kept} quiet of {attempted} attempted{worst}"


def baseline_ratios(sections: dict[str, Section]) -> dict[str, dict[str, Any]]:
    """The checked, stable ratios of ``sections`` in baseline.json's shape:
    ``{key: {ratio, better, min, max, n}}`` (min/max: the per-round ratios' range)."""
    out: dict[str, dict[str, Any]] = {}
    for sec in sections.values():
        for fig in sec.figures:
            ratio, spread_ = fig.ratio, fig.spread
            if not fig.checked or fig.unstable or ratio is None or spread_ is None or not fig.round_ratios:
                continue
            out[fig.key] = {
                "ratio": round(ratio, 4),
                "better": fig.better,
                "min": round(spread_.lo, 4),
                "max": round(spread_.hi, 4),
                "n": spread_.n,
            }
    return out


def regressions(
    sections: Iterable[Section], baseline: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """(regressions, figures not checked and why) of the checked ratios against ``baseline``.

    A ratio regresses when :func:`benchmarks.stats.is_regression` says so for the baseline's
    per-round range and this run's per-round ratios.  Not checked: unstable figures, figures
    without paired rounds, and baseline entries without a range (stored before issue 16).
    """
    found: list[str] = []
    skipped: list[str] = []
    for sec in sections:
        for fig in sec.figures:
            base = baseline.get(fig.key)
            if not fig.checked or base is None:
                continue
            if fig.unstable:
                skipped.append(f"{fig.key}: unstable ({fig.unstable})")
                continue
            new = spread(fig.round_ratios) if fig.round_ratios else None
            if new is None:
                skipped.append(f"{fig.key}: no per-round ratios")
                continue
            if "min" not in base or "max" not in base:
                skipped.append(
                    f"{fig.key}: baseline {base['ratio']:.3f} has no per-round range (from before issue 16); "
                    "refresh it with --update-baseline from a quiet run"
                )
                continue
            old = Spread(
                int(base.get("n", 1)), base["ratio"], base["min"], base["max"], base["min"], base["max"]
            )
            if is_regression(old, new, fig.better):
                limit = regression_limit(old, new, fig.better)
                found.append(
                    f"{fig.key}: ratio {new.median:.3f} (rounds {new.lo:.3f}-{new.hi:.3f}) is worse than the "
                    f"baseline's rounds {old.lo:.3f}-{old.hi:.3f} beyond this run's spread "
                    f"(limit {limit:.3f}, {fig.better} is better)"
                )
    return found, skipped
