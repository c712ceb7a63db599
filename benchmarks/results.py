"""Figures, the results store, RESULTS.md and the regression check against the committed baseline.

A *figure* is one measured quantity for the subject (the gateway, or fakekube) and, where one
exists, the same quantity for its reference measured in the same run; ``ratio = subject /
reference``.  The regression check compares ratios only (absolute numbers move with the machine's
load): a checked ratio fails when it is more than 20 % worse than in ``baseline.json``, i.e. below
0.8 x baseline for a higher-is-better figure, above baseline / 0.8 for a lower-is-better one.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

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
TOLERANCE = 0.20

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
    """One figure: medians of the raw samples for subject and reference, and their ratio.

    ``key`` is stable (used by the baseline); ``checked`` says whether the regression check
    applies to its ratio (ratios of sub-millisecond or near-zero quantities are too noisy).
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

    @property
    def subject(self) -> float:
        """Median of the subject's samples."""
        return median(self.subject_raw)

    @property
    def reference(self) -> float | None:
        """Median of the reference's samples, None when there is no reference."""
        return median(self.reference_raw) if self.reference_raw else None

    @property
    def ratio(self) -> float | None:
        """subject / reference, None without a reference or when the reference is 0."""
        ref = self.reference
        return self.subject / ref if ref else None

    def to_json(self) -> dict[str, Any]:
        """Serialisable form with the medians and ratio spelled out."""
        data = asdict(self)
        data.update(subject=self.subject, reference=self.reference, ratio=self.ratio)
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
        )


@dataclass
class Section:
    """The outcome of one benchmark: its figures plus when, where and how it was measured."""

    name: str
    title: str
    date: str
    commit: str
    command: str
    layout: str
    figures: list[Figure]
    notes: list[str] = field(default_factory=list)

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
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _raw(values: Iterable[float]) -> str:
    return ", ".join(_fmt(v) for v in values) or "-"


def render_markdown(sections: dict[str, Section], machine: dict[str, Any], order: Sequence[str]) -> str:
    """RESULTS.md: machine, then per benchmark a table of medians, ratio, goal and raw samples."""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python -m benchmarks.run` (see README.md for what each figure means).",
        "Every ratio is subject / reference measured alternately in the same run; raw samples are",
        "the per-round values whose median is shown. ✅/❌ is the goal from issue 6 (authn: issue 12).",
        "",
        f"Machine: {machine.get('description', 'unknown')}",
        "",
        "Tools: " + ", ".join(f"{k}: {v}" for k, v in machine.get("tools", {}).items()),
        "",
    ]
    goals = [(s, f) for name in order if (s := sections.get(name)) for f in s.figures if f.goal]
    if goals:
        lines += ["## Goals", "", "| goal | figure | value | met |", "| --- | --- | --- | --- |"]
        for _sec, fig in goals:
            assert fig.goal is not None
            value = _fmt(fig.ratio, "x") if "x" in fig.goal.text else _fmt(fig.subject, fig.unit)
            lines.append(f"| {fig.goal.text} | {fig.label} | {value} | {'✅' if fig.goal.met else '❌'} |")
        lines.append("")
    for name in order:
        sec = sections.get(name)
        if sec is None:
            continue
        lines += [
            f"## {sec.title}",
            "",
            f"- date: {sec.date}, commit: `{sec.commit}`",
            f"- command: `{sec.command}`",
            f"- CPUs: {sec.layout}",
        ]
        lines += [f"- {note}" for note in sec.notes]
        lines += [
            "",
            "| figure | subject | reference | ratio | goal | raw subject | raw reference |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for fig in sec.figures:
            goal = f"{fig.goal.text} {'✅' if fig.goal.met else '❌'}" if fig.goal else ""
            ref = f"{_fmt(fig.reference, fig.unit)} ({fig.reference_name})" if fig.reference_raw else "-"
            lines.append(
                f"| {fig.label} | {_fmt(fig.subject, fig.unit)} | {ref} | {_fmt(fig.ratio, 'x')} | {goal} "
                f"| {_raw(fig.subject_raw)} | {_raw(fig.reference_raw)} |"
            )
        lines.append("")
    return "\n".join(lines)


def baseline_ratios(sections: dict[str, Section]) -> dict[str, dict[str, Any]]:
    """The checked ratios of ``sections`` in baseline.json's shape: {key: {ratio, better}}."""
    return {
        fig.key: {"ratio": round(ratio, 4), "better": fig.better}
        for sec in sections.values()
        for fig in sec.figures
        if fig.checked and (ratio := fig.ratio) is not None
    }


def regressions(
    sections: Iterable[Section], baseline: dict[str, dict[str, Any]], tolerance: float = TOLERANCE
) -> list[str]:
    """Messages for each checked ratio more than ``tolerance`` worse than its baseline value."""
    found = []
    for sec in sections:
        for fig in sec.figures:
            base = baseline.get(fig.key)
            ratio = fig.ratio
            if not fig.checked or base is None or ratio is None:
                continue
            if fig.better == "higher":
                limit = base["ratio"] * (1 - tolerance)
                bad = ratio < limit
            else:
                limit = base["ratio"] / (1 - tolerance)
                bad = ratio > limit
            if bad:
                found.append(
                    f"{fig.key}: ratio {ratio:.3f} is worse than the baseline {base['ratio']:.3f} "
                    f"by more than {tolerance:.0%} (limit {limit:.3f}, {fig.better} is better)"
                )
    return found
