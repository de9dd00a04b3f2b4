"""Population filters: each leaves the right children and periods of care, counts the rest, and says nothing
about any child.

Seven hand-made children (A is the hostile suite's marked child), ten periods of care; every expected number is
worked out from the table below.

| child | sex    | ETHNIC | group        | UASC | periods (age band at entry)  |
|-------|--------|--------|--------------|------|------------------------------|
| A     | male   | WBRI   | white        | no   | 1-4                          |
| B     | female | BAFR   | black        | yes  | 16-17                        |
| C     | female | MWBC   | mixed        | no   | 5-9                          |
| D     | male   | REFU   | not obtained | no   | 10-15, 10-15                 |
| E     | female | CHNE   | other        | no   | 10-15, 10-15                 |
| F     | male   | AIND   | asian        | no   | 10-15, 16-17                 |
| G     | female | blank  | not obtained | no   | 5-9                          |
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from calibration.ssda903.filters import LISTS, NOT_OBTAINED, Population, filter_population, parse_list
from calibration.ssda903.reader import CareHistory, SSDA903Error, read_ssda903
from sim.cli import main
from tests.test_ssda903_hostile import CHILD, DOB, HOME, PLACED, _leaks

HEADER = f"""CHILD,SEX,DOB,ETHNIC
{CHILD},1,{DOB},WBRI
5001,2,01/01/2003,BAFR
5002,2,01/01/2010,MWBC
5003,1,01/06/2006,REFU
5004,2,01/01/2008,CHNE
5005,1,01/07/2004,AIND
5006,2,01/01/2012,
"""
EPISODES = f"""CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,HOME_POST,PL_POST
{CHILD},01/02/2019,S,C2,N1,U4,PR1,,,{HOME},{PLACED}
5001,01/03/2019,S,V2,N1,U4,PR1,,,,
5002,01/04/2019,S,C2,N1,U4,PR1,,,,
5003,01/05/2019,S,C2,N1,U4,PR1,01/08/2019,E13,,
5003,01/01/2020,S,C2,N1,U4,PR1,,,,
5004,01/02/2019,S,C2,N1,U4,PR1,01/06/2019,E13,,
5004,01/03/2020,S,C2,N1,U4,PR1,,,,
5005,01/02/2019,S,C2,N1,U4,PR1,01/03/2019,E13,,
5005,01/09/2020,S,V2,N1,U4,PR1,,,,
5006,01/02/2019,S,C2,N1,U4,PR1,,,,
"""
UASC = "CHILD,DUC\n5001,01/01/2021\n"
SAMPLES = Path(os.environ.get("SUFFICIENCY_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "ssda903_samples"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> CareHistory:
    folder = tmp_path_factory.mktemp("returns")
    for name, text in {"header.csv": HEADER, "episodes.csv": EPISODES, "uasc.csv": UASC}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return read_ssda903(folder)


def _dobs(history: CareHistory) -> list[str]:
    """The kept children by birth date, which names them here (A's is the marked DOB)."""
    return sorted(history.children["dob"].dt.strftime("%d/%m/%Y"))


def test_the_read_gives_each_child_a_dfe_ethnic_group(history: CareHistory) -> None:
    groups = dict(zip(history.children["dob"].dt.strftime("%d/%m/%Y"), history.children["ethnicity"], strict=True))
    assert groups == {
        DOB: "white",
        "01/01/2003": "black",
        "01/01/2010": "mixed",
        "01/06/2006": NOT_OBTAINED,
        "01/01/2008": "other",  # CHNE: the DfE's tables put Chinese in "other ethnic groups"
        "01/07/2004": "asian",
        "01/01/2012": NOT_OBTAINED,  # blank, counted
    }
    assert history.report.total("unknown_ethnic") == 1
    assert len(history.periods) == 10


@pytest.mark.parametrize(
    ("population", "kept", "periods", "counts"),
    [
        (Population(), 7, 10, {}),
        (Population(sex="female"), 4, 5, {"filter_sex": (3, 5)}),
        (Population(uasc=True), 1, 1, {"filter_uasc": (6, 9)}),
        (Population(uasc=False), 6, 9, {"filter_uasc": (1, 1)}),
        (Population(ethnicity=("black", "other")), 2, 3, {"filter_ethnicity": (5, 7)}),
        (Population(ethnicity=(NOT_OBTAINED,)), 2, 3, {"filter_ethnicity": (5, 7)}),
        (Population(entry_age=("16-17",)), 2, 2, {"filter_entry_age": (5, 8)}),
        (
            Population(sex="female", entry_age=("10-15",)),
            1,
            2,
            {"filter_sex": (3, 5), "filter_entry_age": (3, 3)},  # of B, C, E and G: E's two periods are 10-15
        ),
    ],
)
def test_filters_keep_the_right_children_and_count_the_rest(
    history: CareHistory, population: Population, kept: int, periods: int, counts: dict[str, tuple[int, int]]
) -> None:
    filtered = filter_population(history, population)
    assert len(filtered.children) == kept and len(filtered.periods) == periods
    report = filtered.report
    assert (report.children, report.periods, report.episodes) == (kept, periods, len(filtered.episodes))
    assert {rule for rule in report.rules() if rule.startswith("filter_")} == set(counts)
    for rule, (children, left_out) in counts.items():
        assert report.total(rule) == left_out  # rows: the periods of care left out
        (reason,) = [entry.reason for entry in report.entries if entry.rule == rule]
        assert f"{children} children and {left_out} periods of care left out" in reason
    assert filtered.children["child"].tolist() == list(range(kept))  # renumbered, as the reader numbers them
    assert sorted(filtered.periods["period"]) == list(range(periods))
    assert set(filtered.episodes["period"]) == set(filtered.periods["period"])
    assert set(filtered.episodes["child"]) == set(filtered.periods["child"]) == set(filtered.children["child"])
    assert not _leaks(report.to_text() + report.to_frame().to_string())


def test_the_filters_name_the_right_children(history: CareHistory) -> None:
    assert _dobs(filter_population(history, Population(ethnicity=("black", "other")))) == ["01/01/2003", "01/01/2008"]
    ages = filter_population(history, Population(entry_age=("16-17",)))
    assert _dobs(ages) == ["01/01/2003", "01/07/2004"]  # F keeps only the period it began at 16
    assert sorted(ages.periods["start"].dt.strftime("%d/%m/%Y")) == ["01/03/2019", "01/09/2020"]
    assert _dobs(filter_population(history, Population(sex="male"))) == ["01/06/2006", "01/07/2004", DOB]


def test_filtering_leaves_the_history_it_was_given_alone(history: CareHistory) -> None:
    entries = list(history.report.entries)
    filter_population(history, Population(sex="male", entry_age=("10-15",)))
    assert history.report.entries == entries and history.report.children == len(history.children) == 7
    assert history.children["child"].tolist() == list(range(7))


def test_nothing_left_is_one_clear_line(history: CareHistory) -> None:
    with pytest.raises(SSDA903Error) as raised:
        filter_population(history, Population(sex="male", uasc=True))
    message = str(raised.value)
    assert message.startswith("no child is left after the population filters (--sex male: 4 children and 5")
    assert "--uasc yes: 3 children and 5 periods of care left out" in message
    assert "\n" not in message and not _leaks(message)


def test_ethnicity_needs_an_ethnic_column(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(f"CHILD,SEX,DOB\n{CHILD},1,{DOB}\n", encoding="utf-8")
    (tmp_path / "episodes.csv").write_text(EPISODES.splitlines()[0] + "\n" + EPISODES.splitlines()[1] + "\n")
    history = read_ssda903(tmp_path)
    assert filter_population(history, Population(sex="male")).report.children == 1  # other filters still work
    with pytest.raises(SSDA903Error, match="--ethnicity: 1 children's latest header row is in a table with no ETHNIC"):
        filter_population(history, Population(ethnicity=("white",)))


def test_option_lists_are_checked() -> None:
    assert parse_list("ethnicity", "White, black,white") == ("white", "black")
    assert parse_list("entry-age", "under1,16-17") == ("under1", "16-17")
    for kind, text, bad in [
        ("ethnicity", "white,purple", "purple"),
        ("entry-age", "18-21", "18-21"),
        ("entry-age", "", ""),
    ]:
        with pytest.raises(ValueError, match=f"expected a comma-separated list of {LISTS[kind][0]}, .*; got {bad!r}"):
            parse_list(kind, text)
    with pytest.raises(ValueError, match="sex must be one of male, female"):
        Population(sex="unknown")
    with pytest.raises(ValueError, match="list of under1, 1-4, 5-9, 10-15, 16-17; got '5-10'"):
        Population(entry_age=("5-10",))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--ethnicity", "white,purple"], "argument --ethnicity: expected a comma-separated list of white, mixed"),
        (["--entry-age", "5-10"], "argument --entry-age: expected a comma-separated list of under1, 1-4"),
        (["--sex", "other"], "argument --sex: invalid choice: 'other'"),
        (["--short-breaks", "drop"], "argument --short-breaks: invalid choice: 'drop'"),
        (["--reference-start", "2020-13-01"], "argument --reference-start: expected a date as YYYY-MM-DD"),
        (["--la", "all"], "episodes.csv: no LA column; needed to pool the authorities (--la all)"),
    ],
)
@pytest.mark.parametrize("command", ["calibrate", "backtest"])
def test_the_commands_check_the_read_options(
    history: CareHistory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    options: list[str],
    fragment: str,
) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "header.csv").write_text(HEADER, encoding="utf-8")
    (folder / "episodes.csv").write_text(EPISODES, encoding="utf-8")
    out = tmp_path / "out"
    dates = ["--as-of", "2020-06-01", "--out", str(out / "s.toml")] if command == "calibrate" else []
    dates = dates or ["--origin", "2020-06-01", "--out", str(out)]
    with contextlib.suppress(SystemExit):  # argparse exits 2 itself
        assert main([command, "--ssda903", str(folder), *dates, *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err
    assert not out.exists() and not _leaks(err)


def _entries_a_year(scenario: Path) -> float:
    """The reference period's mean entries a year, from the comment calibrate writes above its entry rates."""
    found = re.search(r"the period's mean was ([0-9.]+) a year", scenario.read_text())
    assert found, "no entry-rate comment"
    return float(found.group(1))


def test_calibrate_applies_the_read_options_and_records_them(tmp_path: Path) -> None:
    base = ["calibrate", "--ssda903", str(SAMPLES), "--as-of", "2020-04-01", "--reference-start", "2018-04-01"]
    assert main([*base, "--out", str(tmp_path / "all" / "s.toml")]) == 0
    chosen = ["--short-breaks", "include", "--sex", "female", "--entry-age", "10-15,16-17"]  # the command's order
    assert main([*base, "--out", str(tmp_path / "some" / "s.toml"), *chosen]) == 0
    everyone, some = _entries_a_year(tmp_path / "all" / "s.toml"), _entries_a_year(tmp_path / "some" / "s.toml")
    assert 0 < some < everyone
    text = (tmp_path / "some" / "s.toml").read_text()
    assert "--reference-start 2018-04-01 " + " ".join(chosen) in text.splitlines()[1]  # the command line that wrote it
    assert "periods of care starting in the reference period 2018-04-01 to 2020-03-31, both days in" in text
    report = (tmp_path / "some" / "calibration_report.html").read_text()
    assert "filter_sex" in report and "filter_entry_age" in report


def test_backtest_applies_the_read_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["backtest", "--ssda903", str(SAMPLES), "--origin", "2020-04-01", "--horizon", "3"]
    base += ["--replications", "3"]
    assert main([*base, "--out", str(tmp_path / "all")]) == 0
    assert main([*base, "--out", str(tmp_path / "boys"), "--sex", "male", "--uasc", "no"]) == 0
    observed = {}
    for name in ("all", "boys"):
        monthly = (tmp_path / name / "backtest_monthly.csv").read_text()
        observed[name] = monthly
    assert observed["all"] != observed["boys"]
    assert not _leaks(capsys.readouterr().out)
