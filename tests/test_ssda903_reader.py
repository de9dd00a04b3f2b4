"""The SSDA903 reader and cleaner: each cleaning rule on a hand-made case, bad input, privacy, and the samples.

Hand-made cases live in tests/ssda903/<case>/; every expected number below is worked out by hand from those
files, with the arithmetic in a comment. Bad-input cases are written inline (to tmp_path) so the one broken
cell sits next to the assertion about it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.ssda903.cleaning import split_at_age_bands
from calibration.ssda903.quality import QualityReport
from calibration.ssda903.reader import CareHistory, SSDA903Error, read_ssda903
from sim.engine.vocabulary import AGE_BANDS, EXIT_ROUTES

HERE = Path(__file__).parent
CASES = HERE / "ssda903"
ROOT = HERE.parent
SAMPLES = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared")) / "ssda903_samples"
T = pd.Timestamp


def _read(case: str, **kwargs) -> CareHistory:
    return read_ssda903(CASES / case, **kwargs)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows as tuples, NaT shown as None, for exact comparison with hand-written expectations."""
    return [tuple(None if v is pd.NaT else v for v in row) for row in frame[columns].itertuples(index=False)]


# ---------------------------------------------------------------------------------------------------------
# Interface


def test_tables_have_the_promised_columns_and_types():
    history = _read("periods")
    assert list(history.children.columns) == ["child", "dob", "sex", "uasc", "ethnicity"]
    assert list(history.episodes.columns) == [
        "child", "period", "start", "end", "need", "in_house", "place", "provider", "legal_status", "cin", "rec",
        "reason", "within_20_miles",
    ]  # fmt: skip
    assert list(history.periods.columns) == [
        "child", "period", "start", "end", "censored", "exit_route", "age_at_entry_days", "cin", "uasc",
    ]  # fmt: skip
    assert history.children["child"].tolist() == [0, 1, 2]  # internal ids, never the CHILD values 8401-8403
    for frame, columns in [(history.children, ["dob"]), (history.episodes, ["start", "end"])]:
        assert all(str(frame[c].dtype) == "datetime64[ns]" for c in columns)
    assert history.episodes["in_house"].dtype == bool and history.periods["censored"].dtype == bool
    assert history.periods["age_at_entry_days"].dtype == float
    assert isinstance(history.extract_date, dt.date) and isinstance(history.report, QualityReport)


# ---------------------------------------------------------------------------------------------------------
# Cleaning rules, one hand-made case each


def test_rule1_duplicates_across_yearly_returns_keep_the_copy_with_an_end_date():
    history = _read("duplicates")
    # 2018 holds 3 episodes, 2019 holds the same 3 (7301 now closed 20/02/2020, 7302 unchanged, 7303 still open)
    # plus a new one: 3 + 4 = 7 rows read, 3 duplicates dropped, all from 2018 (the 2019 copies win): 7 - 3 = 4.
    assert history.report.rows_read == {"header": 6, "episodes": 7, "uasc": 0}
    assert history.report.total("duplicate_episodes") == 3
    entry = next(e for e in history.report.entries if e.rule == "duplicate_episodes")
    assert (entry.file, entry.rows) == ("2018-episodes.csv", 3) and "2019-episodes.csv" in entry.reason
    assert len(history.episodes) == 4
    # child 0 (7301): the kept copy has the 2019 end; a gap to 01/04/2020 starts a second period.
    assert _rows(history.periods, ["child", "start", "end", "exit_route"]) == [
        (0, T("2018-05-10"), T("2020-02-20"), "return_home"),
        (0, T("2020-04-01"), None, ""),
        (1, T("2018-06-01"), T("2018-09-01"), "return_home"),
        (2, T("2018-09-15"), None, ""),
    ]
    assert history.extract_date == dt.date(2020, 4, 1)  # latest DECOM/DEC: 7301's new episode


def test_rule1_within_one_combined_file_the_later_year_wins(tmp_path):
    _write(tmp_path, episodes=f"{EPISODE_HEAD},YEAR\n{ROW_OPEN_U5},2019\n{ROW_OPEN_U4},2018\n")
    history = read_ssda903(tmp_path)
    # Both copies open, same child and DECOM: the YEAR 2019 row wins although it comes first in the file.
    assert history.report.total("duplicate_episodes") == 1
    assert history.episodes["place"].tolist() == ["U5"]


def test_rule2_overlapping_episodes_end_at_the_next_start():
    history = _read("overlaps")  # combined files header.csv / episodes.csv
    # 8101: episode 1 (to 01/06) overlaps episode 2 (from 01/05): ended 01/05. 8102: episode 1 is open when
    # episode 2 starts 01/08: ended 01/08 and given REC X1. 2 overlaps.
    assert history.report.total("overlapping_episodes") == 2
    assert _rows(history.episodes, ["child", "start", "end", "rec"]) == [
        (0, T("2019-01-01"), T("2019-05-01"), "X1"),
        (0, T("2019-05-01"), T("2019-10-01"), "X1"),
        (0, T("2019-10-01"), None, ""),
        (1, T("2019-02-01"), T("2019-08-01"), "X1"),
        (1, T("2019-08-01"), T("2019-12-01"), "E8"),
    ]
    assert history.periods["exit_route"].tolist() == ["", "other"]  # 8101 still open; 8102 E8 -> other


def test_rule3_short_breaks_are_removed_without_splitting_the_care_around_them():
    history = _read("short_breaks")
    # V3/V4 rows: 8201 x2, 8202 x1, 8203 x1 = 4 dropped; 8201's two and 8202's one are periods of their own
    # (RNE S, ended E13): 3 periods of only short breaks; 8202 had nothing else: 3 - 1 = 2 children.
    assert history.report.total("short_breaks") == 4 and history.report.total("short_break_periods") == 3
    assert history.report.total("child_without_episodes") == 1
    assert len(history.children) == 2 and len(history.episodes) == 7 - 4
    # 8203 (child 0): 01/01-01/04 X1, [V4 01/04-01/05 X1 removed], 01/05-01/08 E13: one period across the break.
    assert history.report.total("short_break_bridged") == 1
    assert _rows(history.periods, ["child", "start", "end", "censored", "exit_route"]) == [
        (0, T("2019-01-01"), T("2019-08-01"), False, "return_home"),
        (1, T("2019-06-01"), None, True, ""),
    ]
    assert history.episodes["period"].tolist() == [0, 0, 1]
    assert history.report.total("x1_without_next") == 0 and history.report.total("period_without_s") == 0


def test_rule4_legal_status_changes_and_same_placements_merge():
    history = _read("merges")
    # 8301: U4/PR1 (S) + U4/PR1 (L) merge (1); U5/PR4 (L, but the place changed: kept, 1 changed);
    # U5/PR4 (T) joins the previous U5/PR4 (same placement, 1); K2/PR4 stays: 5 rows -> 3 placements.
    # 8302: K2 ends E13, then an L row at K2 the same day: care ended, so no merge; a new period (not S).
    assert history.report.total("legal_status_change") == 1
    assert history.report.total("rne_l_with_move") == 1
    assert history.report.total("same_placement") == 1
    assert _rows(history.episodes, ["child", "period", "start", "end", "place", "legal_status", "rec"]) == [
        (0, 0, T("2019-01-01"), T("2019-05-01"), "U4", "C2", "X1"),  # first row's LS, last row's end and REC
        (0, 0, T("2019-05-01"), T("2019-09-01"), "U5", "C1", "X1"),
        (0, 0, T("2019-09-01"), T("2019-12-01"), "K2", "J1", "E13"),
        (1, 1, T("2019-02-01"), T("2019-03-01"), "K2", "C2", "E13"),
        (1, 2, T("2019-03-01"), None, "K2", "C2", ""),
    ]
    assert history.report.total("period_without_s") == 1


def test_rule5_and_6_periods_exit_routes_and_censoring():
    history = _read("periods")
    periods = history.periods
    # 8401 (born 15/06/2001) leaves 14/06/2019 with E3 (other): 6573 days = 17.996 years >= 17.99 -> age_18.
    # 8402: [01/01 X1 -> 01/02 E11] adoption; [01/05 X1] then RNE S on 01/06: the X1 period has no next
    # episode -> censored at 01/06; [01/06 E45] sgo_cao; gap, [01/09 P ... 01/10 X1] last, nothing follows ->
    # censored at 01/10 (and flagged: not RNE S). 8403: open -> censored, end NaT. 1 + 4 + 1 = 6 periods.
    assert _rows(periods, ["child", "period", "start", "end", "censored", "exit_route"]) == [
        (0, 0, T("2018-01-01"), T("2019-06-14"), False, "age_18"),
        (1, 1, T("2019-01-01"), T("2019-03-01"), False, "adoption"),
        (1, 2, T("2019-05-01"), T("2019-06-01"), True, ""),
        (1, 3, T("2019-06-01"), T("2019-07-01"), False, "sgo_cao"),
        (1, 4, T("2019-09-01"), T("2019-10-01"), True, ""),
        (2, 5, T("2019-03-01"), None, True, ""),
    ]
    assert history.report.total("x1_without_next") == 2
    assert history.report.total("period_without_s") == 1
    # 01/01/2010 -> 01/01/2019: 9 x 365 + 2 leap days (2012, 2016) = 3287 days.
    assert periods.loc[1, "age_at_entry_days"] == 3287.0
    assert periods["cin"].tolist() == ["N1", "N4", "N5", "N6", "N6", "N1"]  # first episode's CIN
    assert periods["uasc"].tolist() == [False, False, False, False, False, True]  # 8403 is in uasc.csv
    assert history.extract_date == dt.date(2019, 10, 1)  # latest date: 8402's last DEC


def test_rule6_an_earlier_extract_date_drops_later_starts_and_reopens_later_ends():
    history = _read("periods", extract_date=dt.date(2019, 6, 15))
    # On 15/06/2019: 8402's 01/09 episode had not started (1 dropped); its 01/06-01/07 episode was open
    # (1 reopened). 8401 ended 14/06, before the date: still age_18. 6 - 1 = 5 periods.
    assert history.report.total("after_extract_date") == 1
    assert history.report.total("open_at_extract_date") == 1
    assert _rows(history.periods, ["child", "end", "exit_route"]) == [
        (0, T("2019-06-14"), "age_18"),
        (1, T("2019-03-01"), "adoption"),
        (1, T("2019-06-01"), ""),
        (1, None, ""),
        (2, None, ""),
    ]


def test_rule7_split_at_age_bands():
    history = _read("age_bands")  # ISO dates
    pieces = split_at_age_bands(history.episodes, history.children)
    # 8501 born 01/01/2014, placed 01/06/2014-01/06/2020: 1st and 5th birthdays inside -> 3 pieces.
    # 8502 born 10/03/2004, open from 01/01/2020: 16th birthday 10/03/2020 inside -> 2 pieces.
    assert _rows(pieces, ["child", "start", "end", "rec", "age_band"]) == [
        (0, T("2014-06-01"), T("2015-01-01"), "", "under1"),
        (0, T("2015-01-01"), T("2019-01-01"), "", "1-4"),
        (0, T("2019-01-01"), T("2020-06-01"), "E13", "5-9"),
        (1, T("2020-01-01"), T("2020-03-10"), "", "10-15"),
        (1, T("2020-03-10"), None, "", "16-17"),
    ]
    assert (pieces["period"] == pieces["child"]).all() and pieces["need"].tolist()[3:] == ["residential"] * 2


@settings(max_examples=60, deadline=None)
@given(
    dob=st.dates(dt.date(2000, 1, 1), dt.date(2020, 12, 31)),
    offset=st.integers(0, 17 * 365),
    length=st.one_of(st.none(), st.integers(0, 19 * 365)),
)
def test_split_pieces_tile_the_placement_and_keep_one_band(dob, offset, length):
    start = T(dob) + pd.Timedelta(days=offset)
    end = pd.NaT if length is None else start + pd.Timedelta(days=length)
    episodes = pd.DataFrame({"child": [0], "start": [start], "end": [end], "rec": ["E13"]})
    episodes["end"] = episodes["end"].astype("datetime64[ns]")
    pieces = split_at_age_bands(episodes, pd.DataFrame({"child": [0], "dob": [T(dob)]}))
    assert pieces["start"].iloc[0] == start and (pieces["end"].iloc[-1] == end or pd.isna(end))
    assert (pieces["start"].iloc[1:].to_numpy() == pieces["end"].iloc[:-1].to_numpy()).all()
    assert pieces["age_band"].is_unique and set(pieces["age_band"]) <= set(AGE_BANDS)
    assert pieces["rec"].tolist() == [""] * (len(pieces) - 1) + ["E13"]


def test_files_recognised_by_columns_la_year_and_extra_columns():
    history = _read("formats", la="E1")
    # children.csv / spells.csv / asylum.csv named oddly, recognised from their columns; notes.csv ignored.
    # LA E2 rows: 1 in children.csv, 1 in spells.csv. Mixed ISO and dd/mm/YYYY dates in spells.csv.
    assert history.report.files == {"asylum.csv": "uasc", "children.csv": "header", "spells.csv": "episodes"}
    assert history.report.total("other_la") == 2 and history.report.total("unrecognised_file") == 1
    assert history.children["uasc"].tolist() == [False, True]
    assert history.children["dob"].tolist() == [T("2008-02-01"), T("2009-03-01")]  # not E2's 9101
    assert history.extract_date == dt.date(2020, 3, 31)  # YEAR 2020: the return year to 31 March 2020
    assert history.report.total("open_at_extract_date") == 1  # E1's 9101 ended in May: open on 31 March


def test_la_errors():
    with pytest.raises(SSDA903Error, match=r"spells.csv: LA 'E9' not found"):
        _read("formats", la="E9")
    with pytest.raises(SSDA903Error, match=r"episodes.csv: no LA column"):
        _read("periods", la="E1")


# ---------------------------------------------------------------------------------------------------------
# Bad input

CHILD_ID, DOB, UPN, POSTCODES = "4417730", "23/11/2007", "Q123456789012", ("QX9 9QX", "QY8 8QY", "QZ7 7QZ")
HEADER = f"CHILD,SEX,DOB,UPN\n{CHILD_ID},1,{DOB},{UPN}\n"
EPISODE_HEAD = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,HOME_POST,PL_POST"
ROW_1 = f"{CHILD_ID},01/02/2019,S,C2,N1,U4,PR1,01/06/2019,X1,{POSTCODES[0]},{POSTCODES[1]}"
ROW_2 = f"{CHILD_ID},01/06/2019,P,C2,N1,K2,PR4,,,{POSTCODES[0]},{POSTCODES[2]}"
ROW_OPEN_U4 = f"{CHILD_ID},01/02/2019,S,C2,N1,U4,PR1,,,{POSTCODES[0]},{POSTCODES[1]}"
ROW_OPEN_U5 = f"{CHILD_ID},01/02/2019,S,C2,N1,U5,PR4,,,{POSTCODES[0]},{POSTCODES[1]}"
EPISODES = f"{EPISODE_HEAD}\n{ROW_1}\n{ROW_2}\n"
# Every personal value the inputs below contain, valid or broken: none may reach a message or a report.
SECRETS = (CHILD_ID, DOB, "2007-11-23", UPN, *POSTCODES, "31/02/2019", "2007-23-11", "23/11/2019", "5550001")


def _write(folder: Path, header: str | None = HEADER, episodes: str | None = EPISODES, **more: str) -> Path:
    """A folder with header.csv and episodes.csv (None: no such file) and any `name=text` files."""
    files = {"header.csv": header, "episodes.csv": episodes, **{f"{k}.csv": v for k, v in more.items()}}
    for name, text in files.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


# case -> (header, episodes, fragments the message must contain)
ERRORS: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {
    "missing column": (
        HEADER,
        EPISODES.replace(",PLACE_PROVIDER", "", 1),
        ("episodes.csv: missing column PLACE_PROVIDER", "needs CHILD, DECOM"),
    ),
    "unparseable date": (
        HEADER,
        _edit(EPISODES, "01/06/2019,P", "31/02/2019,P"),
        ("episodes.csv, row 3, column DECOM", "could not read DECOM", "dd/mm/YYYY or YYYY-MM-DD"),
    ),
    "unparseable DOB": (_edit(HEADER, DOB, "2007-23-11"), EPISODES, ("header.csv, row 2, column DOB",)),
    "blank DECOM": (HEADER, _edit(EPISODES, "01/06/2019,P", ",P"), ("row 3, column DECOM", "DECOM is blank")),
    "only DOB outside the return": (
        _edit(HEADER, DOB, "01/01/1850"),
        EPISODES,
        ("no episode belongs to a child in a header table", "1 row dropped by dob_outside_return"),
    ),
    "DEC before DECOM": (
        HEADER,
        _edit(EPISODES, "01/06/2019,X1", "01/01/2019,X1"),
        ("episodes.csv, row 2, column DEC", "DEC is before DECOM"),
    ),
    "DECOM before DOB": (_edit(HEADER, DOB, "23/11/2019"), EPISODES, ("episodes.csv, row 2, column DECOM", "DOB")),
    "unknown REC": (HEADER, _edit(EPISODES, ",X1,", ",Z9,"), ("row 2, column REC", "unknown REC code", "E11")),
    "blank REC with DEC": (HEADER, _edit(EPISODES, ",X1,", ",,"), ("row 2, column REC", "REC is blank")),
    "blank CHILD": (HEADER, f"{EPISODES}{ROW_2.replace(CHILD_ID, '', 1)}\n", ("row 4, column CHILD", "blank")),
    "empty file": (HEADER, "", ("episodes.csv: the file is empty",)),
    "no episode rows": (HEADER, f"{EPISODE_HEAD}\n", ("no episode rows",)),
    "no episodes table": (HEADER, None, ("no episodes table", "DECOM")),
    "no header table": (None, EPISODES, ("no header table", "DOB")),
    "malformed CSV": (HEADER, f"{EPISODES}{ROW_2},extra,fields\n", ("episodes.csv: not a readable CSV",)),
    "bad YEAR": (HEADER, f"{EPISODE_HEAD},YEAR\n{ROW_1},twenty\n", ("row 2, column YEAR", "return year")),
    "YEAR not a year": (HEADER, f"{EPISODE_HEAD},YEAR\n{ROW_1},0019\n", ("row 2, column YEAR", "from 1900 to 2199")),
    "every DECOM outside": (
        HEADER,
        EPISODES.replace("/2019,", "/2099,"),
        ("no episode rows left to read", "2 rows dropped by decom_outside_return"),
    ),
    "blank line keeps row numbers": (
        HEADER,
        f"{EPISODE_HEAD}\n{ROW_1}\n\n{ROW_2.replace('01/06/2019', '2019/06/01')}\n",
        ("episodes.csv, row 4, column DECOM",),
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_raises_with_file_row_column_and_expectation(tmp_path, case):
    header, episodes, fragments = ERRORS[case]
    with pytest.raises(SSDA903Error) as caught:
        read_ssda903(_write(tmp_path, header, episodes))
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not any(secret in message for secret in SECRETS), message
    assert "Traceback" not in message


def test_folder_errors(tmp_path):
    with pytest.raises(SSDA903Error, match="not a folder"):
        read_ssda903(tmp_path / "missing")
    with pytest.raises(SSDA903Error, match="no CSV files"):
        read_ssda903(tmp_path)
    (tmp_path / "mystery.csv").write_text("CHILD,COLOUR\n1,red\n", encoding="utf-8")
    with pytest.raises(SSDA903Error, match=r"mystery\.csv: has a CHILD column"):
        read_ssda903(tmp_path)


# case -> (header, episodes, rule, rows counted); each is fixed, counted, and the read goes on
FIXES: dict[str, tuple[str, str, str, int]] = {
    "unknown PLACE": (HEADER, _edit(EPISODES, ",K2,", ",Q9,"), "unknown_place", 1),
    "unknown PLACE_PROVIDER": (HEADER, _edit(EPISODES, ",PR4,", ",PR9,"), "unknown_provider", 1),
    "unknown LS": (HEADER, _edit(EPISODES, ",C2,N1,K2", ",ZZ,N1,K2"), "unknown_legal_status", 1),
    "unknown CIN": (HEADER, _edit(EPISODES, ",N1,K2", ",N9,K2"), "unknown_cin", 1),
    "unknown RNE": (HEADER, _edit(EPISODES, ",P,C2", ",Q,C2"), "unknown_rne", 1),
    "unknown SEX": (_edit(HEADER, ",1,", ",9,"), EPISODES, "unknown_sex", 1),
    "child not in header": (HEADER, f"{EPISODES}{ROW_2.replace(CHILD_ID, '5550001', 1)}\n", "child_not_in_header", 1),
    "REC on an open episode": (HEADER, _edit(EPISODES, ",,QX9", ",E13,QX9"), "rec_on_open_episode", 1),
}


@pytest.mark.parametrize("case", list(FIXES))
def test_fixable_faults_are_counted(tmp_path, case):
    header, episodes, rule, rows = FIXES[case]
    history = read_ssda903(_write(tmp_path, header, episodes, uasc="CHILD,DUC\n"))  # empty uasc: accepted
    assert history.report.total(rule) == rows
    assert history.report.file_rows["uasc.csv"] == 0
    assert len(history.children) == 1 and len(history.periods) == 1


def test_fixed_values(tmp_path):
    """What each counted fix leaves behind (the two-episode base: U4/PR1 then K2/PR4)."""
    one = read_ssda903(_write(_mkdir(tmp_path / "a"), *FIXES["unknown PLACE"][:2]))
    assert one.episodes["place"].tolist() == ["U4"]  # 2 rows - 1 dropped; the kept one ends X1 -> censored
    assert one.periods["censored"].tolist() == [True]
    provider = read_ssda903(_write(_mkdir(tmp_path / "b"), *FIXES["unknown PLACE_PROVIDER"][:2]))
    assert provider.episodes["provider"].tolist() == ["PR1", ""]
    assert provider.episodes["in_house"].tolist() == [True, False]
    sex = read_ssda903(_write(_mkdir(tmp_path / "c"), *FIXES["unknown SEX"][:2]))
    assert sex.children["sex"].tolist() == ["unknown"]


def test_header_conflict_between_returns_keeps_the_latest(tmp_path):
    _write(tmp_path, header=None)
    (tmp_path / "2018-header.csv").write_text(HEADER, encoding="utf-8")
    (tmp_path / "2019-header.csv").write_text(_edit(HEADER, ",1,", ",2,"), encoding="utf-8")
    history = read_ssda903(tmp_path)
    assert history.report.total("header_conflict") == 1
    assert history.children["sex"].tolist() == ["female"]


# ---------------------------------------------------------------------------------------------------------
# Dates outside the return they came from (the last day a return labelled YYYY can hold is 1 April YYYY+1)


def _returns(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _assert_same_history(got: CareHistory, expected: CareHistory) -> None:
    assert got.extract_date == expected.extract_date
    for table in ("children", "episodes", "periods"):
        pd.testing.assert_frame_equal(getattr(got, table), getattr(expected, table))


def _episode(decom: str, dec: str = "", rec: str = "", child: str = CHILD_ID) -> str:
    return f"{child},{decom},P,C2,N1,U5,PR4,{dec},{rec},{POSTCODES[0]},{POSTCODES[2]}"


def test_a_decom_after_its_return_is_dropped_counted_and_never_the_extract_date(tmp_path):
    clean = read_ssda903(_returns(tmp_path / "clean", {"2019-header.csv": HEADER, "2019-episodes.csv": EPISODES}))
    late = f"{EPISODES}{_episode('01/01/2099')}\n"
    dirty = read_ssda903(_returns(tmp_path / "dirty", {"2019-header.csv": HEADER, "2019-episodes.csv": late}))
    # The 2099 row is as if absent: same children, episodes, periods and extract date (ROW_2's 01/06/2019).
    _assert_same_history(dirty, clean)
    assert clean.extract_date == dt.date(2019, 6, 1)
    entry = next(e for e in dirty.report.entries if e.rule == "decom_outside_return")
    assert (entry.file, entry.rows, entry.action) == ("2019-episodes.csv", 1, "dropped")


def test_a_dob_outside_its_return_drops_that_header_row_only(tmp_path):
    files = {"2019-header.csv": HEADER, "2019-episodes.csv": EPISODES}
    clean = read_ssda903(_returns(tmp_path / "clean", files))
    # 2018's header row for the same child says 1850: dropped, so 2019's DOB stands and nothing conflicts.
    # Child 5550001 has only an 1850 row: no DOB left, so its one episode goes as a child in no header.
    other = f"{_episode('01/03/2019', child='5550001')}\n"
    dirty = read_ssda903(
        _returns(
            tmp_path / "dirty",
            {
                **files,
                "2018-header.csv": f"{_edit(HEADER, DOB, '01/01/1850')}5550001,2,23/11/1850,{UPN}\n",
                "2019-episodes.csv": f"{EPISODES}{other}",
            },
        )
    )
    _assert_same_history(dirty, clean)
    assert dirty.report.total("dob_outside_return") == 2 and dirty.report.total("header_conflict") == 0
    assert dirty.report.total("child_not_in_header") == 1


@pytest.mark.parametrize(
    ("name", "column", "decom", "kept"),
    [
        ("2019-episodes.csv", "", "01/04/2020", True),  # the last day a return labelled 2019 can hold
        ("2019-episodes.csv", "", "02/04/2020", False),
        ("episodes.csv", "2019/20", "2020-04-01", True),  # YEAR wins over a name with no year
        ("episodes.csv", "2019", "2020-04-02", False),
        ("2030-episodes.csv", "2019", "02/04/2020", False),  # ... and over the name's year
        ("2019-episodes.csv", "", "31/12/1899", False),
        ("2019-episodes.csv", "", "01/01/3000", False),  # beyond what pandas holds in nanoseconds: no error
    ],
)
def test_the_last_day_a_return_can_hold(tmp_path, name, column, decom, kept):
    year = f",{column}" if column else ""
    text = f"{EPISODE_HEAD}{',YEAR' if column else ''}\n{ROW_1}{year}\n{_episode(decom)}{year}\n"
    history = read_ssda903(_returns(tmp_path / "returns", {"header.csv": HEADER, name: text}))
    assert history.report.total("decom_outside_return") == (0 if kept else 1)
    if column:  # the extract date is the end of the latest YEAR's return year, and nothing after it is kept
        assert history.extract_date == (dt.date(2020, 3, 31) if column == "2019/20" else dt.date(2019, 3, 31))
        assert len(history.episodes) == 1 and history.report.total("after_extract_date") == (1 if kept else 0)
        return
    assert len(history.episodes) == (2 if kept else 1)
    assert history.extract_date == (dt.date(2020, 4, 1) if kept else dt.date(2019, 6, 1))  # else ROW_1's DEC


def test_a_file_with_no_year_holds_nothing_after_today(tmp_path):
    tomorrow = (pd.Timestamp.today().normalize() + pd.Timedelta(days=1)).strftime("%d/%m/%Y")
    history = read_ssda903(_write(tmp_path, HEADER, f"{EPISODES}{_episode(tomorrow)}\n"))
    assert history.report.total("decom_outside_return") == 1 and history.extract_date == dt.date(2019, 6, 1)


def test_a_dec_outside_its_return_leaves_the_episode_open_until_a_later_return_ends_it(tmp_path):
    late_end = f"{EPISODE_HEAD}\n{_episode('01/02/2019', '01/06/2099', 'E13')}\n"
    files = {"2019-header.csv": HEADER, "2019-episodes.csv": late_end}
    alone = read_ssda903(_returns(tmp_path / "alone", files))
    # Open at the return's end: DEC and REC cleared, the period censored, and 2099 is not the extract date.
    assert _rows(alone.episodes, ["start", "end", "rec"]) == [(T("2019-02-01"), None, "")]
    assert alone.periods["censored"].tolist() == [True] and alone.extract_date == dt.date(2019, 2, 1)
    assert alone.report.total("dec_outside_return") == 1
    real_end = f"{EPISODE_HEAD}\n{_episode('01/02/2019', '01/06/2020', 'E13')}\n"
    later = read_ssda903(_returns(tmp_path / "later", {**files, "2020-episodes.csv": real_end}))
    assert _rows(later.episodes, ["start", "end", "rec"]) == [(T("2019-02-01"), T("2020-06-01"), "E13")]
    assert later.periods["exit_route"].tolist() == ["return_home"] and later.report.total("duplicate_episodes") == 1


# ---------------------------------------------------------------------------------------------------------
# Privacy


def _everything_said(history: CareHistory) -> str:
    return history.report.to_text() + history.report.to_frame().to_string() + history.report.counts_frame().to_string()


def test_no_personal_value_in_any_message_or_report(tmp_path):
    said = []
    for case, (header, episodes, _) in ERRORS.items():
        folder = _mkdir(tmp_path / re.sub(r"\W", "_", case))
        with pytest.raises(SSDA903Error) as caught:
            read_ssda903(_write(folder, header, episodes))
        said.append(str(caught.value))
    for case, (header, episodes, _, _) in FIXES.items():
        folder = _mkdir(tmp_path / re.sub(r"\W", "_", case))
        said.append(_everything_said(read_ssda903(_write(folder, header, episodes))))
    text = "\n".join(said)
    assert all(secret not in text for secret in SECRETS)


# ---------------------------------------------------------------------------------------------------------
# Report


def test_quality_report_methods():
    report = QualityReport()
    report.add("short_breaks", 3, "dropped", "short break", "2019-episodes.csv")
    report.add("short_breaks", 2, "dropped", "short break", "2020-episodes.csv")
    report.add("same_placement", 0, "merged", "nothing happened: not recorded")
    assert report.total("short_breaks") == 5 and report.total("same_placement") == 0
    assert report.to_frame().columns.tolist() == ["rule", "file", "rows", "action", "reason"]
    assert len(report.to_frame()) == 2 and "2020-episodes.csv" in report.to_text()
    with pytest.raises(ValueError, match="action must be one of"):
        report.add("x", 1, "deleted", "no such action")


# ---------------------------------------------------------------------------------------------------------
# End to end on the shared synthetic samples


@pytest.fixture(scope="module")
def samples() -> CareHistory:
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} not found")
    return read_ssda903(SAMPLES)


def test_samples_read_cleanly(samples):
    children, episodes, periods = samples.children, samples.episodes, samples.periods
    assert len(children) > 0 and len(periods) > 0 and len(episodes) >= len(periods)
    assert children["child"].tolist() == list(range(len(children)))
    assert set(episodes["child"]) == set(children["child"]) and set(episodes["period"]) == set(periods["period"])
    closed = periods["end"].notna()
    assert (periods.loc[closed, "start"] <= periods.loc[closed, "end"]).all()
    assert (episodes["end"].isna() | (episodes["start"] <= episodes["end"])).all()
    assert (periods.loc[periods["censored"], "exit_route"] == "").all()
    assert set(periods.loc[~periods["censored"], "exit_route"]) <= set(EXIT_ROUTES)
    assert not episodes["legal_status"].isin(["V3", "V4"]).any()
    following = episodes.groupby("child")["start"].shift(-1)
    assert not (following < episodes["end"].fillna(pd.Timestamp.max)).any()  # no overlaps left
    assert samples.report.rows_read["episodes"] == 3737  # 1460 + 974 + 648 + 402 + 253
    assert samples.report.children == len(children) and samples.report.periods == len(periods)


def test_samples_report_the_episodes_repeated_across_years(samples):
    # README: 346 episodes are in both 2017 and 2018; the 2018 copy (with its end date) is kept.
    frame = samples.report.to_frame()
    pair = frame[(frame["rule"] == "duplicate_episodes") & (frame["file"] == "2017-episodes.csv")]
    pair = pair[pair["reason"].str.contains("2018-episodes.csv")]
    assert pair["rows"].tolist() == [346]
    assert "duplicate_episodes" in samples.report.to_text()


def test_samples_report_holds_no_personal_value(samples):
    identifiers: set[str] = set()
    for path in SAMPLES.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in ("CHILD", "DOB", "UPN", "HOME_POST", "PL_POST", "MC_DOB"):
            identifiers |= set(frame.get(column, pd.Series(dtype=str))) - {""}
    dobs = {d for d in identifiers if re.fullmatch(r"\d\d/\d\d/\d{4}", d)}
    identifiers |= {f"{d[6:]}-{d[3:5]}-{d[:2]}" for d in dobs}
    text = _everything_said(samples)
    tokens = set(re.findall(r"[A-Za-z0-9]+", text))
    # Short CHILD values (2-4 digits) cannot be told apart from counts in a report, so only longer ones count
    # as tokens; dates, UPNs and postcodes are searched as substrings.
    assert not {i for i in identifiers if i.isdigit() and len(i) >= 5} & tokens
    assert not [i for i in identifiers if not i.isdigit() and i in text]


def test_samples_hold_no_date_outside_their_returns_and_end_on_their_latest_event(samples):
    latest = max(
        pd.to_datetime(pd.read_csv(path, dtype=str)[column], format="%d/%m/%Y").max()
        for path in SAMPLES.glob("*-episodes.csv")
        for column in ("DECOM", "DEC")
    )
    assert samples.extract_date == latest.date() == dt.date(2022, 3, 27)
    assert not [rule for rule in samples.report.rules() if rule.endswith("_outside_return")]


def test_samples_with_a_2099_decom_and_an_1850_dob_keep_their_extract_date(samples, tmp_path):
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    _replace_cell(folder / "2021-episodes.csv", row=5, column="DECOM", value="01/01/2099")
    _replace_cell(folder / "2021-header.csv", row=3, column="DOB", value="01/01/1850")
    history = read_ssda903(folder)
    assert history.extract_date == samples.extract_date  # not 2099: backtest compares no invented months
    assert history.report.total("decom_outside_return") == 1 and history.report.total("dob_outside_return") == 1


def _replace_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (spreadsheet row numbering: the header line is row 1)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[row - 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_samples_split_at_age_bands_keeps_every_day(samples):
    pieces = split_at_age_bands(samples.episodes, samples.children)
    end = pd.Timestamp(samples.extract_date)
    days = lambda f: (f["end"].fillna(end) - f["start"]).dt.days.sum()  # noqa: E731
    assert days(pieces) == days(samples.episodes) and len(pieces) > len(samples.episodes)
