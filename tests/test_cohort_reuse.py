"""Cohort reuse (issue 20): a what-if changing only supply replays its base's children, with identical results.

Scenarios of one `cohort_key` run as a family: each replication's cohort is drawn once and replayed for each.
The tests hold that to what drawing afresh gives, record by record and table by table, for every shipped what-if
under scenarios/ that changes only supply (told apart by the sections its file sets, not by the key itself), and
that a what-if changing demand draws its own.
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.engine import demand, parameters
from sim.engine.demand import Cohort, draw_cohort
from sim.engine.model import COHORT_FIELDS, COHORT_SECTIONS, ReplicationRecord, replayed, simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario
from sim.results.runner import cohort_families, run, run_many, simulate_family
from sim.results.tables import TABLES

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
# Sections a what-if may set and still change only supply: places, matching, step-back, prices and money.
SUPPLY_SECTIONS = {"name", "description", "extends", "seed", "pools", "matching", "prices", "one_off_costs", "budget"}
REPLICATIONS = 3


def _what_ifs() -> list[Path]:
    """Every shipped scenario file extending an authority's baseline (the region files included)."""
    return sorted(p for p in SCENARIOS.rglob("*.toml") if "baseline.toml" in str(tomllib.loads(p.read_text())))


def _changes_only_supply(path: Path) -> bool:
    text = tomllib.loads(path.read_text())
    step_back = text.get("step_back", {})
    return set(text) - {"step_back"} <= SUPPLY_SECTIONS and "probability" not in step_back


def _base_of(path: Path) -> Scenario:
    return load_scenario(path.parent / tomllib.loads(path.read_text())["extends"])


SUPPLY = [p for p in _what_ifs() if _changes_only_supply(p)]
DEMAND = [p for p in _what_ifs() if not _changes_only_supply(p)]


def _name(path: Path) -> str:
    return str(path.relative_to(SCENARIOS))


def test_the_shipped_what_ifs_include_supply_and_demand_ones() -> None:
    """Not vacuous: the parametrised tests below see the supply what-ifs the issue names and demand ones."""
    names = {p.stem for p in SUPPLY}
    assert {"add_two_homes", "more_foster_carers", "better_matching", "two_emergency_beds"} <= names
    assert {"entries_plus_10", "step_down", "staying_put_doubled", "no_wrong_door"} <= {p.stem for p in DEMAND}


@pytest.mark.parametrize("path", SUPPLY, ids=_name)
def test_a_supply_what_if_replays_its_base_cohort_with_identical_records(path: Path) -> None:
    """Every array of every record (the cohort's too) equals the one drawing the what-if's own cohort gives."""
    base, what_if = _base_of(path), load_scenario(path)
    assert cohort_families([base, what_if], [base.seed, base.seed]) == [[0, 1]]
    for replication in range(REPLICATIONS):
        drawn = [with_drawn_parameters(s, base.seed, replication) for s in (base, what_if)]
        _, replayed_record = simulate_family(drawn, [base.seed, base.seed], replication)
        fresh = simulate_replication(drawn[1], base.seed, replication)
        _assert_same_record(replayed_record, fresh)


@pytest.mark.parametrize("path", SUPPLY, ids=_name)
def test_a_supply_what_if_run_with_its_base_gives_every_table_of_its_run_alone(path: Path) -> None:
    base, what_if = _base_of(path), load_scenario(path)
    _, together = run_many([base, what_if], REPLICATIONS, seed=base.seed)
    alone = run(what_if, REPLICATIONS, seed=base.seed)
    _assert_same_tables(together.tables, alone.tables)


@pytest.mark.parametrize("path", DEMAND, ids=_name)
def test_a_demand_what_if_draws_its_own_cohort(path: Path) -> None:
    base, what_if = _base_of(path), load_scenario(path)
    assert cohort_families([base, what_if], [base.seed, base.seed]) == [[0], [1]]


def test_a_demand_what_if_in_a_comparison_gives_its_run_alone() -> None:
    """Entries up 10% changes the children: run beside its base and a supply what-if, its tables are its own."""
    folder = SCENARIOS / "cheshire_east"
    base, supply, more = (
        load_scenario(folder / f) for f in ("baseline.toml", "add_two_homes.toml", "entries_plus_10.toml")
    )
    seeds = [base.seed] * 3
    assert cohort_families([base, supply, more], seeds) == [[0, 1], [2]]
    results = run_many([base, supply, more], 2, seed=base.seed)
    _assert_same_tables(results[2].tables, run(more, 2, seed=base.seed).tables)
    assert not results[2].tables["entries"].equals(results[0].tables["entries"])


def test_another_seed_draws_another_cohort() -> None:
    base = load_scenario(SCENARIOS / "cheshire_east" / "baseline.toml")
    assert cohort_families([base, base], [1, 2]) == [[0], [1]]


def test_a_family_gives_the_same_tables_on_one_worker_and_on_two() -> None:
    """On two workers a family gives exactly what its scenarios give run alone there, and what one worker gives.

    Between one worker and two, rows are put in one order first and spend is held to 1e-12: batches of other
    sizes order some tables' rows by batch and price spend with sums in another order (so at HEAD, without
    families, too), a rounding difference of about 1e-13."""
    folder = SCENARIOS / "cheshire_east"
    scenarios = [load_scenario(folder / f) for f in ("baseline.toml", "add_two_homes.toml", "better_matching.toml")]
    seed = scenarios[0].seed
    one = run_many(scenarios, 4, jobs=1, seed=seed)
    two = run_many(scenarios, 4, jobs=2, seed=seed)
    for scenario, a, b in zip(scenarios, one, two, strict=True):
        _assert_same_tables(b.tables, run(scenario, 4, jobs=2, seed=seed).tables)
        _assert_same_tables(_in_order(a.tables), _in_order(b.tables), rtol={"spend": 1e-12})


def test_a_replayed_cohort_shares_no_array_with_the_drawn_one_whatever_fields_it_has() -> None:
    """The model writes `absent`, and demand.py may gain arrays (a `sex` array is coming): every one is copied."""
    scenario = load_scenario(SCENARIOS / "cheshire_east" / "baseline.toml")
    cohort = draw_cohort(scenario, scenario.seed, 0, list(scenario.pools))
    Grown = dataclasses.make_dataclass(
        "Grown", [("extra", np.ndarray, dataclasses.field(default=None))], bases=(Cohort,)
    )
    grown = Grown(**{f.name: getattr(cohort, f.name) for f in dataclasses.fields(cohort)}, extra=np.arange(3))
    copy = replayed(grown)
    for field in dataclasses.fields(grown):
        original, copied = getattr(grown, field.name), getattr(copy, field.name)
        if isinstance(original, np.ndarray):
            assert not np.shares_memory(original, copied), field.name
            np.testing.assert_array_equal(original, copied)
    assert isinstance(copy, Grown)


def test_replaying_leaves_the_drawn_cohort_as_drawn() -> None:
    """The base writes `absent` (the National Transfer Scheme keeps children out of care) into its own copy."""
    scenario = load_scenario(SCENARIOS / "cheshire_east" / "baseline.toml")
    cohort = draw_cohort(scenario, scenario.seed, 1, list(scenario.pools))
    before = {f.name: np.copy(getattr(cohort, f.name)) for f in dataclasses.fields(cohort)}
    record = simulate_replication(scenario, scenario.seed, 1, cohort)
    assert record.cohort.absent.any()  # the scheme transferred someone out: the test can see a leak
    for name, array in before.items():
        np.testing.assert_array_equal(getattr(cohort, name), array, err_msg=name)


def _scenario_reads(module) -> set[tuple[str, ...]]:
    """Every chain read off a name `scenario` in a module's source: ('entries', 'uasc'), ('pools', '[]', ...)."""
    chains = set()
    nodes = list(ast.walk(ast.parse(Path(module.__file__).read_text())))
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute | ast.Subscript)}  # part of a longer chain
    for node in (n for n in nodes if id(n) not in inner):
        parts: list[str] = []
        while isinstance(node, ast.Attribute | ast.Subscript):
            parts.append(node.attr if isinstance(node, ast.Attribute) else "[]")
            node = node.value
        if isinstance(node, ast.Name) and node.id == "scenario" and parts:
            chains.add(tuple(reversed(parts)))
    return chains


def _covered(chain: tuple[str, ...]) -> bool:
    if chain[0] in COHORT_SECTIONS or chain[:2] in COHORT_FIELDS:
        return True
    if chain[0] == "journeys_for":  # journeys, and entries.uasc.journeys
        return True
    if chain[0] == "uncertainty":  # with_drawn_parameters: the key holds the demand spread
        return True
    return chain[:2] == ("pools", "[]") and chain[2:] in {("takes_tier",), ("tiers",)}  # the start pools' tiers


@pytest.mark.parametrize("module", [demand, parameters], ids=lambda m: m.__name__)
def test_every_scenario_read_of_the_cohort_draw_is_in_its_key(module) -> None:
    """A new `scenario.` read in demand.py or parameters.py must join `cohort_key`, or cohorts could be replayed
    for a scenario that would draw other children. (Prices, and the pools whose carers' flows the parameter draws
    scale, never reach a cohort.)"""
    supply = {("pools", "items")} if module is parameters else set()
    reads = {chain for chain in _scenario_reads(module) if chain[0] not in ("prices", "model_copy")} - supply
    assert reads, "no reads found: the check itself is broken"
    assert [chain for chain in reads if not _covered(chain)] == []


def _assert_same_record(a: ReplicationRecord, b: ReplicationRecord) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, Cohort):
            for part in dataclasses.fields(x):
                np.testing.assert_array_equal(getattr(x, part.name), getattr(y, part.name), err_msg=part.name)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=field.name)
        else:
            assert x == y, field.name


def _in_order(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each table's rows sorted by its columns other than floats (its keys and counts)."""
    ordered = {}
    for name, frame in tables.items():
        keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
        ordered[name] = frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame
    return ordered


def _assert_same_tables(
    a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], rtol: dict[str, float] | None = None
) -> None:
    """Every table equal, value for value (or within `rtol` for the tables it names)."""
    assert set(a) == set(b) == set(TABLES)
    for name in TABLES:
        tolerance = (rtol or {}).get(name)
        if tolerance is None:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
        else:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=tolerance, atol=0.0, obj=name)
