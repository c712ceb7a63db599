"""``python -m benchmarks.repro``: does a figure reproduce? Two runs, every median side by side.

By default it runs the quick figures twice in a row (``proxy`` for GET and the 2 KB list, ``authn``
and ``coldstart``, all in quiet-gated rounds: :mod:`benchmarks.rounds`) and compares them; with
``--compare A B`` it compares two run files that ``python -m benchmarks.run`` (``make bench``)
saved in ``build/bench/`` (``--compare`` alone: the two newest).  Neither touches results.json,
RESULTS.md or the baseline.

Per figure it prints both medians (the ratio where the figure has a reference, else the subject's
median), their relative difference (:func:`benchmarks.stats.relative_difference`) and a verdict:
``reproduces`` (≤ 10 %), ``DIFFERS``, or ``UNSTABLE: why`` when either run could not get enough
quiet rounds for it.  Exit status 0 when every checked figure (the ones the baseline check uses)
reproduces, 1 otherwise, 2 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import Section
from benchmarks.run import RUNS_DIR, load_run, measure, parse_args
from benchmarks.stats import REPRO_TOLERANCE, relative_difference

#: What ``python -m benchmarks.repro`` runs twice when given no names (~5-6 min per run, quiet).
QUICK = ["proxy", "authn", "coldstart"]
QUICK_TARGETS = "get,list-2k"


@dataclass(frozen=True)
class Comparison:
    """One figure in two runs: the compared numbers (ratio, else subject median) and the verdict."""

    key: str
    label: str
    checked: bool
    first: float | None
    second: float | None
    verdict: str

    @property
    def difference(self) -> float | None:
        """Relative difference of the two numbers, None when one is missing."""
        if self.first is None or self.second is None:
            return None
        return relative_difference(self.first, self.second)

    @property
    def ok(self) -> bool:
        """Whether the figure reproduced."""
        return self.verdict == "reproduces"


def compare_runs(
    first: dict[str, Section], second: dict[str, Section], tolerance: float = REPRO_TOLERANCE
) -> list[Comparison]:
    """Every figure of ``first`` against the same key in ``second`` (figures only in ``second``
    are listed as missing from the first run)."""
    figs_a = {f.key: f for s in first.values() for f in s.figures}
    figs_b = {f.key: f for s in second.values() for f in s.figures}
    # A section can be not reproducible as a whole (--quick, fewer than 5 rounds): its stable
    # figures still do not count as reproduced.
    whole = {
        (i, f.key): s.stamp or "not reproducible"
        for i, run in ((1, first), (2, second))
        for s in run.values()
        if s.reproducible is False
        for f in s.figures
        if not f.unstable
    }
    out = []
    for key in [*figs_a, *(k for k in figs_b if k not in figs_a)]:
        a, b = figs_a.get(key), figs_b.get(key)
        fig = a or b
        assert fig is not None
        va = a.compared if a is not None else None
        vb = b.compared if b is not None else None
        unstable = [f"run {i}: {f.unstable}" for i, f in ((1, a), (2, b)) if f is not None and f.unstable]
        unstable += [f"run {i}: {whole[i, key]}" for i in (1, 2) if (i, key) in whole]
        if a is None or b is None:
            verdict = f"missing from run {1 if a is None else 2}"
        elif unstable:
            verdict = "UNSTABLE: " + "; ".join(unstable)
        elif va is None or vb is None:
            verdict = "no value"
        elif relative_difference(va, vb) <= tolerance:
            verdict = "reproduces"
        else:
            verdict = f"DIFFERS by more than {tolerance:.0%}"
        out.append(Comparison(key, fig.label, fig.checked, va, vb, verdict))
    return out


def report(rows: list[Comparison]) -> str:
    """The comparison as an aligned text table, then a one-line summary."""
    lines = [f"{'figure':<44} {'run 1':>10} {'run 2':>10} {'diff':>7}  verdict"]
    for row in rows:
        a = f"{row.first:.3f}" if row.first is not None else "-"
        b = f"{row.second:.3f}" if row.second is not None else "-"
        diff = f"{row.difference:.1%}" if row.difference is not None else "-"
        flag = "" if row.checked else " (unchecked figure)"
        lines.append(f"{row.key:<44} {a:>10} {b:>10} {diff:>7}  {row.verdict}{flag}")
    checked = [r for r in rows if r.checked]
    good = sum(r.ok for r in checked)
    lines.append(
        f"reproducible: {good}/{len(checked)} checked figures within {REPRO_TOLERANCE:.0%}; "
        f"{sum(r.ok for r in rows)}/{len(rows)} figures in all"
    )
    return "\n".join(lines)


def newest_runs(directory: Path = RUNS_DIR, count: int = 2) -> list[Path]:
    """The ``count`` newest run files (oldest first). Raises FileNotFoundError when fewer exist."""
    runs = sorted(directory.glob("run-*.json"))
    if len(runs) < count:
        raise FileNotFoundError(f"need {count} run files in {directory}, found {len(runs)}")
    return runs[-count:]


def main(argv: list[str] | None = None) -> int:
    """Run (or load) two runs and print the comparison; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.repro", description=__doc__)
    parser.add_argument("--compare", nargs="*", type=Path, help="compare run files (none: the two newest)")
    known, rest = parser.parse_known_args(argv)
    if known.compare is not None:
        if len(known.compare) not in (0, 2):
            parser.error("--compare takes two run files, or none for the two newest")
        files = known.compare or newest_runs()
        runs = [load_run(path) for path in files]
        print(f"comparing {files[0]} and {files[1]}")
    else:
        args = parse_args(rest)
        if not args.names:
            args.names = list(QUICK)
            if args.targets is None:
                args.targets = tuple(QUICK_TARGETS.split(","))
        command = "python -m benchmarks.repro " + " ".join(rest)
        runs = []
        for i in (1, 2):
            print(f"==== run {i} of 2", flush=True)
            run = measure(args, command)
            if run.failed:
                print(f"benchmarks that could not run: {run.failed}", file=sys.stderr)
                return 2
            runs.append({s.name: s for s in run.sections})
    rows = compare_runs(runs[0], runs[1])
    print(report(rows))
    return 0 if all(r.ok for r in rows if r.checked) else 1


if __name__ == "__main__":
    sys.exit(main())
