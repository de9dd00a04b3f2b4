"""The `sufficiency` command end to end on the shipped Cheshire East scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "cheshire_east" / "baseline.toml"
TWO_HOMES = ROOT / "scenarios" / "cheshire_east" / "add_two_homes.toml"


def test_run_writes_every_output_and_prints_a_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "baseline"
    assert main(["run", str(BASELINE), "--replications", "3", "--seed", "5", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Children in care at the start and on each 31 March" in printed
    assert "Sufficiency gap per financial year" in printed
    metadata = json.loads((out / "run.json").read_text())
    assert metadata["seed"] == 5 and metadata["replications"] == 3
    assert metadata["scenario"]["name"] == "cheshire_east_baseline"
    for table in ("stock", "occupancy", "entries", "exits", "gaps", "placement_days", "households", "flows"):
        frame = pd.read_parquet(out / f"{table}.parquet")
        assert sorted(frame["replication"].unique()) == [0, 1, 2]
    summary = pd.read_csv(out / "summary.csv")
    assert {"measure", "period", "mean", "ci95_low", "ci95_high", "p10", "p50", "p90"} <= set(summary.columns)
    start = summary[(summary["measure"] == "children_in_care_at_start") & (summary["period"] == "2017-12-31")]
    assert start["mean"].sum() == 470  # the published December 2017 stock (002_834b48a4b269ace3.txt:L741)
    # the headline rows by financial year, as the budget: stock on each 31 March, flows in each year
    march = summary[(summary["measure"] == "children_in_care") & summary["need"].notna()]
    assert set(march["period"]) == {f"{year}-03-31" for year in range(2018, 2028)}
    assert set(march["financial_year"]) == {f"{year}-{str(year + 1)[-2:]}" for year in range(2017, 2027)}
    entries = summary[summary["measure"] == "entries"]
    assert list(entries["financial_year"]) == [f"{year}-{str(year + 1)[-2:]}" for year in range(2017, 2028)]
    assert list(entries["part_year"]) == [True, *[False] * 9, True]
    assert not list(tmp_path.glob(".baseline.*")), "staging directory left behind"
    budget = pd.read_csv(out / "budget.csv")
    assert {"total", "provision", "pool", "need", "average_weekly_cost"} <= set(budget["breakdown"])
    assert (out / "budget.xlsx").is_file()


def test_two_homes_what_if_places_more_children_in_house(tmp_path: Path) -> None:
    counts = {}
    for path in (BASELINE, TWO_HOMES):
        out = tmp_path / path.stem
        assert main(["run", str(path), "--replications", "4", "--out", str(out), "--quiet"]) == 0
        days = pd.read_parquet(out / "placement_days.parquet")
        counts[path.stem] = days.query("pool == 'inhouse_homes'")["days"].sum()
    assert counts["add_two_homes"] > counts["baseline"]


def test_validate_reports_ok(capsys) -> None:
    assert main(["validate", str(TWO_HOMES)]) == 0
    assert "OK" in capsys.readouterr().out


def test_compare_writes_a_report_with_charts_and_the_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "comparison"
    args = ["compare", str(BASELINE), str(TWO_HOMES), "--replications", "3", "--sizing-replications", "3"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "children placed in-house" in printed and "Report:" in printed
    report = (out / "report.html").read_text()
    assert report.count("<img") >= 6 and "data:image/png;base64," in report
    assert "Assumptions" in report and "seed 20160930" in report
    differences = pd.read_csv(out / "differences.csv")
    assert set(differences["what_if"]) == {"cheshire_east_add_two_homes"}
    assert (out / "charts" / "differences.svg").stat().st_size > 0
    assert (out / "summary.txt").read_text().strip() in printed
