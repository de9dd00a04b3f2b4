"""Named duration distributions used in scenario files.

Each is given in days in the units an analyst knows (mean and standard deviation where
that is natural). Sampling is done by inverse transform of uniforms drawn in blocks, so a
child's durations come from its own row of random numbers (common random numbers across
scenarios) and conditional draws for children already in care at the start (duration given
it has lasted d days) use the same code.

Quantile, distribution and survival functions are closed forms over `scipy.special`: the
frozen scipy distributions cost about 20 microseconds of argument checking per call, which
was a fifth of a replication's demand draws, and they made every pickled scenario 100 KB
larger. `frozen()` still gives the scipy object for analysis code (its mean, median, plots).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy import special

from sim.engine.schema import MAX_DAYS, ScenarioModel

MIN_DAYS = 0.01  # about a quarter of an hour: a shorter mean stay is a slip (and underflows the gamma's shape)
MAX_SPREAD = 100.0  # sd / mean: beyond it a lognormal or gamma puts nearly all stays at zero or the far tail
PositiveDays = Annotated[float, Field(ge=MIN_DAYS, le=MAX_DAYS)]


class _Distribution(ScenarioModel):
    def frozen(self) -> Any:
        """The equivalent scipy distribution (built on each call; the engine does not use it)."""
        raise NotImplementedError  # pragma: no cover - every distribution overrides it

    @property
    def mean_days(self) -> float:
        return float(self.frozen().mean())

    def quantile(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def cdf(self, days: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def sample(self, uniforms: np.ndarray) -> np.ndarray:
        """Durations in days for uniforms in [0, 1)."""
        return self.quantile(np.asarray(uniforms, dtype=float))

    def sample_given_survived(self, uniforms: np.ndarray, elapsed_days: np.ndarray) -> np.ndarray:
        """Remaining days for stays that have already lasted `elapsed_days` (inverse transform of the tail)."""
        lower = self.cdf(np.asarray(elapsed_days, dtype=float))
        with np.errstate(divide="ignore", over="ignore"):
            total = self.quantile(lower + uniforms * (1.0 - lower))
        remaining = np.where(np.isfinite(total), total - elapsed_days, 0.0)
        return np.maximum(remaining, 0.0)

    def survival(self, days: np.ndarray) -> np.ndarray:
        return 1.0 - self.cdf(np.asarray(days, dtype=float))

    def scaled(self, factor: float) -> Any:
        """The same shape with every stay `factor` times as long (a parameter draw, a fitted stay scale)."""
        return self.model_copy(update={name: getattr(self, name) * factor for name in self._day_fields})

    _day_fields: tuple[str, ...] = ()


def _check_spread(mean: float, sd: float) -> None:
    if sd > MAX_SPREAD * mean:
        raise ValueError(f"sd ({sd:g}) must be at most {MAX_SPREAD:g} times the mean ({mean:g})")


class Lognormal(_Distribution):
    """Lognormal with the given mean and standard deviation of the stay in days."""

    _day_fields = ("mean", "sd")
    distribution: Literal["lognormal"]
    mean: PositiveDays
    sd: PositiveDays

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        _check_spread(self.mean, self.sd)
        return self

    @property
    def _mu_sigma(self) -> tuple[float, float]:
        sigma2 = math.log(1.0 + (self.sd / self.mean) ** 2)
        return math.log(self.mean) - sigma2 / 2.0, math.sqrt(sigma2)

    def frozen(self) -> Any:
        mu, sigma = self._mu_sigma
        from scipy import stats  # scipy.stats takes most of a second to import: only analysis code needs it

        return stats.lognorm(s=sigma, scale=math.exp(mu))

    @property
    def mean_days(self) -> float:
        return self.mean

    def quantile(self, q: np.ndarray) -> np.ndarray:
        mu, sigma = self._mu_sigma
        return np.exp(mu + sigma * special.ndtri(q))

    def cdf(self, days: np.ndarray) -> np.ndarray:
        mu, sigma = self._mu_sigma
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(np.maximum(days, 0.0)) - mu) / sigma)

    def survival(self, days: np.ndarray) -> np.ndarray:
        mu, sigma = self._mu_sigma
        with np.errstate(divide="ignore"):
            return special.ndtr((mu - np.log(np.maximum(np.asarray(days, dtype=float), 0.0))) / sigma)


class Gamma(_Distribution):
    """Gamma with the given mean and standard deviation in days."""

    _day_fields = ("mean", "sd")
    distribution: Literal["gamma"]
    mean: PositiveDays
    sd: PositiveDays

    @model_validator(mode="after")
    def _spread(self) -> Gamma:
        _check_spread(self.mean, self.sd)
        return self

    @property
    def _shape(self) -> float:
        return (self.mean / self.sd) ** 2

    def frozen(self) -> Any:
        from scipy import stats

        return stats.gamma(a=self._shape, scale=self.mean / self._shape)

    @property
    def mean_days(self) -> float:
        return self.mean

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return self.mean / self._shape * special.gammaincinv(self._shape, q)

    def cdf(self, days: np.ndarray) -> np.ndarray:
        return special.gammainc(self._shape, np.maximum(days, 0.0) * self._shape / self.mean)

    def survival(self, days: np.ndarray) -> np.ndarray:
        return special.gammaincc(self._shape, np.maximum(np.asarray(days, dtype=float), 0.0) * self._shape / self.mean)


class Exponential(_Distribution):
    _day_fields = ("mean",)
    distribution: Literal["exponential"]
    mean: PositiveDays

    def frozen(self) -> Any:
        from scipy import stats

        return stats.expon(scale=self.mean)

    @property
    def mean_days(self) -> float:
        return self.mean

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return -self.mean * np.log1p(-q)

    def cdf(self, days: np.ndarray) -> np.ndarray:
        return -np.expm1(-np.maximum(days, 0.0) / self.mean)

    def survival(self, days: np.ndarray) -> np.ndarray:
        return np.exp(-np.maximum(np.asarray(days, dtype=float), 0.0) / self.mean)


class Weibull(_Distribution):
    _day_fields = ("scale",)
    distribution: Literal["weibull"]
    shape: Annotated[float, Field(ge=0.05, le=100)]  # beyond these, every stay is ~0 or ~the scale
    scale: PositiveDays

    def frozen(self) -> Any:
        from scipy import stats

        return stats.weibull_min(c=self.shape, scale=self.scale)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return self.scale * (-np.log1p(-q)) ** (1.0 / self.shape)

    def cdf(self, days: np.ndarray) -> np.ndarray:
        return -np.expm1(-((np.maximum(days, 0.0) / self.scale) ** self.shape))

    def survival(self, days: np.ndarray) -> np.ndarray:
        return np.exp(-((np.maximum(np.asarray(days, dtype=float), 0.0) / self.scale) ** self.shape))


class Uniform(_Distribution):
    _day_fields = ("low", "high")
    distribution: Literal["uniform"]
    low: Annotated[float, Field(ge=0)]
    high: PositiveDays

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    def frozen(self) -> Any:
        from scipy import stats

        return stats.uniform(loc=self.low, scale=self.high - self.low)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return self.low + q * (self.high - self.low)

    def cdf(self, days: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(days, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0)


class Fixed(_Distribution):
    """Every stay lasts exactly `days`."""

    _day_fields = ("days",)
    distribution: Literal["fixed"]
    days: PositiveDays

    @property
    def mean_days(self) -> float:
        return self.days

    def frozen(self) -> Any:
        # A degenerate uniform on [days, days] would divide by zero; this is a point mass in effect.
        from scipy import stats

        return stats.uniform(loc=self.days, scale=1e-9)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return np.full(np.shape(q), self.days)

    def cdf(self, days: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(days) < self.days, 0.0, 1.0)


Distribution = Annotated[
    Lognormal | Gamma | Exponential | Weibull | Uniform | Fixed,
    Field(discriminator="distribution"),
]
