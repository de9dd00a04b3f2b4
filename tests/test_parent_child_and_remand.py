"""Parent-and-child placements and remand (issue 18 item 6): two placement needs of their own.

Remand is a stream of its own (entries.remand): in an unlimited system its entries are Poisson at the given rate
and its stock follows Little's law (mean in care = rate x mean stay). Parent-and-child babies are an under-1 first
need that moves on after the assessment with the given shares. Scenarios without the new keys draw and record
exactly as before; bad input is refused with a clear message.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.projection import expected_entries, expected_stock
from sim.engine.demand import draw_cohort
from sim.engine.model import simulate_replication
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, PLACEMENT_NEEDS
from sim.results.runner import run
from tests.builders import build, journey, one_pool_scenario

REMAND_RATE = 60.0  # a year
REMAND_STAY = 40.0  # mean days, exponential
ASSESSMENT_DAYS = 84.0  # 12 weeks
HOME_SHARE = 0.6  # of babies moving on from parent-and-child: placed with parents; the rest fostering
YEARS = 6


def _remand_journey() -> dict:
    return {
        "exit_routes": {"other": 1.0},
        "duration": {"other": {"distribution": "exponential", "mean": REMAND_STAY}},
        "first_need": {"remand": 1.0},
    }


def _with_new_needs(raw: dict) -> dict:
    """`raw` with a remand stream and parent-and-child babies, every new need served by an unlimited pool."""
    raw = copy.deepcopy(raw)
    raw["entries"]["remand"] = {
        "rate_per_year": REMAND_RATE,
        "age_mix": {"10-15": 0.3, "16-17": 0.7},
        "journeys": {band: _remand_journey() for band in ("10-15", "16-17")},
    }
    raw["entries"]["rate_per_year"]["under1"] = 40.0
    moves = [
        {
            "from_need": "parent_and_child",
            "to_need": "placed_with_parents",
            "probability": HOME_SHARE,
            "after_days": {"distribution": "fixed", "days": ASSESSMENT_DAYS},
        },
        {
            "from_need": "parent_and_child",
            "to_need": "fostering",
            "probability": 1 - HOME_SHARE,
            "after_days": {"distribution": "fixed", "days": ASSESSMENT_DAYS},
        },
    ]
    raw["journeys"]["under1"] = journey(2000.0, first_need="parent_and_child", moves=moves)
    for need in ("remand", "parent_and_child", "placed_with_parents"):
        raw["pools"][need] = {"serves": [need], "capacity": "unlimited", "in_house": False}
        raw["matching"][need] = {"pools": [need]}
    return raw


BASE = one_pool_scenario(rate_per_year=30.0, capacity=5, years=YEARS)
SCENARIO = build(_with_new_needs(BASE))


def _cohorts(scenario, replications: int = 20):
    names = list(scenario.pools)
    return [draw_cohort(scenario, seed=5, replication=r, start_pool_names=names) for r in range(replications)]


def test_remand_entries_and_stays_match_their_closed_forms() -> None:
    remand = PLACEMENT_NEEDS.index("remand")
    counts, stays, ages, males = [], [], [], []
    for cohort in _cohorts(SCENARIO):
        rows = cohort.seg_need[:, 0] == remand
        counts.append(int(rows.sum()))
        stays.append(cohort.seg_end[rows, 0] - cohort.entry_day[rows])
        ages.append((cohort.entry_day[rows] - cohort.birth_day[rows]) / DAYS_PER_YEAR)
        males.append(cohort.male[rows])
        assert (cohort.n_segments[rows] == 1).all() and not cohort.uasc[rows].any()
    expected = REMAND_RATE * YEARS  # flat rate; seasonality averages 1
    mean_count = np.mean(counts)
    assert abs(mean_count - expected) < 4 * math.sqrt(expected / len(counts))  # Poisson, 4 standard errors
    stays, ages = np.concatenate(stays), np.concatenate(ages)
    # The stay is the exponential (capped at 18, a tiny share of the 16-17s), not the main stream's 300 days.
    assert abs(stays.mean() - REMAND_STAY) < 4 * REMAND_STAY / math.sqrt(len(stays)) + 0.5
    assert ages.min() >= 10 and ages.max() < 18
    assert abs((ages < 16).mean() - 0.3) < 4 * math.sqrt(0.21 / len(ages))
    assert np.concatenate(males).mean() > 0.9  # the remand stream's own share male (0.968)


def _capped_mean_stay() -> float:
    """The mean remand stay, capped at the 18th birthday: E[min(S, T)] = m - m^2 (1 - exp(-L/m)) / L for an
    exponential S of mean m and a time to 18 T uniform on (0, L), L = 2 years for the 16-17s (the 10-15s, at least
    2 years from 18, lose a negligible e^-18 of theirs)."""
    m, span = REMAND_STAY, 2 * DAYS_PER_YEAR
    return 0.3 * m + 0.7 * (m - m * m * (1 - math.exp(-span / m)) / span)


def test_the_remand_stock_follows_littles_law_in_the_simulation_and_the_projection() -> None:
    dates = [dt.date(2022, 4, 1), dt.date(2024, 4, 1)]
    expected = REMAND_RATE * _capped_mean_stay() / DAYS_PER_YEAR  # 6.32 children
    unlimited = build(_with_new_needs(BASE), **{"pools__inhouse__capacity": "unlimited"})
    projected = expected_stock(unlimited, dates)
    remand = projected[projected["need"] == "remand"]["children"].to_numpy()
    assert remand == pytest.approx(expected, rel=0.01)  # in a steady state after weeks
    result = run(unlimited, replications=30, seed=11)
    stock = result.summary("stock", ["date", "need"], "children")
    simulated = stock[stock["need"] == "remand"]
    assert len(simulated) > 10
    assert abs(simulated["mean"].mean() - expected) < 0.1 * expected  # averaged over every month end
    entries = expected_entries(unlimited, dt.date(2020, 4, 1), dt.date(2026, 4, 1))
    assert entries[entries["remand"]]["children"].sum() == pytest.approx(REMAND_RATE * YEARS, rel=0.01)


def test_parent_and_child_babies_move_on_after_the_assessment_with_the_given_shares() -> None:
    need = {name: PLACEMENT_NEEDS.index(name) for name in ("parent_and_child", "placed_with_parents", "fostering")}
    moved_to, first_ends = [], []
    for cohort in _cohorts(SCENARIO):
        babies = cohort.seg_need[:, 0] == need["parent_and_child"]
        assert (cohort.entry_band[babies] == AGE_BANDS.index("under1")).all()
        moved = babies & (cohort.n_segments >= 2)
        first_ends.append(cohort.seg_end[moved, 0] - cohort.entry_day[moved])
        moved_to.append(cohort.seg_need[moved, 1])
        # A baby who leaves care before the assessment ends leaves from parent-and-child.
        stayed = babies & (cohort.n_segments == 1)
        assert (cohort.seg_end[stayed, 0] - cohort.entry_day[stayed] <= ASSESSMENT_DAYS + 1e-9).all()
    moved_to = np.concatenate(moved_to)
    np.testing.assert_allclose(np.concatenate(first_ends), ASSESSMENT_DAYS)
    assert set(np.unique(moved_to)) == {need["placed_with_parents"], need["fostering"]}
    share = (moved_to == need["placed_with_parents"]).mean()
    assert abs(share - HOME_SHARE) < 4 * math.sqrt(HOME_SHARE * (1 - HOME_SHARE) / len(moved_to))


def test_conservation_holds_with_the_new_needs() -> None:
    result = run(SCENARIO, replications=3, seed=9)
    flows = result.tables["flows"]
    assert (flows["starting"] + flows["entries"] - flows["exits"] == flows["in_care_at_end"]).all()
    stock = result.tables["stock"]
    assert {"remand", "parent_and_child"} <= set(stock["need"])
    end = stock[stock["date"] == stock["date"].max()].groupby("replication")["children"].sum()
    assert (end.to_numpy() == flows["in_care_at_end"].to_numpy()).all()


def test_scenarios_without_the_new_keys_give_identical_records() -> None:
    """An unused remand stream (rate 0, no journeys) neither draws nor changes the record or the dump."""
    plain = build(BASE)
    explicit = copy.deepcopy(BASE)
    explicit["entries"]["remand"] = {"rate_per_year": 0.0}
    same = build(explicit)
    assert same.model_dump() == plain.model_dump()
    assert "remand" not in plain.model_dump()["entries"]
    first, second = (
        simulate_replication(plain, seed=4, replication=0),
        simulate_replication(same, seed=4, replication=0),
    )
    np.testing.assert_array_equal(first.placements, second.placements)
    # ... and adding the remand stream leaves every main-stream child's draws alone.
    with_remand = copy.deepcopy(BASE)
    with_remand["entries"]["remand"] = _with_new_needs(BASE)["entries"]["remand"]
    for need in ("remand",):
        with_remand["pools"][need] = {"serves": [need], "capacity": "unlimited", "in_house": False}
        with_remand["matching"][need] = {"pools": [need]}
    names = list(plain.pools)
    before = draw_cohort(plain, seed=4, replication=0, start_pool_names=names)
    after = draw_cohort(build(with_remand), seed=4, replication=0, start_pool_names=[*names, "remand"])
    main = after.seg_need[:, 0] != PLACEMENT_NEEDS.index("remand")
    np.testing.assert_array_equal(after.entry_day[main], before.entry_day)
    np.testing.assert_array_equal(after.seg_end[main], before.seg_end)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age_mix": {"5-9": 0.5, "16-17": 0.5}}, "from 10"),
        ({"rate_per_year": -1.0}, "greater than or equal to 0"),
        ({"journeys": None}, "journeys are needed"),
        ({"age_mix": {"10-15": 1.0}, "journeys": {"16-17": _remand_journey()}}, "missing"),
    ],
)
def test_bad_remand_input_gets_a_clear_error(change: dict, message: str) -> None:
    raw = _with_new_needs(BASE)
    raw["entries"]["remand"].update(change)
    with pytest.raises(ScenarioError, match=message):
        build(raw)


def test_a_remand_child_needs_a_matching_entry() -> None:
    raw = _with_new_needs(BASE)
    del raw["matching"]["remand"]
    with pytest.raises(ScenarioError, match="remand"):
        build(raw)


def test_the_command_line_refuses_a_remand_age_below_10_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    baseline = (Path(__file__).parent.parent / "scenarios" / "stockport" / "baseline.toml").as_posix()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'extends = "{baseline}"\nname = "bad"\n[entries.remand]\nage_mix = {{ "5-9" = 0.5, "16-17" = 0.5 }}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "entries.remand.age_mix" in done.stderr and "below 10" in done.stderr
    assert "Traceback" not in done.stderr


def test_children_on_remand_at_the_start_leave_on_the_remand_streams_timetable() -> None:
    """A child on remand on the start date continues the remand journey (an exponential of mean REMAND_STAY, so
    memoryless: the same mean left whatever the time already spent), not the main band's 300 days; the children
    in other needs keep the main journeys."""
    raw = _with_new_needs(BASE)
    fostering = {"age_band": "16-17", "need": "fostering", "pool": "inhouse", "count": 5, "days_in_care": 100}
    remanded = {"age_band": "10-15", "need": "remand", "pool": "remand", "count": 40, "days_in_care": 10}
    raw["start_population"] = {"groups": [fostering, remanded]}
    scenario = build(raw)
    remand = PLACEMENT_NEEDS.index("remand")
    left, fostered = [], []
    for cohort in _cohorts(scenario, replications=10):
        on_remand = cohort.starting & (cohort.seg_need[:, 0] == remand)
        assert on_remand.sum() == 40 and (cohort.n_segments[on_remand] == 1).all()
        left.append(cohort.seg_end[on_remand, 0])
        fostered.append(cohort.seg_end[cohort.starting & ~on_remand, 0])
    left = np.concatenate(left)
    assert abs(left.mean() - REMAND_STAY) < 4 * REMAND_STAY / math.sqrt(len(left)) + 0.5
    # the fostered children keep the main journeys (300 days, then moves and the stays of care)
    assert np.concatenate(fostered).mean() > 3 * REMAND_STAY


@pytest.mark.parametrize(("authority", "stock"), [("cheshire_east", 470), ("stockport", 362)])
def test_the_shipped_baselines_start_their_parent_and_child_and_remand_children_in_those_needs(
    authority: str, stock: int
) -> None:
    """The placement-code fit counts R3 and R5 in other_placements; the start moves them to their own needs."""
    path = Path(__file__).parent.parent / "scenarios" / authority / "baseline.toml"
    groups = load_scenario(path).start_population.groups
    count = {need: sum(g.count for g in groups if g.need == need) for need in ("parent_and_child", "remand")}
    assert count == {"parent_and_child": 1, "remand": 1}  # one published R3 child; 0.27% of the stock, rounded
    assert {(g.pool, g.age_band) for g in groups if g.need in count} == {
        ("inhouse_parent_child", "under1"),
        ("youth_detention", "16-17"),
    }
    assert sum(g.count for g in groups) == stock  # moved, not added
