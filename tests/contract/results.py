"""The comparisons made during a contract run, and the conformance summary printed at the end.

A comparison is one scenario run on one non-reference target and compared with the reference
(refkube) transcript: it agrees when the scenario's own assertions held and the normalised
transcripts are equal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Comparison:
    """Outcome of one (scenario, target) comparison; ``differences`` empty means agreement."""

    scenario: str
    target: str
    differences: list[str]
    known: str | None = None  # reason, when listed in known_divergences

    @property
    def agrees(self) -> bool:
        return not self.differences


@dataclass
class Results:
    """Session-wide store of comparisons and free-form notes (timings)."""

    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # test_operator_fidelity: (sample, fields agreeing, fields compared, differences, unexplained)
    operator_fidelity: list[tuple[str, int, int, list[str], list[str]]] = field(default_factory=list)

    def add(self, c: Comparison) -> None:
        self.comparisons.append(c)

    def summary_lines(self, max_diffs: int = 8, top: int = 15) -> list[str]:
        """``conformance: N/M scenarios agree``, per-target figures, the most frequent kinds of
        difference over all comparisons, then each divergence with its distinct differences."""
        n = sum(c.agrees for c in self.comparisons)
        known = sum(bool(c.known) for c in self.comparisons if not c.agrees)
        lines = [
            f"conformance: {n}/{len(self.comparisons)} scenarios agree",
            f"  diverging: {known} known (tests/contract/known_divergences.py, each with its reason),"
            f" {len(self.comparisons) - n - known} not known",
        ]
        for target in sorted({c.target for c in self.comparisons}):
            mine = [c for c in self.comparisons if c.target == target]
            lines.append(f"  {target}: {sum(c.agrees for c in mine)}/{len(mine)}")
        lines.extend(f"  note: {note}" for note in self.notes)
        bad = [c for c in self.comparisons if not c.agrees]
        if not bad:
            return lines
        tally = Counter(sig for c in bad for sig in {signature(d) for d in c.differences})
        lines.append(
            "most frequent differences (number of diverging comparisons; fakekube/gateway != refkube):"
        )
        lines.extend(f"  {count:4d}  {sig[:220]}" for sig, count in tally.most_common(top))
        lines.append("divergences (target vs refkube):")
        for c in bad:
            tag = f" [known: {c.known}]" if c.known else ""
            lines.append(f"- {c.scenario} [{c.target}]{tag}")
            distinct = list(dict.fromkeys(signature(d) for d in c.differences))
            lines.extend(f"    {d[:300]}" for d in distinct[:max_diffs])
            if len(distinct) > max_diffs:
                lines.append(f"    ... {len(distinct) - max_diffs} more")
        return lines

    def operator_fidelity_lines(self) -> list[str]:
        """``operator fidelity: N/M fields agree`` over every sample, then each difference
        (``NEW`` when no KNOWN_OPERATOR entry explains it)."""
        agree = sum(r[1] for r in self.operator_fidelity)
        total = sum(r[2] for r in self.operator_fidelity)
        lines = [
            f"operator fidelity: {agree}/{total} fields agree (real KubeRay operator on refkube"
            " vs fakekube --simulate-operator)"
        ]
        for sample, n, m, diffs, unexplained in self.operator_fidelity:
            lines.append(
                f"  {sample}: {n}/{m} fields agree, {len(diffs) - len(unexplained)} known"
                f" differences, {len(unexplained)} not known"
            )
            lines.extend(f"    {'NEW   ' if d in unexplained else 'known '}{d[:400]}" for d in diffs)
        return lines

    def full_report(self) -> str:
        """Every divergence with all its distinct differences (for build/conformance-divergences.txt)."""
        out = []
        for c in self.comparisons:
            if not c.agrees:
                out.append(f"- {c.scenario} [{c.target}]" + (f" [known: {c.known}]" if c.known else ""))
                out.extend(f"    {d}" for d in dict.fromkeys(signature(d) for d in c.differences))
        return "\n".join(out) + "\n"


_STEP = re.compile(r"^step \d+ ")
_INDEX = re.compile(r"\[\d+\]")


def signature(difference: str) -> str:
    """A difference without its step number and list indices, so repeats of one cause group."""
    return _INDEX.sub("[]", _STEP.sub("", difference))


RESULTS = Results()


@dataclass
class BadInputComparison:
    """One bad-input case on one target: its answer and refkube's (``code reason``), the problems
    beyond code and reason (time, liveness, RSS, store), and the KNOWN reason when listed."""

    case: str
    target: str
    got: str
    reference: str
    known: str | None = None

    @property
    def agrees(self) -> bool:
        return self.got == self.reference


@dataclass
class BadInputResults:
    """Session-wide store of bad-input comparisons (tests/contract/test_bad_input.py)."""

    comparisons: list[BadInputComparison] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """``bad-input: N/M agree with kube-apiserver``, per-target figures, then every divergence
        with its explanation from tests/contract/bad_input/known.py (or ``NOT KNOWN``)."""
        n = sum(c.agrees for c in self.comparisons)
        lines = [f"bad-input: {n}/{len(self.comparisons)} agree with kube-apiserver"]
        for target in sorted({c.target for c in self.comparisons}):
            mine = [c for c in self.comparisons if c.target == target]
            lines.append(f"  {target}: {sum(c.agrees for c in mine)}/{len(mine)}")
        for c in self.comparisons:
            if not c.agrees:
                why = c.known or "NOT KNOWN"
                lines.append(f"- {c.case} [{c.target}]: {c.got} where refkube {c.reference}: {why}")
        return lines


BAD_INPUT = BadInputResults()
