"""Entries, their trend and the length of stays, fitted to an authority's whole dated history of figures.

A single snapshot cannot tell a growing authority from one in a steady state. With only the stock on the
as-of date, the old fit had to assume entries x mean stay = stock (Little's law), so every baseline forecast
a flat line. Here every dated figure up to the as-of date enters one fit: children in care on each published
date, admissions and discharges over each published period. Three parameters are fitted:

- the entry rate (children a year) on the origin, the earliest published snapshot;
- its trend (fraction a year);
- a scale on the national stay shapes (every exit route but adoption, whose timing is national).

The model of the figures is the expected-value projection (`sim.analysis.projection`) of a scenario that
starts from the published stock on the origin. So the fit and the simulation agree on what a set of
parameters means, including the 18th birthday and the elapsed time of the children already in care.
Admissions are the integral of the entry rate. Discharges are admissions less the change in the stock.

The fit is a penalised weighted least squares: each figure's error has variance value + (2% of value)^2
(counting noise, plus recording and definition differences between documents), and each parameter has a
Gaussian prior that fills in what the figures leave open. Its curvature at the optimum (the Laplace
approximation of the posterior) gives the parameters' covariance.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from sim.analysis.projection import expected_stock
from sim.engine.parameters import with_longer_stays
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import DAYS_PER_YEAR

Kind = Literal["stock", "admissions", "discharges"]
RECORDING_CV = 0.02  # assumption: published counts differ by about 1-2% between documents (Stockport 331/333)
PARAMETERS = ("log_entries", "trend", "log_stay_scale")
DIFF_STEP = 0.01  # relative step of the numerical derivatives


@dataclass(frozen=True)
class Dated:
    """One published figure: children in care on `date`, or children who entered or left from `start` to `date`."""

    kind: Kind
    date: dt.date
    value: float
    source: str
    start: dt.date | None = None  # the first day counted, for admissions and discharges


@dataclass(frozen=True)
class Prior:
    """A Gaussian prior on one fitted parameter (on the log scale for the entry rate and stay scale)."""

    mean: float
    sd: float
    source: str


@dataclass(frozen=True)
class HistoryPriors:
    log_entries: Prior
    trend: Prior
    log_stay_scale: Prior

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        priors = (self.log_entries, self.trend, self.log_stay_scale)
        return np.array([p.mean for p in priors]), np.array([p.sd for p in priors])


@dataclass(frozen=True)
class HistoryFit:
    """The fitted parameters, their covariance, and each figure with the value the fit gives it."""

    origin: dt.date
    estimate: np.ndarray  # log entries a year on the origin, trend a year, log stay scale
    covariance: np.ndarray
    figures: tuple[Dated, ...]  # the figures used
    fitted: tuple[float, ...]  # the model's value of each
    left_out: tuple[str, ...]  # figures not used, and why
    priors: HistoryPriors

    @property
    def trend(self) -> float:
        return float(self.estimate[1])

    @property
    def stay_scale(self) -> float:
        return math.exp(self.estimate[2])

    def entries_per_year(self, day: dt.date) -> float:
        """The fitted entry rate on `day`, the origin's rate compounded by the trend."""
        years = (day - self.origin).days / DAYS_PER_YEAR
        return math.exp(self.estimate[0]) * (1.0 + self.trend) ** years

    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))


class HistoryModel:
    """The figures a parameter set implies: the projection of the origin scenario with those parameters.

    `origin_scenario` starts on the origin from the published stock. Its entry rates sum to
    `origin_entries` a year and its stays are the national shapes times `origin_scale`. Each evaluation scales
    both, and the elapsed time in care of the starting children, to the parameters tried.
    """

    def __init__(self, origin_scenario: Scenario, origin_entries: float, origin_scale: float) -> None:
        self.base = origin_scenario
        self.origin = origin_scenario.horizon.start
        self.origin_entries = origin_entries
        self.origin_scale = origin_scale

    def scenario(self, theta: np.ndarray, last: dt.date) -> Scenario:
        """The origin scenario with the parameters `theta`, long enough to reach `last`."""
        entries_factor = math.exp(theta[0]) / self.origin_entries
        stay_factor = math.exp(theta[2]) / self.origin_scale
        base = self.base
        entries = base.entries.model_copy(
            update={
                "rate_per_year": {band: rate * entries_factor for band, rate in base.entries.rate_per_year.items()},
                "trend_percent_per_year": 100.0 * float(theta[1]),
            }
        )
        journeys = {band: with_longer_stays(journey, stay_factor) for band, journey in base.journeys.items()}
        groups = [
            group.model_copy(update={"days_in_care": group.days_in_care * stay_factor})
            for group in base.start_population.groups
        ]
        years = max(1, math.ceil((last - self.origin).days / DAYS_PER_YEAR) + 1)
        return base.model_copy(
            update={
                "entries": entries,
                "journeys": journeys,
                "start_population": base.start_population.model_copy(update={"groups": groups}),
                "horizon": base.horizon.model_copy(update={"years": years}),
            }
        )

    def values(self, theta: np.ndarray, figures: tuple[Dated, ...]) -> np.ndarray:
        """The model's value of each figure (stocks at 00:00 on the day after their date)."""
        days = sorted({d for f in figures for d in _stock_days(f)})
        last = max([*days, *(f.date for f in figures)])
        stock: dict[dt.date, float] = {}
        if days:
            frame = expected_stock(self.scenario(theta, last), days)
            totals = frame["children"].to_numpy().reshape(len(days), -1).sum(axis=1)  # rows: date, then need
            stock = dict(zip(days, totals.tolist(), strict=True))
        entries = math.exp(theta[0])
        values = []
        for figure in figures:
            if figure.kind == "stock":
                values.append(stock[figure.date + dt.timedelta(days=1)])
                continue
            assert figure.start is not None
            admitted = self._entered(entries, float(theta[1]), figure.start, figure.date + dt.timedelta(days=1))
            if figure.kind == "admissions":
                values.append(admitted)
            else:
                change = stock[figure.date + dt.timedelta(days=1)] - stock[figure.start]
                values.append(admitted - change)
        return np.array(values)

    def _entered(self, entries: float, trend: float, start: dt.date, end: dt.date) -> float:
        """Expected entrants from 00:00 on `start` to 00:00 on `end` (the UASC stream as in the scenario)."""
        low = (start - self.origin).days / DAYS_PER_YEAR
        high = (end - self.origin).days / DAYS_PER_YEAR
        growth = math.log1p(trend)
        if abs(growth) < 1e-9:
            main = entries * (high - low)
        else:
            main = entries * (math.exp(growth * high) - math.exp(growth * low)) / growth
        return main + self.base.entries.uasc.rate_per_year * (high - low)


def fit_history(
    model: HistoryModel, figures: list[Dated], priors: HistoryPriors, recording_cv: float = RECORDING_CV
) -> HistoryFit:
    """The penalised weighted least-squares fit of the parameters to the figures, with its covariance.

    `recording_cv` is the error of a published figure beyond counting noise, as a share of it."""
    used, left_out = _usable(figures, model.origin)
    prior_mean, prior_sd = priors.as_arrays()
    observed = np.array([f.value for f in used])
    sigma = np.sqrt(np.maximum(observed, 1.0) + (recording_cv * observed) ** 2)

    def residuals(theta: np.ndarray) -> np.ndarray:
        data = (model.values(theta, used) - observed) / sigma if used else np.zeros(0)
        return np.concatenate([data, (theta - prior_mean) / prior_sd])

    bounds = ([prior_mean[0] - 5, -0.5, math.log(0.05)], [prior_mean[0] + 5, 0.5, math.log(20.0)])
    start = np.clip(prior_mean, np.array(bounds[0]) + 1e-6, np.array(bounds[1]) - 1e-6)
    # Steps of 1% on each parameter: the projection integrates on a half-day grid, so much smaller steps
    # measure its round-off rather than its slope.
    result = optimize.least_squares(residuals, start, bounds=bounds, x_scale=prior_sd, diff_step=DIFF_STEP)
    if not result.success:
        raise ValueError(f"the fit to the published history did not converge: {result.message}")
    jacobian = _central_jacobian(residuals, result.x, DIFF_STEP * np.maximum(np.abs(result.x), 1.0))
    covariance = np.linalg.inv(jacobian.T @ jacobian)
    return HistoryFit(
        origin=model.origin,
        estimate=result.x,
        covariance=covariance,
        figures=tuple(used),
        fitted=tuple(float(v) for v in (model.values(result.x, used) if used else [])),
        left_out=tuple(left_out),
        priors=priors,
    )


def _central_jacobian(residuals, theta: np.ndarray, steps: np.ndarray) -> np.ndarray:
    columns = []
    for index, step in enumerate(steps):
        shift = np.zeros_like(theta)
        shift[index] = step
        columns.append((residuals(theta + shift) - residuals(theta - shift)) / (2 * step))
    return np.column_stack(columns)


def _usable(figures: list[Dated], origin: dt.date) -> tuple[tuple[Dated, ...], list[str]]:
    """The figures the projection from `origin` can give; the rest, each with the reason it is left out."""
    used, left_out = [], []
    for figure in figures:
        if figure.kind == "stock" and figure.date < origin:
            left_out.append(f"{figure.source}: children in care on {figure.date}, before the origin {origin}")
        elif figure.kind == "discharges" and figure.start is not None and figure.start < origin:
            left_out.append(f"{figure.source}: discharges from {figure.start}, before the origin {origin}")
        else:
            used.append(figure)
    return tuple(used), left_out


def _stock_days(figure: Dated) -> list[dt.date]:
    if figure.kind == "stock":
        return [figure.date + dt.timedelta(days=1)]
    if figure.kind == "discharges":
        assert figure.start is not None
        return [figure.start, figure.date + dt.timedelta(days=1)]
    return []
