"""Young people already Staying Put on the start date (`[[start_population.staying_put]]`).

They hold their carers' places from day 0 and are costed as Staying Put, but they left care at 18 before the
start: no table counting children in care may count them, and no other draw may move because of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.what_if import scenario_document
from sim.app.uploads import replace_start_population, scenario_from_upload, start_csv_from_upload
from sim.engine.demand import COL_AGE, COL_STAYING_PUT_DAYS, WIDTH, draw_cohort
from sim.engine.model import IN_CARE, STAYING_PUT, LogColumn, PlacementColumn, simulate_replication
from sim.engine.scenario import Scenario, ScenarioError
from sim.engine.scenario_files import load_scenario, scenario_from_dict
from sim.engine.streams import child_uniforms, stream
from sim.engine.toml_writer import to_toml
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.results.runner import run
from tests.builders import build, one_pool_scenario, rich_scenario, rich_with_staying_put_at_start

SEED = 5
PER_DAY = {"inhouse": 20.0, "external": 10.0}  # Staying Put allowances, £ a day
CHILDREN_TABLES = ("entries", "exits")
FLOW_COUNTS = ["replication", "starting", "entries", "exits", "in_care_at_end"]


def _priced(staying_put: list[dict[str, Any]]) -> dict[str, Any]:
    """Three children in care in the in-house pool of ten places, and the young people given."""
    raw = one_pool_scenario(rate_per_year=20.0, capacity=10, years=4)
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 3, "days_in_care": 200}],
        "staying_put": staying_put,
    }
    pools = {name: {"source": "test", "weekly": 700.0, "staying_put_weekly": 7 * day} for name, day in PER_DAY.items()}
    raw["prices"] = {
        "base_date": raw["horizon"]["start"],
        "inflation_percent_per_year": 0.0,
        "inflation_source": "test",
        "pools": pools,
    }
    return raw


def _many(count: int, **staying_put: Any) -> Scenario:
    """`count` young people Staying Put in the unlimited pool, with the given `leaving_care.staying_put`."""
    raw = one_pool_scenario(rate_per_year=5.0, years=5)
    raw["start_population"] = {"staying_put": [{"pool": "external", "count": count}]}
    raw["leaving_care"] = {"staying_put": staying_put}
    return build(raw)


def _young_people(scenario: Scenario, replication: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Age on the start date (years) and days left of each young person Staying Put at the start."""
    cohort = draw_cohort(scenario, SEED, replication, list(scenario.pools))
    held = cohort.staying_put_at_start
    assert not (cohort.starting[held] | cohort.entrants[held]).any()
    return -cohort.birth_day[held] / DAYS_PER_YEAR, cohort.staying_put_days[held]


@pytest.fixture(scope="module")
def runs():
    """The priced scenario with 4 young people in-house and 2 in the external pool, and without them."""
    young = [{"pool": "inhouse", "count": 4}, {"pool": "external", "count": 2}]
    with_them, without = build(_priced(young)), build(_priced([]))
    return with_them, run(with_them, replications=3, seed=SEED), run(without, replications=3, seed=SEED)


def test_they_hold_places_from_day_0_as_post_18(runs) -> None:
    _, result, without = runs
    for run_result, young in ((result, {"inhouse": 4, "external": 2}), (without, {"inhouse": 0, "external": 0})):
        occupancy = run_result.tables["occupancy"]
        day_0 = occupancy[occupancy["date"] == occupancy["date"].min()].set_index(["replication", "pool"])
        for pool, count in young.items():
            rows = day_0.xs(pool, level="pool")
            assert (rows["post_18"] == count).all()
            assert (rows["occupied"] == count + (3 if pool == "inhouse" else 0)).all()


def test_they_are_not_children_in_care(runs) -> None:
    """Stock, entries, exits and flows are those of the same children without them, replication by replication."""
    _, result, without = runs
    for name in CHILDREN_TABLES:
        pd.testing.assert_frame_equal(result.tables[name], without.tables[name])
    pd.testing.assert_frame_equal(result.tables["flows"][FLOW_COUNTS], without.tables["flows"][FLOW_COUNTS])
    assert (result.tables["flows"]["starting"] == 3).all()
    totals = [r.tables["stock"].groupby(["replication", "date"])["children"].sum() for r in (result, without)]
    pd.testing.assert_series_equal(*totals)
    # The places they hold turn children away from the in-house pool.
    assert result.tables["gaps"]["placements"].sum() > without.tables["gaps"]["placements"].sum()


def test_their_days_are_staying_put_days_and_spend(runs) -> None:
    scenario, result, _ = runs
    horizon = scenario.horizon.days
    days = result.tables["placement_days"].query("need == 'staying_put'").groupby(["replication", "pool"])["days"]
    spend = result.tables["spend"].query("need == 'staying_put'").groupby(["replication", "pool"])["spend"]
    for replication in range(3):
        p = simulate_replication(scenario, SEED, replication).placements
        held = p[p[:, PlacementColumn.KIND] == STAYING_PUT]
        assert len(held) == 6 and (held[:, PlacementColumn.START] == 0).all()
        for index, pool in enumerate(scenario.pools):
            rows = held[held[:, PlacementColumn.POOL] == index]
            expected = np.minimum(rows[:, PlacementColumn.END], horizon).sum()
            assert days.sum()[(replication, pool)] == pytest.approx(expected)
            assert spend.sum()[(replication, pool)] == pytest.approx(expected * PER_DAY[pool])


def test_ages_are_uniform_from_18_to_until_age_and_days_left_run_to_it() -> None:
    count = 20_000
    for until_age in (21.0, 19.5):
        age, days_left = _young_people(_many(count, until_age=until_age))
        assert len(age) == count
        assert age.min() >= 18.0 and age.max() < until_age
        assert stats.kstest(age, stats.uniform(18.0, until_age - 18.0).cdf).pvalue > 0.001
        np.testing.assert_allclose(days_left, (until_age - age) * DAYS_PER_YEAR)
        longest = (until_age - 18.0) * DAYS_PER_YEAR
        standard_error = longest / np.sqrt(12 * count)
        assert abs(days_left.mean() - longest / 2) < 4 * standard_error


def test_every_one_has_left_by_until_age() -> None:
    scenario = _many(500, until_age=20.5)  # 2.5 years at most, within the 5-year horizon
    record = simulate_replication(scenario, SEED, 0)
    p = record.placements[record.placements[:, PlacementColumn.KIND] == STAYING_PUT]
    assert len(p) == 500
    end = p[:, PlacementColumn.END]
    birthday = record.cohort.birth_day[p[:, PlacementColumn.CHILD].astype(np.int64)] + 20.5 * DAYS_PER_YEAR
    assert np.isfinite(end).all()
    np.testing.assert_allclose(end, birthday, atol=1e-6)


def test_with_a_duration_the_days_left_are_the_tail_given_the_time_since_18() -> None:
    """Weibull(shape k, scale s): having lasted e days, the stay is s * ((e/s)^k - log(1 - u))^(1/k) in all,
    worked out by hand from u, the young person's own uniform of the `staying_put_at_start` stream."""
    count, shape, scale, until_age = 5_000, 2.0, 400.0, 20.0
    scenario = _many(count, until_age=until_age, duration={"distribution": "weibull", "shape": shape, "scale": scale})
    u = child_uniforms(stream(SEED, 0, "staying_put_at_start"), count, WIDTH)
    since_18 = u[:, COL_AGE] * (until_age - 18.0) * DAYS_PER_YEAR
    total = scale * ((since_18 / scale) ** shape - np.log1p(-u[:, COL_STAYING_PUT_DAYS])) ** (1.0 / shape)
    expected = np.minimum(total - since_18, (until_age - 18.0) * DAYS_PER_YEAR - since_18)
    age, days_left = _young_people(scenario)
    np.testing.assert_allclose(age, 18.0 + since_18 / DAYS_PER_YEAR)
    np.testing.assert_allclose(days_left, expected, rtol=1e-9)
    assert (days_left > 0).all()
    # Capped at until_age for some, the tail for the rest: both happen.
    capped = np.isclose(days_left, (until_age - age) * DAYS_PER_YEAR)
    assert 0 < capped.sum() < count


def test_a_bounded_duration_bounds_the_time_since_18_too() -> None:
    """Nobody is still staying after the longest stay a `fixed` duration allows: all hold a place on day 0."""
    scenario = _many(2_000, duration={"distribution": "fixed", "days": 365.0})
    age, days_left = _young_people(scenario)
    assert age.min() >= 18.0 and age.max() < 19.0
    np.testing.assert_allclose(days_left, 365.0 - (age - 18.0) * DAYS_PER_YEAR)
    occupancy = run(scenario, replications=1, seed=SEED).tables["occupancy"]
    assert occupancy.query("pool == 'external'")["post_18"].iloc[0] == 2_000


def test_a_place_they_free_goes_to_a_child_waiting_to_step_back() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, capacity=1, mean_days=30_000.0, years=2)
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "external", "count": 1, "days_in_care": 100}],
        "staying_put": [{"pool": "inhouse", "count": 1}],
    }
    raw["leaving_care"] = {"staying_put": {"until_age": 18.5}}
    raw["step_back"] = {"enabled": True, "probability": 1.0}
    p = simulate_replication(build(raw), SEED, 0).placements
    young, child = p[p[:, PlacementColumn.KIND] == STAYING_PUT], p[p[:, PlacementColumn.KIND] == IN_CARE]
    assert len(young) == 1 and 0 < young[0, PlacementColumn.END] < 0.5 * DAYS_PER_YEAR + 1e-9
    assert child[:, PlacementColumn.POOL].tolist() == [1, 0]  # external, then in-house
    assert child[0, PlacementColumn.END] == child[1, PlacementColumn.START] == young[0, PlacementColumn.END]


def test_reproducible_per_seed_whatever_the_number_of_jobs() -> None:
    scenario = build(rich_with_staying_put_at_start())
    one = run(scenario, replications=3, seed=21, jobs=1)
    again = run(scenario, replications=3, seed=21, jobs=1)
    parallel = run(scenario, replications=3, seed=21, jobs=2)
    for name, table in one.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name])
        pd.testing.assert_frame_equal(table, parallel.tables[name])
    other = run(scenario, replications=3, seed=22, jobs=1)
    assert not one.tables["occupancy"]["post_18"].equals(other.tables["occupancy"]["post_18"])
    flows = one.tables["flows"]
    assert (flows["starting"] + flows["entries"] - flows["exits"] == flows["in_care_at_end"]).all()


def test_no_pool_goes_above_capacity_with_them() -> None:
    scenario = build(rich_with_staying_put_at_start())
    inhouse = list(scenario.pools).index("inhouse")
    for replication in range(4):
        record = simulate_replication(scenario, SEED, replication)
        p = record.placements[record.placements[:, PlacementColumn.POOL] == inhouse]
        log = record.capacity[record.capacity[:, LogColumn.POOL] == inhouse]
        start, end = p[:, PlacementColumn.START], p[:, PlacementColumn.END]
        times = np.unique(np.concatenate([start, end[np.isfinite(end)], log[:, LogColumn.DAY]]))
        occupied = ((start[None, :] <= times[:, None]) & (times[:, None] < end[None, :])).sum(axis=1)
        capacity = log[np.searchsorted(log[:, LogColumn.DAY], times, side="right") - 1, LogColumn.VALUE]
        assert (occupied <= capacity).all()
        assert occupied[0] == 24  # 20 children and 4 young people: full from the start


def test_without_the_key_the_children_and_the_dump_are_as_before() -> None:
    """Their own stream: adding them where there is room for all changes none of the children's draws or records."""
    plain = build(rich_scenario())
    assert "staying_put" not in plain.model_dump(mode="json")["start_population"]
    raw = rich_scenario()
    raw["start_population"]["staying_put"] = [{"pool": "ifa", "count": 6}]
    with_them = build(raw)
    child = PlacementColumn.CHILD
    for replication in range(3):
        before, after = (
            simulate_replication(plain, SEED, replication),
            simulate_replication(with_them, SEED, replication),
        )
        children = np.flatnonzero(~after.cohort.staying_put_at_start)  # the ids the children have now
        np.testing.assert_array_equal(after.exit_day[children], before.exit_day)
        np.testing.assert_array_equal(after.cohort.birth_day[children], before.cohort.birth_day)
        renumbered = before.placements.copy()
        renumbered[:, child] = children[before.placements[:, child].astype(np.int64)]
        theirs = after.cohort.staying_put_at_start[after.placements[:, child].astype(np.int64)]
        np.testing.assert_array_equal(after.placements[~theirs], renumbered)


def test_from_a_csv_start_population_too(tmp_path: Path) -> None:
    (tmp_path / "children.csv").write_text(
        "age_years,need,pool,days_in_care\n7.5,fostering,inhouse,400\n12.0,fostering,ifa,30\n", encoding="utf-8"
    )
    base = Path(__file__).parent / "bad_scenarios" / "valid_base.toml"
    young = '[[start_population.staying_put]]\npool = "inhouse"\ncount = {}\n'
    text = f'extends = "{base}"\n[start_population]\ncsv = "children.csv"\n{young}'
    (tmp_path / "scenario.toml").write_text(text.format(7), encoding="utf-8")
    scenario = load_scenario(tmp_path / "scenario.toml")
    record = simulate_replication(scenario, SEED, 0)
    day_0 = record.placements[record.placements[:, PlacementColumn.START] == 0]
    kinds = day_0[day_0[:, PlacementColumn.POOL] == 0, PlacementColumn.KIND]
    assert sorted(kinds.tolist()) == [IN_CARE] + [STAYING_PUT] * 7
    document = scenario_document(scenario, "children.csv")  # a what-if of it keeps them
    assert document["start_population"] == {"csv": "children.csv", "staying_put": [{"pool": "inhouse", "count": 7}]}
    (tmp_path / "scenario.toml").write_text(text.format(8), encoding="utf-8")
    with pytest.raises(ScenarioError, match="1 children in care and 8 young people Staying Put"):
        load_scenario(tmp_path / "scenario.toml")


def test_an_uploaded_start_csv_replaces_the_children_and_keeps_the_young_people() -> None:
    csv = start_csv_from_upload("start.csv", b"age_years,need,pool,days_in_care\n7.5,fostering,inhouse,400\n")
    raw = one_pool_scenario()
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 3, "days_in_care": 200}],
        "staying_put": [{"pool": "inhouse", "count": 2}],
    }
    baseline = build(raw)
    uploaded = scenario_from_upload("base.toml", to_toml(scenario_document(baseline), []).encode(), csv)
    for scenario in (uploaded, replace_start_population(baseline, csv)):
        assert len(scenario.start_population.children) == 1 and not scenario.start_population.groups
        assert scenario.start_population.staying_put == baseline.start_population.staying_put


def _over_capacity_on_their_own(raw: dict[str, Any]) -> None:
    raw["leaving_care"]["staying_put"]["pools"].append("kinship")
    raw["pools"]["kinship"]["capacity"] = 2
    raw["matching"]["kinship_fostering"]["fallback"] = ["emergency"]
    raw["start_population"]["staying_put"].append({"pool": "kinship", "count": 3})


BAD = {
    "undefined pool": (
        lambda raw: raw["start_population"]["staying_put"].append({"pool": "nowhere", "count": 1}),
        ["start_population.staying_put[1].pool:", "pool 'nowhere' is not defined under [pools]", "one of: inhouse"],
    ),
    "not among leaving_care.staying_put.pools": (
        lambda raw: raw["start_population"]["staying_put"].append({"pool": "kinship", "count": 1}),
        [
            "start_population.staying_put[1].pool:",
            "pool 'kinship' is not a Staying Put pool",
            "(leaving_care.staying_put.pools): inhouse, ifa",
        ],
    ),
    "not a foster-care pool, by default": (
        lambda raw: (
            raw["leaving_care"]["staying_put"].pop("pools"),
            raw["start_population"]["staying_put"].append({"pool": "homes", "count": 1}),
        ),
        [
            "start_population.staying_put[1].pool:",
            "pool 'homes' is not a Staying Put pool",
            "(by default the pools serving fostering or kinship_fostering): inhouse, ifa, kinship, emergency",
        ],
    ),
    "over capacity with the children in care": (
        lambda raw: raw["start_population"]["staying_put"].append({"pool": "inhouse", "count": 4}),
        [
            "start_population: 20 children in care and 5 young people Staying Put (start_population.staying_put) "
            "start in pool 'inhouse', above its capacity",
            "expected at most pools.inhouse.capacity = 24",
        ],
    ),
    "over capacity on their own": (
        _over_capacity_on_their_own,
        ["start_population: 3 young people Staying Put", "in pool 'kinship'", "pools.kinship.capacity = 2"],
    ),
    "a count that is not a whole number": (
        lambda raw: raw["start_population"]["staying_put"].append({"pool": "ifa", "count": 1.5}),
        ["start_population.staying_put[1].count:"],
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_refused_naming_the_key(case: str) -> None:
    change, fragments = BAD[case]
    raw = rich_scenario()
    raw["start_population"]["staying_put"] = [{"pool": "inhouse", "count": 1}]
    change(raw)
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(raw, label="<checked>")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("<checked>: ")
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{message!r} lacks {missing}"
