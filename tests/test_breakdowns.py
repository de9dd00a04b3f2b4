"""Placement breakdowns ([breakdowns], issue 18 part 2): unplanned endings followed by a new search.

Checked: in an unlimited system the breakdowns of each pool are a Poisson count of mean hazard x placement-days
(the journeys, hence the in-care days, do not depend on the breakdowns there), with `by_pool` overriding
`by_need`; a breakdown is followed at once by a placement of the same need and the journeys are unchanged;
every child-day is in exactly one placement and no pool is above its usable places with breakdowns, emergency
bridging and a market that runs out; zero hazards change no record; bad keys are refused naming the key.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.engine.model import (
    IN_CARE,
    LogColumn,
    PlacementColumn,
    ReplicationRecord,
    simulate_linked,
    simulate_replication,
)
from sim.engine.scenario import Scenario, ScenarioError
from sim.engine.vocabulary import DAYS_PER_YEAR
from tests.builders import build, one_pool_scenario, rich_scenario

Z_99 = 2.5758  # two-sided 99% normal quantile
C = PlacementColumn


def hazard(per_year: float) -> dict[str, Any]:
    return {"per_year": per_year, "note": "assumption: test"}


def _unlimited_scenario(breakdowns: dict[str, Any] | None) -> Scenario:
    """Half the children need fostering (pool `carers`), half a children's home (`homes`), both unlimited."""
    raw = one_pool_scenario(rate_per_year=150.0, years=6, band="5-9")
    for journey in raw["journeys"].values():
        journey["first_need"] = {"fostering": 0.5, "residential": 0.5}
    raw["pools"] = {
        "carers": {"serves": ["fostering"], "capacity": "unlimited", "in_house": True},
        "homes": {"serves": ["residential"], "capacity": "unlimited", "in_house": False},
    }
    raw["matching"] = {"fostering": {"pools": ["carers"]}, "residential": {"pools": ["homes"]}}
    if breakdowns is not None:
        raw["breakdowns"] = breakdowns
    return build(raw)


UNLIMITED = _unlimited_scenario(
    {
        "by_need": {"fostering": hazard(0.8), "residential": hazard(0.3)},
        "by_pool": {"homes": hazard(2.0)},  # overrides residential's 0.3 in the homes
        "note": "test rates",
    }
)
EXPECTED_PER_YEAR = {0: 0.8, 1: 2.0}  # pool index -> hazard it should run at


@pytest.fixture(scope="module")
def unlimited_records() -> list[ReplicationRecord]:
    return [simulate_replication(UNLIMITED, seed=3, replication=r) for r in range(8)]


def _in_care_days(record: ReplicationRecord, pool: int, horizon: float) -> float:
    p = record.placements
    rows = p[(p[:, C.KIND] == IN_CARE) & (p[:, C.POOL] == pool)]
    return float(np.sum(np.minimum(rows[:, C.END], horizon) - rows[:, C.START]))


def test_breakdowns_are_a_poisson_count_of_hazard_times_placement_days(unlimited_records) -> None:
    horizon = UNLIMITED.horizon.days
    for pool, per_year in EXPECTED_PER_YEAR.items():
        days = sum(_in_care_days(r, pool, horizon) for r in unlimited_records)
        count = sum(int(np.sum(r.placements[r.breakdowns, C.POOL] == pool)) for r in unlimited_records)
        expected = per_year / DAYS_PER_YEAR * days
        assert expected > 1_000  # enough exposure for the normal interval
        assert abs(count - expected) <= Z_99 * np.sqrt(expected), (pool, count, expected)


def test_a_breakdown_is_followed_at_once_by_a_placement_of_the_same_need(unlimited_records) -> None:
    for record in unlimited_records:
        p = record.placements
        assert len(record.breakdowns) and record.breakdowns.dtype == np.int64
        broken = p[record.breakdowns]
        assert (broken[:, C.KIND] == IN_CARE).all() and np.isfinite(broken[:, C.END]).all()
        for row in broken:
            after = p[(p[:, C.CHILD] == row[C.CHILD]) & (p[:, C.START] == row[C.END])]
            assert len(after) == 1 and after[0, C.NEED] == row[C.NEED] and after[0, C.KIND] == IN_CARE


def test_a_breakdown_changes_where_a_child_is_placed_not_its_journey(unlimited_records) -> None:
    plain = _unlimited_scenario(None)
    for record in unlimited_records[:3]:
        before = simulate_replication(plain, seed=3, replication=record.replication)
        np.testing.assert_array_equal(before.cohort.entry_day, record.cohort.entry_day)
        np.testing.assert_array_equal(before.exit_day, record.exit_day)
        np.testing.assert_array_equal(before.exit_route, record.exit_route)
        assert len(record.placements) == len(before.placements) + len(record.breakdowns)
        assert len(before.breakdowns) == 0


# ---------------------------------------------------------------------------------------------
# Conservation with a market that runs out


def _market_with_breakdowns() -> dict[str, Any]:
    """The rich scenario with agency carers found in 8 searches of 10, a few external homes, emergency
    placements bridging for 21 days, unregistered homes, a usable share below 1, and breakdowns everywhere
    (fast, so that many breakdowns end in an emergency placement)."""
    raw = rich_scenario(years=4)
    pools = raw["pools"]
    pools["inhouse"]["usable_share"] = 0.9
    pools["ifa"].update(capacity=30, availability=0.8)
    pools["external_homes"].update(capacity=6, availability=0.6)
    pools["emergency"].update(kind="emergency", bridging_days={"distribution": "fixed", "days": 21.0})
    pools["unregistered"] = {"serves": ["residential"], "capacity": "unlimited", "in_house": False}
    pools["unregistered"]["kind"] = "unregistered"
    raw["matching"].update(
        fostering={"pools": ["inhouse", "ifa"], "fallback": ["emergency"]},
        residential={"pools": ["homes", "external_homes"], "fallback": ["unregistered"]},
    )
    raw["breakdowns"] = {
        "by_need": {need: hazard(1.5) for need in ("fostering", "kinship_fostering", "residential")},
        "by_pool": {"emergency": hazard(4.0), "adopters": hazard(0.2)},
    }
    return raw


MARKET = build(_market_with_breakdowns())
MARKET_POOLS = list(MARKET.pools)


@pytest.fixture(scope="module")
def market_records() -> list[ReplicationRecord]:
    return [simulate_replication(MARKET, seed=5, replication=r) for r in range(5)]


def test_every_child_day_is_in_exactly_one_placement_with_breakdowns(market_records) -> None:
    for record in market_records:
        p = record.placements
        in_care = p[p[:, C.KIND] == IN_CARE]
        child, start, end = in_care[:, C.CHILD], in_care[:, C.START], in_care[:, C.END]
        order = np.lexsort((start, child))
        child, start, end = child[order], start[order], end[order]
        same = child[1:] == child[:-1]
        np.testing.assert_allclose(start[1:][same], end[:-1][same])  # no day in two placements, none in none
        last = end[np.r_[~same, True]]  # each child's last in-care placement ends when it leaves care
        left_on = record.exit_day[np.unique(child).astype(int)]
        np.testing.assert_allclose(np.where(np.isinf(last), np.nan, last), left_on)
        first = start[np.r_[True, ~same]]  # and its first starts when it enters
        np.testing.assert_allclose(first, record.cohort.entry_day[np.unique(child).astype(int)])


def test_no_pool_is_above_its_usable_places_with_breakdowns(market_records) -> None:
    for record in market_records:
        p = record.placements
        for pool in range(len(MARKET_POOLS)):
            log = record.capacity[record.capacity[:, LogColumn.POOL] == pool]
            if np.isinf(log[0, LogColumn.VALUE]):
                continue
            rows = p[p[:, C.POOL] == pool]
            start, end = rows[:, C.START], rows[:, C.END]
            times = np.unique(np.concatenate([start, log[:, LogColumn.DAY]]))
            occupied = ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)
            usable = log[np.searchsorted(log[:, LogColumn.DAY], times, side="right") - 1, LogColumn.VALUE]
            assert (occupied <= usable).all(), f"pool {MARKET_POOLS[pool]} above its usable places"


def test_breakdowns_run_new_searches_that_end_in_emergency_bridges(market_records) -> None:
    emergency = MARKET_POOLS.index("emergency")
    bridged = broken_bridges = 0
    for record in market_records:
        p = record.placements
        for row in p[record.breakdowns]:
            after = p[(p[:, C.CHILD] == row[C.CHILD]) & (p[:, C.START] == row[C.END]) & (p[:, C.KIND] == IN_CARE)]
            assert len(after) == 1 and after[0, C.NEED] == row[C.NEED]
            bridged += after[0, C.POOL] == emergency
            broken_bridges += row[C.POOL] == emergency
        rows = p[p[:, C.POOL] == emergency]
        days = rows[:, C.END] - rows[:, C.START]
        assert (days[np.isfinite(days)] <= 21.0 + 1e-9).all()  # a breakdown only shortens a bridge
    assert bridged > 0 and broken_bridges > 0


# ---------------------------------------------------------------------------------------------
# Without [breakdowns] nothing changes


def test_zero_hazards_change_no_record_and_no_key_is_dumped_without_breakdowns() -> None:
    raw = _market_with_breakdowns()
    plain_raw = copy.deepcopy(raw)
    del plain_raw["breakdowns"]
    raw["breakdowns"] = {"by_need": {"fostering": hazard(0.0)}, "note": "none"}
    plain, zero = build(plain_raw), build(raw)
    assert "breakdowns" not in plain.model_dump()
    assert zero.model_dump()["breakdowns"]["by_need"]["fostering"]["per_year"] == 0.0
    for replication in range(2):
        a, b = simulate_replication(plain, 5, replication), simulate_replication(zero, 5, replication)
        np.testing.assert_array_equal(a.placements, b.placements)
        np.testing.assert_array_equal(a.capacity, b.capacity)
        np.testing.assert_array_equal(a.exit_day, b.exit_day)
        assert a.events == b.events and len(a.breakdowns) == len(b.breakdowns) == 0


def test_per_day_reads_by_pool_before_by_need() -> None:
    b = UNLIMITED.breakdowns
    assert b.per_day("homes", "residential") == pytest.approx(2.0 / DAYS_PER_YEAR)
    assert b.per_day("carers", "fostering") == pytest.approx(0.8 / DAYS_PER_YEAR)
    assert b.per_day("carers", "secure") == 0.0


@pytest.mark.parametrize(
    ("breakdowns", "key"),
    [
        ({"by_pool": {"nowhere": hazard(1.0)}}, r"breakdowns\.by_pool.*nowhere"),
        ({"by_need": {"foster": hazard(1.0)}}, r"breakdowns\.by_need.*foster"),
        ({"by_need": {"fostering": hazard(-0.1)}}, r"breakdowns\.by_need\.fostering\.per_year"),
        ({"by_need": {"fostering": hazard(13.0)}}, r"breakdowns\.by_need\.fostering\.per_year"),
        ({"by_need": {"fostering": {"per_year": 0.5}}}, r"breakdowns\.by_need\.fostering\.note"),
        ({"by_need": {"fostering": {"per_year": 0.5, "note": ""}}}, r"breakdowns\.by_need\.fostering\.note"),
        ({"by_need": {"fostering": {"rate": 0.5, "note": "x"}}}, r"breakdowns\.by_need\.fostering\.rate"),
        ({"hazards": {}}, r"breakdowns\.hazards"),
    ],
)
def test_bad_breakdown_keys_are_refused_naming_the_key(breakdowns: dict[str, Any], key: str) -> None:
    raw = rich_scenario()
    raw["breakdowns"] = breakdowns
    with pytest.raises(ScenarioError, match=key):
        build(raw)


def _authority(seed: int) -> dict[str, Any]:
    """One of two authorities sharing 8 regional places, with breakdowns everywhere."""
    raw = one_pool_scenario(rate_per_year=60, capacity=3, years=4, mean_days=200)
    raw["seed"] = seed
    raw["pools"]["market"] = {"serves": ["fostering"], "capacity": 8, "in_house": False, "shared": "north_west"}
    raw["pools"]["external"]["kind"] = "unregistered"
    raw["matching"]["fostering"] = {"pools": ["inhouse", "market"], "fallback": ["external"]}
    raw["breakdowns"] = {"by_need": {"fostering": hazard(2.0)}}
    return raw


def test_linked_authorities_with_breakdowns_never_hold_more_than_the_shared_places() -> None:
    a, b = build(_authority(1)), build(_authority(2))
    market = list(a.pools).index("market")
    for replication in range(3):
        records = simulate_linked([a, b], [1, 2], replication)
        rows = np.concatenate([r.placements[r.placements[:, C.POOL] == market] for r in records])
        start, end = rows[:, C.START], rows[:, C.END]
        occupied = ((start[None, :] <= start[:, None]) & (start[:, None] < end[None, :])).sum(axis=1)
        assert occupied.max() <= 8
        assert all(len(r.breakdowns) > 0 for r in records)
        for record, scenario, seed in zip(records, (a, b), (1, 2), strict=True):  # the same journeys as alone
            alone = simulate_replication(scenario, seed, replication)
            np.testing.assert_array_equal(record.exit_day, alone.exit_day)
