"""Dated changes in demand (`entries.changes`, `entries.uasc.changes`, `entries.uasc.trend_percent_per_year`).

Each key is checked three ways: the engine's mean stock (every pool unlimited) against the expected-value
projection within Monte Carlo error, with a check that the key moved the result by more than that error
(so a side that ignored the key would fail); the engine's draws against exact properties (who is changed and
who is not); and, with stays too long to end, entries against the integral of the piecewise rate.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.projection import expected_stock
from sim.analysis.what_if import scenario_document
from sim.engine.demand import draw_cohort
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.toml_writer import to_toml
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.results.runner import run
from tests.builders import one_pool_scenario, unlimited_rich

CHANGE = dt.date(2021, 4, 1)  # 548 days after the rich scenario's start, 2019-10-01
DATES = [dt.date(2020, 10, 1), dt.date(2022, 4, 1), dt.date(2023, 10, 1), dt.date(2025, 9, 1)]
REPLICATIONS = 100  # enough to tell each change from Monte Carlo error (the teeth below), half the time of 200

Raw = dict[str, Any]


def with_changes(main: list[dict[str, Any]] | None = None, fade: dict[str, Any] | None = None, **uasc: Any) -> Scenario:
    raw = unlimited_rich()
    if main is not None:
        raw["entries"]["changes"] = main
    if fade is not None:
        raw["entries"]["trend_fade"] = fade
    raw["entries"]["uasc"].update(uasc)
    return scenario_from_dict(raw)


# One scenario per key; each change is large enough to move the stock well beyond Monte Carlo error.
SCENARIOS: dict[str, Scenario] = {
    "entry step for some bands": with_changes(
        [
            {"date": CHANGE, "rate_multiplier": 0.5, "age_bands": ["10-15", "16-17"], "note": "edge of care"},
            {"date": dt.date(2022, 10, 1), "rate_multiplier": 1.6, "age_bands": ["under1"]},
        ]
    ),
    "new trend from a date": with_changes(
        [
            {"date": CHANGE, "trend_percent_per_year": 25.0},
            {"date": dt.date(2023, 4, 1), "trend_percent_per_year": -15.0},
        ]
    ),
    "trend fading toward a long-run rate": with_changes(
        fade={"to_percent_per_year": -20.0, "half_life_years": 1.0, "note": "a fitted trend trusted for a year"}
    ),
    "stay multiplier from a date": with_changes(
        [
            {"date": CHANGE, "stay_multiplier": 2.0, "age_bands": ["under1", "1-4", "10-15"]},
            {"date": dt.date(2023, 1, 1), "stay_multiplier": 0.7},
        ]
    ),
    "first need from a date": with_changes(
        [
            {"date": CHANGE, "age_bands": ["10-15"], "first_need": {"residential": 0.6, "fostering": 0.4}},
            {"date": CHANGE, "age_bands": ["under1"], "first_need": {"kinship_fostering": 1.0}},
        ]
    ),
    "UASC own trend with a step": with_changes(
        rate_per_year=40.0,
        trend_percent_per_year=-10.0,
        changes=[
            {"date": dt.date(2022, 7, 1), "rate_multiplier": 2.5, "note": "National Transfer Scheme mandatory"},
            {"date": dt.date(2023, 7, 1), "trend_percent_per_year": 20.0, "stay_multiplier": 1.5},
        ],
    ),
}


def _simulated(scenario: Scenario, seed: int) -> pd.DataFrame:
    result = run(scenario, replications=REPLICATIONS, seed=seed, jobs=2)
    simulated = result.summary("stock", ["date", "need"], "children")
    return simulated[simulated["date"].isin(pd.to_datetime(DATES))]


def _compared(simulated: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    compared = simulated.merge(expected, on=["date", "need"], how="outer").fillna({"mean": 0.0, "children": 0.0})
    # Bonferroni: a 99% family-wise interval over every (date, need) compared.
    level = 1 - 0.01 / len(compared)
    width = stats.t.ppf(0.5 + level / 2, REPLICATIONS - 1) / stats.t.ppf(0.975, REPLICATIONS - 1)
    compared["half"] = (compared["ci95_high"] - compared["mean"]).fillna(0.0) * width
    compared["outside"] = (compared["children"] - compared["mean"]).abs() > compared["half"] + 1e-9
    return compared


@pytest.mark.parametrize("key", SCENARIOS)
def test_each_dated_change_matches_the_projection_within_monte_carlo_error(key: str) -> None:
    scenario = SCENARIOS[key]
    simulated = _simulated(scenario, seed=23)
    compared = _compared(simulated, expected_stock(scenario, DATES))
    shown = compared[["date", "need", "mean", "children", "ci95_low", "ci95_high"]]
    assert not compared["outside"].any(), shown[compared["outside"]].to_string()
    # Teeth: the projection of the same scenario without the change is outside the interval somewhere.
    unchanged = unlimited_rich()
    unchanged["entries"]["uasc"].update(rate_per_year=scenario.entries.uasc.rate_per_year)
    ignored = _compared(simulated, expected_stock(scenario_from_dict(unchanged), DATES))
    assert ignored["outside"].sum() >= 2, "the change is too small to be told from Monte Carlo error"


# ---------------------------------------------------------------------------------------------
# Closed form: stays that never end, so the stock counts every entrant


def _no_exits(**entries: Any) -> Scenario:
    """Entrants at ages under 1 and 1-4 who stay in care for the whole ten-year horizon."""
    raw = one_pool_scenario(capacity="unlimited", years=10, stay={"distribution": "fixed", "days": 36_000.0})
    raw["entries"]["rate_per_year"] = {"under1": 30.0, "1-4": 20.0}
    raw["entries"].update(entries)
    return scenario_from_dict(raw)


STEP = dt.date(2023, 4, 1)  # three years after the start, 2020-04-01
NEW_TREND = dt.date(2025, 4, 1)


def _entries_integral(years: float) -> float:
    """∫ rate over [0, years]: under1 30 and 1-4 20 a year, 4% growth, then 1-4 x 0.5 from 3 years and
    -6% growth from 5 years (dates as the horizon's days, a year being 365.25 days)."""
    step = (STEP - dt.date(2020, 4, 1)).days / DAYS_PER_YEAR
    turn = (NEW_TREND - dt.date(2020, 4, 1)).days / DAYS_PER_YEAR
    g1, g2 = math.log(1.04), math.log(0.94)

    def grown(rate: float, g: float, a: float, b: float) -> float:  # ∫_a^b rate e^(g (t - a)) dt
        return rate * math.expm1(g * (b - a)) / g

    total = grown(50.0, g1, 0.0, min(years, step))
    if years > step:
        level = math.exp(g1 * step)
        total += grown((30.0 + 10.0) * level, g1, step, min(years, turn))
    if years > turn:
        total += grown(40.0 * math.exp(g1 * turn), g2, turn, years)
    return total


def test_entries_under_a_step_and_a_new_trend_are_the_integral_of_the_piecewise_rate() -> None:
    scenario = _no_exits(
        trend_percent_per_year=4.0,
        changes=[
            {"date": STEP, "rate_multiplier": 0.5, "age_bands": ["1-4"]},
            {"date": NEW_TREND, "trend_percent_per_year": -6.0},
        ],
    )
    dates = [dt.date(2022, 4, 1), dt.date(2024, 4, 1), dt.date(2027, 4, 1), dt.date(2030, 4, 1)]
    years = np.array([(day - dt.date(2020, 4, 1)).days / DAYS_PER_YEAR for day in dates])
    exact = np.array([_entries_integral(y) for y in years])
    projected = expected_stock(scenario, dates).groupby("date")["children"].sum().to_numpy()
    assert projected == pytest.approx(exact, rel=1e-4)
    assert scenario.expected_children() == pytest.approx(_entries_integral(10.0), rel=1e-9)  # `years` years
    replications = 400
    stock = run(scenario, replications=replications, seed=5, jobs=2).summary("stock", ["date"], "children")
    stock = stock[stock["date"].isin(pd.to_datetime(dates))].sort_values("date")
    widen = stats.t.ppf(1 - 0.01 / (2 * len(dates)), replications - 1) / stats.t.ppf(0.975, replications - 1)
    half = (stock["ci95_high"] - stock["mean"]).to_numpy() * widen
    assert np.all(np.abs(stock["mean"].to_numpy() - exact) < half), (stock["mean"].to_numpy(), exact)


def _faded_entries_integral(years: float, start: float, end: float, half_life: float) -> float:
    """∫ rate over [0, years] for 50 entries a year whose trend fades continuously from `start` to `end` percent
    a year (half-life `half_life` years), by quadrature: the quarterly steps approximate this to 1e-3."""
    t = np.linspace(0.0, years, 20_001)
    percent = end + (start - end) * 2.0 ** (-t / half_life)
    log_growth = np.log1p(percent / 100.0)
    level = np.concatenate([[0.0], np.cumsum((log_growth[1:] + log_growth[:-1]) / 2 * np.diff(t))])
    rate = 50.0 * np.exp(level)
    return float(np.sum((rate[1:] + rate[:-1]) / 2 * np.diff(t)))


def test_a_fading_trend_steps_quarterly_from_the_start_trend_to_the_long_run_rate() -> None:
    scenario = _no_exits(trend_percent_per_year=8.0, trend_fade={"to_percent_per_year": 2.0, "half_life_years": 2.0})
    stream = scenario.entries.stream(False, scenario.horizon)
    # each quarter at its middle: 2 + 6 x 2^(-(q + 1/2) / 4 / 2)
    assert stream.trend_percent_per_year == pytest.approx(2.0 + 6.0 * 2.0 ** (-0.5 / 8))
    day, percent = stream.trends[3]  # the fourth step: the second quarter's after the first of the stream
    assert (day - scenario.horizon.start).days == round(4 * DAYS_PER_YEAR / 4)
    assert percent == pytest.approx(2.0 + 6.0 * 2.0 ** (-4.5 / 8))
    assert stream.trends[-1][0] < scenario.horizon.end  # steps within the horizon only
    # within 0.005 points of the long-run rate the fade ends: with a half-life of half a year, 6 x 2^(-2 t) <
    # 0.005 from t = 5.11 years, first at the middle of quarter 20 (5.125 years), so from 5 years on it is 2
    quick = _no_exits(trend_percent_per_year=8.0, trend_fade={"to_percent_per_year": 2.0, "half_life_years": 0.5})
    day, percent = quick.entries.stream(False, quick.horizon).trends[-1]
    assert (percent, (day - quick.horizon.start).days) == (2.0, round(20 * DAYS_PER_YEAR / 4))
    years = np.array([2.0, 5.0, 9.0])
    dates = [scenario.horizon.start + dt.timedelta(days=round(y * DAYS_PER_YEAR)) for y in years]
    projected = expected_stock(scenario, dates).groupby("date")["children"].sum().to_numpy()
    exact = [_faded_entries_integral(y, 8.0, 2.0, 2.0) for y in years]
    assert projected == pytest.approx(exact, rel=1e-3)


def test_a_new_trend_in_changes_ends_the_fade_and_a_drawn_trend_fades_too() -> None:
    fade = {"to_percent_per_year": 0.0, "half_life_years": 1.5}
    scenario = _no_exits(
        trend_percent_per_year=6.0, trend_fade=fade, changes=[{"date": NEW_TREND, "trend_percent_per_year": -6.0}]
    )
    stream = scenario.entries.stream(False, scenario.horizon)
    assert stream.trends[-1] == (NEW_TREND, -6.0)
    assert all(day < NEW_TREND for day, _ in stream.trends[:-1])
    assert stream.trends[-2][0] > NEW_TREND - dt.timedelta(days=92)  # quarterly steps up to the new trend
    drawn = scenario.model_copy(
        update={"entries": scenario.entries.model_copy(update={"trend_percent_per_year": 9.0})}
    ).entries.stream(False, scenario.horizon)
    gaps = np.array([percent for _, percent in stream.trends[:-1]])
    assert np.array([percent for _, percent in drawn.trends[:-1]]) == pytest.approx(gaps * 1.5)


def test_projected_stock_after_a_stay_multiplier_and_a_first_need_change_is_the_m_g_infinity_closed_form() -> None:
    """Exponential stays of mean μ, then m μ for entrants from day d, who also start in residential instead:

    fostering(t) = R μ e^(-(t-d)/μ) (1 - e^(-d/μ)),  residential(t) = R m μ (1 - e^(-(t-d)/(m μ)))."""
    raw = one_pool_scenario(rate_per_year=60.0, capacity="unlimited", mean_days=300.0, years=6, band="under1")
    raw["pools"]["homes"] = {"serves": ["residential"], "capacity": "unlimited", "in_house": False}
    raw["matching"]["residential"] = {"pools": ["homes"]}
    change = dt.date(2022, 4, 1)
    raw["entries"]["changes"] = [{"date": change, "stay_multiplier": 2.5, "first_need": {"residential": 1.0}}]
    scenario = scenario_from_dict(raw)
    dates = [dt.date(2023, 1, 1), dt.date(2024, 6, 1), dt.date(2026, 3, 1)]
    stock = expected_stock(scenario, dates).pivot(index="date", columns="need", values="children")
    rate, mean, m, d = 60.0 / DAYS_PER_YEAR, 300.0, 2.5, float((change - dt.date(2020, 4, 1)).days)
    t = np.array([(day - dt.date(2020, 4, 1)).days for day in dates], dtype=float)
    fostering = rate * mean * np.exp(-(t - d) / mean) * (1 - np.exp(-d / mean))
    residential = rate * m * mean * (1 - np.exp(-(t - d) / (m * mean)))
    assert stock["fostering"].to_numpy() == pytest.approx(fostering, rel=1e-4)
    assert stock["residential"].to_numpy() == pytest.approx(residential, rel=1e-4)


def test_a_step_for_one_band_changes_that_band_only() -> None:
    scenario = _no_exits(changes=[{"date": STEP, "rate_multiplier": 0.5, "age_bands": ["1-4"]}])
    entries = run(scenario, replications=200, seed=9, jobs=2).summary("entries", ["month", "age_band"], "children")
    entries["after"] = entries["month"] >= pd.Timestamp(STEP)
    by_band = entries.groupby(["after", "age_band"], observed=True)["mean"].sum()
    months_before = (STEP.year - 2020) * 12
    months_after = 120 - months_before
    assert by_band[(False, "1-4")] / months_before * 12 == pytest.approx(20.0, rel=0.03)
    assert by_band[(True, "1-4")] / months_after * 12 == pytest.approx(10.0, rel=0.03)
    assert by_band[(True, "under1")] / months_after * 12 == pytest.approx(30.0, rel=0.03)


# ---------------------------------------------------------------------------------------------
# The engine's draws: who is changed, who is not, and the random numbers kept


def _cohort(scenario: Scenario, replication: int = 0):
    return draw_cohort(scenario, seed=3, replication=replication, start_pool_names=list(scenario.pools))


def _exit_day(cohort) -> np.ndarray:
    return cohort.seg_end[np.arange(cohort.size), cohort.n_segments - 1]


def test_without_changes_the_draws_are_those_of_a_scenario_without_the_keys() -> None:
    raw = unlimited_rich()
    plain = _cohort(scenario_from_dict(raw))
    raw["entries"]["changes"] = []
    raw["entries"]["uasc"]["changes"] = []
    raw["entries"]["uasc"]["trend_percent_per_year"] = raw["entries"]["trend_percent_per_year"]
    same = _cohort(scenario_from_dict(raw))
    for name in ("entry_day", "birth_day", "entry_band", "route", "seg_need", "seg_end"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(same, name))


def test_stay_multiplier_and_first_need_change_entrants_from_the_date_and_nobody_else() -> None:
    raw = unlimited_rich()
    base = _cohort(scenario_from_dict(raw))
    raw["entries"]["changes"] = [
        {"date": CHANGE, "stay_multiplier": 1.5, "first_need": {"residential": 1.0}, "age_bands": ["10-15"]}
    ]
    changed = _cohort(scenario_from_dict(raw))
    np.testing.assert_array_equal(base.entry_day, changed.entry_day)  # journeys only: arrivals are unchanged
    day = (CHANGE - dt.date(2019, 10, 1)).days
    band = base.entry_band == 3  # 10-15
    hit = ~base.starting & ~base.uasc & band & (base.entry_day >= day)
    assert hit.sum() > 50
    untouched = ~hit
    np.testing.assert_array_equal(base.seg_end[untouched], changed.seg_end[untouched])
    np.testing.assert_array_equal(base.seg_need[untouched], changed.seg_need[untouched])
    assert (changed.seg_need[hit, 0] == changed.seg_need[hit, 0][0]).all()
    stay_base = _exit_day(base)[hit] - base.entry_day[hit]
    stay_changed = _exit_day(changed)[hit] - changed.entry_day[hit]
    to_18 = changed.birthday_18[hit] - changed.entry_day[hit]
    uncapped = (stay_changed < to_18 - 1e-9) & np.isfinite(stay_base)
    assert uncapped.sum() > 20
    np.testing.assert_allclose(stay_changed[uncapped], 1.5 * stay_base[uncapped], rtol=1e-12)
    assert np.all(stay_changed <= to_18 + 1e-9)  # still capped at the 18th birthday


def test_a_lower_rate_keeps_a_subset_of_the_arrivals_and_the_same_ones_before_its_date() -> None:
    raw = unlimited_rich()
    base = _cohort(scenario_from_dict(raw))
    raw["entries"]["changes"] = [{"date": CHANGE, "rate_multiplier": 0.9}]
    lower = _cohort(scenario_from_dict(raw))
    day = (CHANGE - dt.date(2019, 10, 1)).days
    main = ~base.starting & ~base.uasc
    main_lower = ~lower.starting & ~lower.uasc
    assert set(lower.entry_day[main_lower]) <= set(base.entry_day[main])
    before = np.sort(base.entry_day[main & (base.entry_day < day)])
    np.testing.assert_array_equal(before, np.sort(lower.entry_day[main_lower & (lower.entry_day < day)]))
    assert main_lower.sum() < main.sum()
    np.testing.assert_array_equal(base.entry_day[base.uasc], lower.entry_day[lower.uasc])  # UASC untouched


def test_uasc_without_a_trend_of_its_own_follow_the_main_trend_and_its_new_trends() -> None:
    raw = unlimited_rich()
    raw["entries"]["changes"] = [{"date": CHANGE, "trend_percent_per_year": 40.0}]
    scenario = scenario_from_dict(raw)
    follows = scenario.entries.stream(True, scenario.horizon)
    assert follows.trend_percent_per_year == raw["entries"]["trend_percent_per_year"]
    assert follows.trends == ((CHANGE, 40.0),)
    assert follows.changes == ()  # the main steps, stays and first needs are the main stream's own
    raw["entries"]["uasc"]["trend_percent_per_year"] = 0.0
    own = scenario_from_dict(raw).entries.stream(True, scenario.horizon)
    assert (own.trend_percent_per_year, own.trends) == (0.0, ())


# ---------------------------------------------------------------------------------------------
# The written scenario keeps them


def test_the_written_scenario_reads_back_with_every_dated_change() -> None:
    for scenario in SCENARIOS.values():
        text = to_toml(scenario_document(scenario))
        again = scenario_from_dict(tomllib.loads(text))
        assert again.entries == scenario.entries
