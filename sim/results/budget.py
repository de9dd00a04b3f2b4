"""The budget tables for finance: spend by financial year, in total, in-house against external, by pool and by
need, with the average weekly cost of each pool as a check against the price book.

Computed once per run by the summary layer (`RunSummary.budget`); budget.csv and the workbook
(`sim.present.workbook`) are written from it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.price_book import BudgetYear
from sim.results.costs import ONE_OFF, FinancialYears
from sim.results.tables import summarise

STATISTICS = ["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]
BUDGET_COLUMNS = ["financial_year", "breakdown", "category", "unit", *STATISTICS]


def budget_summary(spend: pd.DataFrame, replications: int, years: FinancialYears) -> pd.DataFrame:
    """Spend by financial year: total, in-house v external, by pool, by need; and weekly cost per pool."""
    if spend.empty:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    spend = spend.assign(all="total", provision=np.where(spend["in_house"].astype(bool), "in_house", "external"))
    parts = []
    breakdowns = (
        ("total", "all"),
        ("provision", "provision"),
        ("pool", "pool"),
        ("need", "need"),
        ("component", "component"),
    )
    for breakdown, column in breakdowns:
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


# ---------------------------------------------------------------------------------------------
# For a medium-term financial strategy: years across the columns, the chance of overspending, the bridge

WIDE_BREAKDOWNS = ("total", "provision", "pool", "need", "component")
WIDE_STATISTICS = ("mean", "p10", "p50", "p90")


def year_heading(label: str, part_year: bool) -> str:
    """A financial year's column head: the label, flagged when the horizon covers only part of the year."""
    return f"{label} (part year)" if part_year else label


def budget_wide(budget: pd.DataFrame, part_years: Mapping[str, bool]) -> pd.DataFrame:
    """The budget's £ rows with the financial years across the columns (heads flagged "(part year)"), a block of
    rows for each statistic (mean, P10, P50, P90), within it the breakdowns in WIDE_BREAKDOWNS order; a year
    without a row (nothing spent there) is 0."""
    money = budget[budget["breakdown"].isin(WIDE_BREAKDOWNS)]
    heads = [year_heading(label, part) for label, part in part_years.items()]
    blocks = []
    for statistic in WIDE_STATISTICS:
        wide = money.pivot_table(
            index=["breakdown", "category"], columns="financial_year", values=statistic, aggfunc="sum", fill_value=0.0
        )
        wide = wide.reindex(columns=list(part_years), fill_value=0.0)
        wide.columns = heads
        order = {name: i for i, name in enumerate(WIDE_BREAKDOWNS)}
        wide = wide.reset_index().sort_values(
            ["breakdown", "category"], key=lambda c: c.map(order) if c.name == "breakdown" else c
        )
        blocks.append(wide.assign(statistic=statistic))
    columns = ["statistic", "breakdown", "category", *heads]
    if not blocks:
        return pd.DataFrame(columns=columns)
    return pd.concat(blocks, ignore_index=True)[columns]


OVERSPEND_COLUMNS = [
    "financial_year",
    "provision",
    "budget",
    "spend_mean",
    "spend_p10",
    "spend_p90",
    "replications_over",
    "probability_over",
]


def spend_by_replication(spend: pd.DataFrame, replications: int) -> pd.DataFrame:
    """(replication, financial_year) rows, columns in_house, external and total: each replication's spend."""
    provision = np.where(spend["in_house"].astype(bool), "in_house", "external")
    wide = spend.assign(provision=provision).pivot_table(
        index=["financial_year", "replication"], columns="provision", values="spend", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(columns=["in_house", "external"], fill_value=0.0)
    years = wide.index.get_level_values(0).unique()
    full = pd.MultiIndex.from_product([years, range(replications)], names=["financial_year", "replication"])
    wide = wide.reindex(full, fill_value=0.0)
    return wide.assign(total=wide["in_house"] + wide["external"])


def overspend(spend: pd.DataFrame, replications: int, budget: Mapping[str, BudgetYear]) -> pd.DataFrame:
    """For each budget line the scenario gives (`budget.<financial year>`, by provision): the share of the
    replications whose spend in that year is above it (a replication with no spend spends 0)."""
    rows = []
    by_replication = spend_by_replication(spend, replications) if len(spend) else None
    for label, year in budget.items():
        for provision, amount in year.set_lines().items():
            if by_replication is not None and label in by_replication.index.get_level_values(0):
                values = by_replication.loc[label, provision].to_numpy(dtype=float)
            else:
                values = np.zeros(replications)
            over = int((values > amount).sum())
            rows.append(
                [label, provision, amount, values.mean(), *np.percentile(values, [10, 90]), over, over / replications]
            )
    return pd.DataFrame(rows, columns=OVERSPEND_COLUMNS)


BRIDGE_COLUMNS = [
    "from_year",
    "to_year",
    "pool",
    "spend_from",
    "child_days_from",
    "child_days_to",
    "volume",
    "price",
    "one_off",
    "spend_to",
]


def spend_bridge(spend: pd.DataFrame, replications: int, years: FinancialYears) -> pd.DataFrame:
    """Mean spend from the first whole financial year to each later whole year, split by pool into a volume
    effect (the change in child-days at the first year's spend per child-day), a price effect (the rest: prices,
    inflation, fixed costs and mix within the pool) and the change in one-off costs; a row `pool` "total" sums
    the pools. spend_to = spend_from + volume + price + one_off. A pool with no child-days in the first year has
    no first-year price: its change is all price."""
    whole = [
        label
        for label, days, length in zip(years.labels, years.ends - years.starts, years.lengths, strict=True)
        if days >= length
    ]
    if len(whole) < 2 or spend.empty:
        return pd.DataFrame(columns=BRIDGE_COLUMNS)
    one_off = spend["component"] == ONE_OFF
    frame = spend.assign(
        recurring=spend["spend"].where(~one_off, 0.0), one_off_spend=spend["spend"].where(one_off, 0.0)
    )
    means = frame.groupby(["pool", "financial_year"])[["recurring", "one_off_spend", "occupied_days"]].sum()
    means = means / replications
    first = whole[0]
    rows = []
    for later in whole[1:]:
        for pool in means.index.get_level_values(0).unique():
            a = means.loc[pool].reindex([first, later], fill_value=0.0)
            before, after = a.loc[first], a.loc[later]
            unit = before["recurring"] / before["occupied_days"] if before["occupied_days"] > 0 else 0.0
            volume = (after["occupied_days"] - before["occupied_days"]) * unit if before["occupied_days"] > 0 else 0.0
            price = after["recurring"] - before["recurring"] - volume
            rows.append(
                [
                    first,
                    later,
                    pool,
                    before["recurring"] + before["one_off_spend"],
                    before["occupied_days"],
                    after["occupied_days"],
                    volume,
                    price,
                    after["one_off_spend"] - before["one_off_spend"],
                    after["recurring"] + after["one_off_spend"],
                ]
            )
    bridge = pd.DataFrame(rows, columns=BRIDGE_COLUMNS)
    sums = BRIDGE_COLUMNS[3:]
    total = bridge.groupby(["from_year", "to_year"], as_index=False, sort=False)[sums].sum().assign(pool="total")
    return (
        pd.concat([bridge, total[BRIDGE_COLUMNS]], ignore_index=True)
        .sort_values(["to_year"], kind="stable")
        .reset_index(drop=True)
    )
