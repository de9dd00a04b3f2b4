"""`sufficiency backtest --ssda903 DIR --origin DATE --horizon MONTHS`: how far to trust an SSDA903 calibration.

Calibrates on what the returns showed on the origin date (later events are censored), forecasts from the
children in care on that date, and compares each month's observed stock by placement need with the
simulated bands (P10-P90 and P5-P95), next to a naive forecast that holds the origin's stock flat.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.backtest_result import Backtest, Compared, compare_figure, write_backtest
from calibration.ssda903.calibrate import build_scenario, calibrate, read_chosen
from calibration.ssda903.estimate import stock_on
from calibration.ssda903.filters import EVERYONE, Population
from calibration.ssda903.reader import CareHistory
from sim.results.runner import run

WIDER = ((5, 95),)


def backtest_ssda903(
    folder: Path,
    origin: dt.date,
    horizon_months: int,
    replications: int,
    la: str | None = None,
    window_years: int = 3,
    jobs: int = 1,
    *,
    reference_start: dt.date | None = None,
    reference_end: dt.date | None = None,
    short_breaks: str = "exclude",
    population: Population = EVERYONE,
) -> Backtest:
    """Each month's stock by need against the forecast from the calibration on `origin` (its reference period
    ends on the origin unless `reference_end` is earlier)."""
    history = read_chosen(folder, la, short_breaks, population)
    end = min(pd.Timestamp(origin) + pd.DateOffset(months=horizon_months), pd.Timestamp(history.extract_date))
    if end <= pd.Timestamp(origin):
        raise ValueError(f"the returns end on {history.extract_date}: nothing to compare after the origin {origin}")
    fitted = calibrate(history, origin, window_years, reference_start=reference_start, reference_end=reference_end)
    scenario = build_scenario(fitted, "backtest")
    years = max(1, int(np.ceil((end - pd.Timestamp(origin)).days / 365.25)))
    scenario = scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": years})})
    stock = run(scenario, replications, jobs=jobs).tables["stock"]
    months = [d for d in pd.date_range(pd.Timestamp(origin), end, freq="MS") if d > pd.Timestamp(origin)]
    compared = _compare(history, stock, months, replications, origin)
    forecast = pd.DataFrame(
        {
            "measure": [row.measure for row in compared],
            "date": pd.to_datetime([row.date for row in compared]),
            "mean": [row.mean for row in compared],
            "low": [row.band.low for row in compared],
            "high": [row.band.high for row in compared],
        }
    )
    return Backtest("SSDA903", origin, replications, compared, forecast, measure_heading="need", date_heading="month")


def write_ssda903_backtest(result: Backtest, out_dir: Path) -> list[Path]:
    """`backtest_summary.csv`, `backtest_monthly.csv` and `backtest.png` in `out_dir`, which is replaced whole."""
    return write_backtest(result, out_dir, "backtest_monthly.csv", "backtest.png", "backtest_summary.csv")


def _compare(
    history: CareHistory, stock: pd.DataFrame, months: list[pd.Timestamp], replications: int, origin: dt.date
) -> tuple[Compared, ...]:
    """Every month and need; the naive forecast is the need's children in care on the origin date."""
    simulated = stock.groupby(["date", "need", "replication"])["children"].sum()
    needs = sorted(set(stock["need"]))
    start = stock_on(history, origin)["need"].value_counts()
    rows = []
    for month in months:
        observed = stock_on(history, month.date())["need"].value_counts()
        for need in needs:
            values = simulated.get((month, need), pd.Series(dtype=float))
            values = (
                values.reindex(range(replications), fill_value=0).to_numpy(dtype=float)
                if len(values)
                else np.zeros(replications)
            )
            naive = int(start.get(need, 0))
            rows.append(compare_figure(need, month.date(), int(observed.get(need, 0)), values, naive, wider=WIDER))
    return tuple(rows)
