"""The DfE stability indicators (sim.results.stability): hand-checked on constructed records, then against the
closed forms of a system where breakdowns are the only moves.

Horizon of the constructed records: 1 April 2020 for 5 years, so day 365 is 1 April 2021, day 730 1 April 2022,
day 1095 1 April 2023, day 1461 1 April 2024 (2024 is a leap year) and day 1826 1 April 2025.
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, STAYING_PUT, simulate_replication
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.results.costs import FinancialYears
from sim.results.stability import (
    LONG_TERM,
    MOVES_COLUMNS,
    STABILITY_COLUMNS,
    THREE_OR_MORE,
    moves_by_quarter,
    stability_rows,
)
from tests.builders import build, one_pool_scenario

INF = math.inf
SCENARIO = build(one_pool_scenario(years=5))  # starts 1 April 2020
YEARS = FinancialYears.for_scenario(SCENARIO)


def record(replication: int, children: list[dict], broken: tuple[int, ...] = ()) -> SimpleNamespace:
    """A record-like object: each child a dict of entry, exit (None: still in care), birth, staying_put_at_start
    and placements as (start, end, kind); rows numbered in the order given."""
    rows = []
    for child, spec in enumerate(children):
        for start, end, kind in spec["placements"]:
            rows.append([child, 0, 0, 0, start, end, kind, 1.0, 0])
    cohort = SimpleNamespace(
        entry_day=np.array([c["entry"] for c in children], dtype=float),
        birth_day=np.array([c.get("birth", -2000.0) for c in children], dtype=float),
        in_care_at_some_time=~np.array([c.get("staying_put_at_start", False) for c in children]),
    )
    exit_day = np.array([np.nan if c.get("exit") is None else c["exit"] for c in children], dtype=float)
    placements = np.array(rows, dtype=float).reshape(-1, len(PLACEMENT_COLUMNS))
    return SimpleNamespace(
        replication=replication,
        cohort=cohort,
        exit_day=exit_day,
        placements=placements,
        breakdowns=np.array(broken, dtype=np.int64),
    )


def care(*spans: tuple[float, float]) -> list[tuple[float, float, int]]:
    return [(start, end, IN_CARE) for start, end in spans]


# Financial year 2021-22 runs from day 365 to day 730.
PLACEMENT_COUNTS = record(
    0,
    [
        {"entry": 0.0, "placements": care((0, 400), (400, 500), (500, INF))},  # open on 1 April + 2: counted, 3
        # 4 placements, but left care before 31 March: not counted
        {"entry": 100.0, "exit": 720.0, "placements": care((100, 365), (365, 600), (600, 700), (700, 720))},
        {"entry": 700.0, "placements": care((700, 710), (710, INF))},  # 2 placements
        {"entry": 200.0, "placements": care((200, 300), (300, 365), (365, INF))},  # one ends as 1 April begins: 1
        # left at 18 to Staying Put: not in care on 31 March
        {"entry": 0.0, "exit": 600.0, "placements": [(0, 600, IN_CARE), (600, INF, STAYING_PUT)]},
        {"entry": 729.5, "placements": care((729.5, INF))},  # entered on 31 March: counted, 1 placement
        {"entry": 0.0, "exit": 730.0, "placements": care((0, 380), (380, 390), (390, 730))},  # left as 1 April began
        {"entry": 0.0, "staying_put_at_start": True, "placements": [(0, INF, STAYING_PUT)]},  # never in care
    ],
    broken=(4, 7),  # rows of child 1's (365, 600) and child 2's (700, 710)
)

# The long-term indicator on 31 March 2023 (day 1095) and 31 March 2024 (day 1461).
LONG_TERM_CHILDREN = record(
    1,
    [
        {"entry": 0.0, "birth": -3000.0, "placements": care((0, INF))},
        {"entry": 100.0, "birth": -3000.0, "placements": care((100, 365), (365, INF))},  # 2 years from day 365.25
        {"entry": 100.0, "birth": -3000.0, "placements": care((100, 364), (364, INF))},
        {"entry": 0.0, "birth": -5000.0, "placements": care((0, INF))},  # 16.7 on 31 March 2023
        {"entry": 190.0, "birth": -3000.0, "placements": care((190, INF))},  # 2.5 years in care only from day 1103
        {"entry": 0.0, "birth": -3000.0, "exit": 1000.0, "placements": care((0, 1000))},
        {"entry": 0.0, "birth": -4700.0, "placements": care((0, 500), (500, INF))},  # 15.9 in 2023, 16.9 in 2024
    ],
)


def _value(frame: pd.DataFrame, replication: int, year: str, indicator: str) -> tuple[int, int]:
    row = frame[(frame["replication"] == replication) & (frame["financial_year"] == year)]
    row = row[row["indicator"] == indicator]
    assert len(row) == 1, (year, indicator)
    return int(row["numerator"].iloc[0]), int(row["denominator"].iloc[0])


def test_three_or_more_placements_by_hand() -> None:
    frame = stability_rows([PLACEMENT_COUNTS], SCENARIO, YEARS)
    assert list(frame.columns) == STABILITY_COLUMNS
    assert _value(frame, 0, "2021-22", THREE_OR_MORE) == (2, 5)  # children 0 and 6, of 0, 2, 3, 5 and 6
    assert _value(frame, 0, "2020-21", THREE_OR_MORE) == (0, 5)  # children 0, 1, 3, 4 and 6; at most 2 each
    row = frame[(frame["financial_year"] == "2021-22") & (frame["indicator"] == THREE_OR_MORE)]
    assert row["value"].iloc[0] == pytest.approx(0.4)
    later = frame[frame["financial_year"] == "2022-23"]  # children 0, 2, 3 and 5 in care; 1 placement each
    assert _value(later, 0, "2022-23", THREE_OR_MORE) == (0, 4)


def test_long_term_stability_by_hand() -> None:
    frame = stability_rows([LONG_TERM_CHILDREN], SCENARIO, YEARS)
    assert _value(frame, 1, "2022-23", LONG_TERM) == (2, 4)  # children 0 and 2, of 0, 1, 2 and 6
    assert _value(frame, 1, "2023-24", LONG_TERM) == (4, 4)  # children 0, 1, 2 and 4
    # 31 March 2021 and 2022 come less than 2.5 years after the start: not reported
    assert set(frame.loc[frame["indicator"] == LONG_TERM, "financial_year"]) == {"2022-23", "2023-24", "2024-25"}


def test_moves_per_quarter_by_hand() -> None:
    frame = moves_by_quarter([PLACEMENT_COUNTS], SCENARIO, YEARS)
    assert list(frame.columns) == MOVES_COLUMNS
    assert len(frame) == 20  # five financial years, four quarters each
    first = frame.iloc[:8]
    assert first["financial_year"].tolist() == ["2020-21"] * 4 + ["2021-22"] * 4
    assert first["quarter"].tolist() == [1, 2, 3, 4] * 2
    assert first["quarter_start"].tolist()[4:] == [dt.date(2021, m, 1) for m in (4, 7, 10)] + [dt.date(2022, 1, 1)]
    # moves: 300 | 365, 365, 380, 390, 400 | 500 | 600 | 700, 710 (Staying Put is not a move)
    assert first["moves"].tolist() == [0, 0, 0, 1, 5, 1, 1, 2]
    assert first["after_breakdown"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]  # breakdowns ending on days 600, 710
    assert frame["moves"].iloc[8:].sum() == 0


def test_only_periods_the_horizon_wholly_covers_are_reported() -> None:
    raw = one_pool_scenario(years=1)
    raw["horizon"]["start"] = dt.date(2020, 5, 15)
    scenario = build(raw)
    years = FinancialYears.for_scenario(scenario)
    child = record(0, [{"entry": 0.0, "placements": care((0, 100), (100, INF))}])
    assert stability_rows([child], scenario, years).empty
    quarters = moves_by_quarter([child], scenario, years)
    assert list(zip(quarters["financial_year"], quarters["quarter"], strict=True)) == [
        ("2020-21", q) for q in (2, 3, 4)
    ]
    assert quarters["moves"].tolist() == [1, 0, 0]  # day 100 is 23 August 2020, in Q2 (July-September)
    assert quarters["quarter_start"].iloc[0] == dt.date(2020, 7, 1)


# ---------------------------------------------------------------------------------------------
# Closed forms: breakdowns the only moves


HAZARD = 0.7  # breakdowns a placement-year
CHILDREN = 3_000


def _breakdowns_only() -> tuple:
    """Babies in care on 1 April 2020 who stay for the whole horizon in one unlimited pool: each financial year
    of L days a child has 1 + N placements, N ~ Poisson(h L / DAYS_PER_YEAR), and is in the same placement for
    2 years with probability exp(-2h)."""
    raw = one_pool_scenario(rate_per_year=0.0, years=5, band="under1")
    raw["pools"] = {"carers": {"serves": ["fostering"], "capacity": "unlimited", "in_house": True}}
    raw["matching"] = {"fostering": {"pools": ["carers"]}}
    for journey in raw["journeys"].values():
        journey["duration"] = {"return_home": {"distribution": "fixed", "days": 20_000.0}}
    group = {"age_band": "under1", "need": "fostering", "pool": "carers", "count": CHILDREN, "days_in_care": 10}
    raw["start_population"] = {"groups": [group]}
    raw["breakdowns"] = {"by_need": {"fostering": {"per_year": HAZARD, "note": "assumption: test"}}}
    scenario = build(raw)
    records = [simulate_replication(scenario, seed=2, replication=r) for r in range(2)]
    return scenario, records


def _inside_99(numerator: int, denominator: int, p: float) -> bool:
    return abs(numerator / denominator - p) <= 2.5758 * math.sqrt(p * (1 - p) / denominator)


def test_the_indicators_match_their_closed_forms_when_breakdowns_are_the_only_moves() -> None:
    scenario, records = _breakdowns_only()
    years = FinancialYears.for_scenario(scenario)
    frame = stability_rows(records, scenario, years)
    totals = frame.groupby(["financial_year", "indicator"])[["numerator", "denominator"]].sum()
    for label, length in zip(years.labels, years.lengths, strict=True):
        m = HAZARD * length / DAYS_PER_YEAR
        numerator, denominator = totals.loc[(label, THREE_OR_MORE)]
        assert denominator == 2 * CHILDREN
        assert _inside_99(numerator, denominator, 1 - math.exp(-m) * (1 + m)), label
    for label in ("2022-23", "2023-24", "2024-25"):
        numerator, denominator = totals.loc[(label, LONG_TERM)]
        assert denominator == 2 * CHILDREN
        assert _inside_99(numerator, denominator, math.exp(-2 * HAZARD)), label
    moves = moves_by_quarter(records, scenario, years)
    broken = sum(len(r.breakdowns) for r in records)
    assert moves["moves"].sum() == moves["after_breakdown"].sum() == broken  # every move follows a breakdown
