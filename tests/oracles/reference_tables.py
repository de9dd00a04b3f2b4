"""The result tables as first written: pandas frames built one replication at a time.

Kept as an independent implementation of `sim.results.tables.batch_tables` (spend aside): the tests
check that both give the same tables, and `sufficiency bench` times both to show what building
the tables a batch at a time with arrays gained. Not used by runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engine.demand import Cohort
from sim.engine.model import IN_CARE, STAYING_CLOSE, STAYING_PUT, LogColumn, PlacementColumn, ReplicationRecord
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import AGE_BANDS, CATEGORIES_OF_NEED, EXIT_ROUTES, PLACEMENT_NEEDS
from sim.results.costs import NEED_LABELS, days_by_period
from sim.results.tables import Calendar, age_band_at, step_values

KIND_LABEL_OFFSET = {STAYING_PUT: len(PLACEMENT_NEEDS), STAYING_CLOSE: len(PLACEMENT_NEEDS) + 1}


def replication_tables(record: ReplicationRecord, scenario: Scenario, calendar: Calendar) -> dict[str, pd.DataFrame]:
    """Every table but spend for one replication, one pandas frame at a time."""
    pool_names = np.array(list(scenario.pools), dtype=object)
    tables = {
        "stock": _stock(record, calendar, pool_names),
        "occupancy": _occupancy(record, calendar, pool_names),
        "entries": _entries(record.cohort, calendar),
        "exits": _exits(record, calendar),
        "gaps": _gaps(record, calendar, pool_names),
        "placement_days": _placement_days(record, calendar, pool_names, scenario),
        "households": _households(record, calendar, pool_names),
        "placements": _placements_started(record, calendar, pool_names, scenario),
        "flows": _flows(record, scenario),
    }
    for table in tables.values():
        table.insert(0, "replication", record.replication)
    return tables


def _stock(record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray) -> pd.DataFrame:
    """Children in care at each snapshot by placement need, pool and current age band."""
    p = record.placements[record.placements[:, PlacementColumn.KIND] == IN_CARE]
    child = p[:, PlacementColumn.CHILD].astype(np.int64)
    start, end = p[None, :, PlacementColumn.START], p[None, :, PlacementColumn.END]
    snap, row = np.nonzero((start <= calendar.snapshot_days[:, None]) & (calendar.snapshot_days[:, None] < end))
    band = age_band_at(record.cohort.birth_day[child[row]], calendar.snapshot_days[snap])
    need, pool = p[row, PlacementColumn.NEED].astype(int), p[row, PlacementColumn.POOL].astype(int)
    frame = pd.DataFrame({"snap": snap, "need": need, "pool": pool, "band": band})
    counts = frame.value_counts().rename("children").reset_index()
    return pd.DataFrame(
        {
            "date": pd.to_datetime(np.array(calendar.snapshot_dates, dtype="datetime64[D]")[counts["snap"]]),
            "need": NEED_LABELS[counts["need"]],
            "pool": pool_names[counts["pool"]],
            "age_band": np.array(AGE_BANDS, dtype=object)[counts["band"]],
            "children": counts["children"].to_numpy(),
        }
    ).sort_values(["date", "need", "pool", "age_band"], ignore_index=True)


def _occupancy(record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray) -> pd.DataFrame:
    """Places occupied (children in care and young people staying put or close) and capacity, per pool."""
    p = record.placements
    days = calendar.snapshot_days
    active = (p[None, :, PlacementColumn.START] <= days[:, None]) & (days[:, None] < p[None, :, PlacementColumn.END])
    n_pools = len(pool_names)
    occupied = np.zeros((len(days), n_pools))
    post_18 = np.zeros((len(days), n_pools))
    for index in range(n_pools):
        in_pool = p[:, PlacementColumn.POOL] == index
        occupied[:, index] = active[:, in_pool].sum(axis=1)
        post_18[:, index] = active[:, in_pool & (p[:, PlacementColumn.KIND] != IN_CARE)].sum(axis=1)
    capacity = step_values(record.capacity, days, n_pools)
    approved = step_values(record.approved, days, n_pools)
    dates = np.repeat(np.array(calendar.snapshot_dates, dtype="datetime64[D]"), n_pools)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(dates),
            "pool": np.tile(pool_names, len(days)),
            "occupied": occupied.ravel(),
            "post_18": post_18.ravel(),
            "capacity": np.where(np.isinf(capacity), np.nan, capacity).ravel(),
            "approved": np.where(np.isinf(approved), np.nan, approved).ravel(),
        }
    )


def _month_of(days: np.ndarray, calendar: Calendar) -> np.ndarray:
    return np.searchsorted(calendar.month_ends, days, side="right")


def _month_labels(calendar: Calendar, index: np.ndarray) -> pd.Series:
    return pd.to_datetime(np.array(calendar.month_labels, dtype="datetime64[D]")[index])


def _absent(cohort: Cohort) -> np.ndarray:
    return np.zeros(cohort.size, dtype=bool) if cohort.absent is None else cohort.absent


def _entries(cohort: Cohort, calendar: Calendar) -> pd.DataFrame:
    # young people Staying Put from the start never enter, nor do children the National Transfer Scheme kept out
    entrants = ~cohort.starting & ~cohort.staying_put_at_start & ~_absent(cohort)
    frame = pd.DataFrame(
        {
            "month": _month_of(cohort.entry_day[entrants], calendar),
            "band": cohort.entry_band[entrants],
            "cin": cohort.cin[entrants],
            "uasc": cohort.uasc[entrants],
        }
    )
    counts = frame.value_counts().rename("children").reset_index()
    return pd.DataFrame(
        {
            "month": _month_labels(calendar, counts["month"].to_numpy()),
            "age_band": np.array(AGE_BANDS, dtype=object)[counts["band"]],
            "category_of_need": np.array(CATEGORIES_OF_NEED, dtype=object)[counts["cin"]],
            "uasc": counts["uasc"].to_numpy(),
            "children": counts["children"].to_numpy(),
        }
    ).sort_values(["month", "age_band", "category_of_need", "uasc"], ignore_index=True)


def _exits(record: ReplicationRecord, calendar: Calendar) -> pd.DataFrame:
    left = ~np.isnan(record.exit_day)
    day = record.exit_day[left]
    frame = pd.DataFrame(
        {
            "month": _month_of(day, calendar),
            "route": record.exit_route[left],
            "band": age_band_at(record.cohort.birth_day[left], day),
        }
    )
    counts = frame.value_counts().rename("children").reset_index()
    return pd.DataFrame(
        {
            "month": _month_labels(calendar, counts["month"].to_numpy()),
            "route": np.array(EXIT_ROUTES, dtype=object)[counts["route"]],
            "age_band": np.array(AGE_BANDS, dtype=object)[counts["band"]],
            "children": counts["children"].to_numpy(),
        }
    ).sort_values(["month", "route", "age_band"], ignore_index=True)


def _days_by_month(start: np.ndarray, end: np.ndarray, calendar: Calendar) -> np.ndarray:
    """(placements, months) days each interval [start, end) spends in each month."""
    return days_by_period(start, end, calendar.month_starts, calendar.month_ends)


def _gaps(record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray) -> pd.DataFrame:
    """Placements not in the child's first-choice pool: count by start month and child-days by month."""
    p = record.placements
    p = p[(p[:, PlacementColumn.KIND] == IN_CARE) & (p[:, PlacementColumn.POOL] != p[:, PlacementColumn.WANTED])]
    child = p[:, PlacementColumn.CHILD].astype(np.int64)
    band = age_band_at(record.cohort.birth_day[child], p[:, PlacementColumn.START])
    need, wanted, used = p[:, PlacementColumn.NEED], p[:, PlacementColumn.WANTED], p[:, PlacementColumn.POOL]
    keys = np.column_stack([need, wanted, used, band]).astype(np.int64)
    days = _days_by_month(p[:, PlacementColumn.START], p[:, PlacementColumn.END], calendar)
    start_month = _month_of(p[:, PlacementColumn.START], calendar)
    rows = []
    unique, inverse = np.unique(keys, axis=0, return_inverse=True) if len(keys) else (np.zeros((0, 4)), [])
    for group, key in enumerate(unique):
        members = np.asarray(inverse).ravel() == group
        child_days = days[members].sum(axis=0)
        started = np.bincount(start_month[members], minlength=len(calendar.month_labels))
        for month in np.flatnonzero((child_days > 0) | (started > 0)):
            rows.append((month, *key, started[month], child_days[month]))
    frame = pd.DataFrame(rows, columns=["month", "need", "wanted", "used", "band", "placements", "child_days"])
    return pd.DataFrame(
        {
            "month": _month_labels(calendar, frame["month"].to_numpy(dtype=np.int64)),
            "need": NEED_LABELS[frame["need"].to_numpy(dtype=np.int64)],
            "wanted_pool": pool_names[frame["wanted"].to_numpy(dtype=np.int64)],
            "used_pool": pool_names[frame["used"].to_numpy(dtype=np.int64)],
            "age_band": np.array(AGE_BANDS, dtype=object)[frame["band"].to_numpy(dtype=np.int64)],
            "placements": frame["placements"].to_numpy(dtype=np.int64),
            "child_days": frame["child_days"].to_numpy(dtype=float),
        }
    )


def _placement_days(
    record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray, scenario: Scenario
) -> pd.DataFrame:
    """Days of each pool's places used in each month, by placement need (post-18 arrangements by name).

    `days_beyond_20_miles` counts the days of placements more than 20 miles from home.
    """
    p = record.placements
    need = p[:, PlacementColumn.NEED].astype(np.int64)
    for kind, label_index in KIND_LABEL_OFFSET.items():
        need = np.where(p[:, PlacementColumn.KIND] == kind, label_index, need)
    days = _days_by_month(p[:, PlacementColumn.START], p[:, PlacementColumn.END], calendar)
    key = p[:, PlacementColumn.POOL].astype(np.int64) * len(NEED_LABELS) + need
    unique, inverse = np.unique(key, return_inverse=True)
    totals = np.zeros((len(unique), days.shape[1]))
    np.add.at(totals, inverse, days)
    far = np.zeros_like(totals)
    np.add.at(far, inverse, days * (p[:, PlacementColumn.WITHIN_20_MILES] == 0)[:, None])
    group, month = np.nonzero(totals > 0)
    in_house = np.array([pool.in_house for pool in scenario.pools.values()])
    pool_index = unique[group] // len(NEED_LABELS)
    return pd.DataFrame(
        {
            "month": _month_labels(calendar, month),
            "pool": pool_names[pool_index],
            "need": NEED_LABELS[unique[group] % len(NEED_LABELS)],
            "in_house": in_house[pool_index],
            "days": totals[group, month],
            "days_beyond_20_miles": far[group, month],
        }
    ).sort_values(["month", "pool", "need"], ignore_index=True)


def _placements_started(
    record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray, scenario: Scenario
) -> pd.DataFrame:
    """Placements of children in care started each month, by pool and need; `fallback` marks a pool outside
    the need's preferred list (an emergency or different-kind placement)."""
    p = record.placements
    p = p[(p[:, PlacementColumn.KIND] == IN_CARE) & (p[:, PlacementColumn.START] > 0)]
    preferred = {
        (NEED_LABELS.tolist().index(need), list(scenario.pools).index(name))
        for need, matching in scenario.matching.items()
        for name in matching.pools
    }
    need, pool = p[:, PlacementColumn.NEED].astype(np.int64), p[:, PlacementColumn.POOL].astype(np.int64)
    frame = pd.DataFrame(
        {
            "month": _month_of(p[:, PlacementColumn.START], calendar),
            "pool": pool,
            "need": need,
            "fallback": [(n, q) not in preferred for n, q in zip(need, pool, strict=True)],
            "beyond_20_miles": p[:, PlacementColumn.WITHIN_20_MILES] == 0,
        }
    )
    counts = frame.value_counts().rename("placements").reset_index()
    in_house = np.array([pool.in_house for pool in scenario.pools.values()])
    return pd.DataFrame(
        {
            "month": _month_labels(calendar, counts["month"].to_numpy(dtype=np.int64)),
            "pool": pool_names[counts["pool"].to_numpy(dtype=np.int64)],
            "need": NEED_LABELS[counts["need"].to_numpy(dtype=np.int64)],
            "in_house": in_house[counts["pool"].to_numpy(dtype=np.int64)],
            "fallback": counts["fallback"].to_numpy(dtype=bool),
            "beyond_20_miles": counts["beyond_20_miles"].to_numpy(dtype=bool),
            "placements": counts["placements"].to_numpy(dtype=np.int64),
        }
    ).sort_values(["month", "pool", "need"], ignore_index=True)


def _households(record: ReplicationRecord, calendar: Calendar, pool_names: np.ndarray) -> pd.DataFrame:
    pools = np.unique(record.households[:, LogColumn.POOL]).astype(np.int64)
    values = step_values(record.households, calendar.snapshot_days, len(pool_names))[:, pools]
    dates = np.repeat(np.array(calendar.snapshot_dates, dtype="datetime64[D]"), len(pools))
    return pd.DataFrame(
        {
            "date": pd.to_datetime(dates),
            "pool": np.tile(pool_names[pools], len(calendar.snapshot_days)),
            "households": values.ravel(),
        }
    )


def _flows(record: ReplicationRecord, scenario: Scenario) -> pd.DataFrame:
    """Children in care at the start, entering, leaving and in care at the end: one row per replication."""
    cohort = record.cohort
    horizon = scenario.horizon.days
    # young people Staying Put from the start left care before it; children kept out by the scheme never came
    children = ~cohort.staying_put_at_start & ~_absent(cohort)
    in_care_at_end = int(np.sum(np.isnan(record.exit_day[children])))
    return pd.DataFrame(
        {
            "starting": [int(cohort.starting.sum())],
            "entries": [int((~cohort.starting[children]).sum())],
            "exits": [int(np.sum(record.exit_day <= horizon))],
            "in_care_at_end": [in_care_at_end],
            "events": [record.events],
        }
    )
