"""The synthetic SSDA903 writer: yearly return files that look real, agree with the simulation, and are reproducible."""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import itertools
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from calibration.ssda903 import synthetic
from calibration.ssda903.codes import (
    CATEGORIES_OF_NEED,
    CONTINUES,
    LEGAL_STATUSES,
    PLACE_TO_NEED,
    PROVIDERS,
    REC_TO_ROUTE,
    SEX_CODES,
)
from calibration.ssda903.synthetic import (
    EPISODE_COLUMNS,
    HEADER_COLUMNS,
    UASC_COLUMNS,
    SyntheticSummary,
    write_synthetic_ssda903,
)
from sim.engine.errors import InputError
from sim.engine.model import simulate_replication
from sim.present.output_folders import MARKER
from tests.builders import build, one_pool_scenario, rich_scenario

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared"))
SAMPLES = SHARED / "ssda903_samples"
SEED = 11
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def _no_start_population(years: int = 6):
    raw = rich_scenario(years=years)
    raw.pop("start_population")
    return build(raw)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _date(text: str) -> dt.date:
    assert DATE.match(text), text
    return dt.datetime.strptime(text, "%d/%m/%Y").date()


def _year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year - 1, 4, 1), dt.date(year, 3, 31)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[SyntheticSummary, dict[int, dict[str, list[dict[str, str]]]]]:
    """The rich scenario without a start population (entrants only), written from its first full year."""
    out = tmp_path_factory.mktemp("synthetic") / "returns"
    summary = write_synthetic_ssda903(_no_start_population(), out, seed=SEED)
    tables = {
        year: {table: _read(out / f"{year}-{table}.csv")[1] for table in synthetic.TABLES} for year in summary.years
    }
    return summary, tables


def _episodes_by_child(tables) -> dict[str, list[dict[str, str]]]:
    """Episodes over all years, each once (with its end when any year shows it), in time order per child."""
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    order: dict[tuple[str, str, str], int] = {}
    for year in sorted(tables):
        for row in tables[year]["episodes"]:
            key = (row["CHILD"], row["DECOM"], row["URN"])
            order.setdefault(key, len(order))
            if key not in seen or row["DEC"]:
                seen[key] = row
    children: dict[str, list[dict[str, str]]] = {}
    for key in sorted(seen, key=lambda k: (_date(k[1]), order[k])):
        children.setdefault(key[0], []).append(seen[key])
    return children


def test_files_per_year_with_the_exact_columns(written):
    summary, _ = written
    assert summary.years == [2021, 2022, 2023, 2024, 2025]  # horizon 1 Oct 2019 to 1 Oct 2025, first full year
    expected = {f"{year}-{table}.csv" for year in summary.years for table in ("header", "episodes", "uasc")}
    assert {p.name for p in summary.out_dir.iterdir()} == expected | {MARKER}  # the marker: see test_output_safety
    assert {p.name for p in summary.files} == expected
    assert [p.name for p in summary.out_dir.parent.iterdir()] == [summary.out_dir.name]  # no temporary left
    for year in summary.years:
        assert _read(summary.out_dir / f"{year}-header.csv")[0] == list(HEADER_COLUMNS)
        assert _read(summary.out_dir / f"{year}-episodes.csv")[0] == list(EPISODE_COLUMNS)
        assert _read(summary.out_dir / f"{year}-uasc.csv")[0] == list(UASC_COLUMNS)
    assert summary.starting_children == 0 and not summary.notes
    assert summary.children == summary.periods > 50
    assert summary.episode_rows > summary.episodes > summary.children  # moves, and episodes repeated across years


def test_rows_hold_valid_codes_and_dates(written):
    _, tables = written
    for year, table in tables.items():
        first_day, last_day = _year_bounds(year)
        header = {row["CHILD"]: row for row in table["header"]}
        assert len(header) == len(table["header"])
        assert set(header) == {row["CHILD"] for row in table["episodes"]}  # every child looked after in the year
        for row in table["header"]:
            assert re.fullmatch(r"[1-9]\d{5}", row["CHILD"]) and re.fullmatch(r"[A-Z]\d{12}", row["UPN"])
            assert row["SEX"] in SEX_CODES and _date(row["DOB"]) < last_day
            assert re.fullmatch(r"[A-Z]{4}", row["ETHNIC"]) and row["MOTHER"] == row["MC_DOB"] == ""
        for row in table["episodes"]:
            start = _date(row["DECOM"])
            assert start <= last_day and start >= _date(header[row["CHILD"]]["DOB"])
            if row["DEC"]:
                assert first_day <= _date(row["DEC"]) <= last_day and _date(row["DEC"]) >= start
                assert row["REC"] == CONTINUES or row["REC"] in REC_TO_ROUTE
            else:
                assert row["REC"] == ""
            assert row["RNE"] in {"S", "P"} and row["LS"] in LEGAL_STATUSES and row["CIN"] in CATEGORIES_OF_NEED
            assert row["REASON_PLACE_CHANGE"] == ("CARPL" if row["RNE"] == "P" else "")
            assert row["PLACE"] in PLACE_TO_NEED and row["PLACE_PROVIDER"] in PROVIDERS
            assert re.fullmatch(r"[A-Z]\d{1,2} \d[A-Z]{2}", row["HOME_POST"])
            assert re.fullmatch(r"[A-Z]\d{1,2} \d[A-Z]{2}", row["PL_POST"]) and re.fullmatch(r"\d{7}", row["URN"])
        for row in table["uasc"]:
            child = header[row["CHILD"]]
            assert (row["SEX"], row["DOB"]) == (child["SEX"], child["DOB"])
            born = _date(row["DOB"])
            assert _date(row["DUC"]) == born.replace(year=born.year + 18)
    codes = {row["PLACE"] for table in tables.values() for row in table["episodes"]}
    assert {"U4", "U6", "K2", "A5"} <= codes  # in-house and agency fostering, homes, placed for adoption


def test_periods_are_contiguous_runs_of_episodes(written):
    summary, tables = written
    first_day = _year_bounds(summary.years[0])[0]
    children = _episodes_by_child(tables)
    moves = 0
    for episodes in children.values():
        # One period per child (the simulator has no re-entry); a period begun before the written years may
        # show only its later placements.
        assert episodes[0]["RNE"] == "S" or _date(episodes[0]["DECOM"]) < first_day
        assert all(e["RNE"] == "P" for e in episodes[1:])
        for previous, current in itertools.pairwise(episodes):
            assert previous["REC"] == CONTINUES
            assert current["DECOM"] == previous["DEC"]
            moves += 1
        assert episodes[-1]["REC"] != CONTINUES
        assert len({(e["LS"], e["CIN"], e["HOME_POST"]) for e in episodes}) == 1  # fixed for the period
    assert moves > 20


def test_an_episode_open_at_a_year_end_reappears_with_its_end(written):
    summary, tables = written
    closed_later = 0
    for year in summary.years[:-1]:
        following = {(r["CHILD"], r["DECOM"], r["URN"]): r for r in tables[year + 1]["episodes"]}
        for row in tables[year]["episodes"]:
            if row["DEC"]:
                continue
            later = following[(row["CHILD"], row["DECOM"], row["URN"])]
            assert {k: v for k, v in later.items() if k not in ("DEC", "REC")} == {
                k: v for k, v in row.items() if k not in ("DEC", "REC")
            }
            if later["DEC"]:
                assert _date(later["DEC"]) >= dt.date(year, 4, 1)
                closed_later += 1
    assert closed_later > 20


def test_entrants_and_leavers_match_the_simulation(written):
    summary, tables = written
    scenario = _no_start_population()
    record = simulate_replication(scenario, SEED, 0)
    start = scenario.horizon.start
    first_day, last_day = _year_bounds(summary.years[0])[0], _year_bounds(summary.years[-1])[1]
    low, high = (first_day - start).days, (last_day - start).days

    def in_window(days: np.ndarray) -> int:
        whole = np.floor(days[np.isfinite(days)])
        return int(np.count_nonzero((whole >= low) & (whole <= high)))

    starts = {
        row["CHILD"]
        for table in tables.values()
        for row in table["episodes"]
        if row["RNE"] == "S" and first_day <= _date(row["DECOM"]) <= last_day
    }
    assert len(starts) == in_window(record.cohort.entry_day) > 100
    leavers = {
        row["CHILD"] for table in tables.values() for row in table["episodes"] if row["REC"] and row["REC"] != CONTINUES
    }
    assert len(leavers) == in_window(record.exit_day) > 100
    uasc = {row["CHILD"] for table in tables.values() for row in table["uasc"]}
    assert 0 < len(uasc) < summary.children


def test_same_seed_gives_byte_identical_files(written, tmp_path):
    summary, _ = written
    again = write_synthetic_ssda903(_no_start_population(), tmp_path / "again", seed=SEED)
    for first, second in zip(summary.files, again.files, strict=True):
        assert first.read_bytes() == second.read_bytes()
    other = write_synthetic_ssda903(_no_start_population(), tmp_path / "other", seed=SEED + 1)
    assert other.files[1].read_bytes() != summary.files[1].read_bytes()


def test_the_writer_reads_no_real_return(written, tmp_path):
    opened: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if watching[0] and event == "open" and isinstance(args[0], str | Path) and str(args[1]).startswith("r"):
            opened.append(str(args[0]))  # files opened for reading

    sys.addaudithook(hook)  # audit hooks cannot be removed: switch it off instead
    try:
        write_synthetic_ssda903(_no_start_population(), tmp_path / "watched", seed=SEED)
    finally:
        watching[0] = False
    assert not [path for path in opened if "ssda903_samples" in path or path.endswith(".csv")]
    assert "ssda903_samples" not in inspect.getsource(synthetic)
    if SAMPLES.is_dir():
        _, tables = written
        real = {row["CHILD"] for path in SAMPLES.glob("*-header.csv") for row in _read(path)[1]}
        ours = {row["CHILD"] for table in tables.values() for row in table["header"]}
        assert real and not real & ours


def test_children_in_care_at_the_start_are_written_from_the_start(tmp_path):
    scenario = build(rich_scenario(years=4))
    summary = write_synthetic_ssda903(scenario, tmp_path / "returns", seed=3, first_year=2020)
    assert summary.years == [2020, 2021, 2022, 2023]
    assert summary.starting_children > 0 and "true start is unknown" in summary.notes[0]
    _, rows = _read(tmp_path / "returns" / "2020-episodes.csv")
    from_start = [row for row in rows if row["DECOM"] == "01/10/2019"]
    assert len({row["CHILD"] for row in from_start}) == summary.starting_children
    assert all(row["RNE"] == "S" for row in from_start)
    assert {row["CIN"] for row in from_start} <= {"N1", "N4", "N2"}  # drawn from need_mix


def test_a_fallback_placement_is_written_as_the_kind_of_place_used(tmp_path):
    raw = one_pool_scenario(rate_per_year=40, capacity=2, years=3)
    raw["pools"]["external"]["serves"] = ["residential"]
    raw["matching"]["fostering"] = {"pools": ["inhouse"], "fallback": ["external"]}
    summary = write_synthetic_ssda903(build(raw), tmp_path / "returns", seed=1)
    assert summary.years == [2021, 2022, 2023]  # horizon 1 April 2020 to 1 April 2023
    rows = [row for year in summary.years for row in _read(tmp_path / "returns" / f"{year}-episodes.csv")[1]]
    assert {(row["PLACE"], row["PLACE_PROVIDER"]) for row in rows} == {("U4", "PR1"), ("K2", "PR4")}
    assert {row["LS"] for row in rows} == {"C2"}  # every child aged 5-9
    last = _read(tmp_path / "returns" / "2023-episodes.csv")[1]
    assert any(not row["DEC"] for row in last)  # censored at the horizon end


def test_years_outside_the_horizon_and_stale_files_are_refused(tmp_path):
    scenario = build(one_pool_scenario(years=2), **{"horizon__start": dt.date(2019, 10, 1)})
    with pytest.raises(ValueError, match="before the horizon start"):
        write_synthetic_ssda903(scenario, tmp_path / "a", seed=1, first_year=2019)
    with pytest.raises(ValueError, match="inside the horizon"):
        write_synthetic_ssda903(scenario, tmp_path / "a", seed=1, first_year=2022)
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "2019-header.csv").write_text("CHILD\n")  # real returns look just like synthetic ones: never replaced
    with pytest.raises(InputError, match=r"did not write \(2019-header\.csv\)"):
        write_synthetic_ssda903(scenario, stale, seed=1)
    assert [p.name for p in stale.iterdir()] == ["2019-header.csv"]
    (stale / "2019-header.csv").unlink()
    (stale / "notes.txt").write_text("kept")
    with pytest.raises(InputError, match=r"notes\.txt"):
        write_synthetic_ssda903(scenario, stale, seed=1)
    assert (stale / "notes.txt").read_text() == "kept"
    (stale / "notes.txt").unlink()
    first = write_synthetic_ssda903(scenario, stale, seed=2)  # an empty folder, then an earlier output: replaced
    before = (stale / "2021-header.csv").read_text()
    summary = write_synthetic_ssda903(scenario, stale, seed=1)
    assert summary.years == [2021] and {p.name for p in stale.iterdir()} == {p.name for p in first.files} | {MARKER}
    assert (stale / "2021-header.csv").read_text() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stale"]
