"""Run cs-demand-model (Social Finance / Data to Insight's demand model) on returns; print aggregates as JSON.

Run by calibration.ssda903.peer_comparison with the side environment's Python (`python -I peer_runner.py`), never
imported by the product: it needs cs-demand-model and its pandas 1.5 (docs/decisions/0008). It reads a job on
stdin (JSON: the returns folder, then per run a reference period, the start date and the dates wanted) and
writes one JSON document on stdout: per run the model's children in care by its placement category on each date
and its entrants a year in the reference period; its version and its categories' PLACE codes. Nothing from a
cell or a child's identifier leaves this process: the model's own prints go to stderr, which the caller
discards. What runs only there is marked "no cover": the side environment has no coverage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from typing import Any

DAYS_PER_YEAR = 365.25


def by_category(population: Any) -> dict[str, float]:
    """Children in each placement category (the model's enum names), summed over its age brackets."""
    totals: dict[str, float] = {}
    for (_, category), children in population.items():
        totals[category] = totals.get(category, 0.0) + float(children)
    return totals


def project(stats: Any, run: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
    """The model's stock on the start date and its daily prediction from it, read on the dates asked for."""
    from cs_demand_model import ModelPredictor

    first, last, start = (dt.date.fromisoformat(run[k]) for k in ("reference_start", "reference_end", "start"))
    predictor = ModelPredictor.from_model(stats, first, last, prediction_start=start)
    dates = [dt.date.fromisoformat(day) for day in run["dates"]]
    days = max((day - start).days for day in dates)
    predicted = predictor.predict(days) if days > 0 else None
    stock = {
        day.isoformat(): by_category(predictor.initial_population if day == start else predicted.loc[day])
        for day in dates
    }
    return {"stock": stock, "entries_per_year": float(stats.daily_entrants(first, last).sum()) * DAYS_PER_YEAR}


def run_job(job: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
    from importlib.metadata import version

    from cs_demand_model import Config, DemandModellingDataContainer, PopulationStats, fs_datastore

    config = Config()
    container = DemandModellingDataContainer(fs_datastore(job["folder"]), config)
    stats = PopulationStats(container.enriched_view, config)
    categories = {c.name: list(c.placement_types) for c in config.PlacementCategories if c.placement_types}
    return {
        "version": version("cs-demand-model"),
        "categories": categories,
        "runs": [project(stats, run) for run in job["runs"]],
    }


def main() -> None:  # pragma: no cover
    job = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):
        reply = run_job(job)
    json.dump(reply, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    main()
