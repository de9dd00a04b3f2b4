"""What a what-if changes, read from the two validated scenarios (sim.analysis.scenario_diff)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.analysis.scenario_diff import ABSENT, changes_in_brief, scenario_changes
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario

FOLDER = Path(__file__).resolve().parent.parent / "scenarios" / "cheshire_east"


@pytest.fixture(scope="module")
def base() -> Scenario:
    return load_scenario(FOLDER / "baseline.toml")


def _changed(base: Scenario, edit) -> Scenario:
    document = base.model_dump()
    edit(document)
    return Scenario.model_validate(document)


def test_a_scenario_against_itself_changes_nothing(base: Scenario) -> None:
    assert scenario_changes(base, base) == []
    assert changes_in_brief([]) == "no setting changed"


def test_the_file_identity_and_prose_are_not_changes(base: Scenario) -> None:
    def edit(document: dict) -> None:
        document["name"] = "renamed"
        document["description"] = "other words"
        document["pools"]["inhouse_homes"]["description"] = "a new description"

    assert scenario_changes(base, _changed(base, edit)) == []


def test_one_setting_changed_is_the_one_change_with_both_values(base: Scenario) -> None:
    now = base.pools["inhouse_fostering"].usable_share

    def edit(document: dict) -> None:
        document["pools"]["inhouse_fostering"]["usable_share"] = 0.95

    (change,) = scenario_changes(base, _changed(base, edit))
    assert change.setting == "pools.inhouse_fostering.usable_share"
    assert (change.base, change.what_if) == (now, 0.95)
    assert change.words == f"pools.inhouse_fostering.usable_share: {now:g} in the base, 0.95 in the what-if"
    assert changes_in_brief([change]) == "inhouse_fostering.usable_share = 0.95"


@pytest.mark.parametrize(
    ("what_if", "settings"),
    [
        ("better_matching", ["pools.inhouse_fostering.usable_share"]),
        ("more_foster_carers", ["pools.inhouse_fostering.fostering.approvals_per_year"]),
        ("staying_put_doubled", ["leaving_care.staying_put.probability"]),
        ("add_two_homes", ["pools.inhouse_homes.capacity_changes"]),
        ("entries_plus_10", ["adjustments.ten_percent_more_entries"]),
        ("step_down", ["journeys.5-9.moves", "journeys.10-15.moves", "journeys.16-17.moves"]),
    ],
)
def test_a_shipped_what_if_changes_exactly_the_keys_its_file_sets(base: Scenario, what_if: str, settings) -> None:
    """The settings its header is about are among the changes, and every change is of a key the file itself sets
    (a what-if file holds only what it overrides)."""
    path = FOLDER / f"{what_if}.toml"
    changes = scenario_changes(base, load_scenario(path))
    found = [change.setting for change in changes]
    assert [setting for setting in found if setting in settings] == settings
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    for change in changes:
        table = written
        for key in change.path[:2]:
            assert key in table, f"{change.setting}: not set by {path.name}"
            table = table[key]


def test_a_dated_list_reads_as_dated_entries_without_its_notes(base: Scenario) -> None:
    changes = scenario_changes(base, load_scenario(FOLDER / "add_two_homes.toml"))
    (change,) = [change for change in changes if change.setting == "pools.inhouse_homes.capacity_changes"]
    assert change.base == []
    assert change.words == (
        "pools.inhouse_homes.capacity_changes: none in the base, from 2018-10-01: change 2, homes 1; "
        "from 2019-04-01: change 2, homes 1 in the what-if"
    )
    assert "assumption" not in change.words  # the notes are prose


def test_an_added_pool_is_one_change_and_the_same_change_in_two_tables_is_named_once(base: Scenario) -> None:
    changes = scenario_changes(base, load_scenario(FOLDER / "two_emergency_beds.toml"))
    added = [change.setting for change in changes if change.base is ABSENT]
    assert added == ["pools.inhouse_emergency_beds", "prices.pools.inhouse_emergency_beds"]
    assert changes_in_brief(changes) == (
        "pools.inhouse_emergency_beds added; fostering, supported_16plus.fallback = inhouse_emergency_beds and "
        "emergency"
    )
    assert len(changes_in_brief(changes, limit=40)) == 40


def test_a_removed_setting_says_so(base: Scenario) -> None:
    with_beds = load_scenario(FOLDER / "two_emergency_beds.toml")
    removed = [change for change in scenario_changes(with_beds, base) if change.what_if is ABSENT]
    assert [change.setting for change in removed] == [
        "pools.inhouse_emergency_beds",
        "prices.pools.inhouse_emergency_beds",
    ]
    assert removed[0].words.startswith("pools.inhouse_emergency_beds removed (in the base: ")
