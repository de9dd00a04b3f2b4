"""Reading scenario files: `extends` merging and the shipped scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.engine.scenario_files import load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "tests" / "bad_scenarios" / "valid_base.toml"


def test_extends_merges_tables_key_by_key_and_replaces_distributions(tmp_path: Path) -> None:
    what_if = tmp_path / "what_if.toml"
    what_if.write_text(
        f'extends = "{BASE}"\n'
        'name = "what-if"\n'
        "[pools.homes]\ncapacity = 6\n"
        '[journeys.10-15.duration.return_home]\ndistribution = "exponential"\nmean = 200\n',
        encoding="utf-8",
    )
    base, changed = load_scenario(BASE), load_scenario(what_if)
    assert changed.name == "what-if"
    assert changed.pools["homes"].capacity == 6
    assert changed.pools["homes"].min_age == base.pools["homes"].min_age  # untouched keys inherited
    assert changed.journeys["10-15"].duration["return_home"].distribution == "exponential"
    assert changed.journeys["5-9"] == base.journeys["5-9"]


SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.toml") if p.name != "prices.toml")  # price books are parts


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_scenarios_load(path: Path) -> None:
    assert load_scenario(path).name
