"""The summary layer: a run's summaries are computed once however many outputs read them, and hold the right figures."""

from __future__ import annotations

import collections
import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import sim.app
import sim.present
from sim.analysis.compare import compare
from sim.engine.scenario_files import load_scenario
from sim.present.outputs import print_summary, write_comparison, write_run
from sim.results import budget, summary
from sim.results.runner import RunResult, run
from tests.builders import build, rich_scenario

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"
REPLICATIONS = 3
Call = tuple[int, tuple[str, ...], tuple[str, ...], str, int]


@pytest.fixture(scope="module")
def priced() -> RunResult:
    return run(load_scenario(PRICED), REPLICATIONS)


@contextmanager
def counted_summaries() -> Iterator[collections.Counter[Call]]:
    """Every call of `summarise` by the summary layer and the budget, keyed by the table (its identity, columns
    and length), the keys and the value: two calls with the same key summarise the same table the same way (two
    runs' tables of the same shape, a comparison's base and what-if, are told apart)."""
    calls: collections.Counter[Call] = collections.Counter()
    original = summary.summarise

    def counting(table: pd.DataFrame, keys: list[str], value: str, replications: int) -> pd.DataFrame:
        calls[(id(table), tuple(table.columns), tuple(keys), value, len(table))] += 1
        return original(table, keys, value, replications)

    with mock.patch.object(summary, "summarise", counting), mock.patch.object(budget, "summarise", counting):
        yield calls


def test_writing_and_printing_a_run_summarises_each_table_once(tmp_path: Path) -> None:
    result = run(load_scenario(PRICED), REPLICATIONS)
    with counted_summaries() as calls:
        write_run(result, tmp_path / "run", scenario_path=PRICED)  # files, workbook, report and its charts
        print_summary(result)  # reads the same summaries again, as `sufficiency run` does
    repeated = {call: count for call, count in calls.items() if count > 1}
    assert not repeated
    assert len(calls) >= 15  # the tables' summaries, summary.csv, the budget and the charts' summaries
    assert result.run_summary is result.run_summary


def test_writing_a_comparison_summarises_each_run_once(tmp_path: Path) -> None:
    scenario = load_scenario(PRICED)
    homes = scenario.pools["homes"].model_copy(update={"capacity": 4})
    bigger = scenario.model_copy(update={"name": "more home beds", "pools": {**scenario.pools, "homes": homes}})
    with counted_summaries() as calls:
        comparison = compare(scenario, [bigger], REPLICATIONS)
        write_comparison(comparison, [PRICED], tmp_path / "compare", sizing_replications=2)  # charts, then report
    repeated = {call: count for call, count in calls.items() if count > 1}
    assert not repeated
    occupied = [call for call in calls if call[2] == ("date", "pool") and call[3] == "occupied"]
    # the overlay and the changed pools: base and what-if, once each though drawn as a file and in the report
    assert len(occupied) == 2


def test_the_presentation_layer_and_the_app_do_not_summarise() -> None:
    """Charts, report, files, workbook and app read summaries; none holds `summarise` to compute one of its own."""
    for package in (sim.present, sim.app):
        for module in pkgutil.iter_modules(package.__path__):
            if module.name == "streamlit_app":  # the page runs on import; its imports are checked by reading it
                text = Path(package.__path__[0], "streamlit_app.py").read_text(encoding="utf-8")
                assert "summarise" not in text and "result.tables" not in text
                continue
            loaded = importlib.import_module(f"{package.__name__}.{module.name}")
            assert not hasattr(loaded, "summarise"), loaded.__name__


def test_stock_mean_and_quantiles_equal_a_count_by_hand() -> None:
    result = run(build(rich_scenario(years=3)), REPLICATIONS, seed=3)
    stock = result.tables["stock"]
    day = stock["date"].max()
    per_replication = [
        float(stock.loc[(stock["replication"] == r) & (stock["date"] == day), "children"].sum())
        for r in range(REPLICATIONS)
    ]
    low, middle, high = sorted(per_replication)
    row = result.run_summary.stock_total.set_index("date").loc[day]
    assert row["mean"] == pytest.approx((low + middle + high) / 3)
    # numpy's default (linear) percentile of three values: P10 is a fifth of the way from the lowest to the middle
    assert row["p10"] == pytest.approx(low + 0.2 * (middle - low))
    assert row["p50"] == pytest.approx(middle)
    assert row["p90"] == pytest.approx(middle + 0.8 * (high - middle))
    assert row["ci95_low"] < row["mean"] < row["ci95_high"] or low == high


def test_spend_and_placements_by_financial_year_equal_sums_by_hand(priced: RunResult) -> None:
    run_summary = priced.run_summary
    spend = priced.tables["spend"]
    year = run_summary.calendar.financial_years.labels[1]
    total = run_summary.spend_total.set_index("financial_year").loc[year]
    assert total["mean"] == pytest.approx(spend.loc[spend["financial_year"] == year, "spend"].sum() / REPLICATIONS)
    by_pool = run_summary.spend_by_pool
    assert by_pool.loc[by_pool["financial_year"] == year, "mean"].sum() == pytest.approx(total["mean"])

    placements = priced.tables["placements"]
    in_year = summary.financial_year(placements["month"]) == year
    measures = run_summary.yearly_measures
    placed = measures[(measures["measure"] == "placed_in_house") & (measures["financial_year"] == year)]
    for replication, value in placed.set_index("replication")["value"].items():
        mine = placements[in_year & placements["in_house"] & (placements["replication"] == replication)]
        assert value == mine["placements"].sum()


def test_occupancy_summary_holds_every_pool_and_only_the_values_the_table_has(priced: RunResult) -> None:
    occupied = priced.run_summary.occupancy("occupied")
    assert set(occupied["pool"]) == set(priced.scenario.pools)
    table = priced.tables["occupancy"]
    first = table["date"].min()
    by_hand = table[table["date"] == first].groupby("pool", observed=True)["occupied"].mean()
    shown = occupied[occupied["date"] == first].set_index("pool")["mean"]
    np.testing.assert_allclose(shown.reindex(by_hand.index).to_numpy(), by_hand.to_numpy())
    with pytest.raises(ValueError, match="occupancy is summarised"):
        priced.run_summary.occupancy("households")


def test_stability_by_year_is_the_stability_tables_summarised() -> None:
    """Each indicator's mean is 100 x the mean of the replications' shares, each year's moves the sum of its four
    quarters, and a year without all four quarters inside the horizon has no yearly total."""
    result = run(build(rich_scenario(years=4)), REPLICATIONS, seed=2)
    table = result.run_summary.stability_by_year
    stability, moves = result.tables["stability"], result.tables["placement_moves"]
    assert len(stability) and len(moves)
    for (year, indicator), rows in stability.groupby(["financial_year", "indicator"]):
        shown = table[(table["financial_year"] == year) & (table["row"] == indicator)]
        assert shown["mean"].item() == pytest.approx(100.0 * rows["value"].fillna(0.0).sum() / REPLICATIONS)
        assert shown["date"].item() == pd.Timestamp(int(year[:4]) + 1, 3, 31)
    whole = moves.groupby("financial_year")["quarter"].nunique()
    for year, quarters in whole.items():
        shown = table[(table["financial_year"] == year) & (table["row"] == "moves")]
        if quarters < 4:
            assert shown.empty
            continue
        in_year = moves[moves["financial_year"] == year]
        assert shown["mean"].item() == pytest.approx(in_year["moves"].sum() / REPLICATIONS)
        assert pd.isna(shown["date"].item())


def test_every_output_carries_distance_uasc_care_leavers_and_stability(priced: RunResult, tmp_path: Path) -> None:
    """The printed summary, report.html, summary.csv and the workbook each show the by-year children table, the
    care leavers by age and accommodation and the stability indicators, with the band named."""
    write_run(priced, tmp_path / "run", scenario_path=PRICED)
    printed = print_summary(priced)
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    band = priced.run_summary.band_label
    for text in (printed, report):
        assert summary.CHILDREN_TITLE in text and summary.STABILITY_TITLE in text
        assert "Care leavers on 31 March by age and accommodation" in text
        assert band in text
    rows = pd.read_csv(tmp_path / "run" / "summary.csv")
    measures = set(rows["measure"])
    assert {"beyond_20_miles_percent", "uasc_in_care", "turned_18_in_care", "care_leavers_18_20"} <= measures
    assert "care_leavers" in measures
    percent = rows[rows["measure"] == "beyond_20_miles_percent"]
    assert ((percent["mean"] >= 0) & (percent["mean"] <= 100)).all()
    sheet = load_workbook(tmp_path / "run" / "budget.xlsx")["Children and care leavers"]
    assert sheet.max_row > 1
