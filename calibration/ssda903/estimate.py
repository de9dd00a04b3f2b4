"""Estimating scenario parameters from cleaned SSDA903 care histories.

Everything is read from one reference period (`Reference`: by default the three years before the as-of date),
and nothing after its end, which is at most the as-of date, the simulation's start.

- Entries: periods of care starting in the reference period, by age band at entry, category of need and UASC
  status; a log-linear Poisson trend of the entries in each year of the period, with its 95% interval. The
  scenario's rates are that fitted line's level on the as-of date (see `EntryEstimate`).
- Durations: for each age band at entry, a competing-risks mixture: the exit route is drawn first
  (shares), then the stay on that route (a parametric family). Periods still open are right-censored, and
  every stay is cut at the 18th birthday, exactly as in the simulator, so a period ending at 18 may belong
  to any route whose stay would have lasted longer. Fitted by EM, each M step by L-BFGS-B on the closed-form
  log-likelihood and its gradient; the family for each route (lognormal, gamma, Weibull, exponential) is
  chosen by AIC. Kaplan-Meier curves are kept for the report.
- First placement needs and in-house shares from the episodes; moves between needs in
  calibration.ssda903.moves.
- The starting population: children in care on the as-of date by age band, need and pool.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError
from scipy import optimize, special, stats

from calibration.ssda903.reader import CareHistory
from sim.engine.distributions import Distribution
from sim.engine.schema import MAX_DAYS
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, age_band_index

ROUTES = ("return_home", "adoption", "sgo_cao", "other")  # routes with a stay distribution; age_18 has none
FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
EM_ITERATIONS = 15
MIN_PERIODS = 30  # a band with fewer periods uses the fit of all bands together
MIN_EVENTS = 5  # a route with fewer exits in a band borrows the all-band fit
SCENARIO_DISTRIBUTION = TypeAdapter(Distribution)
GAMMA_SHAPE_STEP = 1e-6  # relative step of the central difference of the incomplete gamma function in its shape


@dataclass(frozen=True)
class Reference:
    """The reference period [start, end) the fit reads, and the as-of date the scenario starts on (end <= as_of)."""

    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    window_years: int | None = None  # when the period is that many calendar years before its end

    @classmethod
    def before(cls, as_of: dt.date, window_years: int) -> Reference:
        """The `window_years` calendar years before the as-of date."""
        end = pd.Timestamp(as_of)
        return cls(end - pd.DateOffset(years=window_years), end, end, window_years)

    @property
    def years(self) -> float:
        return (self.end - self.start).days / DAYS_PER_YEAR

    @property
    def label(self) -> str:
        if self.window_years is not None:
            return f"the {self.window_years} years before {self.end.date()}"
        last_day = (self.end - pd.Timedelta(days=1)).date()
        return f"the reference period {self.start.date()} to {last_day}, both days in"

    def holds(self, dates: pd.Series) -> pd.Series:
        return (dates >= self.start) & (dates < self.end)


@dataclass(frozen=True)
class PoissonTrend:
    """Log-linear Poisson model of the entries in equal bins of about a year covering the reference period:
    E[count_j] = exp(log_count + slope * m_j), m_j the bin's midpoint in years after the reference end (< 0)."""

    log_count: float
    slope: float  # per year
    covariance: np.ndarray  # of (log_count, slope)
    bin_years: float
    midpoints: np.ndarray

    @property
    def fitted_counts(self) -> np.ndarray:
        return np.exp(self.log_count + self.slope * self.midpoints)

    def rate_at(self, years: float) -> float:
        """Entries a year at the instant `years` after the reference end (the as-of date, 0 when the period ends
        on it, as by default).

        Why not a bin's mean: a bin's count is the integral of the rate r(t) = r0 exp(slope t) over the bin, so
        the fitted line at a midpoint is a mean over that year, and the scenario's rate_per_year is the
        instantaneous rate on its start date, from which its trend compounds. Dividing by the bin's integral
        exp(slope m) w sinh(slope w / 2) / (slope w / 2) gives r at any instant, here extrapolated half a bin
        past the last midpoint when the period ends on the as-of date.
        """
        half = self.slope * self.bin_years / 2
        integral = self.bin_years * (math.sinh(half) / half if half else 1.0)
        return math.exp(self.log_count + self.slope * years) / integral

    def log_rate_sd(self, years: float) -> float:
        gradient = np.array([1.0, years])
        return float(math.sqrt(max(gradient @ self.covariance @ gradient, 0.0)))

    @property
    def percent(self) -> tuple[float, float, float]:
        """Yearly growth (%) and its 95% Wald interval, compounding as the scenario's trend does."""
        se = math.sqrt(max(self.covariance[1, 1], 0.0))
        to_percent = lambda b: 100 * (math.exp(b) - 1)  # noqa: E731
        return to_percent(self.slope), to_percent(self.slope - 1.96 * se), to_percent(self.slope + 1.96 * se)


@dataclass
class EntryEstimate:
    years: list[int]  # calendar year in which each bin (about 12 months) of the reference period starts
    counts: list[int]
    fitted_counts: list[float]
    rate_by_band: dict[str, float]  # main stream, per year on the as-of date
    window_rate: float  # all entrants (UASC too) a year, mean over the reference period
    rate_at_start: float  # all entrants a year on the as-of date: the fitted line there
    rate_log_sd: float  # sd of the log of rate_at_start
    cin_mix: dict[str, float]
    uasc_rate: float  # per year on the as-of date
    uasc_age_mix: dict[str, float]
    male_share: float
    trend_percent: float
    trend_ci: tuple[float, float]


# ---------------------------------------------------------------------------------------------
# Entries


def estimate_entries(history: CareHistory, reference: Reference) -> EntryEstimate:
    """Entries by band, need and UASC status; the rates are shares of the reference period's entrants times
    the fitted line's level on the as-of date, so bands and UASC add up to that level."""
    periods = with_children(history)
    entering = periods[reference.holds(periods["start"])]
    if entering.empty:
        raise ValueError(
            f"no periods of care start in {reference.label}; expected --as-of and the reference period to take in "
            "some of the returns' years"
        )
    bins = max(1, round(reference.years))
    bin_days = (reference.end - reference.start).days / bins
    index = ((entering["start"] - reference.start).dt.days // bin_days).clip(upper=bins - 1).astype(int)
    counts = np.bincount(index, minlength=bins)
    trend = poisson_trend(counts, bin_days / DAYS_PER_YEAR)
    after_end = (reference.as_of - reference.end).days / DAYS_PER_YEAR
    level = trend.rate_at(after_end)
    uasc = entering["uasc"].astype(bool)
    main, asylum = entering[~uasc], entering[uasc]
    per_entrant = level / len(entering)
    growth, low, high = trend.percent
    return EntryEstimate(
        years=[(reference.start + pd.Timedelta(days=k * bin_days)).year for k in range(bins)],
        counts=[int(c) for c in counts],
        fitted_counts=[float(c) for c in trend.fitted_counts],
        rate_by_band={b: float((main["entry_band"] == b).sum()) * per_entrant for b in AGE_BANDS},
        window_rate=len(entering) / reference.years,
        rate_at_start=level,
        rate_log_sd=trend.log_rate_sd(after_end),
        cin_mix={code: float(share) for code, share in _cin_mix(main, entering, reference).sort_index().items()},
        uasc_rate=len(asylum) * per_entrant,
        uasc_age_mix=_shares(asylum["entry_band"]) if len(asylum) else {"16-17": 1.0},
        male_share=float((entering["sex"] == "male").mean()),
        trend_percent=growth,
        trend_ci=(low, high),
    )


def without_trend(entries: EntryEstimate) -> EntryEstimate:
    """The entries a fit with no trend gives: the reference period's mean rate (the Poisson estimate of a
    constant rate), the bands' and UASC's shares unchanged, trend 0. How a peer without a trend counts."""
    scale = entries.window_rate / entries.rate_at_start
    return replace(
        entries,
        rate_by_band={band: rate * scale for band, rate in entries.rate_by_band.items()},
        uasc_rate=entries.uasc_rate * scale,
        rate_at_start=entries.window_rate,
        fitted_counts=[float(np.mean(entries.counts))] * len(entries.counts),
        trend_percent=0.0,
        trend_ci=(0.0, 0.0),
    )


def _cin_mix(main: pd.DataFrame, entering: pd.DataFrame, reference: Reference) -> pd.Series:
    """Shares of each category of need among entrants whose CIN is known (the reader blanks unknown codes and
    counts them); the UASC entrants' when no other entrant has one, since a scenario needs some mix."""
    for rows in (main, entering):
        known = rows["cin"][rows["cin"] != ""]
        if len(known):
            return known.value_counts(normalize=True)
    raise ValueError(
        f"no child entering care in {reference.label} has a known CIN (category of need); "
        "expected CIN codes N1 to N8 on the first episode of some periods of care"
    )


def poisson_trend(counts: np.ndarray, bin_years: float) -> PoissonTrend:
    """Newton-Raphson maximum likelihood of the log-linear Poisson model; flat with one bin."""
    bins = len(counts)
    midpoints = (np.arange(bins, dtype=float) - bins + 0.5) * bin_years
    total = max(float(counts.sum()), 1e-9)
    if bins < 2 or counts.sum() == 0:
        return PoissonTrend(math.log(total / bins), 0.0, np.diag([1 / total, 0.0]), bin_years, midpoints)
    beta = np.array([math.log(total / bins), 0.0])
    design = np.column_stack([np.ones(bins), midpoints])
    for _ in range(50):
        mu = np.exp(design @ beta)
        information = design.T @ (mu[:, None] * design)
        step = np.linalg.solve(information, design.T @ (counts - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    mu = np.exp(design @ beta)
    covariance = np.linalg.inv(design.T @ (mu[:, None] * design))
    return PoissonTrend(float(beta[0]), float(beta[1]), covariance, bin_years, midpoints)


# ---------------------------------------------------------------------------------------------
# Durations


@dataclass(frozen=True)
class DurationFit:
    family: str
    params: dict[str, float]  # scenario keys: mean/sd (lognormal, gamma), scale/shape (weibull), mean (exponential)
    aic: float
    events: float  # expected number of exits on this route (EM weights)
    theta: tuple[float, ...] = ()  # the fit's own log parameters (see `_log_densities`)

    def frozen(self):
        return _frozen(self.family, self.params)

    @property
    def median_days(self) -> float:
        return float(self.frozen().median())


@dataclass
class BandDurations:
    band: str
    route_shares: dict[str, float]  # including age_18
    fits: dict[str, DurationFit]
    periods: int
    censored: int
    km_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    km_survival: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class _Stays:
    """The periods of one band as the EM sees them: days observed, the route (blank while open), the days to the
    18th birthday, and which periods ended at 18 or are censored."""

    days: np.ndarray
    route: np.ndarray
    to_18: np.ndarray
    at_18: np.ndarray
    censored: np.ndarray

    @classmethod
    def of(cls, periods: pd.DataFrame) -> _Stays:
        days, route, to_18 = (
            periods[c].to_numpy(dtype=float if c != "route" else object) for c in ("days", "route", "to_18")
        )
        at_18 = (route == "age_18") | ((route != "") & (days >= to_18 - 1))
        return cls(days, route, to_18, at_18, route == "")

    @property
    def with_logs(self) -> tuple[np.ndarray, np.ndarray]:
        """Days observed, then days to 18, and their logs: the points where the E step needs a survival."""
        both = np.concatenate([self.days, self.to_18])
        return both, np.log(both)

    def exits(self, r: str) -> np.ndarray:
        return (self.route == r) & ~self.at_18

    @property
    def tail_days(self) -> np.ndarray:
        """Days survived by the periods that did not exit: to the 18th birthday, or to the censoring date."""
        return np.where(self.at_18, self.to_18, self.days)


# EM's first stay on every route: a lognormal of mean 365 and sd 500 days
DEFAULT_SIGMA = math.sqrt(math.log(1 + (500 / 365) ** 2))
DEFAULT_START = (math.log(365.0) - DEFAULT_SIGMA**2 / 2, math.log(DEFAULT_SIGMA))


def estimate_durations(
    history: CareHistory, reference: Reference, analytic_gradient: bool = True
) -> dict[str, BandDurations]:
    """Competing-risks mixture of exit routes and stays for periods starting in the reference period, censored
    at its end. `analytic_gradient=False` gives L-BFGS-B scipy's finite differences instead (the benchmark's
    before)."""
    periods = _observed_at(history, reference)
    if not (periods["route"] != "").any():
        raise ValueError(
            f"none of the {len(periods)} periods of care starting in {reference.label} had "
            "ended by its end, so stays cannot be fitted; expected a longer reference period or a later end"
        )
    pooled = _fit_band(periods, "all", None, analytic_gradient)
    fits = {}
    for band in AGE_BANDS:
        rows = periods[periods["entry_band"] == band]
        fits[band] = (
            _fit_band(rows, band, pooled, analytic_gradient)
            if len(rows) >= MIN_PERIODS
            else _borrowed(pooled, band, rows)
        )
    return fits


def _borrowed(pooled: BandDurations, band: str, rows: pd.DataFrame) -> BandDurations:
    """Too few periods in a band: the all-band routes and stays, with the band's own Kaplan-Meier for the report."""
    time, survival = kaplan_meier(rows["days"].to_numpy(), rows["route"].to_numpy() != "")
    return BandDurations(
        band, dict(pooled.route_shares), dict(pooled.fits), len(rows), int((rows["route"] == "").sum()), time, survival
    )


def _observed_at(history: CareHistory, reference: Reference) -> pd.DataFrame:
    """Periods starting in the reference period, with what was known at its end (later ends are censored)."""
    periods = with_children(history)
    cut = reference.end
    periods = periods[reference.holds(periods["start"])].copy()
    ended = periods["end"].notna() & (periods["end"] <= cut) & ~periods["censored"]
    # Censored periods are followed until their own end (an X1 with nothing after) or the reference end.
    censor_at = periods["end"].where(periods["end"].notna() & (periods["end"] <= cut), cut)
    end = periods["end"].where(ended, censor_at)
    periods["days"] = (end - periods["start"]).dt.days.astype(float).clip(lower=0.5)
    periods["route"] = np.where(ended, periods["exit_route"], "")
    periods["to_18"] = periods["age_at_entry_days"].rsub(18 * DAYS_PER_YEAR).clip(lower=1.0)
    return periods


def _fit_band(periods: pd.DataFrame, band: str, pooled: BandDurations | None, analytic: bool) -> BandDurations:
    stays = _Stays.of(periods)
    shares = {r: max(float(np.mean(stays.route == r)), 0.01) for r in (*ROUTES, "age_18")}
    total = sum(shares.values())
    shares = {r: s / total for r, s in shares.items()}
    fits = {r: (pooled.fits[r] if pooled else _fit_of("lognormal", np.array(DEFAULT_START), 0, 0)) for r in ROUTES}
    for _ in range(EM_ITERATIONS):
        weights = _responsibilities(shares, fits, stays)
        shares = {r: float(weights[r].mean()) for r in weights}
        fits = {r: _fit_route(r, weights[r], stays, fits[r], pooled, "lognormal", analytic) for r in ROUTES}
    weights = _responsibilities(shares, fits, stays)
    fits = {r: _best_family(r, weights[r], stays, fits[r], pooled, analytic) for r in ROUTES}
    seen = {r for r in ROUTES if np.any(stays.route == r)} | ({"age_18"} if stays.at_18.any() else set())
    if seen:  # a route nobody left by is not a route: drop the small share EM keeps for it
        kept = sum(shares[r] for r in seen)
        shares = {r: (shares[r] / kept if r in seen else 0.0) for r in shares}
    time, survival = kaplan_meier(stays.days, ~stays.censored)
    return BandDurations(band, shares, fits, len(periods), int(stays.censored.sum()), time, survival)


def _responsibilities(shares: dict[str, float], fits: dict[str, DurationFit], stays: _Stays) -> dict[str, np.ndarray]:
    """Probability that each period is on each route, given what was observed."""
    weights = {"age_18": shares["age_18"] * np.where(stays.censored | stays.at_18, 1.0, 0.0)}
    points = stays.with_logs
    n = len(stays.days)
    for r in ROUTES:
        fit = fits[r]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            log_pdf, log_sf = _log_densities(fit.family, np.array(fit.theta), (points[0][:n], points[1][:n]), points)
        likelihood = np.where(
            stays.censored,
            np.exp(log_sf[:n]),
            np.where(stays.at_18, np.exp(log_sf[n:]), np.where(stays.route == r, np.exp(log_pdf), 0.0)),
        )
        weights[r] = shares[r] * likelihood
    total = sum(weights.values())
    total = np.where(total > 0, total, 1.0)
    return {r: w / total for r, w in weights.items()}


def _fit_route(
    r: str,
    weight: np.ndarray,
    stays: _Stays,
    previous: DurationFit,
    pooled: BandDurations | None,
    family: str,
    analytic: bool,
) -> DurationFit:
    """Weighted maximum likelihood of one route's stay: exits weigh in by their density, the periods still in
    care (censored, or cut at 18) by their survival."""
    observed = stays.exits(r)
    exits = weight[observed].sum()
    if exits < MIN_EVENTS and pooled is not None:
        return pooled.fits[r]
    tail = stays.censored | stays.at_18
    exit_stays = (stays.days[observed], np.log(stays.days[observed]))
    survived_stays = (stays.tail_days[tail], np.log(stays.tail_days[tail]))
    exit_weight, survived_weight = weight[observed], weight[tail]

    def negative_log_likelihood(theta: np.ndarray):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            log_pdf, log_sf, *gradients = _log_densities(family, theta, exit_stays, survived_stays, analytic)
            # Products and sums, not matrix products: BLAS would wake its threads for every evaluation, and
            # on two shared cores their spinning costs more than the arithmetic.
            value = -(exit_weight * log_pdf).sum() - (survived_weight * log_sf).sum()
            if not analytic:
                return float(value) if np.isfinite(value) else 1e300
            gradient = -(gradients[0] * exit_weight).sum(axis=1) - (gradients[1] * survived_weight).sum(axis=1)
        if not (np.isfinite(value) and np.isfinite(gradient).all()):
            return 1e300, np.zeros_like(theta)
        return float(value), gradient

    bounds = [(math.log(0.5), math.log(MAX_DAYS)), (-5.0, 5.0)][: 1 if family == "exponential" else 2]
    start = np.clip(_start_theta(family, previous), [b[0] for b in bounds], [b[1] for b in bounds])
    result = optimize.minimize(negative_log_likelihood, start, jac=analytic or None, method="L-BFGS-B", bounds=bounds)
    return _fit_of(family, result.x, 2 * result.fun + 2 * len(start), float(exits))


def _best_family(
    r: str, weight: np.ndarray, stays: _Stays, previous: DurationFit, pooled: BandDurations | None, analytic: bool
) -> DurationFit:
    if weight[stays.exits(r)].sum() < MIN_EVENTS and pooled is not None:
        return pooled.fits[r]
    candidates = [_fit_route(r, weight, stays, previous, None, f, analytic) for f in FAMILIES]
    valid = [fit for fit in candidates if _in_schema(fit)] or candidates[-1:]
    return min(valid, key=lambda fit: fit.aic)


def _in_schema(fit: DurationFit) -> bool:
    """Whether a scenario can hold the fit. Why: a route with few exits and many open periods can be fitted
    best by a stay of mostly centuries (a lognormal with a huge sd); the scenario refuses those, and since every
    stay is cut at 18, the best fit it accepts says nearly the same. The exponential, bounded by the schema's
    longest stay, always fits."""
    try:
        SCENARIO_DISTRIBUTION.validate_python({"distribution": fit.family, **fit.params})
    except ValidationError:
        return False
    return True


def _start_theta(family: str, previous: DurationFit) -> np.ndarray:
    """(log mean of the previous fit, 0) whatever the family: every M step starts afresh from the previous
    route's mean, which keeps EM away from the degenerate stays (most of the mass beyond a century) that a warm
    start can drift into when a route has few exits and many open periods."""
    log_mean = math.log(max(_mean_days(previous.family, np.array(previous.theta)), 1.0))
    return np.array([log_mean] if family == "exponential" else [log_mean, 0.0])


def _fit_of(family: str, theta: np.ndarray, aic: float, events: float) -> DurationFit:
    return DurationFit(family, _params(family, theta), aic, events, tuple(float(t) for t in theta))


def _log_densities(
    family: str,
    theta: np.ndarray,
    exits: tuple[np.ndarray, np.ndarray],
    survived: tuple[np.ndarray, np.ndarray],
    gradient: bool = False,
) -> tuple[np.ndarray, ...]:
    """Log density at the exit stays and log survival past the survived ones (each given as days and log days),
    in closed form, and with `gradient` their derivatives in theta (arrays of len(theta) rows).

    The values are scipy.stats' for `_scipy_family(family, theta)`, without the checks its generic methods make
    on each of the thousands of calls an EM fit makes; the gradients spare L-BFGS-B its finite differences
    (one or two more evaluations per step). theta is (log mean) for the exponential, (log median, log sigma)
    for the lognormal, (log mean, log shape) for the gamma and (log scale, log shape) for the Weibull.
    """
    (days, log_days), (tail, log_tail) = exits, survived
    if family == "exponential":
        mean = math.exp(theta[0])
        values = (-theta[0] - days / mean, -tail / mean)
        return (*values, (days / mean - 1)[None, :], (tail / mean)[None, :]) if gradient else values
    return _TWO_PARAMETER[family](theta[0], math.exp(theta[1]), theta[1], days, log_days, tail, log_tail, gradient)


def _lognormal(mu, sigma, log_sigma, days, log_days, tail, log_tail, gradient):
    z = (log_days - mu) / sigma
    log_pdf = -log_days - log_sigma - 0.5 * math.log(2 * math.pi) - 0.5 * z * z
    w = (mu - log_tail) / sigma
    log_sf = special.log_ndtr(w)
    if not gradient:
        return log_pdf, log_sf
    mills = np.exp(-0.5 * w * w - 0.5 * math.log(2 * math.pi) - log_sf)  # density over survival of N(0, 1) at w
    return log_pdf, log_sf, np.vstack([z / sigma, z * z - 1]), np.vstack([mills / sigma, -mills * w])


def _gamma(log_mean, shape, log_shape, days, log_days, tail, log_tail, gradient):
    """Shape `shape`, scale mean / shape."""
    log_scale = log_mean - log_shape
    scale = math.exp(log_scale)
    log_pdf = (shape - 1) * log_days - days / scale - special.gammaln(shape) - shape * log_scale
    x = tail / scale
    upper = special.gammaincc(shape, x)
    log_sf = np.log(upper)
    if not gradient:
        return log_pdf, log_sf
    d_log_scale = days / scale - shape
    # d log Q(a, x) / d log x is minus x's gamma density times x over Q; d / da by a central difference, as
    # scipy has no derivative of the incomplete gamma function in its shape.
    hazard_x = np.exp(shape * np.log(x) - x - special.gammaln(shape) - log_sf)
    step = GAMMA_SHAPE_STEP * shape
    d_shape = (special.gammaincc(shape + step, x) - special.gammaincc(shape - step, x)) / (2 * step * upper)
    d_log_pdf = np.vstack([d_log_scale, shape * (log_days - special.digamma(shape) - log_scale) - d_log_scale])
    return log_pdf, log_sf, d_log_pdf, np.vstack([hazard_x, shape * d_shape - hazard_x])


def _weibull(log_scale, shape, log_shape, days, log_days, tail, log_tail, gradient):
    """Shape `shape`, scale exp(log_scale)."""
    scaled = log_days - log_scale
    power = np.exp(shape * scaled)
    log_pdf = log_shape - log_scale + (shape - 1) * scaled - power
    tail_scaled = log_tail - log_scale
    tail_power = np.exp(shape * tail_scaled)
    if not gradient:
        return log_pdf, -tail_power
    d_log_pdf = np.vstack([shape * (power - 1), 1 + shape * scaled * (1 - power)])
    return log_pdf, -tail_power, d_log_pdf, np.vstack([shape * tail_power, -shape * tail_scaled * tail_power])


_TWO_PARAMETER = {"lognormal": _lognormal, "gamma": _gamma, "weibull": _weibull}


def _scipy_family(family: str, theta: np.ndarray) -> tuple[Any, dict[str, float]]:
    """The scipy family and its parameters for theta (tests check `_log_densities` against it)."""
    if family == "exponential":
        return stats.expon, {"scale": math.exp(theta[0])}
    location, spread = math.exp(theta[0]), math.exp(theta[1])
    if family == "lognormal":
        return stats.lognorm, {"s": spread, "scale": location}
    if family == "gamma":
        return stats.gamma, {"a": spread, "scale": location / spread}
    return stats.weibull_min, {"c": spread, "scale": location}


def _mean_days(family: str, theta: np.ndarray) -> float:
    if family == "lognormal":
        return math.exp(theta[0] + math.exp(2 * theta[1]) / 2)
    if family == "weibull":
        return math.exp(theta[0] + special.gammaln(1 + math.exp(-theta[1])))
    return math.exp(theta[0])  # exponential and gamma: theta[0] is the log mean


def _params(family: str, theta: np.ndarray) -> dict[str, float]:
    """Scenario parameters of theta, in closed form (scipy's mean and std, without freezing a distribution)."""
    if family == "exponential":
        return {"mean": round(math.exp(theta[0]), 3)}
    if family == "weibull":
        return {"shape": round(math.exp(theta[1]), 5), "scale": round(math.exp(theta[0]), 3)}
    mean = _mean_days(family, theta)
    if family == "gamma":
        return {"mean": round(mean, 3), "sd": round(mean * math.exp(-theta[1] / 2), 3)}
    return {"mean": round(mean, 3), "sd": round(mean * math.sqrt(math.expm1(math.exp(2 * theta[1]))), 3)}


def _frozen(family: str, params: dict[str, float]):
    if family == "exponential":
        return stats.expon(scale=params["mean"])
    if family == "weibull":
        return stats.weibull_min(c=params["shape"], scale=params["scale"])
    mean, sd = params["mean"], params["sd"]
    if family == "gamma":
        shape = (mean / sd) ** 2
        return stats.gamma(a=shape, scale=mean / shape)
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(mean) - sigma2 / 2))


def kaplan_meier(days: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit estimate of staying in care beyond each event time."""
    order = np.argsort(days, kind="stable")
    days, event = days[order], event[order]
    times = np.unique(days[event])
    at_risk = len(days) - np.searchsorted(days, times, side="left")
    deaths = (
        np.array([np.sum((days == t) & event) for t in times])
        if len(times) < 5000
        else np.bincount(np.searchsorted(times, days[event]), minlength=len(times))
    )
    survival = np.cumprod(1 - deaths / at_risk)
    return np.concatenate([[0.0], times]), np.concatenate([[1.0], survival])


# ---------------------------------------------------------------------------------------------
# First needs, provision and the starting population


def first_needs(history: CareHistory, reference: Reference) -> dict[str, dict[str, float]]:
    """Share of each placement need in the first placement of periods starting in the reference period, by band."""
    first = _first_episodes(history, reference)
    overall = _shares(first["need"])
    shares = {}
    for band in AGE_BANDS:
        rows = first[first["entry_band"] == band]
        shares[band] = _shares(rows["need"]) if len(rows) >= 10 else overall
    return shares


def stock_on(history: CareHistory, day: dt.date) -> pd.DataFrame:
    """Children in care at 00:00 on `day`: age band, need, in-house, days in care."""
    at = pd.Timestamp(day)
    episodes = history.episodes
    open_ = episodes[(episodes["start"] <= at) & (episodes["end"].isna() | (episodes["end"] > at))]
    children = history.children.set_index("child")
    periods = history.periods.set_index("period")
    ages = (at - pd.DatetimeIndex(children.loc[open_["child"], "dob"])).days / DAYS_PER_YEAR
    elapsed = (at - pd.DatetimeIndex(periods.loc[open_["period"], "start"])).days
    return pd.DataFrame(
        {
            "age_band": [AGE_BANDS[age_band_index(a)] for a in ages],
            "need": open_["need"].to_numpy(),
            "in_house": open_["in_house"].to_numpy(),
            "days_in_care": np.asarray(elapsed, dtype=float),
        }
    )


def with_children(history: CareHistory) -> pd.DataFrame:
    """Periods of care with the child's sex and the age band at entry."""
    periods = history.periods.merge(history.children[["child", "sex"]], on="child", how="left")
    periods["entry_band"] = [AGE_BANDS[age_band_index(d / DAYS_PER_YEAR)] for d in periods["age_at_entry_days"]]
    return periods


def _first_episodes(history: CareHistory, reference: Reference) -> pd.DataFrame:
    periods = with_children(history)
    periods = periods[reference.holds(periods["start"])]
    first = history.episodes.sort_values("start").groupby("period", as_index=False).first()
    return periods[["period", "entry_band"]].merge(first[["period", "need"]], on="period")


def _shares(values: pd.Series) -> dict[str, float]:
    counts = values.value_counts()
    return {str(k): float(v) / counts.sum() for k, v in counts.sort_index().items()}
