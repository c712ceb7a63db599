"""What authenticating callers costs: the gateway with ``--authentication token-review`` and
``passthrough`` against the same gateway with ``--authentication none``, in the same run.

Three gateways (one per mode, all pinned to the server CPU, only one loaded at a time) run in front
of the static nginx upstream (:mod:`benchmarks.upstream`), which also answers the review APIs with
canned 201s (:data:`benchmarks.upstream.REVIEW_ANSWERS`: the token is authenticated, every access
allowed) and logs only those requests. wrk sends a bearer token with every request to every mode.
For GET of one RayCluster and the 2 KB RayClusterList, at 1 and 32 connections, each round runs
wrk against every mode, the order rotating from round to round
(:func:`benchmarks.rounds.round_order`), so every mode sees the same machine load.

- ``token-review`` (handler/auth/token_review.py, authorizer.py): a ``TokenReview`` per token and
  a ``SubjectAccessReview`` per (user, verb, resource...) at most once per cache TTL (serve's
  defaults, 10 s each), then the gateway's own token plus ``Impersonate-*`` headers upstream. With
  the caches warm, the per-request cost is the token's SHA-256, two dictionary lookups and the
  impersonation headers.
- ``passthrough`` (handler/auth/passthrough.py): a ``SelfSubjectReview`` made with the caller's
  token at most once per 10 s; the caller's token goes upstream.

The review requests nginx logged during each measured wrk run (a *window*) are counted: a warm
cache makes O(1) of them, at most :func:`review_bound` per window whatever the request rate.
Figures (subject = the mode, reference = ``none``): requests/s, p50, p99; per-round ratios of c32
throughput (their spread); p50 added at 1 connection (mode - none in the same round); review
requests per window. Goal (issue 12): ``token-review`` c32 throughput of GET and the 2 KB list
≥ 0.9x ``none``.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from pathlib import Path

from benchmarks.context import Context, Outcome
from benchmarks.results import Figure, Goal
from benchmarks.rounds import Rounds
from benchmarks.servers import start_gateway
from benchmarks.system import Service, running
from benchmarks.upstream import REVIEW_LOG, TARGETS, review_counts
from benchmarks.wrk import WrkResult, run_wrk

TITLE = "Authentication cost: token-review and passthrough vs none (warm caches, static nginx upstream)"
REFERENCE = "none"
SUBJECTS = ("token-review", "passthrough")
MODES = (REFERENCE, *SUBJECTS)
AUTHN_TARGETS = ("get", "list-2k")
CONNECTIONS = (1, 32)
#: Issue 12: token-review with a warm decision cache keeps ≥ 90 % of none's throughput at c32.
GOAL_RATIO = 0.9
#: serve's default TTLs (s): ``--authentication-cache-ttl`` and ``--authorization-cache-allowed-ttl``.
CACHE_TTL_S = 10.0
#: Review requests one expiry of a mode's caches can cause while one target is loaded:
#: token-review re-reviews the token (TokenReview) and the target's attributes (one
#: SubjectAccessReview); passthrough re-asks who the token is (SelfSubjectReview); none asks nothing.
REVIEWS_PER_REFRESH = {"none": 0, "token-review": 2, "passthrough": 1}


def review_bound(mode: str, window_s: float, ttl_s: float = CACHE_TTL_S) -> int:
    """The most review requests ``mode`` may make in a measured window of ``window_s`` seconds
    with warm caches of ``ttl_s``: an entry expires at most ``window_s // ttl_s + 1`` times in the
    window (concurrent requests share one review: handler/auth/cache.py), each expiry costing
    :data:`REVIEWS_PER_REFRESH` reviews. Raises KeyError for an unknown mode, ValueError for a
    TTL that is not positive."""
    if ttl_s <= 0:
        raise ValueError(f"cache TTL must be positive, not {ttl_s}")
    return REVIEWS_PER_REFRESH[mode] * (int(window_s // ttl_s) + 1)


def per_round_ratios(subject: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``subject[i] / reference[i]`` for each round whose reference is not 0 (same-round pairs)."""
    if len(subject) != len(reference):
        raise ValueError(f"{len(subject)} subject rounds but {len(reference)} reference rounds")
    return [s / r for s, r in zip(subject, reference, strict=True) if r]


def per_round_differences(subject: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``subject[i] - reference[i]`` for each round (e.g. latency added in the same round)."""
    if len(subject) != len(reference):
        raise ValueError(f"{len(subject)} subject rounds but {len(reference)} reference rounds")
    return [s - r for s, r in zip(subject, reference, strict=True)]


def _reviews_so_far(log: Path) -> dict[str, int]:
    try:
        return review_counts(log.read_text())
    except FileNotFoundError:
        return review_counts("")


def _figures(target: str, conns: int, rounds: Rounds[WrkResult]) -> list[Figure]:
    figures: list[Figure] = []
    samples = rounds.samples
    ref = samples[REFERENCE]
    for subject in SUBJECTS:
        for metric, unit in (("rps", "req/s"), ("p50_ms", "ms"), ("p99_ms", "ms")):
            fig = Figure(
                key=f"authn.{subject}.{target}.c{conns}.{metric}",
                label=f"{subject} {target} c{conns} {metric.replace('_ms', '')}",
                unit=unit,
                better="higher" if metric == "rps" else "lower",
                subject_raw=[getattr(r, metric) for r in samples[subject]],
                reference_raw=[getattr(r, metric) for r in ref],
                reference_name=REFERENCE,
                # As the proxy section: throughput and the c32 median are checked, tails are not.
                checked=metric == "rps" or (conns == 32 and metric == "p50_ms"),
                rounds=rounds.name,
            )
            if subject == "token-review" and conns == 32 and metric == "rps" and fig.ratio is not None:
                fig.goal = Goal(f"≥ {GOAL_RATIO:g}x {REFERENCE}", fig.ratio >= GOAL_RATIO)
            figures.append(fig)
        if conns == 32:
            ratios = per_round_ratios([r.rps for r in samples[subject]], [r.rps for r in ref])
            if ratios:
                figures.append(
                    Figure(
                        key=f"authn.{subject}.{target}.c32.rps_round_ratio",
                        label=f"{subject} {target} c32 rps / {REFERENCE} rps, per round",
                        unit="x",
                        better="higher",
                        subject_raw=ratios,
                        checked=False,
                        rounds=rounds.name,
                    )
                )
        else:
            figures.append(
                Figure(
                    key=f"authn.{subject}.{target}.c{conns}.p50_added",
                    label=f"{subject} {target} c{conns} p50 added over {REFERENCE} (same round)",
                    unit="ms",
                    better="lower",
                    subject_raw=per_round_differences(
                        [r.p50_ms for r in samples[subject]], [r.p50_ms for r in ref]
                    ),
                    checked=False,
                    rounds=rounds.name,
                )
            )
    return figures


def run(ctx: Context) -> Outcome:
    """Measure every (target, connections) pair in ``ctx.rounds`` quiet rounds, every mode once per
    round, the order rotating (:func:`benchmarks.rounds.round_order`)."""
    nginx = ctx.nginx()
    log = ctx.workdir / REVIEW_LOG
    caller_token = secrets.token_urlsafe(32)
    gateway_token = ctx.workdir / "gateway-token"
    gateway_token.write_text(secrets.token_urlsafe(32))
    bearer = {"Authorization": f"Bearer {caller_token}"}
    wrk_header = ["-H", f"Authorization: Bearer {caller_token}"]
    figures: list[Figure] = []
    errors: list[str] = []
    windows: dict[str, list[int]] = {mode: [] for mode in MODES}
    by_path: dict[str, dict[str, int]] = {mode: review_counts("") for mode in MODES}
    served: dict[str, int] = dict.fromkeys(MODES, 0)
    with contextlib.ExitStack() as stack:
        gateways: dict[str, Service] = {}
        for mode in MODES:
            gateways[mode] = stack.enter_context(
                running(
                    start_gateway(
                        nginx.url,
                        ctx.workdir,
                        ctx.layout.server,
                        ctx.workers,
                        TARGETS["get"].path,
                        authentication=mode,
                        extra=[f"--token-file={gateway_token}"],
                        ready_headers=bearer,
                    )
                )
            )
        for name in AUTHN_TARGETS:
            url_path = TARGETS[name].path
            for conns in CONNECTIONS:
                for svc in gateways.values():  # warm-up: connection pools and every decision cache
                    run_wrk(
                        ctx.tools["wrk"], svc.url + url_path, conns, 1, ctx.layout.client, extra=wrk_header
                    )
                counted: list[tuple[str, WrkResult, dict[str, int]]] = []

                def measure(
                    mode: str,
                    url_path: str = url_path,
                    conns: int = conns,
                    counted: list[tuple[str, WrkResult, dict[str, int]]] = counted,
                ) -> WrkResult:
                    before = _reviews_so_far(log)
                    res = run_wrk(
                        ctx.tools["wrk"],
                        gateways[mode].url + url_path,
                        conns,
                        ctx.duration_s,
                        ctx.layout.client,
                        timeout_s=60,
                        extra=wrk_header,
                    )
                    after = _reviews_so_far(log)
                    counted.append((mode, res, {path: after[path] - before[path] for path in after}))
                    return res

                rounds = ctx.alternate(f"{name}.c{conns}", MODES, measure)
                # Review counts are a correctness figure (O(1) per window): every window counts,
                # the refused rounds' too.
                for mode, res, delta in counted:
                    windows[mode].append(sum(delta.values()))
                    for path, n in delta.items():
                        by_path[mode][path] += n
                    served[mode] += res.requests
                for mode, results in rounds.samples.items():
                    for rnd, res in enumerate(results):
                        if res.requests == 0:
                            errors.append(f"{mode} {name} c{conns} round {rnd}: no request completed")
                        elif res.errors:
                            errors.append(f"{mode} {name} c{conns} round {rnd}: {res.errors} errors")
                figures += _figures(name, conns, rounds)
    for mode in SUBJECTS:
        bound = review_bound(mode, ctx.duration_s)
        fig = Figure(
            key=f"authn.{mode}.reviews_per_window",
            label=f"{mode}: review requests upstream per measured window",
            unit="req",
            better="lower",
            subject_raw=[float(n) for n in windows[mode]],
            checked=False,
        )
        fig.goal = Goal(f"every window ≤ {bound} (warm cache)", max(windows[mode], default=0) <= bound)
        figures.append(fig)
    notes = [
        "body sizes: " + ", ".join(f"{n} {ctx.body_sizes[n]:,} B" for n in AUTHN_TARGETS),
        f"wrk -t1 with a bearer token, {ctx.duration_s:g} s per run, {ctx.rounds} quiet rounds, the "
        f"order rotating every round ({', '.join(MODES)}; then starting one later); one gateway per "
        f"mode with {ctx.workers} granian worker(s) and its own token (--token-file); serve's default "
        f"cache TTLs ({CACHE_TTL_S:g} s), so a cache entry may expire and be re-reviewed inside a window",
        "review requests nginx answered during the measured windows (requests served in them): "
        + "; ".join(
            f"{mode}: "
            + (", ".join(f"{path.rsplit('/', 1)[1]} {n}" for path, n in by_path[mode].items() if n) or "none")
            + f" ({served[mode]:,} requests)"
            for mode in MODES
        ),
    ]
    if errors:
        notes.append("wrk reported errors: " + "; ".join(errors))
    return Outcome(figures, notes)
