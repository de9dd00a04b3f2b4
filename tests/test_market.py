"""A market that can run out (issue 17): finite and searched external pools, the fallbacks, the gap ledger.

Closed forms where there are any (Erlang B for a finite external pool, 1 - p for one search of a pool found
with probability p), invariants with emergency placements bridging to new searches, two authorities sharing
one regional pool in a region, and the gap ledger adding up to the old gap. Each statistical check asks
whether the exact value lies inside a 99% confidence interval of the simulated estimate, on a fixed seed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.analysis.region import REGION, run_region
from sim.engine.model import IN_CARE, LogColumn, PlacementColumn, simulate_linked, simulate_replication
from sim.engine.scenario import ScenarioError, shared_pool_groups
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.toml_writer import to_toml
from sim.results import runner
from sim.results.runner import run, run_linked
from tests.builders import build, one_pool_scenario, rich_scenario
from tests.test_closed_forms import WARM_UP_DAYS, confidence_interval, erlang_b

BRIDGING_DAYS = 21.0
LAST_RESORT = {"serves": ["fostering"], "capacity": "unlimited", "in_house": False, "kind": "unregistered"}


def _market(pool: dict[str, Any], rate_per_year: float, years: int = 6, mean_stay: float = 30.0) -> dict[str, Any]:
    """Children needing fostering offered one external pool, then an unregistered last resort."""
    raw = one_pool_scenario(
        rate_per_year=rate_per_year,
        years=years,
        band="under1",  # stays of a month never reach an 18th birthday
        stay={"distribution": "lognormal", "mean": mean_stay, "sd": 45.0},
    )
    raw["pools"] = {"market": {"serves": ["fostering"], "in_house": False, **pool}, "last_resort": LAST_RESORT}
    raw["matching"] = {"fostering": {"pools": ["market"], "fallback": ["last_resort"]}}
    return raw


def _first_placements(record, after: float = 0.0) -> np.ndarray:
    p = record.placements
    return p[(p[:, PlacementColumn.KIND] == IN_CARE) & (p[:, PlacementColumn.START] >= after)]


def test_share_turned_away_by_a_finite_external_pool_matches_erlang_b() -> None:
    capacity, load, mean_stay = 5, 3.0, 30.0
    scenario = build(_market({"capacity": capacity}, rate_per_year=load / mean_stay * 365.25, years=12))
    shares = []
    for replication in range(40):
        placed = _first_placements(simulate_replication(scenario, seed=11, replication=replication), WARM_UP_DAYS)
        shares.append(np.mean(placed[:, PlacementColumn.POOL] != 0))  # pool 0 is the market
    low, high = confidence_interval(np.array(shares), 0.99)
    assert low <= erlang_b(capacity, load) <= high


@pytest.mark.parametrize("availability", [0.7, 0.25])
def test_one_search_of_a_pool_found_with_probability_p_fails_one_time_in_1_minus_p(availability: float) -> None:
    scenario = build(_market({"capacity": "unlimited", "availability": availability}, rate_per_year=400, years=3))
    placed = np.concatenate([_first_placements(simulate_replication(scenario, 4, r)) for r in range(10)])
    failed = placed[:, PlacementColumn.POOL] != 0
    n, share = len(failed), failed.mean()
    half = 2.5758 * np.sqrt(share * (1 - share) / n)  # 99% normal interval of a binomial share
    assert n > 5_000
    assert share - half <= 1 - availability <= share + half


def test_searches_draw_from_a_stream_of_their_own_so_the_children_stay_the_same() -> None:
    plain = build(_market({"capacity": "unlimited"}, rate_per_year=200, years=2))
    searched = build(_market({"capacity": "unlimited", "availability": 0.5}, rate_per_year=200, years=2))
    a, b = simulate_replication(plain, 3, 0), simulate_replication(searched, 3, 0)
    np.testing.assert_array_equal(a.cohort.entry_day, b.cohort.entry_day)
    np.testing.assert_array_equal(a.exit_day, b.exit_day)
    assert not (_first_placements(a)[:, PlacementColumn.POOL]).any()
    assert (_first_placements(b)[:, PlacementColumn.POOL] == 1).any()


# ---------------------------------------------------------------------------------------------
# Every fallback at once


def market_scenario() -> dict[str, Any]:
    """The rich scenario with a market that runs out: agency carers found in 8 searches of 10, a few external
    homes, emergency placements bridging for 21 days, unregistered homes, one secure bed with a Deprivation of
    Liberty placement behind it, and three supported flats as the wrong-kind fallback for a children's home."""
    raw = rich_scenario(years=5)
    pools = raw["pools"]
    pools["ifa"].update(capacity=30, availability=0.8)
    pools["external_homes"].update(capacity=6, availability=0.6)
    pools["emergency"].update(kind="emergency", bridging_days={"distribution": "fixed", "days": BRIDGING_DAYS})
    pools["unregistered"] = {**LAST_RESORT, "serves": ["residential"]}
    pools["flats"] = {"serves": ["supported_16plus"], "capacity": 3, "in_house": False}
    pools["secure_unit"] = {"serves": ["secure"], "capacity": 1, "in_house": False}
    pools["dol"] = {"serves": ["secure"], "capacity": "unlimited", "in_house": False, "kind": "deprivation_of_liberty"}
    raw["matching"].update(
        fostering={"pools": ["inhouse", "ifa"], "fallback": ["emergency"]},
        residential={"pools": ["homes", "external_homes"], "fallback": ["flats", "unregistered"]},
        secure={"pools": ["secure_unit"], "fallback": ["dol"]},
    )
    older = raw["journeys"]["10-15"]
    older["first_need"] = {"fostering": 0.5, "residential": 0.3, "secure": 0.1, "supported_16plus": 0.1}
    return raw


MARKET = build(market_scenario())


@pytest.fixture(scope="module")
def market_records():
    return [simulate_replication(MARKET, seed=5, replication=r) for r in range(6)]


def test_every_child_day_is_in_exactly_one_placement_with_bridging_and_new_searches(market_records) -> None:
    for record in market_records:
        in_care = _first_placements(record)
        child, start, end = (in_care[:, c] for c in (PlacementColumn.CHILD, PlacementColumn.START, PlacementColumn.END))
        left = ~np.isnan(record.exit_day)
        assert int(record.cohort.starting.sum() + (~record.cohort.starting).sum() - left.sum()) == len(
            np.unique(child[np.isinf(end)])
        )
        order = np.lexsort((start, child))
        child, start, end = child[order], start[order], end[order]
        same = child[1:] == child[:-1]
        np.testing.assert_allclose(start[1:][same], end[:-1][same])  # no day in two placements, none in none
        last = end[np.r_[~same, True]]  # each child's last placement ends when the child leaves care
        left_on = record.exit_day[np.unique(child).astype(int)]
        np.testing.assert_allclose(np.where(np.isinf(last), np.nan, last), left_on)


def test_no_pool_is_ever_above_its_capacity_with_the_market_running_out(market_records) -> None:
    for record in market_records:
        p = record.placements
        for pool in np.unique(record.capacity[:, LogColumn.POOL]).astype(int):
            log = record.capacity[record.capacity[:, LogColumn.POOL] == pool]
            if np.isinf(log[0, LogColumn.VALUE]):
                continue
            rows = p[p[:, PlacementColumn.POOL] == pool]
            start, end = rows[:, PlacementColumn.START], rows[:, PlacementColumn.END]
            times = np.unique(np.concatenate([start, end[np.isfinite(end)], log[:, LogColumn.DAY]]))
            occupied = ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)
            capacity = log[np.searchsorted(log[:, LogColumn.DAY], times, side="right") - 1, LogColumn.VALUE]
            assert (occupied <= capacity).all(), f"pool {MARKET_POOLS[pool]} over capacity"


MARKET_POOLS = list(MARKET.pools)


def test_an_emergency_placement_bridges_to_a_new_search_after_its_days(market_records) -> None:
    emergency = MARKET_POOLS.index("emergency")
    chained = 0
    for record in market_records:
        p = _first_placements(record)
        rows = p[p[:, PlacementColumn.POOL] == emergency]
        ended = np.isfinite(rows[:, PlacementColumn.END])
        days = rows[ended, PlacementColumn.END] - rows[ended, PlacementColumn.START]
        assert (days <= BRIDGING_DAYS + 1e-9).all() and (np.isclose(days, BRIDGING_DAYS)).mean() > 0.5
        # A bridge that ran its days is followed at once by a new placement of the same need, often another bridge.
        for row in rows[ended][np.isclose(days, BRIDGING_DAYS)]:
            child, at = row[PlacementColumn.CHILD], row[PlacementColumn.END]
            after = p[(p[:, PlacementColumn.CHILD] == child) & (p[:, PlacementColumn.START] == at)]
            assert len(after) == 1 and after[0, PlacementColumn.NEED] == row[PlacementColumn.NEED]
            chained += after[0, PlacementColumn.POOL] == emergency
    assert chained > 0


def test_the_gap_ledger_records_every_fallback_by_kind_and_adds_up_to_the_old_gap() -> None:
    result = run(MARKET, 3, seed=5)
    ledger, gaps = result.tables["gap_ledger"], result.tables["gaps"]
    kinds = set(ledger["kind"].astype(str))
    assert {"secure_shortage", "emergency", "unregistered", "wrong_kind", "beyond_20_miles"} <= kinds
    assert {"external_right_kind"} <= kinds and "placed_apart" not in kinds
    secure = ledger[ledger["kind"] == "secure_shortage"]
    assert set(secure["need"].astype(str)) == {"secure"} and set(secure["used_pool"].astype(str)) == {"dol"}
    wrong = ledger[ledger["kind"] == "wrong_kind"]
    assert set(wrong["need"].astype(str)) == {"residential"} and set(wrong["used_pool"].astype(str)) == {"flats"}
    assert ledger["sufficient"].eq(ledger["kind"].isin(["external_right_kind", "in_house_right_kind"])).all()
    _assert_adds_up_to_the_old_gap(ledger, gaps)


def test_without_the_new_keys_the_ledger_still_adds_up_to_the_old_gap() -> None:
    result = run(build(rich_scenario(years=3)), 3, seed=2)
    ledger = result.tables["gap_ledger"]
    assert set(ledger["kind"].astype(str)) <= {"wrong_kind", "beyond_20_miles", "external_right_kind"}
    _assert_adds_up_to_the_old_gap(ledger, result.tables["gaps"])


def _assert_adds_up_to_the_old_gap(ledger, gaps) -> None:
    """Rows outside the first choice, summed over kinds, are the gap table, replication by replication."""
    elsewhere = ledger[ledger["wanted_pool"].astype(str) != ledger["used_pool"].astype(str)]
    for value in ("placements", "child_days"):
        by_kinds = elsewhere.groupby("replication")[value].sum()
        old = gaps.groupby("replication")[value].sum()
        np.testing.assert_allclose(by_kinds.to_numpy(), old.to_numpy(), rtol=1e-12)
    first_choice = ledger[ledger["wanted_pool"].astype(str) == ledger["used_pool"].astype(str)]
    assert not first_choice["sufficient"].any()  # a first choice is a gap only when it is not sufficient


# ---------------------------------------------------------------------------------------------
# Two authorities sharing one regional pool


def _authority(seed: int, capacity: int = 8) -> dict[str, Any]:
    raw = one_pool_scenario(rate_per_year=60, capacity=3, years=4, mean_days=200)
    raw["seed"] = seed
    raw["pools"]["market"] = {"serves": ["fostering"], "capacity": capacity, "in_house": False, "shared": "north_west"}
    raw["pools"]["external"]["kind"] = "unregistered"
    raw["matching"]["fostering"] = {"pools": ["inhouse", "market"], "fallback": ["external"]}
    raw["step_back"] = {"enabled": True}  # children do not wait for a shared pool: found by searching only
    return raw


def _occupied_at_every_event(records, pool: int) -> np.ndarray:
    rows = np.concatenate([r.placements[r.placements[:, PlacementColumn.POOL] == pool] for r in records])
    start, end = rows[:, PlacementColumn.START], rows[:, PlacementColumn.END]
    times = np.unique(np.concatenate([start, end[np.isfinite(end)]]))
    return ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)


def test_two_authorities_sharing_a_pool_never_hold_more_than_its_places_together() -> None:
    a, b = build(_authority(1)), build(_authority(2))
    market = list(a.pools).index("market")
    for replication in range(4):
        records = simulate_linked([a, b], [1, 2], replication)
        together = _occupied_at_every_event(records, market)
        assert together.max() == 8  # full, and never over
        alone = [simulate_replication(s, seed, replication) for s, seed in ((a, 1), (b, 2))]
        assert _occupied_at_every_event(alone, market).max() > 8  # apart, each had all 8 places to itself
        for linked, single in zip(records, alone, strict=True):  # the same children, competing for the places
            np.testing.assert_array_equal(linked.cohort.entry_day, single.cohort.entry_day)


def test_a_region_runs_authorities_sharing_a_pool_in_one_simulation(tmp_path: Path) -> None:
    files = []
    for name, seed in (("east", 1), ("west", 2)):
        files.append(tmp_path / f"{name}.toml")
        files[-1].write_text(to_toml(_authority(seed)), encoding="utf-8")
    region = run_region(files, 3)
    occupancy = [result.tables["occupancy"] for result in region.results]
    shared = [o[o["pool"] == "market"].set_index(["replication", "date"])["occupied"] for o in occupancy]
    assert (shared[0] + shared[1]).max() <= 8
    summary = region.summary
    rows = summary[summary["measure"] == "not_sufficient_child_days_total"].set_index(["authority", "financial_year"])
    year = region.financial_years[0]
    assert rows.loc[(REGION, year), "mean"] == pytest.approx(
        rows.loc[("east", year), "mean"] + rows.loc[("west", year), "mean"]
    )


def test_authorities_sharing_a_pool_must_agree_on_its_places_and_horizon() -> None:
    a, b = build(_authority(1)), build(_authority(2, capacity=9))
    with pytest.raises(ScenarioError, match=r"shared pool 'north_west'.*b: pools.market.capacity = 9"):
        shared_pool_groups([a, b], ["a", "b"])
    longer = build(_authority(2), **{"horizon__years": 5})
    with pytest.raises(ScenarioError, match=r"shared pool 'north_west'.*same \[horizon\]"):
        shared_pool_groups([a, longer], ["a", "b"])
    alone = build(one_pool_scenario(), seed=3)
    assert shared_pool_groups([a, alone, build(_authority(2))], ["a", "c", "b"]) == [[0, 2], [1]]
    start = [{"age_band": "5-9", "need": "fostering", "pool": "market", "count": 5, "days_in_care": 100}]
    crowded = build(_authority(2), **{"start_population__groups": start})
    with pytest.raises(ScenarioError, match=r"10 children and young people start in it across a, b.*at most .*8"):
        shared_pool_groups([build(_authority(1), **{"start_population__groups": start}), crowded], ["a", "b"])


def test_linked_tables_are_the_same_however_the_batch_is_cut(monkeypatch) -> None:
    scenarios = [build(_authority(1)), build(_authority(2))]
    whole = run_linked(scenarios, [[0, 1]], 3)
    monkeypatch.setattr(runner, "MAX_ROWS_PER_TABLE_PASS", 1)  # a table pass after every replication
    for one, other in zip(whole, run_linked(scenarios, [[0, 1]], 3), strict=True):
        for name in one.tables:
            assert one.tables[name].equals(other.tables[name]), name


# ---------------------------------------------------------------------------------------------
# The new keys at the boundary


def _refused(raw: dict[str, Any], *expected: str) -> None:
    with pytest.raises(ScenarioError) as error:
        scenario_from_dict(raw, "market.toml")
    message = str(error.value)
    assert len(message.splitlines()) == 1
    for part in expected:
        assert part in message, message


def _changed(change) -> dict[str, Any]:
    raw = copy.deepcopy(market_scenario())
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["pools"]["emergency"].pop("bridging_days"), ("pools.emergency", "bridging_days: needed")),
        (
            lambda r: r["pools"]["dol"].update(bridging_days={"distribution": "fixed", "days": 3}),
            ("pools.dol", "bridging_days: only an emergency pool", "'deprivation_of_liberty'"),
        ),
        (lambda r: r["pools"]["dol"].update(kind="hotel"), ("pools.dol.kind", "'emergency'", "'unregistered'")),
        (lambda r: r["pools"]["ifa"].update(availability=1.5), ("pools.ifa.availability", "less than or equal to 1")),
        (
            lambda r: r["pools"]["dol"].update(availability=0.9),
            ("matching.secure.fallback", "('dol', availability 0.9)", "with availability 1"),
        ),
        (
            lambda r: r["pools"]["dol"].update(shared="nw"),
            ("pools.dol", "shared: a shared pool has a fixed number of places"),
        ),
        (lambda r: r["pools"]["secure_unit"].update(shared="North West"), ("pools.secure_unit", "shared 'North West'")),
        (
            lambda r: r["leaving_care"]["staying_put"].update(pools=["inhouse", "emergency"]),
            ("leaving_care.staying_put.pools", "'emergency' is of kind 'emergency'"),
        ),
    ],
)
def test_each_new_key_is_checked_naming_it(change, expected: tuple[str, ...]) -> None:
    _refused(_changed(change), *expected)


def test_the_new_keys_read_back_from_the_record_and_are_left_out_when_unused() -> None:
    dumped = MARKET.model_dump(mode="json")
    assert dumped["pools"]["emergency"]["bridging_days"] == {"distribution": "fixed", "days": BRIDGING_DAYS}
    assert scenario_from_dict(MARKET.model_dump()) == MARKET
    plain = build(rich_scenario()).model_dump(mode="json")["pools"]["ifa"]
    assert not {"kind", "availability", "bridging_days", "shared"} & set(plain)


def test_default_staying_put_pools_leave_out_the_fallback_kinds() -> None:
    raw = market_scenario()
    del raw["leaving_care"]["staying_put"]["pools"]
    assert build(raw).staying_put_pools() == ["inhouse", "ifa", "kinship"]  # not the emergency pool
