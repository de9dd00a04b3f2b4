"""budget.xlsx and comparison.xlsx, and the escaping every spreadsheet-bound file goes through (budget.csv, ...).

Every figure is a number (money with a currency format, counts to one decimal), never text; every price and
inflation rate appears on the Assumptions sheet with its source, so a finance officer can trace it. Every text cell
goes through `spreadsheet_text`: a source or a name from a scenario file is never read by Excel as a formula.
The figures come from the run's summary (`RunSummary.budget`, `budget_wide`, `overspend`, `spend_bridge`,
`fallbacks_by_year`, `statement`, `statement_gaps`) and the comparison (`compare.differences_by_year`,
`Comparison.medium_term`); nothing is computed here: each sheet of a table is that table as its CSV holds it
(budget_wide.csv, comparison.csv, ...), and the sufficiency-statement sheets are those tables as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from sim.analysis.compare import Comparison, differences_by_year
from sim.engine.price_book import PriceBook
from sim.engine.vocabulary import AGE_BANDS
from sim.results.budget import BUDGET_COLUMNS, STATISTICS
from sim.results.summary import (
    CARE_LEAVERS_NOTE,
    CHILDREN_ROWS,
    CHILDREN_TITLE,
    FALLBACK_ROWS,
    FALLBACK_UNITS,
    FALLBACKS_TITLE,
    STABILITY_ROWS,
    STABILITY_TITLE,
    STATEMENT_YEARS,
    STATISTIC_COLUMNS,
    RunSummary,
)

FALLBACKS_SHEET = "Emergency and shortages"  # a sheet name holds at most 31 characters
BY_YEAR_SHEET = "By financial year"
BUDGET_CHECK_SHEET = "Budget check"
BRIDGE_SHEET = "Volume and price"
MONEY_COLUMNS = (
    "budget",
    "spend_mean",
    "spend_p10",
    "spend_p90",
    "spend_from",
    "volume",
    "price",
    "one_off",
    "spend_to",
)
CHILDREN_SHEET = "Children and care leavers"
STATEMENT_SHEET = "Sufficiency statement"  # RunSummary.statement as it is
STATEMENT_GAPS_SHEET = "Sufficiency gaps"  # RunSummary.statement_gaps as it is
POUNDS = '"£"#,##0'
POUNDS_PENCE = '"£"#,##0.00'
COUNTS = "#,##0.0"  # children, child-days and shares: one decimal
RANGES_NOTE = (
    "mean: average across replications. ci95_low/ci95_high: 95% confidence interval of that mean "
    "(simulation error: more replications make it narrower). p10/p50/p90: 10th, 50th and 90th percentiles "
    "across replications (the spread of outcomes: a year as bad as p90 happens about one year in ten)."
)
# A cell starting with one of these is read by Excel (or LibreOffice) as a formula, or as one after a tab or
# carriage return; OWASP's advice against formula injection is a leading apostrophe, which makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """Text that a spreadsheet shows as written: a leading apostrophe when it could start a formula, and the
    control characters an xlsx file cannot hold (TOML strings can) replaced, so the workbook is still written."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_value(value: object) -> object:
    """A cell's value: text escaped by `spreadsheet_text`, numbers, dates and blanks unchanged."""
    return spreadsheet_text(value) if isinstance(value, str) else value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text value escaped, for a CSV that a finance user opens in Excel."""
    safe = frame.copy()
    for name in safe.columns:
        if _has_text(safe[name]):
            safe[name] = safe[name].map(spreadsheet_value)
    return safe


def _has_text(column: pd.Series) -> bool:
    return column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype | pd.StringDtype)


# ---------------------------------------------------------------------------------------------
# The workbook


def write_budget_workbook(run: RunSummary, path: Path | BinaryIO) -> None:
    """budget.xlsx of a run's budget: Summary, By pool, By need, Weekly cost check, Emergency and shortages,
    Children and care leavers, Sufficiency statement, Sufficiency gaps, Assumptions, Notes (to a file, or to an
    in-memory file for the workshop app's download)."""
    summary = run.budget
    workbook = Workbook()
    workbook.remove(workbook.active)
    years = [column for column in run.budget_wide.columns if column not in ("statistic", "breakdown", "category")]
    frame_sheet(workbook, BY_YEAR_SHEET, run.budget_wide, years)
    sheets = [
        ("Summary", summary[summary["breakdown"].isin(["total", "provision"])], POUNDS),
        ("By pool", summary[summary["breakdown"] == "pool"], POUNDS),
        ("By need", summary[summary["breakdown"] == "need"], POUNDS),
        ("Weekly cost check", summary[summary["breakdown"] == "average_weekly_cost"], POUNDS_PENCE),
    ]
    for title, frame, number_format in sheets:
        _table_sheet(workbook, title, frame[BUDGET_COLUMNS], number_format)
    if len(run.overspend):
        frame_sheet(workbook, BUDGET_CHECK_SHEET, run.overspend, MONEY_COLUMNS)
    frame_sheet(workbook, BRIDGE_SHEET, run.spend_bridge, MONEY_COLUMNS)
    _fallbacks_sheet(workbook, run)
    _children_sheet(workbook, run)
    _statement_sheets(workbook, run)
    _assumptions_sheet(workbook, run.scenario.prices)
    _one_off_and_budget_rows(workbook["Assumptions"], run.scenario)
    _notes_sheet(workbook, run)
    _printable(workbook)
    workbook.save(path)


def frame_sheet(
    workbook: Workbook,
    title: str,
    frame: pd.DataFrame,
    money: tuple[str, ...] | list[str],
    counts: tuple[str, ...] | list[str] = (),
) -> None:
    """A sheet holding `frame` as its CSV does: the header, then a row a row (blank for NaN); `money` columns in
    pounds, `counts` columns to one decimal, other numbers as they are."""
    sheet = workbook.create_sheet(title)
    _append(sheet, [str(column) for column in frame.columns])
    for row in frame.itertuples(index=False):
        _append(sheet, [None if isinstance(v, float) and np.isnan(v) else _plain(v) for v in row])
    for index, column in enumerate(frame.columns, start=1):
        number_format = POUNDS if column in money else COUNTS if column in counts else None
        if number_format:
            for cell in sheet[get_column_letter(index)][1:]:
                cell.number_format = number_format
    _finish(sheet)


def _plain(value: object) -> object:
    """numpy scalars as Python numbers (openpyxl writes those)."""
    return value.item() if isinstance(value, np.generic) else value


def write_comparison_workbook(comparison: Comparison, path: Path | BinaryIO) -> None:
    """comparison.xlsx: what-if minus base by financial year with its 95% CI and over the medium term
    (comparison.csv), the medium-term table with the payback year (medium_term.csv), and notes."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    by_year = differences_by_year(comparison)
    numbers = [c for c in by_year.columns if c not in ("what_if", "measure", "category", "statistic", "unit")]
    frame_sheet(workbook, "Differences by year", by_year, [])
    sheet = workbook["Differences by year"]
    for row in sheet.iter_rows(min_row=2):
        money = row[list(by_year.columns).index("unit")].value == "£"
        for cell in row:
            if by_year.columns[cell.column - 1] in numbers:
                cell.number_format = POUNDS if money else COUNTS
    frame_sheet(workbook, "Medium term", comparison.medium_term, [])
    _comparison_notes(workbook, comparison)
    _printable(workbook)
    workbook.save(path)


def _printable(workbook: Workbook) -> None:
    """Every sheet prints landscape, one page wide with its header row on every page: a finance officer's
    printout of the by-year table then shows every financial year side by side."""
    for sheet in workbook.worksheets:
        sheet.page_setup.orientation = "landscape"
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.print_title_rows = "1:1"


def _comparison_notes(workbook: Workbook, comparison: Comparison) -> None:
    medium = comparison.medium_term
    period = medium["years"].iloc[0] if len(medium) else "none (no whole financial year)"
    lines = [
        f"Base: {comparison.base.scenario.name}. What-ifs: "
        + ", ".join(run.scenario.name for run in comparison.what_ifs)
        + f". Replications: {comparison.base.replications}, common random numbers (the same children in each).",
        "Differences: what-if minus base, mean across replications paired by replication, with the 95% confidence "
        "interval of that mean (statistic difference, ci95_low, ci95_high); base_mean and what_if_mean beside.",
        "Financial years run 1 April to 31 March; a column marked (part year) is a year the horizon covers only part "
        "of. Money is cash at each year's prices; one-off costs are cash on their date.",
        f"Medium term: the whole financial years {period}. Money, placements and child-days are summed over those "
        "years in each replication, children at a time averaged over them; the CI is that of the per-replication "
        "totals (not a sum of the yearly CIs).",
        "Payback year (Medium term, spend_total): for a what-if with one-off costs, the first financial year from the "
        "first one-off cost on by whose end the mean cumulative net cost since the horizon start is zero or a saving.",
        "Children at a time: the mean of the counts of children and young people in the places on the first of each "
        "month in the year (Staying Put and Staying Close included). Placements started: placements begun in the year.",
    ]
    _notes(workbook, lines)


def _table_sheet(workbook: Workbook, title: str, frame: pd.DataFrame, number_format: str) -> None:
    sheet = workbook.create_sheet(title)
    _append(sheet, list(frame.columns))
    for row in frame.itertuples(index=False):
        _append(sheet, [None if isinstance(v, float) and np.isnan(v) else v for v in row])
    money_columns = [i + 1 for i, c in enumerate(frame.columns) if c in STATISTICS]
    for column in money_columns:
        for cell in sheet[get_column_letter(column)][1:]:
            cell.number_format = number_format
    _finish(sheet)


def _fallbacks_sheet(workbook: Workbook, run: RunSummary) -> None:
    """Emergency, unregistered and high-cost placements and secure shortages by financial year
    (`fallbacks_by_year`), each row saying what it counts; the band and the words for each row are on the Notes
    sheet too."""
    table = run.fallbacks_by_year
    sheet = workbook.create_sheet(FALLBACKS_SHEET)
    _append(sheet, ["financial_year", "part_year", "what", "counts", *STATISTIC_COLUMNS])
    for row in table.itertuples(index=False):
        values = [getattr(row, column) for column in STATISTIC_COLUMNS]
        what, counts = FALLBACK_ROWS[row.row], FALLBACK_UNITS[row.unit]
        part = "part year" if row.part_year else "whole year"
        _append(sheet, [row.financial_year, part, what, counts, *(None if np.isnan(v) else v for v in values)])
    for column in range(5, 5 + len(STATISTIC_COLUMNS)):
        for cell in sheet[get_column_letter(column)][1:]:
            cell.number_format = COUNTS
    _finish(sheet)


def _children_sheet(workbook: Workbook, run: RunSummary) -> None:
    """Children in care on 31 March (distance, UASC), leaving care at 18 and care leavers aged 18-20
    (`children_by_year`), the stability indicators (`stability_by_year`), then the care leavers by age and
    accommodation (`care_leavers_by_year`)."""
    sheet = workbook.create_sheet(CHILDREN_SHEET)
    _append(sheet, ["financial_year", "part_year", "counted", "what", "age", "accommodation", *STATISTIC_COLUMNS])
    table = pd.concat([run.children_by_year, run.stability_by_year], ignore_index=True)
    words = {**CHILDREN_ROWS, **STABILITY_ROWS}
    for row in table.itertuples(index=False):
        counted = "over the year" if pd.isna(row.date) else f"{row.date:%Y-%m-%d}"
        _append(
            sheet,
            [row.financial_year, _part(row.part_year), counted, words[row.row], None, None, *_statistics(row)],
        )
    leavers = run.care_leavers_by_year
    for row in leavers.itertuples(index=False):
        what = "care leavers" if row.group == "all" else "UASC care leavers"
        _append(
            sheet,
            [
                row.financial_year,
                _part(row.part_year),
                f"{row.date:%Y-%m-%d}",
                what,
                row.age,
                row.accommodation.replace("_", " "),
                *_statistics(row),
            ],
        )
    for column in range(7, 7 + len(STATISTIC_COLUMNS)):
        for cell in sheet[get_column_letter(column)][1:]:
            cell.number_format = COUNTS
    _finish(sheet)


def _statement_sheets(workbook: Workbook, run: RunSummary) -> None:
    """The sufficiency-statement tables as they are, the 31 March as a date and the figures to one decimal, as the
    other sheets of counts show them."""
    statement = run.statement.assign(date=run.statement["date"].dt.date)
    for title, frame in ((STATEMENT_SHEET, statement), (STATEMENT_GAPS_SHEET, run.statement_gaps)):
        frame_sheet(workbook, title, frame, [], STATISTIC_COLUMNS)


def _part(part_year: bool) -> str:
    return "part year" if part_year else "whole year"


def _statistics(row) -> list[float | None]:
    return [None if np.isnan(value) else value for value in (getattr(row, column) for column in STATISTIC_COLUMNS)]


def _assumptions_sheet(workbook: Workbook, prices: PriceBook) -> None:
    sheet = workbook.create_sheet("Assumptions")
    _append(sheet, ["pool", "item", "value", "unit", "inflation % a year", "source"])
    _append(sheet, ["(all)", "price base date", prices.base_date.isoformat(), "date", None, ""])
    _append(sheet, ["(all)", "default inflation", None, "", prices.inflation_percent_per_year, prices.inflation_source])
    for name, group in prices.inflation_groups.items():
        _append(
            sheet, [", ".join(group.pools), f"inflation group '{name}'", None, "", group.percent_per_year, group.source]
        )
    for pool, price in prices.pools.items():
        for key, item, value, unit in _price_items(price):
            _append(sheet, [pool, item, value, unit, prices.inflation_percent(pool), price.source_of(key)])
            sheet.cell(row=sheet.max_row, column=3).number_format = POUNDS_PENCE
    _finish(sheet)


def _one_off_and_budget_rows(sheet, scenario) -> None:
    """The scenario's one-off costs (cash on their date) and budget lines below the prices, each with its note."""
    for cost in scenario.one_off_costs:
        where = cost.pool or cost.provision
        _append(sheet, [where, f"one-off cost on {cost.date}", cost.amount, "£ (cash)", None, cost.note])
        sheet.cell(row=sheet.max_row, column=3).number_format = POUNDS
    for label, year in scenario.budget.items():
        for provision, amount in year.set_lines().items():
            _append(sheet, [provision, f"budget {label}", amount, "£", None, year.note])
            sheet.cell(row=sheet.max_row, column=3).number_format = POUNDS
    _finish(sheet)


def _price_items(price) -> list[tuple[str, str, float, str]]:
    """(price key, what it is, value, unit) of each price of a pool; the key finds its source (`source_of`)."""
    items = []
    if price.weekly is not None:
        items.append(("weekly", "weekly price per child", price.weekly, "£/week"))
    if price.weekly_by_age_band is not None:
        items += [
            ("weekly_by_age_band", f"weekly allowance, age {band}", price.weekly_by_age_band[band], "£/week")
            for band in AGE_BANDS
        ]
    if price.weekly_distribution is not None:
        dist = price.weekly_distribution
        items += [
            ("weekly_distribution", "weekly price per placement: median (lognormal)", dist.median, "£/week"),
            ("weekly_distribution", "weekly price per placement: 90th percentile", dist.p90, "£/week"),
            ("weekly_distribution", "weekly price per placement: mean implied", dist.mean, "£/week"),
        ]
    for tier, dist in (price.weekly_by_tier or {}).items():
        items += [
            ("weekly_by_tier", f"weekly price per placement, tier {tier}: median (lognormal)", dist.median, "£/week"),
            ("weekly_by_tier", f"weekly price per placement, tier {tier}: 90th percentile", dist.p90, "£/week"),
        ]
    for key, label, unit in (
        ("fee_weekly", "carer fee per child", "£/week"),
        ("block_per_home_per_year", "block cost per home", "£/year"),
        ("per_household_per_year", "fixed cost per approved fostering household", "£/year"),
        ("block_places", "block contract: places paid for whether used or not", "places"),
        ("block_weekly_per_place", "block contract: price per contracted place", "£/week"),
        ("per_occupied_night", "cost per occupied bed-night", "£/night"),
        ("staying_put_weekly", "Staying Put allowance", "£/week"),
        ("staying_close_weekly", "Staying Close cost", "£/week"),
    ):
        value = getattr(price, key)
        if value:
            items.append((key, label, value, unit))
    items += [
        ("block_changes", f"block contract from {c.date}: places", c.places, "places") for c in price.block_changes
    ]
    items += [
        ("uplift_percent_by_year", f"uplift on 1 April of {year}", pct, "% (scheduled)")
        for year, pct in (price.uplift_percent_by_year or {}).items()
    ]
    return items


def _notes_sheet(workbook: Workbook, run: RunSummary) -> None:
    scenario, years = run.scenario, run.calendar.financial_years
    first_partial = scenario.horizon.start != pd.Timestamp(years.first_years[0], 4, 1).date()
    lines = [
        f"Scenario: {scenario.name}. Replications: {run.replications}. Seed: {run.seed}.",
        f"Horizon: {scenario.horizon.start} to {scenario.horizon.end}. Financial years run 1 April to 31 March.",
        "The first and last financial years are part years when the horizon does not start or end on 1 April."
        if first_partial or scenario.horizon.end != pd.Timestamp(years.first_years[-1] + 1, 4, 1).date()
        else "The horizon covers whole financial years.",
        f"Prices are at {scenario.prices.base_date} and rise by each pool's inflation rate on every 1 April after it.",
        "In-house homes are charged a block cost per home per year whatever their occupancy, pro rata by days open.",
        "Placements priced per placement draw their weekly price once, when they start, from the child's own "
        "random numbers: the same child gets the same price in every scenario run with the same seed.",
        f"{RANGES_NOTE} The spread holds {run.band_source}.",
        f"{BY_YEAR_SHEET}: the budget with the financial years across the columns (a year marked '(part year)' is "
        "one the horizon covers only part of), in four blocks of rows, mean, P10, P50 and P90, each by total, "
        "provision (in-house, external), pool, need and component (placements, bed nights, block, households, "
        "block contract used and void, one-off). A P10 or P90 is that of each row on its own: P90s do not add up.",
        f"{BRIDGE_SHEET}: mean spend from the first whole financial year to each later whole year, by pool: volume "
        "= the change in child-days at the first year's spend per child-day; price = the rest (prices, inflation, "
        "fixed costs, mix within the pool); one_off = the change in one-off costs. spend_to = spend_from + volume + "
        "price + one_off; the row 'total' adds the pools.",
        f"{BUDGET_CHECK_SHEET} (when the scenario sets budget.<financial year>): the share of replications whose "
        "spend in the year is above the budget line (probability_over), with the mean, P10 and P90 of that spend.",
        "One-off costs ([[one_off_costs]]) are cash on their date: neither inflated nor moved by the price draws.",
        "Spend by pool and by need sum to the total (means); in-house plus external equals the total.",
        "average_weekly_cost: a pool's total cost divided by the weeks its places were occupied; compare with the "
        "price book (Assumptions) as a check. For block-cost homes it shows the cost per occupied bed-week.",
        f"{FALLBACKS_SHEET}: {FALLBACKS_TITLE}. Per financial year, placements started in it and child-days spent "
        "in it (a placement over 31 March counts its days in each year), or for high-cost placements those active "
        "in it and their share of the placements priced per child; mean, 95% CI of the mean, "
        f"{run.band_label}. A child "
        "already in such a placement on the start date counts its days, not a placement started. Rows:",
        *(FALLBACK_ROWS[row][0].upper() + FALLBACK_ROWS[row][1:] + "." for row in run.fallback_rows),
        f"{CHILDREN_SHEET}: {CHILDREN_TITLE}. Counted on the 31 March that ends each financial year (at the end of "
        "the day), except young people leaving care at 18, counted over the year; mean, 95% CI of the mean, "
        f"{run.band_label}. Out of area (outside the authority's boundary) is not modelled: only distance.",
        CARE_LEAVERS_NOTE,
        f"{CHILDREN_SHEET} also holds {STABILITY_TITLE}: whole financial years (and quarters) inside the horizon "
        "only; long-term stability from the first 31 March 2.5 years into the horizon.",
        f"{STATEMENT_SHEET}: children in care at the end of 31 March of each of the next "
        f"{STATEMENT_YEARS} whole financial years, by placement need, age band on that date and sex; every "
        "combination, 0 where no child is, with 'all' rows for every need, band and sex (the grand total last in "
        f"each year). Totals are summed in each replication before the statistics. {run.band_label}.",
        f"{STATEMENT_GAPS_SHEET}: the gap ledger by financial year, kind (not sufficient: "
        "secure shortage, emergency, unregistered, wrong kind, placed apart, beyond 20 miles; the right kind below "
        "the first choice: external_right_kind, in_house_right_kind), age band at the placement's start, as "
        "child-days in the year and children at a time (those days over the year's days in the horizon); every "
        "combination, with all_not_sufficient, all_right_kind and 'all' rows.",
    ]
    _notes(workbook, lines)


def _notes(workbook: Workbook, lines: list[str]) -> None:
    """The Notes sheet: a heading, then one wrapped line a row."""
    sheet = workbook.create_sheet("Notes")
    _append(sheet, ["Notes"])
    for line in lines:
        _append(sheet, [line])
    sheet.column_dimensions["A"].width = 120
    for row in sheet.iter_rows(min_row=2):
        row[0].alignment = Alignment(wrap_text=True)
    sheet["A1"].font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _append(sheet, row: list) -> None:
    """The only way a row enters a sheet, so no text cell escapes `spreadsheet_text`."""
    sheet.append([spreadsheet_value(value) for value in row])


def _finish(sheet) -> None:
    """Bold frozen header row and column widths fitted to the content."""
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        width = max(len(_display(cell.value)) for cell in column)
        sheet.column_dimensions[get_column_letter(column[0].column)].width = min(max(width + 2, 10), 80)


def _display(value) -> str:
    if isinstance(value, float):
        return f"£{value:,.2f}"
    return "" if value is None else str(value)
