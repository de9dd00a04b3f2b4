"""The benchmark's tiny version: every figure still runs, and the Erlang-loss peer agrees with Erlang B."""

from __future__ import annotations

import numpy as np
import pytest

from sim import bench, peer
from sim.cli import main
from sim.journeys_as_processes import ProcessJourneys
from sim.model import CareSystem, simulate_replication
from sim.reference_tables import replication_tables
from sim.results import Calendar, batch_tables
from sim.scenario_files import load_scenario
from tests.builders import build, rich_scenario


def test_quick_bench_prints_every_figure(capsys) -> None:
    assert main(["bench", "--quick", "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    for figure in (
        "model overhead",
        "peer: Erlang loss blocking",
        "peer: wall time ours / ciw",
        "Cheshire East baseline, 10 years",
        "England scale",
        "parallel efficiency",
        "workshop app what-if",
        "children's journeys: a SimPy process each",
        "cyclic garbage collector",
        "result tables",
        "duration draws",
    ):
        assert figure in printed
    assert "peak memory" in printed


@pytest.mark.parametrize("system", [peer.LossSystem(), peer.LossSystem(places=4, load=4.0, mean_days=20.0)])
def test_both_simulators_agree_with_erlang_b(system: peer.LossSystem) -> None:
    """Blocking in our engine and in ciw: each 95% interval of the mean covers the closed form."""
    exact = system.erlang_b
    for estimate in (peer.ours(system, 20), peer.ciw_blocking(system, 20)):
        assert estimate.arrivals > 10_000
        assert estimate.covers(exact), (estimate, exact)


def test_england_scenario_has_england_size() -> None:
    scenario = bench.england_scenario()
    in_care = sum(g.count for g in scenario.start_population.groups)
    entries = sum(scenario.entries.rate_per_year.values()) + scenario.entries.uasc.rate_per_year
    assert in_care == pytest.approx(bench.ENGLAND_IN_CARE, rel=0.01)
    assert entries == pytest.approx(bench.ENGLAND_ENTRIES_PER_YEAR, rel=0.01)


SCENARIOS = ["cheshire_east/baseline.toml", "cheshire_east/step_down.toml", "stockport/baseline.toml"]


@pytest.mark.parametrize("path", [*SCENARIOS, "rich"])
def test_batch_tables_match_the_per_replication_reference(path: str) -> None:
    """Two independent builds of the same tables: arrays per batch and pandas per replication."""
    scenario = build(rich_scenario()) if path == "rich" else load_scenario(bench.ROOT / "scenarios" / path)
    calendar = Calendar.for_scenario(scenario)
    records = [simulate_replication(scenario, scenario.seed, r) for r in range(2)]
    batch = batch_tables(records, scenario, calendar)
    for name, reference in _concatenated(records, scenario, calendar).items():
        keys = [c for c in reference.columns if reference[c].dtype.kind not in "fi" or c == "replication"]
        ours = batch[name].sort_values(keys, ignore_index=True)
        theirs = reference.sort_values(keys, ignore_index=True)
        assert list(ours.columns) == list(theirs.columns), name
        for column in ours.columns:
            if ours[column].dtype.kind == "f":
                assert ours[column].to_numpy() == pytest.approx(theirs[column].to_numpy(), abs=1e-9, nan_ok=True)
            else:
                assert (ours[column].astype(str) == theirs[column].astype(str)).all(), (name, column)


def _concatenated(records, scenario, calendar):
    import pandas as pd

    tables = [replication_tables(r, scenario, calendar) for r in records]
    return {name: pd.concat([t[name] for t in tables], ignore_index=True) for name in tables[0]}


@pytest.mark.parametrize("path", ["cheshire_east/baseline.toml", "stockport/baseline.toml"])
def test_journeys_as_processes_give_the_same_records(path: str) -> None:
    """The bench's "before" for decision 0003 is a fair one: the same placements, exits and capacity."""
    scenario = load_scenario(bench.ROOT / "scenarios" / path)
    for replication in range(2):
        ours = CareSystem(scenario, scenario.seed, replication).run()
        before = ProcessJourneys(scenario, scenario.seed, replication).run()
        for field in ("placements", "exit_day", "exit_route", "capacity", "households"):
            assert np.array_equal(getattr(ours, field), getattr(before, field), equal_nan=True), field
        assert before.events > 1.5 * ours.events  # a start and an end event for every child


def test_journeys_as_processes_refuse_finite_adopters() -> None:
    with pytest.raises(ValueError, match="unlimited adopters"):
        ProcessJourneys(build(rich_scenario()), 1, 0)
