"""Alternating rounds under the quiet gate (benchmarks/rounds.py), driven by a synthetic machine:
refused rounds are thrown away whole and retried, kept rounds alternate, a figure without enough
quiet rounds is unstable with the reason, and so is one whose CPU frequency moved."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.noise import CpuTimes, ProcTimes, QuietGate, Snapshot
from benchmarks.rounds import Rounds, alternate, round_order

ROOT = 10


class FakeMachine:
    """Two CPUs at 100 Hz. Each measurement takes 1 s of one CPU for the harness (ROOT); during
    round ``i`` other processes use ``other[i]`` cores (``steal[i]`` % of all time is stolen)."""

    def __init__(self, other: list[float], freq: list[float] | None = None, steal: list[float] | None = None):
        self.other, self.freq, self.steal = other, freq, steal
        self.t = 0.0
        self.process = self.idle = self.stolen = self.ours = 0
        self.snapshots = 0
        self.measured: list[str] = []

    @property
    def round(self) -> int:
        return (self.snapshots - 1) // 2

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        freq = None
        if self.freq is not None:
            freq = (int(self.freq[self.round] * 1000),) * 2
        return Snapshot(
            self.t,
            CpuTimes(self.process, 0, 0, self.idle, 0, 0, 0, self.stolen),
            {ROOT: ProcTimes(ROOT, 1, "harness", self.ours, 0, 1)},
            (0.5, 0.5, 0.5),
            freq,
        )

    def measure(self, side: str) -> str:
        other = round(self.other[self.round] * 100)
        stolen = round((self.steal[self.round] if self.steal else 0) * 2)
        self.t += 1.0
        self.ours += 100
        self.process += 100 + other
        self.stolen += stolen
        self.idle += 200 - 100 - other - stolen
        self.measured.append(side)
        return f"{side}@{self.round}"


def run(
    machine: FakeMachine, rounds: int = 5, attempts: int = 10, sides: tuple[str, ...] = ("gw", "kp")
) -> Rounds[str]:
    return alternate(
        "t", sides, machine.measure, rounds, QuietGate(0.1, 2.0), attempts, machine.snapshot, ROOT
    )


def test_quiet_machine_keeps_every_round_and_alternates() -> None:
    machine = FakeMachine([0.0] * 10)
    result = run(machine)
    assert result.quiet == 5 and len(result.records) == 5 and result.unstable is None
    assert machine.measured == ["gw", "kp", "kp", "gw", "gw", "kp", "kp", "gw", "gw", "kp"]
    assert result.samples == {"gw": [f"gw@{i}" for i in range(5)], "kp": [f"kp@{i}" for i in range(5)]}


def test_a_noisy_round_is_thrown_away_whole_and_taken_again_in_the_same_order() -> None:
    machine = FakeMachine([0.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    result = run(machine)
    assert result.quiet == 5 and len(result.records) == 6 and result.unstable is None
    assert "gw@1" not in result.samples["gw"] and "kp@1" not in result.samples["kp"]
    assert result.discarded == [{"kp": "kp@1", "gw": "gw@1"}]
    refused = result.records[1]
    assert not refused.quiet and refused.noise.other_cpu == pytest.approx(0.5)
    assert refused.refused[0].startswith("other processes used 0.50 cores")
    # The retry keeps the second kept round's order: kp first.
    assert [r.order for r in result.records[1:3]] == [["kp", "gw"], ["kp", "gw"]]
    assert [r["quiet"] for r in result.to_json()["records"]] == [True, False, True, True, True, True]


def test_too_few_quiet_rounds_make_the_figure_unstable_with_the_reasons() -> None:
    machine = FakeMachine([0.5, 0.0, 0.9, 0.0, 0.0, 0.4, 0.0, 0.3], steal=[0, 0, 0, 0, 0, 0, 5.0, 0])
    result = run(machine, attempts=8)
    assert len(result.records) == 8 and result.quiet == 3
    assert result.unstable == (
        "3 quiet rounds of 8 attempted, 5 wanted (refused: 4 x other processes; 1 x steal)"
    )
    assert result.to_json()["unstable"] == result.unstable


def test_moving_cpu_frequency_makes_quiet_rounds_unstable() -> None:
    steady = run(FakeMachine([0.0] * 5, freq=[3000.0, 2990.0, 3000.0, 3000.0, 2950.0]))
    assert steady.unstable is None
    moving = run(FakeMachine([0.0] * 5, freq=[3000.0, 2000.0, 3000.0, 3000.0, 3000.0]))
    assert moving.unstable is not None and moving.unstable.startswith("CPU frequency moved 33%")


def test_bad_bounds_and_failing_measurements() -> None:
    with pytest.raises(ValueError):
        run(FakeMachine([0.0]), rounds=5, attempts=4)
    with pytest.raises(ValueError):
        run(FakeMachine([0.0]), rounds=0, attempts=4)

    def boom(side: str) -> str:
        raise RuntimeError(side)

    with pytest.raises(RuntimeError):
        alternate("t", ["a"], boom, 1, QuietGate(), 1, FakeMachine([0.0]).snapshot, ROOT)


@given(st.lists(st.sampled_from([0.0, 0.05, 0.2, 1.0]), min_size=12, max_size=12), st.integers(1, 6))
def test_kept_rounds_are_exactly_the_quiet_ones_and_stay_paired(other: list[float], wanted: int) -> None:
    machine = FakeMachine(other)
    result = run(machine, rounds=wanted, attempts=12)
    quiet = [i for i, o in enumerate(other[: len(result.records)]) if o <= 0.1]
    assert result.quiet == len(quiet) == len(result.samples["gw"]) == len(result.samples["kp"])
    assert result.samples["gw"] == [f"gw@{i}" for i in quiet]
    assert result.samples["kp"] == [f"kp@{i}" for i in quiet]
    assert (result.unstable is None) == (len(quiet) >= wanted)
    assert len(result.records) == 12 or result.quiet == wanted


@given(st.lists(st.integers(), min_size=1, max_size=5, unique=True), st.integers(0, 100))
def test_every_side_takes_every_position_once_per_cycle(sides: list[int], start: int) -> None:
    cycle = [round_order(sides, start + r) for r in range(len(sides))]
    for position in range(len(sides)):
        assert sorted(order[position] for order in cycle) == sorted(sides)
