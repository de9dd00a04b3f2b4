"""Rolling backcasts of a published-data calibration: fit at every published stock date that has later figures,
simulate forward to the last of them, and score every later published figure against the model and two
comparators.

The simulated bands are the P10-P90 and P5-P95 spreads across replications (risk), the right yardstick for a
single observed figure; a figure outside them is reported, with the reason where the documents suggest one.

The comparators see what the calibration saw: on each published stock date up to the origin, the figure the
calibration took for that date (interpolated between the figures either side where none falls on it, as the
fit does), and any figure of the measure published on another date up to the origin. "Flat" holds the
origin's figure (the `naive` column); "trend" is the least-squares line through all of them, flat where there
is only one. Their intervals are Poisson-style (calibration.scores.poisson_band; decision 0006).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from calibration import scores
from calibration.authorities import AUTHORITIES, Authority
from calibration.backtest_result import (
    Backtest,
    Compared,
    comparator,
    compare_figure,
    format_score_frame,
    scores_table,
    write_backtest,
)
from calibration.backtest_targets import Observed
from calibration.published import calibrated_scenario
from calibration.published_data import CalibrationDataError
from sim.results.runner import run

WIDER = ((5, 95),)
Measure = tuple[str, tuple[str, ...] | None]  # (label, pools) of an Observed
History = list[tuple[dt.date, float]]  # a measure's figures known by an origin, in date order
NO_TREND = "flat: fewer than two published figures of this measure by the origin"


def backtest(authority: str, replications: int, seed: int | None = None, jobs: int = 1) -> Backtest:
    """Every origin's forecast of every later published figure, with the flat and trend comparators."""
    spec = _authority(authority)
    origins = rolling_origins(spec)
    parts = [_from_origin(authority, spec, origin, replications, seed, jobs) for origin in origins]
    compared = tuple(row for rows, _, _ in parts for row in rows)
    forecast = pd.concat([frame for _, frame, _ in parts], ignore_index=True)
    bands = "; ".join(dict.fromkeys(source for _, _, source in parts))
    return Backtest(spec.display_name, origins[0], replications, compared, forecast, band_source=bands)


def rolling_origins(spec: Authority) -> list[dt.date]:
    """The published stock dates with at least one published figure after them."""
    origins = [day for day in spec.stock_dates if any(o.date > day for o in spec.observations)]
    if not origins:
        raise CalibrationDataError(f"{spec.display_name}: no published figure falls after a published stock date")
    return origins


def write_published_backtest(result: Backtest, out_dir: Path, authority: str) -> list[Path]:
    """`backtest_<authority>.csv` and `.png` (each figure), and `backtest_scores_<authority>.csv` and `.png`,
    in `out_dir`, which is replaced whole."""
    scores_names = (f"backtest_scores_{authority}.csv", f"backtest_scores_{authority}.png")
    return write_backtest(result, out_dir, f"backtest_{authority}.csv", f"backtest_{authority}.png", None, scores_names)


def _authority(name: str) -> Authority:
    if name not in AUTHORITIES:
        raise CalibrationDataError(f"unknown authority '{name}'; expected one of: {', '.join(AUTHORITIES)}")
    return AUTHORITIES[name]


def _from_origin(
    authority: str, spec: Authority, origin: dt.date, replications: int, seed: int | None, jobs: int
) -> tuple[list[Compared], pd.DataFrame, str]:
    """Calibrate at `origin`, simulate to the last later figure, and compare each later figure (and say what
    the bands hold)."""
    later = [o for o in spec.observations if o.date > origin]
    scenario = calibrated_scenario(authority, origin)
    horizon_years = max(1, int(np.ceil((max(o.date for o in later) - origin).days / 365.25)))
    scenario = scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": horizon_years})})
    result = run(scenario, replications, seed=seed, jobs=jobs)
    stock = result.tables["stock"]
    measures = list(dict.fromkeys((o.label, o.pools) for o in later))
    calibrated = {day: spec.targets(day) for day in spec.stock_dates if day <= origin}
    known = {measure: _history(spec, calibrated, origin, measure) for measure in measures}
    rows = [_compare(o, _stock_on(stock, o, replications), known[(o.label, o.pools)], origin) for o in later]
    forecast = pd.concat([_forecast(stock, m, replications, known[m], origin) for m in measures], ignore_index=True)
    return rows, forecast, result.run_summary.band_source


def _compare(observation: Observed, simulated: np.ndarray, history: History, origin: dt.date) -> Compared:
    flat = comparator("flat", scores.flat([value for _, value in history]))
    trend = comparator("trend", _trend(history, origin, observation.date), _trend_note(history))
    return compare_figure(
        observation.label,
        observation.date,
        observation.value,
        simulated,
        flat.point,
        observation.source,
        WIDER,
        origin,
        (flat, trend),
    )


def _history(spec: Authority, calibrated: dict, origin: dt.date, measure: Measure) -> History:
    """The measure's figures known on `origin`: the calibration's figure on each stock date up to it (`calibrated`
    holds the targets of those dates), and the published figures of the measure on other dates up to it."""
    _, pools = measure
    known = {day: _on_date(targets, pools) for day, targets in calibrated.items()}
    for o in spec.observations:
        if (o.label, o.pools) == measure and o.date <= origin and o.date not in known:
            known[o.date] = o.value
    return sorted(known.items())


def _on_date(targets, pools: tuple[str, ...] | None) -> float:
    """The measure's figure the calibration took for its date (children in care, or placed in `pools`).

    A pool the targets place nobody in (the emergency beds start empty) counts none.
    """
    if pools is None:
        return float(targets.stock.value)
    return float(sum(targets.placements[pool].value for pool in pools if pool in targets.placements))


def _trend(history: History, origin: dt.date, day: dt.date) -> float:
    days = [(known - origin).days for known, _ in history]
    return scores.trend(days, [value for _, value in history], (day - origin).days)


def _trend_note(history: History) -> str:
    return "" if scores.has_trend([day.toordinal() for day, _ in history]) else NO_TREND


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


def _forecast(
    stock: pd.DataFrame, measure: Measure, replications: int, history: History, origin: dt.date
) -> pd.DataFrame:
    """The measure's mean and P10-P90 across replications on every snapshot date, and its two comparators."""
    label, pools = measure
    frame = stock if pools is None else stock[stock["pool"].isin(pools)]
    wide = frame.groupby(["date", "replication"])["children"].sum().unstack(fill_value=0)
    wide = wide.reindex(columns=range(replications), fill_value=0)
    days = [pd.Timestamp(day).date() for day in wide.index]
    return pd.DataFrame(
        {
            "origin": origin,
            "measure": label,
            "date": wide.index,
            "mean": wide.mean(axis=1).to_numpy(),
            "low": wide.quantile(0.1, axis=1).to_numpy(),
            "high": wide.quantile(0.9, axis=1).to_numpy(),
            "flat": scores.flat([value for _, value in history]),
            "trend": [_trend(history, origin, day) for day in days],
        }
    )


def pooled_scores(paths: list[Path]) -> pd.DataFrame:
    """The scores over every figure of several written backtests (`backtest_<authority>.csv`), all origins."""
    return scores_table(pd.concat([pd.read_csv(path) for path in paths], ignore_index=True), per_origin=False)


if __name__ == "__main__":  # python -m calibration.backtest docs/calibration/backtest_*.csv: pooled scores
    pooled = pooled_scores([Path(arg) for arg in sys.argv[1:] if not Path(arg).name.startswith("backtest_scores_")])
    print(format_score_frame(pooled))
