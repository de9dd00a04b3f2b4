"""Emergency, unregistered and high-cost placements and secure shortages by financial year (issue 17, "Done when").

`RunSummary.fallbacks_by_year` is computed once from the gap ledger and shown in the terminal summary, report.html,
budget.xlsx and summary.csv. Checked here: hand-computed means, confidence intervals and percentiles of a small
constructed ledger, every row zero-filled, the financial-year split of placements spanning 31 March against the raw
record (child-days exact), and the same figures and their labels in every output.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

from sim.app.session import fallbacks_table
from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.engine.scenario_files import load_scenario
from sim.present.outputs import print_summary, write_run
from sim.results.costs import days_by_period
from sim.results.runner import RunResult, run
from sim.results.summary import (
    FALLBACK_CSV_MEASURES,
    FALLBACK_ROWS,
    FALLBACK_UNITS,
    FALLBACKS_TITLE,
    HIGH_COST_ROWS,
    ROW_UNITS,
    RunSummary,
)
from sim.results.tables import Calendar
from tests.builders import build, one_pool_scenario

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"
POOLS = {
    "inhouse": {"serves": ["fostering"], "capacity": 10, "in_house": True},
    "ifa": {"serves": ["fostering"], "capacity": 5, "in_house": False},
    "emergency": {
        "serves": ["fostering", "secure"],
        "capacity": 2,
        "in_house": False,
        "kind": "emergency",
        "bridging_days": {"distribution": "fixed", "days": 14},
    },
    "unregistered": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False, "kind": "unregistered"},
    "secure_unit": {"serves": ["secure"], "capacity": 1, "in_house": False},
    "dol": {"serves": ["secure"], "capacity": "unlimited", "in_house": False, "kind": "deprivation_of_liberty"},
}


def _ledger_scenario():
    """Pools of every kind, a horizon from 1 October 2020 for two years: 2020-21 and 2022-23 are part years."""
    raw = one_pool_scenario(years=2)
    raw["horizon"]["start"] = pd.Timestamp("2020-10-01").date()
    raw["pools"] = POOLS
    raw["matching"] = {
        "fostering": {"pools": ["inhouse", "ifa"], "fallback": ["emergency", "unregistered"]},
        "secure": {"pools": ["secure_unit"], "fallback": ["emergency", "dol"]},
    }
    return build(raw)


def _row(replication: int, month: str, kind: str, used: str, placements: int, days: float, need="fostering"):
    return {
        "replication": replication,
        "month": pd.Timestamp(month),
        "need": need,
        "kind": kind,
        "sufficient": kind.endswith("right_kind"),
        "wanted_pool": "secure_unit" if need == "secure" else "inhouse",
        "used_pool": used,
        "age_band": "10-15",
        "placements": placements,
        "child_days": days,
    }


# Three replications. Replication 0: an emergency placement started 22 March 2021 and ended 5 April (10 days in
# 2020-21, 5 in 2021-22), and a child needing secure care in a Deprivation of Liberty placement; replication 1:
# two emergency placements in May 2021 and a child needing secure care placed in an emergency bed (an emergency
# placement and a secure shortage, not a DoL one); replication 2 none. An agency placement of the right kind and
# nothing unregistered anywhere. Replication 2's child needing secure care was in a DoL placement on the start date.
LEDGER = pd.DataFrame(
    [
        _row(0, "2021-03-01", "emergency", "emergency", 1, 10.0),
        _row(0, "2021-04-01", "emergency", "emergency", 0, 5.0),
        _row(0, "2021-06-01", "secure_shortage", "dol", 1, 30.0, need="secure"),
        _row(1, "2021-05-01", "emergency", "emergency", 2, 20.0),
        _row(1, "2021-07-01", "secure_shortage", "emergency", 1, 7.0, need="secure"),
        _row(2, "2021-05-01", "external_right_kind", "ifa", 4, 90.0),
        _row(2, "2020-10-01", "secure_shortage", "dol", 1, 31.0, need="secure"),  # open on the start date
        _row(2, "2020-11-01", "secure_shortage", "dol", 0, 9.0, need="secure"),
    ]
)
# Children in care at 00:00 on the start date: replication 2's child needing secure care is in the DoL placement.
STOCK = pd.DataFrame(
    {
        "replication": [2, 2],
        "date": pd.to_datetime(["2020-10-01", "2020-10-01"]),
        "need": ["secure", "fostering"],
        "pool": ["dol", "inhouse"],
        "age_band": ["10-15", "10-15"],
        "children": [1, 7],
    }
)


@pytest.fixture(scope="module")
def constructed() -> RunSummary:
    scenario = _ledger_scenario()
    return RunSummary(
        scenario=scenario,
        seed=1,
        replications=3,
        calendar=Calendar.for_scenario(scenario),
        wall_seconds=0.0,
        _tables={"gap_ledger": LEDGER, "stock": STOCK},
    )


def _cell(table: pd.DataFrame, year: str, row: str, unit: str) -> pd.Series:
    found = table[(table["financial_year"] == year) & (table["row"] == row) & (table["unit"] == unit)]
    assert len(found) == 1
    return found.iloc[0]


def _check(cell: pd.Series, per_replication: list[float]) -> None:
    """The cell's statistics equal those of the replications' values computed here by hand."""
    values = np.array(per_replication, dtype=float)
    mean = values.mean()
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    assert cell["mean"] == pytest.approx(mean)
    assert cell["ci95_low"] == pytest.approx(mean - half)
    assert cell["ci95_high"] == pytest.approx(mean + half)
    for q in (10, 50, 90):
        assert cell[f"p{q}"] == pytest.approx(np.percentile(values, q))


def test_each_row_holds_the_hand_computed_figures_of_a_constructed_ledger(constructed: RunSummary) -> None:
    table = constructed.fallbacks_by_year
    # The placement over 31 March: started and 10 days in 2020-21, its other 5 days in 2021-22.
    _check(_cell(table, "2020-21", "emergency", "placements"), [1, 0, 0])
    _check(_cell(table, "2020-21", "emergency", "child_days"), [10, 0, 0])
    # 2021-22: replication 1's secure child in the emergency bed counts as an emergency placement too.
    _check(_cell(table, "2021-22", "emergency", "placements"), [0, 3, 0])
    _check(_cell(table, "2021-22", "emergency", "child_days"), [5, 27, 0])
    _check(_cell(table, "2021-22", "secure_shortage", "placements"), [1, 1, 0])
    _check(_cell(table, "2021-22", "secure_shortage", "child_days"), [30, 7, 0])
    _check(_cell(table, "2021-22", "secure_shortage_deprivation_of_liberty", "placements"), [1, 0, 0])
    _check(_cell(table, "2021-22", "secure_shortage_deprivation_of_liberty", "child_days"), [30, 0, 0])
    # Replication 2's child in the DoL placement on the start date: its 40 days count, its start does not.
    for row in ("secure_shortage", "secure_shortage_deprivation_of_liberty"):
        _check(_cell(table, "2020-21", row, "placements"), [0, 0, 0])
        _check(_cell(table, "2020-21", row, "child_days"), [0, 0, 40])
    assert _cell(table, "2021-22", "emergency", "placements")["p90"] == pytest.approx(2.4)  # 0, 0, 3: 0.8 * 3


def test_every_year_row_and_unit_is_there_with_zeros_where_no_child_was(constructed: RunSummary) -> None:
    table = constructed.fallbacks_by_year
    years = ["2020-21", "2021-22", "2022-23"]
    assert constructed.calendar.financial_years.labels == years
    assert constructed.fallback_rows == [row for row in FALLBACK_ROWS if row not in HIGH_COST_ROWS]  # no prices
    assert "no price book" in constructed.high_cost_note
    expected = [(y, r, u) for y in years for r in constructed.fallback_rows for u in ("placements", "child_days")]
    assert list(zip(table["financial_year"], table["row"], table["unit"], strict=True)) == expected
    assert table.set_index("financial_year")["part_year"].groupby(level=0).first().to_dict() == {
        "2020-21": True,
        "2021-22": False,
        "2022-23": True,
    }
    unregistered = table[(table["row"] == "unregistered") | (table["financial_year"] == "2022-23")]
    assert len(unregistered) == 2 * 3 + 4 * 2 - 2
    statistics = ["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]
    assert (unregistered[statistics].to_numpy() == 0).all()
    # The agency placement of the right kind is in none of the rows.
    assert table.loc[table["unit"] == "placements", "mean"].sum() == pytest.approx((1 + 3 + 2 + 1) / 3)


def test_a_run_with_no_gap_at_all_reports_zeros_in_every_row() -> None:
    result = run(build(one_pool_scenario(capacity="unlimited", years=2)), 3)
    table = result.run_summary.fallbacks_by_year
    assert result.tables["gap_ledger"].empty
    assert len(table) == len(result.calendar.financial_years.labels) * 4 * 2  # four rows, two units: no prices
    assert (table[["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]].to_numpy() == 0).all()


def test_child_days_and_placements_by_financial_year_equal_the_raw_record_across_31_march() -> None:
    """Every child is in an unregistered placement (the only pool), so the row holds every in-care day: the raw
    record's placements cut at each 1 April give each replication's child-days exactly, and their starts after
    the start date the placements started (the 6 children placed there on the start date started before it)."""
    raw = one_pool_scenario(rate_per_year=60, mean_days=200, years=3)
    raw["horizon"]["start"] = pd.Timestamp("2020-10-01").date()
    raw["pools"] = {"unregistered": POOLS["unregistered"]}
    raw["matching"] = {"fostering": {"pools": ["unregistered"]}}
    group = {"age_band": "5-9", "need": "fostering", "pool": "unregistered", "count": 6, "days_in_care": 100}
    raw["start_population"] = {"groups": [group]}
    scenario = build(raw)
    replications = 4
    table = run(scenario, replications).run_summary.fallbacks_by_year
    years = Calendar.for_scenario(scenario).financial_years
    child_days, started, spanning = [], [], 0
    for replication in range(replications):
        placements = simulate_replication(scenario, scenario.seed, replication).placements
        placements = placements[placements[:, PlacementColumn.KIND] == IN_CARE]
        start, end = placements[:, PlacementColumn.START], placements[:, PlacementColumn.END]
        days = days_by_period(start, end, years.starts, years.ends)
        spanning += int(((days > 0).sum(axis=1) > 1).sum())
        child_days.append(days.sum(axis=0))
        started.append([np.sum((start > a) & (start < b)) for a, b in zip(years.starts, years.ends, strict=True)])
        assert np.sum(start == 0) == 6 and started[-1][0] < np.sum(start < years.ends[0])
    assert spanning > 10  # placements over 31 March are there to be split
    for unit, values in (("child_days", np.array(child_days)), ("placements", np.array(started))):
        for k, year in enumerate(years.labels):
            _check(_cell(table, year, "unregistered", unit), list(values[:, k]))
    assert (table.loc[table["row"] != "unregistered", "mean"] == 0).all()


# ---------------------------------------------------------------------------------------------
# The same figures, and what they count, in every output

MARKET_TOML = f"""
extends = "{PRICED.as_posix()}"
name = "priced_market"
[horizon]
start = 2020-10-01
years = 2
[journeys.10-15]
exit_routes = {{ return_home = 0.5, age_18 = 0.5 }}
duration.return_home = {{ distribution = "lognormal", mean = 300, sd = 400 }}
first_need = {{ fostering = 0.6, residential = 0.3, secure = 0.1 }}
[pools.ifa]
capacity = 6
availability = 0.6
[pools.emergency]
serves = ["fostering"]
capacity = "unlimited"
in_house = false
kind = "emergency"
bridging_days = {{ distribution = "fixed", days = 14 }}
[pools.external_homes]
capacity = 2
[pools.unregistered]
serves = ["residential"]
capacity = "unlimited"
in_house = false
kind = "unregistered"
[pools.secure_unit]
serves = ["secure"]
capacity = 1
in_house = false
[pools.dol]
serves = ["secure"]
capacity = "unlimited"
in_house = false
kind = "deprivation_of_liberty"
[matching.fostering]
pools = ["inhouse", "ifa"]
fallback = ["emergency"]
[matching.residential]
pools = ["homes", "external_homes"]
fallback = ["unregistered"]
[matching.secure]
pools = ["secure_unit"]
fallback = ["dol"]
[prices.pools.emergency]
source = "assumption: test"
weekly = 1500
[prices.pools.unregistered]
source = "=1+1"
weekly = 9000
[prices.pools.secure_unit]
source = "assumption: test"
weekly = 8000
[prices.pools.dol]
source = "assumption: test"
weekly = 12000
"""


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[RunResult, Path, str]:
    folder = tmp_path_factory.mktemp("market")
    path = folder / "market.toml"
    path.write_text(MARKET_TOML, encoding="utf-8")
    result = run(load_scenario(path), 3)
    write_run(result, folder / "out", scenario_path=path)
    return result, folder / "out", print_summary(result)


def test_the_market_run_uses_every_fallback(market) -> None:
    table = market[0].run_summary.fallbacks_by_year
    totals = table[table["unit"] == "placements"].groupby("row")["mean"].sum()
    assert (totals > 0).all(), totals


def test_the_terminal_summary_prints_each_row_named_and_its_band(market) -> None:
    result, _, printed = market
    run_summary = result.run_summary
    flat = " ".join(printed.split())  # the prose is wrapped to the terminal's 100 columns
    assert " ".join(FALLBACKS_TITLE.split()) in flat
    assert " ".join(run_summary.band_label.split()) in flat and "simulation only: parameters fixed" in flat
    for words in [*FALLBACK_ROWS.values(), *(_sentence(w) for w in FALLBACK_UNITS.values())]:
        assert " ".join(words.split()) in flat
    assert "2020-21 (part)" in printed and "2021-22 " in printed and "2021-22 (part)" not in printed
    cell = _cell(run_summary.fallbacks_by_year, "2021-22", "emergency", "placements")
    assert f"{cell['mean']:.1f} ({cell['p10']:.0f}-{cell['p90']:.0f})" in printed


def test_the_report_has_a_table_a_row_with_what_it_counts(market) -> None:
    result, out, _ = market
    page = (out / "report.html").read_text(encoding="utf-8")
    assert FALLBACKS_TITLE in page
    for words in FALLBACK_ROWS.values():
        assert html.escape(words) in page and html.escape(_sentence(words)) in page
    assert html.escape(result.run_summary.band_label) in page
    assert "2020-21 (part year)" in page
    assert page.count("placements started: P10-P90") == 4
    assert page.count("placements in the year: P10-P90") == page.count("share (%): P10-P90") == len(HIGH_COST_ROWS)
    cell = _cell(result.run_summary.fallbacks_by_year, "2021-22", "unregistered", "child_days")
    assert f"{cell['mean']:,.1f}" in page and f"{cell['p10']:,.0f} to {cell['p90']:,.0f}" in page


def test_the_workbook_sheet_holds_the_figures_as_numbers_and_every_text_escaped(market) -> None:
    result, out, _ = market
    workbook = openpyxl.load_workbook(out / "budget.xlsx")
    rows = list(workbook["Emergency and shortages"].iter_rows(values_only=True))
    table = result.run_summary.fallbacks_by_year
    assert rows[0][:4] == ("financial_year", "part_year", "what", "counts")
    assert len(rows) == 1 + len(table)
    for shown, (_, row) in zip(rows[1:], table.iterrows(), strict=True):
        assert shown[:4] == (
            row["financial_year"],
            "part year" if row["part_year"] else "whole year",
            FALLBACK_ROWS[row["row"]],
            FALLBACK_UNITS[row["unit"]],
        )
        assert shown[4:] == pytest.approx(tuple(row[["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]]))
    notes = " ".join(str(r[0]) for r in workbook["Notes"].iter_rows(values_only=True))
    assert result.run_summary.band_label in notes
    for sheet in workbook:
        for line in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in line)


def test_summary_csv_holds_every_row_by_financial_year_zero_filled(market) -> None:
    result, out, _ = market
    summary = pd.read_csv(out / "summary.csv")
    table = result.run_summary.fallbacks_by_year
    rows = summary[summary["measure"].isin(FALLBACK_CSV_MEASURES.values())]
    years = result.calendar.financial_years.labels
    assert len(rows) == len(table) == len(years) * len(FALLBACK_CSV_MEASURES) == len(years) * (4 * 2 + 2 * 2)
    assert list(rows["financial_year"]) == list(table["financial_year"])
    assert list(rows["part_year"]) == list(table["part_year"])
    np.testing.assert_allclose(rows["mean"], table["mean"], rtol=1e-3)  # written to 4 significant figures
    assert rows[rows["financial_year"] == "2020-21"]["period"].unique().tolist() == ["2020-10-01"]
    assert rows[rows["financial_year"] == "2021-22"]["period"].unique().tolist() == ["2021-04-01"]


def test_the_workshop_table_has_a_row_a_year_and_each_cell_mean_p10_p90(constructed: RunSummary) -> None:
    shown = fallbacks_table(constructed).set_index("financial year")
    assert list(shown.index) == ["2020-21 (part year)", "2021-22", "2022-23 (part year)"]
    assert len(shown.columns) == sum(len(ROW_UNITS[row]) for row in constructed.fallback_rows) == 4 * 2
    assert shown.loc["2021-22", "emergency: placements started"] == "1.0 (0 to 2)"  # 0, 3, 0: P90 2.4
    assert shown.loc["2021-22", "of which DoL: child-days"] == "10.0 (0 to 24)"  # 30, 0, 0: P90 24
    assert shown.loc["2022-23 (part year)", "unregistered: child-days"] == "0.0 (0 to 0)"


def _sentence(words: str) -> str:
    return words[0].upper() + words[1:]


# ---------------------------------------------------------------------------------------------
# High-cost placements (the `high_cost` table)

# Replication 0 in 2020-21: 10 agency placements priced per child, 2 at £5k a week or more and 1 at £10k, and 5 in
# external homes, 3 at £5k; replication 1: 4 agency placements, none high-cost; replication 2: none at all.
HIGH_COST = pd.DataFrame(
    {
        "replication": [0, 0, 1],
        "financial_year": ["2020-21", "2020-21", "2020-21"],
        "pool": ["ifa", "external_homes", "ifa"],
        "placements": [10, 5, 4],
        "at_least_5k": [2, 3, 0],
        "at_least_10k": [1, 0, 0],
    }
)


@pytest.fixture(scope="module")
def priced_constructed() -> RunSummary:
    scenario = load_scenario(PRICED)
    return RunSummary(
        scenario=scenario,
        seed=1,
        replications=3,
        calendar=Calendar.for_scenario(scenario),
        wall_seconds=0.0,
        _tables={"gap_ledger": LEDGER.iloc[:0], "high_cost": HIGH_COST},
    )


def test_high_cost_rows_count_placements_and_their_share_by_hand(priced_constructed: RunSummary) -> None:
    table = priced_constructed.fallbacks_by_year
    assert priced_constructed.fallback_rows == list(FALLBACK_ROWS) and not priced_constructed.high_cost_note
    _check(_cell(table, "2020-21", "high_cost_5k", "placements_active"), [5, 0, 0])
    _check(_cell(table, "2020-21", "high_cost_5k", "share_percent"), [100 * 5 / 15, 0, 0])
    _check(_cell(table, "2020-21", "high_cost_10k", "placements_active"), [1, 0, 0])
    _check(_cell(table, "2020-21", "high_cost_10k", "share_percent"), [100 * 1 / 15, 0, 0])
    later = table[(table["financial_year"] == "2021-22") & table["row"].isin(list(HIGH_COST_ROWS))]
    assert len(later) == 4 and (later["mean"] == 0).all()  # zero-filled: no placement priced per child
    assert set(table.loc[table["row"].isin(list(HIGH_COST_ROWS)), "unit"]) == {"placements_active", "share_percent"}


def test_the_market_runs_high_cost_rows_equal_its_high_cost_table(market) -> None:
    result = market[0]
    table, high_cost = result.run_summary.fallbacks_by_year, result.tables["high_cost"]
    assert high_cost["at_least_10k"].sum() > 0  # the £12,000 a week DoL placements
    for year in result.calendar.financial_years.labels:
        rows = high_cost[high_cost["financial_year"] == year]
        for row, column in HIGH_COST_ROWS.items():
            cell = _cell(table, year, row, "placements_active")
            assert cell["mean"] == pytest.approx(rows[column].sum() / 3)
            per_replication = rows.groupby("replication")[[column, "placements"]].sum()
            shares = 100 * per_replication[column] / per_replication["placements"]
            assert _cell(table, year, row, "share_percent")["mean"] == pytest.approx(
                shares.reindex(range(3)).fillna(0).mean()
            )
