"""``python -m benchmarks.run [names...]``: run benchmarks in quiet-gated rounds, update RESULTS.md
from reproducible sections only, check the ratios against the baseline's spread.

Every comparison runs in alternating rounds (:mod:`benchmarks.rounds`); a round taken while other
processes used the CPU or the hypervisor stole it (:mod:`benchmarks.noise`) is refused and taken
again, at most ``--max-attempts`` rounds per figure.  A section is *reproducible* when every figure
got ``--rounds`` (≥ 5) quiet rounds.  Only reproducible sections are written to ``results.json``
and ``RESULTS.md``; ``--force`` writes the others too, stamped "NOT REPRODUCIBLE".  Every run, written
or not, is saved whole (per-round noise included) to ``build/bench/run-<UTC time>.json``, which
``python -m benchmarks.repro --compare`` reads.

Exit status: 0 when every section was reproducible and no checked ratio regressed; 1 on a
regression (:func:`benchmarks.results.regressions`); 2 when a benchmark could not run; 3 when a
section was not reproducible (so not written, unless ``--force``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shlex
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import (
    bench_authn,
    bench_coldstart,
    bench_fakekube,
    bench_proxy,
    bench_simulation,
    bench_stream,
    bench_watch,
    bench_writes,
)
from benchmarks.context import Context, Outcome
from benchmarks.noise import MAX_OTHER_CPU, MAX_STEAL_PCT, QuietGate, describe_cpufreq
from benchmarks.results import (
    BASELINE_JSON,
    RESULTS_JSON,
    RESULTS_MD,
    Section,
    baseline_ratios,
    load_sections,
    regressions,
    render_markdown,
    save_sections,
    soak_section,
)
from benchmarks.system import (
    REPO,
    CpuLayout,
    ensure_system_tools,
    git_commit,
    machine_description,
    raise_fd_limit,
    tool_versions,
)
from benchmarks.upstream import TARGETS

BENCHMARKS: dict[str, ModuleType] = {
    "proxy": bench_proxy,
    "authn": bench_authn,
    "stream": bench_stream,
    "watch": bench_watch,
    "writes": bench_writes,
    "coldstart": bench_coldstart,
    "fakekube": bench_fakekube,
    "simulation": bench_simulation,
}
#: Issue 16: every ratio from at least this many quiet alternating rounds.
MIN_ROUNDS = 5
RUNS_DIR = REPO / "build" / "bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line: benchmark names (default all) and the knobs of :class:`Context`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=MIN_ROUNDS,
        help=f"quiet alternating rounds per figure (median reported; < {MIN_ROUNDS} is never written)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=None,
        help="rounds taken at most per figure, refused ones included (default: 2 x --rounds)",
    )
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=MAX_OTHER_CPU,
        help="quiet gate: cores other processes may use on average during a round",
    )
    parser.add_argument(
        "--max-steal", type=float, default=MAX_STEAL_PCT, help="quiet gate: steal %% allowed during a round"
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="granian workers for the gateway")
    parser.add_argument(
        "--targets", default="", help=f"proxy section only: comma-separated subset of {', '.join(TARGETS)}"
    )
    parser.add_argument(
        "--server-cpus", default="0", help="taskset CPU list for servers under test ('' = unpinned)"
    )
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list for wrk, nginx and clients")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round, 1 s runs: a smoke test, not a measurement (never written)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write sections that are not reproducible too, stamped NOT REPRODUCIBLE",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="leave results.json and RESULTS.md alone (run file only)"
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="store this run's ratios and per-round ranges as the baseline (reproducible sections only)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the regression check")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")
    targets = [t for t in args.targets.split(",") if t]
    if bad := sorted(set(targets) - set(TARGETS)):
        parser.error(f"unknown targets {bad}; choose from {list(TARGETS)}")
    args.targets = tuple(targets) or None
    if args.quick:
        args.rounds, args.duration = 1, 1.0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.max_attempts is None:
        args.max_attempts = 2 * args.rounds
    if args.max_attempts < args.rounds:
        parser.error("--max-attempts must be at least --rounds")
    return args


def not_reproducible(section: Section, rounds: int, quick: bool) -> list[str]:
    """Why ``section`` may not be written as reproducible (empty when it may): a quick run, fewer
    than :data:`MIN_ROUNDS` rounds asked for, unstable figures or round sets."""
    why = []
    if quick:
        why.append("--quick run")
    if rounds < MIN_ROUNDS:
        why.append(f"{rounds} rounds asked, {MIN_ROUNDS} needed")
    why += section.unstable()
    named = {f.rounds for f in section.figures if f.unstable}
    why += [
        f"{name}: {r['unstable']}"
        for name, r in section.rounds.items()
        if r["unstable"] and name not in named
    ]
    return why


def _run_one(name: str, ctx: Context, command: str) -> Section:
    module = BENCHMARKS[name]
    runner: Callable[[Context], Outcome] = module.run
    ctx.take_round_log()
    outcome = runner(ctx)
    log = ctx.take_round_log()
    for fig in outcome.figures:
        if fig.rounds and fig.rounds not in log:
            raise RuntimeError(f"{fig.key} names rounds {fig.rounds!r}, which {name} did not record")
        if fig.rounds:
            fig.unstable = log[fig.rounds].unstable
    section = Section(
        name=name,
        title=str(module.TITLE),
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=git_commit(),
        command=command,
        layout=ctx.layout.describe(),
        figures=outcome.figures,
        notes=outcome.notes,
        rounds={n: r.to_json() for n, r in log.items()},
    )
    why = not_reproducible(section, ctx.rounds, ctx.quick)
    section.reproducible = not why
    section.stamp = "; ".join(why)
    return section


@dataclass
class Run:
    """One invocation's fresh sections, the benchmarks that failed, and where it was saved."""

    sections: list[Section] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    saved: Path | None = None


def save_run(run: Run, directory: Path = RUNS_DIR) -> Path:
    """Write ``run`` whole (every figure, every round's noise) to ``directory/run-<UTC>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"run-{stamp}.json"
    payload = {
        "machine": run.machine,
        "command": run.command,
        "failed": run.failed,
        "sections": {s.name: s.to_json() for s in run.sections},
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def load_run(path: Path) -> dict[str, Section]:
    """The sections of a run file written by :func:`save_run`."""
    data = json.loads(path.read_text())
    return {name: Section.from_json(sec) for name, sec in data["sections"].items()}


def _print_section(section: Section) -> None:
    for fig in section.figures:
        if fig.unstable:
            print(f"   {fig.label}: UNSTABLE: {fig.unstable}", flush=True)
            continue
        ratio = f" ratio {fig.ratio:.3f}" if fig.ratio is not None else ""
        sp = fig.spread
        spread_ = f" (rounds {sp.lo:.3f}-{sp.hi:.3f}, n={sp.n})" if sp is not None else ""
        print(f"   {fig.label}: {fig.subject:.3f} {fig.unit}{ratio}{spread_}", flush=True)
    for name, rounds in section.rounds.items():
        refused = [rec for rec in rounds["records"] if not rec["quiet"]]
        print(f"   rounds {name}: {rounds['quiet']} quiet of {rounds['attempted']} attempted", flush=True)
        for rec in refused:
            print(f"     refused round {rec['attempt']}: {'; '.join(rec['refused'])}", flush=True)


def measure(args: argparse.Namespace, command: str) -> Run:
    """Run the benchmarks ``args`` names (all by default) and save the run file; writes nothing else."""
    names = args.names or list(BENCHMARKS)
    tools = ensure_system_tools()
    raise_fd_limit()
    layout = CpuLayout(server=args.server_cpus, client=args.client_cpus)
    if layout.client:
        # The harness itself is a client (stream reads, watch clients): keep it off the server's core.
        os.sched_setaffinity(0, {int(c) for c in layout.client.split(",")})
    machine = {
        "description": machine_description(),
        "tools": tool_versions(tools),
        "cpufreq": describe_cpufreq(),
        "gate": f"other processes <= {args.max_other_cpu:g} cores, steal <= {args.max_steal:g} %",
    }
    run = Run(machine=machine, command=command)
    gate = QuietGate(max_other_cpu=args.max_other_cpu, max_steal_pct=args.max_steal)
    with tempfile.TemporaryDirectory(prefix="kuberay-bench-") as tmp:
        ctx = Context(
            tools,
            layout,
            Path(tmp),
            args.rounds,
            args.duration,
            args.workers,
            args.quick,
            gate=gate,
            max_attempts=args.max_attempts,
            targets=args.targets,
        )
        try:
            for name in names:
                print(f"== {name}", flush=True)
                try:
                    section = _run_one(name, ctx, command)
                except Exception:
                    traceback.print_exc()
                    run.failed.append(name)
                    continue
                run.sections.append(section)
                _print_section(section)
        finally:
            ctx.close()
    run.saved = save_run(run)
    print(f"run saved to {run.saved}", flush=True)
    return run


def write_results(
    run: Run, force: bool, results_json: Path = RESULTS_JSON, results_md: Path = RESULTS_MD
) -> list[str]:
    """Store the reproducible sections of ``run`` (all of them with ``force``, the others stamped)
    in results.json and re-render RESULTS.md; returns ``"name: why"`` for each section left out.
    Neither file is touched when every section is left out."""
    sections = load_sections(results_json)
    left_out = []
    for section in run.sections:
        if not section.reproducible:
            if not force:
                left_out.append(f"{section.name}: {section.stamp}")
                continue
            section.stamp = "written with --force: " + section.stamp
        sections[section.name] = section
    if len(left_out) < len(run.sections):
        save_sections(sections, run.machine, results_json)
        soak = soak_section(results_md.read_text()) if results_md.exists() else ""
        results_md.write_text(
            render_markdown(sections, run.machine, list(BENCHMARKS)) + ("\n" + soak + "\n" if soak else "")
        )
    return left_out


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; see the module docstring for the exit status."""
    args = parse_args(argv)
    command = "python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    run = measure(args, command.strip())
    status = 0
    left_out: list[str] = []
    if not args.no_write:
        left_out = write_results(run, args.force)
        for why in left_out:
            print(f"NOT WRITTEN to RESULTS.md (not reproducible): {why}", file=sys.stderr)
    if args.update_baseline:
        stable = {s.name: s for s in run.sections if s.reproducible}
        for s in run.sections:
            if not s.reproducible:
                print(f"baseline not updated from {s.name}: {s.stamp}", file=sys.stderr)
        baseline = {}
        with contextlib.suppress(FileNotFoundError):
            baseline = json.loads(BASELINE_JSON.read_text())
        baseline.update(baseline_ratios(stable))
        BASELINE_JSON.write_text(json.dumps(dict(sorted(baseline.items())), indent=1) + "\n")
    if not args.no_check and not args.update_baseline and BASELINE_JSON.exists():
        problems, skipped = regressions(run.sections, json.loads(BASELINE_JSON.read_text()))
        for note in skipped:
            print("not checked " + note, file=sys.stderr)
        for problem in problems:
            print("REGRESSION " + problem, file=sys.stderr)
        if problems:
            status = 1
    unreproducible = [s for s in run.sections if not s.reproducible]
    if unreproducible and not args.force:
        status = status or 3
        for s in unreproducible:
            print(f"NOT REPRODUCIBLE {s.name}: {s.stamp}", file=sys.stderr)
    if run.failed:
        print(f"benchmarks that could not run: {run.failed}", file=sys.stderr)
        status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
