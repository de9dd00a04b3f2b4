"""Paired comparison of scenarios run with common random numbers.

Every scenario is run with the base's seed, so replication r of each sees the same children; the
difference between what-if and base in replication r is the effect of the policy on those children, and
the 95% confidence interval of the mean difference is far narrower than comparing two separate bands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.scenario import Scenario
from sim.results.runner import Progress, RunResult, run_many
from sim.results.summary import AT_A_TIME_MEASURES, LEDGER_MEASURE_LABELS, RunSummary

KEYS = ["financial_year", "measure", "category"]
# The medium term of a financial strategy: issue 19 asks for the next 5 financial years by default (assumption:
# the span of a council's medium-term financial strategy, which looks 3 to 5 years ahead).
MEDIUM_TERM_YEARS = 5
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
    "spend_one_off": "one-off capital and start-up costs (£)",
    **AT_A_TIME_MEASURES,
}
# The measures of the medium-term table and how the years add up: counts and money are summed over the years,
# children at a time averaged over them.
MEDIUM_TERM_SUMS = (
    "placed_in_house",
    "placed_externally",
    "not_sufficient_child_days_total",
    "placed_externally_child_days_total",
    "spend_total",
    "spend_external",
    "spend_in_house",
    "spend_one_off",
    "spend_pool",
)
MEDIUM_TERM_MEANS = ("in_house_at_a_time", "external_at_a_time", "at_a_time_pool")
MEDIUM_TERM_COLUMNS = [
    "what_if",
    "measure",
    "category",
    "years",
    "first_year",
    "last_year",
    "n_years",
    "statistic",
    "base_mean",
    "what_if_mean",
    "difference",
    "ci95_low",
    "ci95_high",
    "payback_year",
]
NOT_REPAID = "not within the horizon"


@dataclass
class Comparison:
    """The base and what-ifs as their summaries (what the charts, report and files read) and their differences."""

    base: RunSummary
    what_ifs: list[RunSummary]
    differences: pd.DataFrame  # what_if, financial_year, measure, category, base_mean, what_if_mean, difference, ci
    summaries: dict[str, str]  # what-if name -> plain-English sentence
    headline_year: str  # the financial year the charts of one year describe
    # MEDIUM_TERM_COLUMNS: each what-if's differences over the medium term (see `medium_term`), one row a measure
    # and category; empty when the comparison was assembled without one (the workshop app)
    medium_term: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MEDIUM_TERM_COLUMNS))


def compare(
    base: Scenario,
    what_ifs: list[Scenario],
    replications: int,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
    partial: Callable[[Comparison], None] | None = None,
) -> Comparison:
    """Base and what-ifs on the base's seed (the same children), run together on one pool of workers. `partial`
    gets the comparison on the first replications as they finish (the first 50 or a little over, then twice as many
    each time: `run_many`), each with its own confidence intervals, before the whole run's is returned."""
    each = None if partial is None else (lambda runs: partial(_compared(runs)))
    runs = run_many([base, *what_ifs], replications, base.seed, jobs, progress, dask, partial=each)
    return _compared(runs)


def _compared(runs: list[RunResult]) -> Comparison:
    """The comparison of the base (first) and what-if runs, on the replications they hold."""
    replications = runs[0].replications
    base_run, *others = [result.run_summary for result in runs]
    frames = [
        paired_differences(base_run.yearly_measures, r.yearly_measures, replications).assign(what_if=r.scenario.name)
        for r in others
    ]
    differences = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    years = medium_term_years(base_run)
    medium = [medium_term(base_run, r, years, differences[differences["what_if"] == r.scenario.name]) for r in others]
    medium_table = pd.concat(medium, ignore_index=True) if medium else pd.DataFrame(columns=MEDIUM_TERM_COLUMNS)
    summaries = {
        r.scenario.name: summary_sentence(
            r,
            differences[differences["what_if"] == r.scenario.name],
            medium_table[medium_table["what_if"] == r.scenario.name],
        )
        for r in others
    }
    return Comparison(base_run, others, differences, summaries, headline_year(base_run), medium_table)


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


def medium_term_years(run: RunSummary, count: int = MEDIUM_TERM_YEARS) -> list[str]:
    """The first `count` whole financial years of the horizon (fewer when it has fewer): a part year at the start
    is left out, as a medium-term financial strategy starts with the next whole year."""
    return [label for label, part in run.part_years.items() if not part][:count]


def medium_term(base: RunSummary, what_if: RunSummary, years: list[str], differences: pd.DataFrame) -> pd.DataFrame:
    """MEDIUM_TERM_COLUMNS over `years`: each replication's sum (or, for children at a time, mean) over the years
    in both runs, then the paired difference with its 95% CI across replications, so the CI is that of the
    per-replication totals (never a sum of the years' CIs); the mean difference equals the sum (or mean) of the
    yearly mean differences. The spend_total row carries the payback year (see `payback_year`)."""
    replications = base.replications
    if not years:
        return pd.DataFrame(columns=MEDIUM_TERM_COLUMNS)
    period = f"{years[0]} to {years[-1]}"
    parts = [_over_years(run.yearly_measures, years, period) for run in (base, what_if)]
    frame = paired_differences(*parts, replications).drop(columns="financial_year")
    frame["statistic"] = np.where(frame["measure"].isin(MEDIUM_TERM_MEANS), "mean over the years", "sum over the years")
    frame = frame.assign(
        what_if=what_if.scenario.name, years=period, first_year=years[0], last_year=years[-1], n_years=len(years)
    )
    frame["payback_year"] = ""
    if what_if.scenario.one_off_costs or base.scenario.one_off_costs:
        frame.loc[(frame["measure"] == "spend_total") & (frame["category"] == "all"), "payback_year"] = payback_year(
            _yearly_net(differences, what_if.calendar.financial_years.labels)
        )
    return frame[MEDIUM_TERM_COLUMNS].reset_index(drop=True)


def _over_years(measures: pd.DataFrame, years: list[str], period: str) -> pd.DataFrame:
    """Per replication, each medium-term measure summed over `years` (averaged, for children at a time)."""
    kept = measures[
        measures["measure"].isin(MEDIUM_TERM_SUMS + MEDIUM_TERM_MEANS) & measures["financial_year"].isin(years)
    ]
    grouped = kept.groupby(["replication", "measure", "category"], as_index=False)["value"].sum()
    averaged = grouped["measure"].isin(MEDIUM_TERM_MEANS)
    grouped.loc[averaged, "value"] = grouped.loc[averaged, "value"] / len(years)
    return grouped.assign(financial_year=period)


def _yearly_net(differences: pd.DataFrame, labels: list[str]) -> list[tuple[str, float, float]]:
    """(financial year, mean net difference in total spend, mean difference in one-off costs) for every year."""
    rows = differences[differences["category"] == "all"].set_index(["measure", "financial_year"])["difference"]
    return [
        (label, float(rows.get(("spend_total", label), 0.0)), float(rows.get(("spend_one_off", label), 0.0)))
        for label in labels
    ]


def payback_year(yearly: Sequence[tuple[str, float, float]]) -> str:
    """The financial year by whose end a what-if's one-off costs are paid back: the first year, from the first
    with a one-off cost on, at whose end the cumulative mean net difference in total spend since the horizon
    start (one-off costs included) is zero or a saving. NOT_REPAID when that never happens in the horizon; ""
    when there is no one-off cost. `yearly` holds (year, net difference, one-off difference) in order."""
    cumulative = 0.0
    started = False
    for label, net, one_off in yearly:
        cumulative += net
        started = started or one_off != 0
        if started and cumulative <= 0:
            return label
    return NOT_REPAID if started else ""


BY_YEAR_MEASURES = {  # the measures of comparison.csv, in its order, with their units
    "spend_total": "£",
    "spend_external": "£",
    "spend_in_house": "£",
    "spend_one_off": "£",
    "spend_pool": "£",
    "in_house_at_a_time": "children at a time",
    "external_at_a_time": "children at a time",
    "at_a_time_pool": "children at a time",
    "placed_in_house": "placements started",
    "placed_externally": "placements started",
    "not_sufficient_child_days_total": "child-days",
    "placed_externally_child_days_total": "child-days",
}
BY_YEAR_STATISTICS = ["base_mean", "what_if_mean", "difference", "ci95_low", "ci95_high"]


def differences_by_year(comparison: Comparison) -> pd.DataFrame:
    """comparison.csv: a row for each what-if, measure (BY_YEAR_MEASURES), category and statistic (base and
    what-if means, the difference and its 95% CI), a column for each financial year (flagged "(part year)"),
    then the medium term ("medium term <years>", summed or averaged as medium_term_statistic says)."""
    part_years = comparison.base.part_years
    heads = {label: f"{label} (part year)" if part else label for label, part in part_years.items()}
    keys = ["what_if", "measure", "category"]
    rows = comparison.differences
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "unit", "statistic", *heads.values()])
    rows = rows[rows["measure"].isin(BY_YEAR_MEASURES)]
    long = rows.melt(id_vars=[*keys, "financial_year"], value_vars=BY_YEAR_STATISTICS, var_name="statistic")
    wide = long.pivot_table(
        index=[*keys, "statistic"], columns="financial_year", values="value", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(columns=list(heads), fill_value=0.0).rename(columns=heads)
    medium = comparison.medium_term
    if len(medium):
        period = f"medium term {medium['years'].iloc[0]}"
        mid = medium.melt(id_vars=[*keys, "statistic"], value_vars=BY_YEAR_STATISTICS, var_name="figure")
        mid = mid.rename(columns={"statistic": "medium_term_statistic", "figure": "statistic"})
        mid = mid.set_index([*keys, "statistic"])
        wide = wide.join(mid.rename(columns={"value": period}), how="left")
    wide = wide.reset_index()
    order = {measure: i for i, measure in enumerate(BY_YEAR_MEASURES)}
    statistic = {name: i for i, name in enumerate(BY_YEAR_STATISTICS)}
    wide = wide.sort_values(
        [*keys, "statistic"],
        key=lambda c: c.map(order) if c.name == "measure" else c.map(statistic) if c.name == "statistic" else c,
        kind="stable",
    )
    wide.insert(3, "unit", wide["measure"].map(BY_YEAR_MEASURES))
    return wide.reset_index(drop=True)


def _wide(values: pd.DataFrame, replications: int) -> pd.DataFrame:
    wide = values.pivot_table(index=KEYS, columns="replication", values="value", aggfunc="sum", fill_value=0.0)
    return wide.reindex(columns=range(replications), fill_value=0.0)


# ---------------------------------------------------------------------------------------------
# The sentence


def summary_sentence(run: RunSummary, differences: pd.DataFrame, medium: pd.DataFrame | None = None) -> str:
    """Plain English, built from the same rows as the tables (so the numbers agree): over the medium term
    (`medium`, MEDIUM_TERM_COLUMNS of this what-if) when it is given, else for the headline year alone."""
    name = run.scenario.description or run.scenario.name
    tail = " (mean difference from the base, 95% confidence interval"
    if medium is not None and len(medium):
        rows = medium.set_index(["measure", "category"])
        first = medium.iloc[0]
        part = [label for label, part in run.part_years.items() if part and label < first["first_year"]]
        left_out = f"; {part[0]}, a part year, left out" if part else ""
        head = f"{name}, over the {first['n_years']} financial years {first['years']} (whole years{left_out}): "
        tail += "; children at a time averaged over the years, everything else summed over them)."
        return head + "; ".join([*_phrases(rows), *_payback_phrase(rows)]) + tail
    year = headline_year(run)
    rows = differences[differences["financial_year"] == year].set_index(["measure", "category"])
    return f"{name}, in {year}: " + "; ".join(_phrases(rows)) + tail + ")."


def _phrases(rows: pd.DataFrame) -> list[str]:
    """The phrases of a sentence from difference rows indexed by (measure, category)."""
    phrases = []
    pools = rows.xs("at_a_time_pool", level="measure") if "at_a_time_pool" in rows.index.get_level_values(0) else None
    if pools is not None and len(pools) and pools["difference"].abs().max() > 0:
        pool = str(pools["difference"].abs().idxmax())  # the pool the what-if changes most
        in_house = rows["difference"].get(("in_house_at_a_time", "all"), np.nan)
        if not np.isclose(pools.loc[pool, "difference"], in_house, atol=0.05):  # else it is the in-house figure
            phrases.append(_change(pools.loc[pool], "more", "fewer", f"children at a time in {pool}"))
    for measure, words in (
        ("in_house_at_a_time", ("more", "fewer", "children at a time in-house")),
        ("placed_in_house", ("more", "fewer", "children placed in-house (placements started)")),
        ("external_at_a_time", ("more", "fewer", "children at a time placed externally")),
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
    for measure, label in (
        ("spend_external", "external spend"),
        ("spend_in_house", "in-house spend"),
        ("spend_one_off", "one-off costs"),
    ):
        if (measure, "all") in rows.index:
            phrases.append(_change(rows.loc[(measure, "all")], "up", "down", label, money=True))
    if ("spend_total", "all") in rows.index:
        phrases.append(_change(rows.loc[("spend_total", "all")], "net cost", "net saving", "", money=True))
    return phrases


def _payback_phrase(rows: pd.DataFrame) -> list[str]:
    year = rows.loc[("spend_total", "all"), "payback_year"] if ("spend_total", "all") in rows.index else ""
    if not year:
        return []
    if year == NOT_REPAID:
        return ["one-off costs not paid back within the horizon (mean cumulative net cost from the start)"]
    return [f"one-off costs paid back by the end of {year} (mean cumulative net cost from the start)"]


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
