"""`sufficiency backtest --ssda903 DIR --origin DATE --horizon MONTHS`: how far to trust an SSDA903 calibration.

Calibrates on what the returns showed on the origin date (later events are censored), forecasts from the
children in care on that date, and compares each month's observed stock by placement need with the
simulated band, next to a naive forecast that holds the origin's stock flat.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calibration.ssda903.calibrate import build_scenario, calibrate
from calibration.ssda903.estimate import stock_on
from calibration.ssda903.reader import read_ssda903
from sim.present.output_folders import replaced_folder
from sim.results.runner import run


def backtest_ssda903(
    folder: Path,
    origin: dt.date,
    horizon_months: int,
    replications: int,
    la: str | None = None,
    window_years: int = 3,
    jobs: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """Per-need coverage and errors, the monthly comparison, and a figure."""
    history = read_ssda903(folder, la=la)
    end = min(pd.Timestamp(origin) + pd.DateOffset(months=horizon_months), pd.Timestamp(history.extract_date))
    if end <= pd.Timestamp(origin):
        raise ValueError(f"the returns end on {history.extract_date}: nothing to compare after the origin {origin}")
    scenario = build_scenario(calibrate(history, origin, window_years), "backtest")
    years = max(1, int(np.ceil((end - pd.Timestamp(origin)).days / 365.25)))
    scenario = scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": years})})
    stock = run(scenario, replications, jobs=jobs).tables["stock"]
    months = [d for d in pd.date_range(pd.Timestamp(origin), end, freq="MS") if d > pd.Timestamp(origin)]
    comparison = _compare(history, stock, months, replications, origin)
    return _summary(comparison), comparison, _figure(comparison, origin, replications)


def _compare(history, stock: pd.DataFrame, months, replications: int, origin: dt.date) -> pd.DataFrame:
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
            p5, p10, p90, p95 = np.percentile(values, [5, 10, 90, 95])
            rows.append(
                {
                    "month": month,
                    "need": need,
                    "observed": int(observed.get(need, 0)),
                    "mean": values.mean(),
                    "p5": p5,
                    "p10": p10,
                    "p90": p90,
                    "p95": p95,
                    "naive": int(start.get(need, 0)),
                }
            )
    return pd.DataFrame(rows)


def _summary(comparison: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for need, group in comparison.groupby("need"):
        observed = group["observed"].to_numpy(dtype=float)
        positive = observed > 0
        rows.append(
            {
                "need": need,
                "months": len(group),
                "inside_p10_p90": float(np.mean((group["p10"] <= observed) & (observed <= group["p90"]))),
                "inside_p5_p95": float(np.mean((group["p5"] <= observed) & (observed <= group["p95"]))),
                "mape_model": _mape(group["mean"].to_numpy()[positive], observed[positive]),
                "mape_naive": _mape(group["naive"].to_numpy(dtype=float)[positive], observed[positive]),
            }
        )
    return pd.DataFrame(rows)


def _mape(forecast: np.ndarray, observed: np.ndarray) -> float:
    return float(np.mean(np.abs(forecast - observed) / observed) * 100) if len(observed) else float("nan")


def _figure(comparison: pd.DataFrame, origin: dt.date, replications: int):
    needs = list(comparison.groupby("need")["observed"].max().sort_values(ascending=False).index[:6])
    columns = min(3, len(needs))
    rows = -(-len(needs) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.ravel()[len(needs) :]:
        axis.set_visible(False)
    for axis, need in zip(axes.ravel(), needs, strict=False):
        group = comparison[comparison["need"] == need]
        axis.fill_between(
            group["month"], group["p10"], group["p90"], color="#88CCEE", alpha=0.6, label="simulated P10-P90"
        )
        axis.plot(group["month"], group["mean"], color="#332288", label="simulated mean")
        axis.plot(group["month"], group["naive"], color="#999933", linestyle="--", label="naive (held flat)")
        axis.scatter(group["month"], group["observed"], color="#CC6677", s=10, zorder=3, label="observed")
        axis.set_title(need.replace("_", " "), fontsize=9)
        axis.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes[0][0].legend(fontsize=7)
    figure.suptitle(f"Backcast from {origin} ({replications} replications; band = P10-P90 across them)", fontsize=10)
    figure.tight_layout()
    return figure


def write_backtest(summary: pd.DataFrame, comparison: pd.DataFrame, figure, out_dir: Path) -> list[Path]:
    """The summary, monthly table and plot in `out_dir`, which is replaced whole (see sim.present.output_folders)."""
    out_dir = Path(out_dir)
    names = ["backtest_summary.csv", "backtest_monthly.csv", "backtest.png"]
    try:
        with replaced_folder(out_dir, "backtest") as staging:
            summary.to_csv(staging / names[0], index=False, float_format="%.3f")
            comparison.to_csv(staging / names[1], index=False, float_format="%.2f")
            figure.savefig(staging / names[2], dpi=100)
    finally:
        plt.close(figure)
    return [out_dir / name for name in names]
