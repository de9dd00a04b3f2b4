"""Tidy result tables, built after the run from the raw arrays of each replication.

Per-replication tables carry a `replication` column; `summarise` turns any of them into the
mean, the 95% confidence interval of the mean (Monte Carlo error) and the P10/P50/P90 spread
across replications (risk), filling in zeros for replications where a combination did not occur.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.model import IN_CARE, STAYING_CLOSE, STAYING_PUT, LogColumn, PlacementColumn, ReplicationRecord
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import (
    AGE_BAND_BOUNDS_YEARS,
    AGE_BANDS,
    CATEGORIES_OF_NEED,
    DAYS_PER_YEAR,
    EXIT_ROUTES,
    GAP_KINDS,
    LEAVING_CARE_AGE_YEARS,
    PLACEMENT_NEEDS,
    SEXES,
    SUFFICIENT_GAP_KINDS,
)
from sim.results.costs import (
    NEED_LABELS,
    FinancialYears,
    PricedPlacements,
    drawn_price_factors,
    high_cost_columns,
    placement_need_index,
    spend_columns,
)
from sim.results.grant import GrantPeriods, grant_by_year
from sim.results.stability import moves_by_quarter, stability_rows

BAND_UPPER_YEARS = np.array([upper for _, upper in AGE_BAND_BOUNDS_YEARS[:-1]])
TABLES = (
    "stock",
    "occupancy",
    "entries",
    "exits",
    "gaps",
    "gap_ledger",
    "placement_days",
    "placements",
    "households",
    "flows",
    "spend",
    "high_cost",
    "stock_detail",
    "stock_31_march",
    "care_leavers",
    "leaving_care",
    "uasc_transfers",
    "uasc_grant",
    "stability",
    "placement_moves",
)
# Care leavers (`_care_leavers`): their age in whole years on the snapshot date and where they live. Staying Put
# and Staying Close are the post-18 placements; every other young person who left care at 18 counts as a care
# leaver until 21 in accommodation the model does not follow (nothing is drawn or assumed for it).
CARE_LEAVER_AGES = ("18", "19", "20", "21+")
CARE_LEAVER_UNTIL_YEARS = 21.0  # leaving-care duties to 21 (to 25 only in education or training: not modelled)
CARE_LEAVER_ACCOMMODATION = ("staying_put", "staying_close", "other_not_modelled")


@dataclass(frozen=True)
class Calendar:
    """Snapshot days (stock counted at 00:00) and calendar months of a horizon."""

    snapshot_days: np.ndarray
    snapshot_dates: list[dt.date]
    month_starts: np.ndarray  # day each month (clipped to the horizon) starts
    month_ends: np.ndarray
    month_labels: list[dt.date]  # first day of each calendar month
    financial_years: FinancialYears

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> Calendar:
        start, end = scenario.horizon.start, scenario.horizon.end
        months = []
        cursor = dt.date(start.year, start.month, 1)
        while cursor < end:
            months.append(cursor)
            cursor = dt.date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        month_days = np.array([(m - start).days for m in months] + [(end - start).days], dtype=float)
        anniversaries = [
            start.replace(year=start.year + k)
            if not (start.month == 2 and start.day == 29)
            else dt.date(start.year + k, 2, 28)
            for k in range(scenario.horizon.years + 1)
        ]
        snapshot_dates = sorted({start, end, *anniversaries, *(m for m in months[1:])} | {end})
        return cls(
            snapshot_days=np.array([(d - start).days for d in snapshot_dates], dtype=float),
            snapshot_dates=snapshot_dates,
            month_starts=np.maximum(month_days[:-1], 0.0),
            month_ends=month_days[1:],
            month_labels=months,
            financial_years=FinancialYears.for_scenario(scenario),
        )

    def periods(self, period: str, april_firsts: bool = False) -> list:
        """The labels a table's `period` column takes over the horizon: every financial year, month or snapshot
        date (only the 1 April snapshots, the end of each 31 March, with `april_firsts`)."""
        if period == "financial_year":
            return list(self.financial_years.labels)
        if period == "month":
            return list(_dates(self.month_labels))
        dates = [d for d in self.snapshot_dates if not april_firsts or (d.month, d.day) == (4, 1)]
        return list(_dates(dates))

    @property
    def year_end_dates(self) -> list[dt.date]:
        """The start date and each anniversary up to the horizon end."""
        start = self.snapshot_dates[0]
        return [
            d
            for d in self.snapshot_dates
            if (d.month, d.day) == (start.month, start.day)
            or ((start.month, start.day) == (2, 29) and (d.month, d.day) == (2, 28))
        ]


def age_band_at(birth_day: np.ndarray, day: np.ndarray) -> np.ndarray:
    return np.searchsorted(BAND_UPPER_YEARS, (day - birth_day) / DAYS_PER_YEAR, side="right")


class Labels:
    """An integer-coded column's labels. Codes follow alphabetical order, so sorting codes sorts labels.

    Tables carry labels as pandas categoricals with these codes: a byte a row rather than a string,
    which made 1,000 replications' tables a third smaller to hold, pickle and concatenate.
    """

    def __init__(self, labels) -> None:
        self.labels = np.asarray(list(labels), dtype=object)
        self.order = np.argsort(self.labels.astype(str), kind="stable")
        self.rank = np.empty(len(self.labels), dtype=np.int64)
        self.rank[self.order] = np.arange(len(self.labels))

    def __len__(self) -> int:
        return len(self.labels)

    def code(self, index: np.ndarray) -> np.ndarray:
        return self.rank[index]

    def label(self, code: np.ndarray) -> pd.Categorical:
        """Labels of the codes, as a categorical column."""
        return pd.Categorical.from_codes(code, categories=self.labels[self.order].astype(str))


BANDS = Labels(AGE_BANDS)
NEEDS = Labels(NEED_LABELS)
ROUTES = Labels(EXIT_ROUTES)
CATEGORIES = Labels(CATEGORIES_OF_NEED)
KINDS = Labels(GAP_KINDS)
LEAVER_AGES = Labels(CARE_LEAVER_AGES)
ACCOMMODATION = Labels(CARE_LEAVER_ACCOMMODATION)
SEX = Labels(SEXES)
AGE_18_ROUTE = EXIT_ROUTES.index("age_18")
SECURE = PLACEMENT_NEEDS.index("secure")


def batch_tables(
    records: list[ReplicationRecord], scenario: Scenario, calendar: Calendar, seed: int | None = None
) -> dict[str, pd.DataFrame]:
    """Every result table for a batch of replications, one DataFrame each (a `replication` column first).

    Spend is priced at the scenario's own prices (costs.at_drawn_prices scales it to each replication's draw);
    the high_cost table, whose counts cannot be scaled, is counted at each replication's drawn prices when
    the run's `seed` is given, at the scenario's own prices otherwise.

    Built with array operations over the whole batch: a pandas frame per replication and table cost
    more than simulating the replication.
    """
    batch = Batch(records, scenario, calendar)
    return {
        "stock": _stock(batch),
        "occupancy": _occupancy(batch),
        "entries": _entries(batch),
        "exits": _exits(batch),
        "gaps": _gaps(batch),
        "gap_ledger": _gap_ledger(batch),
        "placement_days": _placement_days(batch),
        "placements": _placements_started(batch),
        "households": _households(batch),
        "flows": _flows(batch),
        "spend": _spend(batch),
        "high_cost": _high_cost(batch, seed),
        "stock_detail": _stock_detail(batch),
        "stock_31_march": _stock_31_march(batch),
        "care_leavers": _care_leavers(batch),
        "leaving_care": _leaving_care(batch),
        "uasc_transfers": _uasc_transfers(batch),
        "uasc_grant": _uasc_grant(batch),
        # the DfE stability indicators (sim.results.stability): whole financial years and quarters only
        "stability": stability_rows(records, scenario, calendar.financial_years),
        "placement_moves": moves_by_quarter(records, scenario, calendar.financial_years),
    }


class Batch:
    """The records of a batch with their placements stacked, each row tagged with its position in the batch."""

    def __init__(self, records: list[ReplicationRecord], scenario: Scenario, calendar: Calendar) -> None:
        self.records = records
        self.scenario = scenario
        self.calendar = calendar
        self.replications = np.array([r.replication for r in records], dtype=np.int64)
        self.pools = Labels(scenario.pools)
        self.in_house = np.array([pool.in_house for pool in scenario.pools.values()])
        self.placements = np.concatenate([r.placements for r in records])
        self.position = np.repeat(np.arange(len(records)), [len(r.placements) for r in records])
        offsets = np.cumsum([0] + [r.cohort.size for r in records[:-1]])
        self.birth_day = np.concatenate([r.cohort.birth_day for r in records])
        self.child = self.placements[:, PlacementColumn.CHILD].astype(np.int64) + offsets[self.position]
        self.child_position = np.repeat(np.arange(len(records)), [r.cohort.size for r in records])
        self.uasc = np.concatenate([r.cohort.uasc for r in records]).astype(bool)
        male = np.concatenate([r.cohort.male for r in records]).astype(bool)
        self.sex = np.where(male, SEXES.index("male"), SEXES.index("female"))  # per child: index into SEXES

    def rows(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Placements kept, their batch positions and the birth days of their children."""
        return self.placements[keep], self.position[keep], self.birth_day[self.child[keep]]


def _encode(keys: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    code = np.zeros(len(keys[0]), dtype=np.int64)
    for key, size in zip(keys, sizes, strict=True):
        code = code * size + key
    return code


def _decode(code: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    parts = []
    for size in reversed(sizes):
        parts.append(code % size)
        code = code // size
    return parts[::-1]


def _count(keys: list[np.ndarray], sizes: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct combinations of integer keys, in lexicographic order, with how often each occurs."""
    unique, counts = np.unique(_encode(keys, sizes), return_counts=True)
    return _decode(unique, sizes), counts


def _groups(keys: list[np.ndarray], sizes: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct combinations of keys (decoded) and each row's group number."""
    unique, inverse = np.unique(_encode(keys, sizes), return_inverse=True)
    return _decode(unique, sizes), inverse.ravel()


def _active_counts(group: np.ndarray, n_groups: int, start: np.ndarray, end: np.ndarray, days: np.ndarray):
    """(groups, days) how many intervals [start, end) of each group cover each day.

    Sorted keys group * span + time make one searchsorted answer every (group, day): intervals of
    lower groups have both their start and end keys below, so they cancel. Times past the last day
    are clipped to just after it, which changes no count.
    """
    span = float(max(days.max(initial=0.0), 0.0) + 2.0)
    start, end = np.minimum(start, span - 1.0), np.minimum(end, span - 1.0)
    starts = np.sort(group * span + start)
    ends = np.sort(group * span + end)
    queries = (np.arange(n_groups)[:, None] * span + days[None, :]).ravel()
    covered = np.searchsorted(starts, queries, side="right") - np.searchsorted(ends, queries, side="right")
    return covered.reshape(n_groups, len(days))


def _days_by_group(group: np.ndarray, n_groups: int, start: np.ndarray, end: np.ndarray, calendar: Calendar):
    """(groups, months) days the intervals [start, end) of each group spend in each month.

    Each interval adds its part of its first and last month, and one whole month for each month in
    between (counted with a difference array), so the work is linear in intervals plus cells.
    """
    starts, ends = calendar.month_starts, calendar.month_ends
    n_months = len(starts)
    low, high = np.maximum(start, starts[0]), np.minimum(end, ends[-1])
    keep = low < high
    group, low, high = group[keep], low[keep], high[keep]
    first = np.searchsorted(ends, low, side="right")
    last = np.searchsorted(ends, high, side="left")
    same = first == last
    cells = n_groups * n_months
    days = np.bincount(group * n_months + first, np.where(same, high, ends[first]) - low, minlength=cells)
    days += np.bincount(group[~same] * n_months + last[~same], high[~same] - starts[last[~same]], minlength=cells)
    width = n_months + 1
    spanned = np.bincount(group[~same] * width + first[~same] + 1, minlength=n_groups * width)
    spanned -= np.bincount(group[~same] * width + last[~same], minlength=n_groups * width)
    whole_months = np.cumsum(spanned.reshape(n_groups, width), axis=1)[:, :n_months]
    return days.reshape(n_groups, n_months) + whole_months * (ends - starts)


def _band_pieces(p: np.ndarray, birth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split placements at the child's age-band birthdays: (row of p, band index, start, end) of each piece."""
    rows, bands, starts, ends = [], [], [], []
    opened, closed = p[:, PlacementColumn.START], p[:, PlacementColumn.END]
    for band, (low, high) in enumerate(AGE_BAND_BOUNDS_YEARS):
        upper = np.inf if band == len(AGE_BANDS) - 1 else birth + high * DAYS_PER_YEAR
        start = np.maximum(opened, birth + low * DAYS_PER_YEAR) if band else opened
        end = np.minimum(closed, upper)
        keep = np.flatnonzero(start < end)
        rows.append(keep)
        bands.append(np.full(len(keep), band))
        starts.append(start[keep])
        ends.append(end[keep])
    return np.concatenate(rows), np.concatenate(bands), np.concatenate(starts), np.concatenate(ends)


def _stock(batch: Batch) -> pd.DataFrame:
    """Children in care at each snapshot by placement need, pool and current age band."""
    p, position, birth = batch.rows(batch.placements[:, PlacementColumn.KIND] == IN_CARE)
    row, band, start, end = _band_pieces(p, birth)
    sizes = [len(batch.records), len(NEEDS), len(batch.pools), len(BANDS)]
    need, pool = p[row, PlacementColumn.NEED].astype(np.int64), p[row, PlacementColumn.POOL].astype(np.int64)
    keys = [position[row], NEEDS.code(need), batch.pools.code(pool), BANDS.code(band)]
    keys, g, snap, counts = _counts_on_days(keys, sizes, start, end, batch.calendar.snapshot_days)
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "date": _dates(batch.calendar.snapshot_dates)[snap],
            "need": NEEDS.label(keys[1][g]),
            "pool": batch.pools.label(keys[2][g]),
            "age_band": BANDS.label(keys[3][g]),
            "children": counts[g, snap],
        }
    )


def _counts_on_days(keys: list[np.ndarray], sizes: list[int], start: np.ndarray, end: np.ndarray, days: np.ndarray):
    """Pieces of placement active on each of `days`, counted by the combination of `keys` (the replication's
    position first): the combinations (keys), and the non-zero cells (g, snap) in the order of replication, day,
    then the other keys, with the counts."""
    keys, group = _groups(keys, sizes)
    counts = _active_counts(group, len(keys[0]), start, end, days)
    g, snap = np.nonzero(counts)
    order = np.lexsort((*[key[g] for key in reversed(keys[1:])], snap, keys[0][g]))
    return keys, g[order], snap[order], counts


def _stock_detail(batch: Batch) -> pd.DataFrame:
    """Children in care at each snapshot by current age band, UASC or not, in-house pool or not, and placed beyond
    20 miles or not (the placement's `within_20_miles` draw, 0 = beyond): distance and UASC on the stock.

    The `stock` table's children split another way (its total at each date is the same); a table of its own so
    that `stock`, and everything read from it, is unchanged. Sex is on `stock_31_march` only: here it would nearly
    double the rows (713,254 against 386,862 for Stockport's 200 replications) for a split nothing reads."""
    p, position, birth = batch.rows(batch.placements[:, PlacementColumn.KIND] == IN_CARE)
    uasc = batch.uasc[batch.child[batch.placements[:, PlacementColumn.KIND] == IN_CARE]]
    row, band, start, end = _band_pieces(p, birth)
    pool = p[row, PlacementColumn.POOL].astype(np.int64)
    far = (p[row, PlacementColumn.WITHIN_20_MILES] == 0).astype(np.int64)
    in_house = batch.in_house[pool].astype(np.int64)
    sizes = [len(batch.records), len(BANDS), 2, 2, 2]
    keys, group = _groups([position[row], BANDS.code(band), uasc[row].astype(np.int64), in_house, far], sizes)
    counts = _active_counts(group, len(keys[0]), start, end, batch.calendar.snapshot_days)
    g, snap = np.nonzero(counts)
    order = np.lexsort((keys[4][g], keys[3][g], keys[2][g], keys[1][g], snap, keys[0][g]))
    g, snap = g[order], snap[order]
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "date": _dates(batch.calendar.snapshot_dates)[snap],
            "age_band": BANDS.label(keys[1][g]),
            "uasc": keys[2][g].astype(bool),
            "in_house": keys[3][g].astype(bool),
            "beyond_20_miles": keys[4][g].astype(bool),
            "children": counts[g, snap],
        }
    )


def _stock_31_march(batch: Batch) -> pd.DataFrame:
    """Children in care at the end of each 31 March of the horizon (the 1 April snapshots, at 00:00) by placement
    need, current age band and sex: the sufficiency statement's stock (RunSummary.statement), rows with children
    only. Its own table, kept to those dates, because `stock` by sex as well would double the largest table."""
    in_care = batch.placements[:, PlacementColumn.KIND] == IN_CARE
    p, position, birth = batch.rows(in_care)
    child = batch.child[in_care]
    row, band, start, end = _band_pieces(p, birth)
    dates = [d for d in batch.calendar.snapshot_dates if (d.month, d.day) == (4, 1)]
    days = batch.calendar.snapshot_days[[batch.calendar.snapshot_dates.index(d) for d in dates]]
    need = p[row, PlacementColumn.NEED].astype(np.int64)
    sizes = [len(batch.records), len(NEEDS), len(BANDS), len(SEX)]
    keys = [position[row], NEEDS.code(need), BANDS.code(band), SEX.code(batch.sex[child[row]])]
    keys, g, snap, counts = _counts_on_days(keys, sizes, start, end, days)
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "date": _dates(dates)[snap],
            "need": NEEDS.label(keys[1][g]),
            "age_band": BANDS.label(keys[2][g]),
            "sex": SEX.label(keys[3][g]),
            "children": counts[g, snap],
        }
    )


def _care_leavers(batch: Batch) -> pd.DataFrame:
    """Care leavers at each snapshot by age (CARE_LEAVER_AGES), accommodation (CARE_LEAVER_ACCOMMODATION) and
    UASC or not: columns replication, date, age, accommodation, uasc, young_people.

    A care leaver here is a young person who left care at 18 in the horizon (exit route age_18) or was Staying Put
    on the start date: in their Staying Put or Staying Close placement while it lasts (at any age), and otherwise
    from leaving care (or the post-18 placement's end) to their 21st birthday, in accommodation not modelled.
    Young people who left care before the start date and hold no place are not in the model, so the first three
    years undercount. Each has at most one post-18 placement, and it starts the day they leave care."""
    exit_day = np.concatenate([r.exit_day for r in batch.records])
    route = np.concatenate([r.exit_route for r in batch.records])
    before = np.concatenate([r.cohort.staying_put_at_start for r in batch.records])
    leaver = (route == AGE_18_ROUTE) | before
    other_from = np.where(before, 0.0, exit_day)
    post = batch.placements[:, PlacementColumn.KIND] != IN_CARE
    post_child, post_end = batch.child[post], batch.placements[post, PlacementColumn.END]
    np.maximum.at(other_from, post_child, post_end)  # the rest of the time to 21 starts when the placement ends
    kind = batch.placements[post, PlacementColumn.KIND].astype(np.int64)
    people = np.flatnonzero(leaver)
    child = np.concatenate([post_child, people])
    start = np.concatenate([batch.placements[post, PlacementColumn.START], other_from[people]])
    end = np.concatenate([post_end, batch.birth_day[people] + CARE_LEAVER_UNTIL_YEARS * DAYS_PER_YEAR])
    post_accommodation = np.select([kind == STAYING_PUT, kind == STAYING_CLOSE], [0, 1], default=2)
    accommodation = np.concatenate([post_accommodation, np.full(len(people), 2)])
    return _leaver_counts(batch, child, start, end, accommodation)


def _leaver_counts(batch: Batch, child: np.ndarray, start: np.ndarray, end: np.ndarray, accommodation: np.ndarray):
    """Intervals [start, end) of care leavers split at their 19th, 20th and 21st birthdays, counted at each
    snapshot by replication, accommodation, age and UASC."""
    rows, ages, starts, ends = [], [], [], []
    for age, low in enumerate((LEAVING_CARE_AGE_YEARS, 19.0, 20.0, CARE_LEAVER_UNTIL_YEARS)):
        low_day = batch.birth_day[child] + low * DAYS_PER_YEAR
        high_day = batch.birth_day[child] + (low + 1) * DAYS_PER_YEAR if age < 3 else np.full(len(child), np.inf)
        piece_start = np.maximum(start, low_day) if age else start
        piece_end = np.minimum(end, high_day)
        keep = np.flatnonzero(piece_start < piece_end)
        rows.append(keep)
        ages.append(np.full(len(keep), age))
        starts.append(piece_start[keep])
        ends.append(piece_end[keep])
    row, age = np.concatenate(rows), np.concatenate(ages)
    who = child[row]
    sizes = [len(batch.records), len(ACCOMMODATION), len(LEAVER_AGES), 2]
    keys, group = _groups(
        [batch.child_position[who], ACCOMMODATION.code(accommodation[row]), LEAVER_AGES.code(age), batch.uasc[who]],
        sizes,
    )
    counts = _active_counts(
        group, len(keys[0]), np.concatenate(starts), np.concatenate(ends), batch.calendar.snapshot_days
    )
    g, snap = np.nonzero(counts)
    order = np.lexsort((keys[3][g], keys[2][g], keys[1][g], snap, keys[0][g]))
    g, snap = g[order], snap[order]
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "date": _dates(batch.calendar.snapshot_dates)[snap],
            "age": LEAVER_AGES.label(keys[2][g]),
            "accommodation": ACCOMMODATION.label(keys[1][g]),
            "uasc": keys[3][g].astype(bool),
            "young_people": counts[g, snap],
        }
    )


def _leaving_care(batch: Batch) -> pd.DataFrame:
    """Young people leaving care at 18 (exit route age_18) in each financial year, UASC or not: columns
    replication, financial_year, uasc, young_people (only combinations that occur)."""
    exit_day = np.concatenate([r.exit_day for r in batch.records])
    route = np.concatenate([r.exit_route for r in batch.records])
    who = np.flatnonzero(route == AGE_18_ROUTE)
    years = batch.calendar.financial_years
    year = np.clip(np.searchsorted(years.ends, exit_day[who], side="right"), 0, len(years.labels) - 1)
    sizes = [len(batch.records), len(years.labels), 2]
    keys, counts = _count([batch.child_position[who], year, batch.uasc[who].astype(np.int64)], sizes)
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0]],
            "financial_year": np.asarray(years.labels, dtype=object)[keys[1]].astype(str),
            "uasc": keys[2].astype(bool),
            "young_people": counts,
        }
    )


def _uasc_transfers(batch: Batch) -> pd.DataFrame:
    """The National Transfer Scheme's transfers in each financial year (entries.uasc.national_transfer_scheme):
    columns replication, financial_year, direction ('in': offered children taken, 'out': arrivals transferred to
    another authority), children (only combinations that occur; none without the scheme)."""
    records = batch.records
    transfers = np.concatenate([r.transfers for r in records])
    position = np.repeat(np.arange(len(records)), [len(r.transfers) for r in records])
    years = batch.calendar.financial_years
    year = np.clip(np.searchsorted(years.ends, transfers[:, 0], side="right"), 0, len(years.labels) - 1)
    out = (transfers[:, 2] < 0).astype(np.int64)
    keys, counts = _count([position, year, out], [len(records), len(years.labels), 2])
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0]],
            "financial_year": np.asarray(years.labels, dtype=object)[keys[1]].astype(str),
            "direction": np.array(["in", "out"], dtype=object)[keys[2]].astype(str),
            "children": counts,
        }
    )


def _uasc_grant(batch: Batch) -> pd.DataFrame:
    """Home Office grant income for UASC by financial year and group (sim.results.grant): columns replication,
    financial_year, group, income; empty without [prices.uasc_grant]."""
    prices = batch.scenario.prices
    if prices is None or prices.uasc_grant is None:
        return pd.DataFrame({"replication": [], "financial_year": [], "group": [], "income": []})
    start_date, horizon = batch.scenario.horizon.start, float(batch.scenario.horizon.days)
    years = batch.calendar.financial_years
    rate_days = np.array([(r.from_date - start_date).days for r in prices.uasc_grant.rates], dtype=float)
    periods = GrantPeriods.of(prices.uasc_grant, np.asarray(years.starts, dtype=float), rate_days, horizon)
    rows = (batch.placements[:, PlacementColumn.KIND] == IN_CARE) & batch.uasc[batch.child]
    p, position, birth = batch.rows(rows)
    in_care = (position, p[:, PlacementColumn.START], np.minimum(p[:, PlacementColumn.END], horizon), birth)
    exit_day = np.concatenate([r.exit_day for r in batch.records])
    route = np.concatenate([r.exit_route for r in batch.records])
    left = np.flatnonzero(batch.uasc & (route == AGE_18_ROUTE))
    leavers = (batch.child_position[left], exit_day[left], np.full(len(left), horizon), batch.birth_day[left])
    return grant_by_year(periods, in_care, leavers, batch.replications, list(years.labels))


def _occupancy(batch: Batch) -> pd.DataFrame:
    """Places occupied (children in care and young people staying put or close), the usable places they are
    measured against (`capacity`) and the approved places (`approved`, the same when usable_share is 1), per pool."""
    p, position = batch.placements, batch.position
    n_pools, n_reps, days = len(batch.pools), len(batch.records), batch.calendar.snapshot_days
    group = position * n_pools + p[:, PlacementColumn.POOL].astype(np.int64)
    start, end = p[:, PlacementColumn.START], p[:, PlacementColumn.END]
    occupied = _active_counts(group, n_reps * n_pools, start, end, days)
    post = p[:, PlacementColumn.KIND] != IN_CARE
    post_18 = _active_counts(group[post], n_reps * n_pools, start[post], end[post], days)
    capacity = np.stack([step_values(r.capacity, days, n_pools) for r in batch.records])  # (reps, days, pools)
    approved = np.stack([step_values(r.approved, days, n_pools) for r in batch.records])

    def by_rep_day_pool(matrix: np.ndarray) -> np.ndarray:
        return matrix.reshape(n_reps, n_pools, len(days)).transpose(0, 2, 1).ravel()

    return pd.DataFrame(
        {
            "replication": np.repeat(batch.replications, len(days) * n_pools),
            "date": np.tile(np.repeat(_dates(batch.calendar.snapshot_dates), n_pools), n_reps),
            "pool": batch.pools.label(np.tile(batch.pools.code(np.arange(n_pools)), n_reps * len(days))),
            "occupied": by_rep_day_pool(occupied).astype(float),
            "post_18": by_rep_day_pool(post_18).astype(float),
            "capacity": np.where(np.isinf(capacity), np.nan, capacity).ravel(),
            "approved": np.where(np.isinf(approved), np.nan, approved).ravel(),
        }
    )


def step_values(log: np.ndarray, days: np.ndarray, n_pools: int) -> np.ndarray:
    """Value of a (day, pool, value) change log at each day, per pool (last change on or before the day)."""
    values = np.full((len(days), n_pools), np.nan)
    for index in range(n_pools):
        rows = log[log[:, LogColumn.POOL] == index]
        if len(rows) == 0:
            continue
        position = np.searchsorted(rows[:, LogColumn.DAY], days, side="right") - 1
        values[:, index] = np.where(position >= 0, rows[np.maximum(position, 0), LogColumn.VALUE], np.nan)
    return values


def _dates(dates: list[dt.date]) -> pd.DatetimeIndex:
    return pd.to_datetime(np.array(dates, dtype="datetime64[D]"))


def _month_of(days: np.ndarray, calendar: Calendar) -> np.ndarray:
    return np.searchsorted(calendar.month_ends, days, side="right")


def _entries(batch: Batch) -> pd.DataFrame:
    cohorts = [r.cohort for r in batch.records]
    entrants = [c.entrants for c in cohorts]
    position = np.concatenate([np.full(int(e.sum()), i) for i, e in enumerate(entrants)])
    month = _month_of(np.concatenate([c.entry_day[e] for c, e in zip(cohorts, entrants, strict=True)]), batch.calendar)
    band = np.concatenate([c.entry_band[e] for c, e in zip(cohorts, entrants, strict=True)])
    cin = np.concatenate([c.cin[e] for c, e in zip(cohorts, entrants, strict=True)])
    uasc = np.concatenate([c.uasc[e] for c, e in zip(cohorts, entrants, strict=True)]).astype(np.int64)
    sizes = [len(cohorts), len(batch.calendar.month_labels), len(BANDS), len(CATEGORIES), 2]
    keys, counts = _count([position, month, BANDS.code(band), CATEGORIES.code(cin), uasc], sizes)
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0]],
            "month": _dates(batch.calendar.month_labels)[keys[1]],
            "age_band": BANDS.label(keys[2]),
            "category_of_need": CATEGORIES.label(keys[3]),
            "uasc": keys[4].astype(bool),
            "children": counts,
        }
    )


def _exits(batch: Batch) -> pd.DataFrame:
    records = batch.records
    left = [~np.isnan(r.exit_day) for r in records]
    position = np.concatenate([np.full(int(k.sum()), i) for i, k in enumerate(left)])
    day = np.concatenate([r.exit_day[k] for r, k in zip(records, left, strict=True)])
    route = np.concatenate([r.exit_route[k] for r, k in zip(records, left, strict=True)])
    birth = np.concatenate([r.cohort.birth_day[k] for r, k in zip(records, left, strict=True)])
    sizes = [len(records), len(batch.calendar.month_labels), len(ROUTES), len(BANDS)]
    month = _month_of(day, batch.calendar)
    keys, counts = _count([position, month, ROUTES.code(route), BANDS.code(age_band_at(birth, day))], sizes)
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0]],
            "month": _dates(batch.calendar.month_labels)[keys[1]],
            "route": ROUTES.label(keys[2]),
            "age_band": BANDS.label(keys[3]),
            "children": counts,
        }
    )


def _gaps(batch: Batch) -> pd.DataFrame:
    """Placements not in the child's first-choice pool: count by start month and child-days by month."""
    placements = batch.placements
    gap = placements[:, PlacementColumn.POOL] != placements[:, PlacementColumn.WANTED]
    p, position, birth = batch.rows((placements[:, PlacementColumn.KIND] == IN_CARE) & gap)
    return _gap_flows(batch, p, position, birth, {})


def _gap_ledger(batch: Batch) -> pd.DataFrame:
    """Every placement of a child in care that is not a first choice within 20 miles, by its gap kind (GAP_KINDS):
    `sufficient` keeps the right kind from a pool below the first choice (placed externally, a cost question)
    apart from the kinds that are not sufficient. The rows with wanted_pool != used_pool add up to `gaps`."""
    placements = batch.placements
    in_care = placements[:, PlacementColumn.KIND] == IN_CARE
    kind = _gap_kind(batch, placements)
    p, position, birth = batch.rows(in_care & (kind >= 0))
    table = _gap_flows(batch, p, position, birth, {"kind": (KINDS, kind[in_care & (kind >= 0)])})
    table.insert(table.columns.get_loc("kind") + 1, "sufficient", table["kind"].isin(SUFFICIENT_GAP_KINDS).to_numpy())
    return table


def _gap_kind(batch: Batch, p: np.ndarray) -> np.ndarray:
    """Each placement's index in GAP_KINDS, the first that applies in that order; -1 for a first choice within
    20 miles (no gap at all). `p` is the batch's placements. `placed_apart`: a sibling-group member's first
    placement in another pool, or another fostering household, than its group's first member
    ([entries.sibling_groups], `placed_apart` of the records)."""
    scenario = batch.scenario
    pools = list(scenario.pools.values())
    kinds = np.array([pool.kind for pool in pools])
    proper = np.zeros((len(PLACEMENT_NEEDS), len(pools)), dtype=bool)  # need x pool: a proper placement of it
    for column, pool in enumerate(pools):
        for need in pool.serves:
            proper[PLACEMENT_NEEDS.index(need), column] = pool.proper
    need, used = p[:, PlacementColumn.NEED].astype(np.int64), p[:, PlacementColumn.POOL].astype(np.int64)
    elsewhere = used != p[:, PlacementColumn.WANTED]
    right_kind = proper[need, used]
    conditions = {
        "secure_shortage": (need == SECURE) & ~right_kind,
        "emergency": kinds[used] == "emergency",
        "unregistered": kinds[used] == "unregistered",
        "wrong_kind": ~right_kind,
        "placed_apart": _placed_apart(batch, len(p)),
        "beyond_20_miles": p[:, PlacementColumn.WITHIN_20_MILES] == 0,
        "external_right_kind": elsewhere & ~batch.in_house[used],
        "in_house_right_kind": elsewhere,
    }
    return np.select(list(conditions.values()), [GAP_KINDS.index(kind) for kind in conditions], default=-1)


def _placed_apart(batch: Batch, rows: int) -> np.ndarray:
    """True for the batch's placement rows that the records list as placed apart from siblings."""
    apart = np.zeros(rows, dtype=bool)
    offsets = np.cumsum([0] + [len(r.placements) for r in batch.records[:-1]])
    for offset, record in zip(offsets.tolist(), batch.records, strict=True):
        apart[offset + record.placed_apart] = True
    return apart


def _gap_flows(
    batch: Batch, p: np.ndarray, position: np.ndarray, birth: np.ndarray, extra: dict[str, tuple[Labels, np.ndarray]]
) -> pd.DataFrame:
    """Gap placements by start month and child-days by month, by need, `extra` keys (label, index per row),
    first-choice pool, pool used and age band at the start."""
    pools = batch.pools
    start, end = p[:, PlacementColumn.START], p[:, PlacementColumn.END]
    band = age_band_at(birth, start)
    need, wanted, used = (
        p[:, column].astype(np.int64) for column in (PlacementColumn.NEED, PlacementColumn.WANTED, PlacementColumn.POOL)
    )
    columns = [
        ("need", NEEDS, need),
        *((name, labels, index) for name, (labels, index) in extra.items()),
        ("wanted_pool", pools, wanted),
        ("used_pool", pools, used),
        ("age_band", BANDS, band),
    ]
    sizes = [len(batch.records)] + [len(labels) for _, labels, _ in columns]
    keys, group = _groups([position] + [labels.code(index) for _, labels, index in columns], sizes)
    n_groups, n_months = len(keys[0]), len(batch.calendar.month_labels)
    child_days = _days_by_group(group, n_groups, start, end, batch.calendar)
    started = np.bincount(group * n_months + _month_of(start, batch.calendar), minlength=n_groups * n_months)
    started = started[: n_groups * n_months].reshape(n_groups, n_months)
    g, month = np.nonzero((child_days > 0) | (started > 0))
    order = np.lexsort((*(key[g] for key in reversed(keys[1:])), month, keys[0][g]))
    g, month = g[order], month[order]
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "month": _dates(batch.calendar.month_labels)[month],
            **{name: labels.label(key[g]) for (name, labels, _), key in zip(columns, keys[1:], strict=True)},
            "placements": started[g, month].astype(np.int64),
            "child_days": child_days[g, month],
        }
    )


def _placement_days(batch: Batch) -> pd.DataFrame:
    """Days of each pool's places used in each month, by placement need (post-18 arrangements by name).

    `days_beyond_20_miles` counts the days of placements more than 20 miles from home.
    """
    p, pools = batch.placements, batch.pools
    sizes = [len(batch.records), len(pools), len(NEEDS)]
    pool = p[:, PlacementColumn.POOL].astype(np.int64)
    keys, group = _groups([batch.position, pools.code(pool), NEEDS.code(placement_need_index(p))], sizes)
    start, end = p[:, PlacementColumn.START], p[:, PlacementColumn.END]
    totals = _days_by_group(group, len(keys[0]), start, end, batch.calendar)
    far = p[:, PlacementColumn.WITHIN_20_MILES] == 0
    far_days = _days_by_group(group[far], len(keys[0]), start[far], end[far], batch.calendar)
    g, month = np.nonzero(totals > 0)
    order = np.lexsort((keys[2][g], keys[1][g], month, keys[0][g]))
    g, month = g[order], month[order]
    pool_index = pools.order[keys[1][g]]
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0][g]],
            "month": _dates(batch.calendar.month_labels)[month],
            "pool": pools.labels[pool_index],
            "need": NEEDS.label(keys[2][g]),
            "in_house": batch.in_house[pool_index],
            "days": totals[g, month],
            "days_beyond_20_miles": far_days[g, month],
        }
    )


def _placements_started(batch: Batch) -> pd.DataFrame:
    """Placements of children in care started each month, by pool and need; `fallback` marks a pool outside
    the need's preferred list (an emergency or different-kind placement)."""
    placements = batch.placements
    keep = (placements[:, PlacementColumn.KIND] == IN_CARE) & (placements[:, PlacementColumn.START] > 0)
    p, position = placements[keep], batch.position[keep]
    pools, scenario = batch.pools, batch.scenario
    preferred = np.zeros((len(NEED_LABELS), len(pools)), dtype=bool)
    for need, matching in scenario.matching.items():
        for name in matching.pools:
            preferred[PLACEMENT_NEEDS.index(need), list(scenario.pools).index(name)] = True
    need, pool = p[:, PlacementColumn.NEED].astype(np.int64), p[:, PlacementColumn.POOL].astype(np.int64)
    sizes = [len(batch.records), len(batch.calendar.month_labels), len(pools), len(NEEDS), 2]
    month = _month_of(p[:, PlacementColumn.START], batch.calendar)
    far = (p[:, PlacementColumn.WITHIN_20_MILES] == 0).astype(np.int64)
    keys, counts = _count([position, month, pools.code(pool), NEEDS.code(need), far], sizes)
    pool_index, need_index = pools.order[keys[2]], NEEDS.order[keys[3]]
    return pd.DataFrame(
        {
            "replication": batch.replications[keys[0]],
            "month": _dates(batch.calendar.month_labels)[keys[1]],
            "pool": pools.labels[pool_index],
            "need": NEED_LABELS[need_index],
            "in_house": batch.in_house[pool_index],
            "fallback": ~preferred[need_index, pool_index],
            "beyond_20_miles": keys[4].astype(bool),
            "placements": counts,
        }
    )


def _households(batch: Batch) -> pd.DataFrame:
    days, n_pools = batch.calendar.snapshot_days, len(batch.pools)
    dates = _dates(batch.calendar.snapshot_dates)
    columns: dict[str, list[np.ndarray]] = {"replication": [], "date": [], "pool": [], "households": []}
    for record, replication in zip(batch.records, batch.replications, strict=True):
        pools = np.unique(record.households[:, LogColumn.POOL]).astype(np.int64)
        values = step_values(record.households, days, n_pools)[:, pools]
        columns["replication"].append(np.full(values.size, replication))
        columns["date"].append(np.repeat(dates, len(pools)))
        columns["pool"].append(np.tile(batch.pools.code(pools), len(days)))
        columns["households"].append(values.ravel())
    table = {name: np.concatenate(parts) for name, parts in columns.items()}
    return pd.DataFrame({**table, "pool": batch.pools.label(table["pool"])})


def _flows(batch: Batch) -> pd.DataFrame:
    """Children in care at the start, entering, leaving and in care at the end: one row per replication (young
    people Staying Put from the start are none of these: they left care before it; nor are children the National
    Transfer Scheme kept out of care)."""
    horizon = batch.scenario.horizon.days
    records = batch.records
    return pd.DataFrame(
        {
            "replication": batch.replications,
            "starting": [int(r.cohort.starting.sum()) for r in records],
            "entries": [int(r.cohort.entrants.sum()) for r in records],
            "exits": [int(np.sum(r.exit_day <= horizon)) for r in records],
            "in_care_at_end": [int(np.sum(np.isnan(r.exit_day) & r.cohort.in_care_at_some_time)) for r in records],
            "events": [r.events for r in records],
        }
    )


def _priced_placements(batch: Batch) -> PricedPlacements:
    """The batch's placements with each row's child's price draw and complexity tier, and the household logs."""
    price_draws = np.concatenate([r.cohort.price for r in batch.records])
    tier = np.concatenate([r.cohort.tier for r in batch.records]).astype(np.int64)[batch.child]
    return PricedPlacements(
        rows=batch.placements,
        position=batch.position,
        birth_day=batch.birth_day[batch.child],
        price_draw=price_draws[batch.child, batch.placements[:, PlacementColumn.DRAW].astype(np.int64)],
        replications=len(batch.records),
        tier=tier,
        households=np.concatenate([r.households for r in batch.records]),
        household_position=np.repeat(np.arange(len(batch.records)), [len(r.households) for r in batch.records]),
    )


def _spend(batch: Batch) -> pd.DataFrame:
    columns = spend_columns(_priced_placements(batch), batch.scenario, batch.calendar.financial_years)
    return pd.DataFrame({"replication": batch.replications[columns.pop("position")], **columns})


def _high_cost(batch: Batch, seed: int | None) -> pd.DataFrame:
    """Placements of children in care active in each financial year, by pool priced per child, and how many cost
    at least £5,000 and £10,000 a week at that year's price level (costs.HIGH_COST_WEEKLY, with their sources):
    columns replication, financial_year, pool, placements, at_least_5k, at_least_10k. With a `seed`, at each
    replication's own drawn prices (sim.engine.parameters); without, at the scenario's."""
    years = batch.calendar.financial_years
    factors = None if seed is None else drawn_price_factors(batch.scenario, seed, batch.replications, years)
    columns = high_cost_columns(_priced_placements(batch), batch.scenario, years, factors)
    return pd.DataFrame({"replication": batch.replications[columns.pop("position")], **columns})


# ---------------------------------------------------------------------------------------------
# Across replications


def summarise(table: pd.DataFrame, keys: list[str], value: str, replications: int) -> pd.DataFrame:
    """Mean, 95% CI of the mean and P10/P50/P90 across replications of `value` by `keys`.

    A combination missing from a replication's table counts as zero there.
    """
    grouped = table.groupby(keys, observed=True, sort=True)
    combo = grouped.ngroup().to_numpy()
    summary = grouped.size().index.to_frame(index=False)
    where = combo * replications + _replication_index(table, replications)
    cells = len(summary) * replications
    matrix = np.bincount(where, table[value].to_numpy(dtype=float), cells).reshape(len(summary), replications)
    for column, values in statistics(matrix).items():
        summary[column] = values
    return summary


def statistics(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, 95% CI of the mean (t, NaN with one replication) and P10/P50/P90 of each row of a (cells,
    replications) matrix: the one definition every summary uses."""
    replications = matrix.shape[1]
    mean = matrix.mean(axis=1)
    if replications > 1:
        half_width = stats.t.ppf(0.975, replications - 1) * matrix.std(axis=1, ddof=1) / np.sqrt(replications)
    else:
        half_width = np.full(len(mean), np.nan)
    columns = {"mean": mean, "ci95_low": mean - half_width, "ci95_high": mean + half_width}
    for q, values in zip((10, 50, 90), np.percentile(matrix, (10, 50, 90), axis=1), strict=True):
        columns[f"p{q}"] = values
    return columns


TOTAL = "all"  # the label of a total row in a dense summary (`dense_summary`)


def dense_summary(
    frame: pd.DataFrame,
    value: str,
    years: list[str],
    keys: dict[str, list[str]],
    replications: int,
    groups: dict[str, dict[str, list[str]]] | None = None,
) -> pd.DataFrame:
    """`statistics` of `value` for every financial year x combination of `keys` (each with its labels in order),
    zero where a replication has none, with total rows: after each key's labels come its `groups` (a label and
    the labels it adds up) and TOTAL, in every combination (the grand total last).

    Dense because a table read as it is must not leave out the rows where no child is: a percentile over the
    replications that had one is not the percentile over all of them. The totals are summed per replication
    first, so their bands are the bands of the totals, not sums of bands. Columns financial_year, the keys and
    the statistics, in that order, sorted by year then each key's order."""
    groups = groups or {}
    cube = np.zeros((replications, len(years), *(len(labels) for labels in keys.values())))
    index = [_replication_index(frame, replications), _codes(frame["financial_year"], years, "financial_year")]
    index += [_codes(frame[key], labels, key) for key, labels in keys.items()]
    np.add.at(cube, tuple(index), frame[value].to_numpy(dtype=float))
    labels_out = [list(years)]
    for axis, (key, labels) in enumerate(keys.items(), start=2):
        members = [[labels.index(label) for label in group] for group in groups.get(key, {}).values()]
        extra = [np.take(cube, rows, axis=axis).sum(axis=axis, keepdims=True) for rows in members]
        cube = np.concatenate([cube, *extra, cube.sum(axis=axis, keepdims=True)], axis=axis)
        labels_out.append([*labels, *groups.get(key, {}), TOTAL])
    summary = pd.MultiIndex.from_product(labels_out, names=["financial_year", *keys]).to_frame(index=False)
    for column, values in statistics(cube.reshape(replications, -1).T).items():
        summary[column] = values
    return summary


def dense_table_summary(
    frame: pd.DataFrame, period: str, periods: list, keys: list[str], value: str, replications: int
) -> pd.DataFrame:
    """`statistics` of `value` for every one of `periods` (the horizon's dates, months or financial years) x
    every combination of `keys` (one or more) that occurs in the run, zero where a replication has none, with
    TOTAL rows: each key in turn, and every set of keys, replaced by its total.

    A <table>_summary.parquet file: read as it is, without zero-filling by hand. The combinations are those some
    replication had on some day (a combination none ever had would be zero in every row); their full product
    (every need x wanted pool x used pool, say) would hold mostly impossible rows, a cube too large for 1,000
    replications. Key columns become text (`true`/`false` for yes-no keys) so that a total can be `all`. The
    totals are summed per replication before the statistics, so their bands are the bands of the totals."""
    codes, labels = zip(*(_key_codes(frame[key]) for key in keys), strict=True)
    sizes = [len(key_labels) + 1 for key_labels in labels]  # the last code of each key is its TOTAL
    observed, row_combo = np.unique(_ravel(np.stack(codes, axis=1), sizes), return_inverse=True)
    # each observed combination adds to itself and to every total over a set of its keys
    observed_codes = np.stack(np.unravel_index(observed, sizes), axis=1)
    masks = np.array(list(itertools.product((False, True), repeat=len(keys))), dtype=bool)
    targets = np.stack([_ravel(np.where(mask, np.array(sizes) - 1, observed_codes), sizes) for mask in masks])
    combos = np.unique(targets)
    adds_to = np.zeros((len(observed), len(combos)))
    adds_to[np.arange(len(observed))[None, :].repeat(len(masks), 0), np.searchsorted(combos, targets)] = 1.0
    when = pd.Index(periods).get_indexer(frame[period])
    if (when < 0).any():
        raise ValueError(f"{period}: values outside the horizon's {len(periods)} periods")
    where = (_replication_index(frame, replications) * len(periods) + when) * len(observed) + row_combo
    weights = frame[value].to_numpy(dtype=float)
    by_observed = np.bincount(where, weights, replications * len(periods) * len(observed))
    cube = by_observed.reshape(-1, len(observed)) @ adds_to  # (replication x period, combination)
    summary = pd.DataFrame({period: np.repeat(np.asarray(periods), len(combos))})
    for key, key_labels, key_codes in zip(keys, labels, np.unravel_index(combos, sizes), strict=True):
        summary[key] = np.tile(np.append(np.asarray(key_labels, dtype=object), TOTAL)[key_codes], len(periods))
    for column, values in _chunked_statistics(cube.reshape(replications, -1).T).items():
        summary[column] = values
    return summary


def _key_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A key column's codes into its text labels (`true`/`false` for a yes-no column), in sorted order."""
    if column.dtype == bool:
        return column.to_numpy(dtype=np.int64), ["false", "true"]
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.is_monotonic_increasing:
        return column.cat.codes.to_numpy(dtype=np.int64), [str(label) for label in column.cat.categories]
    codes, labels = pd.factorize(column.astype(str), sort=True)
    return codes.astype(np.int64), list(labels)


def _ravel(codes: np.ndarray, sizes: list[int]) -> np.ndarray:
    return np.ravel_multi_index(tuple(codes.T), sizes).astype(np.int64)


def _chunked_statistics(matrix: np.ndarray, values_per_chunk: int = 4_000_000) -> dict[str, np.ndarray]:
    """`statistics` a block of rows at a time: the percentiles copy their input, and 1,000 replications of a
    large table would copy hundreds of megabytes at once."""
    rows = max(1, values_per_chunk // max(1, matrix.shape[1]))
    parts = [statistics(matrix[start : start + rows]) for start in range(0, len(matrix), rows)] or [statistics(matrix)]
    return {column: np.concatenate([part[column] for part in parts]) for column in parts[0]}


def _codes(column: pd.Series, labels: list[str], name: str) -> np.ndarray:
    """Each row's position in `labels`; a label outside them is a programming error, not a zero."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # the tables' labels: look up each category once
        lookup = pd.Index(labels).get_indexer(column.cat.categories.astype(str))
        codes = column.cat.codes.to_numpy()
        index = np.where(codes >= 0, lookup[codes], -1)
    else:
        index = pd.Index(labels).get_indexer(column.astype(str))
    if (index < 0).any():
        raise ValueError(f"{name}: {sorted(set(column[index < 0].astype(str)))} not among {labels}")
    return index.astype(np.int64)


def _replication_index(frame: pd.DataFrame, replications: int) -> np.ndarray:
    index = frame["replication"].to_numpy(dtype=np.int64)
    if len(index) and (index.min() < 0 or index.max() >= replications):
        raise ValueError(f"replication numbers outside 0 to {replications - 1}")
    return index
