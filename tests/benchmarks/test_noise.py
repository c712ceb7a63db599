"""The quiet gate's inputs from synthetic /proc snapshots: parsing proc(5) files, attributing CPU
time to the harness's process tree or to others, steal, and the gate's verdicts (benchmarks/noise.py)."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.noise import (
    CpuTimes,
    ProcTimes,
    QuietGate,
    RoundNoise,
    Snapshot,
    describe_cpufreq,
    frequency_change,
    noise_between,
    parse_loadavg,
    parse_pid_stat,
    parse_proc_stat,
    read_freq_khz,
    read_procs,
    tree,
)

STAT = """cpu  1150714 1045330 561313 1503099 7699 0 147642 25646 0 0
cpu0 575357 522665 280656 751549 3849 0 73821 12823 0 0
intr 1 2 3
procs_running 6
"""


def pid_stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    """A /proc/PID/stat line in the kernel's layout (52 fields), starttime 4242."""
    fields = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime), str(cutime), str(cstime)]
    fields += ["20", "0", "1", "0", "4242"] + ["0"] * 30
    return f"{pid} ({comm}) " + " ".join(fields)


def test_parse_proc_stat_reads_the_aggregate_line() -> None:
    cpu = parse_proc_stat(STAT)
    assert cpu == CpuTimes(1150714, 1045330, 561313, 1503099, 7699, 0, 147642, 25646)
    assert cpu.process == 1150714 + 1045330 + 561313
    assert cpu.total == sum([1150714, 1045330, 561313, 1503099, 7699, 0, 147642, 25646])
    with pytest.raises(ValueError):
        parse_proc_stat("cpu0 1 2 3\n")


def test_parse_pid_stat_survives_hostile_command_names() -> None:
    line = pid_stat(31, "a) b (c", 7, utime=11, stime=5, cutime=3, cstime=2)
    proc = parse_pid_stat(line)
    assert proc == ProcTimes(31, 7, "a) b (c", own=16, children=5, start=4242)
    assert proc.jiffies == 21
    with pytest.raises(ValueError):
        parse_pid_stat("garbage")


@given(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\x00"), max_size=16)
)
def test_any_command_name_parses(comm: str) -> None:
    proc = parse_pid_stat(pid_stat(5, comm, 1, 3, 4))
    assert (proc.pid, proc.ppid, proc.comm, proc.own) == (5, 1, comm, 7)


def test_parse_loadavg() -> None:
    assert parse_loadavg("6.75 6.39 3.85 7/165 30681\n") == (6.75, 6.39, 3.85)


def test_read_procs_and_cpufreq_from_a_fake_tree(tmp_path: Path) -> None:
    for pid, line in ((1, pid_stat(1, "init", 0, 5, 5)), (22, pid_stat(22, "wrk", 1, 100, 50))):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
    (tmp_path / "self").mkdir()
    (tmp_path / "99").mkdir()  # vanished between listing and reading: skipped
    procs = read_procs(tmp_path)
    assert sorted(procs) == [1, 22] and procs[22].own == 150
    sys_cpu = tmp_path / "sys"
    assert read_freq_khz(sys_cpu) is None  # cpufreq not exposed (virtual machines)
    for cpu, khz in ((0, 2_000_000), (1, 3_000_000)):
        (sys_cpu / f"cpu{cpu}" / "cpufreq").mkdir(parents=True)
        (sys_cpu / f"cpu{cpu}" / "cpufreq" / "scaling_cur_freq").write_text(f"{khz}\n")
    assert read_freq_khz(sys_cpu) == (2_000_000, 3_000_000)
    (sys_cpu / "cpu0" / "cpufreq" / "scaling_governor").write_text("performance\n")
    assert describe_cpufreq(sys_cpu) == "governor performance, 2000-3000 MHz at the start"
    assert describe_cpufreq(tmp_path / "none").startswith("not exposed")


def _cpu(process: int, idle: int, steal: int = 0, softirq: int = 0) -> CpuTimes:
    return CpuTimes(process, 0, 0, idle, 0, 0, softirq, steal)


def _proc(pid: int, ppid: int, own: int, children: int = 0, comm: str = "p", start: int = 1) -> ProcTimes:
    return ProcTimes(pid, ppid, comm, own, children, start)


def _snap(at: float, cpu: CpuTimes, *procs: ProcTimes) -> Snapshot:
    return Snapshot(at, cpu, {p.pid: p for p in procs}, (1.0, 1.0, 1.0))


def test_tree_follows_parents() -> None:
    procs = {p.pid: p for p in (_proc(1, 0, 0), _proc(10, 1, 0), _proc(11, 10, 0), _proc(20, 1, 0))}
    assert tree(procs, 10) == {10, 11}
    assert tree(procs, 99) == set()


def test_other_cpu_is_machine_busy_minus_the_harness_tree() -> None:
    # 2 CPUs for 1 s at 100 Hz: 200 jiffies. The harness (10) and its server (11) use 120,
    # another process (20) 30, softirq 10 (charged to no process: left out of both).
    before = _snap(0.0, _cpu(1000, 5000), _proc(10, 1, 100), _proc(11, 10, 50), _proc(20, 1, 500))
    after = _snap(1.0, _cpu(1150, 5040, softirq=10), _proc(10, 1, 130), _proc(11, 10, 140), _proc(20, 1, 530))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.ours_cpu == pytest.approx(1.2)
    assert noise.other_cpu == pytest.approx(0.3)
    assert noise.softirq_pct == pytest.approx(5.0)
    assert noise.top_other == {"p": pytest.approx(0.3)}
    assert QuietGate(max_other_cpu=0.1).refusals(noise)[0].startswith("other processes used 0.30 cores")
    assert QuietGate(max_other_cpu=0.5).refusals(noise) == []


def test_a_reaped_child_of_ours_is_counted_once() -> None:
    # wrk (12) used 40 jiffies before the round and 60 during it, then exited; the harness (10)
    # reaped it, so its cutime now holds all 100.
    before = _snap(0.0, _cpu(1000, 5000), _proc(10, 1, 100), _proc(12, 10, 40))
    after = _snap(1.0, _cpu(1070, 5130), _proc(10, 1, 110, children=100))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.ours_cpu == pytest.approx(0.7)
    assert noise.other_cpu == 0


def test_others_hidden_behind_our_softirq_are_still_counted() -> None:
    # Our process was charged 150 jiffies, 50 of them softirq ticks that /proc/stat files under
    # softirq: process time 120 - ours 150 < 0, yet process 20 used 20 jiffies.
    before = _snap(0.0, _cpu(0, 0), _proc(10, 1, 0), _proc(20, 1, 0, comm="cc1"))
    after = _snap(1.0, _cpu(120, 30, softirq=50), _proc(10, 1, 150), _proc(20, 1, 20, comm="cc1"))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.other_cpu_stat == 0
    assert noise.other_cpu == noise.other_cpu_procs == pytest.approx(0.2)
    assert noise.top_other == {"cc1": pytest.approx(0.2)}


def test_short_lived_others_are_seen_in_the_machine_total() -> None:
    # A compiler started and ended inside the round: no process shows it, /proc/stat does.
    before = _snap(0.0, _cpu(0, 0), _proc(10, 1, 0))
    after = _snap(1.0, _cpu(150, 50), _proc(10, 1, 100))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.other_cpu_procs == 0
    assert noise.other_cpu == noise.other_cpu_stat == pytest.approx(0.5)


def test_steal_is_a_share_of_all_cpu_time_and_gated() -> None:
    before = _snap(0.0, _cpu(0, 0), _proc(10, 1, 0))
    after = _snap(1.0, _cpu(100, 90, steal=10), _proc(10, 1, 100))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.steal_pct == pytest.approx(5.0)
    assert noise.other_cpu == 0
    assert QuietGate(max_steal_pct=2.0).refusals(noise) == ["steal 5.0 % (limit 2 %)"]


def test_a_renamed_kernel_worker_is_charged_its_round_only() -> None:
    before = _snap(0.0, _cpu(0, 0), _proc(10, 1, 0), _proc(30, 2, 9000, comm="kworker/u8:4-writeback"))
    after = _snap(1.0, _cpu(20, 180), _proc(10, 1, 0), _proc(30, 2, 9020, comm="kworker/u8:4-kvfree_rcu"))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.top_other == {"kworker/u8:4-kvfree_rcu": pytest.approx(0.2)}
    # A reused pid (another start time) is a new process: all its time is the round's.
    reused = _snap(1.0, _cpu(20, 180), _proc(10, 1, 0), _proc(30, 2, 15, start=99))
    assert noise_between(before, reused, root=10, hz=100).top_other == {"p": pytest.approx(0.15)}


def test_snapshots_out_of_order_are_an_error() -> None:
    snap = _snap(1.0, _cpu(0, 0))
    with pytest.raises(ValueError):
        noise_between(snap, snap, root=1)


@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 1000),
    st.integers(1, 600),
)
def test_noise_is_never_negative_and_ours_plus_other_cover_process_time(
    ours: int, others: int, idle: int, steal: int, tenths: int
) -> None:
    seconds = tenths / 10
    before = _snap(0.0, _cpu(0, 0), _proc(10, 1, 0), _proc(20, 1, 0))
    after = _snap(seconds, _cpu(ours + others, idle, steal=steal), _proc(10, 1, ours), _proc(20, 1, others))
    noise = noise_between(before, after, root=10, hz=100)
    assert noise.other_cpu >= 0 and noise.ours_cpu >= 0 and 0 <= noise.steal_pct <= 100
    assert (noise.ours_cpu + noise.other_cpu) * seconds * 100 == pytest.approx(ours + others)


def test_noise_round_trips_through_json() -> None:
    noise = RoundNoise(1.5, 1.0, 0.05, 0.1, 0.0, 3.0, 2.0, 2.1, (2000.0, 2100.0), {"cc1": 0.02})
    assert RoundNoise.from_json(noise.to_json()) == noise


def test_frequency_change_across_rounds() -> None:
    assert frequency_change([None, None]) is None
    assert frequency_change([(3000.0, 3000.0), (2700.0, 3000.0)]) == pytest.approx(0.1)
    assert frequency_change([(3000.0,), None, (3000.0,)]) == 0
