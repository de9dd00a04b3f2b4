"""Budget: exact hand-computed spend, block costs, additivity, price draws and the finance workbook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.cli import main
from sim.engine.demand import draw_cohort
from sim.engine.model import PlacementColumn, simulate_replication
from sim.engine.scenario_files import load_scenario
from sim.results.runner import run
from tests.builders import build, one_pool_scenario, rich_scenario

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"


def spend_by_year(result, pool: str | None = None) -> dict[str, float]:
    spend = result.tables["spend"]
    if pool is not None:
        spend = spend[spend["pool"] == pool]
    return spend.groupby("financial_year")["spend"].sum().to_dict()


def test_exact_spend_across_a_financial_year_boundary_and_an_inflation_step() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, years=2, stay={"distribution": "fixed", "days": 401})
    raw["horizon"]["start"] = dt.date(2020, 1, 1)
    raw["start_population"] = {
        "groups": [{"age_band": "5-9", "need": "fostering", "pool": "inhouse", "count": 2, "days_in_care": 1}]
    }
    raw["prices"] = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 10.0,
        "inflation_source": "test",
        "pools": {"inhouse": {"source": "test", "weekly": 700.0}, "external": {"source": "test", "weekly": 1000.0}},
    }
    result = run(build(raw), replications=1, seed=1)
    # Two children stay 400 days from 1 January 2020 at £100 a day: 91 days in 2019-20 (a leap year),
    # 309 days in 2020-21 after the 1 April 2020 uplift of 10%.
    spend = spend_by_year(result)
    assert spend["2019-20"] == pytest.approx(2 * 91 * 100.0)
    assert spend["2020-21"] == pytest.approx(2 * 309 * 100.0 * 1.1)
    assert spend.get("2021-22", 0.0) == 0.0


def test_allowance_by_age_band_changes_on_the_birthday(tmp_path: Path) -> None:
    (tmp_path / "children.csv").write_text("age_years,need,pool,days_in_care\n15.5,fostering,inhouse,10\n")
    (tmp_path / "s.toml").write_text(
        f'extends = "{PRICED}"\n[start_population]\ncsv = "children.csv"\n'
        "[entries.rate_per_year]\n5-9 = 0\n10-15 = 0\n"
        "[prices]\ninflation_percent_per_year = 0.0\n"
        '[journeys.10-15.duration.return_home]\ndistribution = "fixed"\ndays = 375\n'
        "[journeys.10-15.exit_routes]\nreturn_home = 1.0\nage_18 = 0.0\n"
        "[journeys.10-15.first_need]\nfostering = 1.0\nresidential = 0.0\n",
        encoding="utf-8",
    )
    result = run(load_scenario(tmp_path / "s.toml"), replications=1, seed=3)
    # 365 days from 1 April 2020, turning 16 after 182.625 days: £210 then £240 a week, plus a £200 fee.
    expected = (182.625 * 210 + (365 - 182.625) * 240 + 365 * 200) / 7
    assert spend_by_year(result, "inhouse")["2020-21"] == pytest.approx(expected)


def test_block_cost_home_is_charged_when_empty_and_pro_rata_from_opening() -> None:
    raw = one_pool_scenario(rate_per_year=0.0, years=2)
    raw["pools"]["homes"] = {
        "serves": ["secure"],  # no child needs secure care: the homes stay empty
        "capacity": 3,
        "in_house": True,
        "homes": 1,
        "capacity_changes": [{"date": dt.date(2020, 10, 1), "change": 2, "homes": 1}],
    }
    raw["prices"] = {
        "base_date": dt.date(2020, 4, 1),
        "inflation_percent_per_year": 0.0,
        "inflation_source": "test",
        "pools": {
            "inhouse": {"source": "test", "weekly": 500.0},
            "external": {"source": "test", "weekly": 900.0},
            "homes": {"source": "test", "block_per_home_per_year": 365_000.0},
        },
    }
    spend = spend_by_year(run(build(raw), replications=1, seed=1), "homes")
    # One home all year, plus one open from 1 October 2020: 182 of the year's 365 days (about half).
    assert spend["2020-21"] == pytest.approx(365_000 + 365_000 * 182 / 365)
    assert spend["2021-22"] == pytest.approx(2 * 365_000)


@pytest.fixture(scope="module")
def priced_rich():
    raw = rich_scenario(years=4)
    raw["pools"]["homes"]["homes"] = 2
    raw["pools"]["homes"]["capacity_changes"][0]["homes"] = 1
    prices = {name: {"source": "test", "weekly": 100.0 * (i + 1)} for i, name in enumerate(raw["pools"])}
    prices["external_homes"] = {"source": "test", "weekly_distribution": {"median": 4000.0, "p90": 8000.0}}
    prices["homes"] = {"source": "test", "block_per_home_per_year": 400_000.0, "per_occupied_night": 50.0}
    prices["inhouse"] = {"source": "test", "weekly": 300.0, "fee_weekly": 150.0, "staying_put_weekly": 200.0}
    raw["prices"] = {
        "base_date": dt.date(2019, 4, 1),
        "inflation_percent_per_year": 3.0,
        "inflation_source": "test",
        "inflation_groups": {"residential": {"percent_per_year": 6.0, "pools": ["homes"], "source": "test"}},
        "pools": prices,
    }
    return build(raw)


def test_spend_by_pool_and_by_need_sum_to_the_total_and_in_house_plus_external(priced_rich) -> None:
    summary = run(priced_rich, replications=6, seed=2).run_summary.budget
    for year, rows in summary.groupby("financial_year"):
        total = rows.query("breakdown == 'total'")["mean"].sum()
        assert total > 0, year
        for breakdown in ("pool", "need", "provision"):
            assert rows[rows["breakdown"] == breakdown]["mean"].sum() == pytest.approx(total)


def test_price_draws_are_reproducible_and_shared_across_capacity_changes(priced_rich) -> None:
    one = run(priced_rich, replications=3, seed=8).tables["spend"]
    two = run(priced_rich, replications=3, seed=8, jobs=2).tables["spend"]
    pd.testing.assert_frame_equal(one, two)
    bigger = priced_rich.model_copy(
        update={"pools": {**priced_rich.pools, "homes": priced_rich.pools["homes"].model_copy(update={"capacity": 9})}}
    )
    pools = list(priced_rich.pools)
    np.testing.assert_array_equal(draw_cohort(priced_rich, 8, 0, pools).price, draw_cohort(bigger, 8, 0, pools).price)


def test_drawn_prices_follow_the_lognormal_and_show_the_heavy_tail(priced_rich) -> None:
    dist = priced_rich.prices.pools["external_homes"].weekly_distribution
    prices, external_homes = [], list(priced_rich.pools).index("external_homes")
    for replication in range(10):
        record = simulate_replication(priced_rich, seed=4, replication=replication)
        p = record.placements[record.placements[:, PlacementColumn.POOL] == external_homes]
        child, draw = p[:, PlacementColumn.CHILD].astype(int), p[:, PlacementColumn.DRAW].astype(int)
        prices.append(dist.frozen().ppf(record.cohort.price[child, draw]))
    prices = np.concatenate(prices)
    assert len(prices) > 100
    assert np.median(prices) == pytest.approx(4000, rel=0.15)
    assert np.mean(prices > 8000) == pytest.approx(0.10, abs=0.05)


def test_budget_workbook_holds_the_sheets_and_its_summary_equals_the_csv(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(PRICED), "--replications", "4", "--out", str(out), "--quiet"]) == 0
    csv = pd.read_csv(out / "budget.csv")
    workbook = load_workbook(out / "budget.xlsx")
    assert workbook.sheetnames == [
        "By financial year",
        "Summary",
        "By pool",
        "By need",
        "Weekly cost check",
        "Volume and price",
        "Emergency and shortages",
        "Children and care leavers",
        "Sufficiency statement",
        "Sufficiency gaps",
        "Assumptions",
        "Notes",
    ]
    sheet = workbook["Summary"]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    rows = pd.DataFrame([[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)], columns=header)
    expected = csv[csv["breakdown"].isin(["total", "provision"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[expected.columns], expected, check_dtype=False, atol=0.01)
    mean_cell = sheet.cell(row=2, column=header.index("mean") + 1)
    assert isinstance(mean_cell.value, float) and "£" in mean_cell.number_format
    assumptions = [[c.value for c in row] for row in workbook["Assumptions"].iter_rows(min_row=2)]
    assert any(row[0] == "ifa" and row[2] == 800 for row in assumptions)
