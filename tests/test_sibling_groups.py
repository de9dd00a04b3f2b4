"""Sibling groups ([entries.sibling_groups], issue 18 part 1): children arriving together, placed together.

Checked: group arrivals with all-or-nothing placement in one finite pool match the multi-class (batch-arrival)
Erlang loss system, its stationary distribution found here by solving the continuous-time chain's balance
equations numerically (stays fixed so that a group leaves together; the loss system's stationary distribution
is insensitive to the stay distribution beyond its mean); the children a year are unchanged in expectation and
overdispersed as a compound Poisson count; every child-day is in exactly one placement and no pool is above its
usable places with groups in a market that runs out; members placed apart are counted in the gap ledger's
`placed_apart` kind; scenarios without the key keep every record; bad keys are refused naming the key.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from typing import Any

import numpy as np
import pytest

from sim.analysis.what_if import scenario_document
from sim.engine.model import (
    IN_CARE,
    LogColumn,
    PlacementColumn,
    ReplicationRecord,
    simulate_linked,
    simulate_replication,
)
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.toml_writer import to_toml
from sim.engine.vocabulary import DAYS_PER_YEAR, PLACEMENT_NEEDS
from sim.results.runner import run
from tests.builders import build, one_pool_scenario, rich_scenario
from tests.test_closed_forms import WARM_UP_DAYS, confidence_interval

C = PlacementColumn
SHARES = {"1": 0.5, "2": 0.3, "3": 0.2}
MEAN_SIZE = 1 * 0.5 + 2 * 0.3 + 3 * 0.2


def groups(shares: dict[str, float] = SHARES) -> dict[str, Any]:
    return {"size_shares": shares, "note": "assumption: test"}


# ---------------------------------------------------------------------------------------------
# The batch-arrival Erlang loss system


def loss_blocking(capacity: int, group_rate: float, shares: dict[int, float], stay: float) -> dict[int, float]:
    """Blocking of each group size in a pool of `capacity` places taking a group only if all its members fit,
    a group leaving together after an exponential stay of mean `stay`: the chain's balance equations solved
    numerically over the states (groups of each size in the pool)."""
    sizes = sorted(shares)
    bounds = [range(capacity // k + 1) for k in sizes]
    states = [s for s in itertools.product(*bounds) if sum(n * k for n, k in zip(s, sizes, strict=True)) <= capacity]
    index = {s: i for i, s in enumerate(states)}
    generator = np.zeros((len(states), len(states)))
    for s, i in index.items():
        for position, size in enumerate(sizes):
            up = tuple(n + (j == position) for j, n in enumerate(s))
            if up in index:
                generator[i, index[up]] += group_rate * shares[size]
            if s[position] > 0:
                down = tuple(n - (j == position) for j, n in enumerate(s))
                generator[i, index[down]] += s[position] / stay
        generator[i, i] = -generator[i].sum()
    balance = np.vstack([generator.T, np.ones(len(states))])
    pi = np.linalg.lstsq(balance, np.r_[np.zeros(len(states)), 1.0], rcond=None)[0]
    used = np.array([sum(n * k for n, k in zip(s, sizes, strict=True)) for s in states])
    return {size: float(pi[used > capacity - size].sum()) for size in sizes}


def test_the_chain_gives_erlang_b_for_children_arriving_alone() -> None:
    from tests.test_closed_forms import erlang_b

    assert loss_blocking(5, 0.1, {1: 1.0}, 30.0)[1] == pytest.approx(erlang_b(5, 3.0), rel=1e-9)


def test_groups_placed_all_or_nothing_match_the_batch_arrival_loss_system() -> None:
    capacity, stay, group_rate = 6, 30.0, 2.0 / 30.0  # two groups a stay: 3.4 places of 6 offered
    raw = one_pool_scenario(
        rate_per_year=group_rate * MEAN_SIZE * DAYS_PER_YEAR,
        capacity=capacity,
        years=12,
        stay={"distribution": "fixed", "days": stay},
    )
    raw["entries"]["sibling_groups"] = groups()
    scenario = build(raw)
    blocked: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for replication in range(40):
        record = simulate_replication(scenario, seed=11, replication=replication)
        pool, size = _groups_first_pool(record, WARM_UP_DAYS)
        for k, shares in blocked.items():
            shares.append(np.mean(pool[size == k] != 0))  # pool 0 is the in-house pool
    expected = loss_blocking(capacity, group_rate, {1: 0.5, 2: 0.3, 3: 0.2}, stay)
    assert expected[1] < expected[2] < expected[3]  # larger groups are turned away more often
    for k, shares in blocked.items():
        low, high = confidence_interval(np.array(shares), 0.99)
        assert low <= expected[k] <= high, (k, low, expected[k], high)


def _groups_first_pool(record: ReplicationRecord, after: float) -> tuple[np.ndarray, np.ndarray]:
    """The pool of each group's first member's first placement, and the group's size, for groups arriving
    after `after` days; every member of a group (one need here) is in the same placement pool."""
    p = record.placements
    cohort = record.cohort
    first = p[p[:, C.KIND] == IN_CARE]  # rows in the order they opened: a child's first row is its first placement
    first = first[np.argsort(first[:, C.CHILD], kind="stable")]
    first = first[np.r_[True, first[1:, C.CHILD] != first[:-1, C.CHILD]]]
    child = first[:, C.CHILD].astype(np.int64)
    group = cohort.sibling_group[child]
    assert (group >= 0).all()
    labels, start, size = np.unique(group, return_index=True, return_counts=True)
    pools = first[:, C.POOL]
    for label, a in zip(labels, start, strict=True):  # placed together: one pool a group
        assert (pools[group == label] == pools[a]).all()
    assert len(record.placed_apart) == 0  # the unlimited pool takes any group
    keep = first[start, C.START] >= after
    return pools[start][keep], size[keep]


def test_groups_keep_the_children_a_year_and_overdisperse_their_count() -> None:
    raw = one_pool_scenario(rate_per_year=170.0, capacity="unlimited", years=1)
    raw["entries"]["sibling_groups"] = groups()
    scenario = build(raw)
    counts, sizes = [], []
    for replication in range(300):
        record = simulate_replication(scenario, seed=4, replication=replication)
        counts.append(record.cohort.size)
        sizes.append(np.bincount(record.cohort.sibling_group, minlength=1))
    counts = np.array(counts, dtype=float)
    dispersion = (1 * 0.5 + 4 * 0.3 + 9 * 0.2) / MEAN_SIZE  # compound Poisson: var/mean = E[K^2]/E[K] = 2.06
    assert abs(counts.mean() - 170.0) <= 3.0 * np.sqrt(170.0 * dispersion / 300)
    assert 0.8 * dispersion <= counts.var(ddof=1) / counts.mean() <= 1.25 * dispersion
    all_sizes = np.concatenate(sizes)
    shares = np.bincount(all_sizes, minlength=4)[1:] / len(all_sizes)
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.2], atol=0.02)
    # members enter on one day, each with its own journey
    record = simulate_replication(scenario, seed=4, replication=0)
    group, entry = record.cohort.sibling_group, record.cohort.entry_day
    for label in np.unique(group):
        assert np.ptp(entry[group == label]) == 0.0


def test_a_group_not_found_by_its_search_is_not_found_by_its_members_own_searches() -> None:
    """Groups of two offered an unlimited agency found by 60% of searches, then an unregistered last resort:
    a group is found, and placed together, 60% of the time; otherwise both members go to the last resort (a
    fresh search for each would put 1 - 0.4^2 = 84% of groups' first members in the agency)."""
    raw = one_pool_scenario(rate_per_year=800, years=3, band="under1", stay={"distribution": "fixed", "days": 30.0})
    raw["pools"] = {
        "market": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False, "availability": 0.6},
        "last_resort": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False, "kind": "unregistered"},
    }
    raw["matching"] = {"fostering": {"pools": ["market"], "fallback": ["last_resort"]}}
    raw["entries"]["sibling_groups"] = groups({"2": 1.0})
    scenario = build(raw)
    found = []
    for replication in range(5):
        record = simulate_replication(scenario, seed=8, replication=replication)
        pool, size = _groups_first_pool(record, 0.0)
        assert (size == 2).all()
        found.append(pool == 0)
    found = np.concatenate(found)
    half = 2.5758 * np.sqrt(0.6 * 0.4 / len(found))
    assert len(found) > 2_000 and abs(found.mean() - 0.6) <= half


def test_the_key_reads_back_from_the_scenario_document() -> None:
    document = scenario_document(MARKET)
    back = scenario_from_dict(tomllib.loads(to_toml(document)))
    assert back.entries.sibling_groups == MARKET.entries.sibling_groups
    assert back.entries.sibling_groups.mean_size == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# Conservation and the gap ledger in a market that runs out


def _market_with_groups() -> dict[str, Any]:
    """The rich scenario with finite agency carers and homes found by some searches, emergency placements
    bridging for 21 days, unregistered homes, a usable share below 1, and children arriving in groups of up to
    4: groups finding no proper pool with room for all are placed on their own, some apart."""
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
    raw["entries"]["sibling_groups"] = groups({"1": 0.4, "2": 0.3, "3": 0.2, "4": 0.1})
    return raw


MARKET = build(_market_with_groups())


@pytest.fixture(scope="module")
def market_records() -> list[ReplicationRecord]:
    return [simulate_replication(MARKET, seed=5, replication=r) for r in range(4)]


def test_every_child_day_is_in_exactly_one_placement_with_groups(market_records) -> None:
    for record in market_records:
        p = record.placements
        in_care = p[p[:, C.KIND] == IN_CARE]
        child, start, end = in_care[:, C.CHILD], in_care[:, C.START], in_care[:, C.END]
        order = np.lexsort((start, child))
        child, start, end = child[order], start[order], end[order]
        same = child[1:] == child[:-1]
        np.testing.assert_allclose(start[1:][same], end[:-1][same])
        last = end[np.r_[~same, True]]
        left_on = record.exit_day[np.unique(child).astype(int)]
        np.testing.assert_allclose(np.where(np.isinf(last), np.nan, last), left_on)
        first = start[np.r_[True, ~same]]
        np.testing.assert_allclose(first, record.cohort.entry_day[np.unique(child).astype(int)])
        entrants = record.cohort.entrants
        assert set(np.unique(child).astype(int)) >= set(np.flatnonzero(entrants & (record.cohort.entry_day > 0)))


def test_no_pool_is_above_its_usable_places_with_groups(market_records) -> None:
    for record in market_records:
        p = record.placements
        for pool in range(len(MARKET.pools)):
            log = record.capacity[record.capacity[:, LogColumn.POOL] == pool]
            if np.isinf(log[0, LogColumn.VALUE]):
                continue
            rows = p[p[:, C.POOL] == pool]
            start, end = rows[:, C.START], rows[:, C.END]
            times = np.unique(np.concatenate([start, log[:, LogColumn.DAY]]))
            occupied = ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)
            usable = log[np.searchsorted(log[:, LogColumn.DAY], times, side="right") - 1, LogColumn.VALUE]
            assert (occupied <= usable).all(), f"pool {list(MARKET.pools)[pool]} above its usable places"


def test_members_placed_apart_are_first_placements_in_another_pool_than_the_first_member(market_records) -> None:
    apart_total = 0
    for record in market_records:
        p = record.placements
        group = record.cohort.sibling_group
        assert record.placed_apart.dtype == np.int64
        for row in p[record.placed_apart]:
            child = int(row[C.CHILD])
            assert row[C.START] == record.cohort.entry_day[child] and row[C.KIND] == IN_CARE
            members = np.flatnonzero(group == group[child])
            assert members[0] != child  # the first member is never the one placed apart
            leader = p[(p[:, C.CHILD] == members[0]) & (p[:, C.START] == row[C.START])]
            in_households = list(MARKET.pools.values())[int(row[C.POOL])].fostering is not None
            # another pool, or (a fostering pool, households one by one) another household of the same pool
            assert (leader[0, C.POOL] != row[C.POOL] or in_households) and leader[0, C.NEED] == row[C.NEED]
        apart_total += len(record.placed_apart)
    assert apart_total > 0


def test_the_gap_ledger_counts_members_placed_apart() -> None:
    result = run(MARKET, 2, seed=5)
    ledger = result.tables["gap_ledger"]
    apart = ledger[ledger["kind"].astype(str) == "placed_apart"]
    records = [simulate_replication(MARKET, seed=5, replication=r) for r in range(2)]
    pools = list(MARKET.pools.values())
    expected = 0
    for record in records:  # placed apart unless an earlier kind applies (emergency, unregistered, wrong kind)
        for row in record.placements[record.placed_apart]:
            pool, need = pools[int(row[C.POOL])], PLACEMENT_NEEDS[int(row[C.NEED])]
            expected += pool.kind == "placement" and need in pool.serves and need != "secure"
    assert 0 < expected == int(apart["placements"].sum())
    assert not apart["sufficient"].any()
    assert set(apart["used_pool"].astype(str)) <= {"inhouse", "ifa", "homes", "external_homes"}


# ---------------------------------------------------------------------------------------------
# Without the key nothing changes; bad keys are refused


def test_without_the_key_records_are_unchanged_and_no_key_is_dumped() -> None:
    raw = _market_with_groups()
    plain_raw = copy.deepcopy(raw)
    del plain_raw["entries"]["sibling_groups"]
    plain = build(plain_raw)
    assert "sibling_groups" not in plain.model_dump()["entries"]
    alone = build(raw, entries__sibling_groups=groups({"1": 1.0}))
    for replication in range(2):
        a = simulate_replication(plain, 5, replication)
        assert len(a.placed_apart) == 0 and (a.cohort.sibling_group == -1).all()
        b = simulate_replication(alone, 5, replication)  # groups of one: alone, but on their own stream
        assert len(b.placed_apart) == 0 and b.cohort.size > 0


@pytest.mark.parametrize(
    ("sibling_groups", "key"),
    [
        ({"size_shares": {"1": 0.5, "2": 0.4}, "note": "x"}, r"sibling_groups\.size_shares"),
        ({"size_shares": {"5": 1.0}, "note": "x"}, r"sibling_groups\.size_shares.*'5'"),
        ({"size_shares": {"1": 1.2, "2": -0.2}, "note": "x"}, r"sibling_groups\.size_shares\.1"),
        ({"size_shares": {"1": 1.0}}, r"sibling_groups\.note"),
        ({"size_shares": {"1": 1.0}, "note": ""}, r"sibling_groups\.note"),
        ({"sizes": {"1": 1.0}, "note": "x"}, r"sibling_groups\.sizes"),
    ],
)
def test_bad_sibling_group_keys_are_refused_naming_the_key(sibling_groups: dict[str, Any], key: str) -> None:
    raw = rich_scenario()
    raw["entries"]["sibling_groups"] = sibling_groups
    with pytest.raises(ScenarioError, match=key):
        build(raw)


def test_linked_authorities_with_groups_never_hold_more_than_the_shared_places() -> None:
    raws = [_shared_authority(seed) for seed in (1, 2)]
    a, b = build(raws[0]), build(raws[1])
    market = list(a.pools).index("market")
    apart = 0
    for replication in range(3):
        records = simulate_linked([a, b], [1, 2], replication)
        rows = np.concatenate([r.placements[r.placements[:, C.POOL] == market] for r in records])
        start, end = rows[:, C.START], rows[:, C.END]
        occupied = ((start[None, :] <= start[:, None]) & (start[:, None] < end[None, :])).sum(axis=1)
        assert occupied.max() <= 8
        apart += sum(len(r.placed_apart) for r in records)
    assert apart > 0


def _shared_authority(seed: int) -> dict[str, Any]:
    """One of two authorities sharing 8 regional places, its children arriving alone or in threes."""
    raw = one_pool_scenario(rate_per_year=60, capacity=3, years=4, mean_days=200)
    raw["seed"] = seed
    raw["pools"]["market"] = {"serves": ["fostering"], "capacity": 8, "in_house": False, "shared": "north_west"}
    raw["pools"]["external"]["kind"] = "unregistered"
    raw["matching"]["fostering"] = {"pools": ["inhouse", "market"], "fallback": ["external"]}
    raw["entries"]["sibling_groups"] = groups({"1": 0.4, "3": 0.6})
    return raw
