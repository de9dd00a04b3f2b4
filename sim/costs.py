"""Pricing every placement-day, and the block costs of in-house homes, by financial year.

Costing happens after the event loop, on the arrays of one replication: the weekly price of a
placement priced per placement comes from the child's own uniforms (so it is the same in every
scenario sharing the seed), and inflation is a step each 1 April, so a financial year (April to
March) has a single price level per pool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.demand import Cohort, horizon_day
from sim.model import IN_CARE, STAYING_CLOSE, STAYING_PUT, ReplicationRecord
from sim.price_book import PoolPrice, PriceBook
from sim.scenario import Scenario
from sim.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR, PLACEMENT_NEEDS, POST_18_ARRANGEMENTS

DAYS_PER_WEEK = 7.0
COMPONENTS = ("placements", "bed_nights", "block")
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


def spend_table(record: ReplicationRecord, scenario: Scenario, years: FinancialYears) -> pd.DataFrame:
    """Spend of one replication by financial year, pool, need and component (empty without a price book)."""
    prices = scenario.prices
    if prices is None:
        return pd.DataFrame(columns=SPEND_COLUMNS)
    pool_names = list(scenario.pools)
    inflation = _inflation_factors(prices, pool_names, years)
    parts = [
        _placement_spend(record, scenario, prices, years, inflation, pool_index, name)
        for pool_index, name in enumerate(pool_names)
        if name in prices.pools
    ]
    parts += [_block_spend(scenario, prices, years, inflation, pool_names.index(name), name) for name in prices.pools]
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    return frame if frame is not None else pd.DataFrame(columns=SPEND_COLUMNS)


def _inflation_factors(prices: PriceBook, pool_names: list[str], years: FinancialYears) -> np.ndarray:
    """(pools, years) price level relative to the base date."""
    uplifts = np.array([prices.uplifts_by(y) for y in years.first_years], dtype=float)
    rates = np.array([prices.inflation_percent(name) / 100.0 for name in pool_names])
    return (1.0 + rates[:, None]) ** uplifts[None, :]


def _placement_spend(
    record: ReplicationRecord,
    scenario: Scenario,
    prices: PriceBook,
    years: FinancialYears,
    inflation: np.ndarray,
    pool_index: int,
    name: str,
) -> pd.DataFrame:
    price = prices.pools[name]
    p = record.placements[record.placements[:, 1] == pool_index]
    if len(p) == 0:
        return pd.DataFrame(columns=SPEND_COLUMNS)
    start, end = p[:, 4], np.minimum(p[:, 5], scenario.horizon.days)
    days = days_by_period(start, end, years.starts, years.ends)
    kind = p[:, 6].astype(np.int64)
    weekly_spend = _weekly_price_days(price, record.cohort, p, start, end, days, years)  # before inflation
    post_18_price = np.where(kind == STAYING_PUT, price.staying_put_weekly, price.staying_close_weekly)
    weekly_spend = np.where((kind == IN_CARE)[:, None], weekly_spend, post_18_price[:, None] * days)
    need = _need_labels(p)
    frame = []
    for label in np.unique(need):
        rows = need == label
        spend = weekly_spend[rows].sum(axis=0) / DAYS_PER_WEEK * inflation[pool_index]
        nights = days[rows].sum(axis=0) * price.per_occupied_night * inflation[pool_index]
        occupied = days[rows].sum(axis=0)
        frame.append(_rows(years, name, scenario, label, "placements", spend, occupied))
        if price.per_occupied_night > 0:
            frame.append(_rows(years, name, scenario, label, "bed_nights", nights, np.zeros_like(occupied)))
    return pd.concat(frame, ignore_index=True)


def _weekly_price_days(
    price: PoolPrice,
    cohort: Cohort,
    p: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    days: np.ndarray,
    years: FinancialYears,
) -> np.ndarray:
    """(placements, years) weekly price x days in each year, by the price form of the pool."""
    child = p[:, 0].astype(np.int64)
    if price.weekly_by_age_band is not None:
        total = np.zeros_like(days)
        birth = cohort.birth_day[child]
        for band, (low, high) in zip(AGE_BANDS, AGE_BAND_BOUNDS_YEARS, strict=True):
            band_start = np.maximum(start, birth + low * DAYS_PER_YEAR)
            band_end = np.minimum(end, birth + high * DAYS_PER_YEAR)
            total += days_by_period(band_start, band_end, years.starts, years.ends) * price.weekly_by_age_band[band]
        return total + days * price.fee_weekly
    if price.weekly_distribution is not None:
        uniforms = cohort.price[child, p[:, 8].astype(np.int64)]
        weekly = price.weekly_distribution.frozen().ppf(uniforms)
    else:
        weekly = np.full(len(p), price.weekly or 0.0)
    return days * (weekly + price.fee_weekly)[:, None]


def _need_labels(p: np.ndarray) -> np.ndarray:
    labels = np.array(PLACEMENT_NEEDS, dtype=object)[p[:, 2].astype(np.int64)]
    labels = np.where(p[:, 6] == STAYING_PUT, POST_18_ARRANGEMENTS[0], labels)
    return np.where(p[:, 6] == STAYING_CLOSE, POST_18_ARRANGEMENTS[1], labels)


def _block_spend(
    scenario: Scenario, prices: PriceBook, years: FinancialYears, inflation: np.ndarray, pool_index: int, name: str
) -> pd.DataFrame:
    """Homes charged per day open, whatever their occupancy; a whole financial year costs the annual price."""
    annual = prices.pools[name].block_per_home_per_year
    if annual is None:
        return pd.DataFrame(columns=SPEND_COLUMNS)
    pool = scenario.pools[name]
    changes = sorted(pool.capacity_changes, key=lambda c: c.date)
    edges = np.array([0.0, *[horizon_day(scenario, c.date) for c in changes], scenario.horizon.days])
    homes = np.cumsum([pool.homes, *[c.homes for c in changes]]).astype(float)
    home_days = (days_by_period(edges[:-1], edges[1:], years.starts, years.ends) * homes[:, None]).sum(axis=0)
    spend = home_days / years.lengths * annual * inflation[pool_index]
    return _rows(years, name, scenario, pool.serves[0], "block", spend, np.zeros(len(spend)))


def _rows(
    years: FinancialYears,
    pool: str,
    scenario: Scenario,
    need: str,
    component: str,
    spend: np.ndarray,
    occupied: np.ndarray,
) -> pd.DataFrame:
    keep = (spend != 0) | (occupied != 0)
    return pd.DataFrame(
        {
            "financial_year": np.array(years.labels, dtype=object)[keep],
            "pool": pool,
            "need": need,
            "in_house": scenario.pools[pool].in_house,
            "component": component,
            "spend": spend[keep],
            "occupied_days": occupied[keep],
        }
    )
