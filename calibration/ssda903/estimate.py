"""Estimating scenario parameters from cleaned SSDA903 care histories.

- Entries: periods of care starting in the calibration window, by age band at entry, category of need
  and UASC status; a log-linear Poisson trend of yearly entries with its 95% interval.
- Durations: for each age band at entry, a competing-risks mixture: the exit route is drawn first
  (shares), then the stay on that route (a parametric family). Periods still open are right-censored, and
  every stay is cut at the 18th birthday, exactly as in the simulator, so a period ending at 18 may belong
  to any route whose stay would have lasted longer. Fitted by EM; the family for each route (lognormal,
  gamma, Weibull, exponential) is chosen by AIC. Kaplan-Meier curves are kept for the report.
- First placement needs, planned moves between needs and in-house shares, from the episodes.
- The starting population: children in care on the as-of date by age band, need and pool.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from calibration.ssda903.reader import CareHistory
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, age_band_index

ROUTES = ("return_home", "adoption", "sgo_cao", "other")  # routes with a stay distribution; age_18 has none
FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
EM_ITERATIONS = 15
MIN_PERIODS = 30  # a band with fewer periods uses the fit of all bands together
MIN_EVENTS = 5  # a route with fewer exits in a band borrows the all-band fit


@dataclass(frozen=True)
class DurationFit:
    family: str
    params: dict[str, float]  # scenario keys: mean/sd (lognormal, gamma), scale/shape (weibull), mean (exponential)
    aic: float
    events: float  # expected number of exits on this route (EM weights)

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


@dataclass
class EntryEstimate:
    years: list[int]  # first calendar year of each 12-month window, oldest first
    counts: list[int]
    rate_by_band: dict[str, float]  # per year, over the whole window
    cin_mix: dict[str, float]
    uasc_rate: float
    uasc_age_mix: dict[str, float]
    male_share: float
    trend_percent: float
    trend_ci: tuple[float, float]


# ---------------------------------------------------------------------------------------------
# Entries


def estimate_entries(history: CareHistory, as_of: dt.date, window_years: int) -> EntryEstimate:
    periods = _with_children(history)
    start = pd.Timestamp(as_of) - pd.DateOffset(years=window_years)
    entering = periods[(periods["start"] >= start) & (periods["start"] < pd.Timestamp(as_of))]
    if entering.empty:
        raise ValueError(
            f"no periods of care start in the {window_years} years before {as_of}; expected --as-of and "
            "--window-years to take in some of the returns' years"
        )
    year_index = ((entering["start"] - start).dt.days // 365.25).clip(upper=window_years - 1).astype(int)
    counts = np.bincount(year_index, minlength=window_years)
    band = entering["entry_band"]
    uasc = entering["uasc"].astype(bool)
    main, asylum = entering[~uasc], entering[uasc]
    rate_by_band = {b: float((band[~uasc] == b).sum()) / window_years for b in AGE_BANDS}
    cin = _cin_mix(main, entering, window_years, as_of)
    trend, low, high = _poisson_trend(counts)
    return EntryEstimate(
        years=[start.year + k for k in range(window_years)],
        counts=[int(c) for c in counts],
        rate_by_band=rate_by_band,
        cin_mix={code: float(share) for code, share in cin.sort_index().items()},
        uasc_rate=len(asylum) / window_years,
        uasc_age_mix=_shares(asylum["entry_band"]) if len(asylum) else {"16-17": 1.0},
        male_share=float((entering["sex"] == "male").mean()),
        trend_percent=trend,
        trend_ci=(low, high),
    )


def _cin_mix(main: pd.DataFrame, entering: pd.DataFrame, window_years: int, as_of: dt.date) -> pd.Series:
    """Shares of each category of need among entrants whose CIN is known (the reader blanks unknown codes and
    counts them); the UASC entrants' when no other entrant has one, since a scenario needs some mix."""
    for rows in (main, entering):
        known = rows["cin"][rows["cin"] != ""]
        if len(known):
            return known.value_counts(normalize=True)
    raise ValueError(
        f"no child entering care in the {window_years} years before {as_of} has a known CIN (category of need); "
        "expected CIN codes N1 to N8 on the first episode of some periods of care"
    )


def _poisson_trend(counts: np.ndarray) -> tuple[float, float, float]:
    """Yearly growth (%) of a log-linear Poisson model of counts, with a 95% Wald interval."""
    if len(counts) < 2 or counts.sum() == 0:
        return 0.0, 0.0, 0.0
    x = np.arange(len(counts), dtype=float) - (len(counts) - 1) / 2
    beta = np.array([math.log(max(counts.mean(), 1e-9)), 0.0])
    for _ in range(50):
        mu = np.exp(beta[0] + beta[1] * x)
        gradient = np.array([(counts - mu).sum(), ((counts - mu) * x).sum()])
        information = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
        step = np.linalg.solve(information, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    se = math.sqrt(np.linalg.inv(information)[1, 1])
    to_percent = lambda b: 100 * (math.exp(b) - 1)  # noqa: E731
    return to_percent(beta[1]), to_percent(beta[1] - 1.96 * se), to_percent(beta[1] + 1.96 * se)


# ---------------------------------------------------------------------------------------------
# Durations


def estimate_durations(history: CareHistory, as_of: dt.date, window_years: int) -> dict[str, BandDurations]:
    """Competing-risks mixture of exit routes and stays for periods starting in the window, censored at as_of."""
    periods = _observed_at(history, as_of, window_years)
    if not (periods["route"] != "").any():
        raise ValueError(
            f"none of the {len(periods)} periods of care starting in the {window_years} years before {as_of} had "
            "ended by then, so stays cannot be fitted; expected a longer --window-years or a later --as-of"
        )
    pooled = _fit_band(periods, "all", None)
    fits = {}
    for band in AGE_BANDS:
        rows = periods[periods["entry_band"] == band]
        fits[band] = _fit_band(rows, band, pooled) if len(rows) >= MIN_PERIODS else _borrowed(pooled, band, rows)
    return fits


def _borrowed(pooled: BandDurations, band: str, rows: pd.DataFrame) -> BandDurations:
    """Too few periods in a band: the all-band routes and stays, with the band's own Kaplan-Meier for the report."""
    time, survival = kaplan_meier(rows["days"].to_numpy(), rows["route"].to_numpy() != "")
    return BandDurations(
        band, dict(pooled.route_shares), dict(pooled.fits), len(rows), int((rows["route"] == "").sum()), time, survival
    )


def _observed_at(history: CareHistory, as_of: dt.date, window_years: int) -> pd.DataFrame:
    """Periods starting in the window, with what was known on the as-of date (later ends are censored)."""
    periods = _with_children(history)
    cut = pd.Timestamp(as_of)
    start = cut - pd.DateOffset(years=window_years)
    periods = periods[(periods["start"] >= start) & (periods["start"] < cut)].copy()
    ended = periods["end"].notna() & (periods["end"] <= cut) & ~periods["censored"]
    # Censored periods are followed until their own end (an X1 with nothing after) or the as-of date.
    censor_at = periods["end"].where(periods["end"].notna() & (periods["end"] <= cut), cut)
    end = periods["end"].where(ended, censor_at)
    periods["days"] = (end - periods["start"]).dt.days.astype(float).clip(lower=0.5)
    periods["route"] = np.where(ended, periods["exit_route"], "")
    periods["to_18"] = periods["age_at_entry_days"].rsub(18 * DAYS_PER_YEAR).clip(lower=1.0)
    return periods


def _fit_band(periods: pd.DataFrame, band: str, pooled: BandDurations | None) -> BandDurations:
    days = periods["days"].to_numpy()
    route = periods["route"].to_numpy()
    to_18 = periods["to_18"].to_numpy()
    at_18 = (route == "age_18") | ((route != "") & (days >= to_18 - 1))
    censored = route == ""
    shares = {r: max(float(np.mean(route == r)), 0.01) for r in (*ROUTES, "age_18")}
    total = sum(shares.values())
    shares = {r: s / total for r, s in shares.items()}
    fits = {
        r: (pooled.fits[r] if pooled else DurationFit("lognormal", {"mean": 365.0, "sd": 500.0}, 0, 0)) for r in ROUTES
    }
    for _ in range(EM_ITERATIONS):
        weights = _responsibilities(shares, fits, days, route, to_18, at_18, censored)
        shares = {r: float(weights[r].mean()) for r in weights}
        fits = {
            r: _fit_route(r, weights[r], days, route, to_18, at_18, censored, fits[r], pooled, "lognormal")
            for r in ROUTES
        }
    weights = _responsibilities(shares, fits, days, route, to_18, at_18, censored)
    fits = {r: _best_family(r, weights[r], days, route, to_18, at_18, censored, fits[r], pooled) for r in ROUTES}
    seen = {r for r in ROUTES if np.any(route == r)} | ({"age_18"} if at_18.any() else set())
    if seen:  # a route nobody left by is not a route: drop the small share EM keeps for it
        kept = sum(shares[r] for r in seen)
        shares = {r: (shares[r] / kept if r in seen else 0.0) for r in shares}
    time, survival = kaplan_meier(days, ~censored)
    return BandDurations(band, shares, fits, len(periods), int(censored.sum()), time, survival)


def _responsibilities(shares, fits, days, route, to_18, at_18, censored) -> dict[str, np.ndarray]:
    """Probability that each period is on each route, given what was observed."""
    weights = {}
    for r in (*ROUTES, "age_18"):
        if r == "age_18":
            likelihood = np.where(censored, 1.0, np.where(at_18, 1.0, 0.0))
        else:
            dist = fits[r].frozen()
            likelihood = np.where(
                censored,
                dist.sf(days),
                np.where(at_18, dist.sf(to_18), np.where(route == r, dist.pdf(days), 0.0)),
            )
        weights[r] = shares[r] * likelihood
    total = sum(weights.values())
    total = np.where(total > 0, total, 1.0)
    return {r: w / total for r, w in weights.items()}


def _fit_route(r, weight, days, route, to_18, at_18, censored, previous, pooled, family) -> DurationFit:
    exits = weight[(route == r) & ~at_18].sum()
    if exits < MIN_EVENTS and pooled is not None:
        return pooled.fits[r]
    observed = (route == r) & ~at_18
    tail = censored | at_18
    tail_days = np.where(at_18, to_18, days)
    start = _start_params(family, days[observed], previous)

    exit_stays = (days[observed], np.log(days[observed]))
    survived_stays = (tail_days[tail], np.log(tail_days[tail]))
    exit_weight, survived_weight = weight[observed], weight[tail]

    def negative_log_likelihood(theta: np.ndarray) -> float:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            log_pdf, log_sf = _log_densities(family, theta, exit_stays, survived_stays)
            value = -(exit_weight * log_pdf).sum() - (survived_weight * log_sf).sum()
        return float(value) if np.isfinite(value) else 1e300

    bounds = [(math.log(0.5), math.log(1e5)), (-5.0, 5.0)][: len(start)]
    start = np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds])
    result = optimize.minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=bounds)
    parameters = _params(family, _from_theta(family, result.x))
    k = 1 if family == "exponential" else 2
    return DurationFit(family, parameters, 2 * result.fun + 2 * k, float(exits))


def _best_family(r, weight, days, route, to_18, at_18, censored, previous, pooled) -> DurationFit:
    if weight[(route == r) & ~at_18].sum() < MIN_EVENTS and pooled is not None:
        return pooled.fits[r]
    candidates = [_fit_route(r, weight, days, route, to_18, at_18, censored, previous, None, f) for f in FAMILIES]
    return min(candidates, key=lambda fit: fit.aic)


def _start_params(family: str, sample: np.ndarray, previous: DurationFit) -> np.ndarray:
    mean = float(previous.frozen().mean()) if previous.family else float(np.mean(sample) if len(sample) else 365)
    mean = max(mean, 1.0)
    if family == "exponential":
        return np.array([math.log(mean)])
    return np.array([math.log(mean), 0.0])


def _log_densities(
    family: str, theta: np.ndarray, exits: tuple[np.ndarray, np.ndarray], survived: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Log density at the exit stays and log survival past the survived ones (each given as days and log days),
    in closed form. The values are scipy.stats' for `_scipy_family(family, theta)`, without the checks its
    generic methods make on each of the thousands of calls an EM fit makes (nine tenths of the fitting time)."""
    (days, log_days), (tail, log_tail) = exits, survived
    log_location = theta[0]
    location = math.exp(log_location)
    if family == "exponential":
        return -log_location - days / location, -tail / location
    log_spread = theta[1]
    spread = math.exp(log_spread)
    if family == "lognormal":
        z = (log_days - log_location) / spread
        log_pdf = -log_days - log_spread - 0.5 * math.log(2 * math.pi) - 0.5 * z * z
        return log_pdf, special.log_ndtr((log_location - log_tail) / spread)
    if family == "gamma":  # shape `spread`, scale location / shape
        log_scale = log_location - log_spread
        scale = math.exp(log_scale)
        log_pdf = (spread - 1) * log_days - days / scale - special.gammaln(spread) - spread * log_scale
        return log_pdf, np.log(special.gammaincc(spread, tail / scale))
    # Weibull: shape `spread`, scale `location`
    log_scaled = log_days - log_location
    log_pdf = log_spread - log_location + (spread - 1) * log_scaled - np.exp(spread * log_scaled)
    return log_pdf, -np.exp(spread * (log_tail - log_location))


def _from_theta(family: str, theta: np.ndarray):
    """Log parameters to a frozen scipy distribution (bounded in the fit to stays of half a day to 270 years)."""
    dist, kwds = _scipy_family(family, theta)
    return dist(**kwds)


def _scipy_family(family: str, theta: np.ndarray) -> tuple[Any, dict[str, float]]:
    """The scipy family and its parameters, for the fitted distribution (the fit itself uses `_log_densities`)."""
    if family == "exponential":
        return stats.expon, {"scale": math.exp(theta[0])}
    location, spread = math.exp(theta[0]), math.exp(theta[1])
    if family == "lognormal":
        return stats.lognorm, {"s": spread, "scale": location}
    if family == "gamma":
        return stats.gamma, {"a": spread, "scale": location / spread}
    return stats.weibull_min, {"c": spread, "scale": location}


def _params(family: str, dist) -> dict[str, float]:
    if family == "exponential":
        return {"mean": round(float(dist.mean()), 3)}
    if family == "weibull":
        return {"shape": round(float(dist.kwds["c"]), 5), "scale": round(float(dist.kwds["scale"]), 3)}
    return {"mean": round(float(dist.mean()), 3), "sd": round(float(dist.std()), 3)}


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
# Needs, moves, provision and the starting population


def first_needs(history: CareHistory, as_of: dt.date, window_years: int) -> dict[str, dict[str, float]]:
    """Share of each placement need in the first placement of periods starting in the window, by band."""
    first = _first_episodes(history, as_of, window_years)
    overall = _shares(first["need"])
    shares = {}
    for band in AGE_BANDS:
        rows = first[first["entry_band"] == band]
        shares[band] = _shares(rows["need"]) if len(rows) >= 10 else overall
    return shares


def planned_moves(history: CareHistory, as_of: dt.date, window_years: int) -> list[dict]:
    """Moves between needs: share of segments in a need that end by moving to another, and the time taken."""
    cut = pd.Timestamp(as_of)
    episodes = history.episodes[history.episodes["start"] < cut].sort_values(["child", "start"]).copy()
    episodes = episodes[episodes["start"] >= cut - pd.DateOffset(years=window_years)]
    episodes["end"] = episodes["end"].where(episodes["end"] <= cut)  # what was known on the as-of date
    segments = _need_segments(episodes)
    moves = []
    for from_need, rows in segments.groupby("need"):
        moved = rows[rows["next_need"].notna() & (rows["next_need"] != from_need)]
        for to_need, group in moved.groupby("next_need"):
            if len(group) < MIN_EVENTS:
                continue
            days = group["days"].to_numpy()
            mean, sd = float(days.mean()), float(max(days.std(), 1.0))
            moves.append(
                {
                    "from_need": from_need,
                    "to_need": to_need,
                    "probability": round(len(group) / len(rows), 6),
                    "after_days": {"distribution": "lognormal", "mean": round(mean, 2), "sd": round(sd, 2)},
                    "count": len(group),
                    "segments": len(rows),
                }
            )
    return moves


def _need_segments(episodes: pd.DataFrame) -> pd.DataFrame:
    """Consecutive episodes of a period in the same need merged into one segment, with the next need."""
    frame = episodes[["child", "period", "start", "end", "need"]].copy()
    new_segment = (frame["period"] != frame["period"].shift()) | (frame["need"] != frame["need"].shift())
    frame["segment"] = new_segment.cumsum()
    segments = frame.groupby("segment").agg(
        period=("period", "first"), need=("need", "first"), start=("start", "first"), end=("end", "last")
    )
    segments["next_need"] = segments["need"].shift(-1).where(segments["period"].shift(-1) == segments["period"])
    segments["next_need"] = segments["next_need"].where(segments["end"].notna())
    segments["days"] = (segments["end"] - segments["start"]).dt.days
    return segments


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


def _with_children(history: CareHistory) -> pd.DataFrame:
    periods = history.periods.merge(history.children[["child", "sex"]], on="child", how="left")
    periods["entry_band"] = [AGE_BANDS[age_band_index(d / DAYS_PER_YEAR)] for d in periods["age_at_entry_days"]]
    return periods


def _first_episodes(history: CareHistory, as_of: dt.date, window_years: int) -> pd.DataFrame:
    periods = _with_children(history)
    cut = pd.Timestamp(as_of)
    periods = periods[(periods["start"] >= cut - pd.DateOffset(years=window_years)) & (periods["start"] < cut)]
    first = history.episodes.sort_values("start").groupby("period", as_index=False).first()
    return periods[["period", "entry_band"]].merge(first[["period", "need"]], on="period")


def _shares(values: pd.Series) -> dict[str, float]:
    counts = values.value_counts()
    return {str(k): float(v) / counts.sum() for k, v in counts.sort_index().items()}
