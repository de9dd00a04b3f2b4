"""Headlines a decision can rest on (issue 19): children at a time, the medium-term money with its CI, one-off
costs and their payback year, the budget's chance of being overspent, and the volume/price bridge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.compare import NOT_REPAID, compare, medium_term_years, payback_year
from sim.cli import main
from sim.engine.scenario_files import load_scenario, load_scenario_text
from sim.results.runner import run

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"
# The priced test scenario over four years from 1 January: 2019-20 and 2023-24 are part years, three whole ones.
LONG = f"""
extends = "{PRICED.as_posix()}"
name = "priced_long"
[horizon]
start = 2020-01-01
years = 4
"""
ONE_OFF = """
[[one_off_costs]]
date = 2021-06-30
amount = 250000
pool = "homes"
note = "assumption: test"
"""
REPLICATIONS = 6


def _scenario(tmp_path: Path, *extra: str):
    path = tmp_path / "scenario.toml"
    path.write_text(LONG + "".join(extra), encoding="utf-8")
    return load_scenario(path)


def _more_homes(base):
    homes = base.pools["homes"].model_copy(update={"capacity": 4})
    return base.model_copy(
        update={"name": "more homes", "description": "Two more beds", "pools": {**base.pools, "homes": homes}}
    )


def test_medium_term_years_are_the_whole_years_after_the_part_year(tmp_path: Path) -> None:
    base = run(_scenario(tmp_path), 2).run_summary
    assert base.part_years == {"2019-20": True, "2020-21": False, "2021-22": False, "2022-23": False, "2023-24": True}
    assert medium_term_years(base) == ["2020-21", "2021-22", "2022-23"]
    assert medium_term_years(base, 2) == ["2020-21", "2021-22"]


def test_children_at_a_time_equal_the_mean_occupancy_difference_from_the_occupancy_table(tmp_path: Path) -> None:
    """Computed again from the runs' own occupancy tables: the counts on the first of each month of each whole
    year, summed over the in-house pools, averaged over the months, the replications and the years."""
    base = _scenario(tmp_path)
    bigger = _more_homes(base)
    comparison = compare(base, [bigger], replications=REPLICATIONS)
    years = medium_term_years(comparison.base)
    in_house = [name for name, pool in base.pools.items() if pool.in_house]

    def at_a_time(scenario, pools: list[str]) -> dict[str, float]:
        occupancy = run(scenario, REPLICATIONS, seed=base.seed).tables["occupancy"]
        dates = pd.to_datetime(occupancy["date"])
        by_year = {}
        for label in comparison.base.part_years:
            first = pd.Timestamp(int(label[:4]), 4, 1)
            months = [first + pd.DateOffset(months=k) for k in range(12)]
            months = [m for m in months if pd.Timestamp(base.horizon.start) <= m < pd.Timestamp(base.horizon.end)]
            rows = occupancy[dates.isin(months) & occupancy["pool"].isin(pools)]
            by_year[label] = rows["occupied"].sum() / len(months) / REPLICATIONS
        return by_year

    before, after = at_a_time(base, in_house), at_a_time(bigger, in_house)
    yearly = comparison.differences.set_index(["measure", "category", "financial_year"])["difference"]
    for label in comparison.base.part_years:
        assert yearly[("in_house_at_a_time", "all", label)] == pytest.approx(after[label] - before[label], abs=1e-9)
    homes_before, homes_after = at_a_time(base, ["homes"]), at_a_time(bigger, ["homes"])
    for label in years:
        expected = homes_after[label] - homes_before[label]
        assert yearly[("at_a_time_pool", "homes", label)] == pytest.approx(expected, abs=1e-9)
    medium = comparison.medium_term.set_index(["measure", "category"])
    expected = np.mean([after[label] - before[label] for label in years])
    assert medium.loc[("in_house_at_a_time", "all"), "difference"] == pytest.approx(expected, abs=1e-9)
    assert medium.loc[("in_house_at_a_time", "all"), "statistic"] == "mean over the years"
    sentence = comparison.summaries["more homes"]
    word = "more" if expected >= 0 else "fewer"
    assert f"{abs(expected):.1f} {word} (" in sentence and ") children at a time in-house" in sentence
    assert "placements started" in sentence  # both, each labelled
    assert "2019-20, a part year, left out" in sentence


def test_cumulative_money_is_the_sum_of_the_years_and_its_ci_comes_from_per_replication_sums(tmp_path: Path) -> None:
    base = _scenario(tmp_path)
    bigger = _more_homes(base)
    comparison = compare(base, [bigger], replications=REPLICATIONS)
    years = medium_term_years(comparison.base)
    rows = comparison.differences
    yearly = rows[(rows["measure"] == "spend_total") & rows["financial_year"].isin(years)]
    medium = comparison.medium_term.set_index(["measure", "category"]).loc[("spend_total", "all")]
    assert medium["difference"] == pytest.approx(yearly["difference"].sum(), rel=1e-12)
    assert (medium["years"], medium["n_years"]) == ("2020-21 to 2022-23", 3)

    def sums(summary) -> np.ndarray:
        measures = summary.yearly_measures
        kept = measures[(measures["measure"] == "spend_total") & measures["financial_year"].isin(years)]
        return kept.groupby("replication")["value"].sum().reindex(range(REPLICATIONS), fill_value=0).to_numpy()

    paired = sums(comparison.what_ifs[0]) - sums(comparison.base)
    half = stats.t.ppf(0.975, REPLICATIONS - 1) * paired.std(ddof=1) / np.sqrt(REPLICATIONS)
    assert medium["ci95_low"] == pytest.approx(paired.mean() - half, rel=1e-9)
    assert medium["ci95_high"] == pytest.approx(paired.mean() + half, rel=1e-9)
    added_halves = ((yearly["ci95_high"] - yearly["ci95_low"]) / 2).sum()
    assert half < added_halves  # the years' errors partly cancel: adding the CIs would overstate the interval
    assert "net cost" in comparison.summaries["more homes"] or "net saving" in comparison.summaries["more homes"]


def test_payback_year_of_constructed_cases() -> None:
    """By hand: a cost of 100 in the first year, then savings of 30, 50 and 30: cumulative 100, 70, 20, -10."""
    yearly = [("2017-18", 100.0, 100.0), ("2018-19", -30.0, 0.0), ("2019-20", -50.0, 0.0), ("2020-21", -30.0, 0.0)]
    assert payback_year(yearly) == "2020-21"
    assert payback_year(yearly[:3]) == NOT_REPAID
    # A saving before the one-off cost does not count as paying it back: cumulative -10, 40, 10, -5.
    later = [("a", -10.0, 0.0), ("b", 50.0, 50.0), ("c", -30.0, 0.0), ("d", -15.0, 0.0)]
    assert payback_year(later) == "d"
    assert payback_year([("a", -10.0, 0.0)]) == ""  # no one-off cost: no payback year
    assert payback_year([("a", 50.0, 60.0)]) == NOT_REPAID
    assert payback_year([("a", -5.0, 60.0)]) == "a"  # saves more than it costs in its own year


def test_a_one_off_cost_enters_the_spend_of_its_year_once_in_cash(tmp_path: Path) -> None:
    base = _scenario(tmp_path)
    with_cost = load_scenario_text(LONG.replace("priced_long", "with a cost") + ONE_OFF, tmp_path / "cost.toml")
    comparison = compare(base, [with_cost], replications=4)
    spend = comparison.differences[comparison.differences["measure"] == "spend_total"].set_index("financial_year")
    assert spend.loc["2021-22", "difference"] == pytest.approx(250_000.0)
    assert (spend.drop(index="2021-22")["difference"].abs() < 1e-6).all()  # nothing else changed
    budget = comparison.what_ifs[0].budget
    one_off = budget[(budget["breakdown"] == "component") & (budget["category"] == "one_off")]
    assert list(one_off["financial_year"]) == ["2021-22"]
    assert one_off[["mean", "p10", "p90"]].to_numpy().tolist() == [[250_000.0] * 3]  # not inflated, not drawn
    medium = comparison.medium_term.set_index(["measure", "category"])
    assert medium.loc[("spend_one_off", "all"), "difference"] == pytest.approx(250_000.0)
    assert medium.loc[("spend_total", "all"), "payback_year"] == NOT_REPAID
    assert "one-off costs not paid back within the horizon" in comparison.summaries["with a cost"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (ONE_OFF.replace("2021-06-30", "2025-01-01"), "one_off_costs[0].date: 2025-01-01 is outside the horizon"),
        (ONE_OFF.replace('pool = "homes"', 'pool = "nowhere"'), "one_off_costs[0].pool: pool 'nowhere' is not"),
        (ONE_OFF.replace('pool = "homes"', 'pool = "ifa"\nprovision = "in_house"'), "pool 'ifa' is external"),
        (ONE_OFF.replace('pool = "homes"\n', ""), "a one-off cost needs a pool or a provision"),
        ('[budget."2030-31"]\ntotal = 1000000\n', "budget.2030-31: the financial year 2030-31 is outside"),
        ('[budget."2020-22"]\ntotal = 1000000\n', "is not a financial year"),
        ('[budget."2020-21"]\nnote = "x"\n', "a budget year needs in_house, external or total"),
    ],
)
def test_bad_one_off_costs_and_budgets_are_refused_naming_the_key(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(LONG + extra, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    with pytest.raises(Exception, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        load_scenario(path)


def test_the_probability_of_overspend_is_the_share_of_replications_spending_more(tmp_path: Path) -> None:
    base = _scenario(tmp_path)
    replications = 8
    result = run(base, replications)
    spend = result.tables["spend"]
    year = spend[spend["financial_year"] == "2021-22"]
    totals = year.groupby("replication")["spend"].sum().reindex(range(replications), fill_value=0.0)
    external = year[~year["in_house"].astype(bool)].groupby("replication")["spend"].sum()
    external = external.reindex(range(replications), fill_value=0.0)
    total_budget, external_budget = float(np.median(totals)), float(external.max()) + 1.0
    budgeted = load_scenario_text(
        LONG + f'[budget."2021-22"]\ntotal = {total_budget}\nexternal = {external_budget}\n', tmp_path / "b.toml"
    )
    table = run(budgeted, replications).run_summary.overspend.set_index("provision")
    assert table.loc["total", "probability_over"] == pytest.approx(np.mean(totals.to_numpy() > total_budget))
    assert table.loc["total", "replications_over"] == int((totals > total_budget).sum())
    assert table.loc["total", "spend_mean"] == pytest.approx(totals.mean())
    assert table.loc["external", "probability_over"] == 0.0
    assert 0 < table.loc["total", "probability_over"] < 1


def test_the_bridge_splits_each_change_into_volume_and_price_by_hand(tmp_path: Path) -> None:
    """The ifa pool has one weekly price, £800, rising 3% each April: its spend per child-day is £800/7 x the
    year's price level, so from 2020-21 to 2021-22 the volume effect is the change in child-days at £800/7 and
    the price effect the later year's child-days at £800/7 x 3%."""
    summary = run(_scenario(tmp_path), 4).run_summary
    bridge = summary.spend_bridge
    row = bridge[(bridge["pool"] == "ifa") & (bridge["to_year"] == "2021-22")].iloc[0]
    level_from = 1.0  # 2020-21 is the price base year (base date 2020-04-01)
    daily = 800.0 / 7.0 * level_from
    assert row["volume"] == pytest.approx((row["child_days_to"] - row["child_days_from"]) * daily, rel=1e-9)
    assert row["price"] == pytest.approx(row["child_days_to"] * daily * 0.03, rel=1e-9)
    for _, line in bridge.iterrows():
        assert line["spend_to"] == pytest.approx(line["spend_from"] + line["volume"] + line["price"] + line["one_off"])
    total = bridge[(bridge["pool"] == "total") & (bridge["to_year"] == "2022-23")].iloc[0]
    spend = summary.spend_total.set_index("financial_year")["mean"]
    assert (total["spend_from"], total["spend_to"]) == pytest.approx((spend["2020-21"], spend["2022-23"]))
