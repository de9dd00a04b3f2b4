"""Run a scenario for many replications, in parallel worker processes if asked.

Replication r of seed s always draws from the same streams (see `sim.streams`), and its tables
are built from its own records only, so results do not depend on the number of workers or on
how replications are batched.
"""

from __future__ import annotations

import contextlib
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
    dask: str | None = None,
) -> RunResult:
    """Simulate `replications` runs of the scenario; `seed` defaults to the scenario's own."""
    return run_many([scenario], replications, seed=seed, jobs=jobs, progress=progress, dask=dask)[0]


def run_many(
    scenarios: list[Scenario],
    replications: int,
    seed: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
) -> list[RunResult]:
    """Run several scenarios, their batches of replications sharing one pool of workers.

    `dask` is the address of a dask.distributed scheduler, or "local" to start a cluster of `jobs`
    workers on this machine; without it, `jobs` worker processes (0 = one per core) run the batches.
    Each scenario uses `seed`, or its own seed when `seed` is None. Results are the same whichever
    way the batches ran.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    jobs = min(jobs if jobs > 0 else os.cpu_count() or 1, replications * len(scenarios))
    started = time.perf_counter()
    seeds = [scenario.seed if seed is None else seed for scenario in scenarios]
    with _executor(jobs, dask) as (submit, workers):
        batches = _batches(replications, workers)
        tasks = [(s, scenario_seed, batch) for s, scenario_seed in enumerate(seeds) for batch in batches]
        futures = [submit(_run_batch, scenarios[s], scenario_seed, batch) for s, scenario_seed, batch in tasks]
        done = []
        for future in futures:
            done.append(future.result())
            if progress:
                progress(len(done[-1]["flows"]))
    seconds = time.perf_counter() - started
    results = []
    for s, (scenario, scenario_seed) in enumerate(zip(scenarios, seeds, strict=True)):
        parts = [tables for (task_scenario, _, _), tables in zip(tasks, done, strict=True) if task_scenario == s]
        combined = {name: pd.concat([part[name] for part in parts], ignore_index=True) for name in TABLES}
        results.append(
            RunResult(
                scenario=scenario,
                seed=scenario_seed,
                replications=replications,
                calendar=Calendar.for_scenario(scenario),
                tables=combined,
                wall_seconds=seconds,
            )
        )
    return results


class _InProcess:
    """A finished 'future' for runs without workers."""

    def __init__(self, value: object) -> None:
        self.value = value

    def result(self) -> object:
        return self.value


@contextlib.contextmanager
def _executor(jobs: int, dask: str | None):
    """(submit, workers): where batches run. Workers decides how many batches a run is cut into."""
    if dask:
        from sim.distributed import dask_executor

        with dask_executor(dask, jobs) as executor:
            yield executor
    elif jobs == 1:
        yield (lambda function, *args: _InProcess(function(*args))), 1
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield pool.submit, jobs


def _batches(replications: int, workers: int) -> list[list[int]]:
    """Contiguous batches: a few per worker so a slow batch does not hold up the others, and batches of
    at most 10 on one worker so progress shows. Tables are built a batch at a time (see sim.results)."""
    count = min(replications, workers * 4) if workers > 1 else max(1, replications // 10)
    size = -(-replications // count)
    return [list(range(i, min(i + size, replications))) for i in range(0, replications, size)]


def _run_batch(scenario: Scenario, seed: int, batch: list[int]) -> dict[str, pd.DataFrame]:
    """Simulate a batch and build its tables, a slice of replications at a time to bound memory: a
    replication of an England-sized system holds about 460,000 children and 530,000 placements, so
    it gets a table pass of its own, while a pass covers about a hundred Cheshire East replications."""
    calendar = Calendar.for_scenario(scenario)
    parts, records, rows = [], [], 0
    for replication in batch:
        records.append(simulate_replication(scenario, seed, replication))
        rows += records[-1].cohort.size + len(records[-1].placements)
        if rows >= MAX_ROWS_PER_TABLE_PASS or replication == batch[-1]:
            parts.append(batch_tables(records, scenario, calendar))
            records, rows = [], 0
    if len(parts) == 1:
        return parts[0]
    return {name: pd.concat([part[name] for part in parts], ignore_index=True) for name in TABLES}


MAX_ROWS_PER_TABLE_PASS = 500_000  # children and placements held in records at once
