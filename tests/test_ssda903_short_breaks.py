"""Short breaks (legal status V3/V4): excluded, they never split or end a period of care; included, they are care.

Hand-made children, one per way a short break can sit in a chain of linked episodes (REC X1, next DECOM on
that DEC), then a synthetic authority with short breaks written inside its periods: read back, it has one
period per child either way, as the simulation had.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from calibration.ssda903.estimate import stock_on
from calibration.ssda903.reader import CareHistory, SSDA903Error, read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from tests.builders import build, rich_scenario
from tests.test_ssda903_hostile import CHILD, DOB, HOME, PLACED, _leaks

T = dt.date
HEADER = "CHILD,SEX,DOB\n" + "".join(f"{child},1,01/01/2010\n" for child in (6001, 6002, 6003, 6004, 6005))
HEADER += f"{CHILD},2,{DOB}\n"
EPISODES = f"""CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,HOME_POST,PL_POST
6001,01/01/2019,S,C2,N1,U4,PR1,01/04/2019,X1,,
6001,01/04/2019,T,V3,N1,K2,PR1,08/04/2019,X1,,
6001,08/04/2019,T,C2,N1,U6,PR4,01/08/2019,E13,,
{CHILD},01/02/2019,S,V3,N1,K2,PR1,03/02/2019,E13,{HOME},{PLACED}
{CHILD},01/05/2019,S,V4,N1,K2,PR1,02/05/2019,E13,{HOME},{PLACED}
6002,01/01/2019,S,V3,N1,K2,PR1,01/03/2019,X1,,
6002,01/03/2019,L,C2,N1,K2,PR1,,,,
6003,01/01/2019,S,C2,N1,U4,PR1,01/05/2019,X1,,
6003,01/05/2019,T,V4,N1,K2,PR1,10/05/2019,E13,,
6004,01/01/2019,S,C2,N1,U4,PR1,01/06/2019,X1,,
6004,01/06/2019,T,V3,N1,K2,PR1,,,,
6005,01/01/2019,S,C2,N1,U4,PR1,01/06/2019,E13,,
6005,01/07/2019,S,V3,N1,K2,PR1,05/07/2019,X1,,
6005,05/07/2019,L,C2,N1,U4,PR1,,,,
"""
# child -> its periods as (start, end, exit route) under exclude
EXCLUDED = {
    6001: [(T(2019, 1, 1), T(2019, 8, 1), "return_home")],  # one period across the break
    6002: [(T(2019, 3, 1), None, "")],  # began with a break: starts at its first other episode
    6003: [(T(2019, 1, 1), T(2019, 5, 1), "return_home")],  # ended with a break: its REC, at the care's end
    6004: [(T(2019, 1, 1), T(2019, 6, 1), "")],  # ended into a break still open: censored there
    6005: [(T(2019, 1, 1), T(2019, 6, 1), "return_home"), (T(2019, 7, 5), None, "")],  # care ended, then again
}


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("returns")
    (folder / "header.csv").write_text(HEADER, encoding="utf-8")
    (folder / "episodes.csv").write_text(EPISODES, encoding="utf-8")
    return folder


def _periods(history: CareHistory) -> dict[int, list[tuple]]:
    """Each child's periods as (start, end, exit route), by the reader's child id."""
    out: dict[int, list[tuple]] = {}
    for row in history.periods.itertuples():
        end = None if row.end is None or str(row.end) == "NaT" else row.end.date()
        out.setdefault(int(row.child), []).append((row.start.date(), end, row.exit_route))
    return out


def test_excluded_short_breaks_neither_split_nor_end_a_period(returns: Path) -> None:
    history = read_ssda903(returns)  # exclude is the default
    report = history.report
    assert report.total("short_breaks") == 7  # V3/V4 rows
    assert report.total("short_break_periods") == 2  # the marked child's two breaks, each its own chain
    assert report.total("child_without_episodes") == 1 and len(history.children) == 5
    assert report.total("short_break_bridged") == 1  # 6001
    assert report.total("short_break_start") == 2  # 6002, and 6005's second chain
    assert report.total("short_break_exit") == 1  # 6003
    assert report.total("x1_without_next") == 1  # 6004
    assert report.total("period_without_s") == 0  # the periods that began after breaks start with RNE S
    assert sorted(_periods(history).values()) == sorted(EXCLUDED.values())
    assert len(history.periods) == 6  # the old rule (drop, then split) made 6001's care two periods: 7
    assert not history.episodes["legal_status"].isin(["V3", "V4"]).any()
    assert len(stock_on(history, T(2019, 3, 15))) == 5  # 6001-6005 in care before 6001's break
    on_break = stock_on(history, T(2019, 4, 5))  # 6001 is on its break: not care
    assert sorted(on_break["need"]) == ["fostering", "fostering", "fostering", "residential"]  # 6002 at K2
    assert not _leaks(report.to_text() + report.to_frame().to_string())


def test_included_short_breaks_are_care(returns: Path) -> None:
    history = read_ssda903(returns, short_breaks="include")
    assert not [rule for rule in history.report.rules() if rule.startswith("short_break")]
    assert history.episodes["legal_status"].isin(["V3", "V4"]).sum() == 7
    assert len(history.children) == 6  # the marked child's breaks are two periods of care
    on_break = stock_on(history, T(2019, 4, 5))
    assert sorted(on_break["need"]) == ["fostering"] * 3 + ["residential"] * 2  # 6001 on its break, at K2
    starts = sorted(row.start.date() for row in history.periods.itertuples())
    assert starts.count(T(2019, 1, 1)) == 5  # 6001-6005: breaks inside chains start no new period either
    assert T(2019, 4, 8) not in starts and T(2019, 3, 1) not in starts


def test_the_short_break_rule_is_checked(returns: Path) -> None:
    with pytest.raises(SSDA903Error, match="short breaks: expected one of exclude, include, got 'drop'"):
        read_ssda903(returns, short_breaks="drop")


def _no_start_population():
    raw = rich_scenario(years=6)
    raw.pop("start_population")
    return build(raw)


def test_synthetic_short_breaks_round_trip_as_one_period_per_child(tmp_path: Path) -> None:
    plain = write_synthetic_ssda903(_no_start_population(), tmp_path / "plain", seed=11)
    summary = write_synthetic_ssda903(_no_start_population(), tmp_path / "breaks", seed=11, short_break_share=0.3)
    assert plain.short_breaks == 0 and summary.short_breaks > 20
    assert summary.children == plain.children and summary.episodes == plain.episodes + summary.short_breaks
    for year in summary.years:  # the breaks' draws are their own: the same children and identifiers
        assert (tmp_path / "plain" / f"{year}-header.csv").read_bytes() == (
            tmp_path / "breaks" / f"{year}-header.csv"
        ).read_bytes()
    excluded = read_ssda903(tmp_path / "breaks")
    assert excluded.report.total("short_breaks") == summary.short_breaks
    assert excluded.report.total("short_break_bridged") == summary.short_breaks
    assert len(excluded.periods) == len(excluded.children) == summary.periods  # entries not doubled
    plain_history = read_ssda903(tmp_path / "plain")
    assert excluded.periods["start"].tolist() == plain_history.periods["start"].tolist()
    included = read_ssda903(tmp_path / "breaks", short_breaks="include")
    assert len(included.periods) == summary.periods
    assert included.episodes["legal_status"].isin(["V3", "V4"]).sum() > 0
    with pytest.raises(ValueError, match="short_break_share must be from 0 to 1"):
        write_synthetic_ssda903(_no_start_population(), tmp_path / "bad", seed=11, short_break_share=1.5)
