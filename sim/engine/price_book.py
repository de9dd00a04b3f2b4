"""The price book of a scenario: what each pool's places cost, and how prices rise each April.

Prices are in pounds at the price base date. Each carries a `source` (document and line, or
"assumption: ...") so every figure in the budget can be traced. Inflation is applied on each
1 April after the base date, so a financial year (April to March) has one price level.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator
from scipy import special

from sim.engine.schema import MAX_WEEKLY_PRICE, MAX_YEARLY_PRICE, Money, PercentPerYear, ScenarioModel, Source
from sim.engine.vocabulary import AGE_BANDS

YearlyMoney = Annotated[float, Field(ge=0, le=MAX_YEARLY_PRICE)]
WeeklyPrice = Annotated[float, Field(gt=0, le=MAX_WEEKLY_PRICE)]
MAX_P90_OVER_MEDIAN = 20.0  # a wider lognormal has a mean over 15 times its median: a slip, not a market
Z90 = float(special.ndtri(0.9))
# PoolPrice fields that are money, each scaled with the price level (with weekly_by_age_band, weekly_distribution)
MONEY_FIELDS = (
    "weekly",
    "fee_weekly",
    "block_per_home_per_year",
    "per_occupied_night",
    "staying_put_weekly",
    "staying_close_weekly",
)


class WeeklyPriceDistribution(ScenarioModel):
    """Weekly price of one placement, lognormal by its median and 90th percentile, drawn when it starts."""

    median: WeeklyPrice
    p90: WeeklyPrice

    @model_validator(mode="after")
    def _p90_above_median(self) -> WeeklyPriceDistribution:
        if self.p90 <= self.median:
            raise ValueError(f"p90 ({self.p90:g}) must be above the median ({self.median:g})")
        if self.p90 > MAX_P90_OVER_MEDIAN * self.median:
            raise ValueError(f"p90 ({self.p90:g}) must be at most {MAX_P90_OVER_MEDIAN:g} times the median")
        return self

    @property
    def sigma(self) -> float:
        return math.log(self.p90 / self.median) / Z90

    def frozen(self) -> Any:
        """The equivalent scipy distribution (for analysis; costing uses `quantile`)."""
        from scipy import stats  # scipy.stats takes most of a second to import: only analysis code needs it

        return stats.lognorm(s=self.sigma, scale=self.median)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        return self.median * np.exp(self.sigma * special.ndtri(q))

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2.0)


class PoolPrice(ScenarioModel):
    """What one pool's places cost. Give one weekly price form, a block cost, or both."""

    source: Source
    weekly: Money | None = None
    weekly_by_age_band: dict[str, Money] | None = None
    weekly_distribution: WeeklyPriceDistribution | None = None
    fee_weekly: Money = 0.0
    block_per_home_per_year: YearlyMoney | None = None
    per_occupied_night: Money = 0.0
    staying_put_weekly: Money = 0.0
    staying_close_weekly: Money = 0.0
    inflation_percent_per_year: PercentPerYear | None = None

    @model_validator(mode="after")
    def _one_weekly_form(self) -> PoolPrice:
        forms = [f for f in ("weekly", "weekly_by_age_band", "weekly_distribution") if getattr(self, f) is not None]
        if len(forms) > 1:
            raise ValueError(f"give one of weekly, weekly_by_age_band or weekly_distribution, not {forms}")
        if not forms and self.block_per_home_per_year is None:
            raise ValueError("a price needs weekly, weekly_by_age_band, weekly_distribution or block_per_home_per_year")
        if self.weekly_by_age_band is not None:
            unknown = sorted(set(self.weekly_by_age_band) - set(AGE_BANDS))
            missing = [band for band in AGE_BANDS if band not in self.weekly_by_age_band]
            if unknown or missing:
                raise ValueError(f"weekly_by_age_band needs exactly the bands {list(AGE_BANDS)}")
        return self

    def scaled(self, level: float, inflation_points: float = 0.0) -> PoolPrice:
        """Every price times `level`, and the pool's own inflation rate (if any) plus `inflation_points`."""
        update: dict[str, Any] = {f: getattr(self, f) * level for f in MONEY_FIELDS if getattr(self, f) is not None}
        if self.weekly_by_age_band is not None:
            update["weekly_by_age_band"] = {band: value * level for band, value in self.weekly_by_age_band.items()}
        if self.weekly_distribution is not None:
            prices = self.weekly_distribution
            update["weekly_distribution"] = prices.model_copy(
                update={"median": prices.median * level, "p90": prices.p90 * level}
            )
        if self.inflation_percent_per_year is not None:
            update["inflation_percent_per_year"] = self.inflation_percent_per_year + inflation_points
        return self.model_copy(update=update)

    @property
    def per_child(self) -> bool:
        """Whether placements are charged per child (otherwise only block and bed-night costs apply)."""
        return any(getattr(self, f) is not None for f in ("weekly", "weekly_by_age_band", "weekly_distribution"))


class InflationGroup(ScenarioModel):
    percent_per_year: PercentPerYear
    pools: list[str] = Field(min_length=1)
    source: Source


class PriceBook(ScenarioModel):
    base_date: dt.date
    inflation_percent_per_year: PercentPerYear
    inflation_source: Source
    inflation_groups: dict[str, InflationGroup] = {}
    pools: dict[str, PoolPrice]

    def scaled(self, level: float, inflation_points: float) -> PriceBook:
        """Every price times `level` and every inflation rate plus `inflation_points` (a parameter draw)."""
        groups = {
            name: group.model_copy(update={"percent_per_year": group.percent_per_year + inflation_points})
            for name, group in self.inflation_groups.items()
        }
        return self.model_copy(
            update={
                "pools": {name: price.scaled(level, inflation_points) for name, price in self.pools.items()},
                "inflation_groups": groups,
                "inflation_percent_per_year": self.inflation_percent_per_year + inflation_points,
            }
        )

    def inflation_percent(self, pool: str) -> float:
        """A pool's own rate, else its group's, else the default."""
        own = self.pools[pool].inflation_percent_per_year if pool in self.pools else None
        if own is not None:
            return own
        for group in self.inflation_groups.values():
            if pool in group.pools:
                return group.percent_per_year
        return self.inflation_percent_per_year

    def uplifts_by(self, financial_year_start: int) -> int:
        """How many 1 April uplifts apply in the financial year starting 1 April of that year."""
        base = self.base_date
        base_year = base.year if (base.month, base.day) >= (4, 1) else base.year - 1
        return financial_year_start - base_year
