"""The expected-value projection against closed forms.

Each scenario is small enough to have an exact answer (M/G/infinity occupancy, memoryless decay, fixed
moves, sums of gammas, linear 18th-birthday ramps), so these tests fail if the projection's integration,
route weighting, move tree, age handling or entry-rate factors are wrong, not merely if it changes.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.projection import expected_stock
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, PLACEMENT_NEEDS

START = dt.date(2024, 1, 1)
YEAR = DAYS_PER_YEAR


def exponential(mean: float) -> dict[str, Any]:
    return {"distribution": "exponential", "mean": mean}


def fixed(days: float) -> dict[str, Any]:
    return {"distribution": "fixed", "days": days}


def gamma(mean: float, sd: float) -> dict[str, Any]:
    return {"distribution": "gamma", "mean": mean, "sd": sd}


def journey(
    routes: dict[str, float] | None = None,
    durations: dict[str, dict[str, Any]] | None = None,
    first_need: str = "fostering",
    moves: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Default: everyone stays until 18 in fostering."""
    return {
        "exit_routes": routes or {"age_18": 1.0},
        "duration": durations or {},
        "first_need": {first_need: 1.0},
        "moves": moves or [],
    }


def scenario(
    journey_all: dict[str, Any] | None = None,
    rates: dict[str, float] | None = None,
    start: dict[str, Any] | None = None,
    **extra: Any,
) -> Scenario:
    """One unlimited pool serving every need, so only the journeys matter."""
    needs = list(PLACEMENT_NEEDS)
    raw: dict[str, Any] = {
        "name": "projection test",
        "horizon": {"start": START, "years": 10},
        "entries": {"rate_per_year": rates or {}, "need_mix": {"N1": 1.0}},
        "journeys": {band: journey_all or journey() for band in AGE_BANDS},
        "pools": {"anywhere": {"serves": needs, "capacity": "unlimited", "in_house": True}},
        "matching": {need: {"pools": ["anywhere"]} for need in needs},
        "start_population": start or {},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return Scenario.model_validate(raw)


def project(s: Scenario, days: list[int]) -> pd.DataFrame:
    """Expected stock by need (columns) at whole days from the start (index, ascending)."""
    dates = [s.horizon.start + dt.timedelta(days=d) for d in days]
    table = expected_stock(s, dates).pivot(index="date", columns="need", values="children")
    table.index = days
    return table


def group(band: str, need: str, count: int, days_in_care: float) -> dict[str, Any]:
    return {"age_band": band, "need": need, "pool": "anywhere", "count": count, "days_in_care": days_in_care}


def child(age: float, need: str, days_in_care: float) -> dict[str, Any]:
    return {"age_years": age, "need": need, "pool": "anywhere", "days_in_care": days_in_care}


# ---------------------------------------------------------------------------------------------
# Entries


def test_constant_entries_with_exponential_stays_fill_like_m_g_infinity() -> None:
    # One entry a day on average, mean stay 100 days; babies, so the 18th birthday is out of reach.
    s = scenario(journey({"return_home": 1.0}, {"return_home": exponential(100)}), rates={"under1": YEAR})
    days = [1, 10, 50, 100, 365, 1000, 3652]
    table = project(s, days)
    expected = 100 * (1 - np.exp(-np.array(days) / 100))
    np.testing.assert_allclose(table["fostering"], expected, rtol=1e-4)
    assert table.drop(columns="fostering").to_numpy().max() == 0


def test_entrants_aged_16_17_leave_on_their_18th_birthday() -> None:
    # UASC stream only, ages uniform in 16-18: time to 18 is uniform on (0, 2 years), so the stock
    # climbs as t - t^2 / (4 years) and settles at Little's law: 1 a day x a mean stay of a year.
    uasc = {"rate_per_year": YEAR, "age_mix": {"16-17": 1.0}, "journeys": {b: journey() for b in AGE_BANDS}}
    s = scenario(journey({"return_home": 1.0}, {"return_home": exponential(10)}), entries={"uasc": uasc})
    days = [100, 365, 700, 731, 1000, 3000]
    t = np.array(days, dtype=float)
    expected = np.where(t < 2 * YEAR, t - t**2 / (4 * YEAR), YEAR)
    np.testing.assert_allclose(project(s, days)["fostering"], expected, rtol=1e-5)


def test_seasonality_puts_entries_in_their_calendar_month() -> None:
    # Every entry arrives in January, at 12 times the average daily rate (1 a day), and nobody leaves.
    seasonality = [12.0] + [0.0] * 11
    s = scenario(rates={"under1": YEAR}, entries={"seasonality": seasonality})
    table = project(s, [15, 31, 32, 200, 366, 366 + 31, 366 + 200])
    np.testing.assert_allclose(table["fostering"], [180, 372, 372, 372, 372, 744, 744], rtol=1e-9)


def test_trend_compounds_continuously() -> None:
    growth = 1.10
    s = scenario(rates={"under1": YEAR}, entries={"trend_percent_per_year": 10.0})
    days = [100, 365, 2000, 3652]
    t = np.array(days, dtype=float)
    expected = YEAR / math.log(growth) * (growth ** (t / YEAR) - 1)  # integral of 1.1^(u / year) du
    np.testing.assert_allclose(project(s, days)["fostering"], expected, rtol=1e-6)


def test_uasc_use_their_own_journeys_and_the_main_stream_its_own() -> None:
    uasc = {
        "rate_per_year": 2 * YEAR,
        "age_mix": {"under1": 1.0},
        "journeys": {b: journey(first_need="supported_16plus") for b in AGE_BANDS},
    }
    s = scenario(rates={"under1": YEAR}, entries={"uasc": uasc})
    table = project(s, [100])
    assert table.loc[100, "fostering"] == pytest.approx(100)
    assert table.loc[100, "supported_16plus"] == pytest.approx(200)


# ---------------------------------------------------------------------------------------------
# Starting population


def test_starting_children_with_exponential_stays_decay_memorylessly() -> None:
    # Exponential stays forget the time already spent in care: n e^(-t / m) whatever days_in_care is.
    start = {"groups": [group("5-9", "residential", 50, 200)], "children": [child(7.5, "residential", 1500)]}
    s = scenario(journey({"other": 1.0}, {"other": exponential(300)}), start=start)
    days = [0, 1, 100, 365, 700]
    expected = 51 * np.exp(-np.array(days) / 300)
    np.testing.assert_allclose(project(s, days)["residential"], expected, rtol=1e-9)


def test_starting_group_leaves_on_18th_birthdays_spread_over_the_band() -> None:
    s = scenario(start={"groups": [group("16-17", "fostering", 100, 400)]})
    days = [0, 1, 200, 365, 730, 731]
    t = np.array(days, dtype=float)
    expected = 100 * np.clip(1 - t / (2 * YEAR), 0, 1)
    np.testing.assert_allclose(project(s, days)["fostering"], expected, rtol=1e-9, atol=1e-9)


def test_routes_of_children_long_in_care_are_weighted_by_having_lasted() -> None:
    # Two routes, half each, means 100 and 1000 days; after 500 days the long route is far likelier.
    j = journey({"return_home": 0.5, "other": 0.5}, {"return_home": exponential(100), "other": exponential(1000)})
    s = scenario(j, start={"children": [child(10.0, "fostering", 500)]})
    days = [0, 50, 400]
    t = np.array(days, dtype=float)
    expected = (np.exp(-(500 + t) / 100) + np.exp(-(500 + t) / 1000)) / (np.exp(-5) + np.exp(-0.5))
    np.testing.assert_allclose(project(s, days)["fostering"], expected, rtol=1e-9)


def test_days_in_care_cannot_exceed_age_for_babies_born_into_care() -> None:
    # A 0.5-year-old said to be 1000 days in care has been in care since birth (182.6 days):
    # the route weights use that, as S(182.6 + t) / S(182.6) for a uniform stay on (0, 400).
    j = journey({"other": 1.0}, {"other": {"distribution": "uniform", "low": 0.0, "high": 400.0}})
    s = scenario(j, start={"children": [child(0.5, "fostering", 1000)]})
    elapsed = 0.5 * YEAR
    days = [0, 100, 217, 218]
    expected = np.clip((400 - elapsed - np.array(days)) / (400 - elapsed), 0, 1)
    np.testing.assert_allclose(project(s, days)["fostering"], expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Planned moves


def test_move_after_fixed_days_splits_the_stock_between_needs() -> None:
    move = {"from_need": "fostering", "to_need": "residential", "probability": 0.4, "after_days": fixed(100)}
    s = scenario(
        journey(moves=[move]),
        rates={"under1": YEAR},
        start={"groups": [group("under1", "fostering", 100, 30)]},
    )
    days = [50, 99, 100, 150, 1000]
    t = np.array(days, dtype=float)
    moved = 0.4 * np.maximum(t - 100, 0)  # entrants 100+ days in care; one a day
    table = project(s, days)
    starting_moved = np.where(t >= 100, 40, 0)  # the move is done at 00:00 on day 100
    np.testing.assert_allclose(table["residential"], moved + starting_moved, rtol=1e-9)
    np.testing.assert_allclose(table["fostering"], t - moved + 100 - starting_moved, rtol=1e-9)


def test_alternative_moves_from_one_need_are_exclusive() -> None:
    moves = [
        {"from_need": "fostering", "to_need": "residential", "probability": 0.3, "after_days": fixed(100)},
        {
            "from_need": "fostering",
            "to_need": "kinship_fostering",
            "probability": 0.2,
            "after_days": fixed(200),
        },
    ]
    s = scenario(journey(moves=moves), start={"groups": [group("1-4", "fostering", 100, 10)]})
    table = project(s, [150, 250])
    assert table.loc[150, ["fostering", "residential", "kinship_fostering"]].tolist() == pytest.approx([70, 30, 0])
    assert table.loc[250, ["fostering", "residential", "kinship_fostering"]].tolist() == pytest.approx([50, 30, 20])


def test_at_most_three_moves_are_made() -> None:
    # Back and forth every 10 days: fostering, residential, fostering, residential, then no more moves.
    moves = [
        {"from_need": "fostering", "to_need": "residential", "probability": 1.0, "after_days": fixed(10)},
        {"from_need": "residential", "to_need": "fostering", "probability": 1.0, "after_days": fixed(10)},
    ]
    s = scenario(journey(moves=moves), start={"children": [child(5.0, "fostering", 10)]})
    table = project(s, [5, 15, 25, 35, 45, 300])
    assert table["residential"].tolist() == pytest.approx([0, 1, 0, 1, 1, 1])


def test_a_move_after_the_exit_does_not_happen() -> None:
    move = {"from_need": "fostering", "to_need": "secure", "probability": 1.0, "after_days": fixed(60)}
    j = journey({"return_home": 1.0}, {"return_home": fixed(50)}, moves=[move])
    s = scenario(j, start={"children": [child(5.0, "fostering", 0)]})
    table = project(s, [49, 50, 61])
    assert table["fostering"].tolist() == pytest.approx([1, 0, 0])
    assert table["secure"].sum() == 0


def test_chained_gamma_moves_add_up_like_a_sum_of_gammas() -> None:
    # Two moves of gamma(shape 4, scale 25) days each: the second happens at a gamma(shape 8, scale 25).
    first = {
        "from_need": "fostering",
        "to_need": "residential",
        "probability": 0.5,
        "after_days": gamma(100, 50),
    }
    second = {
        "from_need": "residential",
        "to_need": "secure",
        "probability": 0.6,
        "after_days": gamma(100, 50),
    }
    s = scenario(journey(moves=[first, second]), start={"groups": [group("under1", "fostering", 1000, 30)]})
    days = [30, 100, 200, 400]
    one, two = stats.gamma(4, scale=25).cdf(days), stats.gamma(8, scale=25).cdf(days)
    table = project(s, days)
    np.testing.assert_allclose(table["fostering"], 1000 * (1 - 0.5 * one), atol=0.002)
    np.testing.assert_allclose(table["residential"], 1000 * 0.5 * (one - 0.6 * two), atol=0.002)
    np.testing.assert_allclose(table["secure"], 1000 * 0.3 * two, atol=0.002)


def test_move_at_an_age_happens_on_that_birthday_if_still_ahead() -> None:
    move = {"from_need": "fostering", "to_need": "supported_16plus", "probability": 1.0, "at_age": 16.0}
    start = {"children": [child(15.0, "fostering", 100), child(16.5, "fostering", 100)]}
    s = scenario(journey(moves=[move]), start=start)
    table = project(s, [365, 366, 547, 548, 1095, 1096])
    # The 15-year-old moves at 16 (day 365.25) and leaves at 18 (day 1095.75); the 16.5-year-old is
    # past 16 already, so stays in fostering until 18 (day 547.9).
    assert table["fostering"].tolist() == pytest.approx([2, 1, 1, 0, 0, 0])
    assert table["supported_16plus"].tolist() == pytest.approx([0, 1, 1, 1, 1, 0])


def test_moves_at_an_age_of_a_group_come_smoothly_over_its_ages() -> None:
    # 16-17-year-olds move at 17: in the first year a share t / (2 years) has moved, and as many have
    # left at 18 (those 17 or over at the start), whatever slices the band is cut into.
    move = {"from_need": "fostering", "to_need": "supported_16plus", "probability": 1.0, "at_age": 17.0}
    s = scenario(journey(moves=[move]), start={"groups": [group("16-17", "fostering", 10_000, 300)]})
    days = [1, 2, 10, 100, 300]
    t = np.array(days, dtype=float)
    table = project(s, days)
    np.testing.assert_allclose(table["supported_16plus"], 10_000 * t / (2 * YEAR), rtol=1e-9)
    np.testing.assert_allclose(table["fostering"], 10_000 * (1 - t / YEAR), rtol=1e-9)


def test_entrants_move_at_an_age_spread_over_their_band() -> None:
    # Babies (0-1) move at their first birthday, (1 - age) years after entry: uniform on (0, 1 year).
    move = {"from_need": "fostering", "to_need": "residential", "probability": 1.0, "at_age": 1.0}
    s = scenario(journey(moves=[move]), rates={"under1": YEAR})
    days = [30, 200, 365, 1000]
    t = np.array(days, dtype=float)
    expected = np.where(t < YEAR, t**2 / (2 * YEAR), t - YEAR / 2)  # integral of min(s / year, 1)
    np.testing.assert_allclose(project(s, days)["residential"], expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Adoption


ADOPTION_ROUTE = journey({"adoption": 1.0}, {"adoption": fixed(100)})


def test_adoption_route_waits_until_ready_then_is_placed_until_the_order() -> None:
    adoption = {"time_to_order": fixed(50)}
    start = {"groups": [group("under1", "placed_for_adoption", 10, 200)]}
    s = scenario(ADOPTION_ROUTE, rates={"under1": YEAR}, start=start, adoption=adoption)
    days = [40, 50, 120, 200]
    t = np.array(days, dtype=float)
    table = project(s, days)
    np.testing.assert_allclose(table["fostering"], np.minimum(t, 100), rtol=1e-9)
    placed = np.minimum(t, 150) - np.minimum(t, 100) + np.where(t < 50, 10, 0)
    np.testing.assert_allclose(table["placed_for_adoption"], placed, rtol=1e-9, atol=1e-9)


def test_starting_children_on_the_adoption_route_finish_their_wait_then_are_placed() -> None:
    # Exponential readiness (memoryless) then a 50-day wait for the order.
    j = journey({"adoption": 1.0}, {"adoption": exponential(200)})
    s = scenario(j, start={"groups": [group("1-4", "fostering", 100, 300)]}, adoption={"time_to_order": fixed(50)})
    days = [20, 50, 120, 400]
    t = np.array(days, dtype=float)
    table = project(s, days)
    np.testing.assert_allclose(table["fostering"], 100 * np.exp(-t / 200), rtol=1e-9)
    placed = 100 * (np.exp(-np.maximum(t - 50, 0) / 200) - np.exp(-t / 200))
    np.testing.assert_allclose(table["placed_for_adoption"], placed, rtol=1e-6)


def test_only_children_in_the_adoption_first_need_can_be_on_the_adoption_route() -> None:
    # Half adoption (readiness mean 100 days), half other (mean 1000), 300 days in care: a child in
    # fostering is on the adoption route with odds e^-3 : e^-0.3; one in residential never is.
    j = journey({"adoption": 0.5, "other": 0.5}, {"adoption": exponential(100), "other": exponential(1000)})
    start = {"children": [child(3.0, "fostering", 300), child(3.0, "residential", 300)]}
    s = scenario(j, start=start, adoption={"time_to_order": fixed(50)})
    days = [10, 100]
    t = np.array(days, dtype=float)
    weight = np.exp(-3) + np.exp(-0.3)
    table = project(s, days)
    np.testing.assert_allclose(table["residential"], np.exp(-t / 1000), rtol=1e-9)
    waiting = (np.exp(-3 - t / 100) + np.exp(-0.3 - t / 1000)) / weight
    np.testing.assert_allclose(table["fostering"], waiting, rtol=1e-9)
    placed = np.exp(-3) / weight * (np.exp(-np.maximum(t - 50, 0) / 100) - np.exp(-t / 100))
    np.testing.assert_allclose(table["placed_for_adoption"], placed, rtol=1e-6)


def test_finite_adopter_supply_is_refused() -> None:
    s = scenario(ADOPTION_ROUTE, adoption={"time_to_order": fixed(50), "adopter_approvals_per_year": 10.0})
    with pytest.raises(ValueError, match="adopter_approvals_per_year"):
        expected_stock(s, [START])


def test_children_placed_for_adoption_need_a_time_to_order() -> None:
    s = scenario(start={"groups": [group("1-4", "placed_for_adoption", 3, 100)]})
    with pytest.raises(ValueError, match="time_to_order"):
        expected_stock(s, [START])


# ---------------------------------------------------------------------------------------------
# The table


def test_table_has_every_need_for_every_date_in_the_order_given() -> None:
    s = scenario(start={"groups": [group("5-9", "fostering", 7, 100)]})
    dates = [dt.date(2025, 1, 1), START, "2024-06-01"]
    table = expected_stock(s, dates)
    assert list(table.columns) == ["date", "need", "children"]
    assert len(table) == 3 * len(PLACEMENT_NEEDS)
    assert pd.api.types.is_datetime64_any_dtype(table["date"])
    assert table["date"].iloc[:: len(PLACEMENT_NEEDS)].dt.date.tolist() == [
        dt.date(2025, 1, 1),
        START,
        dt.date(2024, 6, 1),
    ]
    assert table.groupby("date")["children"].sum().tolist() == pytest.approx([7, 7, 7])


def test_dates_outside_the_horizon_are_refused() -> None:
    s = scenario()
    with pytest.raises(ValueError, match="outside the horizon"):
        expected_stock(s, [dt.date(2023, 12, 31)])
    with pytest.raises(ValueError, match="outside the horizon"):
        expected_stock(s, [dt.date(2034, 1, 2)])
