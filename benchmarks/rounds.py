"""Alternating rounds under the quiet gate: the loop every same-run comparison uses.

One *round* measures every side once (gateway and ``kubectl proxy``, or the authentication modes),
in an order that rotates from one kept round to the next (:func:`round_order`), between two
:class:`~benchmarks.noise.Snapshot`\\ s.  A round the :class:`~benchmarks.noise.QuietGate` refuses
is thrown away whole (every side's sample) and taken again, up to ``max_attempts`` rounds in all.
A :class:`Rounds` with fewer quiet rounds than wanted is *unstable*, with the reason: its figures
are shown as "unstable: ..." instead of a value, and RESULTS.md is not written from them.  So is
one whose quiet rounds ran at CPU frequencies more than ``MAX_FREQ_CHANGE`` apart.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from benchmarks.noise import MAX_FREQ_CHANGE, QuietGate, RoundNoise, Snapshot, frequency_change, noise_between

_T = TypeVar("_T")
_S = TypeVar("_S")


def round_order(sides: Sequence[_S], rnd: int) -> list[_S]:
    """The order the sides run in round ``rnd`` (0-based): ``sides`` rotated left by ``rnd``, so
    over ``len(sides)`` rounds each side runs once in each position (for two sides: alternating)."""
    if not sides:
        return []
    shift = rnd % len(sides)
    return [*sides[shift:], *sides[:shift]]


@dataclass(frozen=True)
class RoundRecord:
    """One attempted round: its order, its noise and why the gate refused it (empty: kept)."""

    attempt: int
    order: list[str]
    noise: RoundNoise
    refused: list[str]

    @property
    def quiet(self) -> bool:
        """Whether the gate let the round through."""
        return not self.refused

    def to_json(self) -> dict[str, Any]:
        """Plain form for results.json."""
        return {
            "attempt": self.attempt,
            "order": self.order,
            "quiet": self.quiet,
            "refused": self.refused,
            "noise": self.noise.to_json(),
        }


@dataclass
class Rounds(Generic[_T]):
    """The kept (quiet) samples of one comparison, per side in round order, and every attempt
    (``discarded`` holds the refused rounds' samples, for diagnosis; they never enter a figure
    unless a benchmark reports them explicitly as unstable)."""

    name: str
    sides: list[str]
    wanted: int
    samples: dict[str, list[_T]]
    records: list[RoundRecord] = field(default_factory=list)
    max_freq_change: float = MAX_FREQ_CHANGE
    discarded: list[dict[str, _T]] = field(default_factory=list)

    @property
    def quiet(self) -> int:
        """Rounds kept."""
        return sum(r.quiet for r in self.records)

    @property
    def unstable(self) -> str | None:
        """Why the figures of these rounds are not to be reported, or None when they are."""
        reasons = []
        if self.quiet < self.wanted:
            refused = Counter(_kind(reason) for r in self.records for reason in r.refused)
            why = "; ".join(f"{n} x {kind}" for kind, n in refused.most_common())
            reasons.append(
                f"{self.quiet} quiet rounds of {len(self.records)} attempted, {self.wanted} wanted"
                + (f" (refused: {why})" if why else "")
            )
        moved = frequency_change([r.noise.freq_mhz for r in self.records if r.quiet])
        if moved is not None and moved > self.max_freq_change:
            reasons.append(
                f"CPU frequency moved {moved:.0%} across the quiet rounds "
                f"(limit {self.max_freq_change:.0%}): "
                "fix it (performance governor, no turbo) and run again"
            )
        return "; ".join(reasons) or None

    def to_json(self) -> dict[str, Any]:
        """Plain form for results.json: wanted/kept counts, the verdict and every round's noise."""
        return {
            "sides": self.sides,
            "wanted": self.wanted,
            "quiet": self.quiet,
            "attempted": len(self.records),
            "unstable": self.unstable,
            "records": [r.to_json() for r in self.records],
        }


def _kind(reason: str) -> str:
    """A refusal reason without its numbers and process names, to count alike refusals together."""
    return reason.split(" used ", 1)[0] if " used " in reason else reason.split(" ", 1)[0]


def alternate(
    name: str,
    sides: Sequence[str],
    measure: Callable[[str], _T],
    rounds: int,
    gate: QuietGate,
    max_attempts: int,
    snapshot: Callable[[], Snapshot],
    root: int | None = None,
) -> Rounds[_T]:
    """Run rounds of ``measure(side)`` for every side until ``rounds`` are quiet or
    ``max_attempts`` rounds were taken; see the module docstring.

    ``snapshot`` reads the machine (:func:`benchmarks.noise.take_snapshot`; tests pass synthetic
    ones); ``root`` is the process whose tree is *ours* (default: this process).  Exceptions from
    ``measure`` propagate.
    """
    if rounds < 1 or max_attempts < rounds:
        raise ValueError(f"need 1 <= rounds ({rounds}) <= max_attempts ({max_attempts})")
    root = os.getpid() if root is None else root
    result: Rounds[_T] = Rounds(name, list(sides), rounds, {side: [] for side in sides})
    for attempt in range(max_attempts):
        if result.quiet >= rounds:
            break
        order = round_order(list(sides), result.quiet)
        before = snapshot()
        taken = {side: measure(side) for side in order}
        noise = noise_between(before, snapshot(), root)
        refused = gate.refusals(noise)
        result.records.append(RoundRecord(attempt, order, noise, refused))
        if refused:
            result.discarded.append(taken)
        else:
            for side, sample in taken.items():
                result.samples[side].append(sample)
    return result
