"""Backcast a published-data calibration: fit at an earlier snapshot, compare with later published figures.

The simulated band is the P10-P90 spread across replications (risk), the right yardstick for a single
observed year; a figure outside it is reported, with the reason where the documents suggest one. The naive
forecast carries each measure's figure on the origin date forward: the published figure the calibration
took for that date (interpolated between the figures either side where none falls on it, as the fit does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.authorities import AUTHORITIES
from calibration.backtest_result import Backtest, compare_figure, write_backtest
from calibration.backtest_targets import Observed
from calibration.fit import Targets
from calibration.published import calibrated_scenario
from sim.results.runner import run


def backtest(authority: str, replications: int, seed: int | None = None, jobs: int = 1) -> Backtest:
    spec = AUTHORITIES[authority]
    scenario = calibrated_scenario(authority, spec.backtest_origin)
    dates = sorted({o.date for o in spec.observations})
    horizon_years = max(1, int(np.ceil((dates[-1] - spec.backtest_origin).days / 365.25)))
    scenario = scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": horizon_years})})
    stock = run(scenario, replications, seed=seed, jobs=jobs).tables["stock"]
    origin_targets = spec.targets(spec.backtest_origin)
    compared = tuple(
        compare_figure(
            observation.label,
            observation.date,
            observation.value,
            _stock_on(stock, observation, replications),
            _on_origin(origin_targets, observation.pools),
            observation.source,
        )
        for observation in spec.observations
    )
    measures = {(o.label, o.pools) for o in spec.observations}
    forecast = pd.concat([_forecast(stock, label, pools, replications) for label, pools in measures])
    return Backtest(spec.display_name, scenario.horizon.start, replications, compared, forecast)


def write_published_backtest(result: Backtest, out_dir: Path, authority: str) -> list[Path]:
    """`backtest_<authority>.csv` and `.png` in `out_dir`, which is replaced whole."""
    return write_backtest(result, out_dir, f"backtest_{authority}.csv", f"backtest_{authority}.png")


def _stock_on(stock: pd.DataFrame, observation: Observed, replications: int) -> np.ndarray:
    """Children in care (in the observation's pools) at 00:00 on the day after the observed date, per replication."""
    day = pd.Timestamp(observation.date + dt.timedelta(days=1))
    snapshots = stock["date"].unique()
    nearest = snapshots[np.argmin(np.abs(snapshots - day.to_datetime64()))]
    frame = stock[stock["date"] == nearest]
    if observation.pools is not None:
        frame = frame[frame["pool"].isin(observation.pools)]
    totals = frame.groupby("replication")["children"].sum()
    return totals.reindex(range(replications), fill_value=0).to_numpy(dtype=float)


def _on_origin(targets: Targets, pools: tuple[str, ...] | None) -> float:
    """The measure's published figure on the origin date (children in care, or placed in `pools`).

    A pool the targets place nobody in (the emergency beds start empty) counts none.
    """
    if pools is None:
        return targets.stock.value
    return float(sum(targets.placements[pool].value for pool in pools if pool in targets.placements))


def _forecast(stock: pd.DataFrame, label: str, pools: tuple[str, ...] | None, replications: int) -> pd.DataFrame:
    """The measure's mean and P10-P90 across replications on every snapshot date."""
    frame = stock if pools is None else stock[stock["pool"].isin(pools)]
    wide = frame.groupby(["date", "replication"])["children"].sum().unstack(fill_value=0)
    wide = wide.reindex(columns=range(replications), fill_value=0)
    return pd.DataFrame(
        {
            "measure": label,
            "date": wide.index,
            "mean": wide.mean(axis=1).to_numpy(),
            "low": wide.quantile(0.1, axis=1).to_numpy(),
            "high": wide.quantile(0.9, axis=1).to_numpy(),
        }
    )
