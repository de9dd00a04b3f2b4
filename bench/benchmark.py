"""`sufficiency bench`: the engine's speed and scale against issue 20's targets, from one run on one machine.

Prints, in the order of the issue's targets table: the workshop what-if against a cached base, 1,000 Cheshire East
replications with their tables and files, the write phase as a share of the simulation, a whole `sufficiency run`
against a bare SimPy loop, an England-sized system, the cost per event against bare SimPy, `compare` against
separate runs and parallel efficiency; then the Erlang-loss peer comparison with ciw and what the speed work gained
(before/after, timed in this run). A figure whose feature is not built yet prints as "not built", never as a number.
Timings are measured here, never asserted in tests; `quick=True` runs a tiny version for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import simpy

from bench import peer
from bench.record import Figure, machine, machine_line, not_built
from sim import engine
from sim.engine import model
from sim.engine.model import CareSystem, simulate_replication
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario, scenario_from_dict
from sim.results.runner import cohort_families, run

ROOT = Path(__file__).resolve().parent.parent
CHESHIRE_EAST = ROOT / "scenarios" / "cheshire_east" / "baseline.toml"
# England: 83,840 children looked after on 31 March 2023 (shared/reference/national_england.md line 17)
# and 33,050 starts in 2024 (same file, line 29).
ENGLAND_IN_CARE = 83_840
ENGLAND_ENTRIES_PER_YEAR = 33_050
# Targets: the "Targets" table of issue 20 (`issues show 20`), on 2 cores.
WHAT_IF_TARGET_S = 1.5
FIRST_ANSWER_TARGET_S = 0.5
CHESHIRE_EAST_TARGET_S = 10.0
FILES_SHARE_TARGET = 0.25
WHOLE_RUN_TARGET = 2.5
ENGLAND_TARGET_S = 240.0
ENGLAND_TARGET_MB = 1024.0
PURE_PYTHON_TARGET = 3.0
COMPILED_TARGET = 2.5
COMPARE_TARGET = 0.6
PARALLEL_TARGET = 0.90
# Three what-ifs changing supply only (homes, foster carers, emergency beds): one cohort family with the baseline.
SUPPLY_WHAT_IFS = ("add_two_homes.toml", "more_foster_carers.toml", "two_emergency_beds.toml")
CIW_TARGET = 0.6  # kept from the earlier benchmark (issue 20 sets none): our engine well under ciw's wall time


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does: the full run and the tiny one the tests use."""

    overhead_replications: int = 20
    peer_replications: int = 100
    cheshire_east_replications: int = 1000
    england_replications: int = 100
    england_fraction: float = 1.0  # of the England-sized population
    parallel_replications: int = 200
    what_if_replications: int = 200
    before_after_replications: int = 20
    collector_fraction: float = 1.0  # of the England-sized population, for the collector's before/after
    run_replications: int = 200  # the write phase's share and the whole `sufficiency run`
    compare_replications: int = 200

    @property
    def full(self) -> bool:
        """Targets are judged only at the issue's sizes; the quick bench's figures are printed, not judged."""
        return self == Sizes()


QUICK = Sizes(2, 20, 8, 2, 0.01, 8, 4, 2, 0.01, 4, 4)


def benchmark(jobs: int = 2, quick: bool = False, echo: Callable[[str], None] = print) -> list[Figure]:
    """Run every figure in turn, printing each as it comes; returns them all."""
    return measure(jobs, quick, echo)[1]


def measure(jobs: int = 2, quick: bool = False, echo: Callable[[str], None] = print) -> tuple[dict, list[Figure]]:
    """The machine (see `bench.record.machine`) and every figure, each printed as it comes."""
    sizes = QUICK if quick else Sizes()
    about = machine(jobs, quick)
    echo(machine_line(about))
    steps = [
        lambda: what_if(sizes.what_if_replications, jobs, sizes.full),
        lambda: cheshire_east(sizes.cheshire_east_replications, jobs, sizes.full),
        lambda: run_and_files(sizes.run_replications, jobs, sizes.full),
        lambda: england(sizes.england_replications, sizes.england_fraction, jobs, sizes.full),
        lambda: model_overhead(sizes.overhead_replications, sizes.full, 3 if sizes.full else 1),
        lambda: compare_against_separate(sizes.compare_replications, jobs, sizes.full),
        lambda: parallel_efficiency(sizes.parallel_replications, jobs, sizes.full),
        lambda: peer_comparison(sizes.peer_replications),
        *before_after(sizes.before_after_replications, sizes.collector_fraction),
    ]
    figures = []
    for step in steps:
        for figure in _as_list(step()):
            echo(figure.line())
            figures.append(figure)
    return about, figures


def _as_list(value: Figure | list[Figure]) -> list[Figure]:
    return value if isinstance(value, list) else [value]


def _judged(met: bool, full: bool) -> bool | None:
    return met if full else None


# -- cost per event against bare SimPy -------------------------------------------------------------------


def model_overhead(replications: int, full: bool = False, rounds: int = 1) -> list[Figure]:
    """Seconds per event of whole replications (demand draws, event loop, records) against bare SimPy, for the
    pure-Python event logic and the compiled one (docs/decisions/0012-compiled-core.md), pure Python first.

    This process's own core is timed here; the other in a fresh process forced to it by SUFFICIENCY_CORE, when
    it exists: the compiled one only where `make compiled` has built it from the current source, else "not
    built". Each is the best of `rounds` passes, its bare SimPy loops timed in the same process. Also printed:
    the split between drawing the children (before the loop), SimPy's own cost for the kind of event the model
    schedules (a timeout with a callback) and the model's logic in the loop (the loop less that cost).
    """
    compiled = not model.__file__.endswith(".py")
    timed = {compiled: overhead_seconds(replications, rounds)}
    if compiled or engine.compiled_build_fresh():
        timed[not compiled] = _overhead_in_core(not compiled, replications, rounds)
    figures = [_overhead_figure(core, timed[core], replications, full) for core in (False, True) if core in timed]
    if True not in timed:
        figures.append(
            not_built(
                "model overhead, compiled: cost per event against bare SimPy",
                f"at most {COMPILED_TARGET:g}",
                f"no compiled core built from the current source in {engine.BUILD}: make compiled",
            )
        )
    return figures


def overhead_seconds(replications: int, rounds: int = 1) -> dict[str, float]:
    """The best of `rounds` passes over `replications` Cheshire East replications (drawing and looping timed
    apart), and the bare SimPy loops for the same number of events, in this process's core."""
    scenario = load_scenario(CHESHIRE_EAST)
    passes = []
    for _ in range(rounds):
        drawing = looping = 0.0
        events = 0
        for replication in range(replications):
            started = time.perf_counter()
            system = CareSystem(scenario, scenario.seed, replication)
            drawn = time.perf_counter()
            events += system.run().events
            drawing, looping = drawing + drawn - started, looping + time.perf_counter() - drawn
        passes.append((drawing + looping, drawing, looping, events))
    _, drawing, looping, events = min(passes)
    return {
        "compiled": float(not model.__file__.endswith(".py")),
        "drawing": drawing,
        "looping": looping,
        "events": events,
        "bare": bare_simpy_best_seconds(events),
        "callback": min(bare_callback_seconds(events) for _ in range(max(rounds, 1))),
    }


def _overhead_in_core(compiled: bool, replications: int, rounds: int) -> dict[str, float]:
    """`overhead_seconds` in a fresh interpreter whose engine is forced to the given core."""
    code = (
        "import json; from bench.benchmark import overhead_seconds; "
        f"print(json.dumps(overhead_seconds({replications}, {rounds})))"
    )
    environment = {**os.environ, engine.CORE_VARIABLE: "compiled" if compiled else "python"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT, env=environment
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the model overhead on the {'compiled' if compiled else 'pure-Python'} core failed:\n{done.stderr}"
        )
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    assert timed["compiled"] == compiled, "the subprocess ran the other core"
    return timed


def _overhead_figure(compiled: bool, timed: dict[str, float], replications: int, full: bool) -> Figure:
    events, drawing, looping, bare = timed["events"], timed["drawing"], timed["looping"], timed["bare"]
    logic = looping - timed["callback"]
    ratio = (drawing + looping) / bare

    def per_event(seconds: float) -> str:
        return f"{seconds / events * 1e6:.2f} us/event"

    kind, target = ("compiled", COMPILED_TARGET) if compiled else ("pure Python", PURE_PYTHON_TARGET)
    return Figure(
        f"model overhead, {kind}: cost per event against bare SimPy",
        f"{per_event(drawing + looping)} over {events:,} events ({replications} Cheshire East replications; "
        f"demand draws {per_event(drawing)}, event loop and records {per_event(looping)}) vs bare SimPy "
        f"{per_event(bare)}: ratio {ratio:.2f}. SimPy's own cost of a timeout with a callback, the "
        f"model's kind of event: {per_event(timed['callback'])}; the model's logic in the loop {per_event(logic)}",
        f"at most {target:g}",
        _judged(ratio <= target, full),
        ratio,
        "ratio",
        f"{ratio:.2f}",
        {
            "us_per_event": (drawing + looping) / events * 1e6,
            "events": events,
            "demand_draws_us_per_event": drawing / events * 1e6,
            "event_loop_and_records_us_per_event": looping / events * 1e6,
            "bare_simpy_us_per_event": bare / events * 1e6,
            "simpy_timeout_callback_us_per_event": timed["callback"] / events * 1e6,
            "model_logic_us_per_event": logic / events * 1e6,
        },
    )


def bare_simpy_seconds(events: int, per_process: int = 100) -> float:
    """Time SimPy processes doing nothing but time out, scheduling `events` events in all."""
    env = simpy.Environment()

    def ticking(env: simpy.Environment, ticks: int):
        for _ in range(ticks):
            yield env.timeout(1.0)

    processes = max(1, events // (per_process + 2))  # each process also schedules its start and its end
    for _ in range(processes):
        env.process(ticking(env, per_process))
    started = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - started
    return seconds * events / next(env._eid)


def bare_simpy_best_seconds(events: int) -> float:
    """The bare loop's best of three: its timing moves by up to 10% between runs."""
    return min(bare_simpy_seconds(events) for _ in range(3))


def bare_callback_seconds(events: int, chains: int = 1000) -> float:
    """Time `events` timeouts whose callbacks schedule the next timeout of their chain, and nothing else."""
    env = simpy.Environment()
    remaining = [events]

    def next_timeout(event: simpy.Event) -> None:
        remaining[0] -= 1
        if remaining[0] >= chains:
            simpy.Timeout(env, 1.0).callbacks.append(next_timeout)

    for _ in range(min(chains, events)):
        simpy.Timeout(env, 1.0).callbacks.append(next_timeout)
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


# -- 2. peer --------------------------------------------------------------------------------------


def peer_comparison(replications: int, system: peer.LossSystem | None = None) -> list[Figure]:
    system = system or peer.LossSystem()
    exact = system.erlang_b
    mine = peer.ours(system, replications)
    theirs = peer.ciw_blocking(system, replications)
    ratio = mine.wall_seconds / theirs.wall_seconds

    def describe(estimate: peer.BlockingEstimate) -> str:
        low, high = estimate.ci95
        inside = "inside" if estimate.covers(exact) else "OUTSIDE"
        return (
            f"{estimate.simulator} {estimate.mean:.4f} (95% CI of the mean {low:.4f} to {high:.4f}, {inside}), "
            f"{estimate.wall_seconds:.2f} s"
        )

    setting = (
        f"{system.places} places, {system.load:g} Erlangs, exponential stays of {system.mean_days:g} days, "
        f"{system.years} years x {replications} replications"
    )
    blocking = Figure(
        "peer: Erlang loss blocking",
        f"Erlang B {exact:.4f}; {describe(mine)}; {describe(theirs)} ({setting})",
        value=mine.mean,
        unit="blocking probability",
        headline=f"Erlang B {exact:.4f}; ours {mine.mean:.4f}, ciw {theirs.mean:.4f}",
        details={
            "erlang_b": exact,
            "ours_ci95_low": mine.ci95[0],
            "ours_ci95_high": mine.ci95[1],
            "ours_s": mine.wall_seconds,
            "ciw": theirs.mean,
            "ciw_ci95_low": theirs.ci95[0],
            "ciw_ci95_high": theirs.ci95[1],
            "ciw_s": theirs.wall_seconds,
        },
    )
    wall = Figure(
        "peer: wall time ours / ciw",
        f"{ratio:.2f}",
        f"at most {CIW_TARGET:g}",
        ratio <= CIW_TARGET,
        ratio,
        "ratio",
        f"{ratio:.2f}",
    )
    return [blocking, wall]


# -- 3. and 4. Cheshire East and England at scale, each in a fresh process for its peak memory --------


def cheshire_east(replications: int, jobs: int, full: bool = False) -> Figure:
    """The whole of a large run as `sufficiency run` does it: simulation and tables, then summaries and files."""
    measured = _in_subprocess("cheshire_east", replications=replications, jobs=jobs, write=True)
    seconds = measured["seconds"]
    return Figure(
        f"Cheshire East baseline, 10 years, {replications:,} replications, {jobs} jobs, tables and files included",
        f"{seconds:.1f} s (simulation and tables {measured['simulation_seconds']:.1f} s, summaries and files "
        f"{measured['files_seconds']:.1f} s), peak memory {measured['peak_mb']:,.0f} MB",
        f"at most {CHESHIRE_EAST_TARGET_S:g} s on 2 cores",
        _judged(seconds <= CHESHIRE_EAST_TARGET_S, full),
        seconds,
        "s",
        f"{seconds:.1f} s, {measured['peak_mb']:,.0f} MB",
        _details(measured, "simulation_seconds", "files_seconds", "peak_mb"),
    )


def run_and_files(replications: int, jobs: int, full: bool = False) -> list[Figure]:
    """The write phase against the simulation of one run, and a whole `sufficiency run` against bare SimPy."""
    measured = _in_subprocess("cheshire_east", replications=replications, jobs=jobs, write=True)
    share = measured["files_seconds"] / measured["simulation_seconds"]
    files = Figure(
        f"writing a run's files as a share of its simulation time ({replications} Cheshire East replications, "
        f"{jobs} jobs)",
        f"{share:.0%} (simulation and tables {measured['simulation_seconds']:.2f} s; summaries, tables, charts and "
        f"the report {measured['files_seconds']:.2f} s)",
        f"at most {FILES_SHARE_TARGET:.0%}",
        _judged(share <= FILES_SHARE_TARGET, full),
        share * 100,
        "%",
        f"{share:.0%}",
        _details(measured, "simulation_seconds", "files_seconds"),
    )
    return [files, whole_run(replications, jobs, int(measured["events"]), full)]


def whole_run(replications: int, jobs: int, events: int, full: bool = False) -> Figure:
    """`sufficiency run` as a user types it (interpreter start-up, imports, workers, files) against a bare SimPy
    loop scheduling the run's number of events on one core."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as folder:
        command = [
            *_sufficiency(),
            "run",
            str(CHESHIRE_EAST),
            *("--replications", str(replications), "--jobs", str(jobs), "--quiet", "--out", f"{folder}/run"),
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sufficiency run failed:\n{done.stderr}")
    bare = bare_simpy_best_seconds(events)
    ratio = seconds / bare
    return Figure(
        f"whole `sufficiency run` of {replications} Cheshire East replications, {jobs} jobs, start-up and files "
        "included, against bare SimPy on one core",
        f"{seconds:.2f} s against {bare:.2f} s for {events:,} bare SimPy events: ratio {ratio:.2f}",
        f"at most {WHOLE_RUN_TARGET:g}",
        _judged(ratio <= WHOLE_RUN_TARGET, full),
        ratio,
        "ratio",
        f"{ratio:.2f}",
        {"seconds": seconds, "bare_simpy_seconds": bare, "events": events},
    )


def _sufficiency() -> list[str]:
    """The console script beside this interpreter, as `make` runs it; else the module it runs."""
    script = Path(sys.executable).with_name("sufficiency")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def _details(measured: dict[str, float], *keys: str) -> dict[str, float]:
    return {key: measured[key] for key in keys}


def england(replications: int, fraction: float, jobs: int, full: bool = False) -> Figure:
    measured = _in_subprocess("england", replications=replications, jobs=jobs, fraction=fraction)
    size = f"{measured['in_care']:,} in care at the start, {measured['entries']:,.0f} entries a year"
    seconds, peak = measured["seconds"], measured["peak_mb"]
    return Figure(
        f"England scale ({size}), 10 years, {replications} replications, {jobs} jobs",
        f"{seconds:.0f} s, peak memory {peak:,.0f} MB",
        f"at most {ENGLAND_TARGET_S:.0f} s on 2 cores and at most {ENGLAND_TARGET_MB:,.0f} MB",
        _judged(seconds <= ENGLAND_TARGET_S and peak <= ENGLAND_TARGET_MB, full),
        seconds,
        "s",
        f"{seconds:.0f} s, {peak:,.0f} MB",
        _details(measured, "peak_mb", "in_care", "entries"),
    )


def england_scenario(fraction: float = 1.0) -> Scenario:
    """The Cheshire East baseline grown to England's size: stock and places by children in care, entries by starts.

    One large system rather than 152 authorities: the same work for the engine, none of the
    authority-level detail (which this benchmark does not claim).
    """
    base = load_scenario(CHESHIRE_EAST)
    raw = base.model_dump()
    in_care = sum(g["count"] for g in raw["start_population"]["groups"]) + len(raw["start_population"]["children"])
    stock = ENGLAND_IN_CARE * fraction / in_care
    uasc = raw["entries"]["uasc"]["rate_per_year"] if raw["entries"].get("uasc") else 0.0
    entries = ENGLAND_ENTRIES_PER_YEAR * fraction / (sum(raw["entries"]["rate_per_year"].values()) + uasc)
    raw["name"] = "England-sized system (benchmark)"
    for group in [*raw["start_population"]["groups"], *raw["start_population"].get("staying_put", [])]:
        group["count"] = round(group["count"] * stock)
    raw["entries"]["rate_per_year"] = {band: rate * entries for band, rate in raw["entries"]["rate_per_year"].items()}
    if raw["entries"].get("uasc"):
        raw["entries"]["uasc"]["rate_per_year"] *= entries
    for pool in raw["pools"].values():
        _scale_pool(pool, stock)
    adoption = raw["adoption"]
    if adoption["adopter_approvals_per_year"] != "unlimited":
        adoption["adopter_approvals_per_year"] *= entries
    adoption["adopters_waiting_at_start"] = round(adoption["adopters_waiting_at_start"] * stock)
    return scenario_from_dict(_drop_none(raw))


def _scale_pool(pool: dict[str, Any], factor: float) -> None:
    if pool["capacity"] != "unlimited":
        pool["capacity"] = round(pool["capacity"] * factor)
    pool["homes"] = round(pool["homes"] * factor)
    for change in pool["capacity_changes"]:
        change["change"] = round(change["change"] * factor)
        change["homes"] = round(change["homes"] * factor)
    if pool.get("fostering"):
        supply = pool["fostering"]
        supply["households"] = round(supply["households"] * factor)
        supply["approvals_per_year"] *= factor
        supply["deregistrations_per_year"] *= factor


def _drop_none(value: Any) -> Any:
    """model_dump writes unset optional keys as None; the scenario schema wants them left out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _in_subprocess(task: str, **arguments: Any) -> dict[str, float]:
    """Run a task in a fresh interpreter; it reports its wall time and the peak memory of its process tree."""
    code = f"import json, sys; from bench.benchmark import _task; print(json.dumps(_task({task!r}, **{arguments!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark task {task} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _task(task: str, replications: int, jobs: int, fraction: float = 1.0, write: bool = False) -> dict[str, float]:
    """Simulate (and with `write`, write the run's folder as `sufficiency run` does), timing each phase."""
    from sim.present.outputs import write_run  # pandas and matplotlib, only for the figures that write

    scenario = england_scenario(fraction) if task == "england" else load_scenario(CHESHIRE_EAST)
    with tempfile.TemporaryDirectory(prefix="bench-files-") as folder, MemorySampler() as memory:
        started = time.perf_counter()
        result = run(scenario, replications, jobs=jobs)
        simulated = time.perf_counter()
        if write:
            write_run(result, Path(folder) / "run", scenario_path=CHESHIRE_EAST)
        ended = time.perf_counter()
    population = scenario.start_population
    return {
        "seconds": ended - started,
        "simulation_seconds": simulated - started,
        "files_seconds": ended - simulated,
        "events": result.events,
        "peak_mb": memory.peak_mb,
        "in_care": sum(g.count for g in population.groups) + len(population.children),
        "entries": sum(scenario.entries.rate_per_year.values()) + (scenario.entries.uasc.rate_per_year or 0.0),
    }


class MemorySampler:
    """Peak memory of this process and its children (worker processes), sampled every 50 ms or more.

    Proportional set size from /proc (Linux): pages that forked workers share with the main process
    are counted once, not once per process as resident sizes would. Elsewhere, this process's own peak.
    Reading it walks the page tables (about 5 ms a GB), so the sampler waits 20 times as long as its
    last reading took: it takes at most a twentieth of a core from the run it measures.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.peak_mb == 0.0:
            import resource

            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _sample(self) -> None:
        pause = 0.05
        while not self._stop.wait(pause):
            started = time.perf_counter()
            self.peak_mb = max(self.peak_mb, _tree_pss_mb(os.getpid()))
            pause = max(0.05, 20 * (time.perf_counter() - started))


def _tree_pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            pss = next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            kids = [int(k) for k in children.read().split()]
    except (OSError, ValueError):
        return 0.0
    return pss / 1024 + sum(_tree_pss_mb(kid) for kid in kids)


# -- parallel efficiency -----------------------------------------------------------------------------


def parallel_efficiency(replications: int, jobs: int, full: bool = False) -> Figure:
    scenario = load_scenario(CHESHIRE_EAST)
    one = run(scenario, replications, jobs=1).wall_seconds
    many = run(scenario, replications, jobs=jobs).wall_seconds
    efficiency = one / (jobs * many)
    return Figure(
        f"parallel efficiency, {jobs} workers against 1",
        f"{efficiency:.0%} ({replications} Cheshire East replications: {one:.2f} s on 1, {many:.2f} s on {jobs})",
        f"at least {PARALLEL_TARGET:.0%}",
        _judged(efficiency >= PARALLEL_TARGET, full and jobs > 1),
        efficiency * 100,
        "%",
        f"{efficiency:.0%}",
        {"seconds_on_1": one, f"seconds_on_{jobs}": many},
    )


# -- the workshop app's what-if, and compare ------------------------------------------------------------


def what_if(replications: int, jobs: int, full: bool = False) -> list[Figure]:
    """A what-if of the workshop app (two more children's homes) against a cached baseline run, with the app's
    progressive answers: the first (on the first 50 replications or a little over) and the whole one."""
    from sim.analysis.what_if import Levers
    from sim.app.session import Baseline, WhatIf, run_baseline, run_what_if

    scenario = load_scenario(CHESHIRE_EAST)
    base = run_baseline(Baseline("Cheshire East", scenario, CHESHIRE_EAST), replications, jobs=jobs)
    answers: list[tuple[float, int]] = []

    def answered(part: WhatIf) -> None:
        answers.append((part.seconds, part.result.replications if part.result is not None else 0))

    seconds = run_what_if(base, Levers(homes_change=2), jobs=jobs, partial=answered).seconds
    whole = Figure(
        f"workshop what-if, Cheshire East, {replications} replications, {jobs} jobs, base cached",
        f"{seconds:.2f} s from pressing Run to the comparison",
        f"at most {WHAT_IF_TARGET_S:g} s on 2 cores",
        _judged(seconds <= WHAT_IF_TARGET_S, full),
        seconds,
        "s",
        f"{seconds:.2f} s",
        {"partial_answers": len(answers)},
    )
    return [whole, _first_answer(answers, full)]


def _first_answer(answers: list[tuple[float, int]], full: bool) -> Figure:
    name = "workshop what-if, first answer (50 replications)"
    target = f"at most {FIRST_ANSWER_TARGET_S:g} s on 2 cores"
    if not answers:  # a run too small for a partial answer before the whole one
        return Figure(name, "no partial answer: the run finished first", target, None, None, "s", "none")
    seconds, count = answers[0]
    return Figure(
        name,
        f"{seconds:.2f} s from pressing Run to the first answer, on {count} replications",
        target,
        _judged(seconds <= FIRST_ANSWER_TARGET_S, full),
        seconds,
        "s",
        f"{seconds:.2f} s",
        {"replications": count},
    )


def compare_against_separate(replications: int, jobs: int, full: bool = False) -> Figure:
    """`compare` of the base and 3 supply what-ifs (one cohort family: each replication's children drawn once and
    replayed, issue 20 item 1) against the four scenarios run one after another, each drawing its own children.

    The compare also pairs the runs and summarises the differences, which the separate runs do not: the ratio
    counts that work against it."""
    from sim.analysis.compare import compare

    base = load_scenario(CHESHIRE_EAST)
    what_ifs = [load_scenario(CHESHIRE_EAST.parent / name) for name in SUPPLY_WHAT_IFS]
    families = len(cohort_families([base, *what_ifs], [base.seed] * (1 + len(what_ifs))))
    started = time.perf_counter()
    compare(base, what_ifs, replications, jobs=jobs)
    together = time.perf_counter() - started
    started = time.perf_counter()
    for scenario in (base, *what_ifs):
        run(scenario, replications, seed=base.seed, jobs=jobs)
    apart = time.perf_counter() - started
    ratio = together / apart
    return Figure(
        f"compare of a base and 3 supply what-ifs, {replications} replications, {jobs} jobs, against the four "
        "scenarios run separately",
        f"{ratio:.2f} ({together:.2f} s against {apart:.2f} s; {', '.join(SUPPLY_WHAT_IFS)}: "
        f"{families} cohort {'family' if families == 1 else 'families'})",
        f"at most {COMPARE_TARGET:g}",
        _judged(ratio <= COMPARE_TARGET, full),
        ratio,
        "ratio",
        f"{ratio:.2f}",
        {"compare_seconds": together, "separate_seconds": apart, "cohort_families": families},
    )


# -- what the speed work gained, timed here ----------------------------------------------------------


def before_after(replications: int, collector_fraction: float) -> list[Callable[[], Figure]]:
    return [
        lambda: collector_before_after(replications, collector_fraction),
        distributions_before_after,
    ]


def collector_before_after(replications: int, fraction: float) -> Figure:
    """Replications with Python's cyclic collector running through the event loop (before) and paused (after),
    taken in turns so that both meet the same state of the interpreter."""

    def seconds(scenario: Scenario, count: int) -> tuple[float, float]:
        before = after = 0.0
        for replication in range(count):
            with mock.patch.object(model, "_collector_paused", contextlib.nullcontext):
                before += _replication_seconds(scenario, replication)
            after += _replication_seconds(scenario, replication)
        return before / count, after / count

    ce_before, ce_after = seconds(load_scenario(CHESHIRE_EAST), replications)
    en_before, en_after = seconds(england_scenario(fraction), 1)
    england_share = "England-sized system" if fraction == 1 else f"{fraction:g} of an England-sized system"
    return Figure(
        "cyclic garbage collector: running through the event loop (before) against paused (after)",
        f"Cheshire East {ce_before * 1e3:.1f} ms -> {ce_after * 1e3:.1f} ms a replication "
        f"({ce_before / ce_after:.2f}x); {england_share} {en_before:.1f} s -> {en_after:.1f} s "
        f"({en_before / en_after:.2f}x)",
        value=en_before / en_after,
        unit="x faster",
        headline=f"{ce_before / ce_after:.2f}x Cheshire East, {en_before / en_after:.2f}x {england_share}",
        details={
            "cheshire_east_before_ms": ce_before * 1e3,
            "cheshire_east_after_ms": ce_after * 1e3,
            "england_before_s": en_before,
            "england_after_s": en_after,
        },
    )


def _replication_seconds(scenario: Scenario, replication: int) -> float:
    started = time.perf_counter()
    simulate_replication(scenario, scenario.seed, replication)
    return time.perf_counter() - started


def distributions_before_after(calls: int = 2000) -> Figure:
    """Duration draws the size the demand model makes (a few dozen children a call)."""
    scenario = load_scenario(CHESHIRE_EAST)
    distributions = [d for journey in scenario.journeys.values() for d in journey.duration.values()]
    uniforms = np.random.default_rng(0).random(40)
    frozen = [d.frozen() for d in distributions]
    started = time.perf_counter()
    for k in range(calls):
        frozen[k % len(frozen)].ppf(uniforms)
    before = time.perf_counter() - started
    started = time.perf_counter()
    for k in range(calls):
        distributions[k % len(distributions)].sample(uniforms)
    after = time.perf_counter() - started
    return Figure(
        "duration draws: frozen scipy ppf (before) against closed forms on scipy.special (after)",
        f"{before / calls * 1e6:.0f} us -> {after / calls * 1e6:.0f} us a call ({before / after:.1f}x)",
        value=before / after,
        unit="x faster",
        headline=f"{before / after:.1f}x",
        details={"before_us": before / calls * 1e6, "after_us": after / calls * 1e6},
    )
