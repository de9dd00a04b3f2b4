"""SSDA903 estimation: the entry level on the start date, moves as hazards, the reference period, the stay fits'
closed forms and gradients; a synthetic authority with a trend and moves at 16 is recovered."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from calibration.ssda903 import estimate, moves
from calibration.ssda903.calibrate import build_scenario, calibrate
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from tests.builders import build, one_pool_scenario

START, AS_OF = dt.date(2013, 4, 1), dt.date(2020, 4, 1)
RATE, TREND = 2400.0, -12.0  # entries a year aged 10-15 on START, % a year
STEP_DOWN_DAYS = 500.0  # residential -> fostering: exponential, so a constant hazard at every age
AT_16 = 0.5  # fostering -> supported accommodation on the 16th birthday


def trend_and_moves_scenario():
    """10-15 year-olds entering at a falling rate, starting in fostering or residential care; residential care
    steps down to fostering at a constant hazard, and half of those fostered on their 16th birthday move on."""
    raw = one_pool_scenario(rate_per_year=0.0, capacity="unlimited", years=8)
    raw["horizon"]["start"] = START
    raw["entries"]["rate_per_year"] = {"under1": 0, "1-4": 0, "5-9": 0, "10-15": RATE, "16-17": 0}
    raw["entries"]["trend_percent_per_year"] = TREND
    step_down = {"distribution": "exponential", "mean": STEP_DOWN_DAYS}
    journey = {
        "exit_routes": {"return_home": 0.7, "age_18": 0.3},
        "duration": {"return_home": {"distribution": "exponential", "mean": 400.0}},
        "first_need": {"fostering": 0.6, "residential": 0.4},
        "moves": [
            {"from_need": "residential", "to_need": "fostering", "probability": 1.0, "after_days": step_down},
            {"from_need": "fostering", "to_need": "supported_16plus", "probability": AT_16, "at_age": 16.0},
        ],
    }
    raw["journeys"] = {band: journey for band in raw["journeys"]}
    needs = {"foster": "fostering", "homes": "residential", "supported": "supported_16plus"}
    raw["pools"] = {
        pool: {"serves": [need], "capacity": "unlimited", "in_house": False} for pool, need in needs.items()
    }
    raw["matching"] = {need: {"pools": [pool]} for pool, need in needs.items()}
    return build(raw)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("trend_and_moves")
    write_synthetic_ssda903(trend_and_moves_scenario(), folder, seed=1, first_year=2016)
    return calibrate(read_ssda903(folder), AS_OF, window_years=4)


def test_entry_rate_on_the_start_date_is_the_fitted_level_there_within_5_percent(fitted) -> None:
    true = RATE * (1 + TREND / 100) ** ((AS_OF - START).days / estimate.DAYS_PER_YEAR)
    entries = fitted.entries
    assert entries.rate_at_start == pytest.approx(true, rel=0.05)
    assert sum(entries.rate_by_band.values()) + entries.uasc_rate == pytest.approx(entries.rate_at_start)
    assert entries.window_rate > 1.2 * true  # the period's mean, the old anchor, is two years out of date
    low, high = entries.trend_ci
    assert low < TREND < high


def test_move_hazards_are_inside_their_intervals(fitted) -> None:
    truth = estimate.DAYS_PER_YEAR / STEP_DOWN_DAYS
    step_down = fitted.moves.hazards[("residential", "fostering")]
    observed = [band for band in step_down.bands.values() if band.moves]
    assert [band.band for band in observed] == ["10-15", "16-17"]  # by age at the time, not at entry
    for band in observed:
        assert band.low < truth < band.high, band
    (birthday,) = fitted.moves.birthdays
    assert (birthday.from_need, birthday.to_need, birthday.age) == ("fostering", "supported_16plus", 16)
    assert birthday.low < AT_16 < birthday.high and birthday.at_risk > 1000


def test_the_scenario_moves_are_the_hazards_in_the_schema(fitted) -> None:
    journey = build_scenario(fitted).journeys["10-15"]
    (at_16,) = [m for m in journey.moves if m.at_age == 16.0]
    assert at_16.to_need == "supported_16plus" and at_16.probability == pytest.approx(AT_16, abs=0.03)
    step_downs = [m for m in journey.moves if m.from_need == "residential"]
    assert sum(m.probability for m in step_downs) == pytest.approx(1.0, abs=1e-5)  # no at-age move from it
    (step_down,) = step_downs
    hazard = fitted.moves.hazards[("residential", "fostering")].all_bands
    assert step_down.after_days.mean == pytest.approx(estimate.DAYS_PER_YEAR / hazard, rel=1e-3)


def test_rate_at_is_the_instantaneous_rate_whose_integrals_are_the_counts() -> None:
    rate, growth, width = 200.0, math.log(0.75), 1.2
    edges = np.array([-3.0, -2.0, -1.0, 0.0]) * width
    counts = rate / growth * np.diff(np.exp(growth * edges))
    trend = estimate.poisson_trend(counts, width)
    assert trend.rate_at(0.0) == pytest.approx(rate, rel=1e-9)
    assert trend.rate_at(0.5) == pytest.approx(rate * 0.75**0.5, rel=1e-9)
    assert trend.percent[0] == pytest.approx(-25.0, rel=1e-9)


def test_the_reference_period_bounds_what_is_read(fitted) -> None:
    history = fitted.history
    later = calibrate(history, AS_OF, reference_start=dt.date(2017, 4, 1), reference_end=dt.date(2019, 4, 1))
    assert (later.reference.start, later.reference.end) == (pd.Timestamp(2017, 4, 1), pd.Timestamp(2019, 4, 1))
    starts = history.periods["start"]
    entered = ((starts >= pd.Timestamp(2017, 4, 1)) & (starts < pd.Timestamp(2019, 4, 1))).sum()
    assert sum(later.entries.counts) == entered and len(later.entries.counts) == 2
    # The level is extrapolated a year past the reference end to the as-of date.
    assert later.entries.rate_at_start < fitted.entries.rate_at_start * 1.1
    with pytest.raises(ValueError, match=r"--reference-end 2020-05-01 is after --as-of 2020-04-01"):
        calibrate(history, AS_OF, reference_end=dt.date(2020, 5, 1))
    with pytest.raises(ValueError, match=r"--reference-start 2019-04-01 must be before the reference end 2019-04-01"):
        calibrate(history, AS_OF, reference_start=dt.date(2019, 4, 1), reference_end=dt.date(2019, 4, 1))


def test_few_moves_in_a_band_are_pooled_not_dropped() -> None:
    years = pd.Series({"under1": 0.0, "1-4": 10.0, "5-9": 40.0, "10-15": 300.0, "16-17": 50.0})
    alike = moves._pair("fostering", "residential", pd.Series({"5-9": 4, "10-15": 30, "16-17": 1}), years)
    assert alike.bands["16-17"].pooled and alike.bands["1-4"].rate == pytest.approx(alike.all_bands)
    assert alike.bands["16-17"].rate == pytest.approx(35 / 400)  # rates alike: one rate for every band
    unlike = moves._pair("fostering", "kinship_fostering", pd.Series({"5-9": 30, "10-15": 3}), years)
    assert unlike.bands["5-9"].weight > 0.9 and unlike.bands["5-9"].rate > 5 * unlike.bands["10-15"].rate
    gated = moves._pair("residential", "supported_16plus", pd.Series({"10-15": 1, "16-17": 8}), years)
    assert gated.bands["10-15"].rate == 0.0 and gated.bands["16-17"].rate == pytest.approx(8 / 50)


@pytest.mark.parametrize(("held", "capped"), [(0.0, False), (0.4, False), (0.0, True)])
def test_hazards_share_the_probability_the_at_age_moves_leave(held: float, capped: bool) -> None:
    rates = {"fostering": 1e-4, "other": 2e-4} if capped else {"fostering": 0.5, "other": 0.25}
    planned = moves._hazard_moves("residential", {to: (rate, 10) for to, rate in rates.items()}, held)
    mean = planned[0][0]["after_days"]["mean"]
    if capped:  # hazards too small for the schema's longest delay: the probabilities carry them
        assert mean == moves.MAX_DAYS and sum(m["probability"] for m, _ in planned) < 0.1
    else:
        assert mean == pytest.approx((1 - held) * estimate.DAYS_PER_YEAR / 0.75, abs=0.01)
        assert sum(m["probability"] for m, _ in planned) == pytest.approx(1 - held, abs=1e-5)
    for move, _ in planned:  # probability / mean is the hazard per day
        assert move["probability"] / mean == pytest.approx(rates[move["to_need"]] / estimate.DAYS_PER_YEAR, rel=1e-4)


@pytest.mark.parametrize("family", estimate.FAMILIES)
@pytest.mark.parametrize("theta", [(math.log(400.0), math.log(0.8)), (math.log(30.0), math.log(2.5)), (4.0, -1.5)])
def test_analytic_gradients_are_the_finite_differences(family: str, theta: tuple[float, float]) -> None:
    stays = np.array([0.5, 3.0, 40.0, 365.25, 1500.0, 6000.0])
    weights = np.array([1.0, 0.2, 0.7, 1.0, 0.4, 0.9])
    point = np.array(theta[:1] if family == "exponential" else theta)

    def log_likelihood(at: np.ndarray) -> float:
        log_pdf, log_sf = estimate._log_densities(
            family, at, (stays, np.log(stays)), (stays[::-1], np.log(stays[::-1]))
        )
        return float((weights * log_pdf).sum() + (weights * log_sf).sum())

    _, _, d_pdf, d_sf = estimate._log_densities(
        family, point, (stays, np.log(stays)), (stays[::-1], np.log(stays[::-1])), gradient=True
    )
    analytic = (d_pdf * weights).sum(axis=1) + (d_sf * weights).sum(axis=1)
    numeric = optimize.approx_fprime(point, log_likelihood, 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", estimate.FAMILIES)
def test_closed_form_parameters_are_scipy_s(family: str) -> None:
    theta = np.array([math.log(300.0)] if family == "exponential" else [math.log(300.0), math.log(0.7)])
    dist, kwds = estimate._scipy_family(family, theta)
    params = estimate._params(family, theta)
    frozen = dist(**kwds)
    if family == "weibull":
        assert params == {"shape": pytest.approx(0.7, rel=1e-5), "scale": pytest.approx(300.0, rel=1e-5)}
    else:
        assert params["mean"] == pytest.approx(frozen.mean(), rel=1e-5)
        assert params.get("sd", frozen.std()) == pytest.approx(frozen.std(), rel=1e-5)


def test_the_same_fit_with_finite_differences(fitted) -> None:
    """The flag the benchmark times: scipy's finite differences find the same stays (on 800 periods, for time)."""
    periods = estimate._observed_at(fitted.history, fitted.reference).head(800)
    analytic, numeric = (estimate._fit_band(periods, "all", None, flag) for flag in (True, False))
    for route, fit in analytic.fits.items():
        twin = numeric.fits[route]
        assert twin.family == fit.family
        for key, value in fit.params.items():
            assert twin.params[key] == pytest.approx(value, rel=1e-3), (route, key)
