"""What gets written and what reproduces: the writer refuses sections that are not reproducible
(unless forced, then stamped), and ``benchmarks.repro`` compares two runs figure by figure."""

import json
from pathlib import Path

import pytest

from benchmarks.repro import compare_runs, newest_runs, report
from benchmarks.results import SOAK_END, SOAK_START, Figure, Section, load_sections
from benchmarks.run import Run, load_run, not_reproducible, parse_args, save_run, write_results


def fig(key: str, subject: list[float], reference: list[float], **kw: object) -> Figure:
    return Figure(key, key, "req/s", "higher", subject, reference, "ref", **kw)  # type: ignore[arg-type]


def sec(name: str, *figures: Figure, reproducible: bool = True, stamp: str = "") -> Section:
    return Section(name, name, "d", "c", "cmd", "l", list(figures), reproducible=reproducible, stamp=stamp)


def test_not_reproducible_says_why() -> None:
    good = sec("proxy", fig("a", [1.0] * 5, [1.0] * 5, rounds="r"))
    good.rounds = {"r": {"unstable": None}}
    assert not_reproducible(good, 5, quick=False) == []
    assert not_reproducible(good, 3, quick=False) == ["3 rounds asked, 5 needed"]
    assert "--quick run" in not_reproducible(good, 5, quick=True)
    shaky = sec(
        "proxy", fig("a", [1.0], [1.0], rounds="r", unstable="1 quiet rounds of 10 attempted, 5 wanted")
    )
    shaky.rounds = {"r": {"unstable": "1 quiet rounds of 10 attempted, 5 wanted"}, "s": {"unstable": "x"}}
    assert not_reproducible(shaky, 5, quick=False) == ["a: 1 quiet rounds of 10 attempted, 5 wanted", "s: x"]


def test_writer_refuses_unreproducible_sections_unless_forced(tmp_path: Path) -> None:
    results_json, results_md = tmp_path / "results.json", tmp_path / "RESULTS.md"
    results_md.write_text(f"old\n{SOAK_START}\nsoak table\n{SOAK_END}\n")
    run = Run(
        sections=[
            sec("proxy", fig("proxy.a", [2.0] * 5, [1.0] * 5)),
            sec("authn", fig("authn.a", [9.0], [1.0]), reproducible=False, stamp="authn.a: 1 quiet round"),
        ],
        machine={"description": "m"},
    )
    left_out = write_results(run, force=False, results_json=results_json, results_md=results_md)
    assert left_out == ["authn: authn.a: 1 quiet round"]
    assert set(load_sections(results_json)) == {"proxy"}
    text = results_md.read_text()
    assert "## proxy" in text and "## authn" not in text and "soak table" in text
    # Nothing reproducible: neither file is touched.
    before = results_json.read_text()
    assert write_results(Run(sections=[run.sections[1]]), False, results_json, results_md)
    assert results_json.read_text() == before
    # Forced: written, stamped.
    write_results(Run(sections=[run.sections[1]], machine={}), True, results_json, results_md)
    stored = load_sections(results_json)["authn"]
    assert stored.reproducible is False and stored.stamp.startswith("written with --force: ")
    assert "**NOT REPRODUCIBLE: written with --force: authn.a: 1 quiet round**" in results_md.read_text()


def test_run_files_round_trip_and_the_newest_two_are_found(tmp_path: Path) -> None:
    run = Run(sections=[sec("proxy", fig("proxy.a", [2.0] * 5, [1.0] * 5))], machine={"description": "m"})
    first, second = save_run(run, tmp_path), save_run(run, tmp_path)
    assert newest_runs(tmp_path) == [first, second]
    assert load_run(second)["proxy"].figures[0].ratio == 2.0
    assert json.loads(first.read_text())["machine"] == {"description": "m"}
    with pytest.raises(FileNotFoundError):
        newest_runs(tmp_path / "none")


def test_compare_runs_verdicts() -> None:
    a = {
        "proxy": sec(
            "proxy",
            fig("same", [1.0, 1.02, 1.04], [1.0] * 3),
            fig("moved", [1.0] * 3, [1.0] * 3),
            fig("shaky", [1.0] * 3, [1.0] * 3),
            fig("tail", [1.0] * 3, [1.0] * 3, checked=False),
            Figure("nor", "nor", "ms", "lower", [10.0, 11.0], []),
            fig("gone", [1.0], [1.0]),
        )
    }
    b = {
        "proxy": sec(
            "proxy",
            fig("same", [1.05, 1.1, 1.08], [1.0] * 3),
            fig("moved", [1.2] * 3, [1.0] * 3),
            fig("shaky", [1.0] * 3, [1.0] * 3, unstable="2 quiet rounds of 10 attempted, 5 wanted"),
            fig("tail", [2.0] * 3, [1.0] * 3, checked=False),
            Figure("nor", "nor", "ms", "lower", [10.2, 10.8], []),
            fig("new", [1.0], [1.0]),
        )
    }
    rows = {r.key: r for r in compare_runs(a, b)}
    assert rows["same"].verdict == "reproduces" and rows["same"].difference == pytest.approx(0.06 / 1.02)
    assert rows["moved"].verdict == "DIFFERS by more than 10%"
    assert rows["shaky"].verdict == "UNSTABLE: run 2: 2 quiet rounds of 10 attempted, 5 wanted"
    assert rows["tail"].verdict.startswith("DIFFERS") and not rows["tail"].checked
    assert rows["nor"].first == 10.5 and rows["nor"].ok  # no reference: the subject's medians
    assert rows["gone"].verdict == "missing from run 2" and rows["new"].verdict == "missing from run 1"
    text = report(list(rows.values()))
    assert "same" in text and "(unchecked figure)" in text
    assert text.splitlines()[-1] == "reproducible: 2/6 checked figures within 10%; 2/7 figures in all"


def test_a_section_that_is_not_reproducible_as_a_whole_reproduces_nothing() -> None:
    a = {"proxy": sec("proxy", fig("x", [1.0], [1.0]), reproducible=False, stamp="--quick run")}
    b = {"proxy": sec("proxy", fig("x", [1.0], [1.0]))}
    (row,) = compare_runs(a, b)
    assert row.verdict == "UNSTABLE: run 1: --quick run" and not row.ok


def test_quick_runs_and_attempt_bounds() -> None:
    args = parse_args(["proxy", "--quick", "--targets", "get,list-2k"])
    assert (args.rounds, args.max_attempts, args.targets) == (1, 2, ("get", "list-2k"))
    assert parse_args(["--rounds", "5"]).max_attempts == 10
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "5", "--max-attempts", "4"])
    with pytest.raises(SystemExit):
        parse_args(["proxy", "--targets", "nope"])
