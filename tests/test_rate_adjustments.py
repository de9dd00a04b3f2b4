"""Rate adjustments (`[adjustments.<name>]`): entry rates, exit-route shares and move probabilities multiplied or
added to, applied once when the scenario is validated.

Checked against closed forms in the expected-value projection (entries, exits by route, stock after a move), the
engine against the projection within Monte Carlo error for one scenario using all three, the renormalisation
rules, the errors, `extends`, the record (run.json and the self-contained what-if file) and the draws: a scenario
without adjustments reads and draws exactly as before.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.projection import expected_entries, expected_exits, expected_stock
from sim.analysis.what_if import Levers, scenario_document, what_if_document
from sim.engine.demand import draw_cohort
from sim.engine.parameters import parameter_draws, with_drawn_parameters
from sim.engine.scenario import Scenario, ScenarioError
from sim.engine.scenario_files import load_scenario, scenario_from_dict
from sim.engine.toml_writer import to_toml
from sim.engine.vocabulary import DAYS_PER_YEAR
from sim.present.outputs import write_run
from sim.results.runner import run
from tests.builders import one_pool_scenario, unlimited_rich

Raw = dict[str, Any]
START = dt.date(2019, 10, 1)  # the rich scenario's start
FEWER_TEENS = {"target": "entry_rate", "age_bands": ["10-15"], "multiply": 0.9, "note": "edge-of-care service"}
MORE_HOME = {"target": "exit_route", "route": "return_home", "age_bands": ["5-9", "10-15"], "multiply": 1.5}
STEP_DOWNS = {"target": "move", "from_need": "residential", "to_need": "fostering", "multiply": 2.0}


def adjusted(raw: Raw, **adjustments: dict[str, Any]) -> Scenario:
    raw = copy.deepcopy(raw)
    raw["adjustments"] = adjustments
    return scenario_from_dict(raw)


def _by_band(table: pd.DataFrame) -> pd.Series:
    return table.set_index(["uasc", "age_band"])["children"]


# ---------------------------------------------------------------------------------------------
# Closed forms in the projection


def test_an_entry_multiplier_gives_exactly_that_share_of_the_bands_entries_through_trend_steps_and_seasons() -> None:
    raw = unlimited_rich()
    raw["entries"]["changes"] = [{"date": dt.date(2021, 4, 1), "rate_multiplier": 0.7, "age_bands": ["10-15"]}]
    base, fewer = scenario_from_dict(raw), adjusted(raw, fewer_teens=FEWER_TEENS)
    for start, end in ((START, dt.date(2021, 4, 1)), (dt.date(2021, 4, 1), dt.date(2025, 10, 1))):
        before, after = _by_band(expected_entries(base, start, end)), _by_band(expected_entries(fewer, start, end))
        assert after[(False, "10-15")] == pytest.approx(0.9 * before[(False, "10-15")], rel=1e-12)
        others = [key for key in before.index if key != (False, "10-15")]
        assert after[others].to_numpy() == pytest.approx(before[others].to_numpy(), rel=1e-12)  # UASC too
    assert fewer.entries.uasc == base.entries.uasc


def test_an_entry_addition_is_more_entries_a_year_at_the_start_growing_with_the_trend() -> None:
    raw = one_pool_scenario(rate_per_year=20.0, capacity="unlimited", years=4, band="5-9")
    raw["entries"]["trend_percent_per_year"] = 5.0
    scenario = adjusted(raw, more=({"target": "entry_rate", "age_bands": ["5-9", "under1"], "add": 12.0}))
    assert (scenario.entries.rate_per_year["5-9"], scenario.entries.rate_per_year["under1"]) == (32.0, 12.0)
    entries = _by_band(expected_entries(scenario, dt.date(2020, 4, 1), dt.date(2024, 4, 1)))
    years = (dt.date(2024, 4, 1) - dt.date(2020, 4, 1)).days / DAYS_PER_YEAR
    grown = math.expm1(math.log(1.05) * years) / math.log(1.05)  # ∫ 1.05^t dt over the four years
    assert entries[(False, "5-9")] == pytest.approx(32.0 * grown, rel=1e-6)
    assert entries[(False, "under1")] == pytest.approx(12.0 * grown, rel=1e-6)


def _one_band_routes(**durations: float) -> Raw:
    """Under-ones (none reaches 18 in the horizon), no starting population, exponential stays by route."""
    raw = one_pool_scenario(rate_per_year=50.0, capacity="unlimited", years=8, band="under1")
    shares = {"return_home": 0.5, "sgo_cao": 0.2, "other": 0.3}
    raw["journeys"]["under1"] = {
        "exit_routes": shares,
        "duration": {route: {"distribution": "exponential", "mean": durations[route]} for route in shares},
        "first_need": {"fostering": 1.0},
    }
    return raw


def test_an_exit_route_adjustment_sets_its_share_and_scales_the_others_to_fill_the_rest() -> None:
    raw = _one_band_routes(return_home=200.0, sgo_cao=500.0, other=300.0)
    more = adjusted(raw, home={"target": "exit_route", "route": "return_home", "age_bands": ["under1"], "add": 0.2})
    routes = more.journeys["under1"].exit_routes
    assert routes["return_home"] == pytest.approx(0.7)
    assert routes["sgo_cao"] == pytest.approx(0.2 * 0.3 / 0.5) and routes["other"] == pytest.approx(0.3 * 0.3 / 0.5)
    assert sum(routes.values()) == pytest.approx(1.0, abs=1e-12)
    assert more.journeys["5-9"] == scenario_from_dict(raw).journeys["5-9"]  # the other bands keep theirs
    halved = adjusted(raw, home={"target": "exit_route", "route": "other", "multiply": 0.5}).journeys["under1"]
    assert halved.exit_routes == pytest.approx(
        {"return_home": 0.5 / 0.7 * 0.85, "sgo_cao": 0.2 / 0.7 * 0.85, "other": 0.15}
    )


def test_the_projected_exits_by_route_are_the_m_g_infinity_closed_form_with_the_adjusted_shares() -> None:
    """Entries at R a day from day 0, stays on route r exponential of mean μ_r: exits by route r up to day t are
    R p_r (t - μ_r (1 - e^(-t/μ_r)))."""
    means = {"return_home": 200.0, "sgo_cao": 500.0, "other": 300.0}
    raw = _one_band_routes(**means)
    more = adjusted(
        raw, home={"target": "exit_route", "route": "return_home", "age_bands": ["under1"], "multiply": 1.4}
    )
    shares = more.journeys["under1"].exit_routes
    rate = 50.0 / DAYS_PER_YEAR
    ends = [dt.date(2021, 4, 1), dt.date(2026, 4, 1)]
    t = np.array([(day - dt.date(2020, 4, 1)).days for day in ends], dtype=float)
    for route, mean in means.items():
        cumulative = rate * shares[route] * (t - mean * (1 - np.exp(-t / mean)))
        exits = [expected_exits(more, dt.date(2020, 4, 1), end).set_index("route")["children"][route] for end in ends]
        assert exits == pytest.approx(cumulative, rel=2e-4), route
    base = expected_exits(scenario_from_dict(raw), dt.date(2021, 4, 1), ends[1]).set_index("route")["children"]
    assert base["return_home"] < expected_exits(more, dt.date(2021, 4, 1), ends[1]).iloc[0]["children"]


def test_a_move_adjustment_doubles_the_stock_that_moves_in_the_closed_form() -> None:
    """Entrants in residential care with exponential stays of mean μ who move to fostering after m days with
    probability p: in the steady state fostering holds R p μ e^(-m/μ) and residential R (μ - p μ e^(-m/μ))."""
    raw = one_pool_scenario(rate_per_year=40.0, capacity="unlimited", mean_days=200.0, years=8, band="under1")
    raw["pools"]["homes"] = {"serves": ["residential"], "capacity": "unlimited", "in_house": False}
    raw["matching"]["residential"] = {"pools": ["homes"]}
    move = {"from_need": "residential", "to_need": "fostering", "probability": 0.2}
    for band in raw["journeys"]:
        raw["journeys"][band]["first_need"] = {"residential": 1.0}
        raw["journeys"][band]["moves"] = [{**move, "after_days": {"distribution": "fixed", "days": 100.0}}]
    doubled = adjusted(raw, more={"target": "move", "from_need": "residential", "to_need": "fostering", "multiply": 2})
    assert [m.probability for m in doubled.journeys["under1"].moves] == [0.4]
    day = dt.date(2027, 4, 1)
    rate, mean, moved = 40.0 / DAYS_PER_YEAR, 200.0, math.exp(-100.0 / 200.0)
    for scenario, p in ((scenario_from_dict(raw), 0.2), (doubled, 0.4)):
        stock = expected_stock(scenario, [day]).set_index("need")["children"]
        assert stock["fostering"] == pytest.approx(rate * p * mean * moved, rel=2e-3)
        assert stock["residential"] == pytest.approx(rate * (mean - p * mean * moved), rel=2e-3)


def test_moves_sharing_their_needs_share_the_change_in_proportion() -> None:
    raw = unlimited_rich()
    late = {"from_need": "residential", "to_need": "fostering", "probability": 0.1, "at_age": 16.0}
    raw["journeys"]["10-15"] = {**raw["journeys"]["10-15"], "moves": [*raw["journeys"]["10-15"]["moves"], late]}
    scenario = adjusted(raw, more={"target": "move", "from_need": "residential", "to_need": "fostering", "add": 0.2})
    moves = scenario.journeys["10-15"].moves
    assert [m.probability for m in moves] == pytest.approx([0.3 + 0.15, 0.2, 0.1, 0.1 + 0.05])
    assert [m.probability for m in scenario.journeys["5-9"].moves] == pytest.approx([0.5, 0.2, 0.1])
    assert scenario.journeys["under1"].moves == []  # no band given: the bands that have the move


# ---------------------------------------------------------------------------------------------
# The engine against the projection


DATES = [dt.date(2020, 10, 1), dt.date(2022, 4, 1), dt.date(2025, 9, 1)]
WINDOWS = [(dt.date(2019, 10, 1), dt.date(2021, 10, 1)), (dt.date(2021, 10, 1), dt.date(2025, 10, 1))]
REPLICATIONS = 100


def _outside(estimates: pd.DataFrame, expected: np.ndarray) -> np.ndarray:
    """Where `expected` is outside the Bonferroni-corrected 99% interval of the per-replication means (a row of
    `estimates` per replication, a column per figure)."""
    level = 1 - 0.01 / estimates.shape[1]
    half = stats.t.ppf(0.5 + level / 2, REPLICATIONS - 1) * estimates.std(ddof=1).to_numpy() / math.sqrt(REPLICATIONS)
    return np.abs(estimates.mean().to_numpy() - expected) > half + 1e-9


def _per_replication(table: pd.DataFrame, keys: list[str], windows: bool) -> pd.DataFrame:
    """Children per replication (rows) by period and `keys` (columns): at each of DATES, or over each of WINDOWS."""
    parts = {}
    for period, when in enumerate(WINDOWS if windows else DATES):
        if windows:
            inside = (table["month"] >= pd.Timestamp(when[0])) & (table["month"] < pd.Timestamp(when[1]))
        else:
            inside = table["date"] == pd.Timestamp(when)
        parts[period] = table[inside].groupby(["replication", *keys], observed=True)["children"].sum()
    counts = pd.concat(parts, names=["period"]).unstack(["period", *keys])
    return counts.reindex(range(REPLICATIONS)).fillna(0.0)


def _expected(scenario: Scenario, columns: dict[str, pd.Index]) -> dict[str, np.ndarray]:
    """The projection of each column of the per-replication tables: (period, need), (period, route) and
    (period, uasc, age band)."""
    stock = expected_stock(scenario, DATES).set_index(["date", "need"])["children"]
    exits = [expected_exits(scenario, *window).set_index("route")["children"] for window in WINDOWS]
    entries = [_by_band(expected_entries(scenario, *window)) for window in WINDOWS]
    return {
        "stock": np.array([stock[(pd.Timestamp(DATES[p]), need)] for p, need in columns["stock"]]),
        "exits": np.array([exits[p][route] for p, route in columns["exits"]]),
        "entries": np.array([entries[p][(uasc, band)] for p, uasc, band in columns["entries"]]),
    }


def test_the_engine_matches_the_projection_of_an_adjusted_scenario_within_monte_carlo_error() -> None:
    raw = unlimited_rich()
    scenario = adjusted(raw, fewer_teens=FEWER_TEENS, more_home=MORE_HOME, step_downs=STEP_DOWNS)
    tables = run(scenario, replications=REPLICATIONS, seed=29, jobs=2).tables
    simulated = {
        "stock": _per_replication(tables["stock"], ["need"], windows=False),
        "exits": _per_replication(tables["exits"], ["route"], windows=True),
        "entries": _per_replication(tables["entries"], ["uasc", "age_band"], windows=True),
    }
    columns = {name: table.columns for name, table in simulated.items()}
    expected = _expected(scenario, columns)
    for name, table in simulated.items():
        outside = _outside(table, expected[name])
        assert not outside.any(), (name, table.columns[outside].tolist())
    # Teeth: the projection leaving out any one of the adjustments is outside some intervals.
    for left_out in scenario.adjustments:
        kept = {name: a.model_dump() for name, a in scenario.adjustments.items() if name != left_out}
        ignored = _expected(adjusted(raw, **kept), columns)
        outside = sum(int(_outside(table, ignored[name]).sum()) for name, table in simulated.items())
        assert outside >= 2, f"leaving out {left_out} is not told from Monte Carlo error"


def test_parameter_draws_scale_the_adjusted_entry_rates() -> None:
    raw = unlimited_rich()
    raw["uncertainty"] = {"demand": {"entry_rate_sd_log": 0.2}}
    scenario = adjusted(raw, more=({"target": "entry_rate", "age_bands": ["5-9"], "add": 8.0}))
    drawn = with_drawn_parameters(scenario, seed=4, replication=3)
    factor = math.exp(parameter_draws(scenario.uncertainty, 4, 3)[0])
    assert drawn.entries.rate_per_year["5-9"] == pytest.approx((30.0 + 8.0) * factor, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Bad adjustments


BAD = {
    "share above 1": (
        {"target": "exit_route", "route": "return_home", "multiply": 3},
        "adjustments.bad.multiply: journeys.under1.exit_routes.return_home would be 1.2 (0.4 x 3); expected a share "
        "from 0 to 1",
    ),
    "share below 0": (
        {"target": "exit_route", "route": "other", "age_bands": ["10-15"], "add": -0.2},
        "adjustments.bad.add: journeys.10-15.exit_routes.other would be -0.1 (0.1 - 0.2); expected a share",
    ),
    "a route without a duration": (
        {"target": "exit_route", "route": "sgo_cao", "age_bands": ["10-15"], "add": 0.1},
        "journeys.10-15.exit_routes.sgo_cao would be 0.1 (0 + 0.1), but the journey has no duration.sgo_cao",
    ),
    "both operations": (
        {"target": "entry_rate", "multiply": 0.9, "add": 3},
        "adjustments.bad: give one of `multiply` or `add`, not both",
    ),
    "no operation": ({"target": "entry_rate"}, "adjustments.bad: give one of `multiply` or `add`"),
    "a route missing": ({"target": "exit_route", "add": 0.1}, "adjustments.bad: target = 'exit_route' needs `route`"),
    "a route not taken": (
        {"target": "entry_rate", "route": "adoption", "multiply": 2},
        "adjustments.bad: target = 'entry_rate' does not take `route`",
    ),
    "the same needs": (
        {"target": "move", "from_need": "fostering", "to_need": "fostering", "multiply": 2},
        "adjustments.bad: from_need and to_need must differ",
    ),
    "a move no journey has": (
        {"target": "move", "from_need": "residential", "to_need": "secure", "add": 0.1},
        "adjustments.bad.add: no journey has a move from 'residential' to 'secure'",
    ),
    "a move a named band lacks": (
        {"target": "move", "from_need": "residential", "to_need": "fostering", "age_bands": ["1-4"], "add": 0.1},
        "adjustments.bad.add: journeys.1-4 has no move from 'residential' to 'fostering'",
    ),
    "moves above 1": (
        {"target": "move", "from_need": "residential", "to_need": "fostering", "multiply": 4},
        "adjustments.bad.multiply: journeys.5-9: the moves from 'residential' would have probabilities summing to 1.2",
    ),
    "a negative move": (
        {"target": "move", "from_need": "residential", "to_need": "fostering", "add": -0.5},
        "the move's probability would be -0.2 (0.3 - 0.5); expected 0 or more",
    ),
    "a negative entry rate": (
        {"target": "entry_rate", "age_bands": ["5-9", "1-4"], "add": -33},
        "adjustments.bad.add: entries.rate_per_year.5-9 would be -3 (30 - 33); expected from 0 to 100,000",
    ),
    "a share added beyond 1": (
        {"target": "exit_route", "route": "other", "add": 1.5},
        "adjustments.bad: add = 1.5: expected from -1 to 1 (a change of a share or a probability)",
    ),
    "a multiplier beyond 10": ({"target": "entry_rate", "multiply": 11}, "adjustments.bad.multiply: Input should be"),
    "an unknown target": ({"target": "exit_rate", "add": 1}, "adjustments.bad.target: Input should be 'entry_rate'"),
    "an unknown key": (
        {"target": "entry_rate", "multiplier": 0.9},
        "adjustments.bad.multiplier: unknown key (did you mean 'multiply'?)",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_adjustment_is_refused_naming_it(case: str) -> None:
    adjustment, message = BAD[case]
    with pytest.raises(ScenarioError) as error:
        adjusted(unlimited_rich(), bad=adjustment)
    assert message in str(error.value)


def test_a_checked_key_made_wrong_by_an_adjustment_is_refused_and_says_so() -> None:
    raw = unlimited_rich()
    secure = {"from_need": "fostering", "to_need": "secure", "probability": 0.0, "at_age": 14.0}
    raw["journeys"]["10-15"]["moves"] = [*raw["journeys"]["10-15"]["moves"], secure]
    scenario_from_dict(raw)  # a move that never happens needs no matching
    with pytest.raises(ScenarioError, match=r"matching: no entry for placement need\(s\) \['secure'\].*adjustments"):
        adjusted(raw, secure={"target": "move", "from_need": "fostering", "to_need": "secure", "add": 0.1})
    with pytest.raises(ScenarioError, match="adjustment name 'no good'"):
        adjusted(raw, **{"no good": FEWER_TEENS})


# ---------------------------------------------------------------------------------------------
# extends, the record and scenarios without adjustments


def _files(folder: Path, what_if: str) -> Path:
    """A baseline with two adjustments, and a what-if extending it with `what_if` (TOML)."""
    base = scenario_document(scenario_from_dict(unlimited_rich()))
    base["adjustments"] = {"fewer_teens": FEWER_TEENS, "more_home": MORE_HOME}
    (folder / "base.toml").write_text(to_toml(base, []), encoding="utf-8")
    (folder / "what_if.toml").write_text(f'extends = "base.toml"\nname = "what_if"\n\n{what_if}', encoding="utf-8")
    return folder / "what_if.toml"


def test_a_what_if_adds_adjustments_on_top_of_its_parents_and_can_change_one_by_name(tmp_path: Path) -> None:
    adds = '[adjustments.more_entries]\ntarget = "entry_rate"\nage_bands = ["10-15"]\nadd = 5.0\n'
    scenario = load_scenario(_files(tmp_path, adds))
    assert list(scenario.adjustments) == ["fewer_teens", "more_home", "more_entries"]  # the parent's first
    assert scenario.entries.rate_per_year["10-15"] == pytest.approx(0.9 * 75.0 + 5.0)
    assert scenario.journeys["5-9"].exit_routes["return_home"] == pytest.approx(0.6)
    changed = load_scenario(_files(tmp_path, "[adjustments.fewer_teens]\nmultiply = 0.5\n"))
    assert changed.entries.rate_per_year["10-15"] == pytest.approx(37.5)
    assert changed.adjustments["fewer_teens"].note == FEWER_TEENS["note"]  # tables merge key by key


def test_an_adjustment_a_what_if_makes_wrong_names_the_file_that_set_it(tmp_path: Path) -> None:
    routes = "[journeys.5-9.exit_routes]\nreturn_home = 0.8\nage_18 = 0.1\nother = 0.1\n"
    with pytest.raises(ScenarioError) as error:
        load_scenario(_files(tmp_path, routes))
    assert str(error.value).startswith(f"{tmp_path / 'what_if.toml'}: adjustments.more_home.multiply: journeys.5-9")
    assert "would be 1.2 (0.8 x 1.5); expected a share from 0 to 1" in str(error.value)
    assert str(error.value).endswith(f"(set in {tmp_path / 'base.toml'})")
    with pytest.raises(ScenarioError, match="give one of `multiply` or `add`, not both"):
        load_scenario(_files(tmp_path, "[adjustments.fewer_teens]\nadd = -3.0\n"))


def test_the_record_keeps_the_rates_as_written_and_the_adjustments_and_reads_back_the_same(tmp_path: Path) -> None:
    raw = unlimited_rich()
    scenario = adjusted(raw, fewer_teens=FEWER_TEENS, more_home=MORE_HOME, step_downs=STEP_DOWNS)
    dumped = scenario.model_dump(mode="json")
    assert dumped["entries"]["rate_per_year"]["10-15"] == 75.0  # as written: the adjustment is beside it
    assert dumped["adjustments"]["fewer_teens"] == FEWER_TEENS
    assert dumped["adjustments"]["step_downs"] == {**STEP_DOWNS, "note": ""}
    assert scenario_from_dict(scenario.model_dump()) == scenario
    text = to_toml(scenario_document(scenario))
    assert scenario_from_dict(tomllib.loads(text)) == scenario  # the self-contained file applies them once
    write_run(run(scenario, replications=1, seed=1), tmp_path / "out")
    recorded = json.loads((tmp_path / "out" / "run.json").read_text())["scenario"]
    assert recorded["adjustments"] == dumped["adjustments"] and recorded["journeys"] == dumped["journeys"]


def test_a_scenario_changed_after_validation_is_not_written_with_its_adjustments_applied_twice() -> None:
    scenario = adjusted(unlimited_rich(), more_home=MORE_HOME)
    changed = scenario.model_copy(update={"journeys": {b: j.model_copy() for b, j in scenario.journeys.items()}})
    assert changed.model_dump() == scenario.model_dump()  # equal values: the record is the same
    emptied = scenario.model_copy(update={"adjustments": {}})
    assert "adjustments" not in emptied.model_dump()
    moved = scenario.model_copy(update={"journeys": {**scenario.journeys, "5-9": scenario.journeys["under1"]}})
    with pytest.raises(Exception, match="changed after validation cannot be written"):
        moved.model_dump()


def test_without_adjustments_the_scenario_dumps_and_draws_as_before() -> None:
    raw = unlimited_rich()
    plain = scenario_from_dict(raw)
    empty = adjusted(raw)
    assert "adjustments" not in plain.model_dump(mode="json") and empty.model_dump() == plain.model_dump()
    no_op = adjusted(raw, same={"target": "exit_route", "route": "return_home", "multiply": 1.0})
    assert no_op.journeys == plain.journeys
    first, second = (draw_cohort(s, 3, 0, list(s.pools)) for s in (plain, empty))
    for name in ("entry_day", "birth_day", "entry_band", "route", "seg_need", "seg_end"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_workshop_levers_change_the_adjusted_rates_as_they_say() -> None:
    raw = unlimited_rich()
    more = {"target": "entry_rate", "age_bands": ["5-9"], "add": 10.0}
    baseline = adjusted(raw, fewer_teens=FEWER_TEENS, more=more, step_downs=STEP_DOWNS)
    levers = Levers(entries_change_percent=10, step_down_share=0.25)
    what_if = scenario_from_dict(what_if_document(baseline, levers, "w", seed=1))
    for band, rate in baseline.entries.rate_per_year.items():
        assert what_if.entries.rate_per_year[band] == pytest.approx(1.1 * rate)  # adds scaled with the rates
    assert list(what_if.adjustments) == ["fewer_teens", "more"]  # the lever sets the step-down share itself
    steps = [m.probability for m in what_if.journeys["10-15"].moves if m.from_need == "residential"]
    assert steps == [0.25]
