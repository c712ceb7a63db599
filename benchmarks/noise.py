"""System noise around a benchmark round, and the *quiet gate* that refuses rounds taken under load.

Before and after every round the harness takes a :class:`Snapshot` of Linux's accounting (proc(5)):

- ``/proc/stat``'s aggregate ``cpu`` line: jiffies (``USER_HZ``, ``getconf CLK_TCK``) spent in
  user, nice, system, idle, iowait, irq, softirq and steal, summed over all CPUs;
- ``/proc/PID/stat`` of every process: ``utime + stime + cutime + cstime`` (fields 14-17; the last
  two are children already waited for), ``ppid`` (field 4) and the command name;
- ``/proc/loadavg`` (1/5/15-minute load averages, runnable/total tasks);
- ``/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq`` (kHz) when the kernel exposes
  cpufreq; virtual machines often do not, and the record then says ``None``.

:func:`noise_between` turns two snapshots into a :class:`RoundNoise`.  *Ours* is the CPU time of
the harness's process tree (the harness, the servers under test, nginx, fakekube and every wrk it
ran and reaped).  *Other* is everything else, estimated twice, and the larger estimate counts:
(1) the machine's process-context time (user + nice + system) minus ours; irq and softirq are left
out because the benchmark's own loopback traffic is largely processed in softirq context, but a
softirq tick that lands while one of our processes runs is charged to that process while
/proc/stat files it under softirq, so this estimate can fall short by our own softirq work;
(2) the other processes' own utime + stime, which misses processes that lived only inside the
round.  Steal is time the hypervisor gave our vCPUs to someone else.

:class:`QuietGate` refuses a round when other processes used more than ``max_other_cpu`` cores on
average during it, or steal exceeded ``max_steal_pct`` of all CPU time.  The load average is
recorded but not gated: it is a one-minute moving average that lags by tens of seconds and counts
the benchmark's own runnable tasks (wrk and the server keep it near 2 on their own).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ; 100 on Linux).
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CPUFREQ_GLOB = "cpu[0-9]*/cpufreq/scaling_cur_freq"
SYS_CPU = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat, in jiffies (guest time is already inside user)."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def total(self) -> int:
        """Every jiffy accounted: the eight fields summed."""
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )

    @property
    def process(self) -> int:
        """Jiffies spent in process context (user + nice + system): what processes are charged."""
        return self.user + self.nice + self.system


@dataclass(frozen=True)
class ProcTimes:
    """One process from /proc/PID/stat: parent, command name, CPU jiffies (own + reaped children)
    and ``start`` (field 22, jiffies after boot: tells a reused pid from the same process)."""

    pid: int
    ppid: int
    comm: str
    own: int
    children: int
    start: int = 0

    @property
    def jiffies(self) -> int:
        """``utime + stime + cutime + cstime``."""
        return self.own + self.children


@dataclass(frozen=True)
class Snapshot:
    """The machine's accounting at ``at`` (``time.monotonic()`` seconds)."""

    at: float
    cpu: CpuTimes
    procs: Mapping[int, ProcTimes]
    loadavg: tuple[float, float, float]
    freq_khz: tuple[int, ...] | None = None


def parse_proc_stat(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat. Raises ValueError when it is missing or short."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(v) for v in fields[1:9]]
            if len(values) < 8:
                raise ValueError(f"/proc/stat cpu line has {len(values)} fields, need 8: {line!r}")
            return CpuTimes(*values)
    raise ValueError("/proc/stat has no aggregate cpu line")


def parse_pid_stat(text: str) -> ProcTimes:
    """One /proc/PID/stat line. The command name may hold spaces and parentheses, so the fields
    after it are counted from the last ``)``. Raises ValueError on a malformed line."""
    head, sep, tail = text.rpartition(")")
    if not sep or "(" not in head:
        raise ValueError(f"not a /proc/PID/stat line: {text[:80]!r}")
    pid_text, comm = head.split("(", 1)
    fields = tail.split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17, starttime 22.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ProcTimes(int(pid_text), int(fields[1]), comm, utime + stime, cutime + cstime, int(fields[19]))


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The three load averages of /proc/loadavg."""
    one, five, fifteen = (float(v) for v in text.split()[:3])
    return one, five, fifteen


def read_procs(proc: Path = Path("/proc")) -> dict[int, ProcTimes]:
    """Every process's :class:`ProcTimes` (processes that vanish while being read are skipped)."""
    out: dict[int, ProcTimes] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                times = parse_pid_stat((entry / "stat").read_text())
                out[times.pid] = times
    return out


def read_freq_khz(root: Path = SYS_CPU) -> tuple[int, ...] | None:
    """Current frequency of each CPU (kHz, cpufreq's ``scaling_cur_freq``), None when not exposed."""
    values = []
    for path in sorted(root.glob(CPUFREQ_GLOB)):
        with contextlib.suppress(OSError, ValueError):
            values.append(int(path.read_text().strip()))
    return tuple(values) or None


def describe_cpufreq(root: Path = SYS_CPU) -> str:
    """One sentence on CPU frequency scaling for RESULTS.md: the governors and current range, or
    that cpufreq is not exposed (then the per-figure frequency check cannot run)."""
    freq = read_freq_khz(root)
    if freq is None:
        return f"not exposed ({root}/cpu*/cpufreq absent): the harness cannot check it"
    governors = set()
    for path in root.glob("cpu[0-9]*/cpufreq/scaling_governor"):
        with contextlib.suppress(OSError):
            governors.add(path.read_text().strip())
    return (
        f"governor {', '.join(sorted(governors)) or 'unknown'}, "
        f"{min(freq) / 1000:.0f}-{max(freq) / 1000:.0f} MHz at the start"
    )


def take_snapshot(now: float | None = None) -> Snapshot:
    """A :class:`Snapshot` of this machine (Linux only: raises OSError without /proc)."""
    import time

    procs = read_procs()
    return Snapshot(
        at=time.monotonic() if now is None else now,
        cpu=parse_proc_stat(Path("/proc/stat").read_text()),
        procs=procs,
        loadavg=parse_loadavg(Path("/proc/loadavg").read_text()),
        freq_khz=read_freq_khz(),
    )


def tree(procs: Mapping[int, ProcTimes], root: int) -> set[int]:
    """``root`` and its descendants among ``procs`` (by ``ppid``)."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found & set(procs)


@dataclass(frozen=True)
class RoundNoise:
    """What else the machine did during one round.

    CPU figures are in cores (1.0 = one CPU busy for the whole round); percentages are of all CPU
    time of the round (every CPU).  ``other_cpu`` is the larger of ``other_cpu_stat`` (the machine's
    process time minus ours) and ``other_cpu_procs`` (other processes' own times summed); see
    :func:`noise_between`.  ``top_other`` names the busiest other commands (cores each).
    """

    seconds: float
    ours_cpu: float
    other_cpu: float
    steal_pct: float
    iowait_pct: float
    softirq_pct: float
    load1_before: float
    load1_after: float
    freq_mhz: tuple[float, ...] | None = None
    top_other: dict[str, float] = field(default_factory=dict)
    other_cpu_stat: float = 0.0
    other_cpu_procs: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Rounded plain numbers for results.json."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 4)
        data["freq_mhz"] = list(self.freq_mhz) if self.freq_mhz is not None else None
        data["top_other"] = {k: round(v, 3) for k, v in self.top_other.items()}
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RoundNoise:
        """Inverse of :meth:`to_json`."""
        freq = data.get("freq_mhz")
        return RoundNoise(
            **{k: data[k] for k in ("seconds", "ours_cpu", "other_cpu", "steal_pct", "iowait_pct")},
            softirq_pct=data.get("softirq_pct", 0.0),
            load1_before=data["load1_before"],
            load1_after=data["load1_after"],
            freq_mhz=tuple(freq) if freq is not None else None,
            top_other=dict(data.get("top_other", {})),
            other_cpu_stat=data.get("other_cpu_stat", data["other_cpu"]),
            other_cpu_procs=data.get("other_cpu_procs", 0.0),
        )


def _other_by_process(before: Snapshot, after: Snapshot, ours: set[int]) -> dict[str, int]:
    """Jiffies each other command used during the round, from the processes' own times (utime +
    stime of processes alive at the end: a parent reaping a long-lived child is not charged the
    child's whole life, and a process that started and ended inside the round is missed)."""
    by_comm: dict[str, int] = {}
    for pid, proc in after.procs.items():
        if pid in ours:
            continue
        prev = before.procs.get(pid)
        # A kernel worker renames itself after its current work item, so the pid and start time
        # (not the name) say whether it is the same process.
        delta = proc.own - (prev.own if prev is not None and prev.start == proc.start else 0)
        if delta > 0:
            by_comm[proc.comm] = by_comm.get(proc.comm, 0) + delta
    return by_comm


def noise_between(
    before: Snapshot, after: Snapshot, root: int, hz: int = CLK_TCK, top: int = 3
) -> RoundNoise:
    """The :class:`RoundNoise` of the interval between two snapshots, ``root``'s process tree
    being *ours* (see the module docstring). Raises ValueError when ``after`` is not later."""
    seconds = after.at - before.at
    if seconds <= 0:
        raise ValueError(f"snapshots {before.at} and {after.at} are not in order")
    ours_before = tree(before.procs, root)
    ours_after = tree(after.procs, root)
    # A process of ours that exited during the round moved its time into its parent's cutime
    # (ours too): summing both trees' jiffies counts it once either way.
    ours = sum(after.procs[p].jiffies for p in ours_after) - sum(before.procs[p].jiffies for p in ours_before)
    total = after.cpu.total - before.cpu.total
    process = after.cpu.process - before.cpu.process
    by_comm = _other_by_process(before, after, ours_before | ours_after)
    # Two estimates of the others' CPU, each of which can fall short: the machine's process time
    # minus ours misses what our own processes' softirq work hides (charged to them, counted as
    # softirq), the processes' own times miss processes that lived only inside the round.
    other_stat = max(0, process - ours)
    other_procs = sum(by_comm.values())
    other = max(other_stat, other_procs)
    busiest = sorted(by_comm.items(), key=lambda kv: -kv[1])[:top]

    def pct(field_name: str) -> float:
        delta = getattr(after.cpu, field_name) - getattr(before.cpu, field_name)
        return 100.0 * delta / total if total > 0 else 0.0

    freq = None
    if after.freq_khz is not None:
        freq = tuple(round(khz / 1000.0, 1) for khz in after.freq_khz)
    return RoundNoise(
        seconds=seconds,
        ours_cpu=max(0, ours) / hz / seconds,
        other_cpu=other / hz / seconds,
        other_cpu_stat=other_stat / hz / seconds,
        other_cpu_procs=other_procs / hz / seconds,
        steal_pct=pct("steal"),
        iowait_pct=pct("iowait"),
        softirq_pct=pct("softirq"),
        load1_before=before.loadavg[0],
        load1_after=after.loadavg[0],
        freq_mhz=freq,
        top_other={comm: jiffies / hz / seconds for comm, jiffies in busiest},
    )


#: Defaults of the gate: other processes may use 10 % of one core, the hypervisor steal 2 %.
MAX_OTHER_CPU = 0.10
MAX_STEAL_PCT = 2.0
#: A figure whose quiet rounds ran at CPU frequencies more than this apart is unstable.
MAX_FREQ_CHANGE = 0.10


@dataclass(frozen=True)
class QuietGate:
    """When a round counts as *quiet*: other processes' CPU ≤ ``max_other_cpu`` cores on average
    and steal ≤ ``max_steal_pct`` % of all CPU time, over the round."""

    max_other_cpu: float = MAX_OTHER_CPU
    max_steal_pct: float = MAX_STEAL_PCT

    def refusals(self, noise: RoundNoise) -> list[str]:
        """Why ``noise`` is not quiet (empty when it is)."""
        out = []
        if noise.other_cpu > self.max_other_cpu:
            busiest = ", ".join(f"{c} {v:.2f}" for c, v in noise.top_other.items())
            out.append(
                f"other processes used {noise.other_cpu:.2f} cores (limit {self.max_other_cpu:g}; "
                f"machine minus ours {noise.other_cpu_stat:.2f}, their own times {noise.other_cpu_procs:.2f})"
                + (f" [{busiest}]" if busiest else "")
            )
        if noise.steal_pct > self.max_steal_pct:
            out.append(f"steal {noise.steal_pct:.1f} % (limit {self.max_steal_pct:g} %)")
        return out


def frequency_change(samples: list[tuple[float, ...] | None]) -> float | None:
    """How far the CPU frequency moved across rounds: ``(max - min) / max`` of every CPU's MHz in
    every round, None when no round recorded one (cpufreq not exposed)."""
    values = [mhz for sample in samples if sample for mhz in sample]
    if not values or max(values) <= 0:
        return None
    return (max(values) - min(values)) / max(values)
