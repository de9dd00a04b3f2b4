"""How good a backcast was: coverage of its bands, the error of its mean, and the interval (Winkler) score; and
the two comparators a model must beat, the last figure held flat and a straight-line trend.

Pure functions of numpy arrays (one value per compared figure), so that each can be checked against a hand
computation. Percentages leave out figures observed as zero (a percentage of nothing). Decision 0006 says
why these scores, why the interval score is scaled, and where the comparators' intervals come from.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

ArrayLike = np.ndarray | list[float] | tuple[float, ...]


def coverage(observed: ArrayLike, low: ArrayLike, high: ArrayLike) -> float:
    """The share of figures inside their band, edges included (nan for no figures)."""
    y, lo, hi = _arrays(observed, low, high)
    return float(np.mean((lo <= y) & (y <= hi))) if len(y) else float("nan")


def mape(observed: ArrayLike, point: ArrayLike) -> float:
    """Mean absolute percentage error of a point forecast, in percent of the observed figure."""
    y, p = _arrays(observed, point)
    counted = y > 0
    if not counted.any():
        return float("nan")
    return float(np.mean(np.abs(p[counted] - y[counted]) / y[counted]) * 100)


def interval_scores(observed: ArrayLike, low: ArrayLike, high: ArrayLike, alpha: float) -> np.ndarray:
    """The interval score of each figure against its central (1 - alpha) interval, in children.

    Width, plus 2/alpha times the distance by which the figure falls outside (Gneiting and Raftery 2007): a
    narrow band is rewarded only while it holds the figure, and a wide one pays for its width.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    y, lo, hi = _arrays(observed, low, high)
    below = np.clip(lo - y, 0, None)
    above = np.clip(y - hi, 0, None)
    return (hi - lo) + (2 / alpha) * (below + above)


def scaled_interval_score(observed: ArrayLike, low: ArrayLike, high: ArrayLike, alpha: float) -> float:
    """The mean interval score, each figure's divided by the figure itself, in percent of the observed figure.

    Scaled so that a count of 7 children counts as much as one of 470, as in the MAPE.
    """
    y, lo, hi = _arrays(observed, low, high)
    counted = y > 0
    if not counted.any():
        return float("nan")
    scores = interval_scores(y[counted], lo[counted], hi[counted], alpha)
    return float(np.mean(scores / y[counted]) * 100)


def flat(values: ArrayLike) -> float:
    """The last known figure (values in date order), held flat."""
    (v,) = _arrays(values)
    if not len(v):
        raise ValueError("a flat forecast needs at least one figure")
    return float(v[-1])


def has_trend(days: ArrayLike) -> bool:
    """A trend needs figures on at least two different days."""
    (d,) = _arrays(days)
    return len(np.unique(d)) >= 2


def trend(days: ArrayLike, values: ArrayLike, at: float) -> float:
    """The least-squares straight line through (day, value), read at day `at`, never below zero.

    With figures on fewer than two days there is no line: the last figure is held flat (see `has_trend`).
    """
    d, v = _arrays(days, values)
    if not has_trend(d):
        return flat(v)
    slope, intercept = np.polyfit(d, v, 1)
    return max(float(intercept + slope * at), 0.0)


def poisson_band(point: float, alpha: float) -> tuple[float, float]:
    """A central (1 - alpha) interval for a count forecast at `point`: point -/+ z sqrt(point), floored at zero.

    The normal approximation to a Poisson count: the spread a stock in a steady state has from chance
    alone, the same kind of uncertainty as a simulation with fixed parameters (decision 0006).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    point = max(float(point), 0.0)
    half = NormalDist().inv_cdf(1 - alpha / 2) * np.sqrt(point)
    return max(point - half, 0.0), point + half


def _arrays(*values: ArrayLike) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(v, dtype=float).ravel() for v in values)
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"arrays of different lengths: {[len(a) for a in arrays]}")
    return arrays
