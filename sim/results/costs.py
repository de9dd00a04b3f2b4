"""Pricing every placement-day, and the block costs of in-house homes, by financial year.

Costing happens after the event loop, on the arrays of one replication: the weekly price of a
placement priced per placement comes from the child's own uniforms (so it is the same in every
scenario sharing the seed), and inflation is a step each 1 April, so a financial year (April to
March) has a single price level per pool.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from sim.engine.demand import horizon_day
from sim.engine.model import IN_CARE, STAYING_CLOSE, STAYING_PUT, PlacementColumn
from sim.engine.parameters import parameter_draws
from sim.engine.price_book import PoolPrice, PriceBook
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR, PLACEMENT_NEEDS, POST_18_ARRANGEMENTS

DAYS_PER_WEEK = 7.0
COMPONENTS = ("placements", "bed_nights", "block")
NEED_LABELS = np.array(PLACEMENT_NEEDS + POST_18_ARRANGEMENTS, dtype=object)
SPEND_COLUMNS = ["financial_year", "pool", "need", "in_house", "component", "spend", "occupied_days"]


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


def spend_columns(placements: PricedPlacements, scenario: Scenario, years: FinancialYears) -> dict[str, np.ndarray]:
    """Spend by replication position, financial year, pool, need and component, as columns (none without prices)."""
    prices = scenario.prices
    if prices is None:
        return _columns([])
    pool_names = list(scenario.pools)
    inflation = _inflation_factors(prices, pool_names, years)
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
    columns = _columns(parts)
    order = np.argsort(columns["position"], kind="stable")
    return {name: values[order] for name, values in columns.items()}


def _columns(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    names = ["position", *SPEND_COLUMNS]
    if not parts:
        numeric = {"position": np.int64, "spend": float, "occupied_days": float}
        return {name: np.array([], dtype=numeric.get(name, object)) for name in names}
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


def placement_need_index(p: np.ndarray) -> np.ndarray:
    """Index into PLACEMENT_NEEDS + POST_18_ARRANGEMENTS: the need, or the post-18 arrangement holding the place."""
    need = p[:, PlacementColumn.NEED].astype(np.int64)
    need = np.where(p[:, PlacementColumn.KIND] == STAYING_PUT, len(PLACEMENT_NEEDS), need)
    return np.where(p[:, PlacementColumn.KIND] == STAYING_CLOSE, len(PLACEMENT_NEEDS) + 1, need)


def _inflation_factors(prices: PriceBook, pool_names: list[str], years: FinancialYears) -> np.ndarray:
    """(pools, years) price level relative to the base date."""
    uplifts = np.array([prices.uplifts_by(y) for y in years.first_years], dtype=float)
    rates = np.array([prices.inflation_percent(name) / 100.0 for name in pool_names])
    return (1.0 + rates[:, None]) ** uplifts[None, :]


def _placement_spend(
    placements: PricedPlacements,
    scenario: Scenario,
    prices: PriceBook,
    years: FinancialYears,
    inflation: np.ndarray,
    pool_index: int,
    name: str,
) -> list[dict[str, np.ndarray]]:
    """Spend on one pool's placements, summed by replication and need (or post-18 arrangement)."""
    price = prices.pools[name]
    in_pool = placements.rows[:, PlacementColumn.POOL] == pool_index
    p = placements.rows[in_pool]
    if len(p) == 0:
        return []
    start, end = p[:, PlacementColumn.START], np.minimum(p[:, PlacementColumn.END], scenario.horizon.days)
    days = days_by_period(start, end, years.starts, years.ends)
    kind = p[:, PlacementColumn.KIND].astype(np.int64)
    weekly_spend = _weekly_price_days(
        price, placements.birth_day[in_pool], placements.price_draw[in_pool], start, end, days, years
    )  # before inflation
    post_18_price = np.where(kind == STAYING_PUT, price.staying_put_weekly, price.staying_close_weekly)
    weekly_spend = np.where((kind == IN_CARE)[:, None], weekly_spend, post_18_price[:, None] * days)
    labels = len(NEED_LABELS)
    keys, group = np.unique(placements.position[in_pool] * labels + placement_need_index(p), return_inverse=True)
    occupied = _sum_by_group(days, group, len(keys))
    spend = _sum_by_group(weekly_spend, group, len(keys)) / DAYS_PER_WEEK * inflation
    position, need = keys // labels, NEED_LABELS[keys % labels]
    parts = [_rows(years, name, scenario, position, need, "placements", spend, occupied)]
    if price.per_occupied_night > 0:
        nights = occupied * price.per_occupied_night * inflation
        parts.append(_rows(years, name, scenario, position, need, "bed_nights", nights, np.zeros_like(occupied)))
    return parts


def _sum_by_group(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """(groups, columns) column sums of `values` rows by group."""
    return np.stack([np.bincount(group, weights=column, minlength=groups) for column in values.T], axis=1)


def _weekly_price_days(
    price: PoolPrice,
    birth: np.ndarray,
    price_draw: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    days: np.ndarray,
    years: FinancialYears,
) -> np.ndarray:
    """(placements, years) weekly price x days in each year, by the price form of the pool."""
    if price.weekly_by_age_band is not None:
        total = np.zeros_like(days)
        for band, (low, high) in zip(AGE_BANDS, AGE_BAND_BOUNDS_YEARS, strict=True):
            band_start = np.maximum(start, birth + low * DAYS_PER_YEAR)
            band_end = np.minimum(end, birth + high * DAYS_PER_YEAR)
            total += days_by_period(band_start, band_end, years.starts, years.ends) * price.weekly_by_age_band[band]
        return total + days * price.fee_weekly
    if price.weekly_distribution is not None:
        weekly = price.weekly_distribution.quantile(price_draw)
    else:
        weekly = np.full(len(start), price.weekly or 0.0)
    return days * (weekly + price.fee_weekly)[:, None]


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


def _rows(
    years: FinancialYears,
    pool: str,
    scenario: Scenario,
    position: np.ndarray,
    need: np.ndarray,
    component: str,
    spend: np.ndarray,
    occupied: np.ndarray,
) -> dict[str, np.ndarray]:
    """Rows of (groups, years) spend and occupied days that are not both zero; group g is (position, need)."""
    group, year = np.nonzero((spend != 0) | (occupied != 0))
    return {
        "position": position[group],
        "financial_year": np.array(years.labels, dtype=object)[year],
        "pool": np.full(len(group), pool, dtype=object),
        "need": need[group],
        "in_house": np.full(len(group), scenario.pools[pool].in_house),
        "component": np.full(len(group), component, dtype=object),
        "spend": spend[group, year],
        "occupied_days": occupied[group, year],
    }


def at_drawn_prices(
    spend: dict[str, np.ndarray], scenario: Scenario, seed: int, years: FinancialYears
) -> dict[str, np.ndarray]:
    """Spend columns at each replication's own drawn price level and inflation (sim.engine.parameters).

    A draw multiplies every price by a level and adds a shift to every inflation rate. Spend is linear in the
    prices, and a pool's inflation enters a financial year as (1 + rate) ** uplifts, so each row's spend scales
    exactly by level x ((1 + rate + shift) / (1 + rate)) ** uplifts. So a batch is priced once, at the
    scenario's own prices, and then scaled: no table pass per replication."""
    prices, uncertainty = scenario.prices, scenario.uncertainty
    if prices is None or uncertainty is None or not uncertainty.active or len(spend["spend"]) == 0:
        return spend
    uplifts = {label: prices.uplifts_by(first) for label, first in zip(years.labels, years.first_years, strict=True)}
    replications = spend["replication"].astype(np.int64)
    draws = {int(r): parameter_draws(uncertainty, seed, int(r))[3:] for r in np.unique(replications)}
    level = np.array([math.exp(draws[int(r)][0]) for r in replications])
    shift = np.array([draws[int(r)][1] for r in replications])
    rate = np.array([prices.inflation_percent(pool) / 100.0 for pool in spend["pool"]])
    power = np.array([uplifts[label] for label in spend["financial_year"]], dtype=float)
    return {**spend, "spend": spend["spend"] * level * ((1.0 + rate + shift) / (1.0 + rate)) ** power}
