"""Benchmark: time to read, clean and calibrate about 50,000 synthetic SSDA903 episodes.

The calibration is timed twice on the same history: with the stay fits' L-BFGS-B given scipy's finite
differences (`analytic_gradient=False`, the fit before its gradients were written) and with the closed-form
gradients, and the largest relative difference between the two runs' fitted stay parameters is printed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from calibration.ssda903.calibrate import Calibration, calibrate
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
    seconds, fits = {}, {}
    for analytic in (False, True):
        started = time.perf_counter()
        fits[analytic] = calibrate(history, history.extract_date, window_years=3, analytic_gradient=analytic)
        seconds[analytic] = time.perf_counter() - started
    return (
        f"SSDA903 calibration: {summary.episodes:,} distinct episodes ({summary.episode_rows:,} rows in "
        f"{len(summary.years)} yearly returns), {summary.children:,} children: read and clean {read_seconds:.1f} s; "
        f"calibrate {seconds[False]:.1f} s with finite-difference gradients, {seconds[True]:.1f} s with analytic "
        f"ones (largest relative difference of the fitted stay parameters {_largest_difference(*fits.values()):.1e})"
    )


def _largest_difference(one: Calibration, other: Calibration) -> float:
    """Over every band, route and parameter; a route fitted by another family in one run counts as 1."""
    largest = 0.0
    for band, durations in one.durations.items():
        for route, fit in durations.fits.items():
            twin = other.durations[band].fits[route]
            if twin.family != fit.family:
                return 1.0
            for key, value in fit.params.items():
                largest = max(largest, abs(twin.params[key] - value) / max(abs(value), 1e-12))
    return largest
