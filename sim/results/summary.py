"""A run's summaries across replications, each computed once: the only view of a run the layers above read.

Why one layer: a run's charts, report, files, budget and comparisons read the same summaries (children in care
by need, spend by financial year, ...), and each used to summarise the raw per-replication tables again: the same
table went through `summarise` up to four times on its way to the report. A `RunSummary` computes each summary
on first read and keeps it, so however many consumers read it, it is computed once per run, and a summary the
command never reads (a comparison writes no Parquet) is never computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.engine.parameters import parameter_draws
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import AGE_BANDS, GAP_KINDS, PLACEMENT_NEEDS, SEXES, SUFFICIENT_GAP_KINDS
from sim.results.budget import budget_summary, budget_wide, overspend, spend_bridge
from sim.results.costs import ONE_OFF
from sim.results.grant import GRANT_GROUPS
from sim.results.tables import (
    CARE_LEAVER_ACCOMMODATION,
    CARE_LEAVER_AGES,
    TOTAL,
    Calendar,
    dense_summary,
    dense_table_summary,
    summarise,
)

if TYPE_CHECKING:
    from sim.results.runner import RunResult

# Each table's own summary (written as <table>_summary.parquet): its keys and the value summarised.
SUMMARY_KEYS = {
    "stock": (["date", "need", "pool"], "children"),
    "occupancy": (["date", "pool"], "occupied"),
    "entries": (["month", "age_band", "uasc"], "children"),
    "exits": (["month", "route"], "children"),
    "gaps": (["month", "need", "wanted_pool", "used_pool"], "placements"),
    "gap_ledger": (["month", "kind", "need"], "child_days"),
    "placement_days": (["month", "pool", "need"], "days"),
    "spend": (["financial_year", "pool", "need", "component"], "spend"),
    "stock_detail": (["date", "age_band", "uasc", "in_house", "beyond_20_miles"], "children"),
    "stock_31_march": (["date", "need", "age_band", "sex"], "children"),
    "care_leavers": (["date", "age", "accommodation", "uasc"], "young_people"),
    "leaving_care": (["financial_year", "uasc"], "young_people"),
    "uasc_transfers": (["financial_year", "direction"], "children"),
    "uasc_grant": (["financial_year", "group"], "income"),
}
OCCUPANCY_VALUES = ("occupied", "capacity", "approved", "post_18")
STATISTIC_COLUMNS = ["mean", "ci95_low", "ci95_high", "p10", "p50", "p90"]
# The measures of `yearly_measures` that the gap ledger added, or renamed, in words (what each figure counts).
LEDGER_MEASURE_LABELS = {
    "fallback_placements": "placements outside the preferred pools (a fallback of any kind)",
    "not_sufficient_placements": "not sufficient: placements started, by kind",
    "not_sufficient_child_days": "not sufficient: child-days, by kind",
    "not_sufficient_child_days_total": "not sufficient: child-days (wrong kind, emergency, unregistered, secure "
    "shortage, beyond 20 miles)",
    "placed_externally_child_days_total": "placed externally: child-days of the right kind bought in below the "
    "first choice, within 20 miles",
}

# The sufficiency-statement tables (`RunSummary.statement`, `statement_gaps`): dense, with TOTAL rows.
# Issue 19, item 3: "Children in care on each 31 March for the next 5 years" (the medium-term period of
# sim.analysis.compare.MEDIUM_TERM_YEARS, also 5).
STATEMENT_YEARS = 5
STATEMENT_KEYS = {"need": list(PLACEMENT_NEEDS), "age_band": list(AGE_BANDS), "sex": list(SEXES)}
STATEMENT_GAP_KEYS = {"kind": list(GAP_KINDS), "age_band": list(AGE_BANDS)}
STATEMENT_GAP_GROUPS = {  # sub-totals of the kinds, before the TOTAL of every kind
    "kind": {
        "all_not_sufficient": [kind for kind in GAP_KINDS if kind not in SUFFICIENT_GAP_KINDS],
        "all_right_kind": list(SUFFICIENT_GAP_KINDS),
    }
}
STATEMENT_GAP_UNITS = ("child_days", "children_at_a_time")

# The by-financial-year table of the fallbacks and high-cost placements the budget counts
# (`RunSummary.fallbacks_by_year`): each row, and in words what it counts. The first four are read from the gap
# ledger; a placement is under its pool's kind whatever the child's need, so a child needing secure care in an
# emergency placement is in both `emergency` and `secure_shortage`. The high-cost rows are read from the
# `high_cost` table (sim.results.costs.HIGH_COST_WEEKLY, with its sources), in runs with a price book.
FALLBACKS_TITLE = "Emergency, unregistered and high-cost placements and secure shortages by financial year"
FALLBACK_ROWS = {
    "emergency": "emergency placements: every placement in a pool of kind emergency (a bridge to a new search)",
    "unregistered": "unregistered placements: every placement in a pool of kind unregistered",
    "secure_shortage": "secure shortages: placements of children needing secure care in anything but a secure "
    "place (gap kind secure_shortage)",
    "secure_shortage_deprivation_of_liberty": "of these secure shortages, the Deprivation of Liberty placements "
    "used instead (a pool of kind deprivation_of_liberty)",
    "high_cost_5k": "high-cost placements of £5,000 a week or more: placements priced per child, active in the "
    "year, at that year's weekly price (fee included)",
    "high_cost_10k": "high-cost placements of £10,000 a week or more: placements priced per child, active in the "
    "year, at that year's weekly price (fee included; the LGA survey's band)",
}
HIGH_COST_ROWS = {"high_cost_5k": "at_least_5k", "high_cost_10k": "at_least_10k"}  # row: high_cost column
# Short names of the rows, for column heads (the full words, FALLBACK_ROWS, are printed beside them).
FALLBACK_SHORT_NAMES = {
    "emergency": "emergency",
    "unregistered": "unregistered",
    "secure_shortage": "secure shortage",
    "secure_shortage_deprivation_of_liberty": "of which DoL",
    "high_cost_5k": "£5k+ a week",
    "high_cost_10k": "£10k+ a week",
}
# What each value of a row counts, its short name, and the values each row has.
FALLBACK_UNITS = {
    "placements": "placements started in the financial year",
    "child_days": "child-days in the financial year",
    "placements_active": "placements active in the financial year (on any of its days)",
    "share_percent": "share of the placements priced per child active in the financial year (%)",
}
UNIT_SHORT_NAMES = {
    "placements": "placements started",
    "child_days": "child-days",
    "placements_active": "placements in the year",
    "share_percent": "share (%)",
}
ROW_UNITS = {
    row: ("placements_active", "share_percent") if row in HIGH_COST_ROWS else ("placements", "child_days")
    for row in FALLBACK_ROWS
}
# summary.csv's measure for each row and value: the rows by financial year beside the per simulation year ones.
FALLBACK_CSV_MEASURES = {
    (row, unit): f"{row}_{'placements_started' if unit == 'placements' else unit}"
    for row, units in ROW_UNITS.items()
    for unit in units
}

# The by-financial-year table of children in care on 31 March (distance and UASC on the stock), leaving care and
# care leavers (`RunSummary.children_by_year`): each row and in words what it counts. The stock rows are counted at
# 00:00 on 1 April, the children in care on the 31 March that ends the year (as sim.analysis.region counts them);
# a financial year whose 31 March is past the horizon end has none. Out of area (outside the authority's boundary,
# the DfE's other distance measure) is not modelled: a placement has only its within-20-miles draw, so only
# distance is reported.
CHILDREN_TITLE = "Children in care on 31 March (distance, UASC), leaving care and care leavers by financial year"
CHILDREN_ROWS = {
    "children_in_care": "children in care on 31 March",
    "beyond_20_miles": "children in care on 31 March placed beyond 20 miles of home",
    "beyond_20_miles_percent": "share (%) of the children in care on 31 March placed beyond 20 miles of home",
    "beyond_20_miles_external": "of those beyond 20 miles, in a pool that is not in-house (out of area itself, "
    "outside the authority's boundary, is not modelled)",
    "uasc_in_care": "unaccompanied asylum-seeking children (UASC) in care on 31 March",
    **{f"uasc_in_care_{band}": f"UASC in care on 31 March aged {band}" for band in AGE_BANDS},
    "turned_18_in_care": "young people leaving care at 18 in the year (exit route age_18)",
    "uasc_turned_18": "of whom UASC: UASC care leavers leaving care in the year",
    "uasc_transferred_in": "UASC taken in from the National Transfer Scheme in the year (below its threshold)",
    "uasc_transferred_out": "UASC arriving in the year transferred to another authority by the National Transfer "
    "Scheme (at its threshold)",
    "care_leavers_18_20": "care leavers aged 18-20 on 31 March (left care at 18, in any accommodation)",
    "uasc_care_leavers_18_20": "of whom UASC",
}
CHILDREN_FLOW_ROWS = (  # counted over the year, not on 31 March
    "turned_18_in_care",
    "uasc_turned_18",
    "uasc_transferred_in",
    "uasc_transferred_out",
)
CHILDREN_SHORT_NAMES = {
    "children_in_care": "in care",
    "beyond_20_miles": "beyond 20 miles",
    "beyond_20_miles_percent": "beyond 20 miles (%)",
    "beyond_20_miles_external": "beyond 20 miles, external",
    "uasc_in_care": "UASC in care",
    **{f"uasc_in_care_{band}": f"UASC in care, {band}" for band in AGE_BANDS},
    "turned_18_in_care": "left care at 18",
    "uasc_turned_18": "UASC left care at 18",
    "uasc_transferred_in": "UASC transferred in",
    "uasc_transferred_out": "UASC transferred out",
    "care_leavers_18_20": "care leavers 18-20",
    "uasc_care_leavers_18_20": "UASC care leavers 18-20",
}
# The DfE placement stability indicators by financial year (`RunSummary.stability_by_year`, from the `stability`
# and `placement_moves` tables of sim.results.stability): only financial years and quarters the horizon wholly
# covers, long-term stability only from the first 31 March 2.5 years into the horizon.
STABILITY_QUARTERS = {1: "April-June", 2: "July-September", 3: "October-December", 4: "January-March"}
STABILITY_TITLE = "Placement stability (the DfE indicators) by financial year"
STABILITY_ROWS = {
    "three_or_more_placements": "share (%) of the children in care on 31 March who had 3 or more placements in "
    "the year",
    "long_term_stability": "long-term stability: share (%) of the children under 16 on 31 March, in care 2.5 "
    "years or more, who had been in the same placement for 2 years or more (the adoption clause left out)",
    **{
        f"moves_q{q}": f"placement moves in quarter {q} ({months}): placements started by children already in care"
        for q, months in ((1, "April-June"), (2, "July-September"), (3, "October-December"), (4, "January-March"))
    },
    "moves": "placement moves in the year (years with all four quarters inside the horizon)",
    "moves_after_breakdown": "of which after a placement broke down",
}
STABILITY_SHORT_NAMES = {
    "three_or_more_placements": "3+ placements (%)",
    "long_term_stability": "long-term stability (%)",
    **{f"moves_q{q}": f"moves, Q{q}" for q in range(1, 5)},
    "moves": "moves in the year",
    "moves_after_breakdown": "moves after a breakdown",
}
STABILITY_PERCENT_ROWS = ("three_or_more_placements", "long_term_stability")
CARE_LEAVERS_NOTE = (
    "Care leavers: young people who left care at 18 in the horizon, or were Staying Put on its start date. Staying "
    "Put and Staying Close are the model's post-18 placements (at any age they last to); every other care leaver "
    "is counted to 21 in accommodation the model does not follow ('other / not modelled': no shares of supported "
    "lodgings or independent living are drawn or assumed). Those to 25 in education or training are left out: "
    "there is no data on them. Young people who left care before the start date without a place are not in the "
    "model, so the first three years undercount. Their cost is the Staying Put and Staying Close cost already in "
    "spend; other care leavers' costs are not modelled."
)


@dataclass(frozen=True)
class RunSummary:
    """A run's summaries across replications (mean, 95% CI of the mean, P10/P50/P90; see `tables.summarise`).

    Built from a `RunResult` by `RunSummary.of` (or `RunResult.run_summary`, which keeps it). Every summary is
    computed on first read and then kept; the per-replication tables are held only to be summarised.
    """

    scenario: Scenario
    seed: int
    replications: int
    calendar: Calendar
    wall_seconds: float
    _tables: Mapping[str, pd.DataFrame] = field(repr=False, compare=False)
    _summaries: dict[tuple[str, tuple[str, ...], str], pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def band_source(self) -> str:
        """What the spread across replications holds: simulation noise only, or the parameters' uncertainty too."""
        uncertainty = self.scenario.uncertainty
        if uncertainty is not None and uncertainty.active:
            return "simulation and parameter uncertainty"
        return "simulation only: parameters fixed"

    @cached_property
    def parameter_effects(self) -> pd.DataFrame | None:
        """Which drawn parameters drive the spread of children in care and of external spend in year 3.

        Each outcome of the replications is regressed on the parameters drawn (sim.engine.parameters); a
        parameter's effect is its coefficient times its sd: how far the outcome moves when that parameter moves by
        one sd. Columns outcome, parameter, effect, and low and high: the range of the outcome's mean as that
        parameter goes from its P10 to its P90 (the others at their means).
        None when nothing is drawn or there are too few replications to regress on."""
        uncertainty = self.scenario.uncertainty
        if uncertainty is None or not uncertainty.active:
            return None
        parameters = uncertainty.parameters()
        if self.replications < 2 * len(parameters):
            return None
        draws = np.array([parameter_draws(uncertainty, self.seed, r) for r in range(self.replications)])
        names = [name for name, _ in parameters]
        rows = []
        for (outcome, drivers), values in self._year_3_outcomes(len(parameters)).items():
            used = tuple(j for j in drivers if parameters[j][1] > 0)
            rows += _effects(outcome, draws, values, used, names)
        return pd.DataFrame(rows) if rows else None

    def _year_3_outcomes(self, parameters: int) -> dict[tuple[str, tuple[int, ...]], np.ndarray]:
        """Children in care three years on (driven by the demand draws only: the first three), and external spend
        in the third financial year (by all the parameters drawn), per replication."""
        outcomes = {}
        stock = self._tables["stock"]
        third = pd.Timestamp(self.scenario.horizon.start) + pd.DateOffset(years=3)
        dates = pd.to_datetime(stock["date"].unique())
        if len(dates) and dates.max() >= third:
            day = dates[dates >= third].min()
            at = stock[pd.to_datetime(stock["date"]) == day].groupby("replication")["children"].sum()
            at = at.reindex(range(self.replications), fill_value=0)
            outcomes[(f"children in care on {day.date()}", (0, 1, 2))] = at.to_numpy(dtype=float)
        spend = self._tables.get("spend")
        year = financial_year(pd.Series([third - pd.Timedelta(days=1)]))[0]  # holding the third year's last day
        if spend is not None and len(spend) and year in self.calendar.financial_years.labels:
            external = spend[(~spend["in_house"].astype(bool)) & (spend["financial_year"] == year)]
            totals = external.groupby("replication")["spend"].sum().reindex(range(self.replications), fill_value=0)
            millions = totals.to_numpy(dtype=float) / 1e6
            outcomes[(f"external spend in {year} (£ million)", tuple(range(parameters)))] = millions
        return outcomes

    @classmethod
    def of(cls, result: RunResult) -> RunSummary:
        return cls(
            scenario=result.scenario,
            seed=result.seed,
            replications=result.replications,
            calendar=result.calendar,
            wall_seconds=result.wall_seconds,
            _tables=result.tables,
        )

    def _summary(self, table: str, keys: list[str], value: str) -> pd.DataFrame:
        """`summarise` of a per-replication table, computed the first time it is asked for."""
        key = (table, tuple(keys), value)
        if key not in self._summaries:
            self._summaries[key] = summarise(self._tables[table], keys, value, self.replications)
        return self._summaries[key]

    def table_summary(self, table: str) -> pd.DataFrame | None:
        """The table summarised by its `SUMMARY_KEYS`, dense with total rows (`dense_table_summary`): the
        <table>_summary.parquet file. None when the run left the table empty."""
        if self._tables[table].empty:
            return None
        (period, *keys), value = SUMMARY_KEYS[table]
        periods = self.calendar.periods(period, april_firsts=table == "stock_31_march")
        return dense_table_summary(self._tables[table], period, periods, keys, value, self.replications)

    # Children in care and places ------------------------------------------------------------

    @property
    def stock_by_need(self) -> pd.DataFrame:
        """Children in care at each snapshot date by placement need."""
        return self._summary("stock", ["date", "need"], "children")

    @property
    def stock_total(self) -> pd.DataFrame:
        """Children in care at each snapshot date, all needs."""
        return self._summary("stock", ["date"], "children")

    def occupancy(self, value: str) -> pd.DataFrame:
        """Places `occupied`, `capacity` or `post_18` (of which young people 18+) at each date, by pool."""
        if value not in OCCUPANCY_VALUES:
            raise ValueError(f"occupancy is summarised as one of {OCCUPANCY_VALUES}, not {value!r}")
        return self._summary("occupancy", ["date", "pool"], value)

    # Gaps, spend and the budget by financial year ----------------------------------------------

    @cached_property
    def _gaps_by_year(self) -> pd.DataFrame:
        gaps = self._tables["gaps"]
        return gaps.assign(financial_year=financial_year(gaps["month"]))

    @cached_property
    def gap_days_by_need(self) -> pd.DataFrame:
        """Child-days outside the first-choice pool per financial year and placement need."""
        return summarise(self._gaps_by_year, ["financial_year", "need"], "child_days", self.replications)

    @cached_property
    def gap_days_total(self) -> pd.DataFrame:
        """Child-days outside the first-choice pool per financial year, all needs (empty: no gap at all)."""
        return summarise(self._gaps_by_year, ["financial_year"], "child_days", self.replications)

    @cached_property
    def _ledger_by_year(self) -> pd.DataFrame:
        ledger = self._tables["gap_ledger"]
        return ledger.assign(financial_year=financial_year(ledger["month"]))

    @cached_property
    def ledger_days_by_kind(self) -> pd.DataFrame:
        """Child-days per financial year by gap kind (sim.engine.vocabulary.GAP_KINDS), with `sufficient`."""
        keys = ["financial_year", "kind", "sufficient"]
        return summarise(self._ledger_by_year, keys, "child_days", self.replications)

    @cached_property
    def not_sufficient_days_total(self) -> pd.DataFrame:
        """Child-days per financial year in a placement that is not sufficient, every such kind together."""
        return self._ledger_total(sufficient=False)

    @cached_property
    def right_kind_days_total(self) -> pd.DataFrame:
        """Child-days per financial year of the right kind below the first choice (placed externally or in
        another in-house pool), both together."""
        return self._ledger_total(sufficient=True)

    def _ledger_total(self, sufficient: bool) -> pd.DataFrame:
        ledger = self._ledger_by_year
        rows = ledger[ledger["sufficient"] == sufficient]
        return summarise(rows, ["financial_year"], "child_days", self.replications)

    @cached_property
    def fallbacks_by_year(self) -> pd.DataFrame:
        """Emergency and unregistered placements and secure shortages per financial year (FALLBACK_ROWS), as
        placements started and child-days, and high-cost placements as placements active in the year and their
        share (ROW_UNITS): mean, 95% CI of the mean, P10/P50/P90 across replications.

        Columns financial_year, part_year (the horizon covers only part of it), row, unit, mean, ci95_low,
        ci95_high, p10, p50, p90; one line for every financial year, row and unit, zero where no child was in
        one, so a year without an emergency placement reads 0 rather than missing. Child-days come from the
        ledger's calendar months, so a placement over 31 March counts its days in each year exactly. A placement
        open on the start date was not started in the horizon: its days count, its start does not.
        """
        rows = self.fallback_rows
        long = [self._ledger_rows(self._ledger_by_year)]
        if any(row in HIGH_COST_ROWS for row in rows):
            long.append(self._high_cost_rows())
        years = self.calendar.financial_years.labels
        cells = [(year, row, unit) for year in years for row in rows for unit in ROW_UNITS[row]]
        skeleton = pd.DataFrame(cells, columns=["financial_year", "row", "unit"])
        long.append(skeleton.assign(replication=0, value=0.0))  # zero rows: every cell summarised, none added
        frame = pd.concat(long, ignore_index=True)
        summary = summarise(frame, ["financial_year", "row", "unit"], "value", self.replications)
        order = {"financial_year": years, "row": rows, "unit": list(FALLBACK_UNITS)}
        for column, values in order.items():
            summary[column] = pd.Categorical(summary[column], categories=values, ordered=True)
        summary = summary.sort_values(list(order), ignore_index=True)
        for column in order:
            summary[column] = summary[column].astype(str)
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        return summary

    @cached_property
    def children_by_year(self) -> pd.DataFrame:
        """Children in care on 31 March (distance and UASC on the stock), leaving care at 18 and care leavers per
        financial year (CHILDREN_ROWS): mean, 95% CI of the mean, P10/P50/P90 across replications.

        Columns financial_year, part_year, date (the 31 March counted, at its end; NaT for rows counted over the year,
        CHILDREN_FLOW_ROWS), row, mean, ci95_low, ci95_high, p10, p50, p90. Shares are computed per replication
        (0 with no child in care) and then summarised. Every year has every row (0 where none), apart from the
        31 March rows of a year whose 31 March is past the horizon end.
        """
        years = self.calendar.financial_years.labels
        march = self._march_31
        long = [self._stock_rows(march), self._leaving_rows(), self._transfer_rows(), self._care_leaver_rows(march)]
        cells = [
            (year, row) for year in years for row in CHILDREN_ROWS if row in CHILDREN_FLOW_ROWS or year in march.values
        ]
        skeleton = pd.DataFrame(cells, columns=["financial_year", "row"])
        long.append(skeleton.assign(replication=0, value=0.0))
        frame = pd.concat(long, ignore_index=True)
        summary = summarise(frame, ["financial_year", "row"], "value", self.replications)
        summary = _in_order(summary, {"financial_year": years, "row": list(CHILDREN_ROWS)})
        on_march = {year: date - pd.Timedelta(days=1) for date, year in march.items()}  # the 31 March itself
        dates = [
            pd.NaT if row in CHILDREN_FLOW_ROWS else on_march[year]
            for year, row in zip(summary["financial_year"], summary["row"], strict=True)
        ]
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        summary.insert(2, "date", pd.to_datetime(pd.Series(dates, dtype="datetime64[ns]")))
        return summary

    @cached_property
    def statement(self) -> pd.DataFrame:
        """Children in care at the end of each 31 March of the first STATEMENT_YEARS whole financial years of the
        horizon, by placement need x age band (on that date) x sex, as a sufficiency statement tabulates them: mean,
        95% CI of the mean, P10/P50/P90 across replications. A part year at the start is left out, as in the
        medium-term period of a comparison (sim.analysis.compare.medium_term_years): the next whole years.

        Columns financial_year, part_year, date (the 31 March), need, age_band, sex and the statistics. Dense: every
        year x need x band x sex, 0 where no child is; TOTAL ("all") rows for every need, band and sex and their
        combinations, the grand total last in each year; in the order of STATEMENT_KEYS."""
        march = self._march_31[~self._march_31.map(self._part_years)].iloc[:STATEMENT_YEARS]
        table = self._tables["stock_31_march"]
        table = table[table["date"].isin(march.index)]
        frame = table.assign(financial_year=table["date"].map(march))
        years = list(march.to_numpy())
        summary = dense_summary(frame, "children", years, STATEMENT_KEYS, self.replications)
        on_march = {year: date - pd.Timedelta(days=1) for date, year in march.items()}
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        summary.insert(2, "date", pd.to_datetime(summary["financial_year"].map(on_march)))
        return summary

    @cached_property
    def statement_gaps(self) -> pd.DataFrame:
        """The sufficiency gap by financial year, gap kind (the ledger's, GAP_KINDS) and age band at the placement's
        start: child-days in the year, and children at a time (those days over the year's days in the horizon, the
        mean number of children in such placements on a day), mean, 95% CI, P10/P50/P90 across replications.

        Columns financial_year, part_year, kind, age_band, unit (STATEMENT_GAP_UNITS) and the statistics. Dense, with
        the sub-totals all_not_sufficient and all_right_kind and TOTAL rows for every kind and band."""
        years = self.calendar.financial_years
        ledger, groups = self._ledger_by_year, STATEMENT_GAP_GROUPS
        child_days = dense_summary(ledger, "child_days", years.labels, STATEMENT_GAP_KEYS, self.replications, groups)
        in_horizon = dict(zip(years.labels, years.ends - years.starts, strict=True))
        at_a_time = child_days.copy()
        days = at_a_time["financial_year"].map(in_horizon).to_numpy(dtype=float)
        for column in STATISTIC_COLUMNS:  # every statistic scales with a positive factor: the same as per replication
            at_a_time[column] = at_a_time[column] / days
        units = [child_days.assign(unit=STATEMENT_GAP_UNITS[0]), at_a_time.assign(unit=STATEMENT_GAP_UNITS[1])]
        summary = pd.concat(units, ignore_index=True)
        kinds = [*GAP_KINDS, *STATEMENT_GAP_GROUPS["kind"], TOTAL]
        order = {"financial_year": years.labels, "kind": kinds, "age_band": [*AGE_BANDS, TOTAL]}
        summary = _in_order(summary, {**order, "unit": list(STATEMENT_GAP_UNITS)})
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        return summary[["financial_year", "part_year", "kind", "age_band", "unit", *STATISTIC_COLUMNS]]

    @property
    def year_end_snapshots(self) -> pd.DatetimeIndex:
        """The start date and the snapshots that count each 31 March (00:00 on 1 April) within the horizon."""
        return pd.DatetimeIndex([pd.Timestamp(self.scenario.horizon.start), *self._march_31.index]).unique()

    @cached_property
    def _march_31(self) -> pd.Series:
        """The snapshot dates that count the children in care on a 31 March (00:00 on 1 April) of a financial year
        of the horizon, each labelled with that year."""
        dates = pd.to_datetime(pd.Series(self.calendar.snapshot_dates))
        dates = dates[(dates.dt.month == 4) & (dates.dt.day == 1)]
        labels = financial_year(dates - pd.Timedelta(days=1))
        keep = labels.isin(self.calendar.financial_years.labels)
        return pd.Series(labels[keep].to_numpy(), index=pd.DatetimeIndex(dates[keep]))

    def _stock_rows(self, march: pd.Series) -> pd.DataFrame:
        """The 31 March rows of `children_by_year` from stock_detail, per replication, long."""
        detail = self._tables["stock_detail"]
        detail = detail[detail["date"].isin(march.index)]
        keys = ["replication", "date"]
        total = detail.groupby(keys)["children"].sum()
        far = detail[detail["beyond_20_miles"]]
        uasc = detail[detail["uasc"]]
        parts = {
            "children_in_care": total,
            "beyond_20_miles": far.groupby(keys)["children"].sum(),
            "beyond_20_miles_external": far[~far["in_house"]].groupby(keys)["children"].sum(),
            "uasc_in_care": uasc.groupby(keys)["children"].sum(),
        }
        parts["beyond_20_miles_percent"] = 100.0 * parts["beyond_20_miles"].reindex(total.index, fill_value=0) / total
        by_band = uasc.groupby([*keys, "age_band"], observed=True)["children"].sum()
        for band, values in by_band.groupby(level="age_band", observed=True):
            parts[f"uasc_in_care_{band}"] = values.droplevel("age_band")
        return self._long(parts, march)

    def _leaving_rows(self) -> pd.DataFrame:
        """Young people leaving care at 18 in each financial year, and the UASC among them, per replication."""
        table = self._tables["leaving_care"]
        keys = ["replication", "financial_year"]
        columns = ["replication", "financial_year", "row", "value"]
        if table.empty:
            return pd.DataFrame(columns=columns)
        parts = [
            table.groupby(keys, as_index=False)["young_people"].sum().assign(row="turned_18_in_care"),
            table[table["uasc"]].groupby(keys, as_index=False)["young_people"].sum().assign(row="uasc_turned_18"),
        ]
        frame = pd.concat(parts, ignore_index=True).rename(columns={"young_people": "value"})
        return frame.astype({"financial_year": str, "value": float})[columns]

    def _transfer_rows(self) -> pd.DataFrame:
        """The National Transfer Scheme's transfers in and out in each financial year, per replication."""
        table = self._tables["uasc_transfers"].rename(columns={"children": "value"})
        table = table.assign(row="uasc_transferred_" + table["direction"])
        return table.astype({"financial_year": str, "value": float})[["replication", "financial_year", "row", "value"]]

    def _care_leaver_rows(self, march: pd.Series) -> pd.DataFrame:
        """Care leavers aged 18-20 on 31 March (every accommodation), and the UASC among them, per replication."""
        leavers = self._tables["care_leavers"]
        leavers = leavers[leavers["date"].isin(march.index) & (leavers["age"].astype(str) != "21+")]
        keys = ["replication", "date"]
        parts = {
            "care_leavers_18_20": leavers.groupby(keys)["young_people"].sum(),
            "uasc_care_leavers_18_20": leavers[leavers["uasc"]].groupby(keys)["young_people"].sum(),
        }
        return self._long(parts, march)

    @staticmethod
    def _long(parts: dict[str, pd.Series], march: pd.Series) -> pd.DataFrame:
        """Series by (replication, date) as long rows replication, financial_year, row, value."""
        frames = [values.rename("value").reset_index().assign(row=row) for row, values in parts.items() if len(values)]
        columns = ["replication", "financial_year", "row", "value"]
        if not frames:
            return pd.DataFrame(columns=columns)
        frame = pd.concat(frames, ignore_index=True)
        frame["financial_year"] = frame["date"].map(march).astype(str)
        return frame.astype({"value": float})[columns]

    @cached_property
    def stability_by_year(self) -> pd.DataFrame:
        """The DfE stability indicators per financial year (STABILITY_ROWS): the indicators' shares (%) and the
        placement moves by quarter and in the year: mean, 95% CI of the mean, P10/P50/P90 across replications.

        Columns as `children_by_year` (date: the 31 March of the indicators, NaT for moves). Only the years and
        quarters sim.results.stability reports (wholly inside the horizon); a replication with no child counted
        by an indicator counts 0 for it. Empty when no year qualifies."""
        columns = ["financial_year", "part_year", "date", "row", *STATISTIC_COLUMNS]
        stability = self._tables.get("stability")
        moves = self._tables.get("placement_moves")
        parts = []
        if stability is not None and len(stability):
            shares = stability.assign(value=100.0 * stability["value"].fillna(0.0), row=stability["indicator"])
            parts.append(shares[["replication", "financial_year", "row", "value"]])
        if moves is not None and len(moves):
            by_quarter = moves.assign(row="moves_q" + moves["quarter"].astype(str), value=moves["moves"])
            keys = ["replication", "financial_year"]
            yearly = moves.groupby(keys, as_index=False).agg(
                moves=("moves", "sum"), after_breakdown=("after_breakdown", "sum"), quarters=("quarter", "nunique")
            )
            yearly = yearly[yearly["quarters"] == len(STABILITY_QUARTERS)]  # the year's total: all four quarters
            parts += [
                by_quarter[[*keys, "row", "value"]],
                yearly.assign(row="moves", value=yearly["moves"])[[*keys, "row", "value"]],
                yearly.assign(row="moves_after_breakdown", value=yearly["after_breakdown"])[[*keys, "row", "value"]],
            ]
        if not parts:
            return pd.DataFrame(columns=columns)
        frame = pd.concat(parts, ignore_index=True).astype({"financial_year": str, "value": float})
        summary = summarise(frame, ["financial_year", "row"], "value", self.replications)
        years = self.calendar.financial_years.labels
        for column, values in {"financial_year": years, "row": list(STABILITY_ROWS)}.items():
            summary[column] = pd.Categorical(summary[column], categories=values, ordered=True)
        summary = summary.sort_values(["financial_year", "row"], ignore_index=True)
        summary = summary.astype({"financial_year": str, "row": str})
        march = {year: pd.Timestamp(int(year[:4]) + 1, 3, 31) for year in years}
        dates = [
            march[y] if r in STABILITY_PERCENT_ROWS else pd.NaT
            for y, r in zip(summary["financial_year"], summary["row"], strict=True)
        ]
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        summary.insert(2, "date", pd.to_datetime(pd.Series(dates, dtype="datetime64[ns]")))
        return summary[columns]

    @cached_property
    def care_leavers_by_year(self) -> pd.DataFrame:
        """Care leavers on 31 March of each financial year by age (18, 19, 20, 21+) and accommodation (Staying
        Put, Staying Close, other / not modelled), every young person and UASC: mean, 95% CI, P10/P50/P90.

        Columns financial_year, part_year, date (the 31 March, at its end), group ("all" or "uasc"), age,
        accommodation and the statistics; a line for every age and accommodation (0 where none), except other / not
        modelled at 21+ (counted only to 21)."""
        march = self._march_31
        leavers = self._tables["care_leavers"]
        leavers = leavers[leavers["date"].isin(march.index)]
        keys = ["replication", "date", "age", "accommodation"]
        every = leavers.groupby(keys, observed=True, as_index=False)["young_people"].sum().assign(group="all")
        uasc = leavers[leavers["uasc"]].groupby(keys, observed=True, as_index=False)["young_people"].sum()
        frame = pd.concat([every, uasc.assign(group="uasc")], ignore_index=True)
        frame = frame.astype({"age": str, "accommodation": str})
        cells = [
            (date, group, age, place)
            for date in march.index
            for group in ("all", "uasc")
            for age in CARE_LEAVER_AGES
            for place in CARE_LEAVER_ACCOMMODATION
            if not (age == "21+" and place == "other_not_modelled")
        ]
        skeleton = pd.DataFrame(cells, columns=["date", "group", "age", "accommodation"])
        frame = pd.concat([frame, skeleton.assign(replication=0, young_people=0.0)], ignore_index=True)
        summary = summarise(frame, ["date", "group", "age", "accommodation"], "young_people", self.replications)
        summary.insert(0, "financial_year", summary["date"].map(march).astype(str))
        summary.insert(1, "part_year", summary["financial_year"].map(self._part_years))
        summary["date"] = summary["date"] - pd.Timedelta(days=1)  # the 31 March itself, counted at its end
        return summary

    @property
    def high_cost_note(self) -> str:
        """Why the by-year table has no high-cost rows, or nothing when it has them."""
        if set(HIGH_COST_ROWS) <= set(self.fallback_rows):
            return ""
        return "No high-cost rows: the scenario has no price book, so no weekly price to count placements at."

    @property
    def fallback_rows(self) -> list[str]:
        """The rows of `fallbacks_by_year`: every row of FALLBACK_ROWS, the high-cost ones only in a run with a price
        book and a `high_cost` table (without prices there is no weekly price to count at)."""
        priced = self.scenario.prices is not None and "high_cost" in self._tables
        return [row for row in FALLBACK_ROWS if priced or row not in HIGH_COST_ROWS]

    def _high_cost_rows(self) -> pd.DataFrame:
        """Per replication and financial year, placements at each HIGH_COST_ROWS threshold, every pool priced per
        child together, and their share (%) of those pools' placements active in the year (0 with none), long."""
        table = self._tables["high_cost"]
        totals = table.groupby(["replication", "financial_year"], as_index=False)[
            ["placements", *HIGH_COST_ROWS.values()]
        ].sum()
        parts = []
        for row, column in HIGH_COST_ROWS.items():
            count = totals[column].astype(float)
            share = np.where(totals["placements"] > 0, 100.0 * count / totals["placements"].clip(lower=1), 0.0)
            keys = totals[["replication", "financial_year"]].astype({"financial_year": str}).assign(row=row)
            parts += [
                keys.assign(unit="placements_active", value=count),
                keys.assign(unit="share_percent", value=share),
            ]
        return pd.concat(parts, ignore_index=True)

    def _ledger_rows(self, ledger: pd.DataFrame) -> pd.DataFrame:
        """The ledger's rows under each of the first four rows of FALLBACK_ROWS, long: replication, financial_year,
        row, unit, value; less the placements already open on the start date (`_open_at_start`)."""
        shortage = ledger["kind"].astype(str) == "secure_shortage"
        columns = ["replication", "financial_year", "placements", "child_days"]
        parts = [
            ledger.loc[rows.to_numpy(), columns].assign(row=row)
            for row, rows in self._chosen(ledger["used_pool"], shortage).items()
        ]
        frame = pd.concat(parts, ignore_index=True)
        frame["financial_year"] = frame["financial_year"].astype(str)
        frame = frame.melt(["replication", "financial_year", "row"], ["placements", "child_days"], "unit", "value")
        return pd.concat([frame, self._open_at_start()], ignore_index=True)

    def _chosen(self, used_pool: pd.Series, shortage: pd.Series) -> dict[str, pd.Series]:
        """Which rows belong to each row of FALLBACK_ROWS: by the kind of the pool used, and for the secure rows
        by `shortage` (a child needing secure care outside a secure place)."""
        pool_kind = {name: pool.kind for name, pool in self.scenario.pools.items()}
        used_kind = used_pool.astype(str).map(pool_kind)
        return {
            "emergency": used_kind == "emergency",
            "unregistered": used_kind == "unregistered",
            "secure_shortage": shortage,
            "secure_shortage_deprivation_of_liberty": shortage & (used_kind == "deprivation_of_liberty"),
        }

    def _open_at_start(self) -> pd.DataFrame:
        """Minus one placement started in the first financial year for each child in such a placement at 00:00 on
        the start date: the ledger counts the placement of a child in care at the start as started in the first
        month, but it started before the horizon (the `placements` table leaves them out too). Their days stay."""
        stock = self._tables.get("stock")
        columns = ["replication", "financial_year", "row", "unit", "value"]
        if stock is None or stock.empty:
            return pd.DataFrame(columns=columns)
        first = stock[stock["date"] == pd.Timestamp(self.scenario.horizon.start)]
        secure_place = {name: pool.proper and "secure" in pool.serves for name, pool in self.scenario.pools.items()}
        shortage = (first["need"].astype(str) == "secure") & ~first["pool"].astype(str).map(secure_place).astype(bool)
        parts = [
            first.loc[rows.to_numpy(), ["replication", "children"]].assign(row=row)
            for row, rows in self._chosen(first["pool"], shortage).items()
        ]
        frame = pd.concat(parts, ignore_index=True)
        year = self.calendar.financial_years.labels[0]
        return frame.assign(financial_year=year, unit="placements", value=-frame["children"])[columns]

    @cached_property
    def _part_years(self) -> dict[str, bool]:
        """Whether the horizon covers only part of each financial year (it starts or ends inside it)."""
        years = self.calendar.financial_years
        spans = zip(years.labels, years.ends - years.starts, years.lengths, strict=True)
        return {label: bool(days < length) for label, days, length in spans}

    @property
    def band_label(self) -> str:
        """What a P10-P90 band of this run is, in words, for every table that shows one."""
        return f"P10-P90: the spread across replications ({self.band_source})"

    @cached_property
    def fallbacks_csv(self) -> pd.DataFrame:
        """`fallbacks_by_year` as summary.csv rows: measure (FALLBACK_CSV_MEASURES), period (the day the financial
        year starts within the horizon), financial_year and part_year, beside the per simulation year rows."""
        table = self.fallbacks_by_year
        first_day = self._first_days()
        measures = [FALLBACK_CSV_MEASURES[key] for key in zip(table["row"], table["unit"], strict=True)]
        rows = table.drop(columns=["row", "unit"]).assign(
            measure=measures, period=table["financial_year"].map(first_day)
        )
        return rows[["measure", "period", "financial_year", "part_year", *STATISTIC_COLUMNS]]

    @cached_property
    def children_csv(self) -> pd.DataFrame:
        """`children_by_year`, `stability_by_year` and `care_leavers_by_year` as summary.csv rows: measure (a row of
        CHILDREN_ROWS or STABILITY_ROWS, or care_leavers with its group, age and accommodation), period (the 31
        March counted, or for the rows counted over the year the day the financial year starts within the horizon),
        financial_year and part_year."""
        table = pd.concat([self.children_by_year, self.stability_by_year], ignore_index=True)
        period = table["date"].where(table["date"].notna(), table["financial_year"].map(self._first_days()))
        rows = table.drop(columns=["date", "row"]).assign(measure=table["row"], period=period)
        leavers = self.care_leavers_by_year
        leavers = leavers.rename(columns={"date": "period"}).assign(measure="care_leavers")
        columns = ["measure", "period", "financial_year", "part_year", *STATISTIC_COLUMNS]
        extra = ["group", "age", "accommodation"]
        return pd.concat([rows[columns], leavers[columns[:4] + extra + STATISTIC_COLUMNS]], ignore_index=True)

    @cached_property
    def budget(self) -> pd.DataFrame:
        """Spend by financial year in every breakdown (see `budget.budget_summary`); empty without a price book."""
        return budget_summary(self._tables["spend"], self.replications, self.calendar.financial_years)

    @property
    def part_years(self) -> dict[str, bool]:
        """Each financial year of the horizon, in order, and whether the horizon covers only part of it."""
        return dict(self._part_years)

    @cached_property
    def budget_wide(self) -> pd.DataFrame:
        """The budget with the financial years across the columns (see `budget.budget_wide`; budget_wide.csv)."""
        return budget_wide(self.budget, self._part_years)

    @cached_property
    def overspend(self) -> pd.DataFrame:
        """For each line of the scenario's `budget`, the probability that spend exceeds it (`budget.overspend`)."""
        return overspend(self._tables["spend"], self.replications, self.scenario.budget)

    @cached_property
    def spend_bridge(self) -> pd.DataFrame:
        """Volume and price effects from the first whole financial year to each later one (`budget.spend_bridge`)."""
        return spend_bridge(self._tables["spend"], self.replications, self.calendar.financial_years)

    @property
    def spend_by_pool(self) -> pd.DataFrame:
        """Spend per financial year and pool (the budget's pool rows, `category` named `pool`)."""
        return self._budget_rows("pool").rename(columns={"category": "pool"})

    @property
    def spend_total(self) -> pd.DataFrame:
        """Spend per financial year, all pools (the budget's total rows)."""
        return self._budget_rows("total")

    @cached_property
    def grant_by_year(self) -> pd.DataFrame | None:
        """Home Office UASC grant income per financial year (sim.results.grant), every year and group (0 where
        none) and their total (group "all"): financial_year, group, then the statistics. None without
        [prices.uasc_grant]."""
        prices = self.scenario.prices
        if prices is None or prices.uasc_grant is None:
            return None
        table = self._tables["uasc_grant"]
        years = self.calendar.financial_years.labels
        groups = [*GRANT_GROUPS, "all"]
        cells = [(year, group, 0, 0.0) for year in years for group in groups]  # every year and group, 0 where none
        skeleton = pd.DataFrame(cells, columns=["financial_year", "group", "replication", "income"])
        total = table.groupby(["replication", "financial_year"], as_index=False)["income"].sum().assign(group="all")
        frame = pd.concat([table, total, skeleton], ignore_index=True)
        summary = summarise(frame, ["financial_year", "group"], "income", self.replications)
        return _in_order(summary, {"financial_year": years, "group": groups})

    def _budget_rows(self, breakdown: str) -> pd.DataFrame:
        budget = self.budget
        return budget[budget["breakdown"] == breakdown] if len(budget) else budget

    # By financial year (summary.csv) and per replication (paired comparisons) -----------------

    @cached_property
    def yearly(self) -> pd.DataFrame:
        """summary.csv's headline rows, by financial year as the budget is: children in care by need and pool at
        the start (`children_in_care_at_start`, no financial year) and on each 31 March (period: that 31 March),
        and in each financial year entries, exits and gaps (period: the day the year starts within the horizon),
        each with financial_year and part_year."""
        stock = self._summary("stock", ["date", "need", "pool"], "children")
        start = stock[stock["date"] == pd.Timestamp(self.scenario.horizon.start)]
        parts = [start.rename(columns={"date": "period"}).assign(measure="children_in_care_at_start")]
        march = self._march_31
        on_march = stock[stock["date"].isin(march.index)]
        parts.append(
            on_march.assign(
                measure="children_in_care",
                period=on_march["date"] - pd.Timedelta(days=1),  # the 31 March itself, counted at its end
                financial_year=on_march["date"].map(march),
            ).drop(columns="date")
        )
        entries, exits = (self._tables[name] for name in ("entries", "exits"))
        entries, exits = (table.assign(financial_year=financial_year(table["month"])) for table in (entries, exits))
        ledger, gaps = self._ledger_by_year, self._gaps_by_year
        first_day = self._first_days()
        for measure, frame, keys, value in (
            ("entries", entries, [], "children"),
            ("exits", exits, ["route"], "children"),
            ("gap_placements", gaps, ["need", "wanted_pool", "used_pool"], "placements"),
            ("gap_child_days", gaps, ["need", "wanted_pool", "used_pool"], "child_days"),
            ("gap_ledger_placements", ledger, ["kind", "need"], "placements"),
            ("gap_ledger_child_days", ledger, ["kind", "need"], "child_days"),
            ("not_sufficient_child_days", ledger[~ledger["sufficient"]], [], "child_days"),
            ("placed_externally_child_days", ledger[ledger["kind"] == "external_right_kind"], [], "child_days"),
        ):
            if len(frame) == 0:
                continue
            summary = summarise(frame, ["financial_year", *keys], value, self.replications)
            parts.append(summary.assign(measure=measure, period=summary["financial_year"].map(first_day)))
        rows = pd.concat(parts, ignore_index=True)
        rows["part_year"] = rows["financial_year"].map(self._part_years).astype("boolean")
        columns = ["measure", "period", *[c for c in rows.columns if c not in {"measure", "period"}]]
        return rows[columns]

    def _first_days(self) -> dict[str, pd.Timestamp]:
        """The day each financial year starts within the horizon (its 1 April, or the start date)."""
        years = self.calendar.financial_years
        start = pd.Timestamp(self.scenario.horizon.start)
        days = zip(years.labels, years.starts, strict=True)
        return {label: start + pd.Timedelta(days=float(day)) for label, day in days}

    @cached_property
    def yearly_measures(self) -> pd.DataFrame:
        """Per replication and financial year: placements, gaps, distance and spend measures.

        Per replication, not across them: a comparison pairs replication r of two runs (the same children).
        """
        in_house = {name for name, pool in self.scenario.pools.items() if pool.in_house}
        return _yearly_measures(self._tables, in_house, pd.Timestamp(self.scenario.horizon.end))


Z90 = 1.2815515655446004  # the 90th percentile of a standard normal


def _effects(
    outcome: str, draws: np.ndarray, values: np.ndarray, drivers: tuple[int, ...], names: list[str]
) -> list[dict[str, object]]:
    """Least-squares effects on one outcome of the parameters drawn that can drive it."""
    spread = draws.std(axis=0)
    used = list(drivers)
    if not used or np.std(values) == 0:
        return []
    design = np.column_stack([np.ones(len(values)), draws[:, used]])
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    mean = float(values.mean())
    rows = []
    for j, coefficient in zip(used, coefficients[1:], strict=True):
        effect = float(coefficient * spread[j])
        rows.append(
            {
                "outcome": outcome,
                "parameter": names[j],
                "effect": effect,
                "low": mean - Z90 * abs(effect),
                "high": mean + Z90 * abs(effect),
            }
        )
    return sorted(rows, key=lambda row: -abs(row["effect"]))


def _in_order(summary: pd.DataFrame, order: dict[str, list[str]]) -> pd.DataFrame:
    """The summary's rows sorted by its key columns in the orders given (years in time order, rows as listed)."""
    for column, values in order.items():
        summary[column] = pd.Categorical(summary[column], categories=values, ordered=True)
    summary = summary.sort_values(list(order), ignore_index=True)
    return summary.astype(dict.fromkeys(order, str))


def financial_year(months: pd.Series) -> pd.Series:
    """The financial year ("2016-17", April to March) of each month."""
    start = months.dt.year - (months.dt.month < 4)
    return start.astype(str) + "-" + ((start + 1) % 100).astype(str).str.zfill(2)


def _yearly_measures(tables: Mapping[str, pd.DataFrame], in_house: set[str], end: pd.Timestamp) -> pd.DataFrame:
    """Per replication and financial year: placements, gaps, distance and spend measures, from a run's tables,
    and children at a time (`at_a_time`)."""
    placements = tables["placements"].assign(financial_year=lambda t: financial_year(t["month"]))
    gaps = tables["gaps"].assign(financial_year=lambda t: financial_year(t["month"]))
    ledger = tables["gap_ledger"].assign(financial_year=lambda t: financial_year(t["month"]))
    not_sufficient = ledger[~ledger["sufficient"]]
    spend = tables["spend"]
    parts = [
        _total(placements[placements["in_house"]], "placements", "placed_in_house"),
        _total(placements[~placements["in_house"]], "placements", "placed_externally"),
        _total(placements[placements["fallback"]], "placements", "fallback_placements"),
        _total(placements[placements["beyond_20_miles"]], "placements", "beyond_20_miles"),
        _by(gaps, "need", "placements", "gap_placements"),
        _by(gaps, "need", "child_days", "gap_child_days"),
        _total(gaps, "child_days", "gap_child_days_total"),
        _by(not_sufficient, "kind", "placements", "not_sufficient_placements"),
        _by(not_sufficient, "kind", "child_days", "not_sufficient_child_days"),
        _total(not_sufficient, "child_days", "not_sufficient_child_days_total"),
        _total(ledger[ledger["kind"] == "external_right_kind"], "child_days", "placed_externally_child_days_total"),
    ]
    parts += at_a_time(tables["occupancy"], in_house, end)
    if not spend.empty:
        own = spend["in_house"].astype(bool)
        parts += [
            _total(spend, "spend", "spend_total"),
            _total(spend[~own], "spend", "spend_external"),
            _total(spend[own], "spend", "spend_in_house"),
            _by(spend, "pool", "spend", "spend_pool"),
            _total(spend[spend["component"] == ONE_OFF], "spend", "spend_one_off"),
        ]
    return pd.concat(parts, ignore_index=True)


AT_A_TIME_MEASURES = {
    "in_house_at_a_time": "children and young people in in-house places at a time (mean of the counts on the "
    "first of each month in the financial year; Staying Put and Staying Close included)",
    "external_at_a_time": "children and young people in external places at a time (mean of the counts on the "
    "first of each month in the financial year; Staying Put and Staying Close included)",
    "at_a_time_pool": "children and young people in the pool at a time (mean of the counts on the first of each "
    "month in the financial year)",
}


def at_a_time(occupancy: pd.DataFrame, in_house: set[str], end: pd.Timestamp) -> list[pd.DataFrame]:
    """Children at a time per replication and financial year: the mean of the places occupied on the first of
    each month of the year within the horizon (the occupancy snapshots, equally spaced; the start, the end and
    the anniversaries are left out so no month counts twice), in-house, external and by pool."""
    dates = pd.to_datetime(occupancy["date"])
    monthly = occupancy[(dates.dt.day == 1) & (dates < end)]
    monthly = monthly.assign(financial_year=financial_year(pd.to_datetime(monthly["date"])))
    months = monthly.groupby("financial_year")["date"].nunique()
    by_pool = monthly.groupby(["replication", "financial_year", "pool"], as_index=False)["occupied"].sum()
    by_pool["occupied"] = by_pool["occupied"] / by_pool["financial_year"].map(months).to_numpy()
    own = by_pool["pool"].isin(in_house)
    return [
        _total(by_pool[own], "occupied", "in_house_at_a_time"),
        _total(by_pool[~own], "occupied", "external_at_a_time"),
        _by(by_pool, "pool", "occupied", "at_a_time_pool"),
    ]


def _total(frame: pd.DataFrame, value: str, measure: str) -> pd.DataFrame:
    grouped = frame.groupby(["replication", "financial_year"], as_index=False)[value].sum()
    return grouped.rename(columns={value: "value"}).assign(measure=measure, category="all")


def _by(frame: pd.DataFrame, column: str, value: str, measure: str) -> pd.DataFrame:
    grouped = frame.groupby(["replication", "financial_year", column], as_index=False)[value].sum()
    return grouped.rename(columns={value: "value", column: "category"}).assign(measure=measure)
