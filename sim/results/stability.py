"""The DfE placement stability indicators, by financial year and replication, from the replication records.

Computed after the event loop, on each record's placement rows (in-care rows only: Staying Put and Staying
Close are not placements in care) and its cohort's entry, exit and birth days:

- `three_or_more_placements`: of the children in care at the end of 31 March, the share who had 3 or more
  placements during the financial year: the placements that started in the year, plus the one open on 1 April
  (DfE: children looked after at 31 March with three or more placements during the year). Every in-care row is
  a placement: an emergency bridge, a breakdown's new placement, a step-back and a planned change of placement
  need (a new carer or home) each count, and so does a breakdown's new placement in the same pool.
- `long_term_stability`: of the children under 16 at 31 March who had then been in care for at least 2.5 years,
  the share who had been in the same placement for at least 2 years. Simplified: the DfE also counts a child
  placed for adoption whose adoptive placement and the placement before it together lasted 2 years; here only
  the same placement counts. Years (DAYS_PER_YEAR days) are counted in days.
- moves per quarter (`moves_by_quarter`): placement starts of children already in care (every in-care row but
  a child's first), by financial quarter (April-June is Q1), with the moves that followed a breakdown apart.

Only periods the horizon wholly covers are reported: a financial year starting before the horizon would miss
placements before its start, and the long-term indicator needs 2.5 years of the horizon before its 31 March,
because a child in care on the start date is recorded as entering on it, in a placement starting on it (the
horizon cannot say how long before that the child came into care or its placement began).

The records are read by attribute only (`replication`, `placements`, `exit_day`, `breakdowns`, and the cohort's
`entry_day`, `birth_day` and `in_care_at_some_time`), so a hand-built record of those arrays is enough.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.engine.demand import horizon_day
from sim.engine.model import IN_CARE, PlacementColumn, ReplicationRecord
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.results.costs import FinancialYears

THREE_OR_MORE = "three_or_more_placements"
LONG_TERM = "long_term_stability"
INDICATORS = (THREE_OR_MORE, LONG_TERM)
STABILITY_COLUMNS = ["replication", "financial_year", "indicator", "numerator", "denominator", "value"]
MOVES_COLUMNS = ["replication", "financial_year", "quarter", "quarter_start", "moves", "after_breakdown"]
PLACEMENTS_COUNTED = 3  # DfE: three or more placements during the year
UNDER_AGE_DAYS = 16 * DAYS_PER_YEAR  # DfE long-term stability: children under 16 at 31 March
IN_CARE_DAYS = 2.5 * DAYS_PER_YEAR  # ... looked after for at least 2.5 years
SAME_PLACEMENT_DAYS = 2 * DAYS_PER_YEAR  # ... in the same placement for at least 2 years
QUARTER_MONTHS = (4, 7, 10, 1)  # the first month of each financial quarter, Q1 (April) first
WHOLE = 1e-9  # a period is wholly inside the horizon when its clipped length is its full length


def stability_rows(records: list[ReplicationRecord], scenario: Scenario, years: FinancialYears) -> pd.DataFrame:
    """The two indicators for each replication and each financial year the horizon wholly covers (the long-term
    one only from the first 31 March at least 2.5 years after the start), in STABILITY_COLUMNS: `numerator`
    children of `denominator`, `value` their share (NaN when no child is counted).

    `years` is the calendar's financial years (tables.Calendar.financial_years, or FinancialYears.for_scenario).
    """
    rows = []
    for record in records:
        in_care = _in_care_rows(record)
        for label, start, end in _whole_years(years):
            rows.append((record.replication, label, THREE_OR_MORE, *_three_or_more(record, in_care, start, end)))
            if end >= IN_CARE_DAYS:
                rows.append((record.replication, label, LONG_TERM, *_long_term(record, in_care, end)))
    frame = pd.DataFrame(rows, columns=STABILITY_COLUMNS[:-1])
    frame = frame.astype({"replication": np.int64, "numerator": np.int64, "denominator": np.int64})
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["value"] = np.where(frame["denominator"] > 0, frame["numerator"] / frame["denominator"], np.nan)
    return frame


def moves_by_quarter(records: list[ReplicationRecord], scenario: Scenario, years: FinancialYears) -> pd.DataFrame:
    """Placement moves (placement starts of children already in care) in each financial quarter the horizon wholly
    covers, per replication, in MOVES_COLUMNS: `quarter` 1-4 (1: April-June), `quarter_start` its first day,
    `after_breakdown` the moves that followed a placement breaking down (ended in the quarter)."""
    quarters = _whole_quarters(years, scenario)
    if not quarters:
        return pd.DataFrame({column: [] for column in MOVES_COLUMNS})
    bounds = np.array([start for *_, start, _ in quarters] + [quarters[-1][-1]])  # the quarters follow on
    rows = []
    for record in records:
        rows_in_care = _in_care_rows(record)
        moves = _count_in(rows_in_care[_later_placements(rows_in_care), PlacementColumn.START], bounds)
        broken = record.placements[record.breakdowns, PlacementColumn.END]
        after_breakdown = _count_in(broken, bounds)
        for index, (label, quarter, first_day, _start, _end) in enumerate(quarters):
            rows.append((record.replication, label, quarter, first_day, moves[index], after_breakdown[index]))
    frame = pd.DataFrame(rows, columns=MOVES_COLUMNS)
    return frame.astype({"replication": np.int64, "quarter": np.int64, "moves": np.int64, "after_breakdown": np.int64})


# -- the indicators -------------------------------------------------------------------------


def _three_or_more(record: ReplicationRecord, in_care: np.ndarray, start: float, end: float) -> tuple[int, int]:
    """(children in care at the end of 31 March with 3+ placements in the year, children in care then)."""
    child = in_care[:, PlacementColumn.CHILD].astype(np.int64)
    began, ended = in_care[:, PlacementColumn.START], in_care[:, PlacementColumn.END]
    counted = ((began >= start) & (began < end)) | ((began < start) & (ended > start))
    placements = np.bincount(child[counted], minlength=record.cohort.entry_day.size)
    looked_after = _in_care_at(record, end)
    return int(np.sum(looked_after & (placements >= PLACEMENTS_COUNTED))), int(np.sum(looked_after))


def _long_term(record: ReplicationRecord, in_care: np.ndarray, end: float) -> tuple[int, int]:
    """(children counted in the long-term indicator who were in the same placement for 2+ years, those counted):
    under 16 at the end of 31 March (`end`, the day 1 April starts) and in care for 2.5+ years by then."""
    cohort = record.cohort
    counted = (
        _in_care_at(record, end) & (end - cohort.birth_day < UNDER_AGE_DAYS) & (cohort.entry_day <= end - IN_CARE_DAYS)
    )
    began, ended = in_care[:, PlacementColumn.START], in_care[:, PlacementColumn.END]
    open_then = (began < end) & (ended >= end)  # the placement the child is in at the end of 31 March
    placed_since = np.full(cohort.entry_day.size, np.inf)
    placed_since[in_care[open_then, PlacementColumn.CHILD].astype(np.int64)] = began[open_then]
    return int(np.sum(counted & (placed_since <= end - SAME_PLACEMENT_DAYS))), int(np.sum(counted))


def _in_care_at(record: ReplicationRecord, day: float) -> np.ndarray:
    """Children in care at `day` (the end of the day before it): entered before it, not left before it."""
    cohort = record.cohort
    still_in = np.isnan(record.exit_day) | (record.exit_day >= day)
    return (cohort.entry_day < day) & still_in & cohort.in_care_at_some_time


def _in_care_rows(record: ReplicationRecord) -> np.ndarray:
    """The record's in-care placement rows, in the order they opened."""
    p = record.placements
    return p[p[:, PlacementColumn.KIND] == IN_CARE]


def _later_placements(in_care: np.ndarray) -> np.ndarray:
    """Rows that are not their child's first in-care placement (rows are in the order they opened)."""
    later = np.ones(len(in_care), dtype=bool)
    _, first = np.unique(in_care[:, PlacementColumn.CHILD], return_index=True)
    later[first] = False
    return later


def _count_in(days: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many of `days` fall in each period [bounds[k], bounds[k + 1])."""
    period = np.searchsorted(bounds, days, side="right") - 1
    inside = (period >= 0) & (period < len(bounds) - 1)
    return np.bincount(period[inside], minlength=len(bounds) - 1).tolist()


# -- periods --------------------------------------------------------------------------------


def _whole_years(years: FinancialYears) -> list[tuple[str, float, float]]:
    """(label, first day, day after the last) of each financial year wholly inside the horizon."""
    whole = np.abs((years.ends - years.starts) - years.lengths) < WHOLE
    return [(label, float(years.starts[k]), float(years.ends[k])) for k, label in enumerate(years.labels) if whole[k]]


def _whole_quarters(years: FinancialYears, scenario: Scenario) -> list[tuple[str, int, dt.date, float, float]]:
    """(financial year, quarter 1-4, its first date, its first day, the day after it) of each financial quarter
    wholly inside the horizon, in order."""
    quarters = []
    for label, first_year in zip(years.labels, years.first_years, strict=True):
        dates = [dt.date(first_year + (month < 4), month, 1) for month in QUARTER_MONTHS]
        dates.append(dt.date(first_year + 1, 4, 1))
        for k in range(4):
            start, end = horizon_day(scenario, dates[k]), horizon_day(scenario, dates[k + 1])
            if start >= 0 and end <= scenario.horizon.days:
                quarters.append((label, k + 1, dates[k], start, end))
    return quarters
