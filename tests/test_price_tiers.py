"""Heavy-tailed prices: the high_cost table (placements at £5k and £10k a week or more by financial year and
pool), at the scenario's and at each replication's drawn prices, and prices by complexity tier."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, STAYING_PUT, PlacementColumn, simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.engine.price_book import PoolPrice
from sim.engine.scenario import ScenarioError
from sim.engine.vocabulary import AGE_BANDS
from sim.results.costs import FinancialYears, PricedPlacements, high_cost_columns, spend_columns
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


TIERS = ["standard", "complex", "solo"]
SHARES = {"standard": 0.5, "complex": 0.3, "solo": 0.2}
BY_TIER = {
    "standard": {"median": 4000.0, "p90": 6000.0},
    "complex": {"median": 7000.0, "p90": 10000.0},
    "solo": {"median": 12000.0, "p90": 20000.0},
}


def _tiered(by_tier: dict = BY_TIER, complexity: bool = True) -> dict:
    """Children entering residential care at 10-15, all placed in unlimited external homes priced by tier."""
    raw = one_pool_scenario(rate_per_year=0.0, years=1)
    raw["entries"]["rate_per_year"]["10-15"] = 250.0
    raw["journeys"]["10-15"]["first_need"] = {"residential": 1.0}
    raw["pools"]["external_homes"] = {"serves": ["residential"], "capacity": "unlimited", "in_house": False}
    raw["matching"]["residential"] = {"pools": ["external_homes"]}
    if complexity:
        raw["complexity"] = {"tiers": TIERS, "shares_by_age_band": {band: SHARES for band in AGE_BANDS}}
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 5.0,
        "inflation_source": "t",
        "pools": {
            "inhouse": {"source": "t", "weekly": 1.0},
            "external": {"source": "t", "weekly": 1.0},
            "external_homes": {"source": "t", "weekly_by_tier": by_tier},
        },
    }
    return raw


def test_the_simulated_share_at_10k_and_5k_matches_the_tier_mixture_closed_form() -> None:
    scenario = build(_tiered())
    price = scenario.prices.pools["external_homes"]
    table = run(scenario, replications=12, seed=5).tables["high_cost"]
    year = table[(table["financial_year"] == "2020-21") & (table["pool"] == "external_homes")]  # base prices
    n = int(year["placements"].sum())
    assert n > 2000
    for column, weekly in (("at_least_10k", 10_000.0), ("at_least_5k", 5_000.0)):
        # Each placement's tier and price are independent draws: a binomial count of n, p the mixture's share.
        p = price.share_at_least(weekly, SHARES)
        expected = sum(share * price.weekly_by_tier[tier].share_at_least(weekly) for tier, share in SHARES.items())
        assert p == pytest.approx(expected)
        half_width = 2.576 * np.sqrt(n * p * (1 - p))  # 99%
        assert abs(int(year[column].sum()) - n * p) < half_width, column
    assert price.share_at_least(10_000.0, SHARES) == pytest.approx(0.5 * 0.0019 + 0.3 * 0.1 + 0.2 * 0.6762, abs=1e-3)


def test_each_placement_is_priced_at_its_own_tier() -> None:
    scenario = build(_tiered())
    spans = [(0.0, 7.0)] * 3
    rows = _rows(spans, [IN_CARE] * 3)
    rows[:, PlacementColumn.POOL] = list(scenario.pools).index("external_homes")
    placements = PricedPlacements(
        rows, np.zeros(3, dtype=np.int64), np.full(3, -3000.0), np.full(3, 0.5), 1, tier=np.array([2, 0, 1])
    )
    spend = pd.DataFrame(spend_columns(placements, scenario, FinancialYears.for_scenario(scenario)))
    homes = spend[spend["pool"] == "external_homes"]
    # A week each at its tier's median (the draw 0.5): solo, standard and complex.
    assert homes["spend"].sum() == pytest.approx(12000 + 4000 + 7000)


@pytest.mark.parametrize(
    ("by_tier", "complexity", "message"),
    [
        ({**BY_TIER, "extreme": BY_TIER["solo"]}, True, "unknown ['extreme']"),
        ({"standard": BY_TIER["standard"], "solo": BY_TIER["solo"]}, True, "missing ['complex']"),
        (BY_TIER, False, "no complexity tiers"),
    ],
)
def test_a_price_by_tier_prices_exactly_the_scenario_s_tiers(by_tier: dict, complexity: bool, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        build(_tiered(by_tier, complexity))
    assert "prices.pools.external_homes.weekly_by_tier" in str(raised.value) and message in str(raised.value)


def test_a_tier_price_is_a_lognormal_like_any_other() -> None:
    with pytest.raises(ValidationError) as raised:
        PoolPrice(source="t", weekly_by_tier={"standard": {"median": 5000.0, "p90": 4000.0}})
    assert "weekly_by_tier.standard" in str(raised.value)
    with pytest.raises(ValidationError, match="give one of"):
        PoolPrice(source="t", weekly=1.0, weekly_by_tier=BY_TIER)
