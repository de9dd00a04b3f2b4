"""Benchmark: wall time and events per second of the engine on a real scenario.

Kept out of the test suite (timings are measured here, never asserted in tests).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from sim.model import simulate_replication
from sim.runner import run
from sim.scenario_files import load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "cheshire_east" / "baseline.toml"


def bench_engine(scenario_path: Path | None, replications: int, jobs: int) -> str:
    """Time `replications` runs end to end (tables included) and the event loop alone."""
    path = scenario_path or DEFAULT_SCENARIO
    scenario = load_scenario(path)
    started = time.perf_counter()
    events = sum(simulate_replication(scenario, scenario.seed, r).events for r in range(replications))
    loop_seconds = time.perf_counter() - started
    result = run(scenario, replications, jobs=jobs)
    return "\n".join(
        [
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            f"scenario: {path} ({scenario.horizon.years} years)",
            f"replications: {replications}",
            f"simulation only (demand draws + event loop, 1 process): {loop_seconds:.2f} s, "
            f"{events:,} events, {events / loop_seconds:,.0f} events/s",
            f"full run with result tables ({jobs} job(s)): {result.wall_seconds:.2f} s, "
            f"{replications / result.wall_seconds:.1f} replications/s",
        ]
    )
