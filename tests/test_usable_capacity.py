"""Usable capacity: a pool's `capacity` counts approved places, matching uses floor(approved x usable_share).

Checked: no pool ever holds more than its usable places (over generated scenarios, and against the formula
applied to the approved log), Erlang B with floor(c x s) servers, the usable places recomputed by hand on
dated changes (with a closure pending on occupied places), usable_share 1 changing nothing, bad keys refused.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.model import IN_CARE, LogColumn, PlacementColumn, ReplicationRecord, simulate_replication
from sim.engine.scenario import Scenario, shared_pool_groups
from sim.engine.scenario_files import ScenarioError, scenario_from_dict
from tests.builders import build, one_pool_scenario, rich_scenario
from tests.test_closed_forms import WARM_UP_DAYS, confidence_interval, erlang_b
from tests.test_scenario_properties import PROPERTY_SETTINGS, _check_capacity, _held

START = dt.date(2020, 4, 1)


def _pool_log(log: np.ndarray, pool: int) -> np.ndarray:
    return log[log[:, LogColumn.POOL] == pool]


def _check_usable_formula(scenario: Scenario, record: ReplicationRecord) -> None:
    """Every placement starting during the run (not a post-18 continuation of the same place) leaves the pool
    at most floor(approved x usable_share) occupied, the approved places read from the approved log; and the
    approved log has a row for each row of the capacity log, never below it."""
    np.testing.assert_array_equal(record.approved[:, :2], record.capacity[:, :2])
    assert np.all(record.approved[:, LogColumn.VALUE] >= record.capacity[:, LogColumn.VALUE])
    p = record.placements
    for index, pool in enumerate(scenario.pools.values()):
        if pool.unlimited:
            continue
        approved = _pool_log(record.approved, index)
        rows = p[p[:, PlacementColumn.POOL] == index]
        start, end = rows[:, PlacementColumn.START], rows[:, PlacementColumn.END]
        new = (start > 0) & (rows[:, PlacementColumn.KIND] == IN_CARE)
        for t in np.unique(start[new]):
            occupied = int(np.sum((start <= t) & (t < end)))
            in_force = approved[np.searchsorted(approved[:, LogColumn.DAY], t, side="right") - 1, LogColumn.VALUE]
            ceiling = math.floor(in_force * pool.usable_share + 1e-9)
            assert occupied <= ceiling, f"pool {index} at day {t}: {occupied} occupied, usable {ceiling}"


@st.composite
def usable_scenarios(draw: st.DrawFn) -> Scenario:
    """The rich scenario with usable shares below 1 on its finite pools, approved places enough for the
    children who start there, entries and stays redrawn."""
    raw = rich_scenario(years=draw(st.integers(1, 3)))
    raw["seed"] = draw(st.integers(0, 2**32))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
    raw["entries"]["rate_per_year"] = {band: r * scale for band, r in raw["entries"]["rate_per_year"].items()}
    pools = raw["pools"]
    for name in ("inhouse", "homes", "supported"):
        share = draw(st.sampled_from([0.5, 0.75, 0.9, 0.95, 1.0]))
        held = _held(raw, name)
        pools[name]["usable_share"] = share
        pools[name]["capacity"] = math.ceil(held / share) + draw(st.integers(0, 6))
    homes = pools["homes"]
    homes["capacity_changes"] = [
        {"date": START + dt.timedelta(days=draw(st.integers(1, 300))), "change": draw(st.integers(1, 3))},
        {"date": START + dt.timedelta(days=draw(st.integers(301, 360))), "change": -draw(st.integers(1, 4))},
    ]
    raw["horizon"]["start"] = START
    pools["inhouse"]["fostering"].update(
        households=draw(st.integers(0, 30)),
        approvals_per_year=draw(st.sampled_from([0.0, 6.0, 15.0])),
        deregistrations_per_year=draw(st.sampled_from([0.0, 6.0, 15.0])),
    )
    return scenario_from_dict(raw, label="<generated>")


@PROPERTY_SETTINGS
@given(usable_scenarios())
def test_no_pool_ever_exceeds_its_usable_places(scenario: Scenario) -> None:
    for replication in range(2):
        record = simulate_replication(scenario, scenario.seed, replication)
        _check_capacity(record)  # occupied never above the capacity (usable) log
        _check_usable_formula(scenario, record)


@pytest.mark.parametrize(("approved", "share", "load"), [(6, 0.8, 3.0), (12, 0.9, 8.0)])
def test_usable_places_are_erlang_b_servers(approved: int, share: float, load: float) -> None:
    """Poisson arrivals, lognormal stays, an unlimited fallback: turned away as Erlang B with floor(c x s)
    servers (4 of 6 and 10 of 12)."""
    servers = math.floor(approved * share + 1e-9)
    mean_stay = 30.0
    raw = one_pool_scenario(
        rate_per_year=load / mean_stay * 365.25,
        capacity=approved,
        years=12,
        band="under1",
        stay={"distribution": "lognormal", "mean": mean_stay, "sd": 45.0},
    )
    raw["pools"]["inhouse"]["usable_share"] = share
    scenario = build(raw)
    shares = []
    for replication in range(30):
        placements = simulate_replication(scenario, seed=11, replication=replication).placements
        in_care = placements[:, PlacementColumn.KIND] == IN_CARE
        first = placements[(placements[:, PlacementColumn.START] >= WARM_UP_DAYS) & in_care]
        shares.append(np.mean(first[:, PlacementColumn.POOL] != 0))
    low, high = confidence_interval(np.array(shares), 0.99)
    assert low <= erlang_b(servers, load) <= high
    assert not low <= erlang_b(approved, load) <= high  # the approved places would be a different answer


def _empty_pool_scenario(changes: list[tuple[int, int]], share: float, capacity: int = 10) -> dict:
    raw = one_pool_scenario(rate_per_year=0.0, capacity=capacity)
    raw["pools"]["inhouse"]["usable_share"] = share
    raw["pools"]["inhouse"]["capacity_changes"] = [
        {"date": START + dt.timedelta(days=day), "change": change} for day, change in changes
    ]
    return raw


def test_usable_places_recomputed_on_each_change_by_hand():
    """10 approved x 0.5 = 5 usable; +1 -> 11 approved, floor(5.5) = 5 usable (a row, unchanged); +1 -> 12, 6;
    -3 -> 9, floor(4.5) = 4."""
    raw = _empty_pool_scenario([(100, 1), (200, 1), (300, -3)], 0.5)
    record = simulate_replication(build(raw), 1, 0)
    usable, approved = _pool_log(record.capacity, 0), _pool_log(record.approved, 0)
    assert usable[:, LogColumn.DAY].tolist() == [0, 100, 200, 300]
    assert usable[:, LogColumn.VALUE].tolist() == [5, 5, 6, 4]
    assert approved[:, LogColumn.VALUE].tolist() == [10, 11, 12, 9]
    assert _pool_log(record.capacity, 1)[:, LogColumn.VALUE].tolist() == [math.inf]
    assert _pool_log(record.approved, 1)[:, LogColumn.VALUE].tolist() == [math.inf]


def test_a_cut_below_the_occupied_places_closes_them_as_they_are_vacated():
    """4 approved x 0.5 = 2 usable, both taken by children in care from the start; -2 on day 10 -> 2 approved,
    1 usable: nothing free closes now (2 usable, 3 approved open: the occupied place pending), and the first
    child to leave takes the place with it (1 usable, 2 approved). The second child's place stays."""
    raw = _empty_pool_scenario([(10, -2)], 0.5, capacity=4)
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 2, "days_in_care": 30}]
    }
    record = simulate_replication(build(raw), 1, 0)
    usable, approved = _pool_log(record.capacity, 0), _pool_log(record.approved, 0)
    ends = np.sort(record.placements[record.placements[:, PlacementColumn.POOL] == 0, PlacementColumn.END])
    assert ends[0] > 10  # the first child leaves after the cut (stays of 300 days on average)
    assert usable[:, LogColumn.VALUE].tolist() == [2, 2, 1]
    assert approved[:, LogColumn.VALUE].tolist() == [4, 3, 2]
    assert usable[-1, LogColumn.DAY] == pytest.approx(ends[0])
    # the place freed by the first child is not offered again: no placement in the pool after the start
    assert np.all(record.placements[record.placements[:, PlacementColumn.POOL] == 0, PlacementColumn.START] == 0)


def test_fostering_households_give_approved_places():
    """Recruited and deregistering households change the approved places; the usable follow the formula."""
    raw = rich_scenario()
    raw["pools"]["inhouse"].update(usable_share=0.8, capacity=26)
    raw["pools"]["inhouse"]["fostering"].update(approvals_per_year=10, deregistrations_per_year=6)
    scenario = build(raw)
    record = simulate_replication(scenario, 2, 0)
    usable, approved = _pool_log(record.capacity, 0), _pool_log(record.approved, 0)
    assert len(usable) > 20
    assert approved[0, LogColumn.VALUE] == 26 and usable[0, LogColumn.VALUE] == 20  # floor(20.8)
    _check_usable_formula(scenario, record)


def test_usable_share_one_changes_nothing():
    raw = rich_scenario()
    plain = simulate_replication(build(raw), 5, 1)
    for name in ("inhouse", "homes", "supported"):
        raw["pools"][name]["usable_share"] = 1.0
    explicit = build(raw)
    assert "usable_share" not in explicit.model_dump()["pools"]["inhouse"]
    same = simulate_replication(explicit, 5, 1)
    np.testing.assert_array_equal(plain.placements, same.placements)
    np.testing.assert_array_equal(plain.capacity, same.capacity)
    np.testing.assert_array_equal(plain.approved, plain.capacity)  # approved places equal the usable ones


def test_starting_children_must_fit_the_usable_places():
    raw = rich_scenario()  # 20 children start in 'inhouse'
    raw["pools"]["inhouse"]["capacity"] = 24
    raw["pools"]["inhouse"]["usable_share"] = 0.8  # 19 usable
    with pytest.raises(ScenarioError, match=r"'inhouse', above its usable places; expected at most 19 .*= 24 .*0\.8"):
        build(raw)
    raw["pools"]["inhouse"]["usable_share"] = 0.85  # 20.4 -> 20
    build(raw)


@pytest.mark.parametrize(
    ("pool", "share", "key"),
    [
        ("ifa", 0.9, "usable_share: 0.9 on an unlimited pool"),
        ("homes", 0.0, "usable_share"),
        ("homes", 1.2, "usable_share"),
    ],
)
def test_bad_usable_shares_are_refused(pool: str, share: float, key: str):
    raw = rich_scenario()
    raw["pools"][pool]["usable_share"] = share
    with pytest.raises(ScenarioError, match=key):
        build(raw)


def _shared(share: float, capacity: int = 10) -> dict:
    raw = one_pool_scenario(rate_per_year=20.0, capacity=capacity)
    raw["pools"]["inhouse"].update(shared="region_fostering", usable_share=share)
    return raw


def test_shared_pools_must_agree_on_the_usable_share():
    with pytest.raises(ScenarioError, match=r"different usable shares .*0\.9.*0\.8"):
        shared_pool_groups([build(_shared(0.9)), build(_shared(0.8))], ["a", "b"])
    assert shared_pool_groups([build(_shared(0.8)), build(_shared(0.8))], ["a", "b"]) == [[0, 1]]


def test_shared_pools_hold_their_usable_places_together():
    from sim.engine.model import simulate_linked

    scenarios = [build(_shared(0.75, capacity=8), seed=s) for s in (1, 2)]  # 6 usable of 8 approved
    records = simulate_linked(scenarios, [1, 2], 0)
    times = np.unique(np.concatenate([r.placements[:, PlacementColumn.START] for r in records]))
    occupied = np.zeros(len(times), dtype=int)
    for r in records:
        p = r.placements[r.placements[:, PlacementColumn.POOL] == 0]
        occupied += ((p[:, PlacementColumn.START][None] <= times[:, None]) & (times[:, None] < p[:, 5][None])).sum(1)
    assert occupied.max() == 6
    assert records[0].approved[0, LogColumn.VALUE] == 8 and records[0].capacity[0, LogColumn.VALUE] == 6


def test_sizing_curve_answers_in_approved_places():
    """With usable_share 0.8 the curve at A approved places is Erlang B at floor(0.8 A) usable ones, agrees with
    direct runs at approved capacities, and never needs fewer approved places than the share-1 curve."""
    from sim.analysis.sizing import share_placed, sizing_curve, sizing_table

    raw = one_pool_scenario(
        rate_per_year=40,
        capacity=10,
        years=12,
        band="under1",
        stay={"distribution": "lognormal", "mean": 120, "sd": 150},
    )
    full = build(raw)
    raw["pools"]["inhouse"]["usable_share"] = 0.8
    scenario = build(raw)
    curve, plain = sizing_curve(scenario, "inhouse", replications=20), sizing_curve(full, "inhouse", replications=20)
    np.testing.assert_array_equal(curve.occupancy, plain.occupancy)  # the same unlimited run
    for approved in (5, 11, 12, 15):
        usable = math.floor(approved * 0.8 + 1e-9)
        assert curve.share_placed_at(approved) == pytest.approx(plain.share_placed_at(usable))
    for approved in (11, 17):
        _, low, high = share_placed(scenario, "inhouse", approved, replications=20)
        assert low <= curve.share_placed_at(approved) <= high, approved
    for target in (0.8, 0.9, 0.95):
        needed = curve.places_needed(target)
        assert math.floor(needed * 0.8 + 1e-9) >= plain.places_needed(target)
        assert math.floor((needed - 1) * 0.8 + 1e-9) < plain.places_needed(target)  # the fewest approved
    row = sizing_table([curve]).iloc[0]
    assert row["capacity_in_window"] == 10 and row["usable_in_window"] == 8 and row["usable_share"] == 0.8


def test_what_if_levers_add_approved_places():
    """Two homes of two beds add 4 approved beds: 5 approved x 0.8 = 4 usable become 9 approved, 7 usable."""
    from sim.analysis.what_if import Levers, describe, what_if_document

    raw = rich_scenario()
    raw["pools"]["homes"].update(usable_share=0.8, capacity_changes=[])
    baseline = build(raw)
    levers = Levers(homes_change=2, beds_per_home=2, homes_date=dt.date(2020, 4, 1))
    what_if = scenario_from_dict(what_if_document(baseline, levers, "w", seed=7))
    assert what_if.pools["homes"].places_on(dt.date(2020, 4, 1)) == 9
    record = simulate_replication(what_if, 7, 0)
    index = list(what_if.pools).index("homes")
    usable, approved = _pool_log(record.capacity, index), _pool_log(record.approved, index)
    assert usable[:2, LogColumn.VALUE].tolist() == [4, 7] and approved[:2, LogColumn.VALUE].tolist() == [5, 9]
    assert "4 approved beds, usable beds 4 -> 7 at usable_share 0.8" in describe(baseline, levers)
    recruit = Levers(extra_foster_approvals_per_year=5)
    raw["pools"]["inhouse"].update(usable_share=0.9, capacity=24)
    assert "90% are usable" in describe(build(raw), recruit)
