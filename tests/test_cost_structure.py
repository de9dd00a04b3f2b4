"""The cost structure finance uses: fixed costs of approved fostering households, block contracts with spot
purchase beyond them and their voids, and price uplift schedules by year, each against a hand-computed case."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, PlacementColumn, simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.engine.price_book import PoolPrice, PriceBook, check_pool_prices
from sim.results.costs import FinancialYears, PricedPlacements, at_drawn_prices, spend_columns
from sim.results.runner import run
from sim.results.tables import Calendar, batch_tables
from tests.builders import build, one_pool_scenario, rich_scenario


def _by(frame: pd.DataFrame, *keys: str) -> dict:
    return frame.groupby(list(keys))["spend"].sum().to_dict()


def test_fixed_household_cost_plus_allowance_is_exact_by_financial_year() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, years=2, stay={"distribution": "fixed", "days": 401})
    raw["horizon"]["start"] = dt.date(2020, 1, 1)
    raw["pools"]["inhouse"]["fostering"] = {"households": 3}  # no approvals or deregistrations: 3 throughout
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 2, "days_in_care": 1}]
    }
    raw["prices"] = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 10.0,
        "inflation_source": "test",
        "pools": {
            "inhouse": {"source": "test", "weekly": 700.0, "per_household_per_year": 3660.0},
            "external": {"source": "test", "weekly": 1000.0},
        },
    }
    spend = run(build(raw), replications=1, seed=1).tables["spend"]
    by = _by(spend[spend["pool"] == "inhouse"], "financial_year", "component")
    # 3 households all horizon: 91 of 2019-20's 366 days, all of 2020-21 after a 10% uplift, 275 of 2021-22's
    # 365 days after two; the households are paid for whether their places are filled or not.
    assert by[("2019-20", "households")] == pytest.approx(3 * 3660 * 91 / 366)
    assert by[("2020-21", "households")] == pytest.approx(3 * 3660 * 1.1)
    assert by[("2021-22", "households")] == pytest.approx(3 * 3660 * 275 / 365 * 1.21)
    # Two children 400 days from 1 January 2020 at the £100 a day allowance, as before.
    assert by[("2019-20", "placements")] == pytest.approx(2 * 91 * 100.0)
    assert by[("2020-21", "placements")] == pytest.approx(2 * 309 * 100.0 * 1.1)
    assert ("2021-22", "placements") not in by


def _one_year_scenario(prices: dict) -> object:
    raw = one_pool_scenario(rate_per_year=0.0, years=1)
    raw["pools"]["inhouse"]["fostering"] = {"households": 2}
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 0.0,
        "inflation_source": "test",
        "pools": prices,
    }
    return build(raw)


def _rows(pool: int, spans: list[tuple[float, float]]) -> np.ndarray:
    rows = np.zeros((len(spans), len(PLACEMENT_COLUMNS)))
    rows[:, PlacementColumn.CHILD] = np.arange(len(spans))
    rows[:, PlacementColumn.POOL] = pool
    rows[:, PlacementColumn.WANTED] = pool
    rows[:, PlacementColumn.START] = [start for start, _ in spans]
    rows[:, PlacementColumn.END] = [end for _, end in spans]
    rows[:, PlacementColumn.KIND] = IN_CARE
    rows[:, PlacementColumn.WITHIN_20_MILES] = 1
    return rows


def _priced(rows: np.ndarray, position: np.ndarray, households: np.ndarray, household_position: np.ndarray):
    return PricedPlacements(
        rows=rows,
        position=position,
        birth_day=np.full(len(rows), -7 * 365.25),
        price_draw=np.full(len(rows), 0.5),
        replications=2,
        households=households,
        household_position=household_position,
    )


def test_household_days_follow_the_household_log_step_by_step() -> None:
    scenario = _one_year_scenario(
        {
            "inhouse": {"source": "t", "weekly": 0.0, "per_household_per_year": 365.0},
            "external": {"source": "t", "weekly": 0.0},
        }
    )
    # Replication 0: 3 households from day 0, 5 from day 100, 4 from day 300; replication 1: 2 all year.
    log = np.array([[0, 0, 3], [100, 0, 5], [300, 0, 4], [0, 0, 2]], dtype=float)
    placements = _priced(
        np.zeros((0, len(PLACEMENT_COLUMNS))), np.zeros(0, dtype=np.int64), log, np.array([0, 0, 0, 1])
    )
    columns = spend_columns(placements, scenario, FinancialYears.for_scenario(scenario))
    spend = pd.DataFrame(columns)
    by = _by(spend, "position", "component")
    assert by[(0, "households")] == pytest.approx(3 * 100 + 5 * 200 + 4 * 65)  # £1 a household-day
    assert by[(1, "households")] == pytest.approx(2 * 365)


def test_block_contract_pays_used_and_void_places_and_buys_the_days_beyond_spot() -> None:
    scenario = _one_year_scenario(
        {
            "inhouse": {"source": "t", "weekly": 0.0},
            "external": {
                "source": "t",
                "weekly": 1400.0,  # £200 a spot day
                "block_places": 1,
                "block_weekly_per_place": 700.0,  # £100 a contracted place-day, used or not
                "block_changes": [{"date": dt.date(2020, 5, 31), "places": 2}],  # day 60
            },
        }
    )
    # Replication 0: A on days [10, 50), B on [30, 80); replication 1 places nobody in the pool.
    rows = _rows(1, [(10.0, 50.0), (30.0, 80.0)])
    empty = np.zeros((0, 3))
    columns = spend_columns(
        _priced(rows, np.array([0, 0]), empty, np.zeros(0, dtype=np.int64)),
        scenario,
        FinancialYears.for_scenario(scenario),
    )
    spend = pd.DataFrame(columns)
    external = spend[spend["pool"] == "external"]
    by = _by(external, "position", "component")
    voids = external.groupby(["position", "component"])["void_days"].sum().to_dict()
    # Contract: 1 place for 60 days then 2 for 305, 670 place-days. Replication 0 uses 20 + 20 + 10 + 20 = 70 of
    # them; 10 (days 0-10) + 20 (60-80, one of two) + 570 (80-365, both) = 600 are void. Days 30-50 hold two
    # children for one place: 20 days bought spot.
    assert by[(0, "block_contract")] == pytest.approx(70 * 100.0)
    assert by[(0, "block_void")] == pytest.approx(600 * 100.0)
    assert voids[(0, "block_void")] == pytest.approx(600)
    assert by[(0, "placements")] == pytest.approx(20 * 200.0)
    assert external[(external["position"] == 0) & (external["component"] == "placements")]["occupied_days"].sum() == 90
    assert (1, "block_contract") not in by
    assert by[(1, "block_void")] == pytest.approx(670 * 100.0)
    assert voids[(1, "block_void")] == pytest.approx(670)


def test_spot_days_are_shared_by_the_children_present_whatever_their_prices() -> None:
    scenario = _one_year_scenario(
        {
            "inhouse": {"source": "t", "weekly": 0.0},
            "external": {
                "source": "t",
                "weekly_by_age_band": {"under1": 700.0, "1-4": 700.0, "5-9": 700.0, "10-15": 1400.0, "16-17": 1400.0},
                "block_places": 2,
                "block_weekly_per_place": 0.0,
            },
        }
    )
    # Three children on [0, 70): one place-day in three is spot every day, 70 spot days in all; the oldest turns
    # 10 on day 35 (its price doubles), so spot spend is 70/3 days of each child at its price on each day.
    rows = _rows(1, [(0.0, 70.0)] * 3)
    birth = np.array([-7 * 365.25, -7 * 365.25, -10 * 365.25 + 35])
    placements = PricedPlacements(
        rows=rows,
        position=np.zeros(3, dtype=np.int64),
        birth_day=birth,
        price_draw=np.full(3, 0.5),
        replications=1,
        households=np.zeros((0, 3)),
        household_position=np.zeros(0, dtype=np.int64),
    )
    spend = pd.DataFrame(spend_columns(placements, scenario, FinancialYears.for_scenario(scenario)))
    charged = spend[(spend["pool"] == "external") & (spend["component"] == "placements")]["spend"].sum()
    expected = (70 / 3 * 100 * 2) + (35 / 3 * 100 + 35 / 3 * 200)
    assert charged == pytest.approx(expected)


def test_an_uplift_schedule_overrides_the_rate_in_its_years_at_each_level() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, years=4, stay={"distribution": "fixed", "days": 2000})
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 1, "days_in_care": 1}]
    }
    raw["pools"]["external"]["capacity"] = "unlimited"
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 2.0,
        "inflation_source": "test",
        "uplift_percent_by_year": {"2022-23": 10.0},
        "pools": {"inhouse": {"source": "t", "weekly": 700.0}, "external": {"source": "t", "weekly": 700.0}},
    }
    spend = _by(run(build(raw), replications=1, seed=1).tables["spend"], "financial_year")
    # £100 a day; uplifts 2% (April 2021), 10% (April 2022, the schedule), 2% (April 2023).
    assert spend["2020-21"] == pytest.approx(365 * 100)
    assert spend["2021-22"] == pytest.approx(365 * 100 * 1.02)
    assert spend["2022-23"] == pytest.approx(365 * 100 * 1.02 * 1.10)
    assert spend["2023-24"] == pytest.approx(366 * 100 * 1.02 * 1.10 * 1.02)


def test_the_most_specific_price_that_speaks_for_a_year_sets_its_uplift() -> None:
    book = PriceBook(
        base_date=dt.date(2018, 4, 1),
        inflation_percent_per_year=3.0,
        inflation_source="t",
        uplift_percent_by_year={"2019-20": 1.0, "2020-21": 1.5},
        inflation_groups={
            "market": {
                "percent_per_year": 6.0,
                "pools": ["homes"],
                "source": "t",
                "uplift_percent_by_year": {"2020-21": 12.0},
            }
        },
        pools={
            "homes": PoolPrice(source="t", weekly=1.0, uplift_percent_by_year={"2021-22": 20.0}),
            "ifa": PoolPrice(source="t", weekly=1.0, inflation_percent_per_year=2.0),
            "kinship": PoolPrice(source="t", weekly=1.0),
        },
    )
    levels = book.price_levels(["homes", "ifa", "kinship"], [2017, 2018, 2019, 2020, 2021])
    np.testing.assert_allclose(levels[0], [1 / 1.06, 1, 1.06, 1.06 * 1.12, 1.06 * 1.12 * 1.2])
    np.testing.assert_allclose(levels[1], [1 / 1.02, 1, 1.02, 1.02**2, 1.02**3])
    np.testing.assert_allclose(levels[2], [1 / 1.03, 1, 1.01, 1.01 * 1.015, 1.01 * 1.015 * 1.03])


@pytest.fixture(scope="module")
def scheduled_rich():
    raw = rich_scenario(years=5)
    prices = {name: {"source": "t", "weekly": 100.0 * (i + 1)} for i, name in enumerate(raw["pools"])}
    prices["external_homes"] = {
        "source": "t",
        "weekly_distribution": {"median": 4000.0, "p90": 8000.0},
        "block_places": 2,
        "block_weekly_per_place": 3500.0,
        "uplift_percent_by_year": {"2021-22": 15.0},
    }
    prices["inhouse"] = {"source": "t", "weekly": 300.0, "per_household_per_year": 15000.0}
    raw["prices"] = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 3.0,
        "inflation_source": "t",
        "uplift_percent_by_year": {"2022-23": 9.0},
        "inflation_groups": {
            "market": {
                "percent_per_year": 6.0,
                "pools": ["ifa"],
                "source": "t",
                "uplift_percent_by_year": {"2020-21": 0.5},
            }
        },
        "pools": prices,
    }
    raw["uncertainty"] = {"prices": {"level_sd_log": 0.1, "inflation_sd_points": 2.0, "source": "t"}}
    return build(raw)


def test_pricing_at_drawn_parameters_equals_repricing_from_scratch_with_schedules(scheduled_rich) -> None:
    calendar = Calendar.for_scenario(scheduled_rich)
    for replication in (0, 2):
        drawn = with_drawn_parameters(scheduled_rich, 9, replication)
        records = [simulate_replication(drawn, 9, replication)]
        priced = batch_tables(records, drawn, calendar)["spend"]
        spend = batch_tables(records, scheduled_rich, calendar)["spend"]
        scaled = at_drawn_prices({c: spend[c].to_numpy() for c in spend}, scheduled_rich, 9, calendar.financial_years)
        assert set(priced["component"]) >= {"households", "block_contract", "block_void", "placements"}
        assert drawn.prices.pools["external_homes"].uplift_percent_by_year["2021-22"] != 15.0
        np.testing.assert_allclose(scaled["spend"], priced["spend"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("price", "key"),
    [
        ({"weekly": 1.0, "block_places": 2}, "block_weekly_per_place"),
        ({"weekly": 1.0, "block_changes": [{"date": dt.date(2020, 1, 1), "places": 1}]}, "block_changes"),
        ({"block_per_home_per_year": 1.0, "block_places": 1, "block_weekly_per_place": 1.0}, "block_places"),
        ({"weekly": 1.0, "uplift_percent_by_year": {"2019-21": 3.0}}, "uplift_percent_by_year"),
        ({"weekly": 1.0, "uplift_percent_by_year": {"2019-20": -100.0}}, "uplift_percent_by_year"),
        ({"weekly": 1.0, "per_household_per_year": -5.0}, "per_household_per_year"),
    ],
)
def test_bad_price_keys_are_refused_naming_the_key(price: dict, key: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PoolPrice(source="t", **price)
    assert key in str(raised.value)


def test_a_household_cost_needs_households_to_charge() -> None:
    scenario = _one_year_scenario(
        {"inhouse": {"source": "t", "weekly": 1.0}, "external": {"source": "t", "weekly": 1.0}}
    )
    prices = scenario.prices.model_copy(
        update={
            "pools": {
                **scenario.prices.pools,
                "external": PoolPrice(source="t", weekly=1.0, per_household_per_year=9.0),
            }
        }
    )
    with pytest.raises(ValueError, match=r"prices\.pools\.external\.per_household_per_year"):
        check_pool_prices(prices, scenario.pools, None)


def test_one_rate_per_pool_gives_the_former_price_levels_bit_for_bit() -> None:
    """Scenarios without schedules must cost exactly as before: (1 + rate) ** uplifts, computed as numpy did."""
    rng = np.random.default_rng(4)
    years = list(range(2010, 2040))
    for rate in np.round(rng.uniform(-5, 12, size=200), 3):
        book = PriceBook(
            base_date=dt.date(2016, 4, 1),
            inflation_percent_per_year=float(rate),
            inflation_source="t",
            pools={"a": PoolPrice(source="t", weekly=1.0)},
        )
        former = (1.0 + np.array([rate / 100.0])[:, None]) ** np.array([book.uplifts_by(y) for y in years], float)
        np.testing.assert_array_equal(book.price_levels(["a"], years), former)


def test_editing_a_price_document_matches_scaling_the_validated_book() -> None:
    """What-ifs edit the scenario document: scale_price_document and shift_uplift_documents (with every constant
    rate moved) must give the book PriceBook.scaled gives, for every price form and schedule."""
    import copy

    from sim.engine.price_book import scale_price_document, shift_uplift_documents

    raw = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 3.0,
        "inflation_source": "t",
        "uplift_percent_by_year": {"2020-21": 5.0},
        "inflation_groups": {
            "g": {"percent_per_year": 6.0, "pools": ["b"], "source": "t", "uplift_percent_by_year": {"2021-22": 9.0}}
        },
        "pools": {
            "a": {"source": "t", "weekly": 10.0, "fee_weekly": 2.0, "per_household_per_year": 500.0},
            "b": {
                "source": "t",
                "weekly_by_tier": {"x": {"median": 5.0, "p90": 8.0}},
                "block_places": 2,
                "block_weekly_per_place": 7.0,
                "uplift_percent_by_year": {"2022-23": 1.0},
                "inflation_percent_per_year": 4.0,
            },
            "c": {
                "source": "t",
                "weekly_by_age_band": dict.fromkeys(["under1", "1-4", "5-9", "10-15", "16-17"], 3.0),
                "block_per_home_per_year": 100.0,
                "staying_put_weekly": 1.0,
            },
            "d": {"source": "t", "weekly_distribution": {"median": 5.0, "p90": 9.0}, "per_occupied_night": 4.0},
        },
    }
    edited = copy.deepcopy(raw)
    for price in edited["pools"].values():
        scale_price_document(price, 1.25)
        if "inflation_percent_per_year" in price:
            price["inflation_percent_per_year"] += 2.0
    edited["inflation_percent_per_year"] += 2.0
    edited["inflation_groups"]["g"]["percent_per_year"] += 2.0
    shift_uplift_documents(edited, 2.0)
    expected = PriceBook.model_validate(raw, strict=False).scaled(1.25, 2.0)
    assert _rounded(PriceBook.model_validate(edited, strict=False).model_dump()) == _rounded(expected.model_dump())


def _rounded(value):
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return round(value, 9) if isinstance(value, float) else value
