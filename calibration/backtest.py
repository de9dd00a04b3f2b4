"""Backcast a published-data calibration: fit at an earlier snapshot, compare with later published figures.

The simulated band is the P10-P90 spread across replications (risk), the right yardstick for a single
observed year; a figure outside it is reported, with the reason where the documents suggest one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calibration.authorities import AUTHORITIES
from calibration.backtest_targets import Observed
from calibration.published import calibrated_scenario
from sim.present.output_folders import replaced_folder
from sim.results.runner import run


def backtest(authority: str, replications: int, seed: int | None = None, jobs: int = 1) -> tuple[pd.DataFrame, object]:
    spec = AUTHORITIES[authority]
    scenario = calibrated_scenario(authority, spec.backtest_origin)
    dates = sorted({o.date for o in spec.observations})
    horizon_years = max(1, int(np.ceil((dates[-1] - spec.backtest_origin).days / 365.25)))
    scenario = scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": horizon_years})})
    result = run(scenario, replications, seed=seed, jobs=jobs)
    stock = result.tables["stock"]
    rows = []
    for observation in spec.observations:
        values = _stock_on(stock, observation, scenario.horizon.start, replications)
        p10, p90 = np.percentile(values, [10, 90])
        rows.append(
            {
                "date": observation.date,
                "measure": observation.label,
                "observed": observation.value,
                "simulated_mean": float(np.mean(values)),
                "p10": float(p10),
                "p90": float(p90),
                "inside": bool(p10 <= observation.value <= p90),
                "source": observation.source,
            }
        )
    return pd.DataFrame(rows), _figure(spec.display_name, stock, spec, scenario.horizon.start, replications)


def _stock_on(stock: pd.DataFrame, observation: Observed, start: dt.date, replications: int) -> np.ndarray:
    """Children in care (in the observation's pools) at 00:00 on the day after the observed date, per replication."""
    day = pd.Timestamp(observation.date + dt.timedelta(days=1))
    snapshots = stock["date"].unique()
    nearest = snapshots[np.argmin(np.abs(snapshots - day.to_datetime64()))]
    frame = stock[stock["date"] == nearest]
    if observation.pools is not None:
        frame = frame[frame["pool"].isin(observation.pools)]
    totals = frame.groupby("replication")["children"].sum()
    return totals.reindex(range(replications), fill_value=0).to_numpy(dtype=float)


def _figure(title: str, stock: pd.DataFrame, spec, start: dt.date, replications: int):
    groups = [("All children in care", None)] + [
        (label, pools) for label, pools in {(o.label, o.pools) for o in spec.observations if o.pools is not None}
    ]
    groups = sorted(groups, key=lambda g: (g[1] is not None, g[0]))
    columns = min(3, len(groups))
    rows = -(-len(groups) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    for axis in axes.ravel()[len(groups) :]:
        axis.set_visible(False)
    for axis, (label, pools) in zip(axes.ravel(), groups, strict=False):
        frame = stock if pools is None else stock[stock["pool"].isin(pools)]
        wide = frame.groupby(["date", "replication"])["children"].sum().unstack(fill_value=0)
        wide = wide.reindex(columns=range(replications), fill_value=0)
        axis.fill_between(
            wide.index,
            wide.quantile(0.1, axis=1),
            wide.quantile(0.9, axis=1),
            color="#88CCEE",
            alpha=0.6,
            label="simulated P10-P90",
        )
        axis.plot(wide.index, wide.mean(axis=1), color="#332288", label="simulated mean")
        points = [o for o in spec.observations if o.pools == pools]
        axis.scatter(
            [pd.Timestamp(o.date) for o in points],
            [o.value for o in points],
            color="#CC6677",
            zorder=3,
            label="published",
        )
        axis.set_title(label if pools is None else f"{label}", fontsize=10)
        axis.tick_params(axis="x", labelrotation=45, labelsize=8)
        axis.set_ylim(bottom=0)
    axes[0][0].legend(fontsize=8, loc="lower left")
    figure.suptitle(
        f"{title}: backcast from {start} ({replications} replications; band = P10-P90 across them)", fontsize=11
    )
    figure.tight_layout()
    return figure


def write_backtest(table: pd.DataFrame, figure, out_dir: Path, authority: str) -> list[Path]:
    """The table and plot in `out_dir`, which is replaced whole (see sim.present.output_folders)."""
    out_dir = Path(out_dir)
    names = [f"backtest_{authority}.csv", f"backtest_{authority}.png"]
    try:
        with replaced_folder(out_dir, "backtest") as staging:
            table.to_csv(staging / names[0], index=False, float_format="%.1f")
            figure.savefig(staging / names[1], dpi=110)
    finally:
        plt.close(figure)
    return [out_dir / name for name in names]


def format_table(table: pd.DataFrame) -> str:
    shown = table.drop(columns=["source"]).copy()
    shown["inside"] = np.where(shown["inside"], "yes", "NO")
    return shown.to_string(index=False, float_format=lambda v: f"{v:.1f}")
