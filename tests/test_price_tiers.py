"""Heavy-tailed prices: the high_cost table (placements at £5k and £10k a week or more by financial year and
pool), at the scenario's and at each replication's drawn prices, and prices by complexity tier."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, STAYING_PUT, PlacementColumn, simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.results.costs import FinancialYears, PricedPlacements, high_cost_columns
from sim.results.runner import run
from sim.results.tables import TABLES, Calendar, batch_tables
from tests.builders import build, one_pool_scenario, rich_scenario


def _two_year_scenario(price: dict) -> object:
    raw = one_pool_scenario(rate_per_year=0.0, years=2)
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 10.0,
        "inflation_source": "test",
        "pools": {"inhouse": {"source": "t", "weekly": 100.0}, "external": {"source": "t", **price}},
    }
    return build(raw)


def _rows(spans: list[tuple[float, float]], kinds: list[int]) -> np.ndarray:
    rows = np.zeros((len(spans), len(PLACEMENT_COLUMNS)))
    rows[:, PlacementColumn.CHILD] = np.arange(len(spans))
    rows[:, PlacementColumn.POOL] = 1  # external
    rows[:, PlacementColumn.START] = [start for start, _ in spans]
    rows[:, PlacementColumn.END] = [end for _, end in spans]
    rows[:, PlacementColumn.KIND] = kinds
    return rows


def test_high_cost_placements_are_counted_at_each_year_s_price_level() -> None:
    scenario = _two_year_scenario({"weekly_distribution": {"median": 5000.0, "p90": 8000.0}, "fee_weekly": 0.0})
    # Weekly prices £5,000 (the median), £3,125 (the 10th percentile: 5000^2/8000) and £9,141 (the 95th), then
    # 10% more from April 2021. The last row only starts in the second year; a young person Staying Put is no
    # placement of a child in care.
    spans = [(0.0, 500.0), (0.0, 800.0), (10.0, np.inf), (400.0, 600.0), (0.0, 700.0)]
    rows = _rows(spans, [IN_CARE, IN_CARE, IN_CARE, IN_CARE, STAYING_PUT])
    draws = np.array([0.5, 0.1, 0.95, 0.95, 0.95])
    placements = PricedPlacements(rows, np.zeros(5, dtype=np.int64), np.full(5, -3000.0), draws, replications=1)
    table = pd.DataFrame(high_cost_columns(placements, scenario, FinancialYears.for_scenario(scenario)))
    table = table.set_index("financial_year")[["placements", "at_least_5k", "at_least_10k"]]
    assert table.loc["2020-21"].tolist() == [3, 2, 0]  # 5,000 and 9,141; 3,125 is below
    assert table.loc["2021-22"].tolist() == [4, 3, 2]  # 5,500, 3,438, 10,055 and 10,055


def test_high_cost_by_age_band_uses_the_age_when_the_year_starts() -> None:
    bands = {"under1": 1000.0, "1-4": 1000.0, "5-9": 1000.0, "10-15": 6000.0, "16-17": 11000.0}
    scenario = _two_year_scenario({"weekly_by_age_band": bands})
    # Aged 15.9 at the start: £6,000 in 2020-21, 16 on 1 April 2021 is after the birthday: £11,000 x 1.1.
    rows = _rows([(0.0, np.inf)], [IN_CARE])
    placements = PricedPlacements(rows, np.zeros(1, dtype=np.int64), np.array([-15.9 * 365.25]), np.full(1, 0.5), 1)
    table = pd.DataFrame(high_cost_columns(placements, scenario, FinancialYears.for_scenario(scenario)))
    assert table[["at_least_5k", "at_least_10k"]].to_numpy().tolist() == [[1, 0], [1, 1]]


@pytest.fixture(scope="module")
def priced_rich():
    raw = rich_scenario(years=4)
    prices = {name: {"source": "t", "weekly": 100.0 * (i + 1)} for i, name in enumerate(raw["pools"])}
    prices["external_homes"] = {"source": "t", "weekly_distribution": {"median": 6000.0, "p90": 10000.0}}
    prices["homes"] = {
        "source": "t",
        "weekly_by_age_band": dict.fromkeys(["under1", "1-4", "5-9", "10-15", "16-17"], 4900.0),
    }
    raw["prices"] = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 3.0,
        "inflation_source": "t",
        "pools": prices,
    }
    raw["uncertainty"] = {"prices": {"level_sd_log": 0.2, "inflation_sd_points": 3.0, "source": "t"}}
    return build(raw)


def test_a_run_writes_the_high_cost_table(priced_rich) -> None:
    assert "high_cost" in TABLES
    table = run(priced_rich, replications=2, seed=3).tables["high_cost"]
    assert list(table.columns) == ["replication", "financial_year", "pool", "placements", "at_least_5k", "at_least_10k"]
    assert (table["at_least_10k"] <= table["at_least_5k"]).all() and (table["at_least_5k"] <= table["placements"]).all()
    assert table[table["pool"] == "external_homes"]["at_least_10k"].sum() > 0


def test_high_cost_at_drawn_prices_is_counting_at_the_drawn_scenario(priced_rich) -> None:
    calendar = Calendar.for_scenario(priced_rich)
    moved = []
    for replication in (0, 1, 5):
        drawn = with_drawn_parameters(priced_rich, 11, replication)
        records = [simulate_replication(drawn, 11, replication)]
        expected = batch_tables(records, drawn, calendar)["high_cost"]
        pd.testing.assert_frame_equal(batch_tables(records, priced_rich, calendar, seed=11)["high_cost"], expected)
        at_own = batch_tables(records, priced_rich, calendar)["high_cost"]
        moved.append(not at_own["at_least_5k"].equals(expected["at_least_5k"]))
    assert any(moved)  # the draws move prices across the thresholds: counting at the scenario's prices differs
