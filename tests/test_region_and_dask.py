"""Several authorities at once, and the same results wherever the batches run (one process, several, Dask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.analysis.region import REGION, run_region, scenario_set
from sim.cli import main
from sim.engine.parameters import DemandUncertainty, PriceUncertainty, Uncertainty
from sim.engine.scenario import ScenarioError
from sim.results.runner import run, run_many
from tests.builders import build, one_pool_scenario, rich_scenario

ROOT = Path(__file__).resolve().parent.parent
REGION_SET = ROOT / "scenarios" / "regions" / "cheshire_east_and_stockport"


def _assert_identical(a, b) -> None:
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        assert a.tables[name].equals(b.tables[name]), name


def test_one_process_several_processes_and_dask_local_give_identical_results() -> None:
    pytest.importorskip("distributed")
    uncertain = Uncertainty(  # parameter draws too: the same for any number of workers and on Dask
        demand=DemandUncertainty(entry_rate_sd_log=0.1, trend_sd_points=2.0, stay_scale_sd_log=0.2),
        prices=PriceUncertainty(level_sd_log=0.05, inflation_sd_points=1.0),
    )
    scenario = build(rich_scenario(years=3)).model_copy(update={"uncertainty": uncertain})
    local = run(scenario, 5, seed=11, jobs=1)
    _assert_identical(local, run(scenario, 5, seed=11, jobs=2))
    _assert_identical(local, run(scenario, 5, seed=11, jobs=2, dask="local"))


def test_scenarios_run_together_match_scenarios_run_alone() -> None:
    a, b = build(one_pool_scenario()), build(one_pool_scenario(capacity=3), seed=5)
    together = run_many([a, b], 4, jobs=2)
    _assert_identical(together[0], run(a, 4))
    _assert_identical(together[1], run(b, 4))


def test_region_total_is_the_sum_of_authorities_in_each_replication(tmp_path: Path) -> None:
    region = run_region(scenario_set([REGION_SET]), 4, jobs=2)
    assert region.authorities == ["cheshire_east", "stockport"]
    assert region.financial_years[0] == "2018-19" and region.financial_years[-1] == "2026-27"
    summary = region.summary
    for measure in ("children_in_care", "spend_external", "gap_child_days_total"):
        rows = summary[(summary["measure"] == measure) & (summary["financial_year"] == "2019-20")]
        by_authority = rows.set_index("authority")["mean"]
        assert by_authority[REGION] == pytest.approx(by_authority["cheshire_east"] + by_authority["stockport"])
        assert by_authority[REGION] > 0
    # a P90 of a sum is not the sum of P90s: the region's spread comes from summing replication by replication
    rows = summary[(summary["measure"] == "spend_total") & (summary["financial_year"] == "2019-20")]
    p90 = rows.set_index("authority")["p90"]
    assert p90[REGION] <= p90["cheshire_east"] + p90["stockport"] + 1e-6
    assert np.isfinite(rows["ci95_low"]).all()


def test_region_command_writes_totals_and_each_authority(tmp_path: Path, capsys) -> None:
    out = tmp_path / "region"
    assert main(["region", str(REGION_SET), "--replications", "2", "--out", str(out), "--quiet"]) == 0
    assert "region total" in capsys.readouterr().out
    assert (out / "region_summary.csv").stat().st_size > 0
    assert (out / "cheshire_east" / "stock.parquet").exists() and (out / "stockport" / "budget.csv").exists()


def test_a_scenario_set_needs_two_authorities_with_their_own_seeds(tmp_path: Path, capsys) -> None:
    with pytest.raises(ScenarioError, match="at least two"):
        scenario_set([REGION_SET / "stockport.toml"])
    twin = tmp_path / "twin.toml"
    twin.write_text(f'extends = "{ROOT / "scenarios" / "stockport" / "baseline.toml"}"\n')
    out = tmp_path / "out"
    args = ["region", str(REGION_SET / "stockport.toml"), str(twin), "--replications", "2", "--out", str(out)]
    assert main([*args, "--quiet"]) == 2
    assert "share a seed" in capsys.readouterr().err
    assert not out.exists()
