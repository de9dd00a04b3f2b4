"""Invariants that must hold for every valid scenario, over scenarios Hypothesis generates.

Each example is tests/builders.py's rich scenario (every mechanism at once) with its horizon, seed,
entry rates, stays, starting population, capacities, dated changes, age limits, matching lists,
step-back, leaving care and adopter supply redrawn, validated through the real schema
(`scenario_from_dict`), then simulated for two replications. Checked on the record and the tables:
children are conserved, no pool is ever above its capacity, no child is in care at or after 18 (a
Staying Put or Staying Close place is a post-18 arrangement, recorded with its own kind, and starts at
the 18th birthday), and no child is placed in a pool outside its age range.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.demand import AGE_18_DAYS
from sim.engine.model import IN_CARE, LogColumn, PlacementColumn, ReplicationRecord, simulate_replication
from sim.engine.scenario import Horizon, Scenario
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.results.tables import Calendar, batch_tables
from tests.builders import rich_scenario

REPLICATIONS = 2
EXAMPLES = 30
TOLERANCE_DAYS = 1e-6
DURATION_KEYS = ("mean", "sd", "scale", "low", "high", "days")
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shares = st.floats(0.0, 1.0)


def amounts(high: float) -> st.SearchStrategy[float]:
    """Rates and days to two decimals: a rate of 1e-300 a year is not a scenario anyone writes."""
    return st.floats(0.0, high).map(lambda value: round(value, 2))


def _scale_durations(raw: dict[str, Any], factor: float) -> None:
    """Stretch every stay distribution of the journeys (moves keep their timing)."""
    for journey in raw["journeys"].values():
        for distribution in journey["duration"].values():
            for key in DURATION_KEYS:
                if key in distribution:
                    distribution[key] *= factor


def _held(raw: dict[str, Any], pool: str) -> int:
    return sum(g["count"] for g in raw["start_population"]["groups"] if g["pool"] == pool)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    years = draw(st.integers(1, 4))
    raw = rich_scenario(years=years)
    raw["seed"] = draw(st.integers(0, 2**32))
    start = draw(st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31)))
    raw["horizon"]["start"] = start
    horizon_days = int(Horizon(start=start, years=years).days)

    entries = raw["entries"]
    rate_scale = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    entries["rate_per_year"] = {band: rate * rate_scale for band, rate in entries["rate_per_year"].items()}
    entries["trend_percent_per_year"] = draw(st.floats(-10.0, 10.0))
    entries["uasc"]["rate_per_year"] = draw(amounts(10.0))
    _scale_durations(raw, draw(st.sampled_from([0.3, 1.0, 3.0])))
    for group in raw["start_population"]["groups"]:
        group["count"] = draw(st.integers(0, 2 * group["count"]))

    pools = raw["pools"]
    pools["inhouse"]["capacity"] = _held(raw, "inhouse") + draw(st.integers(0, 8))
    pools["inhouse"]["fostering"].update(
        households=draw(st.integers(0, 30)),
        approvals_per_year=draw(amounts(12.0)),
        deregistrations_per_year=draw(amounts(12.0)),
        assessment_delay_days=draw(amounts(200.0)),
    )
    homes = pools["homes"]
    homes["capacity"] = _held(raw, "homes") + draw(st.integers(0, 4))
    homes["min_age"] = draw(st.sampled_from([0.0, 8.0, 11.0]))
    opened = draw(st.integers(1, 3))
    first, second = sorted(draw(st.lists(st.integers(0, horizon_days - 1), min_size=2, max_size=2)))
    homes["capacity_changes"] = [
        {"date": start + dt.timedelta(days=first), "change": opened},
        {"date": start + dt.timedelta(days=second), "change": -draw(st.integers(1, homes["capacity"] + opened))},
    ]
    pools["supported"]["capacity"] = draw(st.integers(0, 4))
    pools["supported"]["min_age"] = draw(st.sampled_from([0.0, 16.0]))

    matching = raw["matching"]
    if draw(st.booleans()):  # children needing fostering try the homes before the agencies
        matching["fostering"] = {"pools": ["inhouse"], "fallback": ["homes", "ifa"]}
    if draw(st.booleans()):  # a full children's home sends a child to emergency, not the external market
        matching["residential"] = {"pools": ["homes"], "fallback": ["emergency"]}

    raw["step_back"] = {
        "enabled": draw(st.booleans()),
        "min_days": draw(amounts(200.0)),
        "probability": draw(shares),
    }
    raw["leaving_care"]["staying_put"]["probability"] = draw(shares)
    raw["leaving_care"]["staying_close"]["probability"] = draw(shares)
    raw["adoption"]["adopter_approvals_per_year"] = draw(st.one_of(st.just("unlimited"), amounts(12.0)))
    raw["adoption"]["adopters_waiting_at_start"] = draw(st.integers(0, 5))
    return scenario_from_dict(raw, label="<generated>")


def _simulate(scenario: Scenario) -> tuple[list[ReplicationRecord], dict]:
    records = [simulate_replication(scenario, scenario.seed, r) for r in range(REPLICATIONS)]
    return records, batch_tables(records, scenario, Calendar.for_scenario(scenario))


def _check_conservation(scenario: Scenario, records: list[ReplicationRecord], tables: dict) -> None:
    """In care at the start + entering = leaving + in care at the end, in the record and in the tables."""
    flows = tables["flows"].set_index("replication")
    assert (flows["starting"] + flows["entries"] == flows["exits"] + flows["in_care_at_end"]).all()
    stock = tables["stock"]
    for record in records:
        row = flows.loc[record.replication]
        p = record.placements
        open_in_care = p[(p[:, PlacementColumn.KIND] == IN_CARE) & np.isinf(p[:, PlacementColumn.END])]
        open_in_care = open_in_care[:, PlacementColumn.CHILD]
        assert len(open_in_care) == len(np.unique(open_in_care)) == row["in_care_at_end"]  # one place each
        assert row["starting"] == record.cohort.starting.sum()
        assert row["entries"] + row["starting"] == record.cohort.size
        mine = stock[stock["replication"] == record.replication]
        first, last = pd.Timestamp(scenario.horizon.start), pd.Timestamp(scenario.horizon.end)
        assert mine.loc[mine["date"] == first, "children"].sum() == row["starting"]
        assert mine.loc[mine["date"] == last, "children"].sum() == row["in_care_at_end"]
    for table, column in (("entries", "entries"), ("exits", "exits")):
        counted = tables[table].groupby("replication")["children"].sum()
        assert counted.reindex(flows.index, fill_value=0).equals(flows[column].astype(counted.dtype))


def _check_capacity(record: ReplicationRecord) -> None:
    """Occupied places (children in care and young people staying put or close) never exceed capacity."""
    p, log = record.placements, record.capacity
    assert (log[:, LogColumn.VALUE] >= 0).all()
    for pool in np.unique(log[:, LogColumn.POOL]).astype(int):
        changes = log[log[:, LogColumn.POOL] == pool]
        if np.isinf(changes[0, LogColumn.VALUE]):
            continue
        rows = p[p[:, PlacementColumn.POOL] == pool]
        start, end = rows[:, PlacementColumn.START], rows[:, PlacementColumn.END]
        times = np.unique(np.concatenate([start, changes[:, LogColumn.DAY]]))
        occupied = ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)
        capacity = changes[np.searchsorted(changes[:, LogColumn.DAY], times, side="right") - 1, LogColumn.VALUE]
        over = np.flatnonzero(occupied > capacity)
        assert not len(over), f"pool {pool}: {occupied[over[0]]} occupied, capacity {capacity[over[0]]}"


def _check_ageing_out(scenario: Scenario, record: ReplicationRecord) -> None:
    """In-care placements end by the 18th birthday; post-18 arrangements begin on it."""
    p = record.placements
    birthday_18 = record.cohort.birth_day[p[:, PlacementColumn.CHILD].astype(int)] + AGE_18_DAYS
    in_care = p[:, PlacementColumn.KIND] == IN_CARE
    ends = np.minimum(p[:, PlacementColumn.END], scenario.horizon.days)  # open at the horizon end: end = inf
    assert (ends[in_care] <= birthday_18[in_care] + TOLERANCE_DAYS).all()
    assert (p[~in_care, PlacementColumn.START] >= birthday_18[~in_care] - TOLERANCE_DAYS).all()
    left = ~np.isnan(record.exit_day)
    assert (record.exit_day[left] <= record.cohort.birthday_18[left] + TOLERANCE_DAYS).all()


def _check_age_ranges(scenario: Scenario, record: ReplicationRecord) -> None:
    """A child placed during the run is within the pool's ages when placed. Children in care on the start
    date sit where the scenario puts them (the model does not move them)."""
    p = record.placements
    child, start = p[:, PlacementColumn.CHILD].astype(int), p[:, PlacementColumn.START]
    placed = (p[:, PlacementColumn.KIND] == IN_CARE) & ~(record.cohort.starting[child] & (start == 0))
    age = start - record.cohort.birth_day[child]
    limits = np.array([(pool.min_age, pool.max_age) for pool in scenario.pools.values()]) * DAYS_PER_YEAR
    low, high = limits[p[:, PlacementColumn.POOL].astype(int)].T
    outside = placed & ((age < low - TOLERANCE_DAYS) | (age >= high))
    assert not outside.any(), f"{outside.sum()} placement(s) outside the pool's ages, e.g. {p[outside][0]}"


@PROPERTY_SETTINGS
@given(scenarios())
def test_generated_scenarios_keep_the_invariants(scenario: Scenario) -> None:
    records, tables = _simulate(scenario)
    _check_conservation(scenario, records, tables)
    for record in records:
        _check_capacity(record)
        _check_ageing_out(scenario, record)
        _check_age_ranges(scenario, record)
    occupancy = tables["occupancy"].dropna(subset=["capacity"])
    assert (occupancy["occupied"] <= occupancy["capacity"]).all()
