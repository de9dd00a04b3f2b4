"""Run a scenario for many replications, in parallel worker processes if asked.

Replication r of seed s always draws from the same streams (see `sim.engine.streams`), and its tables
are built from its own records only, so results do not depend on the number of workers or on
how replications are batched.

Scenarios that would draw the same children (equal `cohort_key`: a what-if changing only supply, run on its
base's seed) run in one family: each replication's cohort is drawn once and replayed for every scenario of the
family, which gives the records drawing it afresh would (tests/test_cohort_reuse.py).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from sim.engine.demand import draw_cohort
from sim.engine.errors import InputError
from sim.engine.model import ReplicationRecord, cohort_key, simulate_linked, simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.engine.scenario import Scenario
from sim.results.costs import at_drawn_prices
from sim.results.interrupts import (
    STOP_SIGNALS,
    blocked_for_workers,
    set_parent_death_signal,
    stopping_on_signals,
    unblock_in_worker,
)
from sim.results.summary import RunSummary
from sim.results.tables import TABLES, Calendar, batch_tables, summarise

Progress = Callable[[int], None]
Partial = Callable[[list["RunResult"]], None]  # each scenario's result on the replications finished so far


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    replications: int
    calendar: Calendar
    tables: dict[str, pd.DataFrame]  # per-replication tidy tables, with a `replication` column
    wall_seconds: float = 0.0

    @property
    def events(self) -> int:
        return int(self.tables["flows"]["events"].sum())

    def summary(self, table: str, keys: list[str], value: str) -> pd.DataFrame:
        """Mean, 95% CI of the mean and P10/P50/P90 across replications (see `results.summarise`): an ad hoc
        look, computed anew each time; the outputs read the summaries kept in `run_summary`."""
        return summarise(self.tables[table], keys, value, self.replications)

    @cached_property
    def run_summary(self) -> RunSummary:
        """The run's summaries, kept with it: every chart, file and comparison of this run reads the same ones."""
        return RunSummary.of(self)


def run(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
    partial: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Simulate `replications` runs of the scenario; `seed` defaults to the scenario's own. `partial` gets the
    result on the replications finished so far, from FIRST_PARTIAL on (see `run_many`)."""
    each = None if partial is None else (lambda results: partial(results[0]))
    return run_many([scenario], replications, seed=seed, jobs=jobs, progress=progress, dask=dask, partial=each)[0]


def run_many(
    scenarios: list[Scenario],
    replications: int,
    seed: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
    partial: Partial | None = None,
) -> list[RunResult]:
    """Run several scenarios, their batches of replications sharing one pool of workers.

    `dask` is the address of a dask.distributed scheduler, or "local" to start a cluster of `jobs`
    workers on this machine; without it, `jobs` worker processes (0 = one per core) run the batches.
    Each scenario uses `seed`, or its own seed when `seed` is None. Results are the same whichever
    way the batches ran. SIGTERM and SIGHUP stop the run like Ctrl-C (see `stopping_on_signals`).

    `partial`, if given, is called with every scenario's result on its first n replications (`replications` = n)
    once FIRST_PARTIAL have finished for all of them, then at twice the last n, n at a batch's end (so 50 or a
    little over for the first); the final result is returned as ever. An exception it raises stops the run and
    its workers.
    """
    seeds = [scenario.seed if seed is None else seed for scenario in scenarios]
    families = cohort_families(scenarios, seeds)
    return _run_groups(scenarios, seeds, families, replications, jobs, progress, dask, linked=False, partial=partial)


def cohort_families(scenarios: list[Scenario], seeds: list[int]) -> list[list[int]]:
    """The scenarios (indices, in order) grouped by `cohort_key`: each group draws a replication's cohort once.
    Keys are compared with == (they hold scenario sections), so a pass over the families found so far."""
    keys: list[tuple[object, ...]] = []
    families: list[list[int]] = []
    for index, (scenario, seed) in enumerate(zip(scenarios, seeds, strict=True)):
        key = cohort_key(scenario, seed)
        found = next((f for f, other in enumerate(keys) if other == key), None)
        if found is None:
            keys.append(key)
            families.append([index])
        else:
            families[found].append(index)
    return families


def run_linked(
    scenarios: list[Scenario],
    groups: list[list[int]],
    replications: int,
    jobs: int = 1,
    progress: Progress | None = None,
    dask: str | None = None,
) -> list[RunResult]:
    """Run several scenarios on their own seeds, the scenarios of each group (indices) in one event loop per
    replication: authorities sharing regional pools (`scenario.shared_pool_groups`). A group of one runs as in
    `run_many`. Each scenario gets its own result, as if run alone, but for the places it competed for."""
    return _run_groups(scenarios, [s.seed for s in scenarios], groups, replications, jobs, progress, dask, linked=True)


def _run_groups(
    scenarios: list[Scenario],
    seeds: list[int],
    groups: list[list[int]],
    replications: int,
    jobs: int,
    progress: Progress | None,
    dask: str | None,
    linked: bool,
    partial: Partial | None = None,
) -> list[RunResult]:
    """Each group's batches of replications as tasks; a group is authorities in one event loop (`linked`) or a
    family of scenarios sharing their cohorts, run one after another on each replication's."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if jobs < 0:
        raise InputError(f"--jobs must be 0 (one worker per core) or a positive number of workers, got {jobs}")
    jobs = min(jobs if jobs > 0 else os.cpu_count() or 1, replications * len(groups))
    started = time.perf_counter()
    with stopping_on_signals(), _executor(jobs, dask) as (submit, workers):
        batches = _batches(replications, workers)
        # batch by batch, every group's: the first replications of every scenario finish first (partial answers)
        tasks = [(group, batch) for batch in batches for group in groups]
        futures = [
            submit(_run_group_batch, [scenarios[s] for s in group], [seeds[s] for s in group], batch, linked)
            for group, batch in tasks
        ]
        done: dict[int, list[dict[str, pd.DataFrame]]] = {s: [] for s in range(len(scenarios))}
        answered = 0  # replications the last partial answer rests on
        for index, ((group, batch), future) in enumerate(zip(tasks, futures, strict=True)):
            for s, tables in zip(group, future.result(), strict=True):
                done[s].append(tables)
                if progress:
                    progress(len(tables["flows"]))
            finished = batch[-1] + 1 if index % len(groups) == len(groups) - 1 else answered  # of every scenario
            if partial and finished >= max(FIRST_PARTIAL, 2 * answered) and finished < replications:
                partial(_results(scenarios, seeds, done, finished, time.perf_counter() - started))
                answered = finished
    return _results(scenarios, seeds, done, replications, time.perf_counter() - started)


# Replications of the first partial answer: issue 20 item 2 asks for the first 50's. Each later one waits for twice
# the last (50, 100, 200, ...): a partial answer costs the caller its summaries (about 0.7 s of CPU for a Cheshire
# East what-if and its base at 50 replications, taken from the workers' cores), so they thin out as answers settle.
FIRST_PARTIAL = 50


def _results(
    scenarios: list[Scenario],
    seeds: list[int],
    done: dict[int, list[dict[str, pd.DataFrame]]],
    count: int,
    seconds: float,
) -> list[RunResult]:
    """Each scenario's result from the batches done so far (its first `count` replications)."""
    results = []
    for s, (scenario, scenario_seed) in enumerate(zip(scenarios, seeds, strict=True)):
        combined = {name: pd.concat([part[name] for part in done[s]], ignore_index=True) for name in TABLES}
        results.append(
            RunResult(
                scenario=scenario,
                seed=scenario_seed,
                replications=count,
                calendar=Calendar.for_scenario(scenario),
                tables=combined,
                wall_seconds=seconds,
            )
        )
    return results


class _InProcess:
    """A 'future' for runs without workers, run when its result is asked for: batches then run one at a time
    between progress reports, so a partial answer or a stop (Ctrl-C, a lever changed in the app) comes between
    two batches rather than after all of them."""

    def __init__(self, function: Callable[..., object], args: tuple[object, ...]) -> None:
        self.function, self.args = function, args

    def result(self) -> object:
        return self.function(*self.args)


@contextlib.contextmanager
def _executor(jobs: int, dask: str | None):
    """(submit, workers): where batches run. Workers decides how many batches a run is cut into."""
    if dask is not None:
        from sim.results.distributed import dask_executor

        with dask_executor(dask, jobs) as executor:
            yield executor
    elif jobs == 1:
        yield (lambda function, *args: _InProcess(function, args)), 1
    else:
        with _process_pool(jobs) as pool:

            def submit(function, *args):
                with blocked_for_workers():  # the pool forks its workers in its first submit
                    return pool.submit(function, *args)

            yield submit, jobs


@contextlib.contextmanager
def _process_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of workers that die with this process. On any exception (Ctrl-C, SIGTERM, a failed batch) the
    workers are stopped at once: `with ProcessPoolExecutor` would wait for every running batch to finish."""
    context = multiprocessing.get_context()
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_worker_start,
        initargs=(os.getpid(), context.get_start_method() == "forkserver"),
    )
    try:
        yield pool
    except BrokenProcessPool:
        _stop_workers(pool)
        raise InputError(
            "a worker process ended unexpectedly (killed, or out of memory?); try again with fewer --jobs"
        ) from None
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued batches, end the workers, and wait for the pool's manager thread to see them gone.

    Uses the pool's private process table and thread: before Python 3.14 (`terminate_workers`) the pool has
    no public way to end workers busy with a batch. The manager thread closes its wake-up pipe as it ends;
    left running, it races the interpreter's exit hook, which writes to that pipe ("Exception ignored in
    threading._shutdown ... Bad file descriptor", or a hang), so it must have ended before this returns.
    Killed, not terminated: a worker holds nothing to clean up, SIGTERM's default action would end it as abruptly,
    and a worker still starting has SIGTERM blocked (`blocked_for_workers`), or ignored where it was ignored."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join(timeout=WORKER_STOP_SECONDS)
    if manager is not None:
        manager.join(timeout=WORKER_STOP_SECONDS)  # it ends once it sees the workers gone


WORKER_STOP_SECONDS = 5  # how long to wait for a killed worker, and then for the pool's manager thread
PARENT_POLL_SECONDS = 0.5  # how often a worker checks that its parent is still there


def _worker_start(parent: int, via_fork_server: bool) -> None:
    """Pool initializer. Workers ignore Ctrl-C (the terminal sends it to them too, but the parent stops the
    pool, so they would only print tracebacks), take the default action on SIGTERM and SIGHUP rather than
    a handler of the parent's copied by fork (one ignored, as under nohup, stays ignored), and die with the
    parent however it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in STOP_SIGNALS:
        if callable(signal.getsignal(signum)):
            signal.signal(signum, signal.SIG_DFL)
    unblock_in_worker()
    _die_with_parent(parent, via_fork_server)


def _die_with_parent(parent: int, via_fork_server: bool) -> None:
    """A worker left behind by a killed parent would keep computing and hold the parent's stdout and stderr
    open. On Linux the kernel kills the worker when the parent ends; a watcher thread covers other systems
    and a parent that ended before the kernel was asked. A fork server, not the parent, starts workers
    under Python 3.14's default on Linux; it exits when the parent does, which the watcher sees too."""
    set_parent_death_signal(signal.SIGKILL)
    ppid = os.getppid()
    if (ppid != parent and not via_fork_server) or not _parent_alive(ppid):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(ppid,), name="watch parent", daemon=True).start()


def _watch_parent(ppid: int) -> None:
    while _parent_alive(ppid):
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _parent_alive(ppid: int) -> bool:
    """POSIX gives an orphan a new parent; on Windows, where it does not, multiprocessing's handle on the
    parent (a pipe on POSIX) says whether it has ended."""
    parent = multiprocessing.parent_process()
    return os.getppid() == ppid and (parent is None or parent.is_alive())


def _batches(replications: int, workers: int) -> list[list[int]]:
    """Contiguous batches: a few per worker so a slow batch does not hold up the others, and batches of
    at most 10 on one worker so progress shows. Tables are built a batch at a time (see sim.results.tables)."""
    count = min(replications, workers * 4) if workers > 1 else max(1, replications // 10)
    size = -(-replications // count)
    return [list(range(i, min(i + size, replications))) for i in range(0, replications, size)]


def _run_group_batch(
    scenarios: list[Scenario], seeds: list[int], batch: list[int], linked: bool = False
) -> list[dict[str, pd.DataFrame]]:
    """Simulate a batch of a group (a family sharing cohorts, or authorities linked by shared pools) and build
    each one's tables, a slice of replications at a time to bound memory: a replication of an England-sized
    system holds about 460,000 children and 530,000 placements, so it gets a table pass of its own, while a
    pass covers about a hundred Cheshire East replications."""
    calendars = [Calendar.for_scenario(scenario) for scenario in scenarios]
    parts: list[list[dict[str, pd.DataFrame]]] = [[] for _ in scenarios]
    records: list[list[ReplicationRecord]] = [[] for _ in scenarios]
    rows = 0
    for replication in batch:
        # each its own entries, stays and prices
        drawn = [with_drawn_parameters(s, seed, replication) for s, seed in zip(scenarios, seeds, strict=True)]
        simulate = simulate_linked if linked else simulate_family
        simulated = simulate(drawn, seeds, replication)
        for held, record in zip(records, simulated, strict=True):
            held.append(record)
        rows += sum(record.cohort.size + len(record.placements) for record in simulated)
        if rows >= MAX_ROWS_PER_TABLE_PASS or replication == batch[-1]:
            for index, (scenario, seed, calendar) in enumerate(zip(scenarios, seeds, calendars, strict=True)):
                parts[index].append(_tables(records[index], scenario, seed, calendar))
            records, rows = [[] for _ in scenarios], 0
    return [part[0] if len(part) == 1 else _concatenated(part) for part in parts]


def simulate_family(scenarios: list[Scenario], seeds: list[int], replication: int) -> list[ReplicationRecord]:
    """One replication of scenarios of one `cohort_key` (with their parameter draws): the cohort drawn once, for
    the first, and replayed (copied) for each."""
    if len(scenarios) == 1:
        return [simulate_replication(scenarios[0], seeds[0], replication)]
    cohort = draw_cohort(scenarios[0], seeds[0], replication, list(scenarios[0].pools))
    return [simulate_replication(s, seed, replication, cohort) for s, seed in zip(scenarios, seeds, strict=True)]


def _tables(records: list[ReplicationRecord], scenario: Scenario, seed: int, calendar: Calendar):
    tables = batch_tables(records, scenario, calendar, seed)  # priced at the scenario's prices, then scaled
    columns = {name: values.to_numpy() for name, values in tables["spend"].items()}
    tables["spend"] = pd.DataFrame(at_drawn_prices(columns, scenario, seed, calendar.financial_years))
    return tables


def _concatenated(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    return {name: pd.concat([part[name] for part in parts], ignore_index=True) for name in TABLES}


MAX_ROWS_PER_TABLE_PASS = 500_000  # children and placements held in records at once
