"""Paired comparison of scenarios run with common random numbers.

Every scenario is run with the base's seed, so replication r of each sees the same children; the
difference between what-if and base in replication r is the effect of the policy on those children, and
the 95% confidence interval of the mean difference is far narrower than comparing two separate bands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.scenario import Scenario
from sim.results.runner import Progress, run_many
from sim.results.summary import LEDGER_MEASURE_LABELS, RunSummary

KEYS = ["financial_year", "measure", "category"]
# What each measure of `differences` counts, in words. The gap figures name which they count: every gap (outside
# the first choice: placed externally and not sufficient together), not sufficient, or placed externally (the
# right kind bought in); the ledger's measures are worded in sim.results.summary.LEDGER_MEASURE_LABELS.
MEASURE_LABELS = {
    "placed_in_house": "children placed in-house (placements started)",
    "placed_externally": "children placed externally (placements started in external pools, of any kind)",
    "beyond_20_miles": "placements started more than 20 miles from home",
    "gap_placements": "every gap (placed externally and not sufficient together): placements not in the "
    "first-choice pool",
    "gap_child_days": "every gap (placed externally and not sufficient together): child-days outside the "
    "first-choice pool",
    "gap_child_days_total": "every gap (placed externally and not sufficient together): child-days outside the "
    "first-choice pool, all needs",
    **LEDGER_MEASURE_LABELS,
    "spend_total": "spend, all pools (£)",
    "spend_external": "spend, external pools (£)",
    "spend_in_house": "spend, in-house pools (£)",
    "spend_pool": "spend by pool (£)",
}


@dataclass
class Comparison:
    """The base and what-ifs as their summaries (what the charts, report and files read) and their differences."""

    base: RunSummary
    what_ifs: list[RunSummary]
    differences: pd.DataFrame  # what_if, financial_year, measure, category, base_mean, what_if_mean, difference, ci
    summaries: dict[str, str]  # what-if name -> plain-English sentence
    headline_year: str  # the financial year the sentences describe


def compare(
    base: Scenario,
    what_ifs: list[Scenario],
    replications: int,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
) -> Comparison:
    """Base and what-ifs on the base's seed (the same children), run together on one pool of workers."""
    runs = run_many([base, *what_ifs], replications, seed=base.seed, jobs=jobs, progress=progress, dask=dask)
    base_run, *others = [result.run_summary for result in runs]
    frames = [
        paired_differences(base_run.yearly_measures, r.yearly_measures, replications).assign(what_if=r.scenario.name)
        for r in others
    ]
    differences = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    summaries = {
        r.scenario.name: summary_sentence(r, differences[differences["what_if"] == r.scenario.name]) for r in others
    }
    return Comparison(base_run, others, differences, summaries, headline_year(base_run))


def paired_differences(base: pd.DataFrame, what_if: pd.DataFrame, replications: int) -> pd.DataFrame:
    """Mean of each measure in both runs and the mean paired difference with its 95% confidence interval."""
    wide_base = _wide(base, replications)
    wide_what_if = _wide(what_if, replications)
    index = wide_base.index.union(wide_what_if.index)
    a = wide_base.reindex(index, fill_value=0.0).to_numpy()
    b = wide_what_if.reindex(index, fill_value=0.0).to_numpy()
    difference = b - a
    mean = difference.mean(axis=1)
    half = (
        stats.t.ppf(0.975, replications - 1) * difference.std(axis=1, ddof=1) / np.sqrt(replications)
        if replications > 1
        else np.full(len(mean), np.nan)
    )
    frame = index.to_frame(index=False)
    frame["base_mean"] = a.mean(axis=1)
    frame["what_if_mean"] = b.mean(axis=1)
    frame["difference"] = mean
    frame["ci95_low"] = mean - half
    frame["ci95_high"] = mean + half
    return frame


def _wide(values: pd.DataFrame, replications: int) -> pd.DataFrame:
    wide = values.pivot_table(index=KEYS, columns="replication", values="value", aggfunc="sum", fill_value=0.0)
    return wide.reindex(columns=range(replications), fill_value=0.0)


# ---------------------------------------------------------------------------------------------
# The sentence


def summary_sentence(run: RunSummary, differences: pd.DataFrame) -> str:
    """Plain English, built from the same rows as the differences table (so the numbers agree)."""
    year = headline_year(run)
    rows = differences[differences["financial_year"] == year].set_index(["measure", "category"])
    phrases = []
    for measure, words in (
        ("placed_in_house", ("more", "fewer", "children placed in-house")),
        ("placed_externally", ("more", "fewer", "placed externally (placements started)")),
    ):
        if (measure, "all") in rows.index:
            phrases.append(_change(rows.loc[(measure, "all")], *words))
    for measure, what in (  # the two gap figures, each named, rather than every gap together
        ("not_sufficient_child_days_total", "child-days not sufficient"),
        ("placed_externally_child_days_total", "child-days placed externally of the right kind"),
    ):
        if (measure, "all") in rows.index:
            phrases.append(_change(rows.loc[(measure, "all")], "more", "fewer", what))
        else:  # a measure no replication of either run has is zero in both
            phrases.append(f"{what}: none in either")
    for measure, label in (("spend_external", "external spend"), ("spend_in_house", "in-house spend")):
        if (measure, "all") in rows.index:
            phrases.append(_change(rows.loc[(measure, "all")], "up", "down", label, money=True))
    if ("spend_total", "all") in rows.index:
        phrases.append(_change(rows.loc[("spend_total", "all")], "net cost", "net saving", "", money=True))
    name = run.scenario.description or run.scenario.name
    return f"{name}, in {year}: " + "; ".join(phrases) + " (mean difference from the base, 95% confidence interval)."


def _change(row: pd.Series, up: str, down: str, what: str, money: bool = False) -> str:
    """'3.4 more (2.9 to 3.9) ...': the interval is shown in the direction of the word, so it may cross zero."""
    value, low, high = row["difference"], row["ci95_low"], row["ci95_high"]
    word = up if value >= 0 else down
    if value < 0:
        value, low, high = -value, -high, -low
    if money:
        if value == low == high == 0:
            return f"{what} unchanged" if what else "no net change in spend"
        amount = _pounds(value, low, high)
        return f"{what} {word} {amount}".strip() if what else f"{word} {amount}"
    return f"{value:.1f} {word} ({low:.1f} to {high:.1f}) {what}".strip()


def _pounds(value: float, low: float, high: float) -> str:
    """£ million to two places, or £ thousand to one below £0.1m, where millions would read '£0.00m'."""
    scale, unit, places = (1e6, "m", 2) if max(abs(value), abs(low), abs(high)) >= 1e5 else (1e3, "k", 1)
    return f"£{value / scale:.{places}f}{unit} ({low / scale:.{places}f} to {high / scale:.{places}f})"


def headline_year(run: RunSummary) -> str:
    """The second full financial year of the horizon (or the last one there is)."""
    years = run.calendar.financial_years
    spans = zip(years.labels, years.starts, years.ends, years.lengths, strict=True)
    full = [label for label, start, end, length in spans if end - start >= length]
    candidates = full[1:2] or full[:1] or years.labels[-1:]
    return candidates[0]
