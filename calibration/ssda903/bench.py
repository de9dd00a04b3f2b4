"""Benchmark: time to read, clean and calibrate about 50,000 synthetic SSDA903 episodes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from calibration.ssda903.calibrate import calibrate
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from sim.engine.scenario_files import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "cheshire_east" / "baseline.toml"
SCALE = 22  # Cheshire East's entries x 22 over ten years: about 50,000 distinct episodes


def bench_calibration() -> str:
    scenario = load_scenario(SCENARIO)
    entries = scenario.entries.model_copy(
        update={"rate_per_year": {band: rate * SCALE for band, rate in scenario.entries.rate_per_year.items()}}
    )
    scenario = scenario.model_copy(update={"entries": entries})
    with tempfile.TemporaryDirectory() as folder:
        summary = write_synthetic_ssda903(scenario, Path(folder) / "returns", seed=1)
        started = time.perf_counter()
        history = read_ssda903(Path(folder) / "returns")
        read_seconds = time.perf_counter() - started
        calibrate(history, history.extract_date, window_years=3)
        total = time.perf_counter() - started
    return (
        f"SSDA903 calibration: {summary.episodes:,} distinct episodes ({summary.episode_rows:,} rows in "
        f"{len(summary.years)} yearly returns), {summary.children:,} children: read and clean {read_seconds:.1f} s, "
        f"read + clean + calibrate {total:.1f} s"
    )
