"""Pricing every placement-day, and the costs paid whether places are filled or not, by financial year.

Costing happens after the event loop, on the arrays of one replication: the weekly price of a
placement priced per placement comes from the child's own uniforms (so it is the same in every
scenario sharing the seed), and inflation is a step each 1 April, so a financial year (April to
March) has a single price level per pool.

The fixed costs are block-contracted homes (per home open), approved fostering households (per
household-day, from the household log) and block-contracted places: a pool's child-days up to its
contracted places are paid by the contract, the days beyond are bought spot, and the contracted
place-days no child used are its voids. Each is its own spend component (COMPONENTS). One-off capital and
start-up costs (the scenario's [[one_off_costs]]) are the component "one_off", in cash of their date: neither
inflated nor moved by the drawn price level.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from sim.engine.demand import horizon_day
from sim.engine.model import IN_CARE, STAYING_CLOSE, STAYING_PUT, LogColumn, PlacementColumn
from sim.engine.parameters import parameter_draws
from sim.engine.price_book import PoolPrice, PriceBook, one_off_provision
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR, PLACEMENT_NEEDS, POST_18_ARRANGEMENTS

DAYS_PER_WEEK = 7.0
# placements: per child-week (spot days only in a pool with a block contract); bed_nights: per occupied night;
# block: homes open; households: approved fostering households; block_contract and block_void: the contracted
# places used and unused (void_days counts the unused place-days); one_off: the scenario's one-off costs
COMPONENTS = ("placements", "bed_nights", "block", "households", "block_contract", "block_void", "one_off")
ONE_OFF = "one_off"
# The pool column of a one-off cost given by provision only: a colon is never in a pool name (POOL_NAME).
ONE_OFF_POOLS = {"in_house": "one_off:in_house", "external": "one_off:external"}
NEED_LABELS = np.array(PLACEMENT_NEEDS + POST_18_ARRANGEMENTS, dtype=object)
SPEND_COLUMNS = ["financial_year", "pool", "need", "in_house", "component", "spend", "occupied_days", "void_days"]


@dataclass(frozen=True)
class FinancialYears:
    """The financial years (1 April to 31 March) a horizon touches, as day offsets clipped to it."""

    labels: list[str]  # "2016-17"
    first_years: list[int]  # calendar year of the 1 April each starts on
    starts: np.ndarray
    ends: np.ndarray
    lengths: np.ndarray  # days in the whole financial year (365 or 366), for pro-rata block costs

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> FinancialYears:
        start, end = scenario.horizon.start, scenario.horizon.end
        first = start.year if (start.month, start.day) >= (4, 1) else start.year - 1
        years = list(range(first, end.year + 1))
        years = [y for y in years if dt.date(y, 4, 1) < end]
        bounds = [(dt.date(y, 4, 1), dt.date(y + 1, 4, 1)) for y in years]
        return cls(
            labels=[f"{y}-{(y + 1) % 100:02d}" for y in years],
            first_years=years,
            starts=np.array([max(horizon_day(scenario, a), 0.0) for a, _ in bounds]),
            ends=np.array([min(horizon_day(scenario, b), scenario.horizon.days) for _, b in bounds]),
            lengths=np.array([(b - a).days for a, b in bounds], dtype=float),
        )


def days_by_period(start: np.ndarray, end: np.ndarray, period_starts: np.ndarray, period_ends: np.ndarray):
    """(intervals, periods) days each interval [start, end) spends in each period."""
    lower = np.maximum(start[:, None], period_starts[None, :])
    upper = np.minimum(end[:, None], period_ends[None, :])
    return np.clip(upper - lower, 0.0, None)


@dataclass(frozen=True)
class PricedPlacements:
    """The placements of a batch of replications, with what pricing needs to know of each row's child."""

    rows: np.ndarray  # (n, len(PLACEMENT_COLUMNS)), see sim.engine.model
    position: np.ndarray  # per row: the replication's position in the batch
    birth_day: np.ndarray  # per row: the child's birth day
    price_draw: np.ndarray  # per row: the child's uniform for this placement's weekly price
    replications: int
    tier: np.ndarray | None = None  # per row: the child's complexity tier (index into the scenario's tiers)
    households: np.ndarray | None = None  # the household logs stacked, (n, 3) see LogColumn
    household_position: np.ndarray | None = None  # per household log row: the replication's position

    def tiers(self) -> np.ndarray:
        """Each row's tier, 0 (the only tier) when none was given."""
        return np.zeros(len(self.rows), dtype=np.int64) if self.tier is None else self.tier.astype(np.int64)


def spend_columns(placements: PricedPlacements, scenario: Scenario, years: FinancialYears) -> dict[str, np.ndarray]:
    """Spend by replication position, financial year, pool, need and component, as columns (none without prices)."""
    prices = scenario.prices
    if prices is None:
        return _columns([])
    pool_names = list(scenario.pools)
    inflation = prices.price_levels(pool_names, years.first_years)
    parts = [
        part
        for pool_index, name in enumerate(pool_names)
        if name in prices.pools
        for part in _placement_spend(placements, scenario, prices, years, inflation[pool_index], pool_index, name)
    ]
    parts += [
        _block_spend(scenario, prices, years, inflation, pool_names.index(name), name, placements.replications)
        for name in prices.pools
    ]
    parts += [
        part
        for pool_index, name in enumerate(pool_names)
        if name in prices.pools
        for part in _fixed_spend(placements, scenario, years, inflation[pool_index], pool_index, name)
    ]
    parts += [_one_off_spend(scenario, years, placements.replications)]
    columns = _columns(parts)
    order = np.argsort(columns["position"], kind="stable")
    return {name: values[order] for name, values in columns.items()}


def _columns(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    names = ["position", *SPEND_COLUMNS]
    if not parts:
        numeric = {"position": np.int64, "spend": float, "occupied_days": float, "void_days": float}
        return {name: np.array([], dtype=numeric.get(name, object)) for name in names}
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


def placement_need_index(p: np.ndarray) -> np.ndarray:
    """Index into PLACEMENT_NEEDS + POST_18_ARRANGEMENTS: the need, or the post-18 arrangement holding the place."""
    need = p[:, PlacementColumn.NEED].astype(np.int64)
    need = np.where(p[:, PlacementColumn.KIND] == STAYING_PUT, len(PLACEMENT_NEEDS), need)
    return np.where(p[:, PlacementColumn.KIND] == STAYING_CLOSE, len(PLACEMENT_NEEDS) + 1, need)


def _placement_spend(
    placements: PricedPlacements,
    scenario: Scenario,
    prices: PriceBook,
    years: FinancialYears,
    inflation: np.ndarray,
    pool_index: int,
    name: str,
) -> list[dict[str, np.ndarray]]:
    """Spend on one pool's placements, summed by replication and need (or post-18 arrangement).

    In a pool with a block contract only the spot share of each day is charged per child (BlockUsage)."""
    price = prices.pools[name]
    in_pool = placements.rows[:, PlacementColumn.POOL] == pool_index
    p = placements.rows[in_pool]
    if len(p) == 0:
        return []
    position = placements.position[in_pool]
    start, end = p[:, PlacementColumn.START], np.minimum(p[:, PlacementColumn.END], scenario.horizon.days)
    days = days_by_period(start, end, years.starts, years.ends)
    usage = BlockUsage.of(price, scenario, p, position, placements.replications, years)
    charged = days if usage is None else usage.spot_days(start, end, position)
    kind = p[:, PlacementColumn.KIND].astype(np.int64)
    rows = PoolRows(
        start, end, placements.birth_day[in_pool], placements.price_draw[in_pool], placements.tiers()[in_pool]
    )
    measure = days_by_period if usage is None else _measure(usage, position)
    weekly_spend = _weekly_price_days(price, rows, charged, years, measure, scenario.tier_names)  # no inflation
    post_18_price = np.where(kind == STAYING_PUT, price.staying_put_weekly, price.staying_close_weekly)
    weekly_spend = np.where((kind == IN_CARE)[:, None], weekly_spend, post_18_price[:, None] * charged)
    labels = len(NEED_LABELS)
    keys, group = np.unique(position * labels + placement_need_index(p), return_inverse=True)
    occupied = _sum_by_group(days, group, len(keys))
    spend = _sum_by_group(weekly_spend, group, len(keys)) / DAYS_PER_WEEK * inflation
    position, need = keys // labels, NEED_LABELS[keys % labels]
    parts = [_rows(years, name, scenario, position, need, "placements", spend, occupied)]
    if price.per_occupied_night > 0:
        nights = occupied * price.per_occupied_night * inflation
        parts.append(_rows(years, name, scenario, position, need, "bed_nights", nights, np.zeros_like(occupied)))
    return parts


@dataclass(frozen=True)
class PoolRows:
    """What pricing needs of each placement row of one pool."""

    start: np.ndarray
    end: np.ndarray
    birth: np.ndarray
    price_draw: np.ndarray
    tier: np.ndarray


def _measure(usage: BlockUsage, position: np.ndarray):
    """days_by_period counting only the spot share of each day (for prices that change within a placement)."""

    def measure(start: np.ndarray, end: np.ndarray, _starts: np.ndarray, _ends: np.ndarray) -> np.ndarray:
        return usage.spot_days(start, end, position)

    return measure


def _sum_by_group(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """(groups, columns) column sums of `values` rows by group."""
    return np.stack([np.bincount(group, weights=column, minlength=groups) for column in values.T], axis=1)


def weekly_price(price: PoolPrice, rows: PoolRows, tiers: list[str]) -> np.ndarray | None:
    """Each row's weekly price at base prices, fee included, for the forms priced per placement (None for
    weekly_by_age_band, whose price changes on birthdays)."""
    if price.weekly_by_age_band is not None:
        return None
    if price.weekly_by_tier is not None:
        weekly = np.zeros(len(rows.start))
        for index, tier in enumerate(tiers):  # check_pool_prices: every tier is priced
            mine = rows.tier == index
            weekly[mine] = price.weekly_by_tier[tier].quantile(rows.price_draw[mine])
    elif price.weekly_distribution is not None:
        weekly = price.weekly_distribution.quantile(rows.price_draw)
    else:
        weekly = np.full(len(rows.start), price.weekly or 0.0)
    return weekly + price.fee_weekly


def _weekly_price_days(
    price: PoolPrice, rows: PoolRows, days: np.ndarray, years: FinancialYears, measure, tiers: list[str]
) -> np.ndarray:
    """(placements, years) weekly price x days in each year, by the price form of the pool; `measure` counts
    the days of a piece of a placement (days_by_period, or only the spot share of them)."""
    weekly = weekly_price(price, rows, tiers)
    if weekly is not None:
        return days * weekly[:, None]
    total = np.zeros_like(days)
    for band, (low, high) in zip(AGE_BANDS, AGE_BAND_BOUNDS_YEARS, strict=True):
        band_start = np.maximum(rows.start, rows.birth + low * DAYS_PER_YEAR)
        band_end = np.minimum(rows.end, rows.birth + high * DAYS_PER_YEAR)
        total += measure(band_start, band_end, years.starts, years.ends) * price.weekly_by_age_band[band]
    return total + days * price.fee_weekly


@dataclass(frozen=True)
class BlockUsage:
    """A pool's occupancy against its block-contracted places, over every replication of a batch at once.

    Replication r's day t sits at key r * span + t on one axis, so one sorted pass covers the batch. Between
    consecutive keys (placement starts and ends, contract changes) occupancy and places are constant, so the
    integrals of the spot share max(0, 1 - places / occupied) and of the voids max(0, places - occupied)
    are piecewise linear in the key: np.interp reads them exactly at any start, end or year boundary. On a
    day with more children than contracted places every child present is covered in the same share: the
    spot days add up to the days beyond the places whatever the order children came in."""

    keys: np.ndarray
    spot: np.ndarray  # integral of the spot share up to each key
    void: np.ndarray  # integral of the void places up to each key
    span: float
    years: FinancialYears

    @classmethod
    def of(
        cls,
        price: PoolPrice,
        scenario: Scenario,
        p: np.ndarray,
        position: np.ndarray,
        replications: int,
        years: FinancialYears,
    ) -> BlockUsage | None:
        """The usage of a pool's contract by its placement rows `p` (None without a block contract)."""
        if price.block_places is None:
            return None
        horizon = scenario.horizon.days
        span = horizon + 2.0
        change_days, places = price.block_places_by_day(lambda date: horizon_day(scenario, date))
        offsets = np.arange(replications)[:, None] * span
        start = position * span + np.clip(p[:, PlacementColumn.START], 0.0, horizon)
        end = position * span + np.clip(p[:, PlacementColumn.END], 0.0, horizon)
        edges = (offsets + np.append(change_days[change_days < horizon], horizon)[None, :]).ravel()
        keys = np.unique(np.concatenate([start, end, edges, offsets.ravel()]))
        starts, ends = np.sort(start), np.sort(end)
        occupied = (np.searchsorted(starts, keys, side="right") - np.searchsorted(ends, keys, side="right")).astype(
            float
        )
        day = keys - np.floor(keys / span) * span
        held = np.where(day < horizon, places[np.searchsorted(change_days, day, side="right") - 1], 0.0)
        share = np.where(occupied > 0, np.clip(1.0 - held / np.maximum(occupied, 1.0), 0.0, None), 0.0)
        width = np.diff(keys)
        return cls(
            keys=keys,
            spot=np.concatenate([[0.0], np.cumsum(share[:-1] * width)]),
            void=np.concatenate([[0.0], np.cumsum(np.clip(held - occupied, 0.0, None)[:-1] * width)]),
            span=span,
            years=years,
        )

    def _between(self, integral: np.ndarray, start: np.ndarray, end: np.ndarray, position: np.ndarray):
        """(intervals, years) the integral over [start, end) of each interval, clipped to each financial year."""
        lower = np.maximum(start[:, None], self.years.starts[None, :])
        upper = np.minimum(end[:, None], self.years.ends[None, :])
        upper = np.maximum(upper, lower)
        offset = (position * self.span)[:, None]
        return np.interp(offset + upper, self.keys, integral) - np.interp(offset + lower, self.keys, integral)

    def spot_days(self, start: np.ndarray, end: np.ndarray, position: np.ndarray) -> np.ndarray:
        """(intervals, years) the days of each interval bought spot, beyond the contracted places."""
        return self._between(self.spot, start, end, position)

    def void_days(self, replications: int) -> np.ndarray:
        """(replications, years) contracted place-days no child used."""
        position = np.arange(replications)
        zeros = np.zeros(replications)
        return self._between(self.void, zeros, np.full(replications, np.inf), position)


def _fixed_spend(
    placements: PricedPlacements,
    scenario: Scenario,
    years: FinancialYears,
    inflation: np.ndarray,
    pool_index: int,
    name: str,
) -> list[dict[str, np.ndarray]]:
    """Costs paid whatever the occupancy: the pool's approved households, and its block contract (used and void)."""
    price = scenario.prices.pools[name]
    position = np.arange(placements.replications)
    need = np.full(placements.replications, scenario.pools[name].serves[0], dtype=object)
    parts = []
    if price.per_household_per_year is not None:
        household_days = _household_days(placements, pool_index, scenario.horizon.days, years)
        spend = household_days / years.lengths * price.per_household_per_year * inflation
        parts.append(_rows(years, name, scenario, position, need, "households", spend, np.zeros_like(spend)))
    if price.block_places is not None:
        in_pool = placements.rows[:, PlacementColumn.POOL] == pool_index
        usage = BlockUsage.of(
            price, scenario, placements.rows[in_pool], placements.position[in_pool], placements.replications, years
        )
        change_days, places = price.block_places_by_day(lambda date: horizon_day(scenario, date))
        edges = np.append(change_days, scenario.horizon.days)
        contracted = (days_by_period(edges[:-1], edges[1:], years.starts, years.ends) * places[:, None]).sum(axis=0)
        void = usage.void_days(placements.replications)
        weekly = price.block_weekly_per_place * inflation / DAYS_PER_WEEK
        used = np.clip(contracted[None, :] - void, 0.0, None)
        zeros = np.zeros_like(void)
        parts.append(_rows(years, name, scenario, position, need, "block_contract", used * weekly, zeros))
        parts.append(_rows(years, name, scenario, position, need, "block_void", void * weekly, zeros, void))
    return parts


def _household_days(placements: PricedPlacements, pool_index: int, horizon: float, years: FinancialYears):
    """(replications, years) approved household-days of one pool, from the household log (a step per change)."""
    total = np.zeros((placements.replications, len(years.labels)))
    log = placements.households
    if log is None:
        raise ValueError("costing households needs the replications' household logs (PricedPlacements.households)")
    mine = log[:, LogColumn.POOL] == pool_index
    rows, position = log[mine], placements.household_position[mine]
    order = np.lexsort((rows[:, LogColumn.DAY], position))  # stable: same-day changes keep their order
    rows, position = rows[order], position[order]
    last = np.append(position[1:] != position[:-1], True)
    ends = np.where(last, horizon, np.append(rows[1:, LogColumn.DAY], horizon))
    days = days_by_period(np.minimum(rows[:, LogColumn.DAY], horizon), ends, years.starts, years.ends)
    np.add.at(total, position, days * rows[:, LogColumn.VALUE][:, None])
    return total


def _block_spend(
    scenario: Scenario,
    prices: PriceBook,
    years: FinancialYears,
    inflation: np.ndarray,
    pool_index: int,
    name: str,
    replications: int,
) -> dict[str, np.ndarray]:
    """Homes charged per day open, whatever their occupancy; a whole financial year costs the annual price."""
    annual = prices.pools[name].block_per_home_per_year
    if annual is None:
        return _columns([])
    pool = scenario.pools[name]
    changes = sorted(pool.capacity_changes, key=lambda c: c.date)
    edges = np.array([0.0, *[horizon_day(scenario, c.date) for c in changes], scenario.horizon.days])
    homes = np.cumsum([pool.homes, *[c.homes for c in changes]]).astype(float)
    home_days = (days_by_period(edges[:-1], edges[1:], years.starts, years.ends) * homes[:, None]).sum(axis=0)
    spend = np.tile(home_days / years.lengths * annual * inflation[pool_index], (replications, 1))
    position = np.arange(replications)
    need = np.full(replications, pool.serves[0], dtype=object)
    return _rows(years, name, scenario, position, need, "block", spend, np.zeros_like(spend))


def _one_off_spend(scenario: Scenario, years: FinancialYears, replications: int) -> dict[str, np.ndarray]:
    """The one-off costs, each in the financial year holding its date, the same in every replication; a cost
    given by provision only is charged to the pool label ONE_OFF_POOLS[provision] and need "one_off"."""
    rows = []
    for cost in scenario.one_off_costs:
        day = horizon_day(scenario, cost.date)
        year = int(np.searchsorted(years.ends, day, side="right"))  # check_one_off_costs: inside the horizon
        provision = one_off_provision(cost, scenario.pools)
        pool = cost.pool or ONE_OFF_POOLS[provision]
        need = scenario.pools[cost.pool].serves[0] if cost.pool else ONE_OFF
        rows.append((years.labels[year], pool, need, provision == "in_house", cost.amount))
    n = len(rows) * replications
    if n == 0:
        return _columns([])
    return {
        "position": np.tile(np.arange(replications), len(rows)),
        "financial_year": np.repeat(np.array([r[0] for r in rows], dtype=object), replications),
        "pool": np.repeat(np.array([r[1] for r in rows], dtype=object), replications),
        "need": np.repeat(np.array([r[2] for r in rows], dtype=object), replications),
        "in_house": np.repeat(np.array([r[3] for r in rows]), replications),
        "component": np.full(n, ONE_OFF, dtype=object),
        "spend": np.repeat(np.array([r[4] for r in rows], dtype=float), replications),
        "occupied_days": np.zeros(n),
        "void_days": np.zeros(n),
    }


def _rows(
    years: FinancialYears,
    pool: str,
    scenario: Scenario,
    position: np.ndarray,
    need: np.ndarray,
    component: str,
    spend: np.ndarray,
    occupied: np.ndarray,
    void: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Rows of (groups, years) spend, occupied and void days that are not all zero; group g is (position, need)."""
    void = np.zeros_like(spend) if void is None else void
    group, year = np.nonzero((spend != 0) | (occupied != 0) | (void != 0))
    return {
        "position": position[group],
        "financial_year": np.array(years.labels, dtype=object)[year],
        "pool": np.full(len(group), pool, dtype=object),
        "need": need[group],
        "in_house": np.full(len(group), scenario.pools[pool].in_house),
        "component": np.full(len(group), component, dtype=object),
        "spend": spend[group, year],
        "occupied_days": occupied[group, year],
        "void_days": void[group, year],
    }


def at_drawn_prices(
    spend: dict[str, np.ndarray], scenario: Scenario, seed: int, years: FinancialYears
) -> dict[str, np.ndarray]:
    """Spend columns at each replication's own drawn price level and inflation (sim.engine.parameters).

    A draw multiplies every price by a level and adds a shift to every inflation rate and scheduled uplift.
    Spend is linear in the prices, and a pool's price level in a financial year is the product of its Aprils'
    factors (1 + rate), so each row's spend scales exactly by level x (that product with every rate shifted) /
    (the product at the scenario's rates). So a batch is priced once, at the scenario's own prices, and then
    scaled: no table pass per replication. With one rate per pool the ratio is ((1 + rate + shift) /
    (1 + rate)) ** uplifts, computed so, as before uplift schedules."""
    prices, uncertainty = scenario.prices, scenario.uncertainty
    if prices is None or uncertainty is None or not uncertainty.active or len(spend["spend"]) == 0:
        return spend
    replications = spend["replication"].astype(np.int64)
    draws = {int(r): parameter_draws(uncertainty, seed, int(r))[3:5] for r in np.unique(replications)}
    level = np.array([math.exp(draws[int(r)][0]) for r in replications])
    if not _has_schedules(prices):
        uplifts = {
            label: prices.uplifts_by(first) for label, first in zip(years.labels, years.first_years, strict=True)
        }
        shift = np.array([draws[int(r)][1] for r in replications])
        rate = np.array([prices.inflation_percent(pool) / 100.0 for pool in spend["pool"]])
        power = np.array([uplifts[label] for label in spend["financial_year"]], dtype=float)
        return _unless_one_off(spend, level * ((1.0 + rate + shift) / (1.0 + rate)) ** power)
    pools = sorted({str(pool) for pool in spend["pool"]})
    pool_row = np.searchsorted(np.array(pools), spend["pool"].astype(str))
    year_column = np.searchsorted(np.array(years.labels), spend["financial_year"].astype(str))
    base = prices.price_levels(pools, years.first_years)
    ratio = np.ones(len(replications))
    for r in np.unique(replications):
        mine = replications == r
        drawn = prices.price_levels(pools, years.first_years, shift=draws[int(r)][1]) / base
        ratio[mine] = drawn[pool_row[mine], year_column[mine]]
    return _unless_one_off(spend, level * ratio)


def _unless_one_off(spend: dict[str, np.ndarray], factor: np.ndarray) -> dict[str, np.ndarray]:
    """Spend times `factor`, but one-off costs (cash of their date, not prices) unchanged."""
    return {**spend, "spend": spend["spend"] * np.where(spend["component"] == ONE_OFF, 1.0, factor)}


def _has_schedules(prices: PriceBook) -> bool:
    """Whether any uplift schedule is given (otherwise every pool has one constant rate)."""
    groups = [group.uplift_percent_by_year for group in prices.inflation_groups.values()]
    pools = [price.uplift_percent_by_year for price in prices.pools.values()]
    return any(schedule for schedule in [prices.uplift_percent_by_year, *groups, *pools])


# High-cost placements: the LGA's survey counts placements of £10,000 a week or more (120 in 2018/19, 1,510 in
# 2022/23: national_england.md L87); £5,000 is the lower band issue 17 asks for (assumption: a round band under
# the NAO's £6,100 average for a children's home place in 2023-24, national_england.md L85).
HIGH_COST_WEEKLY = {"at_least_5k": 5_000.0, "at_least_10k": 10_000.0}
HIGH_COST_COLUMNS = ["financial_year", "pool", "placements", *HIGH_COST_WEEKLY]


def high_cost_columns(
    placements: PricedPlacements,
    scenario: Scenario,
    years: FinancialYears,
    factors: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Placements of children in care active in each financial year in each pool priced per child, and how many
    of them cost at least each HIGH_COST_WEEKLY threshold a week at that year's price level (fee included; the
    spot price in a pool with a block contract; a price by age band at the child's age when the year or the
    placement starts). `factors` (positions, pools, years, from drawn_price_factors) moves each replication to its
    own drawn prices."""
    prices = scenario.prices
    parts = []
    if prices is not None:
        pool_names = list(scenario.pools)
        levels = prices.price_levels(pool_names, years.first_years)
        if factors is None:
            factors = np.broadcast_to(levels, (placements.replications, *levels.shape))
        else:
            factors = factors * levels[None, :, :]
        for pool_index, name in enumerate(pool_names):
            price = prices.pools.get(name)
            if price is not None and price.per_child:
                parts.append(_high_cost_pool(placements, scenario, years, price, pool_index, name, factors))
    names = ["position", *HIGH_COST_COLUMNS]
    if not parts:
        return {name: np.array([], dtype=object if name in ("financial_year", "pool") else np.int64) for name in names}
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


def _high_cost_pool(
    placements: PricedPlacements,
    scenario: Scenario,
    years: FinancialYears,
    price: PoolPrice,
    pool_index: int,
    name: str,
    factors: np.ndarray,
) -> dict[str, np.ndarray]:
    p = placements.rows
    keep = (p[:, PlacementColumn.POOL] == pool_index) & (p[:, PlacementColumn.KIND] == IN_CARE)
    p, position = p[keep], placements.position[keep]
    start, end = p[:, PlacementColumn.START], np.minimum(p[:, PlacementColumn.END], scenario.horizon.days)
    rows = PoolRows(start, end, placements.birth_day[keep], placements.price_draw[keep], placements.tiers()[keep])
    active = days_by_period(start, end, years.starts, years.ends) > 0
    by_row = weekly_price(price, rows, scenario.tier_names)
    weekly = _age_band_weekly(price, rows, years) if by_row is None else by_row[:, None]
    weekly = weekly * factors[position, pool_index, :]  # at each year's price level
    n_years = len(years.labels)
    cell = (position[:, None] * n_years + np.arange(n_years)[None, :])[active]
    cells = placements.replications * n_years
    counts = {"placements": np.bincount(cell, minlength=cells)}
    for column, threshold in HIGH_COST_WEEKLY.items():
        counts[column] = np.bincount(cell, weights=(weekly[active] >= threshold), minlength=cells).astype(np.int64)
    nonzero = np.flatnonzero(counts["placements"])
    return {
        "position": nonzero // n_years,
        "financial_year": np.array(years.labels, dtype=object)[nonzero % n_years],
        "pool": np.full(len(nonzero), name, dtype=object),
        **{column: values[nonzero].astype(np.int64) for column, values in counts.items()},
    }


def _age_band_weekly(price: PoolPrice, rows: PoolRows, years: FinancialYears) -> np.ndarray:
    """(rows, years) the weekly price by age band at the later of the placement's and the year's start."""
    when = np.maximum(rows.start[:, None], years.starts[None, :])
    age = (when - rows.birth[:, None]) / DAYS_PER_YEAR
    uppers = np.array([high for _, high in AGE_BAND_BOUNDS_YEARS[:-1]])
    band = np.searchsorted(uppers, age, side="right")
    by_band = np.array([price.weekly_by_age_band[band_name] for band_name in AGE_BANDS])
    return by_band[band] + price.fee_weekly


def drawn_price_factors(scenario: Scenario, seed: int, replications: np.ndarray, years: FinancialYears) -> np.ndarray:
    """(positions, pools, years) each replication's drawn prices over the scenario's: its price level times its
    pools' price levels with every rate shifted, over theirs unshifted (ones without uncertainty in prices)."""
    prices, uncertainty = scenario.prices, scenario.uncertainty
    pools = list(scenario.pools)
    factors = np.ones((len(replications), len(pools), len(years.labels)))
    if prices is None or uncertainty is None or not uncertainty.active:
        return factors
    base = prices.price_levels(pools, years.first_years)
    for position, replication in enumerate(replications):
        log_level, shift = parameter_draws(uncertainty, seed, int(replication))[3:5]
        factors[position] = math.exp(log_level) * prices.price_levels(pools, years.first_years, shift=shift) / base
    return factors
