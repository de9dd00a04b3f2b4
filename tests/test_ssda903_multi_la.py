"""Several authorities in one folder (the regional layout: combined files with LA and YEAR columns).

The same CHILD id, the hostile suite's marked child, is used by two authorities with different birth dates:
keyed by CHILD alone they would be one child whose care began before birth. Without --la the read names the
authorities and stops; --la all pools them as two children; --la CODE keeps one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from calibration.ssda903.reader import SSDA903Error, read_ssda903
from sim.cli import main
from tests.test_ssda903_hostile import CHILD, DOB, HOME, PLACED, _leaks

LA_1, LA_2 = "E08000001", "E08000002"
HEADER = f"LA,YEAR,CHILD,SEX,DOB\n{LA_1},2020,{CHILD},1,{DOB}\n{LA_2},2020,{CHILD},2,01/01/2010\n"
EPISODES = f"""LA,YEAR,CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,HOME_POST,PL_POST
{LA_1},2020,{CHILD},01/05/2019,S,C2,N1,U4,PR1,,,{HOME},{PLACED}
{LA_2},2020,{CHILD},01/06/2015,S,C2,N2,K2,PR4,01/02/2020,E13,{HOME},{PLACED}
"""


def _returns(folder: Path, episodes: str = EPISODES, header: str = HEADER) -> Path:
    folder.mkdir()
    (folder / "header.csv").write_text(header, encoding="utf-8")
    (folder / "episodes.csv").write_text(episodes, encoding="utf-8")
    return folder


@pytest.mark.parametrize("command", ["calibrate", "backtest"])
def test_two_authorities_without_la_exit_2_naming_both_and_write_nothing(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _returns(tmp_path / "returns")
    out = tmp_path / "out"
    dates = ["--as-of", "2020-03-01", "--out", str(out / "s.toml")] if command == "calibrate" else []
    dates = dates or ["--origin", "2019-10-01", "--out", str(out)]
    assert main([command, "--ssda903", str(folder), *dates]) == 2
    said = capsys.readouterr()
    lines = said.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"rows of 2 local authorities in the returns ({LA_1}, {LA_2})" in lines[0]
    assert "--la all to pool them" in lines[0]
    assert not _leaks(said.out + said.err) and not out.exists()


def test_a_value_not_shaped_like_an_la_code_is_counted_not_shown(tmp_path: Path) -> None:
    folder = _returns(tmp_path / "returns", EPISODES.replace(LA_2, f"{HOME}"), HEADER.replace(LA_2, HOME))
    with pytest.raises(SSDA903Error) as raised:
        read_ssda903(folder)
    message = str(raised.value)
    assert f"({LA_1}, 1 value not shaped like an LA code" in message and not _leaks(message)


def test_la_all_pools_the_authorities_keyed_by_la_and_child(tmp_path: Path) -> None:
    history = read_ssda903(_returns(tmp_path / "returns"), la="all")
    assert len(history.children) == 2 and len(history.periods) == 2  # one CHILD id, two children
    assert sorted(history.children["dob"].dt.strftime("%d/%m/%Y")) == ["01/01/2010", DOB]
    assert sorted(history.children["sex"]) == ["female", "male"]
    assert sorted(history.periods["cin"]) == ["N1", "N2"]
    assert history.extract_date == dt.date(2020, 3, 31)  # YEAR 2020: the return year to 31 March 2020
    report = history.report
    assert not _leaks(report.to_text() + report.to_frame().to_string())


def test_an_la_code_in_another_case_is_the_same_authority(tmp_path: Path) -> None:
    header = "".join(HEADER.splitlines(keepends=True)[:2]) + f"{LA_1.lower()},2020,6001,1,01/01/2010\n"
    episodes = EPISODES.replace(f"{LA_2},2020,{CHILD},01/06/2015", f"{LA_1.lower()},2020,6001,01/06/2015")
    folder = _returns(tmp_path / "returns", episodes, header)
    assert len(read_ssda903(folder).children) == 2  # one authority: no --la needed
    pooled = read_ssda903(folder, la="all")
    assert len(pooled.children) == 2 and pooled.report.total("child_not_in_header") == 0


def test_la_code_keeps_one_authority(tmp_path: Path) -> None:
    history = read_ssda903(_returns(tmp_path / "returns"), la=LA_2)
    assert history.children["dob"].dt.strftime("%d/%m/%Y").tolist() == ["01/01/2010"]
    assert history.report.total("other_la") == 2  # one header row and one episode of LA_1


def test_la_all_needs_an_la_on_every_row_of_every_file(tmp_path: Path) -> None:
    folder = _returns(tmp_path / "blank", EPISODES.replace(f"{LA_2},2020", ",2020"))
    with pytest.raises(SSDA903Error, match=r"episodes.csv, row 3, column LA: LA is blank; expected the authority's"):
        read_ssda903(folder, la="all")
    folder = _returns(tmp_path / "missing")
    (folder / "uasc.csv").write_text(f"CHILD,DUC\n{CHILD},09/04/2035\n", encoding="utf-8")
    with pytest.raises(SSDA903Error, match=r"uasc.csv: no LA column; needed to pool the authorities \(--la all\)"):
        read_ssda903(folder, la="ALL")


@pytest.mark.parametrize(
    ("year", "extract"),
    [
        ("2020", dt.date(2020, 3, 31)),  # the DfE's year to 31 March 2020
        ("2019/20", dt.date(2020, 3, 31)),
        ("2020-21", dt.date(2021, 3, 31)),
        ("", dt.date(2020, 2, 1)),  # no YEAR: the latest event (LA_2's DEC)
    ],
)
def test_year_gives_the_extract_date(tmp_path: Path, year: str, extract: dt.date) -> None:
    folder = _returns(
        tmp_path / "returns",
        EPISODES.replace(",2020,", f",{year},"),
        HEADER.replace("YEAR,", "").replace(",2020,", ","),
    )
    assert read_ssda903(folder, la="all").extract_date == extract
