"""With every pool unlimited, the simulated mean stock by need matches the expected-value projection.

Capacity is then the only thing the projection leaves out, so any difference beyond Monte Carlo
error points at the engine's event logic (or the projection's algebra).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from scipy import stats

from sim.analysis.projection import expected_stock
from sim.results.runner import run
from tests.builders import build, unlimited_rich

DATES = [dt.date(2020, 10, 1), dt.date(2022, 4, 1), dt.date(2025, 10, 1)]


def test_simulated_mean_stock_by_need_matches_the_expected_value_projection() -> None:
    scenario = build(unlimited_rich())
    replications = 60
    result = run(scenario, replications=replications, seed=17, jobs=2)
    simulated = result.summary("stock", ["date", "need"], "children")
    simulated = simulated[simulated["date"].isin(pd.to_datetime(DATES))]
    expected = expected_stock(scenario, DATES)
    compared = simulated.merge(expected, on=["date", "need"], how="outer").fillna({"mean": 0.0, "children": 0.0})
    assert len(compared) >= 3 * 5
    # Bonferroni: a 99% family-wise interval over every (date, need) compared.
    level = 1 - 0.01 / len(compared)
    width = stats.t.ppf(0.5 + level / 2, replications - 1) / stats.t.ppf(0.975, replications - 1)
    half = (compared["ci95_high"] - compared["mean"]).fillna(0.0) * width
    outside = compared[(compared["children"] - compared["mean"]).abs() > half + 1e-9]
    assert outside.empty, outside[["date", "need", "mean", "children", "ci95_low", "ci95_high"]].to_string()
    # ... and the comparison has teeth: the projection is not trivially inside a wide band.
    totals = compared.groupby("date")[["mean", "children"]].sum()
    assert ((totals["mean"] - totals["children"]).abs() / totals["children"] < 0.02).all()
