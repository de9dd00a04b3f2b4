"""Distance and UASC on the stock: children in care on 31 March placed beyond 20 miles, and UASC in care, counted
by hand on a constructed stock (tests.constructed_records) and against the engine's own tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.results.runner import run
from sim.results.summary import CHILDREN_FLOW_ROWS, CHILDREN_ROWS, RunSummary
from sim.results.tables import Batch, Calendar, _care_leavers, _leaving_care, _stock, _stock_detail, _uasc_transfers
from tests.builders import build, rich_scenario
from tests.constructed_records import Child, age_at_start_for, in_care, record, two_year_scenario

IN_HOUSE, EXTERNAL = 0, 1
MARCH_2021, MARCH_2022 = 365.0, 730.0  # 00:00 on 1 April: the children in care on 31 March


def _replications() -> list:
    first = [
        Child(10.0, placements=(in_care(IN_HOUSE, 0),)),  # within 20 miles throughout
        Child(8.0, placements=(in_care(EXTERNAL, 0, within=0),)),  # beyond 20 miles throughout
        Child(6.0, placements=(in_care(IN_HOUSE, 100, 300, within=0),), exit_day=300, route="return_home"),
        Child(12.0, placements=(in_care(EXTERNAL, 200, 400, within=0),), exit_day=400, route="return_home"),
        # moved from beyond 20 miles to a placement within: counted where the child is on the day
        Child(9.0, placements=(in_care(EXTERNAL, 0, 200, within=0), in_care(IN_HOUSE, 200))),
        # UASC, 17.5 on 31 March 2021, leaves care at 18 on day 500
        Child(
            age_at_start_for(500, 18.0),
            uasc=True,
            placements=(in_care(EXTERNAL, 10, 500),),
            exit_day=500,
            route="age_18",
        ),
    ]
    second = [Child(4.0, placements=(in_care(IN_HOUSE, 0),))]
    return [record(first, 0), record(second, 1)]


@pytest.fixture(scope="module")
def constructed() -> RunSummary:
    scenario = two_year_scenario()
    calendar = Calendar.for_scenario(scenario)
    records = _replications()
    batch = Batch(records, scenario, calendar)
    tables = {
        "stock": _stock(batch),
        "stock_detail": _stock_detail(batch),
        "care_leavers": _care_leavers(batch),
        "leaving_care": _leaving_care(batch),
        "uasc_transfers": _uasc_transfers(batch),
    }
    return RunSummary(scenario, 1, len(records), calendar, 0.0, tables)


def _row(summary: RunSummary, year: str, row: str) -> pd.Series:
    table = summary.children_by_year
    found = table[(table["financial_year"] == year) & (table["row"] == row)]
    assert len(found) == 1, (year, row)
    return found.iloc[0]


def test_the_stock_detail_counts_each_child_in_care_once_by_distance_and_uasc(constructed: RunSummary) -> None:
    detail = constructed._tables["stock_detail"]
    on = detail[(detail["replication"] == 0) & (detail["date"] == pd.Timestamp("2021-04-01"))]
    assert on["children"].sum() == 5  # the child who left on day 300 is gone
    assert on.loc[on["beyond_20_miles"], "children"].sum() == 2  # the second and fourth children
    assert on.loc[on["beyond_20_miles"] & ~on["in_house"], "children"].sum() == 2
    uasc = on[on["uasc"]]
    assert list(uasc["age_band"].astype(str)) == ["16-17"] and uasc["children"].sum() == 1
    # the same children as the stock table at every date
    stock = constructed._tables["stock"].groupby(["replication", "date"])["children"].sum()
    assert detail.groupby(["replication", "date"])["children"].sum().equals(stock)


def test_the_share_beyond_20_miles_on_31_march_is_the_hand_count(constructed: RunSummary) -> None:
    share = _row(constructed, "2020-21", "beyond_20_miles_percent")
    # replication 0: 2 of 5 beyond 20 miles (40%); replication 1: 0 of 1 (0%)
    assert share["mean"] == pytest.approx(20.0)
    assert share["p10"] == pytest.approx(4.0) and share["p90"] == pytest.approx(36.0)  # linear, two values
    assert share["date"] == pd.Timestamp("2021-03-31")
    assert _row(constructed, "2020-21", "beyond_20_miles")["mean"] == pytest.approx(1.0)
    assert _row(constructed, "2020-21", "children_in_care")["mean"] == pytest.approx(3.0)
    # 31 March 2022: replication 0 keeps the first, second and fifth children (1 of 3 beyond), replication 1 one
    later = _row(constructed, "2021-22", "beyond_20_miles_percent")
    assert later["mean"] == pytest.approx((100.0 / 3 + 0.0) / 2)
    assert _row(constructed, "2021-22", "beyond_20_miles_external")["mean"] == pytest.approx(0.5)


def test_uasc_in_care_on_31_march_by_age_band(constructed: RunSummary) -> None:
    assert _row(constructed, "2020-21", "uasc_in_care")["mean"] == pytest.approx(0.5)
    assert _row(constructed, "2020-21", "uasc_in_care_16-17")["mean"] == pytest.approx(0.5)
    assert _row(constructed, "2020-21", "uasc_in_care_10-15")["mean"] == 0.0
    assert _row(constructed, "2021-22", "uasc_in_care")["mean"] == 0.0  # left care at 18 on day 500
    # and they are a UASC care leaver who left care at 18 in 2021-22, aged 18 on 31 March 2022
    assert _row(constructed, "2021-22", "uasc_turned_18")["mean"] == pytest.approx(0.5)
    assert _row(constructed, "2021-22", "uasc_care_leavers_18_20")["mean"] == pytest.approx(0.5)


def test_every_year_has_every_row_and_flows_have_no_date(constructed: RunSummary) -> None:
    table = constructed.children_by_year
    assert len(table) == 2 * len(CHILDREN_ROWS)
    flows = table["row"].isin(CHILDREN_FLOW_ROWS)
    assert table.loc[flows, "date"].isna().all() and table.loc[~flows, "date"].notna().all()


def test_a_run_counts_the_same_children_beyond_20_miles_as_its_placements() -> None:
    """On the engine's own records: each replication's children in care beyond 20 miles on a 31 March, from the
    placement rows directly, equal the stock_detail table's."""
    scenario = build(rich_scenario(years=3))
    result = run(scenario, 2, seed=5)
    detail = result.tables["stock_detail"]
    day = pd.Timestamp(f"{scenario.horizon.start.year + 1}-04-01")
    offset = (day.date() - scenario.horizon.start).days
    for replication in range(2):
        rows = simulate_replication(scenario, 5, replication).placements
        open_on = (rows[:, PlacementColumn.START] <= offset) & (offset < rows[:, PlacementColumn.END])
        kept = open_on & (rows[:, PlacementColumn.KIND] == IN_CARE)
        far = int(np.sum(kept & (rows[:, PlacementColumn.WITHIN_20_MILES] == 0)))
        mine = detail[(detail["replication"] == replication) & (detail["date"] == day)]
        assert mine.loc[mine["beyond_20_miles"], "children"].sum() == far
        assert mine["children"].sum() == int(np.sum(kept))
