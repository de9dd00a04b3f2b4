"""The budget tables for finance: spend by financial year, in total, in-house against external, by pool and by
need, with the average weekly cost of each pool as a check against the price book.

Computed once per run by the summary layer (`RunSummary.budget`); budget.csv and the workbook
(`sim.present.workbook`) are written from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.results.costs import FinancialYears
from sim.results.tables import summarise

STATISTICS = ["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]
BUDGET_COLUMNS = ["financial_year", "breakdown", "category", "unit", *STATISTICS]


def budget_summary(spend: pd.DataFrame, replications: int, years: FinancialYears) -> pd.DataFrame:
    """Spend by financial year: total, in-house v external, by pool, by need; and weekly cost per pool."""
    if spend.empty:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    spend = spend.assign(all="total", provision=np.where(spend["in_house"].astype(bool), "in_house", "external"))
    parts = []
    for breakdown, column in (("total", "all"), ("provision", "provision"), ("pool", "pool"), ("need", "need")):
        frame = summarise(spend, ["financial_year", column], "spend", replications)
        parts.append(frame.rename(columns={column: "category"}).assign(breakdown=breakdown, unit="£"))
    parts.append(_weekly_cost(spend))
    order = {label: i for i, label in enumerate(years.labels)}
    summary = pd.concat(parts, ignore_index=True)[BUDGET_COLUMNS]
    return summary.sort_values(
        ["financial_year", "breakdown", "category"], key=lambda c: c.map(order) if c.name == "financial_year" else c
    ).reset_index(drop=True)


def _weekly_cost(spend: pd.DataFrame) -> pd.DataFrame:
    """Average cost per occupied week of each pool (all its costs), across the replications where it was used."""
    by_replication = spend.groupby(["replication", "financial_year", "pool"])[["spend", "occupied_days"]].sum()
    used = by_replication[by_replication["occupied_days"] > 0]
    weekly = (used["spend"] / (used["occupied_days"] / 7.0)).rename("weekly").reset_index()
    grouped = weekly.groupby(["financial_year", "pool"])["weekly"]
    frame = grouped.agg(
        mean="mean",
        ci95_low=lambda x: _ci(x)[0],
        ci95_high=lambda x: _ci(x)[1],
        p10=lambda x: np.percentile(x, 10),
        p50=lambda x: np.percentile(x, 50),
        p90=lambda x: np.percentile(x, 90),
    ).reset_index()
    return frame.rename(columns={"pool": "category"}).assign(breakdown="average_weekly_cost", unit="£/week")


def _ci(values: pd.Series) -> tuple[float, float]:
    if len(values) < 2:
        return (np.nan, np.nan)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return (values.mean() - half, values.mean() + half)
