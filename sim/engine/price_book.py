"""The price book of a scenario: what each pool's places cost, and how prices rise each April.

Prices are in pounds at the price base date. Each carries a `source` (document and line, or
"assumption: ...") so every figure in the budget can be traced. Inflation is applied on each
1 April after the base date, so a financial year (April to March) has one price level. A rate is
constant unless an `uplift_percent_by_year` schedule names that April's uplift.

Beside the price per child-week, a pool may carry costs paid whether its places are filled or not:
block-contracted homes (`block_per_home_per_year`), a cost per approved fostering household
(`per_household_per_year`) and block-contracted places (`block_places`), the days beyond which
are bought spot at the pool's weekly price.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator
from scipy import special

from sim.engine.schema import (
    MAX_PLACES,
    MAX_WEEKLY_PRICE,
    MAX_YEARLY_PRICE,
    Money,
    Note,
    PercentPerYear,
    ScenarioModel,
    Source,
)
from sim.engine.vocabulary import AGE_BANDS

YearlyMoney = Annotated[float, Field(ge=0, le=MAX_YEARLY_PRICE)]
WeeklyPrice = Annotated[float, Field(gt=0, le=MAX_WEEKLY_PRICE)]
ContractPlaces = Annotated[int, Field(ge=0, le=MAX_PLACES)]
MAX_P90_OVER_MEDIAN = 20.0  # a wider lognormal has a mean over 15 times its median: a slip, not a market
MAX_SCHEDULE_YEARS = 200  # an uplift schedule of two centuries is a slip
MAX_BLOCK_CHANGES = 1_000
MAX_GRANT_RATES = 100
MAX_GRANT_PER_NIGHT = 5_000.0  # assumption: ten times the highest Home Office rate a night so far is a slip
Z90 = float(special.ndtri(0.9))
FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
# PoolPrice fields that are money, each scaled with the price level (with weekly_by_age_band, weekly_distribution
# and weekly_by_tier)
MONEY_FIELDS = (
    "weekly",
    "fee_weekly",
    "block_per_home_per_year",
    "per_occupied_night",
    "staying_put_weekly",
    "staying_close_weekly",
    "per_household_per_year",
    "block_weekly_per_place",
)
WEEKLY_FORMS = ("weekly", "weekly_by_age_band", "weekly_distribution", "weekly_by_tier")
# The keys of a PoolPrice that `sources` may give a source of their own (otherwise the pool's `source` covers them)
SOURCED_FIELDS = (*MONEY_FIELDS, *WEEKLY_FORMS[1:], "block_places", "block_changes", "uplift_percent_by_year")
# A one-off cost or a year's budget of one authority: assumption, England's councils spent about £13bn on
# children's social care in a year, so a single figure above £10bn is a slip (extra zeros), not a plan.
MAX_AUTHORITY_SPEND = 10_000_000_000.0
AuthoritySpend = Annotated[float, Field(gt=0, le=MAX_AUTHORITY_SPEND)]
Provision = Literal["in_house", "external"]
PROVISIONS: tuple[Provision, ...] = ("in_house", "external")
MAX_ONE_OFF_COSTS = 1_000


def financial_year_start(label: str) -> int:
    """The calendar year a financial year label ("2018-19") starts in; ValueError if it is not one."""
    match = FINANCIAL_YEAR.match(label)
    if match is None or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError(f"'{label}' is not a financial year: expected a label like \"2018-19\"")
    return int(match.group(1))


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

    def share_at_least(self, weekly: float) -> float:
        """The share of placements priced at `weekly` or more (closed form)."""
        return float(special.ndtr(-math.log(weekly / self.median) / self.sigma))

    def times(self, factor: float) -> WeeklyPriceDistribution:
        return self.model_copy(update={"median": self.median * factor, "p90": self.p90 * factor})


UpliftSchedule = Annotated[dict[str, PercentPerYear], Field(max_length=MAX_SCHEDULE_YEARS)]


def _check_schedule(value: dict[str, float] | None) -> dict[str, float] | None:
    for label in value or {}:
        financial_year_start(label)
    return value


class BlockChange(ScenarioModel):
    """From `date` on, the block contract holds `places` places (a new contract, an extension or an end)."""

    date: dt.date
    places: ContractPlaces
    note: Note = ""


class PoolPrice(ScenarioModel):
    """What one pool's places cost. Give one weekly price form, a block cost, or both. `source` covers every price
    of the pool unless `sources` names a price's own (e.g. `sources.staying_put_weekly`)."""

    source: Source
    sources: dict[str, Source] = Field({}, max_length=len(SOURCED_FIELDS))
    weekly: Money | None = None
    weekly_by_age_band: dict[str, Money] | None = None
    weekly_distribution: WeeklyPriceDistribution | None = None
    weekly_by_tier: dict[str, WeeklyPriceDistribution] | None = None
    fee_weekly: Money = 0.0
    block_per_home_per_year: YearlyMoney | None = None
    per_household_per_year: YearlyMoney | None = None
    block_places: ContractPlaces | None = None
    block_weekly_per_place: Money | None = None
    block_changes: list[BlockChange] = Field([], max_length=MAX_BLOCK_CHANGES)
    per_occupied_night: Money = 0.0
    staying_put_weekly: Money = 0.0
    staying_close_weekly: Money = 0.0
    inflation_percent_per_year: PercentPerYear | None = None
    uplift_percent_by_year: UpliftSchedule | None = None

    @field_validator("uplift_percent_by_year")
    @classmethod
    def _years(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_schedule(value)

    @model_serializer(mode="wrap")
    def _without_empty_sources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A dump without `sources` when none is given, so a record (run.json) reads as before the key existed."""
        dumped = handler(self)
        if not self.sources:
            dumped.pop("sources", None)
        return dumped

    @model_validator(mode="after")
    def _sources_of_given_prices(self) -> PoolPrice:
        for key in self.sources:
            if key not in SOURCED_FIELDS:
                raise ValueError(f"sources.{key}: expected the name of a price key, one of {list(SOURCED_FIELDS)}")
            value = getattr(self, key)
            if value is None or value == [] or (value == 0 and type(self).model_fields[key].default == 0):
                raise ValueError(f"sources.{key}: the price has no {key} to source")
        return self

    def source_of(self, key: str) -> str:
        """The source of one price key: its own, else the pool's."""
        return self.sources.get(key, self.source)

    @model_validator(mode="after")
    def _one_weekly_form(self) -> PoolPrice:
        forms = [f for f in WEEKLY_FORMS if getattr(self, f) is not None]
        if len(forms) > 1:
            raise ValueError(f"give one of {', '.join(WEEKLY_FORMS)}, not {forms}")
        if not forms and self.block_per_home_per_year is None:
            raise ValueError(f"a price needs {', '.join(WEEKLY_FORMS)} or block_per_home_per_year")
        if self.weekly_by_age_band is not None:
            unknown = sorted(set(self.weekly_by_age_band) - set(AGE_BANDS))
            missing = [band for band in AGE_BANDS if band not in self.weekly_by_age_band]
            if unknown or missing:
                raise ValueError(f"weekly_by_age_band needs exactly the bands {list(AGE_BANDS)}")
        if self.weekly_by_tier is not None and not self.weekly_by_tier:
            raise ValueError("weekly_by_tier: give a price for each complexity tier")
        return self

    @model_validator(mode="after")
    def _block_contract(self) -> PoolPrice:
        if (self.block_places is None) != (self.block_weekly_per_place is None):
            raise ValueError("block_places and block_weekly_per_place: a block contract needs both")
        if self.block_changes and self.block_places is None:
            raise ValueError("block_changes: only a block contract (block_places) changes its places")
        if self.block_places is not None and not self.per_child:
            raise ValueError(
                "block_places: days beyond the contracted places are bought spot at the pool's weekly price, "
                f"so give one of {', '.join(WEEKLY_FORMS)}"
            )
        dates = [change.date for change in self.block_changes]
        if len(set(dates)) != len(dates):
            raise ValueError("block_changes: two changes on the same date")
        return self

    def scaled(self, level: float, inflation_points: float = 0.0) -> PoolPrice:
        """Every price times `level`, and the pool's own inflation rate and uplifts (if any) plus `inflation_points`."""
        update: dict[str, Any] = {f: getattr(self, f) * level for f in MONEY_FIELDS if getattr(self, f) is not None}
        if self.weekly_by_age_band is not None:
            update["weekly_by_age_band"] = {band: value * level for band, value in self.weekly_by_age_band.items()}
        if self.weekly_distribution is not None:
            update["weekly_distribution"] = self.weekly_distribution.times(level)
        if self.weekly_by_tier is not None:
            update["weekly_by_tier"] = {tier: prices.times(level) for tier, prices in self.weekly_by_tier.items()}
        if self.inflation_percent_per_year is not None:
            update["inflation_percent_per_year"] = self.inflation_percent_per_year + inflation_points
        if self.uplift_percent_by_year is not None:
            update["uplift_percent_by_year"] = _shifted(self.uplift_percent_by_year, inflation_points)
        return self.model_copy(update=update)

    def price_mixture(self, tier_shares: Mapping[str, float] | None = None) -> list[tuple[float, Any]]:
        """The lognormals a placement's weekly price (before fee_weekly) is drawn from, with their weights: one for
        weekly_distribution, one a tier for weekly_by_tier (weighted by `tier_shares`, the tiers' shares of the
        placements, normalised). For closed forms of the mean and of the share above a price."""
        if self.weekly_distribution is not None:
            return [(1.0, self.weekly_distribution)]
        if self.weekly_by_tier is None:
            raise ValueError("price_mixture: only weekly_distribution and weekly_by_tier are distributions")
        shares = tier_shares or {}
        total = sum(shares.get(tier, 0.0) for tier in self.weekly_by_tier)
        if total <= 0:
            raise ValueError(f"price_mixture: give the shares of the tiers {list(self.weekly_by_tier)}")
        return [(shares.get(tier, 0.0) / total, prices) for tier, prices in self.weekly_by_tier.items()]

    def share_at_least(self, weekly: float, tier_shares: Mapping[str, float] | None = None) -> float:
        """Closed form: the share of placements whose weekly price (fee included) is `weekly` or more."""
        above = weekly - self.fee_weekly
        return sum(w * (d.share_at_least(above) if above > 0 else 1.0) for w, d in self.price_mixture(tier_shares))

    def mean_weekly(self, tier_shares: Mapping[str, float] | None = None) -> float:
        """Closed form: the mean weekly price of a placement, fee included."""
        return self.fee_weekly + sum(w * d.mean for w, d in self.price_mixture(tier_shares))

    @property
    def per_child(self) -> bool:
        """Whether placements are charged per child (otherwise only block and bed-night costs apply)."""
        return any(getattr(self, f) is not None for f in WEEKLY_FORMS)

    def block_places_by_day(self, day_of: Any) -> tuple[np.ndarray, np.ndarray]:
        """(days, places): the contracted places from each day on, the first day 0 (`day_of` maps a date to a
        day of the horizon); no contract gives no days."""
        if self.block_places is None:
            return np.zeros(0), np.zeros(0)
        changes = sorted(self.block_changes, key=lambda change: change.date)
        days = np.array([0.0, *[day_of(change.date) for change in changes]])
        places = np.array([self.block_places, *[change.places for change in changes]], dtype=float)
        keep = np.append(days[1:] > 0, True)  # a change on or before the start replaces the places at day 0
        days, places = np.maximum(days[keep], 0.0), places[keep]
        return days, places


def _shifted(schedule: dict[str, float], points: float) -> dict[str, float]:
    return {year: rate + points for year, rate in schedule.items()}


class InflationGroup(ScenarioModel):
    percent_per_year: PercentPerYear
    pools: list[str] = Field(min_length=1)
    source: Source
    uplift_percent_by_year: UpliftSchedule | None = None

    @field_validator("uplift_percent_by_year")
    @classmethod
    def _years(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_schedule(value)


class GrantRates(ScenarioModel):
    """The Home Office grant for unaccompanied asylum-seeking children from a date: a rate a night for each child
    in care under 16 and aged 16-17, and a rate a week for each former UASC care leaver aged 18-20."""

    from_date: dt.date
    under_16_per_night: Annotated[float, Field(ge=0, le=MAX_GRANT_PER_NIGHT)]
    aged_16_17_per_night: Annotated[float, Field(ge=0, le=MAX_GRANT_PER_NIGHT)]
    care_leaver_per_week: Annotated[float, Field(ge=0, le=MAX_GRANT_PER_NIGHT * 7)]
    source: Source


class UascGrant(ScenarioModel):
    """The grant's rates in date order, each in force from its date to the next (income, not spend: the rates
    are the Home Office's own, so the price draws and inflation leave them alone)."""

    rates: list[GrantRates] = Field(min_length=1, max_length=MAX_GRANT_RATES)

    @field_validator("rates")
    @classmethod
    def _in_order(cls, value: list[GrantRates]) -> list[GrantRates]:
        dates = [rate.from_date for rate in value]
        if dates != sorted(set(dates)):
            raise ValueError("expected rates in date order, one for each from_date")
        return value


class PriceBook(ScenarioModel):
    base_date: dt.date
    inflation_percent_per_year: PercentPerYear
    inflation_source: Source
    uplift_percent_by_year: UpliftSchedule | None = None
    inflation_groups: dict[str, InflationGroup] = {}
    pools: dict[str, PoolPrice]
    uasc_grant: UascGrant | None = None  # Home Office income for asylum-seeking children (sim.results.grant)

    @field_validator("uplift_percent_by_year")
    @classmethod
    def _years(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return _check_schedule(value)

    @model_serializer(mode="wrap")
    def _without_grant(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A dump without `uasc_grant` when none is given, so a record reads as before the key existed."""
        dumped = handler(self)
        if self.uasc_grant is None:
            dumped.pop("uasc_grant", None)
        return dumped

    def scaled(self, level: float, inflation_points: float) -> PriceBook:
        """Every price times `level` and every inflation rate and uplift plus `inflation_points` (a parameter draw)."""
        groups = {
            name: group.model_copy(
                update={
                    "percent_per_year": group.percent_per_year + inflation_points,
                    "uplift_percent_by_year": _shifted(group.uplift_percent_by_year or {}, inflation_points)
                    if group.uplift_percent_by_year is not None
                    else None,
                }
            )
            for name, group in self.inflation_groups.items()
        }
        update: dict[str, Any] = {
            "pools": {name: price.scaled(level, inflation_points) for name, price in self.pools.items()},
            "inflation_groups": groups,
            "inflation_percent_per_year": self.inflation_percent_per_year + inflation_points,
        }
        if self.uplift_percent_by_year is not None:
            update["uplift_percent_by_year"] = _shifted(self.uplift_percent_by_year, inflation_points)
        return self.model_copy(update=update)

    def inflation_percent(self, pool: str) -> float:
        """A pool's own rate, else its group's, else the default."""
        own = self.pools[pool].inflation_percent_per_year if pool in self.pools else None
        if own is not None:
            return own
        group = self._group(pool)
        return group.percent_per_year if group is not None else self.inflation_percent_per_year

    def _group(self, pool: str) -> InflationGroup | None:
        return next((group for group in self.inflation_groups.values() if pool in group.pools), None)

    def uplift_percent(self, pool: str, april_of: int) -> float:
        """The uplift on 1 April of `april_of` for a pool: the most specific price that speaks for the year wins
        (the pool's schedule, its own rate, its group's schedule, the group's rate, the book's schedule, the
        book's rate)."""
        price = self.pools.get(pool)
        label = f"{april_of}-{(april_of + 1) % 100:02d}"
        if price is not None and label in (price.uplift_percent_by_year or {}):
            return price.uplift_percent_by_year[label]
        if price is not None and price.inflation_percent_per_year is not None:
            return price.inflation_percent_per_year
        group = self._group(pool)
        if group is not None:
            return (group.uplift_percent_by_year or {}).get(label, group.percent_per_year)
        return (self.uplift_percent_by_year or {}).get(label, self.inflation_percent_per_year)

    def uplifts_by(self, financial_year_start: int) -> int:
        """How many 1 April uplifts apply in the financial year starting 1 April of that year."""
        return financial_year_start - self.base_year

    @property
    def base_year(self) -> int:
        """The calendar year the financial year of the base date starts in."""
        base = self.base_date
        return base.year if (base.month, base.day) >= (4, 1) else base.year - 1

    def price_levels(self, pools: Sequence[str], first_years: Sequence[int], shift: float = 0.0) -> np.ndarray:
        """(pools, years) price level of each financial year relative to the base date, every rate plus `shift`
        (a fraction): the product of the Aprils' uplift factors since the base year (their inverse before it).
        A pool whose Aprils all have one rate gets (1 + rate) ** uplifts, computed as before schedules existed."""
        uplifts = np.array([self.uplifts_by(year) for year in first_years], dtype=float)
        aprils = range(min([*first_years, self.base_year]) + 1, max([*first_years, self.base_year]) + 1)
        levels = np.ones((len(pools), len(first_years)))
        for row, pool in enumerate(pools):
            rates = {april: self.uplift_percent(pool, april) / 100.0 + shift for april in aprils}
            if len(set(rates.values())) <= 1:
                rate = np.array([next(iter(rates.values()), self.inflation_percent(pool) / 100.0 + shift)])
                levels[row] = (1.0 + rate) ** uplifts
                continue
            for column, first in enumerate(first_years):
                if first >= self.base_year:
                    factors = [1.0 + rates[april] for april in range(self.base_year + 1, first + 1)]
                else:
                    factors = [1.0 / (1.0 + rates[april]) for april in range(first + 1, self.base_year + 1)]
                levels[row, column] = float(np.prod(factors))
        return levels


class OneOffCost(ScenarioModel):
    """A capital or start-up cost paid once, on `date`, in cash pounds of that date (not inflated): it enters the
    budget of the financial year holding the date as the component "one_off", for the pool named or, without
    one, for the provision (in-house or external)."""

    date: dt.date
    amount: AuthoritySpend
    pool: str | None = None
    provision: Provision | None = None
    note: Source  # where the figure comes from, or "assumption: why"

    @model_validator(mode="after")
    def _pool_or_provision(self) -> OneOffCost:
        if self.pool is None and self.provision is None:
            raise ValueError('a one-off cost needs a pool or a provision ("in_house" or "external")')
        return self


class BudgetYear(ScenarioModel):
    """The budget set for one financial year, by provision; the probability that spend exceeds it is reported."""

    in_house: AuthoritySpend | None = None
    external: AuthoritySpend | None = None
    total: AuthoritySpend | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _some_budget(self) -> BudgetYear:
        if not self.set_lines():
            raise ValueError("a budget year needs in_house, external or total")
        return self

    def set_lines(self) -> dict[str, float]:
        """The provisions ("in_house", "external", "total") this year's budget gives, with their amounts."""
        lines = {"in_house": self.in_house, "external": self.external, "total": self.total}
        return {line: amount for line, amount in lines.items() if amount is not None}


def check_one_off_costs(
    costs: Sequence[OneOffCost], pools: Mapping[str, Any], start: dt.date, end: dt.date, priced: bool
) -> None:
    """One-off costs fall inside the horizon [start, end), name a defined pool whose provision matches any
    `provision` given, and need a price book (ValueError naming the key). `pools` maps names to Pool."""
    for index, cost in enumerate(costs):
        key = f"one_off_costs[{index}]"
        if not priced:
            raise ValueError(f"{key}: one-off costs enter the budget, which needs [prices]")
        if not start <= cost.date < end:
            raise ValueError(f"{key}.date: {cost.date} is outside the horizon ({start} to {end})")
        if cost.pool is None:
            continue
        pool = pools.get(cost.pool)
        if pool is None:
            raise ValueError(f"{key}.pool: pool '{cost.pool}' is not defined under [pools]")
        own = "in_house" if pool.in_house else "external"
        if cost.provision is not None and cost.provision != own:
            raise ValueError(f"{key}.provision: pool '{cost.pool}' is {own}, not {cost.provision}")


def one_off_provision(cost: OneOffCost, pools: Mapping[str, Any]) -> Provision:
    """The provision a one-off cost is charged to: its pool's, else its own."""
    if cost.pool is not None:
        return "in_house" if pools[cost.pool].in_house else "external"
    assert cost.provision is not None  # OneOffCost._pool_or_provision
    return cost.provision


def check_budget(budget: Mapping[str, BudgetYear], start: dt.date, end: dt.date, priced: bool) -> None:
    """Budget keys are financial years that overlap the horizon [start, end), and need a price book."""
    for label in budget:
        key = f"budget.{label}"
        if not priced:
            raise ValueError(f"{key}: a budget is compared with the spend, which needs [prices]")
        first = financial_year_start(label)
        if not (dt.date(first, 4, 1) < end and start < dt.date(first + 1, 4, 1)):
            raise ValueError(f"{key}: the financial year {label} is outside the horizon ({start} to {end})")


def check_pool_prices(prices: PriceBook, pools: Mapping[str, Any], tiers: Sequence[str] | None) -> None:
    """The checks of the new price keys that need the scenario's pools and complexity tiers (ValueError naming
    the key): a cost per household needs the pool's fostering households, and a price by tier prices exactly
    the scenario's tiers (`tiers` None or [""]: the scenario has no [complexity]). The scenario's checks call it;
    `pools` maps names to sim.engine.scenario.Pool."""
    for name, price in prices.pools.items():
        pool = pools.get(name)
        if pool is None:
            continue
        if price.per_household_per_year is not None and getattr(pool, "fostering", None) is None:
            raise ValueError(
                f"prices.pools.{name}.per_household_per_year: pool '{name}' has no approved households "
                f"(set [pools.{name}.fostering] households), so there is nothing to charge it on"
            )
        if price.weekly_by_tier is not None:
            _check_tiers(f"prices.pools.{name}.weekly_by_tier", list(price.weekly_by_tier), tiers)


def _check_tiers(key: str, priced: list[str], tiers: Sequence[str] | None) -> None:
    if tiers is None or list(tiers) == [""]:  # Scenario.tier_names without [complexity]: one unnamed tier
        raise ValueError(f"{key}: the scenario has no complexity tiers ([complexity] tiers) to price")
    unknown = sorted(set(priced) - set(tiers))
    missing = [tier for tier in tiers if tier not in priced]
    if unknown or missing:
        found = (f"; unknown {unknown}" if unknown else "") + (f"; missing {missing}" if missing else "")
        raise ValueError(f"{key}: expected a price for exactly the scenario's complexity tiers {list(tiers)}{found}")


def scale_price_document(price: dict[str, Any], factor: float) -> None:
    """Multiply every money value of a raw [prices.pools.<name>] table by `factor`, whatever its price form
    (for what-ifs that edit the scenario document; PoolPrice.scaled does the same to a validated price)."""
    for key in MONEY_FIELDS:
        if key in price:
            price[key] *= factor
    if "weekly_by_age_band" in price:
        price["weekly_by_age_band"] = {band: value * factor for band, value in price["weekly_by_age_band"].items()}
    if "weekly_distribution" in price:
        price["weekly_distribution"] = {key: value * factor for key, value in price["weekly_distribution"].items()}
    if "weekly_by_tier" in price:
        price["weekly_by_tier"] = {
            tier: {key: value * factor for key, value in prices.items()}
            for tier, prices in price["weekly_by_tier"].items()
        }


def shift_uplift_documents(prices: dict[str, Any], points: float) -> None:
    """Add `points` to every scheduled uplift of a raw [prices] table: the book's, each inflation group's and each
    pool's uplift_percent_by_year (a what-if moving every rate must move the scheduled years too)."""
    tables = [prices, *prices.get("inflation_groups", {}).values(), *prices.get("pools", {}).values()]
    for table in tables:
        if "uplift_percent_by_year" in table:
            table["uplift_percent_by_year"] = _shifted(table["uplift_percent_by_year"], points)
