"""Parameter uncertainty: per-replication draws that are reproducible, shared between scenarios, and exact."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.compare import compare
from sim.engine.parameters import (
    DemandUncertainty,
    PlacementMixUncertainty,
    PriceUncertainty,
    SupplyUncertainty,
    Uncertainty,
    parameter_draws,
    with_drawn_mix,
    with_drawn_parameters,
)
from sim.engine.scenario import ScenarioError
from sim.results.runner import run
from tests.builders import build, one_pool_scenario

CORRELATION = [[1.0, 0.5, -0.3], [0.5, 1.0, 0.0], [-0.3, 0.0, 1.0]]
UNCERTAIN = Uncertainty(
    demand=DemandUncertainty(
        entry_rate_sd_log=0.1, trend_sd_points=2.0, stay_scale_sd_log=0.2, correlation=CORRELATION, source="test"
    ),
    prices=PriceUncertainty(level_sd_log=0.05, inflation_sd_points=1.0, source="test"),
    supply=SupplyUncertainty(approvals_sd_log=0.3, deregistrations_sd_log=0.5, source="test"),
)


def _scenario(uncertainty: Uncertainty | None = UNCERTAIN, years: int = 2):
    raw = one_pool_scenario(rate_per_year=30.0, capacity=20, years=years)
    raw["prices"] = {
        "base_date": raw["horizon"]["start"],
        "inflation_percent_per_year": 3.0,
        "inflation_source": "test",
        "pools": {name: {"source": "test", "weekly": 1000.0} for name in raw["pools"]},
    }
    scenario = build(raw)
    return scenario.model_copy(update={"uncertainty": uncertainty})


def test_draws_have_the_covariance_asked_for() -> None:
    draws = np.array([parameter_draws(UNCERTAIN, 7, replication) for replication in range(4000)])
    sd = np.array([0.1, 0.02, 0.2, 0.05, 0.01, 0.3, 0.5])
    expected = np.zeros((7, 7))
    expected[:3, :3] = np.array(CORRELATION)
    expected[3:, 3:] = np.eye(4)
    expected *= np.outer(sd, sd)
    # The standard error of a sample covariance: sqrt((var_i var_j + cov_ij^2) / n).
    error = np.sqrt((np.outer(sd**2, sd**2) + expected**2) / len(draws))
    assert np.all(np.abs(np.cov(draws.T) - expected) < 4.5 * error)
    assert np.abs(draws.mean(axis=0)).max() < 4 * sd.max() / np.sqrt(4000)


def test_a_draw_scales_entries_trend_stays_and_prices_exactly() -> None:
    scenario = _scenario()
    drawn = with_drawn_parameters(scenario, 3, 5)
    z = parameter_draws(UNCERTAIN, 3, 5)
    band = next(iter(scenario.entries.rate_per_year))
    assert drawn.entries.rate_per_year[band] == pytest.approx(scenario.entries.rate_per_year[band] * np.exp(z[0]))
    assert drawn.entries.trend_percent_per_year == pytest.approx(scenario.entries.trend_percent_per_year + 100 * z[1])
    for journey, drawn_journey in zip(scenario.journeys.values(), drawn.journeys.values(), strict=True):
        for route, distribution in journey.duration.items():
            factor = 1.0 if route == "adoption" else np.exp(z[2])
            assert drawn_journey.duration[route].mean_days == pytest.approx(distribution.mean_days * factor)
    pool = next(iter(scenario.prices.pools))
    assert drawn.prices.pools[pool].weekly == pytest.approx(1000.0 * np.exp(z[3]))
    assert drawn.prices.inflation_percent_per_year == pytest.approx(3.0 + 100 * z[4])


def test_later_kinds_of_draw_leave_the_earlier_draws_unchanged() -> None:
    """A baseline refitted with supply and placement-mix draws keeps every replication's demand and prices."""
    earlier = Uncertainty(demand=UNCERTAIN.demand, prices=UNCERTAIN.prices)
    mix = PlacementMixUncertainty(children={"fostering": 40.0, "residential": 10.0})
    later = UNCERTAIN.model_copy(update={"placement_mix": mix})
    for replication in range(5):
        before, after = parameter_draws(earlier, 3, replication), parameter_draws(later, 3, replication)
        assert len(before) == 7 and len(after) == 9
        np.testing.assert_array_equal(before[:5], after[:5])
    assert [name for name, _ in later.parameters()][-2:] == [
        "share first placed in fostering",
        "share first placed in residential",
    ]


def test_drawn_shares_proportional_to_their_counts_are_dirichlet() -> None:
    """Shares fitted to counts n_i, each weighted Gamma(n_i, 1) / n_i and renormalised, are Dirichlet(n): here the
    share first placed in residential is Beta(10, 40), whose mean and variance are closed forms."""
    scenario = _scenario()
    journey = next(iter(scenario.journeys.values())).model_copy(
        update={"first_need": {"fostering": 0.8, "residential": 0.2}}
    )
    counts = {"fostering": 40.0, "residential": 10.0}
    uncertainty = Uncertainty(placement_mix=PlacementMixUncertainty(children=counts))
    shares = []
    for replication in range(4000):
        factors = dict(zip(counts, np.exp(parameter_draws(uncertainty, 5, replication)[7:]), strict=True))
        drawn = with_drawn_mix(journey, factors).first_need
        assert sum(drawn.values()) == pytest.approx(1.0)
        shares.append(drawn["residential"])
    a, b = 10.0, 40.0
    mean, variance = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(np.mean(shares) - mean) < 4 * np.sqrt(variance / len(shares))
    # The sample variance's standard error, from the Beta's fourth central moment, is below 10% of it at n = 4000.
    assert np.var(shares) == pytest.approx(variance, rel=0.1)


def test_a_supply_draw_scales_every_fostering_pool_s_flows_exactly() -> None:
    raw = one_pool_scenario(rate_per_year=30.0, capacity=20, years=2)
    raw["pools"]["inhouse"]["fostering"] = {
        "households": 15,
        "approvals_per_year": 6.0,
        "deregistrations_per_year": 4.0,
    }
    scenario = build(raw).model_copy(update={"uncertainty": UNCERTAIN})
    z = parameter_draws(UNCERTAIN, 2, 4)
    drawn = with_drawn_parameters(scenario, 2, 4).pools["inhouse"].fostering
    assert drawn.approvals_per_year == pytest.approx(6.0 * np.exp(z[5]))
    assert drawn.deregistrations_per_year == pytest.approx(4.0 * np.exp(z[6]))
    assert drawn.households == 15
    assert scenario.pools["inhouse"].fostering.approvals_per_year == 6.0  # the scenario itself is unchanged


def test_placement_mix_counts_name_needs_and_are_at_least_one() -> None:
    for children, expected in (({"fostring": 10.0}, "fostring"), ({"fostering": 0.5}, "greater than or equal to 1")):
        raw = one_pool_scenario(rate_per_year=30.0, capacity=20, years=2)
        raw["uncertainty"] = {"placement_mix": {"children": children}}
        with pytest.raises(ScenarioError) as raised:
            build(raw)
        assert "uncertainty.placement_mix.children" in str(raised.value) and expected in str(raised.value)


def test_without_uncertainty_the_scenario_is_itself() -> None:
    scenario = _scenario(None)
    assert with_drawn_parameters(scenario, 1, 0) is scenario
    zero = _scenario(Uncertainty())
    assert with_drawn_parameters(zero, 1, 0) is zero


def test_draws_are_reproducible_whatever_the_number_of_workers() -> None:
    """(And on Dask: tests/test_region_and_dask.py runs a scenario that draws its parameters.)"""
    scenario = _scenario()
    one = run(scenario, 6, seed=11, jobs=1)
    two = run(scenario, 6, seed=11, jobs=2)
    for name in ("stock", "spend"):
        assert one.tables[name].equals(two.tables[name]), name
    fixed = run(_scenario(None), 6, seed=11, jobs=1)
    assert not one.tables["stock"].equals(fixed.tables["stock"])  # the draws change the replications


def test_a_scenario_compared_with_itself_differs_by_exactly_zero() -> None:
    scenario = _scenario()
    result = compare(scenario, [scenario.model_copy(update={"name": "same"})], 5)
    differences = result.differences
    assert (differences["difference"] == 0).all()


def test_a_correlation_that_no_variables_can_have_is_refused() -> None:
    raw = one_pool_scenario(rate_per_year=30.0, capacity=20, years=2)
    raw["uncertainty"] = {
        "demand": {"entry_rate_sd_log": 0.1, "correlation": [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]}
    }
    with pytest.raises(ScenarioError) as raised:
        build(raw)
    assert "uncertainty.demand.correlation" in str(raised.value) and "positive semi-definite" in str(raised.value)


def _external_spend(result, year: str) -> np.ndarray:
    spend = result.tables["spend"]
    external = spend[~spend["in_house"].astype(bool) & (spend["financial_year"] == year)]
    return external.groupby("replication")["spend"].sum().reindex(range(result.replications)).to_numpy()


def test_a_price_draw_multiplies_each_replication_s_spend_exactly() -> None:
    prices_only = Uncertainty(prices=PriceUncertainty(level_sd_log=0.05))
    drawn, fixed = run(_scenario(prices_only, years=4), 12), run(_scenario(None, years=4), 12)
    year = drawn.calendar.financial_years.labels[2]
    levels = np.exp([parameter_draws(prices_only, drawn.seed, r)[3] for r in range(12)])
    # The same children (common random numbers), each replication's prices times its own level.
    np.testing.assert_allclose(_external_spend(drawn, year), _external_spend(fixed, year) * levels, rtol=1e-9)


def test_the_drivers_of_the_spread_are_the_least_squares_effects_of_the_parameters_drawn() -> None:
    from sim.present import charts

    prices_only = Uncertainty(prices=PriceUncertainty(level_sd_log=0.05))
    result = run(_scenario(prices_only, years=4), 40)
    effects = result.run_summary.parameter_effects
    assert list(effects["parameter"]) == ["price level"]  # nothing drawn can move the children in care
    (row,) = effects.itertuples()
    year = row.outcome.removeprefix("external spend in ").removesuffix(" (£ million)")
    values = _external_spend(result, year) / 1e6
    levels = np.array([parameter_draws(prices_only, result.seed, r)[3] for r in range(40)])
    slope = np.polyfit(levels, values, 1)[0]
    assert row.effect == pytest.approx(slope * levels.std())
    assert row.high - row.low == pytest.approx(2 * 1.2815515655446004 * abs(row.effect))
    assert charts.tornado(result.run_summary) is not None
    assert run(_scenario(None), 3).run_summary.parameter_effects is None


def test_scaling_the_spend_by_the_drawn_prices_is_pricing_at_them() -> None:
    from sim.engine.model import simulate_replication
    from sim.results.costs import at_drawn_prices
    from sim.results.tables import Calendar, batch_tables

    scenario = _scenario(years=4)
    calendar = Calendar.for_scenario(scenario)
    for replication in (0, 3):
        drawn = with_drawn_parameters(scenario, 9, replication)
        records = [simulate_replication(drawn, 9, replication)]
        priced = batch_tables(records, drawn, calendar)["spend"]
        spend = batch_tables(records, scenario, calendar)["spend"]
        scaled = at_drawn_prices(
            {column: spend[column].to_numpy() for column in spend}, scenario, 9, calendar.financial_years
        )
        assert drawn.prices.inflation_percent_per_year != scenario.prices.inflation_percent_per_year
        np.testing.assert_allclose(scaled["spend"], priced["spend"].to_numpy(), rtol=1e-12)
