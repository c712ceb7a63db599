"""Throughput and latency: the gateway against ``kubectl proxy`` in front of the static nginx upstream.

For GET of one RayCluster and RayClusterLists of 2 KB, 1 MB and 50 MB, at 1 and 32 connections,
wrk runs against each proxy in turn (the order alternates every round; rounds taken under load
are refused and taken again, :mod:`benchmarks.rounds`), so both see the same machine load.
Figures: requests/s (higher is better), p50 and p99 latency (lower is better).
Goal (issue 6): at 32 connections, GET and 2 KB list throughput ≥ 1.0x and p99 ≤ 1.2x kubectl proxy.
"""

from __future__ import annotations

from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal
from benchmarks.servers import start_gateway, start_kubectl_proxy
from benchmarks.system import running
from benchmarks.upstream import TARGETS
from benchmarks.wrk import WrkResult, run_wrk

TITLE = "Proxy throughput and latency: gateway vs kubectl proxy (static nginx upstream)"
CONNECTIONS = (1, 32)
GOAL_TARGETS = ("get", "list-2k")


def _goal(target: str, conns: int, metric: str, ratio: float | None) -> Goal | None:
    if target not in GOAL_TARGETS or conns != 32 or ratio is None:
        return None
    if metric == "rps":
        return Goal("≥ 1.0x kubectl proxy", ratio >= 1.0)
    if metric == "p99_ms":
        return Goal("≤ 1.2x kubectl proxy", ratio <= 1.2)
    return None


def run(ctx: Context) -> Outcome:
    """Measure every (target, connections) pair in ``ctx.rounds`` quiet rounds, sides alternating
    (only the targets in ``ctx.targets`` when it is set)."""
    nginx = ctx.nginx()
    ready = TARGETS["get"].path
    gateway = start_gateway(nginx.url, ctx.workdir, ctx.layout.server, ctx.workers, ready)
    with running(gateway), running(start_kubectl_proxy(nginx.url, ctx.workdir, ctx.layout.server)) as kproxy:
        sides = {"gateway": gateway, "kubectl proxy": kproxy}
        figures: list[Figure] = []
        errors: list[str] = []
        for name, target in TARGETS.items():
            if ctx.targets is not None and name not in ctx.targets:
                continue
            big = name == "list-50m"
            # A 50 MB response takes ~0.1 s alone and seconds when 32 share the CPU: run longer so
            # every connection completes several.
            duration = max(3 * ctx.duration_s, 10.0) if big else ctx.duration_s
            for conns in CONNECTIONS:
                for svc in sides.values():  # warm both paths up (connection pools, lazy imports)
                    run_wrk(
                        ctx.tools["wrk"], svc.url + target.path, conns, 1, ctx.layout.client, timeout_s=60
                    )

                def measure(
                    side: str, path: str = target.path, conns: int = conns, duration: float = duration
                ) -> WrkResult:
                    return run_wrk(
                        ctx.tools["wrk"],
                        sides[side].url + path,
                        conns,
                        duration,
                        ctx.layout.client,
                        timeout_s=60,
                    )

                rounds = ctx.alternate(f"{name}.c{conns}", list(sides), measure)
                for side, results in rounds.samples.items():
                    for rnd, res in enumerate(results):
                        if res.requests == 0:
                            errors.append(f"{side} {name} c{conns} round {rnd}: no request completed")
                        elif res.errors:
                            errors.append(f"{side} {name} c{conns} round {rnd}: {res.errors} errors")
                for metric, unit in (("rps", "req/s"), ("p50_ms", "ms"), ("p99_ms", "ms")):
                    fig = Figure(
                        key=f"proxy.{name}.c{conns}.{metric}",
                        label=f"{name} c{conns} {metric.replace('_ms', '')}",
                        unit=unit,
                        better="higher" if metric == "rps" else "lower",
                        subject_raw=[getattr(r, metric) for r in rounds.samples["gateway"]],
                        reference_raw=[getattr(r, metric) for r in rounds.samples["kubectl proxy"]],
                        reference_name="kubectl proxy",
                        # Tail latency at 1 connection or of large bodies swings with every hiccup of a
                        # shared machine; the check keeps throughput, c32 medians and the goal p99s.
                        checked=metric == "rps"
                        or (conns == 32 and (metric == "p50_ms" or name in GOAL_TARGETS)),
                        rounds=rounds.name,
                    )
                    fig.goal = _goal(name, conns, metric, fig.ratio)
                    figures.append(fig)
    notes = [
        "body sizes: " + ", ".join(f"{n} {s:,} B" for n, s in ctx.body_sizes.items()),
        f"wrk -t1, {ctx.duration_s:g} s per run ({max(3 * ctx.duration_s, 10.0):g} s for list-50m), "
        f"{ctx.rounds} quiet rounds per figure, sides alternating; "
        f"gateway with {ctx.workers} granian worker(s)",
    ]
    if errors:
        notes.append("wrk reported errors: " + "; ".join(errors))
    return Outcome(figures, notes)
