"""Paired comparisons and capacity sizing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.compare import MEASURE_LABELS, _change, compare, paired_differences
from sim.analysis.sizing import capacity_in_window, share_placed, sizing_curve
from sim.engine.scenario_files import load_scenario
from sim.results.runner import run
from tests.builders import build, one_pool_scenario
from tests.test_fallbacks_by_year import MARKET_TOML

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"


def test_a_scenario_compared_with_itself_differs_by_exactly_zero() -> None:
    scenario = load_scenario(PRICED)
    comparison = compare(scenario, [scenario], replications=4)
    differences = comparison.differences
    assert len(differences) > 10
    assert (differences["difference"] == 0).all()
    assert (differences["ci95_low"] == 0).all() and (differences["ci95_high"] == 0).all()


def test_adding_capacity_never_increases_the_gap_in_any_replication() -> None:
    """Conditions: one finite pool, one placement need, no step-back, no Staying Put, no recruitment; the
    same children (common random numbers) in both runs."""
    small = build(one_pool_scenario(rate_per_year=30, capacity=8, years=6))
    large = build(one_pool_scenario(rate_per_year=30, capacity=11, years=6))
    replications = 20
    base = run(small, replications).run_summary.yearly_measures
    bigger = run(large, replications).run_summary.yearly_measures
    for measure in ("gap_child_days_total", "placed_externally"):
        a = (
            base[base["measure"] == measure]
            .groupby("replication")["value"]
            .sum()
            .reindex(range(replications), fill_value=0)
        )
        b = (
            bigger[bigger["measure"] == measure]
            .groupby("replication")["value"]
            .sum()
            .reindex(range(replications), fill_value=0)
        )
        assert (b.to_numpy() <= a.to_numpy() + 1e-9).all(), measure
        assert (b.to_numpy() < a.to_numpy()).any(), measure


def test_paired_differences_of_a_known_shift() -> None:
    base = pd.DataFrame(
        {
            "replication": [0, 1, 2],
            "financial_year": "2020-21",
            "measure": "m",
            "category": "all",
            "value": [1.0, 2.0, 3.0],
        }
    )
    shifted = base.assign(value=base["value"] + 5.0)
    row = paired_differences(base, shifted, 3).iloc[0]
    assert row["difference"] == pytest.approx(5.0)
    assert row["ci95_low"] == pytest.approx(5.0) and row["ci95_high"] == pytest.approx(5.0)  # no spread


def test_sizing_curve_agrees_with_direct_runs_at_two_capacities() -> None:
    scenario = build(
        one_pool_scenario(
            rate_per_year=40,
            capacity=10,
            years=12,
            band="under1",
            stay={"distribution": "lognormal", "mean": 120, "sd": 150},
        )
    )
    curve = sizing_curve(scenario, "inhouse", replications=30)
    for capacity in (9, 14):
        _, low, high = share_placed(scenario, "inhouse", capacity, replications=30)
        assert low <= curve.share_placed[capacity] <= high, (capacity, curve.share_placed[capacity], low, high)
    assert curve.places_needed(0.95) > curve.places_needed(0.80)


def test_sizing_reads_capacity_where_the_window_opens() -> None:
    """Dated openings and closures up to mid-horizon count; later ones and unlimited pools do not."""
    raw = one_pool_scenario(capacity=10, years=10)  # horizon 2020-04-01 to 2030-04-01, window opens in 2025
    raw["pools"]["inhouse"]["capacity_changes"] = [
        {"date": dt.date(2021, 1, 1), "change": 4},
        {"date": dt.date(2024, 6, 1), "change": -1},
        {"date": dt.date(2027, 1, 1), "change": 5},
    ]
    scenario = build(raw)
    assert capacity_in_window(scenario, "inhouse") == 13
    assert capacity_in_window(scenario, "external") == 0


def test_summary_sentence_numbers_equal_the_table() -> None:
    base = load_scenario(PRICED)
    bigger = base.model_copy(
        update={"pools": {**base.pools, "homes": base.pools["homes"].model_copy(update={"capacity": 4})}}
    )
    bigger = bigger.model_copy(update={"name": "more homes", "description": "Two more beds"})
    comparison = compare(base, [bigger], replications=6)
    sentence = comparison.summaries["more homes"]
    rows = comparison.medium_term
    rows = rows[rows["category"] == "all"].set_index("measure")  # the medium term the sentence describes
    assert f"over the {rows['n_years'].iloc[0]} financial years {rows['years'].iloc[0]}" in sentence
    for measure, words in (
        ("placed_in_house", "children placed in-house \\(placements started\\)"),
        ("in_house_at_a_time", "children at a time in-house"),
    ):
        placed = rows.loc[measure]
        match = re.search(rf"([\d.]+) (more|fewer) \(([-\d.]+) to ([-\d.]+)\) {words}", sentence)
        assert match, sentence
        sign = 1 if match.group(2) == "more" else -1
        assert sign * float(match.group(1)) == pytest.approx(placed["difference"], abs=0.05)
        low, high = sorted(sign * np.array([float(match.group(3)), float(match.group(4))]))
        assert (low, high) == pytest.approx((placed["ci95_low"], placed["ci95_high"]), abs=0.05)
    money = re.search(r"(net cost|net saving) £([\d.]+)([mk]) \(([-\d.]+) to ([-\d.]+)\)", sentence)
    assert money, sentence
    total = rows.loc["spend_total"]
    sign = 1 if money.group(1) == "net cost" else -1
    scale = 1e6 if money.group(3) == "m" else 1e3
    assert sign * float(money.group(2)) * scale == pytest.approx(total["difference"], abs=scale / 200)


def test_the_sentence_names_each_gap_figure_and_every_measure_has_words(tmp_path: Path) -> None:
    """Not sufficient and placed externally (right kind) each with its own number from the table, never a sum of
    both called 'the gap'; every measure a comparison holds is worded (no stale or raw name in a table)."""
    path = tmp_path / "market.toml"
    path.write_text(MARKET_TOML, encoding="utf-8")
    base = load_scenario(path)
    ifa = base.pools["ifa"].model_copy(update={"capacity": 20})
    more = base.model_copy(update={"name": "more agency places", "pools": {**base.pools, "ifa": ifa}})
    comparison = compare(base, [more], replications=4)
    sentence = comparison.summaries["more agency places"]
    rows = comparison.medium_term
    rows = rows[rows["category"] == "all"].set_index("measure")
    for measure, words in (
        ("not_sufficient_child_days_total", "child-days not sufficient"),
        ("placed_externally_child_days_total", "child-days placed externally of the right kind"),
    ):
        match = re.search(rf"([\d.]+) (more|fewer) \(([-\d.]+) to ([-\d.]+)\) {words}", sentence)
        assert match, sentence
        sign = 1 if match.group(2) == "more" else -1
        assert sign * float(match.group(1)) == pytest.approx(rows.loc[measure, "difference"], abs=0.05)
    assert "sufficiency gap" not in sentence
    assert set(comparison.differences["measure"]) <= set(MEASURE_LABELS)
    assert "emergency_placements" not in MEASURE_LABELS


def test_a_gap_figure_neither_run_has_is_said_to_be_none() -> None:
    base = load_scenario(PRICED)  # unlimited external pools of the right kind: nothing is ever not sufficient
    comparison = compare(base, [base.model_copy(update={"name": "same"})], replications=2)
    assert "child-days not sufficient: none in either" in comparison.summaries["same"]


@pytest.mark.parametrize(
    ("difference", "expected"),
    [
        ((-708_774.0, -762_227.0, -655_320.0), "external spend down £0.71m (0.66 to 0.76)"),
        ((3_240.0, 1_010.0, 5_470.0), "external spend up £3.2k (1.0 to 5.5)"),
        ((0.0, 0.0, 0.0), "external spend unchanged"),
    ],
)
def test_money_in_the_summary_reads_at_its_size(difference: tuple[float, float, float], expected: str) -> None:
    row = pd.Series(dict(zip(["difference", "ci95_low", "ci95_high"], difference, strict=True)))
    assert _change(row, "up", "down", "external spend", money=True) == expected
