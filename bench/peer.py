"""The Erlang loss system run in our engine and in ciw, a maintained open queueing-network simulator.

One finite pool with Poisson arrivals and exponential stays, where a child finding it full goes
elsewhere (our unlimited external pool; ciw's rejection with no queue): the blocked share has
the Erlang B closed form, so both simulators can be checked against it and timed on the same load.
Both start empty; arrivals are counted inside a window that starts after a warm-up of ten mean
stays and ends ten mean stays before the horizon (so every counted arrival's fate is known).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.analysis.sizing import erlang_b
from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR


@dataclass(frozen=True)
class LossSystem:
    places: int = 10
    load: float = 8.0  # offered load in Erlangs: arrival rate x mean stay
    mean_days: float = 30.0
    years: int = 10

    @property
    def arrivals_per_day(self) -> float:
        return self.load / self.mean_days

    @property
    def window(self) -> tuple[float, float]:
        margin = 10 * self.mean_days
        return margin, self.years * DAYS_PER_YEAR - margin

    @property
    def erlang_b(self) -> float:
        return erlang_b(self.places, self.load)


@dataclass(frozen=True)
class BlockingEstimate:
    """Blocked share of arrivals: mean over replications with its 95% confidence interval."""

    simulator: str
    mean: float
    ci95: tuple[float, float]
    wall_seconds: float
    arrivals: int

    def covers(self, value: float) -> bool:
        return self.ci95[0] <= value <= self.ci95[1]


def loss_scenario(system: LossSystem) -> Scenario:
    """Children aged 5-9 needing fostering: one pool of `places`, then an unlimited external pool."""
    stay = {"distribution": "exponential", "mean": system.mean_days}
    journey = {
        "exit_routes": {"return_home": 1.0},
        "duration": {"return_home": stay},
        "first_need": {"fostering": 1.0},
    }
    rate = system.arrivals_per_day * DAYS_PER_YEAR
    return scenario_from_dict(
        {
            "name": "Erlang loss",
            "seed": 1,
            "horizon": {"start": dt.date(2020, 4, 1), "years": system.years},
            "entries": {"rate_per_year": {b: rate if b == "5-9" else 0.0 for b in AGE_BANDS}, "need_mix": {"N1": 1.0}},
            "journeys": {band: journey for band in AGE_BANDS},
            "pools": {
                "finite": {"serves": ["fostering"], "capacity": system.places, "in_house": True},
                "elsewhere": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False},
            },
            "matching": {"fostering": {"pools": ["finite", "elsewhere"]}},
        }
    )


def ours(system: LossSystem, replications: int, seed: int = 1) -> BlockingEstimate:
    scenario = loss_scenario(system)
    low, high = system.window
    shares, arrivals = [], 0
    started = time.perf_counter()
    for replication in range(replications):
        p = simulate_replication(scenario, seed, replication).placements
        start = p[:, PlacementColumn.START]
        counted = p[(p[:, PlacementColumn.KIND] == IN_CARE) & (start >= low) & (start < high)]
        shares.append(float(np.mean(counted[:, PlacementColumn.POOL] != 0)) if len(counted) else 0.0)
        arrivals += len(counted)
    return _estimate("ours (SimPy)", shares, time.perf_counter() - started, arrivals)


def ciw_blocking(system: LossSystem, replications: int, seed: int = 1) -> BlockingEstimate:
    import ciw  # optional: the `bench` extra

    low, high = system.window
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=system.arrivals_per_day)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / system.mean_days)],
        number_of_servers=[system.places],
        queue_capacities=[0],
    )
    shares, arrivals = [], 0
    started = time.perf_counter()
    for replication in range(replications):
        ciw.seed(seed * 100_003 + replication)
        simulation = ciw.Simulation(network)
        simulation.simulate_until_max_time(system.years * DAYS_PER_YEAR)
        fates = [r.record_type == "rejection" for r in simulation.get_all_records() if low <= r.arrival_date < high]
        shares.append(float(np.mean(fates)) if fates else 0.0)
        arrivals += len(fates)
    return _estimate("ciw", shares, time.perf_counter() - started, arrivals)


def _estimate(simulator: str, shares: list[float], seconds: float, arrivals: int) -> BlockingEstimate:
    values = np.asarray(shares)
    mean = float(values.mean())
    if len(values) > 1:
        half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    else:
        half = float("nan")
    return BlockingEstimate(simulator, mean, (mean - half, mean + half), seconds, arrivals)
