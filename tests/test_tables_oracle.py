"""The result tables built two independent ways agree: arrays per batch (the product) and pandas per
replication (`tests/oracles/reference_tables.py`, the test oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.engine.model import simulate_replication
from sim.engine.scenario_files import load_scenario
from sim.results.tables import Calendar, batch_tables
from tests.builders import build, rich_scenario, rich_with_staying_put_at_start
from tests.oracles.reference_tables import replication_tables

ROOT = Path(__file__).resolve().parent.parent


SCENARIOS = ["cheshire_east/baseline.toml", "cheshire_east/step_down.toml", "stockport/baseline.toml"]
BUILT = {"rich": rich_scenario, "rich_staying_put_at_start": rich_with_staying_put_at_start}


@pytest.mark.parametrize("path", [*SCENARIOS, *BUILT])
def test_batch_tables_match_the_per_replication_reference(path: str) -> None:
    """Two independent builds of the same tables: arrays per batch and pandas per replication."""
    scenario = build(BUILT[path]()) if path in BUILT else load_scenario(ROOT / "scenarios" / path)
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
