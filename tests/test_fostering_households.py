"""Fostering households one by one (issue 18 part 1): each with its places and approved age range.

Checked: the households on the start date give exactly the pool's approved places; single children with
all-age households are placed exactly as in a pool of the same places without households (the household
constraint cannot bind); a sibling group is placed together only in one household with room for all, else
apart (households of [2, 1, 1]); a child no household's range takes goes to the next pool, a gap; a deregistered
household keeps its child until the child leaves, and at every logged change the approved places are the
households' places (conservation); groups of fixed size into households of that size, or into one household,
match the batch-arrival Erlang loss system; bad `approved_ages` are refused naming the key.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from sim.engine.households import NO_HOUSEHOLD, FosterHouseholds, starting_households
from sim.engine.model import (
    IN_CARE,
    CareSystem,
    LogColumn,
    PlacementColumn,
    ReplicationRecord,
    simulate_replication,
)
from sim.engine.scenario import FosteringSupply, ScenarioError
from sim.engine.vocabulary import DAYS_PER_YEAR
from tests.builders import build, one_pool_scenario, rich_scenario
from tests.test_closed_forms import WARM_UP_DAYS, confidence_interval
from tests.test_sibling_groups import _groups_first_pool, groups, loss_blocking

C = PlacementColumn
YEAR = DAYS_PER_YEAR


def with_households(raw: dict[str, Any], households: int, mix: dict[str, float], **supply: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    raw["pools"]["inhouse"]["fostering"] = {"households": households, "places_per_household": mix, **supply}
    return raw


# ---------------------------------------------------------------------------------------------
# The households on the start date


@pytest.mark.parametrize(
    ("households", "mix", "capacity", "sizes"),
    [
        (3, {"1": 2 / 3, "2": 1 / 3}, 4, [1, 1, 2]),
        (124, {"1": 0.354839, "2": 0.645161}, 204, [1] * 44 + [2] * 80),  # Cheshire East's baseline
        (7, {"1": 0.6, "2": 0.4}, 8, [1] * 6 + [2]),  # 4 x 1 + 3 x 2 = 10 places, two fewer
        (1, {"1": 1.0}, 6, [6]),  # one household of all the places
        (4, {"3": 1.0}, 2, [0, 0, 1, 1]),  # fewer places than households: some have none
    ],
)
def test_starting_households_give_exactly_the_approved_places(
    households: int, mix: dict[str, float], capacity: int, sizes: list[int]
) -> None:
    carers = starting_households(FosteringSupply(households=households, places_per_household=mix), capacity)
    assert sorted(carers.places) == sorted(sizes) and carers.approved == capacity
    assert len(carers.real) == households and not carers.planned


def test_starting_age_ranges_follow_their_shares_across_sizes() -> None:
    supply = FosteringSupply(
        households=100, places_per_household={"1": 0.5, "2": 0.5}, approved_ages={"0-11": 0.3, "11-18": 0.7}
    )
    carers = starting_households(supply, 150)
    ranges = np.array(carers.range_of)
    places = np.array(carers.places)
    assert carers.ranges[:2] == [(0.0, 11 * YEAR), (11 * YEAR, 18 * YEAR)]
    assert abs((ranges == 0).sum() - 30) <= 1
    for size in (1, 2):  # each size has about the range shares (the ranges are spread over the sizes)
        assert abs((ranges[places == size] == 0).mean() - 0.3) <= 0.05


def test_best_household_has_the_fewest_free_places_for_the_group_and_takes_every_age() -> None:
    carers = FosterHouseholds([(0.0, 10 * YEAR), (0.0, 18 * YEAR)])
    two, one, other = carers.add(2, 1, real=True), carers.add(1, 1, real=True), carers.add(1, 0, real=True)
    assert carers.best(3 * YEAR, 3 * YEAR, 2) == two
    assert carers.best(3 * YEAR, 3 * YEAR, 3) == NO_HOUSEHOLD
    assert carers.best(3 * YEAR, 3 * YEAR, 1) in (one, other)  # a one-place household, keeping room for a group
    assert carers.best(12 * YEAR, 12 * YEAR, 1) == one  # household `other` takes under-10s only
    carers.take(one)
    assert carers.best(12 * YEAR, 12 * YEAR, 1) == two and carers.best(3 * YEAR, 3 * YEAR, 1) == other
    assert carers.best(3 * YEAR, 12 * YEAR, 2) == two  # a group's ages: every one within the range


def test_a_dated_closure_takes_planned_places_then_free_places_then_occupied_ones() -> None:
    carers = FosterHouseholds([(0.0, 18 * YEAR)])
    three, one = carers.add(3, 0, real=True), carers.add(1, 0, real=True)
    carers.take(three)
    carers.add(1, 0, real=False)  # a place a dated change opened
    closed = []
    while carers.shrink():
        closed.append((carers.approved, carers.excess, carers.places[three], carers.places[one]))
    assert closed == [
        (4, 0, 3, 1),  # the planned place first
        (3, 0, 2, 1),  # a free place of the household with the most free places
        (2, 0, 2, 0),  # one free place each: the household longest at one free place
        (1, 0, 1, 0),
        (0, 1, 0, 0),  # no free place left: the occupied one closes when its child leaves
    ]
    carers.release(three)
    assert carers.excess == 0 and carers.best(0.0, 0.0, 1) == NO_HOUSEHOLD


# ---------------------------------------------------------------------------------------------
# (a) Where the constraint cannot bind, nothing changes


def test_single_children_in_all_age_households_are_placed_as_in_a_plain_pool() -> None:
    """Without recruitment or deregistration, all-age households of 8 places take single children exactly as a
    pool of 8 places does: the same placements, day for day."""
    raw = one_pool_scenario(rate_per_year=20, capacity=8, years=6)
    plain = build(raw)
    households = build(with_households(raw, 5, {"1": 0.4, "2": 0.6}))
    for replication in range(3):
        a = simulate_replication(plain, seed=2, replication=replication)
        b = simulate_replication(households, seed=2, replication=replication)
        np.testing.assert_array_equal(a.placements, b.placements)
        np.testing.assert_array_equal(a.capacity, b.capacity)


def test_with_recruitment_a_child_is_refused_only_when_the_pool_is_full() -> None:
    """Recruited all-age households: every child not placed in-house arrived when every usable place was taken,
    as in a counter of places (households add places, never refuse a single child with a place free)."""
    raw = with_households(one_pool_scenario(rate_per_year=30, capacity=6, years=6), 4, {"1": 0.5, "2": 0.5})
    raw["pools"]["inhouse"]["fostering"].update(approvals_per_year=3, assessment_delay_days=60)
    scenario = build(raw)
    refused = 0
    for replication in range(3):
        record = simulate_replication(scenario, seed=3, replication=replication)
        p = record.placements
        inhouse = p[p[:, C.POOL] == 0]
        log = record.capacity[record.capacity[:, LogColumn.POOL] == 0]
        for row in p[(p[:, C.WANTED] == 0) & (p[:, C.POOL] != 0)]:
            t = row[C.START]
            occupied = np.sum((inhouse[:, C.START] < t) & (t < inhouse[:, C.END]))
            usable = log[np.searchsorted(log[:, LogColumn.DAY], t, side="right") - 1, LogColumn.VALUE]
            assert occupied >= usable
            refused += 1
        assert record.households[-1, LogColumn.VALUE] > 4  # recruitment happened
    assert refused > 0


# ---------------------------------------------------------------------------------------------
# (b) Sibling groups need one household with room for all


def _groups_together_in_inhouse(record: ReplicationRecord) -> tuple[int, int]:
    """The most groups together in the in-house pool at once, and the groups placed there together."""
    p = record.placements
    apart = set(record.placed_apart.tolist())
    group = record.cohort.sibling_group
    first_rows = {}
    for row_index, row in enumerate(p):
        child = int(row[C.CHILD])
        if row[C.KIND] == IN_CARE and child not in first_rows:
            first_rows[child] = row_index
    intervals = []
    for label in np.unique(group[group >= 0]):
        rows = [first_rows[c] for c in np.flatnonzero(group == label).tolist() if c in first_rows]
        if all(p[r, C.POOL] == 0 for r in rows) and not apart.intersection(rows):
            intervals.append((p[rows, C.START].max(), p[rows, C.END].min()))
    times = sorted(start for start, _ in intervals)
    most = max((sum(a <= t < b for a, b in intervals) for t in times), default=0)
    return most, len(intervals)


def _households_2_1_1(size: int, households: bool = True) -> dict[str, Any]:
    raw = one_pool_scenario(rate_per_year=size * 12.0, capacity=4, years=6, stay={"distribution": "fixed", "days": 200})
    raw["matching"] = {"fostering": {"pools": ["inhouse"], "fallback": ["external"]}}
    raw["entries"]["sibling_groups"] = groups({str(size): 1.0})
    return with_households(raw, 3, {"1": 2 / 3, "2": 1 / 3}) if households else raw


def test_a_group_of_two_is_placed_together_only_in_the_two_place_household() -> None:
    with_carers, plain = build(_households_2_1_1(2)), build(_households_2_1_1(2, households=False))
    most, together = zip(
        *(_groups_together_in_inhouse(simulate_replication(with_carers, 4, r)) for r in range(4)), strict=True
    )
    assert max(most) == 1 and sum(together) > 10  # one household of 2 places: one group there at a time
    plain_most = [_groups_together_in_inhouse(simulate_replication(plain, 4, r))[0] for r in range(4)]
    assert max(plain_most) == 2  # a counter of 4 places takes two groups at once: the households bind


def test_a_group_of_three_is_placed_apart_in_households_of_two_one_and_one() -> None:
    scenario = build(_households_2_1_1(3))
    apart = 0
    for replication in range(3):
        record = simulate_replication(scenario, 4, replication)
        assert _groups_together_in_inhouse(record)[1] == 0  # no household has room for three
        p = record.placements
        inhouse_apart = [r for r in record.placed_apart.tolist() if p[r, C.POOL] == 0]
        apart += len(inhouse_apart)  # apart within the pool: in another household than the first member
    assert apart > 0


# ---------------------------------------------------------------------------------------------
# (c) Approved age ranges


def test_a_child_no_household_range_takes_goes_to_the_next_pool_as_a_gap() -> None:
    raw = one_pool_scenario(rate_per_year=20, capacity=6, years=3, band="10-15")
    young_only = build(with_households(raw, 4, {"1": 0.5, "2": 0.5}, approved_ages={"0-10": 1.0}))
    all_ages = build(with_households(raw, 4, {"1": 0.5, "2": 0.5}, approved_ages={"0-10": 0.5, "10-18": 0.5}))
    record = simulate_replication(young_only, seed=1, replication=0)
    p = record.placements
    assert len(p) > 20 and not (p[:, C.POOL] == 0).any()  # every child 10-15: no carer is approved for them
    assert (p[:, C.WANTED] == 0).all()  # the in-house pool was the first choice: each is a gap
    placed = simulate_replication(all_ages, seed=1, replication=0).placements
    assert (placed[:, C.POOL] == 0).sum() > 0


def test_approved_ages_read_back_and_are_left_out_when_not_given() -> None:
    supply = FosteringSupply(households=2, approved_ages={"0-5": 0.25, "5-18": 0.75})
    assert supply.age_ranges() == (((0, 5), 0.25), ((5, 18), 0.75))
    assert FosteringSupply(**supply.model_dump()) == supply
    assert "approved_ages" not in FosteringSupply(households=2).model_dump()
    assert FosteringSupply(households=2).age_ranges() == (((0, 18), 1.0),)


@pytest.mark.parametrize(
    ("ages", "message"),
    [
        ({"0-19": 1.0}, "approved_ages: '0-19'"),
        ({"10-5": 1.0}, "approved_ages: '10-5'"),
        ({"5": 1.0}, "approved_ages: '5'"),
        ({"0-10": 0.5, "10-18": 0.4}, "approved_ages must sum to 1"),
        ({f"{a}-{a + 1}": 1 / 11 for a in range(11)}, "approved_ages: at most 10"),
    ],
)
def test_bad_approved_ages_are_refused_naming_the_key(ages: dict[str, float], message: str) -> None:
    raw = with_households(one_pool_scenario(), 3, {"1": 1.0}, approved_ages=ages)
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")):
        build(raw)


# ---------------------------------------------------------------------------------------------
# (d) Deregistration and conservation of places


class CheckedSystem(CareSystem):
    """CareSystem checking the households against the pool's counters at every change of places or occupancy."""

    checks = 0

    def _log_capacity(self, index: int) -> None:
        super()._log_capacity(index)
        self._check(index)

    def _leave_household(self, child: int, pool_index: int) -> None:
        super()._leave_household(child, pool_index)
        self._check(pool_index)

    def _check(self, index: int) -> None:
        pool, carers = self.pools[index], self.pools[index].carers
        if carers is None:
            return
        CheckedSystem.checks += 1
        open_ = [h for h in range(len(carers.places)) if carers.active[h]]
        closing = sum(max(carers.used[h] - carers.places[h], 0) for h in open_)
        closing += sum(carers.used[h] for h in range(len(carers.places)) if not carers.active[h])
        assert carers.approved == sum(carers.places[h] for h in open_)
        in_no_household = carers.excess - closing  # children placed when no household was open
        assert in_no_household >= 0 and pool.occupied == sum(carers.used) + in_no_household
        assert pool.occupied <= pool.capacity
        settings = self.scenario.pools[self.pool_names[index]]
        usable = settings.usable(float(carers.approved + closing))
        assert pool.capacity == max(usable, pool.occupied)
        if settings.usable_share == 1.0 and self.approved_log[-1][1] == index:
            # approved places = the households' places: the open ones, and the closing ones still occupied
            assert self.approved_log[-1][2] == carers.approved + closing


@pytest.mark.parametrize("usable_share", [1.0, 0.9])
def test_places_are_conserved_through_recruitment_deregistration_and_closures(usable_share: float) -> None:
    raw = rich_scenario(years=4)
    inhouse = raw["pools"]["inhouse"]
    inhouse["usable_share"] = usable_share
    inhouse["fostering"].update(
        deregistrations_per_year=8, approvals_per_year=6, approved_ages={"0-12": 0.4, "5-18": 0.6}
    )
    inhouse["capacity_changes"] = [
        {"date": dt.date(2021, 1, 1), "change": 3, "note": "test"},
        {"date": dt.date(2022, 6, 1), "change": -6, "note": "test"},
    ]
    raw["entries"]["sibling_groups"] = groups()
    scenario = build(raw)
    CheckedSystem.checks = 0
    for replication in range(3):
        record = CheckedSystem(scenario, seed=9, replication=replication).run()
        assert (np.diff(record.households[:, LogColumn.VALUE]) != 0).all()  # one household joins or leaves a row
    assert CheckedSystem.checks > 300


def test_a_deregistered_household_keeps_its_child_until_the_child_leaves() -> None:
    raw = with_households(one_pool_scenario(rate_per_year=6, capacity=1, years=2), 1, {"1": 1.0})
    raw["pools"]["inhouse"]["fostering"]["deregistrations_per_year"] = 50  # leaves within weeks
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 1, "days_in_care": 30}]
    }
    raw["journeys"]["5-9"]["duration"]["return_home"] = {"distribution": "fixed", "days": 400}
    scenario = build(raw)
    record = simulate_replication(scenario, seed=1, replication=0)
    left = record.households[record.households[:, LogColumn.VALUE] == 0, LogColumn.DAY][0]
    p = record.placements
    child = int(p[p[:, C.START] == 0, C.CHILD][0])
    rows = p[p[:, C.CHILD] == child]
    assert len(rows) == 1 and rows[0, C.POOL] == 0  # never moved
    assert left < rows[0, C.END] == record.exit_day[child] == pytest.approx(370.0)
    log = record.capacity[record.capacity[:, LogColumn.POOL] == 0]
    assert log[log[:, LogColumn.DAY] <= left][-1, LogColumn.VALUE] == 1  # the place closes when the child leaves
    assert log[-1, LogColumn.DAY] == rows[0, C.END] and log[-1, LogColumn.VALUE] == 0
    assert not ((p[:, C.POOL] == 0) & (p[:, C.START] > 0)).any()  # no one else placed there


def test_a_household_of_the_same_size_with_no_child_deregisters_in_place_of_one_with_children() -> None:
    carers = FosterHouseholds([(0.0, math.inf)])
    one, busy, idle = (carers.add(places, 0, real=True) for places in (1, 2, 2))
    carers.take(busy)
    assert carers.leaving(0.0) == one  # the household the draw chooses has no child: it leaves
    assert carers.leaving(0.5) == idle  # a 2-place household with a child: the idle 2-place one leaves instead
    carers.take(idle)
    assert carers.leaving(0.5) == busy  # no idle household of its size: it leaves, its child keeps the place
    carers.release(idle)
    carers.remove(idle)
    assert carers.leaving(0.5) == busy and carers.idle == {1: [one], 2: []}
    assert FosterHouseholds([(0.0, math.inf)]).leaving(0.3) == NO_HOUSEHOLD


# ---------------------------------------------------------------------------------------------
# (e) The batch-arrival Erlang loss system, by household


@pytest.mark.parametrize(
    ("households", "mix", "shares"),
    [
        (1, {"1": 1.0}, {"1": 0.5, "2": 0.3, "3": 0.2}),  # one household of 6 places: the pool's loss system
        (3, {"2": 1.0}, {"2": 1.0}),  # groups of 2 into households of 2: Erlang B with 3 households
    ],
)
def test_groups_all_or_nothing_into_households_match_the_batch_arrival_loss_system(
    households: int, mix: dict[str, float], shares: dict[str, float]
) -> None:
    capacity, stay, group_rate = 6, 30.0, 2.0 / 30.0
    mean_size = sum(int(k) * s for k, s in shares.items())
    raw = one_pool_scenario(
        rate_per_year=group_rate * mean_size * DAYS_PER_YEAR,
        capacity=capacity,
        years=12,
        stay={"distribution": "fixed", "days": stay},
    )
    raw["entries"]["sibling_groups"] = groups(shares)
    scenario = build(with_households(raw, households, mix))
    sizes = sorted(int(k) for k in shares)
    blocked: dict[int, list[float]] = {k: [] for k in sizes}
    for replication in range(40):
        record = simulate_replication(scenario, seed=11, replication=replication)
        pool, size = _groups_first_pool(record, WARM_UP_DAYS)
        for k, values in blocked.items():
            values.append(np.mean(pool[size == k] != 0))
    expected = loss_blocking(capacity, group_rate, {int(k): s for k, s in shares.items()}, stay)
    for k, values in blocked.items():
        low, high = confidence_interval(np.array(values), 0.99)
        assert low <= expected[k] <= high, (k, low, expected[k], high)
    if households == 3:
        from tests.test_closed_forms import erlang_b

        assert expected[2] == pytest.approx(erlang_b(3, group_rate * stay), rel=1e-9)


def test_single_place_households_turn_every_group_away() -> None:
    raw = one_pool_scenario(rate_per_year=40, capacity=6, years=3)
    raw["entries"]["sibling_groups"] = groups({"2": 1.0})
    record = simulate_replication(build(with_households(raw, 6, {"1": 1.0})), seed=1, replication=0)
    pool, _ = _groups_first_pool(record, 0.0)
    assert len(pool) > 20 and (pool != 0).all()
