"""Parameter uncertainty: each replication draws its own entry rate, trend, stay length and prices.

A fitted parameter is known only within an interval, so a band that holds only simulation noise is too
narrow. A scenario's `[uncertainty]` table gives the spread of the fitted parameters. Each replication then
draws one parameter set, from its own named stream `parameters`, and runs with it:

- the entry rate times exp(z1), for every age band of the main stream (not UASC, counted apart);
- the trend of entries plus z2 percentage points;
- every stay (each exit route's duration, but the national adoption timing) times exp(z3);
- every price times exp(z4), and every inflation rate plus z5 points.

(z1, z2, z3) is normal with the given sds and correlation (the history fit's covariance), and z4 and z5 are
independent normals. The draws depend only on the seed and the replication, so two scenarios run with the
same seed and the same `[uncertainty]` see the same parameters: a what-if's paired difference stays sharp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from sim.engine.schema import ScenarioModel, Text
from sim.engine.streams import stream

if TYPE_CHECKING:
    from sim.engine.scenario import Journey, Scenario

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


class Uncertainty(ScenarioModel):
    demand: DemandUncertainty = DemandUncertainty()
    prices: PriceUncertainty = PriceUncertainty()

    @property
    def active(self) -> bool:
        demand, prices = self.demand, self.prices
        return any(
            (
                demand.entry_rate_sd_log,
                demand.trend_sd_points,
                demand.stay_scale_sd_log,
                prices.level_sd_log,
                prices.inflation_sd_points,
            )
        )


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
    update: dict[str, object] = {"entries": entries, "journeys": journeys}
    if scenario.prices is not None:
        update["prices"] = scenario.prices.scaled(float(np.exp(draws[3])), 100.0 * draws[4])
    return scenario.model_copy(update=update)


def parameter_draws(uncertainty: Uncertainty, seed: int, replication: int) -> np.ndarray:
    """(log entry factor, trend shift, log stay factor, log price factor, inflation shift) for a replication."""
    generator = stream(seed, replication, "parameters")
    normals = generator.standard_normal(5)
    demand = uncertainty.demand.sds() * (_square_root(np.array(uncertainty.demand.correlation)) @ normals[:3])
    prices = uncertainty.prices
    return np.concatenate([demand, [prices.level_sd_log * normals[3], prices.inflation_sd_points / 100 * normals[4]]])


def _square_root(correlation: np.ndarray) -> np.ndarray:
    """A symmetric square root of a correlation matrix (semi-definite ones too, where Cholesky fails)."""
    values, vectors = np.linalg.eigh(correlation)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def with_longer_stays(journey: Journey, factor: float) -> Journey:
    """Every exit route's stay times `factor`, but adoption's, whose timing is national and not fitted."""
    durations = {
        route: distribution if route == "adoption" else distribution.scaled(factor)
        for route, distribution in journey.duration.items()
    }
    return journey.model_copy(update={"duration": durations})
