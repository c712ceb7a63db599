"""What every benchmark receives: tools, CPU layout, a scratch directory, the shared nginx upstream,
and the quiet-gated rounds (:mod:`benchmarks.rounds`) its comparisons run in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.noise import QuietGate, Snapshot, take_snapshot
from benchmarks.results import Figure
from benchmarks.rounds import Rounds, alternate
from benchmarks.system import CpuLayout, Service
from benchmarks.upstream import start_nginx

_T = TypeVar("_T")


@dataclass
class Outcome:
    """A benchmark's figures and free-text notes (how it was run, what was left out and why)."""

    figures: list[Figure]
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Run-wide settings. ``duration_s`` is one wrk run; ``rounds`` quiet alternations wanted per
    figure, ``max_attempts`` rounds taken at most per figure (refused ones included); ``workers``
    granian workers for the gateway; ``quick`` shortens everything for a smoke run; ``targets``
    limits the proxy section to some of :data:`benchmarks.upstream.TARGETS` (None: all)."""

    tools: dict[str, str]
    layout: CpuLayout
    workdir: Path
    rounds: int
    duration_s: float
    workers: int
    quick: bool
    gate: QuietGate = field(default_factory=QuietGate)
    max_attempts: int = 0
    targets: tuple[str, ...] | None = None
    snapshot: Callable[[], Snapshot] = take_snapshot
    _nginx: Service | None = None
    body_sizes: dict[str, int] = field(default_factory=dict)
    round_log: dict[str, Rounds[Any]] = field(default_factory=dict)

    def nginx(self) -> Service:
        """The static upstream, started on first use and kept for the whole run."""
        if self._nginx is None:
            self._nginx, self.body_sizes = start_nginx(self.tools["nginx"], self.workdir, self.layout.client)
        return self._nginx

    def alternate(
        self,
        name: str,
        sides: Sequence[str],
        measure: Callable[[str], _T],
        rounds: int | None = None,
        retries: int | None = None,
    ) -> Rounds[_T]:
        """Quiet-gated alternating rounds of ``measure(side)`` (:func:`benchmarks.rounds.alternate`):
        ``rounds`` wanted (default :attr:`rounds`), at most ``rounds + retries`` taken (default
        retries: :attr:`max_attempts` - :attr:`rounds`). The result is kept in :attr:`round_log`
        under ``name`` (unique per section; a figure names it in ``Figure.rounds``)."""
        wanted = self.rounds if rounds is None else rounds
        extra = max(self.max_attempts - self.rounds, 0) if retries is None else retries
        result = alternate(name, sides, measure, wanted, self.gate, wanted + extra, self.snapshot)
        self.round_log[name] = result
        return result

    def take_round_log(self) -> dict[str, Rounds[Any]]:
        """The rounds recorded since the last call (one section's), emptying the log."""
        log, self.round_log = self.round_log, {}
        return log

    def close(self) -> None:
        """Stop what the context started."""
        if self._nginx is not None:
            self._nginx.stop()
            self._nginx = None
