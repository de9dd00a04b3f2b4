"""Run a scenario for many replications, in parallel worker processes if asked.

Replication r of seed s always draws from the same streams (see `sim.streams`), and its tables
are built from its own records only, so results do not depend on the number of workers or on
how replications are batched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from sim.model import simulate_replication
from sim.results import TABLES, Calendar, batch_tables, summarise
from sim.scenario import Scenario

Progress = Callable[[int], None]


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    replications: int
    calendar: Calendar
    tables: dict[str, pd.DataFrame]  # per-replication tidy tables, with a `replication` column
    wall_seconds: float = 0.0
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return int(self.tables["flows"]["events"].sum())

    def summary(self, table: str, keys: list[str], value: str) -> pd.DataFrame:
        """Mean, 95% CI of the mean and P10/P50/P90 across replications (see `results.summarise`)."""
        return summarise(self.tables[table], keys, value, self.replications)


def run(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> RunResult:
    """Simulate `replications` runs of the scenario; `seed` defaults to the scenario's own."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    seed = scenario.seed if seed is None else seed
    jobs = max(1, min(jobs if jobs > 0 else os.cpu_count() or 1, replications))
    started = time.perf_counter()
    batches = _batches(replications, jobs)
    if jobs == 1:
        results = []
        for batch in batches:
            results.append(_run_batch(scenario, seed, batch))
            if progress:
                progress(len(batch))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_run_batch, scenario, seed, batch) for batch in batches]
            results = []
            for future in futures:
                results.append(future.result())
                if progress:
                    progress(len(results[-1]["flows"]))
    combined = {name: pd.concat([tables[name] for tables in results], ignore_index=True) for name in TABLES}
    return RunResult(
        scenario=scenario,
        seed=seed,
        replications=replications,
        calendar=Calendar.for_scenario(scenario),
        tables=combined,
        wall_seconds=time.perf_counter() - started,
    )


def _batches(replications: int, jobs: int) -> list[list[int]]:
    """Contiguous batches, a few per worker so a slow batch does not hold up the others."""
    count = min(replications, jobs * 4) if jobs > 1 else max(1, replications // 10)
    size = -(-replications // count)
    return [list(range(i, min(i + size, replications))) for i in range(0, replications, size)]


def _run_batch(scenario: Scenario, seed: int, batch: list[int]) -> dict[str, pd.DataFrame]:
    calendar = Calendar.for_scenario(scenario)
    return batch_tables([simulate_replication(scenario, seed, r) for r in batch], scenario, calendar)
