"""Both backtests: one result shape carrying the naive forecast, one writer; and no import switches the backend."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.authorities import AUTHORITIES
from calibration.backtest import backtest
from calibration.backtest_result import Backtest, Compared, summary
from calibration.ssda903.backtest import backtest_ssda903, write_ssda903_backtest
from calibration.ssda903.estimate import stock_on
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from tests.builders import build, one_pool_scenario

ROOT = Path(__file__).resolve().parent.parent
CHARTING = (
    "calibration.backtest",
    "calibration.backtest_result",
    "calibration.ssda903.backtest",
    "calibration.ssda903.calibrate",
    "calibration.ssda903.report",
    "sim.present.style",
)
ORIGIN = dt.date(2018, 4, 1)


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_importing_the_calibration_keeps_the_backend_a_notebook_chose(backend: str) -> None:
    code = (
        "import importlib, sys, matplotlib\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"
    )
    env = {**os.environ, "MPLBACKEND": backend}
    done = subprocess.run(
        [sys.executable, "-c", code, *CHARTING], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [backend, "False"]  # the backend unchanged, and no pyplot state made


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic returns, years to March 2015-2020, of children aged 5-9 at entry staying about 300 days."""
    raw = one_pool_scenario(rate_per_year=150.0, capacity=40, years=8)
    raw["horizon"]["start"] = dt.date(2012, 4, 1)
    folder = tmp_path_factory.mktemp("returns")
    write_synthetic_ssda903(build(raw), folder, seed=5, first_year=2015)
    return folder


def _consistent(result: Backtest) -> None:
    """Every compared figure is the one shape, its error, inside and naive error derived from its own values."""
    assert result.compared and all(type(row) is Compared for row in result.compared)
    for row in result.compared:
        assert row.band.label == "P10-P90" and row.band.low <= row.mean <= row.band.high
        assert row.inside == (row.band.low <= row.observed <= row.band.high)
        assert row.error == row.mean - row.observed and row.naive_error == row.naive - row.observed


def test_published_backtest_naive_forecast_is_the_figure_on_each_origin_date() -> None:
    result = backtest("stockport", replications=3)
    _consistent(result)
    assert sorted({row.origin for row in result.compared}) == [dt.date(2016, 3, 31), dt.date(2017, 3, 31)]
    for origin, stock, secure in ((dt.date(2016, 3, 31), 295, 1), (dt.date(2017, 3, 31), 331, 1)):
        known = AUTHORITIES["stockport"].targets(origin)
        naive = {row.measure: row.naive for row in result.compared if row.origin == origin}
        assert naive["children in care"] == known.stock.value == stock
        own = known.placements["inhouse_fostering"].value + known.placements["kinship"].value
        assert naive["own foster carers (incl. kinship)"] == own
        external = known.placements["external_homes"].value + secure  # emergency beds start empty
        assert naive["external homes and secure"] == external
    flat = [one for row in result.compared for one in row.comparators if one.name == "flat"]
    assert [one.point for one in flat] == [row.naive for row in result.compared]


def test_ssda903_backtest_naive_forecast_is_the_stock_on_the_origin_date(returns: Path, tmp_path: Path) -> None:
    result = backtest_ssda903(returns, ORIGIN, horizon_months=6, replications=3)
    _consistent(result)
    on_origin = stock_on(read_ssda903(returns), ORIGIN)["need"].value_counts()
    assert on_origin.sum() > 50
    assert all(row.naive == on_origin.get(row.measure, 0) for row in result.compared)
    assert {row.date for row in result.compared} == {dt.date(2018, month, 1) for month in range(5, 11)}
    assert [band.label for band in result.compared[0].bands] == ["P10-P90", "P5-P95"]
    fostering = [row for row in result.compared if row.measure == "fostering" and row.observed > 0]
    by_hand = np.mean([abs(row.naive - row.observed) / row.observed for row in fostering]) * 100
    totals = summary(result).set_index("need").loc["fostering"]
    assert totals["months"] == 6 and totals["mape_naive"] == pytest.approx(by_hand)

    paths = write_ssda903_backtest(result, tmp_path / "backtest")
    assert [path.name for path in paths] == ["backtest_summary.csv", "backtest_monthly.csv", "backtest.png"]
    monthly = pd.read_csv(paths[1])
    assert list(monthly.columns) == [
        *("month", "need", "observed", "simulated_mean", "p5", "p10", "p90", "p95"),
        *("naive", "error", "naive_error", "inside", "source"),
    ]
    assert monthly["naive"].tolist() == [row.naive for row in result.compared]
