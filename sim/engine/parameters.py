"""Parameter uncertainty: each replication draws its own entry rate, trend, stay length, placement mix, carer
supply and prices.

A fitted parameter is known only within an interval, so a band that holds only simulation noise is too
narrow. A scenario's `[uncertainty]` table gives the spread of the fitted parameters. Each replication then
draws one parameter set, from its own named stream `parameters`, and runs with it:

- the entry rate times exp(z1), for every age band of the main stream (not UASC, counted apart);
- the trend of entries plus z2 percentage points;
- every stay (each exit route's duration, but the national adoption timing) times exp(z3);
- every price times exp(z4), and every inflation rate plus z5 points;
- every fostering pool's approvals a year times exp(z6), and its deregistrations a year times exp(z7);
- each first placement need's share of entries times g / n, then renormalised, where n is the number of children
  the share was fitted to and g is Gamma(n, 1): the posterior of a Poisson mean seen once as n (the stock of a
  need is Poisson in an M/G/infinity steady state), which makes the renormalised shares Dirichlet.

(z1, z2, z3) is normal with the given sds and correlation (the history fit's covariance), and z4 to z7 are
independent normals. The draws depend only on the seed and the replication, so two scenarios run with the
same seed and the same `[uncertainty]` see the same parameters: a what-if's paired difference stays sharp.
The draws come in that order, so adding a later kind leaves the earlier ones' draws unchanged. A dated change of
first-need shares (`entries.changes`) is the user's own statement and is not drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from sim.engine.schema import MAX_PLACES, ScenarioModel, Text
from sim.engine.streams import stream
from sim.engine.vocabulary import PLACEMENT_NEEDS, Need

if TYPE_CHECKING:
    from sim.engine.scenario import FosteringSupply, Journey, Scenario

SdLog = Annotated[float, Field(ge=0, le=2)]  # an sd of 2 on the log scale is a factor of 7 either way
SdPoints = Annotated[float, Field(ge=0, le=20)]


class DemandUncertainty(ScenarioModel):
    """The spread of the entry rate, its trend and the stay scale, with their correlation."""

    entry_rate_sd_log: SdLog = 0.0
    trend_sd_points: SdPoints = 0.0
    stay_scale_sd_log: SdLog = 0.0
    correlation: list[list[Annotated[float, Field(ge=-1, le=1)]]] = Field(
        default_factory=lambda: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    )
    source: Text = ""

    @field_validator("correlation")
    @classmethod
    def _a_correlation(cls, value: list[list[float]]) -> list[list[float]]:
        matrix = np.array(value, dtype=float) if all(len(row) == 3 for row in value) else np.zeros((0, 0))
        if matrix.shape != (3, 3):
            raise ValueError("expected a 3 x 3 matrix (entry rate, trend, stay scale)")
        if not np.allclose(matrix, matrix.T) or not np.allclose(np.diag(matrix), 1.0):
            raise ValueError("expected a symmetric matrix with ones on the diagonal")
        if np.linalg.eigvalsh(matrix).min() < -1e-9:
            raise ValueError("expected a positive semi-definite matrix (a correlation some variables can have)")
        return value

    def sds(self) -> np.ndarray:
        """Sds of the log entry factor, the trend shift (a fraction a year) and the log stay factor."""
        return np.array([self.entry_rate_sd_log, self.trend_sd_points / 100.0, self.stay_scale_sd_log])

    def covariance(self) -> np.ndarray:
        return np.array(self.correlation) * np.outer(self.sds(), self.sds())


class PriceUncertainty(ScenarioModel):
    level_sd_log: SdLog = 0.0
    inflation_sd_points: SdPoints = 0.0
    source: Text = ""


class SupplyUncertainty(ScenarioModel):
    """The spread of every fostering pool's approvals and deregistrations of households a year."""

    approvals_sd_log: SdLog = 0.0
    deregistrations_sd_log: SdLog = 0.0
    source: Text = ""


class PlacementMixUncertainty(ScenarioModel):
    """How many children each need's share of first placements was fitted to: the fewer, the wider its draw."""

    children: dict[Need, Annotated[float, Field(ge=1, le=MAX_PLACES)]] = Field(default_factory=dict)
    source: Text = ""


class Uncertainty(ScenarioModel):
    demand: DemandUncertainty = DemandUncertainty()
    prices: PriceUncertainty = PriceUncertainty()
    supply: SupplyUncertainty = SupplyUncertainty()
    placement_mix: PlacementMixUncertainty = PlacementMixUncertainty()

    @property
    def active(self) -> bool:
        return any(sd > 0 for _, sd in self.parameters())

    def parameters(self) -> list[tuple[str, float]]:
        """The name and sd of each column of a draw (`parameter_draws`), in order; sds on the draw's own scale."""
        demand, prices, supply = self.demand, self.prices, self.supply
        named = [
            ("entry rate", demand.entry_rate_sd_log),
            ("entry trend", demand.trend_sd_points / 100.0),
            ("length of stays", demand.stay_scale_sd_log),
            ("price level", prices.level_sd_log),
            ("price inflation", prices.inflation_sd_points / 100.0),
            ("foster carer approvals", supply.approvals_sd_log),
            ("foster carer deregistrations", supply.deregistrations_sd_log),
        ]
        mix = self.placement_mix.children
        return named + [(f"share first placed in {need}", float(mix[need]) ** -0.5) for need in _mix_needs(self)]


def _mix_needs(uncertainty: Uncertainty) -> list[str]:
    """The needs whose shares are drawn, in the vocabulary's order (the order of their draws)."""
    return [need for need in PLACEMENT_NEEDS if need in uncertainty.placement_mix.children]


FIRST_MIX_COLUMN = 7  # the columns before: the five demand and price draws, then approvals and deregistrations


def with_drawn_parameters(scenario: Scenario, seed: int, replication: int) -> Scenario:
    """The scenario with this replication's parameter draw; the scenario itself when nothing is uncertain."""
    uncertainty = scenario.uncertainty
    if uncertainty is None or not uncertainty.active:
        return scenario
    draws = parameter_draws(uncertainty, seed, replication)
    entries = scenario.entries.model_copy(
        update={
            "rate_per_year": {band: rate * np.exp(draws[0]) for band, rate in scenario.entries.rate_per_year.items()},
            "trend_percent_per_year": scenario.entries.trend_percent_per_year + 100.0 * draws[1],
        }
    )
    stay = float(np.exp(draws[2]))
    journeys = {band: with_longer_stays(journey, stay) for band, journey in scenario.journeys.items()}
    uasc = scenario.entries.uasc
    if uasc.journeys is not None:
        own = {band: with_longer_stays(journey, stay) for band, journey in uasc.journeys.items()}
        entries = entries.model_copy(update={"uasc": uasc.model_copy(update={"journeys": own})})
    mix = dict(zip(_mix_needs(uncertainty), np.exp(draws[FIRST_MIX_COLUMN:]), strict=True))
    if mix:
        journeys = {band: with_drawn_mix(journey, mix) for band, journey in journeys.items()}
    update: dict[str, object] = {"entries": entries, "journeys": journeys}
    if scenario.prices is not None:
        update["prices"] = scenario.prices.scaled(float(np.exp(draws[3])), 100.0 * draws[4])
    approvals, deregistrations = np.exp(draws[5:FIRST_MIX_COLUMN])
    if approvals != 1.0 or deregistrations != 1.0:
        update["pools"] = {
            name: pool.model_copy(update={"fostering": with_drawn_supply(pool.fostering, approvals, deregistrations)})
            if pool.fostering is not None
            else pool
            for name, pool in scenario.pools.items()
        }
    return scenario.model_copy(update=update)


def parameter_draws(uncertainty: Uncertainty, seed: int, replication: int) -> np.ndarray:
    """A replication's draw, one column per `Uncertainty.parameters()`: log entry factor, trend shift, log stay
    factor, log price factor, inflation shift, log approvals factor, log deregistrations factor, and the log
    factor of each drawn need's share."""
    generator = stream(seed, replication, "parameters")
    normals = generator.standard_normal(5)
    demand = uncertainty.demand.sds() * (_square_root(np.array(uncertainty.demand.correlation)) @ normals[:3])
    prices, supply = uncertainty.prices, uncertainty.supply
    price_draws = [prices.level_sd_log * normals[3], prices.inflation_sd_points / 100 * normals[4]]
    supply_draws = np.array([supply.approvals_sd_log, supply.deregistrations_sd_log]) * generator.standard_normal(2)
    children = np.array([uncertainty.placement_mix.children[need] for need in _mix_needs(uncertainty)], dtype=float)
    mix_draws = np.log(generator.gamma(children) / children)  # empty when no share is drawn
    return np.concatenate([demand, price_draws, supply_draws, mix_draws])


def _square_root(correlation: np.ndarray) -> np.ndarray:
    """A symmetric square root of a correlation matrix (semi-definite ones too, where Cholesky fails)."""
    values, vectors = np.linalg.eigh(correlation)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def with_drawn_mix(journey: Journey, factors: dict[str, float]) -> Journey:
    """The journey with each first need's share times its factor (1 for a need not drawn), renormalised."""
    weighted = {need: share * factors.get(need, 1.0) for need, share in journey.first_need.items()}
    total = sum(weighted.values())
    return journey.model_copy(update={"first_need": {need: weight / total for need, weight in weighted.items()}})


def with_drawn_supply(supply: FosteringSupply, approvals: float, deregistrations: float) -> FosteringSupply:
    """The households' supply with approvals and deregistrations a year times their drawn factors."""
    return supply.model_copy(
        update={
            "approvals_per_year": supply.approvals_per_year * approvals,
            "deregistrations_per_year": supply.deregistrations_per_year * deregistrations,
        }
    )


def with_longer_stays(journey: Journey, factor: float) -> Journey:
    """Every exit route's stay times `factor`, but adoption's, whose timing is national and not fitted."""
    durations = {
        route: distribution if route == "adoption" else distribution.scaled(factor)
        for route, distribution in journey.duration.items()
    }
    return journey.model_copy(update={"duration": durations})
