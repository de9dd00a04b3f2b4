"""Named duration distributions used in scenario files.

Each is given in days in the units an analyst knows (mean and standard deviation where
that is natural) and turned into a frozen scipy distribution. Sampling is done by inverse
transform of uniforms drawn in blocks, so a child's durations come from its own row of
random numbers (common random numbers across scenarios) and conditional draws for children
already in care at the start (duration given it has lasted d days) use the same code.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from scipy import stats

PositiveDays = Annotated[float, Field(gt=0)]


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    _scipy: Any = PrivateAttr(default=None)

    def frozen(self) -> stats.rv_continuous:
        """The scipy distribution, built once per parameter set (freezing costs about a millisecond)."""
        if self._scipy is None:
            self._scipy = self._build()
        return self._scipy

    def _build(self) -> stats.rv_continuous:  # pragma: no cover - every distribution overrides it
        raise NotImplementedError

    @property
    def mean_days(self) -> float:
        return float(self.frozen().mean())

    def sample(self, uniforms: np.ndarray) -> np.ndarray:
        """Durations in days for uniforms in [0, 1)."""
        return self.frozen().ppf(uniforms)

    def sample_given_survived(self, uniforms: np.ndarray, elapsed_days: np.ndarray) -> np.ndarray:
        """Remaining days for stays that have already lasted `elapsed_days` (inverse transform of the tail)."""
        dist = self.frozen()
        lower = dist.cdf(elapsed_days)
        total = dist.ppf(lower + uniforms * (1.0 - lower))
        remaining = np.where(np.isfinite(total), total - elapsed_days, 0.0)
        return np.maximum(remaining, 0.0)

    def survival(self, days: np.ndarray) -> np.ndarray:
        return self.frozen().sf(days)


class Lognormal(_Distribution):
    """Lognormal with the given mean and standard deviation of the stay in days."""

    distribution: Literal["lognormal"]
    mean: PositiveDays
    sd: PositiveDays

    def _build(self) -> stats.rv_continuous:
        sigma2 = math.log(1.0 + (self.sd / self.mean) ** 2)
        mu = math.log(self.mean) - sigma2 / 2.0
        return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(mu))


class Gamma(_Distribution):
    """Gamma with the given mean and standard deviation in days."""

    distribution: Literal["gamma"]
    mean: PositiveDays
    sd: PositiveDays

    def _build(self) -> stats.rv_continuous:
        shape = (self.mean / self.sd) ** 2
        return stats.gamma(a=shape, scale=self.mean / shape)


class Exponential(_Distribution):
    distribution: Literal["exponential"]
    mean: PositiveDays

    def _build(self) -> stats.rv_continuous:
        return stats.expon(scale=self.mean)


class Weibull(_Distribution):
    distribution: Literal["weibull"]
    shape: Annotated[float, Field(gt=0)]
    scale: PositiveDays

    def _build(self) -> stats.rv_continuous:
        return stats.weibull_min(c=self.shape, scale=self.scale)


class Uniform(_Distribution):
    distribution: Literal["uniform"]
    low: Annotated[float, Field(ge=0)]
    high: PositiveDays

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    def _build(self) -> stats.rv_continuous:
        return stats.uniform(loc=self.low, scale=self.high - self.low)


class Fixed(_Distribution):
    """Every stay lasts exactly `days`."""

    distribution: Literal["fixed"]
    days: PositiveDays

    @property
    def mean_days(self) -> float:
        return self.days

    def _build(self) -> stats.rv_continuous:
        # A degenerate uniform on [days, days] would divide by zero; this is a point mass in effect.
        return stats.uniform(loc=self.days, scale=1e-9)

    def sample(self, uniforms: np.ndarray) -> np.ndarray:
        return np.full(np.shape(uniforms), self.days)

    def survival(self, days: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(days) < self.days, 1.0, 0.0)


Distribution = Annotated[
    Lognormal | Gamma | Exponential | Weibull | Uniform | Fixed,
    Field(discriminator="distribution"),
]
