"""Invariants of the engine: conservation, capacity, ageing out, reproducibility, extremes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.engine.demand import AGE_18_DAYS, PLACEMENT_DRAWS, draw_cohort
from sim.engine.model import (
    IN_CARE,
    LOG_COLUMNS,
    PLACEMENT_COLUMNS,
    STAYING_CLOSE,
    STAYING_PUT,
    LogColumn,
    PlacementColumn,
    simulate_replication,
)
from sim.engine.scenario_files import load_scenario
from sim.results.runner import run
from tests.builders import build, one_pool_scenario, rich_scenario

RICH = build(rich_scenario())


@pytest.fixture(scope="module")
def rich_records():
    return [simulate_replication(RICH, seed=3, replication=r) for r in range(8)]


def test_children_are_conserved_in_every_replication(rich_records) -> None:
    for record in rich_records:
        cohort = record.cohort
        starting, entries = int(cohort.starting.sum()), int((~cohort.starting).sum())
        exits = int(np.sum(~np.isnan(record.exit_day)))
        in_care = record.placements[record.placements[:, PlacementColumn.KIND] == IN_CARE]
        child, start, end = (in_care[:, c] for c in (PlacementColumn.CHILD, PlacementColumn.START, PlacementColumn.END))
        assert starting + entries - exits == len(np.unique(child[np.isinf(end)]))
        # Every child in care holds exactly one open placement at any time: never two, never none.
        order = np.argsort(child * 1e6 + start, kind="stable")
        child, start, end = child[order], start[order], end[order]
        same_child = child[1:] == child[:-1]
        assert np.allclose(start[1:][same_child], end[:-1][same_child])


def test_the_column_names_match_the_rows_the_event_loop_writes(rich_records) -> None:
    """The event loop builds and reads rows by position; read back by name, each column holds its field."""
    for names, namespace in ((PLACEMENT_COLUMNS, PlacementColumn), (LOG_COLUMNS, LogColumn)):
        assert {k: v for k, v in vars(namespace).items() if k.isupper()} == {n.upper(): i for i, n in enumerate(names)}
    for record in rich_records:
        cohort, p = record.cohort, record.placements
        field = {name: p[:, getattr(PlacementColumn, name.upper())] for name in PLACEMENT_COLUMNS}
        child = field["child"].astype(int)
        first = np.unique(child, return_index=True)[1]  # each child's first placement (rows are in time order)
        assert len(first) == cohort.size
        np.testing.assert_array_equal(field["start"][first], np.where(cohort.starting, 0.0, cohort.entry_day))
        np.testing.assert_array_equal(field["need"][first], cohort.seg_need[:, 0])
        starting = first[cohort.starting]
        np.testing.assert_array_equal(field["pool"][starting], cohort.start_pool[cohort.starting])
        assert set(np.unique(field["kind"])) == {IN_CARE, STAYING_PUT, STAYING_CLOSE}
        assert set(np.unique(field["within_20_miles"])) == {0.0, 1.0}
        assert (field["end"] >= field["start"]).all() and np.isinf(field["end"]).any()
        post_18 = field["kind"] != IN_CARE
        np.testing.assert_array_equal(field["wanted"][post_18], field["pool"][post_18])
        # Staying Put continues the in-care placement: same child, pool, need and draw, from the day it ends.
        staying = np.flatnonzero(field["kind"] == STAYING_PUT)
        before = np.array([np.flatnonzero(child[:row] == child[row])[-1] for row in staying])
        for name in ("child", "pool", "need", "draw"):
            np.testing.assert_array_equal(field[name][staying], field[name][before])
        np.testing.assert_array_equal(field["start"][staying], field["end"][before])
        # Every other placement takes the child's next draw.
        opened: dict[int, int] = {}
        for row in np.flatnonzero(field["kind"] != STAYING_PUT):
            opened[child[row]] = opened.get(child[row], -1) + 1
            assert field["draw"][row] == opened[child[row]] % PLACEMENT_DRAWS
        log = record.capacity
        assert (log[: len(RICH.pools), LogColumn.DAY] == 0).all()
        np.testing.assert_array_equal(log[: len(RICH.pools), LogColumn.POOL], np.arange(len(RICH.pools)))
        capacity = [np.inf if pool.unlimited else pool.capacity for pool in RICH.pools.values()]
        np.testing.assert_array_equal(log[: len(RICH.pools), LogColumn.VALUE], capacity)


def test_conservation_in_the_result_tables() -> None:
    result = run(RICH, replications=4, seed=9)
    flows = result.tables["flows"]
    assert (flows["starting"] + flows["entries"] - flows["exits"] == flows["in_care_at_end"]).all()
    stock = result.tables["stock"]
    end = stock[stock["date"] == stock["date"].max()].groupby("replication")["children"].sum()
    assert (end.to_numpy() == flows["in_care_at_end"].to_numpy()).all()
    entries = result.tables["entries"].groupby("replication")["children"].sum()
    assert (entries.to_numpy() == flows["entries"].to_numpy()).all()


def test_no_pool_is_ever_above_its_capacity(rich_records) -> None:
    for record in rich_records:
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
            assert (occupied <= capacity).all(), f"pool {pool} over capacity"
            assert (capacity >= 0).all()


def test_no_child_in_care_on_or_after_their_18th_birthday(rich_records) -> None:
    for record in rich_records:
        p = record.placements[record.placements[:, PlacementColumn.KIND] == IN_CARE]
        birthday_18 = record.cohort.birth_day[p[:, PlacementColumn.CHILD].astype(int)] + AGE_18_DAYS
        ends = np.minimum(p[:, PlacementColumn.END], RICH.horizon.days)  # open at the horizon end: infinite
        assert (ends <= birthday_18 + 1e-9).all()
        left = ~np.isnan(record.exit_day)
        assert (record.exit_day[left] <= record.cohort.birthday_18[left] + 1e-9).all()


def test_same_seed_gives_identical_tables_and_jobs_do_not_matter() -> None:
    one = run(RICH, replications=4, seed=21, jobs=1)
    again = run(RICH, replications=4, seed=21, jobs=1)
    parallel = run(RICH, replications=4, seed=21, jobs=2)
    other_seed = run(RICH, replications=4, seed=22, jobs=1)
    for name, table in one.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name])
        pd.testing.assert_frame_equal(table, parallel.tables[name])
    assert not one.tables["entries"].equals(other_seed.tables["entries"])


def test_scenarios_differing_in_capacity_see_the_same_children() -> None:
    bigger = rich_scenario()
    bigger["pools"]["homes"]["capacity"] = 12
    bigger["pools"]["inhouse"]["capacity"] = 40
    pools = list(RICH.pools)
    base = draw_cohort(RICH, 4, 0, pools)
    changed = draw_cohort(build(bigger), 4, 0, pools)
    for field in ("entry_day", "birth_day", "entry_band", "cin", "uasc", "route", "seg_need", "seg_end"):
        np.testing.assert_array_equal(getattr(base, field), getattr(changed, field))
    # ... while where they are placed does change.
    a = simulate_replication(RICH, 4, 0).placements
    b = simulate_replication(build(bigger), 4, 0).placements
    homes = pools.index("homes")
    assert np.sum(a[:, PlacementColumn.POOL] == homes) < np.sum(b[:, PlacementColumn.POOL] == homes)


def test_zero_in_house_capacity_sends_all_demand_elsewhere_as_gap() -> None:
    result = run(build(one_pool_scenario(capacity=0, years=4)), replications=3, seed=2)
    days = result.tables["placement_days"]
    assert set(days["pool"]) == {"external"}
    gaps = result.tables["gaps"]
    assert gaps["placements"].sum() == result.tables["flows"]["entries"].sum()
    assert gaps["child_days"].sum() == pytest.approx(days["days"].sum())


def test_unlimited_capacity_gives_no_gap() -> None:
    result = run(build(one_pool_scenario(capacity="unlimited", years=4)), replications=3, seed=2)
    assert result.tables["gaps"].empty
    assert set(result.tables["placement_days"]["pool"]) == {"inhouse"}


def test_zero_entries_gives_a_falling_population() -> None:
    raw = rich_scenario()
    raw["entries"]["rate_per_year"] = dict.fromkeys(raw["entries"]["rate_per_year"], 0.0)
    raw["entries"]["uasc"]["rate_per_year"] = 0.0
    result = run(build(raw), replications=3, seed=1)
    totals = result.tables["stock"].groupby(["replication", "date"])["children"].sum().unstack(fill_value=0)
    assert (np.diff(totals.to_numpy(), axis=1) <= 0).all()
    assert (totals.iloc[:, 0] == 45).all()
    assert (totals.iloc[:, -1] < totals.iloc[:, 0]).all()


def test_staying_put_probability_one_keeps_every_carer_place_until_21() -> None:
    raw = one_pool_scenario(capacity="unlimited", years=6, band="16-17")
    raw["journeys"]["16-17"] = {"exit_routes": {"age_18": 1.0}, "first_need": {"fostering": 1.0}}
    raw["leaving_care"] = {"staying_put": {"probability": 1.0, "pools": ["inhouse"]}}
    scenario = build(raw)
    record = simulate_replication(scenario, seed=8, replication=0)
    p, horizon = record.placements, scenario.horizon.days
    leavers = np.flatnonzero(~np.isnan(record.exit_day))
    staying = p[p[:, PlacementColumn.KIND] == STAYING_PUT]
    assert len(leavers) > 50
    assert sorted(staying[:, PlacementColumn.CHILD].astype(int)) == sorted(leavers)
    birthday_21 = record.cohort.birth_day[staying[:, PlacementColumn.CHILD].astype(int)] + 21 * 365.25
    end = staying[:, PlacementColumn.END]
    ends = np.where(np.isinf(end), np.minimum(birthday_21, horizon), end)
    np.testing.assert_allclose(ends, np.minimum(birthday_21, horizon))
    # The young people hold in-house places: occupancy is the in-care stock plus those staying put.
    result = run(scenario, replications=1, seed=8)
    occupancy = result.tables["occupancy"].query("pool == 'inhouse'").set_index("date")
    stock = result.tables["stock"].groupby("date")["children"].sum()
    assert (occupancy["post_18"] > 0).any()
    np.testing.assert_array_equal(
        occupancy["occupied"].to_numpy(), stock.reindex(occupancy.index, fill_value=0) + occupancy["post_18"]
    )
    none = run(build({**raw, "leaving_care": {"staying_put": {"probability": 0.0}}}), replications=1, seed=8)
    assert (none.tables["occupancy"]["post_18"] == 0).all()


def test_staying_put_in_a_full_pool_turns_new_children_away() -> None:
    raw = one_pool_scenario(capacity=15, years=6, band="16-17")
    raw["journeys"]["16-17"] = {"exit_routes": {"age_18": 1.0}, "first_need": {"fostering": 1.0}}
    gaps = {}
    for probability in (0.0, 1.0):
        raw["leaving_care"] = {"staying_put": {"probability": probability}}
        gaps[probability] = run(build(raw), replications=4, seed=3).tables["gaps"]["placements"].sum()
    assert gaps[1.0] > gaps[0.0]


def test_foster_carer_recruitment_adds_households_at_the_approval_rate() -> None:
    raw = one_pool_scenario(capacity=10, years=5)
    raw["pools"]["inhouse"]["fostering"] = {
        "households": 10,
        "approvals_per_year": 12,
        "assessment_delay_days": 120,
        "deregistrations_per_year": 0,
    }
    result = run(build(raw), replications=40, seed=4)
    households = result.summary("households", ["date"], "households")
    final = households.iloc[-1]
    assert final["ci95_low"] <= 10 + 12 * 5 <= final["ci95_high"]


def test_capacity_closures_wait_for_children_to_leave() -> None:
    record = simulate_replication(RICH, seed=5, replication=0)
    homes = list(RICH.pools).index("homes")
    log = record.capacity[record.capacity[:, LogColumn.POOL] == homes]
    assert log[0, LogColumn.VALUE] == 5
    assert log[-1, LogColumn.VALUE] == 4  # 5 + 2 - 3, reached once enough children had left
    assert np.all(np.diff(log[:, LogColumn.DAY]) >= 0)


def test_share_of_days_beyond_20_miles_follows_the_pool_locality() -> None:
    raw = one_pool_scenario(capacity="unlimited", years=6)
    raw["pools"]["inhouse"]["within_20_miles"] = 0.8
    days = run(build(raw), replications=20, seed=6).tables["placement_days"]
    share_far = days["days_beyond_20_miles"].sum() / days["days"].sum()
    assert share_far == pytest.approx(0.2, abs=0.03)


def test_children_in_care_at_the_start_outside_their_first_choice_are_a_gap() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, capacity=30, years=2)
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "external", "count": 12, "days_in_care": 100}]
    }
    raw["step_back"] = {"enabled": True, "min_days": 0, "probability": 1.0}
    record = simulate_replication(build(raw), seed=1, replication=0)
    first = record.placements[record.placements[:, PlacementColumn.START] == 0]
    assert (first[:, PlacementColumn.WANTED] == 0).all()  # they wanted the in-house pool
    moved = record.placements[record.placements[:, PlacementColumn.START] > 0]
    assert len(moved) == 0  # with step-back at once, each moved into a free in-house place on day 0
    again = record.placements[(record.placements[:, PlacementColumn.POOL] == 0)]
    assert len(again) == 12


def test_starting_population_from_csv_is_in_care_on_the_start_date(tmp_path) -> None:
    (tmp_path / "children.csv").write_text(
        "age_years,need,pool,days_in_care\n7.5,fostering,inhouse,400\n12.0,fostering,ifa,30\n3.2,fostering,ifa,1000\n",
        encoding="utf-8",
    )
    base = Path(__file__).parent / "bad_scenarios" / "valid_base.toml"
    (tmp_path / "scenario.toml").write_text(
        f'extends = "{base}"\n[start_population]\ncsv = "children.csv"\n', encoding="utf-8"
    )
    stock = run(load_scenario(tmp_path / "scenario.toml"), replications=1, seed=1).tables["stock"]
    start = stock[stock["date"] == stock["date"].min()]
    assert start.groupby("pool")["children"].sum().to_dict() == {"ifa": 2, "inhouse": 1}
    assert sorted(start["age_band"]) == ["1-4", "10-15", "5-9"]


def test_step_back_moves_children_in_house_when_places_free() -> None:
    # Load about equal to capacity: places free often while some children are placed externally.
    raw = one_pool_scenario(rate_per_year=12.0, capacity=10, years=8)
    gap_days, in_house_days = {}, {}
    for enabled in (False, True):
        raw["step_back"] = {"enabled": enabled, "min_days": 30, "probability": 1.0}
        tables = run(build(raw), replications=6, seed=12).tables
        gap_days[enabled] = tables["gaps"]["child_days"].sum()
        in_house_days[enabled] = tables["placement_days"].query("pool == 'inhouse'")["days"].sum()
    assert gap_days[True] < 0.8 * gap_days[False]
    assert in_house_days[True] > in_house_days[False]


def test_staying_close_takes_a_place_in_its_pool_for_residential_leavers() -> None:
    raw = one_pool_scenario(capacity="unlimited", years=5, band="16-17")
    raw["journeys"]["16-17"] = {"exit_routes": {"age_18": 1.0}, "first_need": {"residential": 1.0}}
    raw["pools"]["homes"] = {"serves": ["residential"], "capacity": "unlimited", "in_house": True}
    raw["pools"]["close"] = {"serves": ["supported_16plus"], "capacity": 5, "in_house": True}
    raw["matching"]["residential"] = {"pools": ["homes"]}
    raw["leaving_care"] = {
        "staying_close": {"probability": 1.0, "pool": "close", "duration": {"distribution": "fixed", "days": 100}}
    }
    record = simulate_replication(build(raw), seed=2, replication=0)
    close = record.placements[record.placements[:, PlacementColumn.POOL] == list(build(raw).pools).index("close")]
    assert len(close) > 0
    finished = close[np.isfinite(close[:, PlacementColumn.END])]
    np.testing.assert_allclose(finished[:, PlacementColumn.END] - finished[:, PlacementColumn.START], 100.0)
    assert (close[:, PlacementColumn.KIND] == STAYING_CLOSE).all()  # off the in-care stock
