"""A workshop session without Streamlit: the baseline run once, each what-if run and paired with it, the history.

Why the baseline is run once: every what-if uses the baseline's seed and replication count, so replication r
of both sees the same children (common random numbers) and one baseline run serves every what-if tried
against it. A what-if then costs one run plus the paired comparison (`run_what_if`).

Every run and sizing curve is checked against the app's work limits (`sim.app.limits`) before it starts, and
a click that would run both the baseline and a what-if checks both before running either.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sim.analysis import sizing
from sim.analysis.compare import Comparison, headline_year, paired_differences, summary_sentence
from sim.analysis.scenario_diff import changes_in_brief, scenario_changes
from sim.analysis.sizing import SizingCurve, finite_in_house_pools
from sim.analysis.what_if import Levers, what_if_toml
from sim.app.limits import check_run, check_sizing
from sim.app.uploads import StartCsv, read_scenario
from sim.engine.scenario import Scenario
from sim.present.report import comparison_report
from sim.present.workbook import write_budget_workbook
from sim.results.runner import Progress, RunResult, run, run_many
from sim.results.summary import FALLBACK_SHORT_NAMES, UNIT_SHORT_NAMES, RunSummary

KEPT_RUNS = 3  # what-ifs whose full results stay in memory (charts, report, workbook); older keep their numbers
SIZING_REPLICATIONS = 20
CHART_DPI = 110
CHANGES_CHARS = 200  # a what-if's changes in the history table: the setting that tells two apart comes first


@dataclass(frozen=True)
class Baseline:
    label: str  # how the page names it: a shipped authority or an uploaded file
    scenario: Scenario
    path: Path | None = None  # a shipped file: the report lists the assumptions marked in it
    start_csv: StartCsv | None = None


@dataclass(frozen=True)
class BaseRun:
    baseline: Baseline
    result: RunResult  # its `run_summary` (yearly measures, charts, report) is computed once, for every what-if


@dataclass
class WhatIf:
    levers: Levers
    description: str  # the levers in plain English (the what-if scenario's description)
    toml_text: str  # the scenario file that was run: `sufficiency run` on it reproduces `result`
    result: RunResult | None  # released (None) once KEPT_RUNS later what-ifs have been run
    differences: pd.DataFrame  # `compare.paired_differences` against the base, with a `what_if` column
    summary: str
    seconds: float
    changes: str = ""  # what the what-if changes from the baseline, setting by setting (`scenario_diff`), one line
    with_baseline: bool = False  # run beside the baseline (the session's first): `seconds` counts both

    @property
    def name(self) -> str:
        return str(self.differences["what_if"].iloc[0]) if len(self.differences) else ""


def run_baseline(
    baseline: Baseline, replications: int, seed: int | None = None, jobs: int = 1, progress: Progress | None = None
) -> BaseRun:
    """The baseline's run, run once: its summary is paired with every what-if tried against it."""
    check_run("the baseline", baseline.scenario, replications)
    return BaseRun(baseline, run(baseline.scenario, replications, seed=seed, jobs=jobs, progress=progress))


def run_what_if(
    base: BaseRun,
    levers: Levers,
    name: str = "what_if",
    jobs: int = 1,
    progress: Progress | None = None,
    partial: Callable[[WhatIf], None] | None = None,
) -> WhatIf:
    """The levers applied to the base's scenario, run with its seed and replications, and paired with it;
    `partial` gets the what-if on its first replications as they finish (see `Workshop.try_levers`)."""
    started = time.perf_counter()
    text, scenario = what_if_scenario(base.baseline, levers, name, base.result.seed, base.result.replications)
    return _paired(base, levers, text, scenario, jobs, progress, started, partial=partial)


def what_if_scenario(
    baseline: Baseline, levers: Levers, name: str, seed: int, replications: int
) -> tuple[str, Scenario]:
    """The what-if's scenario file and scenario, checked against the app's limits for `replications`."""
    csv_name = baseline.start_csv.name if baseline.start_csv else None
    text = what_if_toml(baseline.scenario, levers, name, seed, replications, baseline.label, csv_name)
    scenario = read_scenario(text, f"{name}.toml", baseline.start_csv)
    check_run("the what-if", scenario, replications)
    return text, scenario


def _paired(
    base: BaseRun,
    levers: Levers,
    text: str,
    scenario: Scenario,
    jobs: int,
    progress: Progress | None,
    started: float,
    result: RunResult | None = None,
    partial: Callable[[WhatIf], None] | None = None,
) -> WhatIf:
    """The what-if run (unless `result` is its run already) and paired with the base; `partial` gets it paired on
    the first replications as they finish, against the base's same replications."""
    if result is None:

        def each(part: RunResult) -> None:
            first = first_replications(base.result, part.replications)
            partial(_pairing(base.baseline, first, levers, text, scenario, part, started))

        seed, replications = base.result.seed, base.result.replications
        result = run(scenario, replications, seed, jobs, progress, partial=each if partial else None)
    return _pairing(base.baseline, base.result, levers, text, scenario, result, started)


def _pairing(
    baseline: Baseline,
    base: RunResult,
    levers: Levers,
    text: str,
    scenario: Scenario,
    result: RunResult,
    started: float,
) -> WhatIf:
    """The what-if's run paired with the base's, replication by replication (both hold the same ones)."""
    measures = base.run_summary.yearly_measures, result.run_summary.yearly_measures
    differences = paired_differences(*measures, result.replications).assign(what_if=scenario.name)
    summary = summary_sentence(result.run_summary, differences)
    changes = changes_in_brief(scenario_changes(baseline.scenario, scenario), limit=CHANGES_CHARS)
    seconds = time.perf_counter() - started
    return WhatIf(levers, scenario.description, text, result, differences, summary, seconds, changes)


def first_replications(result: RunResult, count: int) -> RunResult:
    """The run on its first `count` replications only: the base of a partial answer."""
    if count >= result.replications:
        return result
    tables = {name: table[table["replication"] < count].reset_index(drop=True) for name, table in result.tables.items()}
    return dataclasses.replace(result, replications=count, tables=tables)


def sizing_curves(scenario: Scenario, seed: int, replications: int = SIZING_REPLICATIONS) -> list[SizingCurve]:
    """A sizing curve for each finite in-house pool (a run per replication and pool, with the pool unlimited, on
    children drawn once a replication)."""
    check_sizing("sizing", scenario, replications)
    return sizing.sizing_curves(scenario, finite_in_house_pools(scenario), replications, seed)


@dataclass
class Workshop:
    """One baseline at one replication count and seed, and the what-ifs tried against it in this session."""

    baseline: Baseline
    replications: int
    seed: int
    jobs: int = 1
    base: BaseRun | None = None
    history: list[WhatIf] = field(default_factory=list)
    sizing: dict[str, list[SizingCurve]] = field(default_factory=dict)  # by scenario name
    charts: dict[tuple[str, ...], bytes | None] = field(default_factory=dict)  # PNGs, by chart and scenarios shown

    def run_base(self, progress: Progress | None = None) -> BaseRun:
        if self.base is None:
            self.base = run_baseline(self.baseline, self.replications, self.seed, self.jobs, progress)
        return self.base

    def try_levers(
        self, levers: Levers, progress: Progress | None = None, partial: Callable[[WhatIf], None] | None = None
    ) -> WhatIf:
        """Run a what-if against the (cached) base and add it to the history; nothing runs unless both fit.
        `partial` gets the what-if on its first replications as they finish (50 or a little over, then twice as
        many), paired with the base's same replications; an exception it or `progress` raises (Streamlit's, when
        a lever changes mid-run) stops the run and its workers, and leaves the session as it was."""
        if self.base is None:
            check_run("the baseline", self.baseline.scenario, self.replications)
        name = f"what_if_{len(self.history) + 1}"
        text, scenario = what_if_scenario(self.baseline, levers, name, self.seed, self.replications)
        started = time.perf_counter()
        result = None
        if self.base is None:  # both on one pool of workers, the children drawn once if the levers leave demand
            pair = [self.baseline.scenario, scenario]

            def both(parts: list[RunResult]) -> None:
                partial(_pairing(self.baseline, parts[0], levers, text, scenario, parts[1], started))

            each = both if partial else None
            runs = run_many(pair, self.replications, seed=self.seed, jobs=self.jobs, progress=progress, partial=each)
            self.base, result = BaseRun(self.baseline, runs[0]), runs[1]
        what_if = _paired(self.base, levers, text, scenario, self.jobs, progress, started, result, partial)
        what_if.with_baseline = result is not None
        self.history.append(what_if)
        for older in self.history[:-KEPT_RUNS]:
            older.result = None
        return what_if

    @property
    def kept(self) -> list[WhatIf]:
        return [what_if for what_if in self.history if what_if.result is not None]

    def comparison(self) -> Comparison:
        """The base and every what-if still held in memory, side by side (the same children in each)."""
        base = self.run_base().result.run_summary
        kept = self.kept
        differences = pd.concat([w.differences for w in kept], ignore_index=True) if kept else pd.DataFrame()
        what_ifs = [w.result.run_summary for w in kept]
        return Comparison(base, what_ifs, differences, {w.name: w.summary for w in kept}, headline_year(base))

    def sizing_for(self, scenario: Scenario) -> list[SizingCurve]:
        if scenario.name not in self.sizing:
            self.sizing[scenario.name] = sizing_curves(scenario, self.seed)
        return self.sizing[scenario.name]

    def chart(self, key: tuple[str, ...], build: Callable[[], Figure | None]) -> bytes | None:
        """A chart as PNG, drawn once per session: Streamlit reruns the page on every click."""
        if key not in self.charts:
            figure = build()
            self.charts[key] = None if figure is None else png(figure)
        return self.charts[key]

    def report_html(self) -> str:
        """The comparison report of the base and the what-ifs held, with any sizing curves computed for the base."""
        paths = [self.baseline.path] if self.baseline.path else []
        return comparison_report(self.comparison(), paths, self.sizing.get(self.baseline.scenario.name))


def budget_workbook(result: RunResult) -> bytes:
    """budget.xlsx of one run, built in memory (openpyxl writes to a file object as well as to a path)."""
    buffer = io.BytesIO()
    write_budget_workbook(result.run_summary, buffer)
    return buffer.getvalue()


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, facecolor="white")
    return buffer.getvalue()


def fallbacks_table(run: RunSummary) -> pd.DataFrame:
    """One row a financial year, a column a row and unit of `fallbacks_by_year`: 'mean (P10 to P90)' (shares in %
    to one decimal place)."""
    table = run.fallbacks_by_year
    places = [1 if unit == "share_percent" else 0 for unit in table["unit"]]
    cells = [
        f"{m:,.1f} ({a:,.{k}f} to {b:,.{k}f})"
        for m, a, b, k in zip(table["mean"], table["p10"], table["p90"], places, strict=True)
    ]
    columns = [
        f"{FALLBACK_SHORT_NAMES[row]}: {UNIT_SHORT_NAMES[unit]}"
        for row, unit in zip(table["row"], table["unit"], strict=True)
    ]
    years = [
        f"{y} (part year)" if part else y for y, part in zip(table["financial_year"], table["part_year"], strict=True)
    ]
    frame = pd.DataFrame({"financial year": years, "column": columns, "cell": cells})
    shown = frame.pivot_table(index="financial year", columns="column", values="cell", aggfunc="first", sort=False)
    return shown.reset_index().rename_axis(columns=None)
