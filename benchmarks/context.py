"""What every benchmark receives: tools, CPU layout, a scratch directory and the shared nginx upstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.results import Figure
from benchmarks.system import CpuLayout, Service
from benchmarks.upstream import start_nginx


@dataclass
class Outcome:
    """A benchmark's figures and free-text notes (how it was run, what was left out and why)."""

    figures: list[Figure]
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Run-wide settings. ``duration_s`` is one wrk run; ``rounds`` alternations per figure;
    ``workers`` granian workers for the gateway; ``quick`` shortens everything for a smoke run."""

    tools: dict[str, str]
    layout: CpuLayout
    workdir: Path
    rounds: int
    duration_s: float
    workers: int
    quick: bool
    _nginx: Service | None = None
    body_sizes: dict[str, int] = field(default_factory=dict)

    def nginx(self) -> Service:
        """The static upstream, started on first use and kept for the whole run."""
        if self._nginx is None:
            self._nginx, self.body_sizes = start_nginx(self.tools["nginx"], self.workdir, self.layout.client)
        return self._nginx

    def close(self) -> None:
        """Stop what the context started."""
        if self._nginx is not None:
            self._nginx.stop()
            self._nginx = None
