"""Statistics of benchmark rounds: medians, spreads, same-round ratios and the reproducibility rule.

A figure is measured in ``n`` alternating rounds (subject and reference once each per round), so
its natural statistics are paired: the ratio of round ``i`` is ``subject[i] / reference[i]``, taken
on the same machine state, and the figure's ratio is the median of those.  Its *spread* says how
far the rounds disagree: min, max, the quartiles (``statistics.quantiles``, inclusive method:
linear interpolation between order statistics, as ``numpy.percentile``'s default), and two relative
measures, ``(max - min) / |median|`` and the relative inter-quartile range ``(q3 - q1) / |median|``.

Two runs *reproduce* a figure when their medians differ by at most 10 % of the smaller one
(:func:`within`).  All functions are pure; empty input raises ValueError.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Two runs' medians agree when they differ by at most this fraction of the smaller (issue 16).
REPRO_TOLERANCE = 0.10


@dataclass(frozen=True)
class Spread:
    """Order statistics of ``n`` samples: ``lo`` ≤ ``q1`` ≤ ``median`` ≤ ``q3`` ≤ ``hi``.

    ``q1``/``q3`` are the inclusive-method quartiles (equal to the median for one sample).
    """

    n: int
    median: float
    lo: float
    hi: float
    q1: float
    q3: float

    @property
    def range_rel(self) -> float:
        """``(hi - lo) / |median|``: the full spread relative to the median (inf when the median is 0
        and the samples differ, 0 when they are all equal)."""
        return _relative(self.hi - self.lo, self.median)

    @property
    def iqr_rel(self) -> float:
        """``(q3 - q1) / |median|``: the relative inter-quartile range (inf/0 as :attr:`range_rel`)."""
        return _relative(self.q3 - self.q1, self.median)

    def to_json(self) -> dict[str, Any]:
        """Plain numbers for results.json (the relative spreads included; inf becomes None)."""
        rel = {"range_rel": self.range_rel, "iqr_rel": self.iqr_rel}
        return {
            "n": self.n,
            "median": self.median,
            "min": self.lo,
            "max": self.hi,
            "q1": self.q1,
            "q3": self.q3,
            **{k: (v if math.isfinite(v) else None) for k, v in rel.items()},
        }


def _relative(width: float, centre: float) -> float:
    if width == 0:
        return 0.0
    return width / abs(centre) if centre else math.inf


def spread(values: Sequence[float]) -> Spread:
    """The :class:`Spread` of ``values`` (any order). Raises ValueError when empty or not finite."""
    if not values:
        raise ValueError("spread of no values")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"spread of non-finite values: {list(values)}")
    ordered = sorted(float(v) for v in values)
    med = float(statistics.median(ordered))
    if len(ordered) == 1:
        q1 = q3 = med
    else:
        q1, _q2, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        # quantiles' interpolation can land one ulp outside [lo, hi] or across the median.
        q1 = min(max(q1, ordered[0]), med)
        q3 = max(min(q3, ordered[-1]), med)
    return Spread(n=len(ordered), median=med, lo=ordered[0], hi=ordered[-1], q1=q1, q3=q3)


def paired_ratios(subject: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``subject[i] / reference[i]`` per round. Raises ValueError when the lengths differ or a
    reference sample is 0 (a round without a reference value has no ratio)."""
    if len(subject) != len(reference):
        raise ValueError(f"{len(subject)} subject rounds but {len(reference)} reference rounds")
    if any(r == 0 for r in reference):
        raise ValueError("a reference sample is 0: no ratio")
    return [s / r for s, r in zip(subject, reference, strict=True)]


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / min(|a|, |b|)``: how far two medians are apart, relative to the smaller (0 when
    equal, inf when exactly one is 0). Symmetric in ``a`` and ``b``."""
    if a == b:
        return 0.0
    smaller = min(abs(a), abs(b))
    return abs(a - b) / smaller if smaller else math.inf


def within(a: float, b: float, tolerance: float = REPRO_TOLERANCE) -> bool:
    """Whether two runs' medians reproduce: :func:`relative_difference` ≤ ``tolerance``."""
    return relative_difference(a, b) <= tolerance


def regression_limit(base: Spread, new: Spread, better: str) -> float:
    """The worst median the new run may have without being a regression against ``base``.

    The baseline's per-round range ``[base.lo, base.hi]`` widened, on the worse side, by the new
    run's own half-range ``(new.hi - new.lo) / 2``: a median beyond it is worse than every round the
    baseline produced by more than the new run's own round-to-round noise.  ``better`` is
    ``"higher"`` (the limit is a floor) or ``"lower"`` (a ceiling); ValueError otherwise.
    """
    half = (new.hi - new.lo) / 2
    if better == "higher":
        return base.lo - half
    if better == "lower":
        return base.hi + half
    raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")


def is_regression(base: Spread, new: Spread, better: str) -> bool:
    """Whether ``new.median`` lies beyond :func:`regression_limit` (strictly) on the worse side."""
    limit = regression_limit(base, new, better)
    return new.median < limit if better == "higher" else new.median > limit
