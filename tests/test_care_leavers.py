"""Care leavers and leaving care, counted by hand on a constructed record (tests.constructed_records): young
people leaving care at 18 each financial year, and care leavers on 31 March by age and accommodation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine.model import STAYING_CLOSE, STAYING_PUT
from sim.results.runner import run
from sim.results.summary import RunSummary
from sim.results.tables import (
    CARE_LEAVER_AGES,
    Batch,
    Calendar,
    _care_leavers,
    _leaving_care,
    _stock_detail,
    _uasc_transfers,
)
from tests.builders import build, rich_with_staying_put_at_start
from tests.constructed_records import Child, age_at_start_for, in_care, record, two_year_scenario

IN_HOUSE, EXTERNAL = 0, 1


def _young_people() -> list[Child]:
    return [
        # P: leaves care at 18 on day 100 and stays put to day 600; then a care leaver elsewhere
        Child(
            age_at_start_for(100, 18.0),
            exit_day=100,
            route="age_18",
            placements=(in_care(IN_HOUSE, 0, 100), (IN_HOUSE, 100, 600, STAYING_PUT, 0)),
        ),
        # Q: UASC, leaves care at 18 on day 50, no post-18 placement
        Child(
            age_at_start_for(50, 18.0), uasc=True, exit_day=50, route="age_18", placements=(in_care(EXTERNAL, 0, 50),)
        ),
        # R: Staying Put on the start date, aged 20.5, to the end: 21+ on both 31 Marches
        Child(20.5, staying_put_at_start=True, placements=((IN_HOUSE, 0, np.inf, STAYING_PUT, 0),)),
        # S: Staying Put on the start date, aged 20.5, to day 100: 21 before 31 March 2021, so never counted there
        Child(20.5, staying_put_at_start=True, placements=((IN_HOUSE, 0, 100, STAYING_PUT, 0),)),
        # T: returns home at 17: not a care leaver
        Child(16.5, exit_day=200, route="return_home", placements=(in_care(IN_HOUSE, 0, 200),)),
        # U: leaves care at 18 on day 300 into Staying Close, to the end
        Child(
            age_at_start_for(300, 18.0),
            exit_day=300,
            route="age_18",
            placements=(in_care(EXTERNAL, 0, 300), (EXTERNAL, 300, np.inf, STAYING_CLOSE, 0)),
        ),
        # V: in care throughout
        Child(12.0, placements=(in_care(IN_HOUSE, 0),)),
        # W: leaves care at 18 on day 400 (in 2021-22)
        Child(age_at_start_for(400, 18.0), exit_day=400, route="age_18", placements=(in_care(EXTERNAL, 0, 400),)),
    ]


@pytest.fixture(scope="module")
def constructed() -> RunSummary:
    scenario = two_year_scenario()
    calendar = Calendar.for_scenario(scenario)
    records = [record(_young_people())]
    batch = Batch(records, scenario, calendar)
    tables = {
        "stock_detail": _stock_detail(batch),
        "care_leavers": _care_leavers(batch),
        "leaving_care": _leaving_care(batch),
        "uasc_transfers": _uasc_transfers(batch),
    }
    return RunSummary(scenario, 1, 1, calendar, 0.0, tables)


def _leavers(summary: RunSummary, date: str, group: str = "all") -> dict[tuple[str, str], float]:
    table = summary.care_leavers_by_year
    rows = table[(table["date"] == pd.Timestamp(date)) & (table["group"] == group)]
    return {(a, p): m for a, p, m in zip(rows["age"], rows["accommodation"], rows["mean"], strict=True) if m}


def _row(summary: RunSummary, year: str, row: str) -> float:
    table = summary.children_by_year
    return float(table.loc[(table["financial_year"] == year) & (table["row"] == row), "mean"].item())


def test_care_leavers_on_31_march_2021_by_age_and_accommodation(constructed: RunSummary) -> None:
    assert _leavers(constructed, "2021-03-31") == {
        ("18", "staying_put"): 1.0,  # P
        ("18", "staying_close"): 1.0,  # U
        ("18", "other_not_modelled"): 1.0,  # Q
        ("21+", "staying_put"): 1.0,  # R
    }
    assert _leavers(constructed, "2021-03-31", "uasc") == {("18", "other_not_modelled"): 1.0}
    assert _row(constructed, "2020-21", "care_leavers_18_20") == 3.0
    assert _row(constructed, "2020-21", "uasc_care_leavers_18_20") == 1.0


def test_care_leavers_on_31_march_2022_after_staying_put_ends(constructed: RunSummary) -> None:
    assert _leavers(constructed, "2022-03-31") == {
        ("18", "other_not_modelled"): 1.0,  # W
        ("19", "other_not_modelled"): 2.0,  # P (Staying Put ended on day 600) and Q
        ("19", "staying_close"): 1.0,  # U
        ("21+", "staying_put"): 1.0,  # R
    }
    assert _row(constructed, "2021-22", "care_leavers_18_20") == 4.0


def test_young_people_leaving_care_at_18_by_financial_year(constructed: RunSummary) -> None:
    assert _row(constructed, "2020-21", "turned_18_in_care") == 3.0  # P, Q, U
    assert _row(constructed, "2020-21", "uasc_turned_18") == 1.0  # Q
    assert _row(constructed, "2021-22", "turned_18_in_care") == 1.0  # W
    assert _row(constructed, "2021-22", "uasc_turned_18") == 0.0


def test_other_accommodation_stops_at_21_and_every_cell_is_shown(constructed: RunSummary) -> None:
    table = constructed.care_leavers_by_year
    assert not ((table["age"] == "21+") & (table["accommodation"] == "other_not_modelled")).any()
    assert len(table) == 2 * 2 * (len(CARE_LEAVER_AGES) * 3 - 1)  # two 31 Marches, all and UASC


def test_a_run_counts_its_post_18_places_and_its_leavers_at_18() -> None:
    """On the engine's records: care leavers Staying Put or Close equal the occupancy table's young people 18+
    at every snapshot, and leaving care at 18 adds up to the exits table's age_18 route."""
    result = run(build(rich_with_staying_put_at_start()), 2, seed=4)
    tables = result.tables
    leavers = tables["care_leavers"]
    post = leavers[leavers["accommodation"] != "other_not_modelled"].groupby(["replication", "date"])["young_people"]
    held = tables["occupancy"].groupby(["replication", "date"])["post_18"].sum()
    assert held.sum() > 0
    assert post.sum().reindex(held.index, fill_value=0).to_numpy() == pytest.approx(held.to_numpy())
    exits = tables["exits"]
    assert tables["leaving_care"]["young_people"].sum() == exits.loc[exits["route"] == "age_18", "children"].sum()
    other = leavers[leavers["accommodation"] == "other_not_modelled"]
    assert set(other["age"].astype(str)) <= {"18", "19", "20"}
