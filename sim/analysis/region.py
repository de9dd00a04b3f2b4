"""Several authorities at once: a scenario set run in one command, with totals for the region.

A scenario set is a folder of scenario files (one per authority, named by the file) or a list of
files. Every authority keeps its own seed, so authorities are independent, and the region total
of a measure in replication r is the sum of the authorities' replication r: a valid draw of the
total, summarised like any other measure. Totals are given only for financial years that every
authority's horizon covers in full, so no year mixes whole and part years.

Authorities whose pools are `shared` under one name (a regional market) run in one simulation a
replication, so their demand competes for its places and together they never hold more than its
capacity (`sim.engine.model.simulate_linked`; docs/decisions/0009-gap-ledger-and-fallbacks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.engine.scenario import ScenarioError, shared_pool_groups
from sim.engine.scenario_files import load_scenario
from sim.results.runner import Progress, RunResult, run_linked, run_many
from sim.results.summary import financial_year
from sim.results.tables import summarise

REGION = "region total"
MEASURES = {
    "children_in_care": "children in care on 31 March",
    "placed_in_house": "placements started in-house",
    "placed_externally": "placements started externally",
    "gap_child_days_total": "child-days outside the first choice (every gap: not sufficient and placed externally)",
    "not_sufficient_child_days_total": "child-days in placements not sufficient",
    "placed_externally_child_days_total": "child-days placed externally, right kind",
    "spend_total": "spend, £",
    "spend_external": "external spend, £",
}


@dataclass
class RegionResult:
    authorities: list[str]
    results: list[RunResult]
    financial_years: list[str]  # full in every authority
    summary: pd.DataFrame  # authority, measure, financial_year, mean, ci95_low, ci95_high, p10, p50, p90

    @property
    def region_total(self) -> pd.DataFrame:
        return self.summary[self.summary["authority"] == REGION]


def scenario_set(paths: list[Path]) -> list[Path]:
    """The scenario files of a set: each folder's *.toml files, in name order, and the files given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                raise ScenarioError(f"{path}: no scenario files (*.toml) in this folder")
            files += found
        else:
            files.append(path)
    names = [f.stem for f in files]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(f"authorities are named by their file; these names repeat: {', '.join(repeated)}")
    if len(files) < 2:
        raise ScenarioError(f"a scenario set needs at least two authorities, got {len(files)}")
    return files


def run_region(
    files: list[Path], replications: int, jobs: int = 1, progress: Progress | None = None, dask: str | None = None
) -> RegionResult:
    scenarios = [load_scenario(path) for path in files]
    seeds = [s.seed for s in scenarios]
    if len(set(seeds)) < len(seeds):
        listed = ", ".join(f"{f.name}: {s}" for f, s in zip(files, seeds, strict=True))
        raise ScenarioError(
            "two authorities share a seed, so their random draws would be identical rather than independent: "
            f"give each scenario its own `seed` ({listed})"
        )
    authorities = [path.stem for path in files]
    groups = shared_pool_groups(scenarios, [path.name for path in files])
    if all(len(group) == 1 for group in groups):
        results = run_many(scenarios, replications, jobs=jobs, progress=progress, dask=dask)
    else:
        results = run_linked(scenarios, groups, replications, jobs=jobs, progress=progress, dask=dask)
    years = _common_full_years(results)
    per_authority = [
        _measures(result).assign(authority=name) for name, result in zip(authorities, results, strict=True)
    ]
    measures = pd.concat(per_authority, ignore_index=True)
    measures = measures[measures["financial_year"].isin(years)]
    total = measures.groupby(["replication", "measure", "financial_year"], as_index=False)["value"].sum()
    measures = pd.concat([measures, total.assign(authority=REGION)], ignore_index=True)
    summary = summarise(measures, ["authority", "measure", "financial_year"], "value", replications)
    return RegionResult(authorities, results, years, summary)


def _measures(result: RunResult) -> pd.DataFrame:
    """Per replication and financial year: the region measures of one authority."""
    yearly = result.run_summary.yearly_measures
    yearly = yearly[(yearly["category"] == "all") & yearly["measure"].isin(MEASURES)]
    stock = result.tables["stock"]
    march_31 = stock[(stock["date"].dt.month == 4) & (stock["date"].dt.day == 1)]  # counted at 00:00 on 1 April
    in_care = march_31.groupby(["replication", "date"], as_index=False)["children"].sum()
    in_care = pd.DataFrame(
        {
            "replication": in_care["replication"],
            "financial_year": financial_year(in_care["date"] - pd.Timedelta(days=1)),  # the year 31 March ends
            "value": in_care["children"].astype(float),
            "measure": "children_in_care",
        }
    )
    return pd.concat([yearly[["replication", "financial_year", "value", "measure"]], in_care], ignore_index=True)


def _common_full_years(results: list[RunResult]) -> list[str]:
    full = []
    for result in results:
        years = result.calendar.financial_years
        spans = zip(years.labels, years.ends - years.starts, years.lengths, strict=True)
        full.append({label for label, days, length in spans if days == length})
    return sorted(set.intersection(*full))


def region_table(region: RegionResult, year: str) -> str:
    """Plain-text table of one financial year: each measure per authority and for the region."""
    rows = region.summary[region.summary["financial_year"] == year]
    names = [*region.authorities, REGION]
    width = max(len(n) for n in names) + 2
    lines = [f"Financial year {year}: mean (P10 to P90 across replications)", ""]
    lines.append(f"{'':44}" + "".join(f"{n:>{width + 14}}" for n in names))
    for measure, label in MEASURES.items():
        cells = []
        for name in names:
            row = rows[(rows["measure"] == measure) & (rows["authority"] == name)]
            cells.append(_cell(row, measure.startswith("spend")) if len(row) else "-")
        lines.append(f"{label:44}" + "".join(f"{c:>{width + 14}}" for c in cells))
    return "\n".join(lines)


def _cell(row: pd.DataFrame, money: bool) -> str:
    mean, low, high = (float(row[c].iloc[0]) for c in ("mean", "p10", "p90"))
    if money:
        return f"£{mean / 1e6:.2f}m ({low / 1e6:.2f}-{high / 1e6:.2f})"
    return f"{mean:,.0f} ({low:,.0f}-{high:,.0f})"
