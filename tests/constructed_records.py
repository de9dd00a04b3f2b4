"""Replication records written by hand, for tests that check result tables against counts done by hand.

A constructed record holds only what the tables read: each child's birth day, UASC flag and whether they were
Staying Put on the start date, their exit day and route, and their placement rows. Everything else in the cohort
is filled with neutral values (no segment, no draw) that no table under test reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.engine.demand import MAX_SEGMENTS, PLACEMENT_DRAWS, Cohort
from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, ReplicationRecord
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import DAYS_PER_YEAR, EXIT_ROUTES
from tests.builders import build, one_pool_scenario

START = dt.date(2020, 4, 1)  # day 365 is 1 April 2021 (00:00: the children in care on 31 March 2021)


def two_year_scenario() -> Scenario:
    """An in-house pool (index 0) and an external pool (index 1), two years from 1 April 2020."""
    return build(one_pool_scenario(years=2))


@dataclass
class Child:
    """One child of a constructed record: age in years on the start date and what happens to them."""

    age_at_start: float
    uasc: bool = False
    exit_day: float = np.nan
    route: str | None = None
    staying_put_at_start: bool = False
    # (pool, start, end, kind, within_20_miles); end np.inf for a placement open at the horizon end
    placements: tuple[tuple[int, float, float, int, int], ...] = ()


def record(children: list[Child], replication: int = 0) -> ReplicationRecord:
    """The replication record of `children`, their placement rows in the order given."""
    n = len(children)
    birth_day = np.array([-child.age_at_start * DAYS_PER_YEAR for child in children])
    flags = np.zeros(n, dtype=bool)
    cohort = Cohort(
        entry_day=np.zeros(n),
        birth_day=birth_day,
        entry_band=np.zeros(n, dtype=np.int64),
        cin=np.zeros(n, dtype=np.int64),
        uasc=np.array([child.uasc for child in children], dtype=bool),
        male=flags.copy(),
        starting=np.array([not child.staying_put_at_start for child in children], dtype=bool),
        staying_put_at_start=np.array([child.staying_put_at_start for child in children], dtype=bool),
        start_pool=np.zeros(n, dtype=np.int64),
        route=np.zeros(n, dtype=np.int64),
        n_segments=np.ones(n, dtype=np.int64),
        seg_need=np.full((n, MAX_SEGMENTS), -1, dtype=np.int64),
        seg_end=np.full((n, MAX_SEGMENTS), np.inf),
        order_days=np.zeros(n),
        step_back_willing=flags.copy(),
        staying_put=flags.copy(),
        staying_put_days=np.zeros(n),
        staying_close=flags.copy(),
        staying_close_days=np.zeros(n),
        locality=np.zeros((n, PLACEMENT_DRAWS)),
        price=np.full((n, PLACEMENT_DRAWS), 0.5),
        tier=np.zeros(n, dtype=np.int64),
    )
    rows = [
        [index, pool, 0, pool, start, end, kind, within, 0]
        for index, child in enumerate(children)
        for pool, start, end, kind, within in child.placements
    ]
    placements = np.array(rows, dtype=float).reshape(-1, len(PLACEMENT_COLUMNS))
    empty_log = np.zeros((0, 3))
    return ReplicationRecord(
        replication=replication,
        cohort=cohort,
        exit_day=np.array([child.exit_day for child in children], dtype=float),
        exit_route=np.array([EXIT_ROUTES.index(c.route) if c.route else -1 for c in children], dtype=np.int64),
        placements=placements,
        capacity=empty_log,
        households=empty_log,
        events=0,
        approved=empty_log,
    )


def in_care(pool: int, start: float, end: float = np.inf, within: int = 1) -> tuple[int, float, float, int, int]:
    return (pool, start, end, IN_CARE, within)


def age_at_start_for(day: float, age: float) -> float:
    """The age on the start date of a child who is `age` on `day`."""
    return age - day / DAYS_PER_YEAR
