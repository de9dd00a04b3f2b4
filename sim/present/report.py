"""A self-contained report.html: charts embedded, tables, the assumptions, a method note, version and seed.

Written by `sufficiency run` (one scenario) and `sufficiency compare` (a base and its what-ifs). It opens
in any browser with no other file: charts are PNG images inside the page.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sim import __version__
from sim.analysis.compare import MEASURE_LABELS, Comparison
from sim.analysis.scenario_diff import Change, scenario_changes
from sim.analysis.sizing import SizingCurve, finite_in_house_pools, sizing_table
from sim.present import charts
from sim.present.trust import backtest_trust
from sim.results.summary import (
    CARE_LEAVERS_NOTE,
    CHILDREN_ROWS,
    CHILDREN_TITLE,
    FALLBACK_ROWS,
    FALLBACKS_TITLE,
    ROW_UNITS,
    STABILITY_PERCENT_ROWS,
    STABILITY_ROWS,
    STABILITY_TITLE,
    UNIT_SHORT_NAMES,
    RunSummary,
)

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222;"
    "line-height:1.4}h1{font-size:1.6em;margin-bottom:0.2em}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;display:block;overflow-x:auto;max-width:100%}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}th{background:#f3f3f3}"
    "td:first-child,th:first-child{text-align:left}"
    "table.assumptions td,table.assumptions th{text-align:left;vertical-align:top;font-size:0.9em}"
    "table.medium{font-size:0.9em}"
    "img{max-width:100%;margin:0.5em 0}.summary{font-size:1.1em;background:#f6f8fb;padding:0.8em;border-left:4px solid"
    " #332288}.note{color:#555;font-size:0.9em}.contents{font-size:0.9em}.contents a{color:#332288}"
    ".lead h2{margin-top:0.6em}.changes li{margin:0.2em 0}"
    ".trust{background:#fbf8ef;border-left:4px solid #999933;padding:0.2em 0.9em;margin:1em 0;font-size:0.95em}"
    ".trust h3{margin:0.5em 0 0.2em}"
)
LABELS = MEASURE_LABELS  # the ledger's measures included
MEDIUM_TERM_SHOWN = {  # the medium-term rows on the first screen, in short: children, then the gap, then pounds
    "in_house_at_a_time": "Children at a time in in-house places",
    "external_at_a_time": "Children at a time in external places",
    "placed_in_house": "Placements started in-house",
    "placed_externally": "Placements started externally",
    "not_sufficient_child_days_total": "Child-days not sufficient",
    "spend_in_house": "In-house spend",
    "spend_external": "External spend",
    "spend_one_off": "One-off costs",
    "spend_total": "Net cost (total spend)",
}
STATISTIC_WORDS = {"mean over the years": "average of the years", "sum over the years": "total"}
IDENTITY_KEYS = ("name", "description", "extends")  # the file's own name and words: not assumptions about care
INTERNAL_NOTE = re.compile(r"^(see |check\b)|\bcheck\b|\brecalled\b", re.IGNORECASE)  # notes to the authors
GAP_NOTE = (
    "Two figures, told apart: <b>placed externally</b> (the right kind of placement, bought in because the places "
    "above it were full: a question of cost and distance) and <b>not sufficient</b> (the wrong kind of placement, "
    "an emergency or unregistered placement, a child needing secure care without it, or a placement of the right "
    "kind beyond 20 miles). The first chart counts every day outside the first-choice pool, both together; the "
    "ledger below it splits them by kind."
)
METHOD = (
    "Each child is simulated from entering care to leaving it; the care they need is drawn when they enter, "
    "and where they are placed is decided by the places free at the time (in-house first, then the external "
    "market). Bands are labelled where shown: P10-P90 is the spread across replications (the range a single "
    "year should fall in about 80% of the time), holding the simulation's own noise and, when the scenario has an "
    "[uncertainty] table, the uncertainty of its fitted parameters (each chart and table says which); a 95% "
    "confidence interval is the uncertainty of a mean "
    "(simulation error). Differences between scenarios are paired: each replication of every scenario sees the "
    "same children, so a difference is the effect of the change, not noise."
)


def run_report(run: RunSummary, scenario_path: Path | None, sizing: list[SizingCurve] | None = None) -> str:
    scenario = run.scenario
    out = ReportCharts()
    parts = [
        f"<h1>{html.escape(scenario.name)}</h1>",
        f"<p>{html.escape(scenario.description)}</p>",
        _meta(run),
        "<h2>Children in care by placement need</h2>",
        out.image(charts.fan_chart(run), "children_in_care"),
        "<h2>In-house places: occupancy against capacity</h2>",
        out.image(charts.occupancy(run), "occupancy"),
        "<h2>Sufficiency gap</h2>",
        f"<p class='note'>{GAP_NOTE}</p>",
        out.image(charts.gap_by_need(run), "gap_by_need"),
        out.image(charts.gap_ledger(run), "gap_ledger"),
        _year_end_table(run),
        *_fallbacks_section(run),
        *_children_section(run, out),
    ]
    parts += _spend_section(run, out)
    parts += _drivers_section(run, out)
    if sizing:
        parts += _sizing_section(sizing, run, out, None)
    parts += _assumptions([scenario_path] if scenario_path else [])
    return _page(f"Report: {scenario.name}", parts)


def comparison_report(
    comparison: Comparison,
    scenario_paths: list[Path],
    sizing: list[SizingCurve] | None = None,
    charts_folder: Path | None = None,
    sizing_replications: int | None = None,
) -> str:
    """The what-if first (its answer, what it changes, its effect year by year, the pools it changes, how far to
    trust it), then the base's detail, then the assumptions. With `charts_folder`, every chart of the page is
    also written there as PNG and SVG, from the same drawing."""
    out = ReportCharts(charts_folder)
    base = comparison.base
    runs = [base, *comparison.what_ifs]
    changes = {run.scenario.name: scenario_changes(base.scenario, run.scenario) for run in comparison.what_ifs}
    headline = comparison.headline_year
    sections = {
        "what-changed": "The what-ifs",
        "year-by-year": "Year by year",
        "changed-pools": "The changed pools",
        "base": "The base in detail",
        "assumptions": "Assumptions",
    }
    parts = [
        f"<h1>{html.escape(_comparison_title(comparison))}</h1>",
        _meta(base),
        _contents(sections),
        "<div class='lead'>",
        *[_what_if_lead(comparison, run, changes) for run in comparison.what_ifs],
        _trust_box(base),
        "</div>",
        f"<h2 id='year-by-year'>The difference from the base, {sections['year-by-year'].lower()}</h2>",
        out.image(charts.difference_fan(comparison), "difference_fan"),
        f"<h3>Every measure in {headline}</h3>",
        out.image(charts.differences(comparison, headline), "differences"),
        _differences_table(comparison, headline),
        f"<h2 id='changed-pools'>{sections['changed-pools']}, scenario by scenario</h2>",
        *_changed_pools_section(runs, changes, out),
        "<h2>The scenarios overlaid</h2>",
        out.image(charts.overlay(runs), "overlay"),
        f"<h2 id='base'>{sections['base']}: {html.escape(base.scenario.name)}</h2>",
        out.image(charts.fan_chart(base), "children_in_care"),
        out.image(charts.occupancy(base), "occupancy"),
        out.image(charts.gap_by_need(base), "gap_by_need"),
        out.image(charts.gap_ledger(base), "gap_ledger"),
        *_fallbacks_section(base),
        *_children_section(base, out),
    ]
    parts += _spend_section(base, out)
    parts += _drivers_section(base, out)
    if sizing:
        parts += _sizing_section(sizing, base, out, sizing_replications)
    years = base.calendar.financial_years.labels
    parts.append(f"<p class='note'>Financial years covered: {', '.join(years)}.</p>")
    parts += _assumptions(scenario_paths)
    return _page(f"Comparison: {base.scenario.name}", parts)


def _comparison_title(comparison: Comparison) -> str:
    base = comparison.base.scenario.name
    if len(comparison.what_ifs) == 1:
        return f"Comparison: {base} and {comparison.what_ifs[0].scenario.name}"
    return f"Comparison: {base} and {len(comparison.what_ifs)} what-ifs"


def _contents(sections: dict[str, str]) -> str:
    links = " · ".join(f"<a href='#{anchor}'>{html.escape(title)}</a>" for anchor, title in sections.items())
    return f"<p class='contents'>{links}</p>"


def _what_if_lead(comparison: Comparison, run: RunSummary, changes: dict[str, list[Change]]) -> str:
    """A what-if's answer (the summary sentence), what it changes (its own description and each setting that
    differs from the base, in words), then its medium-term totals. The first carries the contents' first anchor."""
    scenario = run.scenario
    anchor = " id='what-changed'" if scenario.name == next(iter(changes)) else ""
    found = changes[scenario.name]
    items = "".join(f"<li>{html.escape(change.words)}</li>" for change in found)
    listed = f"<ul class='changes'>{items}</ul>" if found else "<p class='note'>No setting differs from the base.</p>"
    described = f" <i>{html.escape(scenario.description.rstrip('.'))}.</i>" if scenario.description else ""
    return (
        f"<h2{anchor}>What if: {html.escape(scenario.name)}</h2>"
        f"<p class='summary'>{html.escape(comparison.summaries.get(scenario.name, ''))}</p>"
        f"<p><b>What changed</b> from the base.{described} In the scenario file:</p>{listed}"
        + _medium_term_table(comparison.medium_term, scenario.name)
    )


def _medium_term_table(medium: pd.DataFrame, name: str) -> str:
    """The what-if's differences over the medium term (the first whole financial years): children at a time
    averaged over them, placements, child-days and pounds summed, each with its 95% CI, and the payback year."""
    rows = medium[(medium["what_if"] == name) & (medium["category"] == "all")].set_index("measure")
    rows = rows.reindex([m for m in MEDIUM_TERM_SHOWN if m in rows.index])
    if rows.empty:
        return ""
    money = [m.startswith("spend") for m in rows.index]

    def column(values: pd.Series) -> list[str]:
        return [_amount(value, is_money) for value, is_money in zip(values, money, strict=True)]

    lows, highs = column(rows["ci95_low"]), column(rows["ci95_high"])
    shown = pd.DataFrame(
        {
            "measure": [
                f"{MEDIUM_TERM_SHOWN[m]} ({STATISTIC_WORDS.get(s, s)})"
                for m, s in zip(rows.index, rows["statistic"], strict=True)
            ],
            "base": column(rows["base_mean"]),
            "what-if": column(rows["what_if_mean"]),
            "difference": column(rows["difference"]),
            "95% CI of the difference": [f"{low} to {high}" for low, high in zip(lows, highs, strict=True)],
        }
    )
    first = rows.iloc[0]
    payback = rows["payback_year"].get("spend_total", "") if "payback_year" in rows else ""
    paid = f" Payback year (the cumulative net cost back to zero or below): {html.escape(payback)}." if payback else ""
    return (
        f"<p><b>Over the medium term</b>, {html.escape(str(first['years']))} ({int(first['n_years'])} whole "
        f"financial years): mean across replications, what-if minus base with its 95% CI.{paid}</p>"
        + shown.to_html(index=False, border=0, classes="medium")
    )


def _changed_pools_section(runs: list[RunSummary], changes: dict[str, list[Change]], out: ReportCharts) -> list[str]:
    """The pools whose settings a what-if changes (else the base's finite in-house pools), every scenario side by
    side."""
    changed = [change.path[1] for found in changes.values() for change in found if change.path[:1] == ("pools",)]
    pools = list(dict.fromkeys(changed))
    if pools:
        note = "The pools whose settings a what-if changes (capacity, usable share, approvals, ...)."
    else:
        pools = finite_in_house_pools(runs[0].scenario)
        note = "No what-if changes a pool's settings: the base's finite in-house pools, for where the children go."
    chart = out.image(charts.changed_pools(runs, pools), "changed_pools") if pools else ""
    return [f"<p class='note'>{note}</p>", chart]


def _trust_box(run: RunSummary) -> str:
    """A few lines from the backtests of the authority's calibration: how often later published figures fell
    inside the simulated band, and how far off the mean was."""
    trust = backtest_trust(run.scenario.name)
    title = "<h3>How far to trust this</h3>"
    paired = (
        "<p>The differences are paired (every scenario sees the same children), so their intervals are narrow; "
        "they hold only as far as the base itself does.</p>"
    )
    if trust is None:
        return (
            f"<div class='trust'>{title}{paired}<p>No backtest of this scenario's authority is recorded "
            "(docs/calibration/backtest_scores_&lt;authority&gt;.csv), so its forecasts are untested.</p></div>"
        )
    stock, every = trust.scores["children in care"], trust.scores["all figures"]
    flat = f" (a forecast held flat: {stock.flat_mape:.1f}%)" if stock.flat_mape is not None else ""
    return (
        f"<div class='trust'>{title}{paired}<p>Run from every earlier published date of the "
        f"{html.escape(trust.authority.replace('_', ' ').title())} calibration, the model put "
        f"<b>{stock.inside_p10_p90:.0%}</b> of {stock.count} later published counts of children in care inside "
        f"its P10-P90 band (80% would be right), its mean off by {stock.mape:.1f}% on average{flat}; of all "
        f"{every.count} later published figures, {every.inside_p10_p90:.0%} inside, off by {every.mape:.1f}%. "
        "A handful of figures: a rough guide, not a guarantee (docs/calibration.md).</p></div>"
    )


def _drivers_section(run: RunSummary, out: ReportCharts) -> list[str]:
    """The tornado chart, when the run draws its parameters."""
    figure = charts.tornado(run)
    if figure is None:
        return []
    return [
        "<h2>What drives the spread</h2>",
        "<p class='note'>Each replication draws its own entry rate, trend, length of stays and prices from the "
        "scenario's [uncertainty] table. The bars say which of them move children in care and external spend "
        "in year 3 the most.</p>",
        out.image(figure, "drivers"),
    ]


def _meta(run: RunSummary) -> str:
    horizon = run.scenario.horizon
    return (
        f"<p class='note'>Care sufficiency simulator version {__version__}; seed {run.seed}; "
        f"{run.replications} replications; horizon {horizon.start} to {horizon.end}.</p>"
    )


class ReportCharts:
    """Where a report's charts go: each drawn once, embedded in the page as PNG and, with a folder (a comparison's
    charts/), written there too as `<name>.png` and `.svg`, so the files and the page show one drawing."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder

    def image(self, figure: Figure | None, name: str) -> str:
        if figure is None:
            return ""
        if self.folder is None:
            data = charts.png_bytes(figure)
        else:
            data = charts.save(figure, self.folder / name)[0].read_bytes()
        encoded = base64.b64encode(data).decode("ascii")
        return f"<img alt='chart' src='data:image/png;base64,{encoded}'/>"


def _year_end_table(run: RunSummary) -> str:
    stock = run.stock_by_need
    stock = stock[stock["date"].isin(run.year_end_snapshots)]
    table = stock.pivot_table(index="need", columns="date", values="mean", aggfunc="sum").round(1)
    table.columns = [c.strftime("%Y-%m-%d") for c in table.columns]
    heading = "Children in care at the start and on each 31 March (counted at 00:00 on 1 April; mean of replications)"
    return f"<h3>{heading}</h3>" + table.to_html(border=0)


def _fallbacks_section(run: RunSummary) -> list[str]:
    """Emergency, unregistered and high-cost placements and secure shortages by financial year: a table a row of
    FALLBACK_ROWS, each figure named (placements started, child-days, ...), with its mean, 95% CI of the mean and
    P10-P90 band."""
    table = run.fallbacks_by_year
    rows = run.fallback_rows
    counted = "".join(f"<li><b>{html.escape(FALLBACK_ROWS[row])}</b></li>" for row in rows)
    parts = [
        f"<h3>{FALLBACKS_TITLE}</h3>",
        "<p class='note'>Financial years run April to March (as the budget counts them); a year marked "
        "<i>part year</i> is only partly inside the horizon. Each table counts, per financial year, the "
        "<b>placements started</b> in it and the <b>child-days</b> spent in it (a placement over 31 March counts "
        "its days in each year), or for high-cost placements the <b>placements in the year</b> (active on any of "
        "its days) and their <b>share</b> of the placements priced per child. Mean across replications; 95% CI: "
        f"the confidence interval of that mean (simulation error); {html.escape(run.band_label)}. A child already "
        "in such a placement on the start date counts its days, not a placement started. The figures count:</p>",
        f"<ul class='note'>{counted}</ul>",
        f"<p class='note'>{html.escape(run.high_cost_note)}</p>" if run.high_cost_note else "",
    ]
    for row in rows:
        values = table[table["row"] == row]
        units = ROW_UNITS[row]
        shown = pd.DataFrame({"financial year": _year_labels(values[values["unit"] == units[0]])})
        for unit in units:
            cells, head = values[values["unit"] == unit], UNIT_SHORT_NAMES[unit]
            places = 1 if unit == "share_percent" else 0  # a band of counts in whole numbers, of shares to 0.1%
            shown[f"{head}: mean"] = [f"{v:,.1f}" for v in cells["mean"]]
            shown[f"{head}: 95% CI"] = _ranges(cells["ci95_low"], cells["ci95_high"], 1)
            shown[f"{head}: P10-P90"] = _ranges(cells["p10"], cells["p90"], places)
        words = FALLBACK_ROWS[row]
        parts += [f"<p>{html.escape(words[0].upper() + words[1:])}</p>", shown.to_html(index=False, border=0)]
    return parts


def _children_section(run: RunSummary, out: ReportCharts) -> list[str]:
    """Children in care on 31 March (distance, UASC), leaving care at 18 and care leavers by financial year: a
    table a measure (mean, 95% CI of the mean, P10-P90), then the care leavers by age and accommodation."""
    table = run.children_by_year
    parts = [
        f"<h2>{html.escape(CHILDREN_TITLE)}</h2>",
        "<p class='note'>Counted on the 31 March that ends each financial year (at the end of the day), except "
        "the young people leaving care at 18, counted over the year. A placement is beyond 20 miles by its "
        "pool's within-20-miles share; out of area (outside the authority's boundary) is not modelled. Mean "
        f"across replications; 95% CI: the confidence interval of that mean; {html.escape(run.band_label)}. "
        "A 31 March past the horizon end has no figures.</p>",
    ]
    parts.append(out.image(charts.children_by_year(run), "children_by_year"))
    parts += _row_tables(table, CHILDREN_ROWS, ("beyond_20_miles_percent",))
    return parts + _care_leavers_table(run) + _stability_section(run)


def _stability_section(run: RunSummary) -> list[str]:
    """The DfE stability indicators and placement moves by financial year, a table a measure."""
    table = run.stability_by_year
    parts = [
        f"<h2>{html.escape(STABILITY_TITLE)}</h2>",
        "<p class='note'>Only financial years (and quarters) wholly inside the horizon; long-term stability from "
        "the first 31 March 2.5 years into the horizon, since a child in care on the start date is recorded as "
        "placed on it. A move is a placement started by a child already in care (an emergency bridge, a "
        "breakdown's new placement, a step-back or a planned change of placement need). Mean across replications; "
        f"95% CI: the confidence interval of that mean; {html.escape(run.band_label)}.</p>",
    ]
    if table.empty:
        return [*parts, "<p class='note'>No financial year lies wholly inside the horizon.</p>"]
    return parts + _row_tables(table, STABILITY_ROWS, STABILITY_PERCENT_ROWS)


def _row_tables(table: pd.DataFrame, rows: dict[str, str], percent_rows: tuple[str, ...]) -> list[str]:
    """A table for each of `rows` in a by-year summary (financial_year, part_year, date, row and the statistics):
    the year, when it is counted (a 31 March, or over the year), mean, 95% CI and P10-P90."""
    parts = []
    for row, words in rows.items():
        values = table[table["row"] == row]
        if values.empty:
            continue
        places = 1 if row in percent_rows else 0
        shown = pd.DataFrame(
            {
                "financial year": _year_labels(values),
                "counted": ["over the year" if pd.isna(d) else f"{d:%d %B %Y}" for d in values["date"]],
                "mean": [f"{v:,.1f}" for v in values["mean"]],
                "95% CI": _ranges(values["ci95_low"], values["ci95_high"], 1),
                "P10-P90": _ranges(values["p10"], values["p90"], places),
            }
        )
        parts += [f"<p>{html.escape(words[0].upper() + words[1:])}</p>", shown.to_html(index=False, border=0)]
    return parts


def _care_leavers_table(run: RunSummary) -> list[str]:
    """Care leavers on 31 March by age and accommodation, mean (P10-P90), a column a financial year."""
    leavers = run.care_leavers_by_year
    leavers = leavers[leavers["group"] == "all"]
    parts = [
        "<h3>Care leavers on 31 March by age and accommodation</h3>",
        f"<p class='note'>{html.escape(CARE_LEAVERS_NOTE)} Mean ({html.escape(run.band_label)}).</p>",
    ]
    if leavers.empty:
        return parts
    cells = [
        f"{m:,.1f} ({a:,.0f} to {b:,.0f})"
        for m, a, b in zip(leavers["mean"], leavers["p10"], leavers["p90"], strict=True)
    ]
    shown = pd.DataFrame(
        {
            "age": leavers["age"].to_numpy(),
            "accommodation": leavers["accommodation"].str.replace("_", " ").to_numpy(),
            "year": _year_labels(leavers),
            "cell": cells,
        }
    ).pivot_table(index=["age", "accommodation"], columns="year", values="cell", aggfunc="first", sort=False)
    shown.columns.name = None
    return [*parts, shown.to_html(border=0)]


def _year_labels(rows: pd.DataFrame) -> list[str]:
    return [
        f"{y} (part year)" if part else y for y, part in zip(rows["financial_year"], rows["part_year"], strict=True)
    ]


def _ranges(low: pd.Series, high: pd.Series, places: int) -> list[str]:
    """'3.2 to 4.1'; 'n/a' where there is no interval (one replication)."""
    return ["n/a" if pd.isna(a) else f"{a:,.{places}f} to {b:,.{places}f}" for a, b in zip(low, high, strict=True)]


def _spend_section(run: RunSummary, out: ReportCharts) -> list[str]:
    budget = run.budget
    if budget.empty:
        return ["<p class='note'>No price book in this scenario: no budget.</p>"]
    main = budget[budget["breakdown"].isin(["total", "provision"])]
    table = main.pivot_table(index="financial_year", columns="category", values=["mean", "p10", "p90"], sort=False)
    table = (table / 1e6).round(2)
    table.columns = [f"{category} {stat} (£m)" for stat, category in table.columns]
    return [
        "<h2>Spend by financial year</h2>",
        out.image(charts.spend_by_pool(run), "spend_by_pool"),
        "<p class='note'>£ million at each year's prices; mean and P10/P90 across replications.</p>",
        table.to_html(border=0),
    ]


def _differences_table(comparison: Comparison, year: str) -> str:
    rows = comparison.differences
    rows = rows[(rows["financial_year"] == year) & (rows["category"] == "all")]
    money = [charts.MEASURE_UNITS.get(measure) == "£ million" for measure in rows["measure"]]

    def column(values: pd.Series) -> list[str]:
        return [_amount(value, is_money) for value, is_money in zip(values, money, strict=True)]

    lows, highs = column(rows["ci95_low"]), column(rows["ci95_high"])
    shown = pd.DataFrame(
        {
            "what-if": rows["what_if"].to_numpy(),
            "measure": [LABELS.get(m, m) for m in rows["measure"]],
            "base (mean)": column(rows["base_mean"]),
            "what-if (mean)": column(rows["what_if_mean"]),
            "difference": column(rows["difference"]),
            "95% CI of the difference": [f"{low} to {high}" for low, high in zip(lows, highs, strict=True)],
        }
    )
    return (
        "<p class='note'>Mean across replications; difference = what-if minus base, with the 95% confidence "
        "interval of its mean (paired replications). Money in pounds at that year's prices.</p>"
        + shown.to_html(index=False, border=0)
    )


def _amount(value: float, money: bool) -> str:
    """Pounds to the pound with the sign in front (-£708,774), other measures to one decimal place."""
    if money:
        return f"{'-' if value < 0 else ''}£{abs(value):,.0f}"
    return f"{value:,.1f}"


def _sizing_section(
    curves: list[SizingCurve], run: RunSummary, out: ReportCharts, replications: int | None
) -> list[str]:
    """`replications`: those of the sizing runs (each point's), when known; the footnote leaves them out else."""
    return [
        "<h2>How many in-house places would be needed</h2>",
        "<p class='note'>Share of each in-house pool's demand placed in-house against its capacity, from one run "
        "with the pool unlimited (Erlang's truncation identity). A dispersion well above 1 means a trend or bursts "
        "of demand: the curve then overstates the share placed.</p>",
        out.image(charts.sizing(curves, scenario_name=run.scenario.name, replications=replications), "sizing"),
        sizing_table(curves).to_html(index=False, border=0),
    ]


def _assumptions(scenario_paths: list[Path]) -> list[str]:
    """The appendix: every setting of the scenario files (and those they extend) whose comment says 'assumption',
    those sharing one reason listed together, with the reason in words and without the authors' own notes."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for path in _with_parents(scenario_paths):
        for setting, why in _marked_settings(path.read_text(encoding="utf-8")):
            reasons.setdefault((path.name, why), []).append(setting)
    rows = [
        {"file": file, "settings": _listed(settings), "assumed because": why}
        for (file, why), settings in reasons.items()
    ]
    parts = [
        "<h2 id='assumptions'>Appendix: assumptions</h2>",
        "<p class='note'>Every setting whose comment in the scenario files marks it as an assumption (a figure not "
        "published for the authority); settings resting on one reason are listed together. The files themselves "
        "give the sources of the rest.</p>",
    ]
    if rows:
        parts.append(pd.DataFrame(rows).to_html(index=False, border=0, escape=True, classes="assumptions"))
    else:
        parts.append("<p class='note'>No scenario file given, or no setting marked as an assumption.</p>")
    parts += ["<h2>Method</h2>", f"<p>{METHOD}</p>"]
    return parts


def _marked_settings(text: str) -> list[tuple[str, str]]:
    """(setting, reason) for each line of a scenario file whose comment says 'assumption'; the reason is the
    comment cleaned (`_reason`), or the table's own `source` when the comment only points to it."""
    found, table, sources, last_key = [], "", {}, ""
    for line in text.splitlines():
        code, _, comment = line.partition("#")
        stripped = code.strip()
        if stripped.startswith("["):
            table = stripped.strip("[]") + "."
            continue
        match = re.match(r'^([\w."-]+)\s*=\s*(.*)$', stripped)
        if match:
            last_key = match.group(1)
            if last_key == "source":
                sources[table] = match.group(2).strip().strip('"')
        if "assumption" not in comment.lower() or not stripped or last_key in IDENTITY_KEYS:
            continue
        setting = table + (last_key if match else f"{last_key} (an entry)")
        why = _reason(comment) or _reason(sources.get(table, ""))
        if why:
            found.append((setting, why))
    return found


def _reason(comment: str) -> str:
    """What a comment says is assumed (from its first 'assumption:' on, when it first says where a figure comes
    from), without pointers elsewhere ('see source', 'see above') or the authors' own notes ('check',
    'recalled'); '' when nothing else is left."""
    text = comment.strip()
    marker = re.search(r"\bassumption\s*:\s*", text, flags=re.IGNORECASE)
    if marker:
        text = text[marker.end() :]
        while text.count(")") > text.count("("):  # the comment's own bracket around its assumption
            text = text[: text.rindex(")")] + text[text.rindex(")") + 1 :]
    text = re.sub(r"\s*\((see [^()]*|[^()]*\b(check|recalled)\b[^()]*)\)", "", text, flags=re.IGNORECASE)
    kept = [c.strip() for c in re.split(r";\s*", text) if c.strip() and not INTERNAL_NOTE.search(c.strip())]
    text = re.sub(r",?\s*see (source|above|the header|inflation_source)\b", "", "; ".join(kept), flags=re.IGNORECASE)
    return text.strip(" ,;:")


def _listed(settings: list[str], shown: int = 6) -> str:
    """'a, b (3 entries), c and 2 more': each setting once, with how often an array of tables repeats it."""
    unique = list(dict.fromkeys(settings))
    named = [f"{s} ({settings.count(s)} entries)" if settings.count(s) > 1 else s for s in unique[:shown]]
    more = len(unique) - shown
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


def _with_parents(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        current: Path | None = Path(path)
        while current is not None and current.is_file() and current not in found:
            found.append(current)
            match = re.search(r'^extends\s*=\s*"([^"]+)"', current.read_text(encoding="utf-8"), re.MULTILINE)
            current = current.parent / match.group(1) if match else None
    return found


def _page(title: str, parts: list[str]) -> str:
    body = "\n".join(part for part in parts if part)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
