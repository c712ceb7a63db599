"""``python -m benchmarks.run [names...]``: run benchmarks, update RESULTS.md, check against the baseline.

Exit status: 0 when every checked ratio is within 20 % of ``baseline.json``; 1 on a regression;
2 when a benchmark could not run.  ``--update-baseline`` stores this run's ratios as the baseline.
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
from pathlib import Path
from types import ModuleType

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
from benchmarks.results import (
    BASELINE_JSON,
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
    CpuLayout,
    ensure_system_tools,
    git_commit,
    machine_description,
    raise_fd_limit,
    tool_versions,
)

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line: benchmark names (default all) and the knobs of :class:`Context`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per figure (median reported)"
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="granian workers for the gateway")
    parser.add_argument(
        "--server-cpus", default="0", help="taskset CPU list for servers under test ('' = unpinned)"
    )
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list for wrk, nginx and clients")
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 1 s runs: a smoke test, not a measurement"
    )
    parser.add_argument(
        "--update-baseline", action="store_true", help="store this run's ratios as the baseline"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the regression check")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")
    return args


def _run_one(name: str, ctx: Context, command: str) -> Section:
    module = BENCHMARKS[name]
    runner: Callable[[Context], Outcome] = module.run
    outcome = runner(ctx)
    return Section(
        name=name,
        title=str(module.TITLE),
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=git_commit(),
        command=command,
        layout=ctx.layout.describe(),
        figures=outcome.figures,
        notes=outcome.notes,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; see the module docstring for the exit status."""
    args = parse_args(argv)
    names = args.names or list(BENCHMARKS)
    if args.quick:
        args.rounds, args.duration = 1, 1.0
    tools = ensure_system_tools()
    raise_fd_limit()
    layout = CpuLayout(server=args.server_cpus, client=args.client_cpus)
    if layout.client:
        # The harness itself is a client (stream reads, watch clients): keep it off the server's core.
        os.sched_setaffinity(0, {int(c) for c in layout.client.split(",")})
    command = "python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    machine = {"description": machine_description(), "tools": tool_versions(tools)}
    sections = load_sections()
    fresh: list[Section] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kuberay-bench-") as tmp:
        ctx = Context(tools, layout, Path(tmp), args.rounds, args.duration, args.workers, args.quick)
        try:
            for name in names:
                print(f"== {name}", flush=True)
                try:
                    section = _run_one(name, ctx, command.strip())
                except Exception:
                    traceback.print_exc()
                    failed.append(name)
                    continue
                fresh.append(section)
                sections[name] = section
                for fig in section.figures:
                    ratio = f" ratio {fig.ratio:.3f}" if fig.ratio is not None else ""
                    print(f"   {fig.label}: {fig.subject:.3f} {fig.unit}{ratio}", flush=True)
                save_sections(sections, machine)
                soak = soak_section(RESULTS_MD.read_text()) if RESULTS_MD.exists() else ""
                RESULTS_MD.write_text(
                    render_markdown(sections, machine, list(BENCHMARKS))
                    + ("\n" + soak + "\n" if soak else "")
                )
        finally:
            ctx.close()
    if args.update_baseline:
        baseline = {}
        with contextlib.suppress(FileNotFoundError):
            baseline = json.loads(BASELINE_JSON.read_text())
        baseline.update(baseline_ratios({s.name: s for s in fresh}))
        BASELINE_JSON.write_text(json.dumps(dict(sorted(baseline.items())), indent=1) + "\n")
    status = 2 if failed else 0
    if failed:
        print(f"benchmarks that could not run: {failed}", file=sys.stderr)
    if not args.no_check and not args.update_baseline and BASELINE_JSON.exists():
        problems = regressions(fresh, json.loads(BASELINE_JSON.read_text()))
        for problem in problems:
            print("REGRESSION " + problem, file=sys.stderr)
        if problems:
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
