"""What `sufficiency run`, `compare` and `region` write and print: run.json, Parquet tables, summary.csv, the
budget, reports and charts, a short summary. Every figure comes from the runs' summaries (`sim.results.summary`),
so a file and the report showing the same figure show the same numbers, computed once.

Output directories are written to a temporary sibling and renamed into place, so a failed run
never leaves a half-written directory behind.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.analysis.compare import Comparison, differences_by_year
from sim.analysis.region import RegionResult
from sim.analysis.sizing import finite_in_house_pools, sizing_curves, sizing_table
from sim.engine.vocabulary import GAP_KINDS, SUFFICIENT_GAP_KINDS
from sim.present.output_folders import replaced_folder
from sim.present.report import comparison_report, run_report
from sim.present.workbook import spreadsheet_safe, write_budget_workbook, write_comparison_workbook
from sim.results.runner import RunResult
from sim.results.summary import (
    CARE_LEAVERS_NOTE,
    CHILDREN_ROWS,
    CHILDREN_SHORT_NAMES,
    CHILDREN_TITLE,
    FALLBACK_ROWS,
    FALLBACK_SHORT_NAMES,
    FALLBACK_UNITS,
    FALLBACKS_TITLE,
    ROW_UNITS,
    STABILITY_PERCENT_ROWS,
    STABILITY_ROWS,
    STABILITY_SHORT_NAMES,
    STABILITY_TITLE,
    SUMMARY_KEYS,
    RunSummary,
)


def write_run(result: RunResult, out_dir: Path, scenario_path: Path | None = None) -> None:
    """Write every output of a run to `out_dir`, replacing it only once all files are written."""
    with staged_directory(out_dir, "run") as staging:
        write_tables(result, staging)
        (staging / "report.html").write_text(run_report(result.run_summary, scenario_path), encoding="utf-8")


def write_comparison(comparison: Comparison, scenario_paths: list[Path], out_dir: Path, sizing_replications: int):
    """report.html, differences.csv, summary.txt, comparison.csv, medium_term.csv, comparison.xlsx and, in charts/,
    every chart of the report as PNG and SVG (each drawn once, for the page and its files)."""
    base = comparison.base.scenario
    pools = finite_in_house_pools(base)
    curves = sizing_curves(base, pools, sizing_replications) if pools else []
    with staged_directory(out_dir, "compare") as staging:
        spreadsheet_safe(comparison.differences).to_csv(staging / "differences.csv", index=False, float_format="%.4f")
        (staging / "summary.txt").write_text("\n".join(comparison.summaries.values()) + "\n", encoding="utf-8")
        spreadsheet_safe(differences_by_year(comparison)).to_csv(staging / "comparison.csv", index=False)
        spreadsheet_safe(comparison.medium_term).to_csv(staging / "medium_term.csv", index=False)
        write_comparison_workbook(comparison, staging / "comparison.xlsx")
        spreadsheet_safe(sizing_table(curves)).to_csv(staging / "sizing.csv", index=False)
        report = comparison_report(comparison, scenario_paths, curves, staging / "charts", sizing_replications)
        (staging / "report.html").write_text(report, encoding="utf-8")
    return Path(out_dir) / "report.html"


def staged_directory(out_dir: Path, writer: str = "run"):
    """A staging sibling folder that replaces `out_dir` atomically once everything in it was written; refused
    (InputError, nothing written) unless `out_dir` is new, empty or an earlier output: see
    sim.present.output_folders."""
    return replaced_folder(out_dir, writer)


def write_tables(result: RunResult, directory: Path) -> None:
    """run.json, every table (Parquet), their summaries, summary.csv, the sufficiency-statement tables and the
    budget, into an existing folder."""
    run = result.run_summary
    metadata = {
        "version": __version__,
        "seed": result.seed,
        "replications": result.replications,
        "wall_seconds": round(result.wall_seconds, 3),
        "events": result.events,
        "tables": sorted(result.tables),
        "bands": "ci95 = 95% confidence interval of the mean across replications; "
        f"p10/p50/p90 = spread of single replications ({run.band_source})",
        # Child-level rows of a starting-population CSV stay out of the outputs; the count is kept.
        "scenario": result.scenario.model_dump(mode="json", exclude={"start_population": {"children"}}),
        "starting_children_from_csv": len(result.scenario.start_population.children),
    }
    (directory / "run.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    for name, table in result.tables.items():
        table.to_parquet(directory / f"{name}.parquet", index=False)
    for name in SUMMARY_KEYS:
        summary = run.table_summary(name)
        if summary is not None:
            summary.to_parquet(directory / f"{name}_summary.parquet", index=False)
    # per simulation year, then by financial year
    rows = pd.concat([run.yearly, run.fallbacks_csv, run.children_csv], ignore_index=True)
    spreadsheet_safe(rows).to_csv(directory / "summary.csv", index=False, float_format="%.4g")
    # the sufficiency-statement tables, dense with total rows: fixed decimals, as "%.4g" would write 1.6e+04 days
    spreadsheet_safe(run.statement).to_csv(directory / "statement.csv", index=False, float_format="%.3f")
    spreadsheet_safe(run.statement_gaps).to_csv(directory / "statement_gaps.csv", index=False, float_format="%.3f")
    if run.scenario.prices is not None:
        spreadsheet_safe(run.budget).to_csv(directory / "budget.csv", index=False, float_format="%.2f")
        spreadsheet_safe(run.budget_wide).to_csv(directory / "budget_wide.csv", index=False)
        spreadsheet_safe(run.spend_bridge).to_csv(directory / "spend_bridge.csv", index=False)
        if run.scenario.budget:
            spreadsheet_safe(run.overspend).to_csv(directory / "budget_check.csv", index=False)
        if run.grant_by_year is not None:
            spreadsheet_safe(run.grant_by_year).to_csv(directory / "grant.csv", index=False, float_format="%.2f")
        write_budget_workbook(run, directory / "budget.xlsx")


def write_region(region: RegionResult, out_dir: Path) -> Path:
    """region_summary.csv (every authority and the region total) and each authority's result tables in a
    folder of its own; written whole or not at all."""
    with replaced_folder(out_dir, "region") as staging:
        spreadsheet_safe(region.summary).to_csv(staging / "region_summary.csv", index=False)
        for name, result in zip(region.authorities, region.results, strict=True):
            (staging / name).mkdir()
            write_tables(result, staging / name)
    return out_dir / "region_summary.csv"


TERMINAL_WIDTH = 100  # tables wrap into blocks that repeat their row labels, prose wraps with a hanging indent


def _fitted(lines: list[str]) -> str:
    """The lines joined, every line kept within TERMINAL_WIDTH (a legend's continuation indented)."""
    wrapped = [
        line if len(line) <= TERMINAL_WIDTH else textwrap.fill(line, TERMINAL_WIDTH, subsequent_indent="    ")
        for text in lines
        for line in text.split("\n")
    ]
    return "\n".join(wrapped)


def print_summary(result: RunResult) -> str:
    """A short plain-text summary for the terminal."""
    run = result.run_summary
    scenario = run.scenario
    summary = run.yearly
    lines = [
        f"{scenario.name}: {run.replications} replications, seed {run.seed}, "
        f"{scenario.horizon.start} to {scenario.horizon.end} ({run.wall_seconds:.1f} s)",
        "",
        "Children in care at the start and on each 31 March, by placement need and pool (mean across replications):",
    ]
    stock = summary[summary["measure"].isin(["children_in_care_at_start", "children_in_care"])]
    table = stock.pivot_table(index=["need", "pool"], columns="period", values="mean", aggfunc="sum", fill_value=0)
    table.columns = [c.strftime("%Y-%m-%d") for c in table.columns]
    totals = table.sum().to_frame("total").T
    totals.index = pd.MultiIndex.from_tuples([("total", "")])
    lines.append(pd.concat([table, totals]).round(1).to_string(line_width=TERMINAL_WIDTH))
    lines.append("")
    lines.append(
        f"Total children in care: mean, 95% CI of the mean, and P10/P50/P90 across replications ({run.band_source}):"
    )
    lines.append(_total_stock(run).round(1).to_string(line_width=TERMINAL_WIDTH))
    for measure, what in (
        ("gap_placements", "placements not in the first-choice pool"),
        ("gap_child_days", "child-days spent outside the first-choice pool"),
    ):
        gaps = summary[summary["measure"] == measure]
        lines.append("")
        if gaps.empty:
            lines.append("Sufficiency gap: every child was placed in their first-choice pool.")
            break
        lines.append(
            f"Sufficiency gap per financial year, {what} (placed externally and not sufficient together; mean; "
            "* a part year):"
        )
        index = ["need", "wanted_pool", "used_pool"]
        table = gaps.pivot_table(index=index, columns="financial_year", values="mean", aggfunc="sum", fill_value=0)
        table.columns = _year_columns(table.columns, run)
        lines.append(table.round(1).to_string(line_width=TERMINAL_WIDTH))
    lines += _ledger_lines(summary, run)
    lines += ["", *_fallback_lines(run)]
    lines += ["", *_children_lines(run)]
    lines += ["", *_stability_lines(run)]
    if scenario.prices is not None:
        lines += ["", *_spend_lines(run)]
    return _fitted(lines)


def _year_columns(years: pd.Index, run: RunSummary) -> list[str]:
    """Financial-year column heads, a part year marked with *."""
    return [f"{year}*" if run.part_years.get(year) else year for year in years]


def _ledger_lines(summary: pd.DataFrame, run: RunSummary) -> list[str]:
    """The gap ledger per financial year: child-days by kind, not sufficient apart from placed externally."""
    ledger = summary[summary["measure"] == "gap_ledger_child_days"]
    if ledger.empty:
        return []
    table = ledger.pivot_table(
        index="kind", columns="financial_year", values="mean", aggfunc="sum", fill_value=0, sort=False
    )
    order = [kind for kind in GAP_KINDS if kind in table.index]
    table = table.reindex(order)
    table.index = [f"{'right kind' if kind in SUFFICIENT_GAP_KINDS else 'not sufficient'}: {kind}" for kind in order]
    table.columns = _year_columns(table.columns, run)
    return [
        "",
        "Sufficiency gap ledger per financial year, child-days by kind (mean; * a part year): "
        "not sufficient, or the right kind below the first choice:",
        table.round(1).to_string(line_width=TERMINAL_WIDTH),
    ]


def _fallback_lines(run: RunSummary) -> list[str]:
    """Emergency, unregistered and high-cost placements and secure shortages by financial year: mean (P10-P90),
    one table a unit (placements started, child-days, ...), a column a row."""
    table = run.fallbacks_by_year
    places = table["unit"].map(lambda unit: 1 if unit == "share_percent" else 0)
    cells = [
        f"{mean:.1f} ({low:.{k}f}-{high:.{k}f})"
        for mean, low, high, k in zip(table["mean"], table["p10"], table["p90"], places, strict=True)
    ]
    table = table.assign(
        cell=cells,
        year=[
            f"{year}{' (part)' if part else ''}"
            for year, part in zip(table["financial_year"], table["part_year"], strict=True)
        ],
        what=table["row"].map(FALLBACK_SHORT_NAMES),
    )
    rows = run.fallback_rows
    lines = [
        f"{FALLBACKS_TITLE} (April to March; part: the horizon covers only part of it),",
        f"mean ({run.band_label}; the 95% CIs of the means are in summary.csv):",
        *(f"  {FALLBACK_SHORT_NAMES[row]}: {FALLBACK_ROWS[row]}" for row in rows),
        *([f"  {run.high_cost_note}"] if run.high_cost_note else []),
    ]
    for unit, words in FALLBACK_UNITS.items():
        shown_rows = table[table["unit"] == unit]
        if shown_rows.empty:
            continue
        shown = shown_rows.pivot_table(index="year", columns="what", values="cell", aggfunc="first", sort=False)
        shown = shown[[FALLBACK_SHORT_NAMES[row] for row in rows if unit in ROW_UNITS[row]]]
        shown.index.name, shown.columns.name = None, None
        lines += [f"{words[0].upper()}{words[1:]}:", shown.to_string(line_width=TERMINAL_WIDTH)]
    return lines


def _children_lines(run: RunSummary) -> list[str]:
    """Children in care on 31 March (distance, UASC), leaving care and care leavers by financial year: a row a
    measure, a column a year, mean (P10-P90); then the care leavers on 31 March by age and accommodation."""
    table = run.children_by_year
    shown = _year_cells(table, table["row"].map(CHILDREN_SHORT_NAMES), table["row"] == "beyond_20_miles_percent")
    shown = shown.reindex(
        [CHILDREN_SHORT_NAMES[row] for row in CHILDREN_ROWS if CHILDREN_SHORT_NAMES[row] in shown.index]
    )
    leavers = run.care_leavers_by_year
    leavers = leavers[leavers["group"] == "all"]
    what = leavers["age"] + ", " + leavers["accommodation"].str.replace("_", " ")
    lines = [
        f"{CHILDREN_TITLE} (April to March; part: the horizon covers only part of it),",
        f"mean ({run.band_label}; the 95% CIs of the means are in summary.csv):",
        *(f"  {CHILDREN_SHORT_NAMES[row]}: {words}" for row, words in CHILDREN_ROWS.items()),
        "  A 31 March past the horizon end has no figures (blank).",
        shown.fillna("").to_string(line_width=TERMINAL_WIDTH),
        "",
        f"Care leavers on 31 March by age and accommodation (mean ({run.band_label})):",
        f"  {CARE_LEAVERS_NOTE}",
    ]
    if len(leavers):
        cells = _year_cells(leavers, what, pd.Series(False, index=leavers.index))
        lines.append(cells.to_string(line_width=TERMINAL_WIDTH))
    return lines


def _stability_lines(run: RunSummary) -> list[str]:
    """The DfE stability indicators and placement moves by financial year: a row a measure, a column a year."""
    table = run.stability_by_year
    head = [
        f"{STABILITY_TITLE} (whole financial years only; long-term stability from the first 31 March 2.5 years into "
        f"the horizon), mean ({run.band_label}; the 95% CIs of the means are in summary.csv):",
        *(f"  {STABILITY_SHORT_NAMES[row]}: {words}" for row, words in STABILITY_ROWS.items()),
    ]
    if table.empty:
        return [*head, "  No financial year lies wholly inside the horizon: no stability figures."]
    shown = _year_cells(table, table["row"].map(STABILITY_SHORT_NAMES), table["row"].isin(STABILITY_PERCENT_ROWS))
    shown = shown.reindex(
        [STABILITY_SHORT_NAMES[row] for row in STABILITY_ROWS if STABILITY_SHORT_NAMES[row] in shown.index]
    )
    return [*head, shown.fillna("").to_string(line_width=TERMINAL_WIDTH)]


def _year_cells(table: pd.DataFrame, what: pd.Series, percent: pd.Series) -> pd.DataFrame:
    """A table of 'mean (P10-P90)' cells, a row for each `what`, a column a financial year (part years marked);
    shares to one decimal place, counts' bands in whole numbers."""
    cells = [
        f"{mean:.1f} ({low:.{1 if share else 0}f}-{high:.{1 if share else 0}f})"
        for mean, low, high, share in zip(table["mean"], table["p10"], table["p90"], percent, strict=True)
    ]
    year = [
        f"{y}{' (part)' if part else ''}" for y, part in zip(table["financial_year"], table["part_year"], strict=True)
    ]
    frame = pd.DataFrame({"what": what.to_numpy(), "year": year, "cell": cells})
    shown = frame.pivot_table(index="what", columns="year", values="cell", aggfunc="first", sort=False)
    shown.index.name, shown.columns.name = None, None
    return shown


def _spend_lines(run: RunSummary) -> list[str]:
    budget = run.budget
    spend = budget[budget["breakdown"].isin(["total", "provision"])].copy()
    spend["range"] = [
        f"{low / 1e6:.2f} to {high / 1e6:.2f}" for low, high in zip(spend["p10"], spend["p90"], strict=True)
    ]
    spend["mean"] = (spend["mean"] / 1e6).round(2)
    table = spend.pivot_table(index="financial_year", columns="category", values="mean", sort=False)
    ranges = spend.pivot_table(index="financial_year", columns="category", values="range", aggfunc="first", sort=False)
    table = table.join(ranges.add_suffix(" P10-P90"))
    return [
        f"Spend by financial year, £ million at each year's prices (mean; P10-P90 across replications, "
        f"{run.band_source}; "
        f"price base {run.scenario.prices.base_date}; part years at the horizon ends):",
        table.to_string(line_width=TERMINAL_WIDTH),
        *_grant_lines(run),
    ]


def _grant_lines(run: RunSummary) -> list[str]:
    """Home Office UASC grant income by financial year, £ million (mean), when the price book has the grant."""
    grant = run.grant_by_year
    if grant is None:
        return []
    total = grant[grant["group"] == "all"]
    pairs = zip(total["financial_year"], total["mean"], strict=True)
    years = ", ".join(f"{year} {mean / 1e6:.2f}" for year, mean in pairs)
    text = f"Home Office UASC grant income (not in the spend above), £ million, mean: {years}"
    return [textwrap.fill(text, TERMINAL_WIDTH, subsequent_indent="    ")]


def _total_stock(run: RunSummary) -> pd.DataFrame:
    """At the start and on each 31 March (shown as the 1 April at 00:00 that counts it)."""
    summary = run.stock_total
    summary = summary[summary["date"].isin(run.year_end_snapshots)]
    columns = ["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]
    return summary.set_index(summary["date"].dt.strftime("%Y-%m-%d"))[columns].T
