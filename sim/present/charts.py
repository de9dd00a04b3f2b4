"""Every chart of the tool, drawn in one style.

Why one module: workshops put scenario charts side by side, so a colour, a unit and a band must mean the same
thing on every figure. The palette, type sizes and panel helpers are `sim.present.style`, shared with the
calibration's charts. The rules kept here:

- Paul Tol's colour-blind-safe "muted" palette; a placement need has the same colour on every chart.
- Plain-English titles and axis labels with units.
- A small grey footnote on every figure naming the scenario(s), the number of replications and which band is
  drawn: the P10-P90 spread across replications (risk, what to plan for) or the 95% confidence interval of a mean
  difference (Monte Carlo error). The two are never mixed on one figure without saying so.
- Text from a scenario file (its description, scenario and pool names) is cut to a few lines with an ellipsis
  (`short`): the footnote is wrapped and laid out on every draw, and a 900 KB description took a chart 40 s.

Figures are built as `matplotlib.figure.Figure` objects without pyplot: no GUI backend is ever chosen (safe
headless, in worker processes and under pytest, with no need for `matplotlib.use("Agg")` to be called here and
clobber a notebook's own backend), pyplot's registry never fills up, and a notebook still displays a returned
figure. Charts read a run's summaries (`sim.results.summary.RunSummary`), computed once per run and shared with
the report and the files; here they are only reshaped into numpy arrays for plotting.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.analysis.compare import Comparison
from sim.analysis.sizing import TARGETS, SizingCurve, finite_in_house_pools
from sim.engine.vocabulary import GAP_KINDS, PLACEMENT_NEEDS, POST_18_ARRANGEMENTS, SUFFICIENT_GAP_KINDS
from sim.present.style import (
    BAND_ALPHA,
    FOOTNOTE_GREY,
    GUIDE_GREY,
    INK,
    MIN_FIGURE_WIDTH,
    OVERLAY_BAND_ALPHA,
    PNG_DPI,
    POOL_COLOURS,
    THOUSANDS,
    TOL_MUTED,
    date_axis,
    fan,
    finish,
    panels,
    style_axes,
)
from sim.results.summary import OCCUPANCY_VALUES, RunSummary

P10_P90 = "band: P10-P90 across replications"
P10_P90_BARS = "error bars: P10-P90 of the total across replications (bars: means)"
CI_OF_DIFFERENCE = "bars: 95% confidence interval of the mean difference"

NEED_ORDER = PLACEMENT_NEEDS + POST_18_ARRANGEMENTS
NEED_COLOURS = {need: TOL_MUTED[index % len(TOL_MUTED)] for index, need in enumerate(NEED_ORDER)}
NEED_LABELS = {
    "fostering": "Fostering",
    "kinship_fostering": "Kinship fostering",
    "residential": "Children's home",
    "secure": "Secure",
    "supported_16plus": "Supported accommodation (16+)",
    "placed_with_parents": "Placed with parents",
    "placed_for_adoption": "Placed for adoption",
    "other": "Other",
    "parent_and_child": "Parent and child",
    "remand": "Remand (youth detention)",
    "staying_put": "Staying Put (18+)",
    "staying_close": "Staying Close (18+)",
}

KIND_LABELS = {
    "secure_shortage": "Secure shortage (needs secure, none)",
    "emergency": "Emergency (bridging)",
    "unregistered": "Unregistered",
    "wrong_kind": "Wrong kind of placement",
    "placed_apart": "Placed apart from siblings",
    "beyond_20_miles": "Right kind, beyond 20 miles",
    "external_right_kind": "Placed externally (right kind)",
    "in_house_right_kind": "Another in-house pool (right kind)",
}
KIND_COLOURS = {
    "secure_shortage": TOL_MUTED[7],
    "emergency": TOL_MUTED[6],
    "unregistered": TOL_MUTED[8],
    "wrong_kind": TOL_MUTED[4],
    "placed_apart": TOL_MUTED[5],
    "beyond_20_miles": TOL_MUTED[0],
    "external_right_kind": TOL_MUTED[1],
    "in_house_right_kind": TOL_MUTED[2],
}

DIFFERENCE_MEASURES = (
    "placed_in_house",
    "placed_externally",
    "fallback_placements",
    "beyond_20_miles",
    "gap_child_days_total",
    "not_sufficient_child_days_total",
    "placed_externally_child_days_total",
    "spend_external",
    "spend_in_house",
    "spend_total",
)
MEASURE_LABELS = {
    "in_house_at_a_time": "In-house",
    "placed_in_house": "Placed in-house",
    "placed_externally": "Placed externally",
    "fallback_placements": "Fallback placements (outside the preferred pools)",
    "beyond_20_miles": "Placed over 20 miles from home",
    "gap_child_days_total": "Outside the first choice (every gap)",
    "not_sufficient_child_days_total": "Not sufficient (gap ledger)",
    "placed_externally_child_days_total": "Placed externally, right kind",
    "spend_external": "External spend",
    "spend_in_house": "In-house spend",
    "spend_total": "Total spend",
}
# (unit shown on the axis, divisor): placements and child-days differ by orders of magnitude, so each unit
# gets its own panel rather than sharing one "counts" axis that would flatten the placement bars.
MEASURE_UNITS = {
    "in_house_at_a_time": "children at a time",
    "placed_in_house": "placements started",
    "placed_externally": "placements started",
    "fallback_placements": "placements started",
    "beyond_20_miles": "placements started",
    "gap_child_days_total": "child-days",
    "not_sufficient_child_days_total": "child-days",
    "placed_externally_child_days_total": "child-days",
    "spend_external": "£ million",
    "spend_in_house": "£ million",
    "spend_total": "£ million",
}
UNIT_ORDER = ("placements started", "child-days", "£ million")
# The fan's panels, what a commissioner and finance ask first: in-house children (at a time when the comparison
# counts them, else placements started), external spend and total spend.
FAN_MEASURES = (("in_house_at_a_time", "placed_in_house"), ("spend_external",), ("spend_total",))
DATE_LABEL = "date ({} counted on the 1st of each month)"
YEAR_LABEL = "financial year (April to March)"
MAX_DESCRIPTION_CHARS = 300  # a scenario's description in a footnote: about three lines
MAX_NAME_CHARS = 80  # a scenario or pool name in a title, legend or footnote


# ---------------------------------------------------------------------------------------------
# The charts


def fan_chart(run: RunSummary) -> Figure:
    """Children in care by placement need over time: one small panel per need that has any children.

    Why small multiples: needs differ by an order of magnitude (fostering against secure), so one shared axis
    would flatten the small ones; each panel has its own scale. The band is the spread of futures to plan for.
    """
    summary = run.stock_by_need
    present = set(summary.loc[summary["mean"] > 0, "need"])
    needs = [need for need in NEED_ORDER if need in present] + sorted(present - set(NEED_ORDER))
    dates = _dates(run)
    grid = _grid(summary, "date", "need", dates, needs)
    figure, axes = panels(
        len(needs), "Children in care by placement need", DATE_LABEL.format("children"), "children in care (count)"
    )
    for column, (ax, need) in enumerate(zip(axes, needs, strict=False)):
        fan(ax, dates, grid["mean"][:, column], grid["p10"][:, column], grid["p90"][:, column], _need_colour(need))
        ax.set_title(_need_label(need), fontsize=9)
        date_axis(ax)
    if not needs:
        _nothing(axes[0], "No children in care in this run.")
    return finish(figure, _scenario_note(run), f"Line: mean; {P10_P90} ({run.band_source}).")


def overlay(runs: list[RunSummary]) -> Figure:
    """What differs between scenarios, overlaid: the finite in-house places occupied over time, and external spend
    by financial year.

    Why these two: children in care is the same in every scenario by design (the same children enter and leave),
    so overlaying it draws one line; where the children are placed, and what that costs, is what a what-if moves.
    The places occupied are the sum of the pools' means (exact for a mean; a band of a sum is not the sum of the
    pools' bands, so none is drawn); external spend has its P10-P90 band across replications.
    """
    if not runs:
        raise ValueError("overlay needs at least one run")
    title = "The scenarios overlaid: in-house places occupied and external spend"
    figure, (places, spend) = panels(2, title, "", "", (4.6, 3.2))
    pools = [pool for run in runs for pool in finite_in_house_pools(run.scenario)]
    pools = list(dict.fromkeys(pools))
    for index, run in enumerate(runs):
        colour, name = TOL_MUTED[index % len(TOL_MUTED)], short(run.scenario.name, MAX_NAME_CHARS)
        dates = _dates(run)
        mine = [pool for pool in pools if pool in run.scenario.pools]
        occupied = _grid(run.occupancy("occupied"), "date", "pool", dates, mine, ("mean",))["mean"].sum(axis=1)
        places.plot(dates, occupied, color=colour, linewidth=2, label=name)
        _external_spend_line(spend, run, colour, name)
    places.set_title("Places occupied, finite in-house pools", fontsize=9)
    places.set_ylabel("places occupied (count)", fontsize=9)
    places.set_xlabel(DATE_LABEL.format("places"), fontsize=9)
    date_axis(places)  # the axis is not from zero: the scenarios differ by a few places in a hundred or more
    spend.set_title("External spend", fontsize=9)
    spend.set_ylabel("£ million, cash with inflation", fontsize=9)
    _year_axis(spend, runs[0])
    if runs[0].budget.empty:
        _nothing(spend, "No price book: no spend.")
    _shared_legend([places, spend])
    notes = [_scenario_note(run, brief=True) for run in runs]
    sources = sorted({run.band_source for run in runs})
    in_house = ", ".join(_pool_label(pool) for pool in pools) or "none"
    return finish(
        figure,
        "Scenarios: " + "; ".join(notes) + f". Finite in-house pools: {in_house}.",
        "Lines: means (places occupied: the sum of the pools' means, no band; its axis does not start at zero); "
        f"external spend {P10_P90} "
        f"({'; '.join(sources)}).",
    )


def _external_spend_line(ax: Axes, run: RunSummary, colour: str, name: str) -> None:
    """One scenario's external spend by financial year, £ million, mean over its P10-P90 band."""
    budget = run.budget
    if budget.empty:
        return
    external = budget[(budget["breakdown"] == "provision") & (budget["category"] == "external")]
    years = run.calendar.financial_years.labels
    series = {stat: values / 1e6 for stat, values in _series(external, "financial_year", years).items()}
    x = np.arange(len(years))
    fan(ax, x, series["mean"], series["p10"], series["p90"], colour, name, OVERLAY_BAND_ALPHA)
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))


def occupancy(run: RunSummary) -> Figure:
    """Occupied in-house places against capacity, one panel per finite in-house pool.

    Why: the gap appears when the line meets the capacity step; seeing how often the band touches it says how
    tight the pool runs. Capacity is drawn as its mean, with its own P10 and P90 when foster-carer approvals and
    departures make it differ between replications.
    """
    pools = finite_in_house_pools(run.scenario)
    dates = _dates(run)
    title = "In-house places occupied against the usable places"
    figure, axes = panels(len(pools), title, DATE_LABEL.format("places"), "places (count)")
    grids = {value: _grid(run.occupancy(value), "date", "pool", dates, pools) for value in OCCUPANCY_VALUES}
    for column, (ax, pool) in enumerate(zip(axes, pools, strict=False)):
        _occupancy_panel(
            ax, dates, {value: {k: v[:, column] for k, v in grid.items()} for value, grid in grids.items()}
        )
        ax.set_title(_pool_label(pool), fontsize=9)
    if pools:
        _shared_legend(axes)
    else:
        _nothing(axes[0], "No finite in-house pool in this scenario.")
    notes = (
        "Occupied includes young people Staying Put or Staying Close. Usable places are the approved places times "
        "the pool's usable share, rounded down (the matching fills no more at once); both vary between "
        f"replications when foster carers are approved or leave. Lines: means; {P10_P90} ({run.band_source})."
    )
    return finish(figure, _scenario_note(run), notes)


def gap_by_need(run: RunSummary) -> Figure:
    """Sufficiency gap (child-days outside the first-choice pool) per financial year, stacked by need.

    Why financial years: the gap is read alongside budgets and sufficiency statements, which run April-March.
    Why error bars on the total only: the spread of each need's slice does not add up to the spread of the total.
    """
    years = run.calendar.financial_years.labels
    title = "Every gap by placement need and financial year\n(placed externally and not sufficient together)"
    figure, (ax,) = panels(1, title, YEAR_LABEL, "child-days outside the first-choice pool", (7.5, 4.0))
    if run.gap_days_total.empty:
        _nothing(ax, "No sufficiency gap: every child was placed in the first-choice pool.")
    else:
        by_need = run.gap_days_by_need
        present = set(by_need.loc[by_need["mean"] > 0, "need"])
        needs = [need for need in NEED_ORDER if need in present] + sorted(present - set(NEED_ORDER))
        means = _grid(by_need, "financial_year", "need", years, needs)["mean"]
        total = _series(run.gap_days_total, "financial_year", years)
        _stacked_years(ax, means, total, [_need_label(n) for n in needs], [_need_colour(n) for n in needs])
    _year_axis(ax, run)
    ax.yaxis.set_major_formatter(THOUSANDS)
    note = (
        "Gap: days children spent in a pool other than their first choice, placed externally and not sufficient "
        "together (the gap ledger chart tells them apart)."
    )
    return finish(figure, _scenario_note(run), note, P10_P90_BARS + ".")


def gap_ledger(run: RunSummary) -> Figure:
    """The gap ledger per financial year: child-days not sufficient, stacked by kind, beside those of the right
    kind from a pool below the first choice (placed externally).

    Why two panels: the first is the sufficiency duty not met (wrong kind, emergency, unregistered, a secure
    shortage, beyond 20 miles), the second a question of cost; summed, they would hide which drives the gap.
    """
    years = run.calendar.financial_years.labels
    title = "Sufficiency gap ledger by kind and financial year"
    figure, axes = panels(2, title, YEAR_LABEL, "child-days", (5.2, 4.0))
    by_kind = run.ledger_days_by_kind
    present = set(by_kind.loc[by_kind["mean"] > 0, "kind"])
    for ax, (sufficient, total, heading) in zip(
        axes,
        (
            (False, run.not_sufficient_days_total, "Not sufficient"),
            (True, run.right_kind_days_total, "Right kind, below the first choice"),
        ),
        strict=True,
    ):
        kinds = [k for k in GAP_KINDS if k in present and (k in SUFFICIENT_GAP_KINDS) == sufficient]
        ax.set_title(heading, fontsize=9)
        if not kinds:
            _nothing(ax, "None in this run.")
            continue
        means = _grid(by_kind, "financial_year", "kind", years, kinds)["mean"]
        series = _series(total, "financial_year", years)
        _stacked_years(ax, means, series, [KIND_LABELS[k] for k in kinds], [KIND_COLOURS[k] for k in kinds])
        _year_axis(ax, run)
        ax.yaxis.set_major_formatter(THOUSANDS)
    note = (
        "Every day a child in care spends outside a first-choice placement within 20 miles counts under one kind, "
        "the first that applies: secure shortage, emergency, unregistered, wrong kind, beyond 20 miles, placed "
        "externally, another in-house pool."
    )
    return finish(figure, _scenario_note(run), note, P10_P90_BARS + ", of each panel's total.")


CHILDREN_PANELS = (
    ("beyond_20_miles_percent", "Placed beyond 20 miles (%)", "share of children in care (%)"),
    ("uasc_in_care", "UASC in care", "children (count)"),
    ("care_leavers_18_20", "Care leavers aged 18-20", "young people (count)"),
)


def children_by_year(run: RunSummary) -> Figure:
    """On each 31 March: the share of children in care placed beyond 20 miles, UASC in care and care leavers
    aged 18-20, a panel each, mean with P10-P90 bars (from `RunSummary.children_by_year`).

    Why points with bars, not a fan: they are counted once a year, on 31 March, as the authorities report them;
    a 31 March past the horizon end has no point."""
    table = run.children_by_year
    years = run.calendar.financial_years.labels
    title = "Distance, UASC and care leavers on 31 March of each financial year"
    figure, axes = panels(len(CHILDREN_PANELS), title, YEAR_LABEL, "")
    for index, (ax, (row, heading, unit)) in enumerate(zip(axes, CHILDREN_PANELS, strict=True)):
        rows = table[table["row"] == row].set_index("financial_year").reindex(years)
        x = np.arange(len(years))
        mean = rows["mean"].to_numpy(dtype=float)
        errors = np.clip(np.vstack([mean - rows["p10"].to_numpy(float), rows["p90"].to_numpy(float) - mean]), 0, None)
        colour = TOL_MUTED[index % len(TOL_MUTED)]
        ax.errorbar(x, mean, yerr=errors, fmt="o-", color=colour, ecolor=INK, capsize=3, linewidth=1.5, markersize=4)
        ax.set_title(heading, fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.set_ylim(bottom=0)
        _year_axis(ax, run)
    note = (
        "Beyond 20 miles: by the placement's within-20-miles draw; out of area (outside the authority's boundary) "
        "is not modelled. Care leavers: left care at 18 in the horizon (or Staying Put on its start date), to 21 "
        "unless still Staying Put or Close; those who left before the start are not in the model, so early years "
        f"undercount. Points: means; bars: P10-P90 across replications ({run.band_source})."
    )
    return finish(figure, _scenario_note(run), note)


def spend_by_pool(run: RunSummary) -> Figure | None:
    """Spend per financial year, stacked by pool, in £ million; None when the scenario has no price book.

    Why stacked by pool: finance asks both "what is the total" and "where does it go"; the error bars give the
    range of the total (P10-P90) that a budget should be able to absorb.
    """
    if run.budget.empty:
        return None
    years = run.calendar.financial_years.labels
    by_pool = run.spend_by_pool
    present = set(by_pool.loc[by_pool["mean"] != 0, "pool"])
    pools = [pool for pool in run.scenario.pools if pool in present]
    means = _grid(by_pool, "financial_year", "pool", years, pools)["mean"] / 1e6
    total = _series(run.spend_total, "financial_year", years)
    total = {stat: values / 1e6 for stat, values in total.items()}
    title = "Placement spend by pool and financial year"
    figure, (ax,) = panels(1, title, YEAR_LABEL, "spend (£ million, cash with inflation)", (7.5, 4.0))
    colours = [_pool_colour(run, pool) for pool in pools]
    labels = [_pool_label(pool) + (" (in-house)" if run.scenario.pools[pool].in_house else "") for pool in pools]
    _stacked_years(ax, means, total, labels, colours)
    _year_axis(ax, run)
    note = "Spend: placement prices and in-house block costs for the days each financial year falls in the horizon."
    return finish(figure, _scenario_note(run), note, P10_P90_BARS + ".")


def differences(comparison: Comparison, financial_year: str, measures: list[str] | None = None) -> Figure:
    """Mean difference, what-if minus base, in one financial year, with its 95% confidence interval.

    Why a confidence interval here and not P10-P90: with common random numbers each replication's difference is
    the policy's effect on the same children, so the question is how precisely the mean effect is known.
    """
    rows, present = _difference_rows(comparison, financial_year, measures)
    units = [unit for unit in UNIT_ORDER if any(MEASURE_UNITS.get(m) == unit for m in present)]
    names = [run.scenario.name for run in comparison.what_ifs]  # as in the table; labels are cut short
    groups = [[m for m in present if MEASURE_UNITS.get(m) == unit] for unit in units]
    figure = Figure(figsize=(8.0, 1.4 + 0.3 * max(len(names), 2) * len(present) + 0.6 * len(units)))
    axes = list(np.ravel(figure.subplots(len(units), 1, height_ratios=[len(g) for g in groups], squeeze=False)))
    for ax, unit, group in zip(axes, units, groups, strict=True):
        _difference_panel(ax, rows, group, names, unit)
    axes[0].legend(frameon=False, fontsize=8, title="what-if", title_fontsize=8, loc="best")
    figure.suptitle(f"Effect of each what-if against the base, financial year {financial_year}", fontsize=12)
    base = comparison.base
    note = (
        f"Base: {_scenario_note(base, brief=True)}; what-ifs: {', '.join(short(n, MAX_NAME_CHARS) for n in names)}, "
        "with the same seed "
        "(common random numbers: replication r of every scenario sees the same children)."
    )
    return finish(figure, note, f"Bar: mean difference, what-if minus base; {CI_OF_DIFFERENCE}.")


def difference_fan(comparison: Comparison, measures: Sequence[Sequence[str]] = FAN_MEASURES) -> Figure:
    """The mean difference, what-if minus base, in every financial year, with its 95% confidence interval: a
    panel per measure, a line per what-if.

    Why every year: a what-if's effect builds up (a home opens part way through, children stay for years), so one
    year's bar hides whether it grows, holds or fades. `measures`: a panel for each group, the first of the group
    the comparison has.
    """
    table = comparison.differences
    rows = table[table["category"] == "all"] if not table.empty else table
    found = set(rows["measure"]) if not rows.empty else set()
    present = [next(m for m in group if m in found) for group in measures if found & set(group)]
    base = comparison.base
    years = base.calendar.financial_years.labels
    title = "Difference from the base, financial year by financial year"
    figure, axes = panels(max(len(present), 1), title, YEAR_LABEL, "difference, what-if minus base", (3.9, 2.9))
    x = np.arange(len(years))
    for ax, measure in zip(axes, present, strict=False):
        unit = MEASURE_UNITS.get(measure, "")
        scale = 1e6 if unit == "£ million" else 1.0
        for index, run in enumerate(comparison.what_ifs):
            mine = rows[(rows["what_if"] == run.scenario.name) & (rows["measure"] == measure)]
            mine = mine.set_index("financial_year").reindex(years).fillna(0.0)
            mean, low, high = (mine[c].to_numpy(dtype=float) / scale for c in ("difference", "ci95_low", "ci95_high"))
            colour = TOL_MUTED[index % len(TOL_MUTED)]
            ax.fill_between(x, low, high, color=colour, alpha=BAND_ALPHA, linewidth=0)
            ax.plot(x, mean, color=colour, linewidth=2, marker="o", markersize=3, label=short(run.scenario.name, 60))
        ax.axhline(0, color=INK, linewidth=0.8)
        ax.set_title(f"{MEASURE_LABELS.get(measure, measure)} ({unit})", fontsize=9)
        ax.yaxis.set_major_formatter(THOUSANDS)
        _year_axis(ax, base)
    if present:
        _shared_legend(axes)
    else:
        _nothing(axes[0], "No what-if, or none of these measures, to show.")
    note = (
        f"Base: {_scenario_note(base, brief=True)}; each what-if with the same seed (common random numbers: "
        "replication r of every scenario sees the same children)."
    )
    return finish(figure, note, "Lines: mean difference; band: 95% confidence interval of the mean difference.")


def changed_pools(runs: list[RunSummary], pools: Sequence[str]) -> Figure:
    """The places occupied against the usable places of `pools`, a row per pool and a column per scenario, each
    row on one scale, so a pool's scenarios are read side by side."""
    pools = list(pools) or [""]
    figure = Figure(figsize=(max(3.4 * len(runs), MIN_FIGURE_WIDTH), 2.4 * len(pools) + 1.4))
    grid = figure.subplots(len(pools), len(runs), squeeze=False)
    for row, pool in enumerate(pools):
        for column, run in enumerate(runs):
            ax = grid[row][column]
            style_axes(ax)
            if row == 0:
                ax.set_title(short(run.scenario.name, 40), fontsize=9)
            if pool not in run.scenario.pools:
                _nothing(ax, "Not in this scenario.")
                continue
            dates = _dates(run)
            values = {
                value: {k: v[:, 0] for k, v in _grid(run.occupancy(value), "date", "pool", dates, [pool]).items()}
                for value in OCCUPANCY_VALUES
            }
            _occupancy_panel(ax, dates, values)
        grid[row][0].set_ylabel(f"{_pool_label(pool)}\nplaces (count)", fontsize=9)
        top = max(ax.get_ylim()[1] for ax in grid[row])
        for ax in grid[row]:
            ax.set_ylim(0, top)
    _shared_legend(list(np.ravel(grid)))
    figure.suptitle("The changed pools: places occupied against the usable places, scenario by scenario", fontsize=12)
    sources = sorted({run.band_source for run in runs})
    scenarios = "Scenarios: " + "; ".join(_scenario_note(run, brief=True) for run in runs) + "."
    note = "Occupied includes young people Staying Put or Staying Close; usable places: approved x usable share."
    return finish(figure, scenarios, note, f"Lines: means; {P10_P90} ({'; '.join(sources)}).")


def sizing(curves: list[SizingCurve], scenario_name: str | None = None, replications: int | None = None) -> Figure:
    """Share of each pool's demand placed in-house against its capacity, one panel per pool.

    Why: it turns "how many places do we need?" into a reading off a curve at 80/90/95%, next to where the pool
    stands now. A SizingCurve carries neither the scenario nor the replications, so pass them for the footnote.
    """
    if not curves:
        raise ValueError("sizing needs at least one curve")
    title = "How many in-house places would place 80%, 90% or 95% of demand"
    ylabel = "share of the pool's demand placed in it (%)"
    figure, axes = panels(len(curves), title, "in-house places (capacity)", ylabel, (3.8, 3.0))
    for ax, curve in zip(axes, curves, strict=False):
        _sizing_panel(ax, curve)
    scenario = f"Scenario: {short(scenario_name, MAX_NAME_CHARS)}" if scenario_name else "Scenario: not given"
    runs = f"{replications} replications" if replications else "replications: not given"
    note = (
        f"{scenario}; {runs} with the pool unlimited, occupancy over the second half of the horizon. Curve: "
        "Erlang loss at the mean occupancy (variance/mean above 1 means the curve is optimistic)."
    )
    peakedness = max(curve.group_peakedness for curve in curves)
    if peakedness > 1:
        note += (
            f" Children arrive in sibling groups (the average child in a group of {peakedness:.2f}): a group needs a "
            "free place for each member at once, so fewer are placed than the curve shows; read the places needed "
            "as a lower bound."
        )
    return finish(
        figure,
        note,
        "Diamond: the pool's places when the window opens (start plus dated openings and closures). "
        "No band: the curve is drawn from the mean; check a point with sizing.share_placed.",
    )


def tornado(run: RunSummary) -> Figure | None:
    """Which drawn parameters drive the spread of children in care and of external spend in year 3.

    Why: a wide band invites the question "wide because of what?". Each bar is the range of the outcome's mean
    as one parameter goes from its P10 to its P90, the others held at their means; the longest bar is the
    figure to pin down first. None when the run draws no parameters.
    """
    effects = run.parameter_effects
    if effects is None:
        return None
    outcomes = list(dict.fromkeys(effects["outcome"]))
    figure, axes = panels(len(outcomes), "What drives the spread in year 3", "", "", (5.0, 2.6))
    for ax, outcome in zip(axes, outcomes, strict=False):
        rows = effects[effects["outcome"] == outcome].iloc[::-1]
        centre = float((rows["low"] + rows["high"]).mean() / 2)
        ax.barh(rows["parameter"], rows["high"] - rows["low"], left=rows["low"], color=TOL_MUTED[0])
        ax.axvline(centre, color="#444444", linewidth=0.8)
        ax.set_title(outcome, fontsize=9)
    notes = (
        "Bars: the range of the mean as one parameter goes from its P10 to its P90, the others at their means "
        f"(least squares over {run.replications} replications, each with its own parameter draw)."
    )
    return finish(figure, _scenario_note(run), notes)


def save(figure: Figure, path_stem: Path) -> list[Path]:
    """Write `<stem>.png` (dpi 110) and `<stem>.svg`, close the figure, and return the two paths.

    The SVG is written without a date and with fixed element ids so that re-running a report does not change
    files whose picture has not changed. It reuses the layout the PNG computed (`png`).
    """
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    png = path_stem.with_name(f"{path_stem.name}.png")
    svg = path_stem.with_name(f"{path_stem.name}.svg")
    png.write_bytes(png_bytes(figure, close=False))
    with matplotlib.rc_context({"svg.hashsalt": "care-sufficiency"}):
        figure.savefig(svg, facecolor="white", metadata={"Date": None})
    _close(figure)
    return [png, svg]


def png_bytes(figure: Figure, close: bool = True) -> bytes:
    """The chart as PNG (dpi 110). The constrained layout, about a third of a chart's drawing, runs in this draw
    only: the figure keeps its panels where it put them, so a later SVG of it is drawn without laying it out again."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, facecolor="white")
    figure.set_layout_engine("none")
    if close:
        _close(figure)
    return buffer.getvalue()


def _close(figure: Figure) -> None:
    from matplotlib import pyplot  # only to release a figure a caller made through pyplot; a no-op otherwise

    pyplot.close(figure)


# ---------------------------------------------------------------------------------------------
# Panels


def _occupancy_panel(ax: Axes, dates: np.ndarray, values: dict[str, dict[str, np.ndarray]]) -> None:
    """Occupied mean and band, the usable places as a step (with their band when they vary), the approved places
    when more than the usable ones, and the post-18 places."""
    occupied, capacity = values["occupied"], values["capacity"]
    fan(ax, dates, occupied["mean"], occupied["p10"], occupied["p90"], TOL_MUTED[0], "occupied")
    if np.any(capacity["p90"] > capacity["p10"]):
        for stat, label in (("p10", "usable places: P10 and P90"), ("p90", None)):
            ax.plot(dates, capacity[stat], drawstyle="steps-post", color=TOL_MUTED[6], linewidth=0.8, label=label)
    means = {value: stat["mean"] for value, stat in values.items()}
    ax.plot(
        dates,
        means["capacity"],
        drawstyle="steps-post",
        color=TOL_MUTED[6],
        linewidth=1.5,
        linestyle="--",
        label="usable places",
    )
    if "approved" in means and np.any(means["approved"] > means["capacity"] + 1e-9):
        ax.plot(dates, means["approved"], drawstyle="steps-post", color=TOL_MUTED[7], linewidth=1.0, label="approved")
    if np.any(means["post_18"] > 0):
        ax.plot(dates, means["post_18"], color=TOL_MUTED[2], linewidth=1.2, linestyle=":", label="of which aged 18+")
    ax.set_ylim(0, max(float(np.nanmax(occupied["p90"])), float(np.nanmax(capacity["p90"]))) * 1.1 + 0.5)
    date_axis(ax)


def _difference_panel(ax: Axes, rows: pd.DataFrame, measures: list[str], names: list[str], unit: str) -> None:
    """Horizontal bars for one unit: measures down the axis, one bar per what-if within each measure."""
    scale = 1e6 if unit == "£ million" else 1.0
    position = np.arange(len(measures), dtype=float)
    height = 0.8 / len(names)
    for index, name in enumerate(names):
        mine = rows[rows["what_if"] == name].set_index("measure").reindex(measures)
        mean, low, high = (mine[c].to_numpy(dtype=float) / scale for c in ("difference", "ci95_low", "ci95_high"))
        ax.barh(
            position + (index - (len(names) - 1) / 2) * height,
            mean,
            height=height * 0.9,
            color=TOL_MUTED[index % len(TOL_MUTED)],
            label=short(name, MAX_NAME_CHARS),
            xerr=np.vstack([mean - low, high - mean]),
            error_kw={"ecolor": INK, "capsize": 2.5, "elinewidth": 1.0},
        )
    ax.axvline(0, color=INK, linewidth=0.8)
    ax.set_yticks(position, [MEASURE_LABELS.get(m, m.replace("_", " ")) for m in measures], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"difference, what-if minus base ({unit})", fontsize=9)
    if unit != "£ million":
        ax.xaxis.set_major_formatter(THOUSANDS)
    style_axes(ax, grid_axis="x")


def _difference_rows(
    comparison: Comparison, financial_year: str, measures: list[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """The 'all' rows of one financial year, and the chosen measures present (standard order when not given)."""
    table = comparison.differences
    available = sorted(set(table["financial_year"])) if not table.empty else []
    if financial_year not in available:
        raise ValueError(f"no differences for financial year {financial_year!r}; available: {available}")
    wanted = list(measures) if measures is not None else list(DIFFERENCE_MEASURES)
    rows = table[(table["financial_year"] == financial_year) & (table["category"] == "all")]
    present = [m for m in wanted if m in set(rows["measure"])]
    if not present:
        raise ValueError(f"none of the measures {wanted} has an 'all' row in {financial_year}")
    return rows, present


def _sizing_panel(ax: Axes, curve: SizingCurve) -> None:
    """The curve up to the 95% point plus five places, target lines with their places, and today's capacity."""
    limit = max(curve.places_needed(0.95) + 5, curve.capacity_in_window + 2)
    keep = curve.capacities <= limit
    ax.plot(
        curve.capacities[keep],
        curve.share_placed[keep] * 100,
        color=TOL_MUTED[0],
        linewidth=2,
        marker="o",
        markersize=3,
    )
    for target in TARGETS:
        ax.axhline(target * 100, color=GUIDE_GREY, linewidth=0.8, linestyle="--")
    needed = "\n".join(f"{target:.0%} placed: {curve.places_needed(target)} places" for target in TARGETS)
    planned = curve.capacity_in_window
    share_planned = curve.share_placed_at(planned) * 100
    ax.plot([planned], [share_planned], marker="D", markersize=8, color=TOL_MUTED[6], linestyle="none")
    lines = [f"planned: {planned} places, {share_planned:.0f}% placed", needed]
    ax.text(
        0.98,
        0.04,
        "\n".join([*lines, f"variance/mean of demand: {curve.dispersion:.2f}"]),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color=INK,
        bbox={"facecolor": "white", "edgecolor": "#CCCCCC", "boxstyle": "round,pad=0.3"},
    )
    ax.set_xlim(0, limit)
    ax.set_ylim(0, 101)
    ax.set_title(_pool_label(curve.pool), fontsize=9)


def _stacked_years(
    ax: Axes, means: np.ndarray, total: dict[str, np.ndarray], labels: list[str], colours: list[str]
) -> None:
    """Bars per financial year stacked by category (columns of `means`), P10-P90 of the total as error bars."""
    x = np.arange(means.shape[0])
    bottom = np.zeros(means.shape[0])
    for column, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        ax.bar(
            x, means[:, column], bottom=bottom, width=0.7, color=colour, label=label, edgecolor="white", linewidth=0.5
        )
        bottom = bottom + means[:, column]
    errors = np.clip(np.vstack([total["mean"] - total["p10"], total["p90"] - total["mean"]]), 0, None)
    ax.errorbar(x, total["mean"], yerr=errors, fmt="none", ecolor=INK, capsize=4, linewidth=1.2, label="total: P10-P90")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], names[::-1], frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# ---------------------------------------------------------------------------------------------
# Data shaping: a run's summaries into numpy arrays


def _dates(run: RunSummary) -> np.ndarray:
    return np.array(run.calendar.snapshot_dates, dtype="datetime64[D]")


def _keys(values: Sequence) -> pd.Index:
    """An index that matches table keys: dates as timestamps, anything else as given."""
    array = np.asarray(values)
    return pd.DatetimeIndex(array) if np.issubdtype(array.dtype, np.datetime64) else pd.Index(list(values))


def _grid(
    summary: pd.DataFrame,
    row: str,
    column: str,
    rows: Sequence,
    columns: Sequence,
    stats: tuple[str, ...] = ("mean", "p10", "p90"),
) -> dict[str, np.ndarray]:
    """(rows, columns) arrays of each statistic; combinations absent from every replication are zero."""
    if summary.empty or not len(columns):
        return {stat: np.zeros((len(rows), len(columns))) for stat in stats}
    return {
        stat: summary.pivot_table(index=row, columns=column, values=stat, aggfunc="sum")
        .reindex(index=_keys(rows), columns=_keys(columns))
        .fillna(0.0)
        .to_numpy(dtype=float)
        for stat in stats
    }


def _series(
    summary: pd.DataFrame, key: str, order: Sequence, stats: tuple[str, ...] = ("mean", "p10", "p90")
) -> dict[str, np.ndarray]:
    """1-D arrays of each statistic in `order`; keys absent from every replication are zero."""
    if summary.empty:
        return {stat: np.zeros(len(order)) for stat in stats}
    indexed = summary.set_index(key).reindex(_keys(order)).fillna(0.0)
    return {stat: indexed[stat].to_numpy(dtype=float) for stat in stats}


def _stock_summary(run: RunSummary, need: str | None) -> pd.DataFrame:
    """Children in care by date: all needs, or the rows of one need."""
    if need is None:
        return run.stock_total
    by_need = run.stock_by_need
    return by_need[by_need["need"] == need].drop(columns="need")


# ---------------------------------------------------------------------------------------------
# Axes and labels (the shared style is sim.present.style)


def _year_axis(ax: Axes, run: RunSummary) -> None:
    """Financial years on x; a year the horizon only partly covers is marked, so a short bar is not misread."""
    years = run.calendar.financial_years
    partial = (years.ends - years.starts) < years.lengths
    labels = [f"{label} (part)" if cut else label for label, cut in zip(years.labels, partial, strict=True)]
    ax.set_xticks(np.arange(len(labels)), labels, rotation=40, ha="right", rotation_mode="anchor")


def _nothing(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=9, color=FOOTNOTE_GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def _shared_legend(axes: list[Axes]) -> None:
    """One legend, right of the last panel, holding every label any panel drew (panels differ in what they show)."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    axes[-1].legend(
        list(entries.values()), list(entries), frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0)
    )


def _need_label(need: str) -> str:
    return NEED_LABELS.get(need, need.replace("_", " ").capitalize())


def _need_colour(need: str) -> str:
    return NEED_COLOURS.get(need, TOL_MUTED[8])


def _pool_label(pool: str) -> str:
    return short(pool.replace("_", " "), MAX_NAME_CHARS)


def _pool_colour(run: RunSummary, pool: str) -> str:
    """A pool's colour follows its place in the scenario, so it is the same on every chart of that scenario."""
    return POOL_COLOURS[list(run.scenario.pools).index(pool) % len(POOL_COLOURS)]


def _scenario_note(run: RunSummary, brief: bool = False) -> str:
    scenario = run.scenario
    text = f"{short(scenario.name, MAX_NAME_CHARS)} ({run.replications} replications, seed {run.seed})"
    if brief:
        return text
    described = short(scenario.description, MAX_DESCRIPTION_CHARS)
    description = f": {described}" if described else ""
    horizon = f"horizon {scenario.horizon.start:%d %b %Y} to {scenario.horizon.end:%d %b %Y}"
    return f"Scenario: {text}{description}; {horizon}."


def short(text: str, limit: int) -> str:
    """`text` with its runs of whitespace as single spaces, cut to at most `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
