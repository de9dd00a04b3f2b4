"""Home Office grant income for asylum-seeking children ([prices.uasc_grant]), checked night by night.

The table's income is recomputed here from the placement records one night at a time: each night a UASC child
is in care earns the rate for its age in force that night, each week of a UASC care leaver before 21 earns the
care-leaver rate, and each night falls in the financial year that contains it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.engine.vocabulary import DAYS_PER_YEAR, EXIT_ROUTES
from sim.results.runner import run
from tests.builders import build, one_pool_scenario

RATES = [
    {
        "from_date": dt.date(2020, 10, 1),
        "under_16_per_night": 100.0,
        "aged_16_17_per_night": 80.0,
        "care_leaver_per_week": 140.0,
        "source": "assumption: a constructed case",
    },
    {
        "from_date": dt.date(2021, 7, 1),
        "under_16_per_night": 120.0,
        "aged_16_17_per_night": 120.0,
        "care_leaver_per_week": 210.0,
        "source": "assumption: a constructed case",
    },
]


def grant_scenario():
    raw = one_pool_scenario(rate_per_year=2.0, capacity="unlimited", years=4, band="5-9")
    raw["entries"]["uasc"] = {"rate_per_year": 12.0, "age_mix": {"10-15": 0.5, "16-17": 0.5}}
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 0.0,
        "inflation_source": "assumption: none",
        "pools": {
            "inhouse": {"weekly": 100.0, "source": "assumption: a constructed case"},
            "external": {"weekly": 200.0, "source": "assumption: a constructed case"},
        },
        "uasc_grant": {"rates": RATES},
    }
    return build(raw)


def night_by_night(record, scenario) -> dict[tuple[str, str], float]:
    """Income by (financial year, group), one night at a time."""
    start = scenario.horizon.start
    horizon = scenario.horizon.days
    days = [(r["from_date"] - start).days for r in RATES]

    def rate(night: int) -> dict | None:
        found = [r for r, d in zip(RATES, days, strict=True) if d <= night]
        return found[-1] if found else None

    def year(night: int) -> str:
        day = start + dt.timedelta(days=night)
        first = day.year if day.month >= 4 else day.year - 1
        return f"{first}-{(first + 1) % 100:02d}"

    totals: dict[tuple[str, str], float] = {}

    def add(night: int, group: str, low: float, high: float, key: str) -> None:
        r = rate(night)
        if r is not None and high > low:
            per_day = r[key] / 7 if key == "care_leaver_per_week" else r[key]
            totals[year(night), group] = totals.get((year(night), group), 0.0) + (high - low) * per_day

    cohort = record.cohort
    p = record.placements
    for row in p[(p[:, PlacementColumn.KIND] == IN_CARE)]:
        child = int(row[PlacementColumn.CHILD])
        if not cohort.uasc[child]:
            continue
        begin, end = row[PlacementColumn.START], min(row[PlacementColumn.END], horizon)
        sixteenth = cohort.birth_day[child] + 16 * DAYS_PER_YEAR
        for night in range(int(np.floor(begin)), int(np.ceil(end))):
            low, high = max(begin, night), min(end, night + 1)
            add(night, "under_16", low, min(high, sixteenth), "under_16_per_night")
            add(night, "aged_16_17", max(low, sixteenth), high, "aged_16_17_per_night")
    age_18 = EXIT_ROUTES.index("age_18")
    for child in np.flatnonzero(cohort.uasc & (record.exit_route == age_18)).tolist():
        begin, end = record.exit_day[child], min(horizon, cohort.birth_day[child] + 21 * DAYS_PER_YEAR)
        for night in range(int(np.floor(begin)), int(np.ceil(end))):
            add(night, "care_leavers", max(begin, night), min(end, night + 1), "care_leaver_per_week")
    return totals


def test_grant_income_is_every_night_at_its_rate():
    scenario = grant_scenario()
    result = run(scenario, replications=2, seed=5)
    table = result.tables["uasc_grant"]
    groups = set()
    for replication in range(2):
        record = simulate_replication(scenario, seed=5, replication=replication)
        expected = night_by_night(record, scenario)
        mine = table[table["replication"] == replication]
        found = {(y, g): v for y, g, v in zip(mine["financial_year"], mine["group"], mine["income"], strict=True)}
        assert found.keys() == expected.keys()
        for key, value in expected.items():
            assert found[key] == pytest.approx(value, rel=1e-9), key
        groups |= {g for _, g in found}
    assert groups == {"under_16", "aged_16_17", "care_leavers"}


def test_no_grant_without_the_key():
    raw = one_pool_scenario(years=2)
    result = run(build(raw), replications=1, seed=1)
    assert result.tables["uasc_grant"].empty
