"""The engine against closed forms: Erlang loss, M/G/infinity occupancy, Little's law.

Each check uses a fixed seed and asks whether the analytic value lies inside a confidence
interval of the simulated estimate across replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from tests.builders import build, one_pool_scenario

WARM_UP_DAYS = 365.0


def erlang_b(capacity: int, load: float) -> float:
    """Blocking probability of an M/G/c/c loss system (Erlang's recursion)."""
    blocking = 1.0
    for k in range(1, capacity + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def confidence_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    mean = samples.mean()
    half = stats.t.ppf(0.5 + level / 2, len(samples) - 1) * samples.std(ddof=1) / np.sqrt(len(samples))
    return mean - half, mean + half


@pytest.mark.parametrize(
    ("capacity", "load"),
    [(5, 3.0), (4, 3.0), (10, 8.0)],  # blocking about 11%, 21% (near 20%) and 12%
)
def test_share_not_placed_in_finite_pool_matches_erlang_b(capacity: int, load: float) -> None:
    mean_stay = 30.0
    rate_per_year = load / mean_stay * 365.25
    raw = one_pool_scenario(
        rate_per_year=rate_per_year,
        capacity=capacity,
        years=12,
        band="under1",  # stays of a month never reach an 18th birthday
        stay={"distribution": "lognormal", "mean": mean_stay, "sd": 45.0},
    )
    scenario = build(raw)
    shares = []
    for replication in range(40):
        placements = simulate_replication(scenario, seed=11, replication=replication).placements
        in_care = placements[:, PlacementColumn.KIND] == IN_CARE
        first = placements[(placements[:, PlacementColumn.START] >= WARM_UP_DAYS) & in_care]
        shares.append(np.mean(first[:, PlacementColumn.POOL] != 0))  # pool 0 is the finite in-house pool
    low, high = confidence_interval(np.array(shares), 0.99)
    assert low <= erlang_b(capacity, load) <= high


def test_unlimited_pool_occupancy_matches_m_g_infinity_and_littles_law() -> None:
    mean_stay, rate_per_year = 60.0, 120.0
    scenario = build(
        one_pool_scenario(
            rate_per_year=rate_per_year,
            capacity="unlimited",
            years=8,
            band="under1",
            stay={"distribution": "gamma", "mean": mean_stay, "sd": 90.0},
        )
    )
    horizon = scenario.horizon.days
    window = (WARM_UP_DAYS, horizon - 200.0)
    occupancy, arrivals_rate, stays = [], [], []
    for replication in range(30):
        record = simulate_replication(scenario, seed=5, replication=replication)
        start, end = record.placements[:, PlacementColumn.START], record.placements[:, PlacementColumn.END]
        # Time-average occupancy over the window, from the placement intervals.
        overlap = np.clip(np.minimum(end, window[1]) - np.maximum(start, window[0]), 0, None)
        occupancy.append(overlap.sum() / (window[1] - window[0]))
        entered = (start >= window[0]) & (start < window[1])
        arrivals_rate.append(entered.sum() / (window[1] - window[0]))
        stays.append(np.mean(np.minimum(end[entered], horizon) - start[entered]))
    expected = rate_per_year / 365.25 * mean_stay
    low, high = confidence_interval(np.array(occupancy), 0.99)
    assert low <= expected <= high
    # Little's law on the same window: L = lambda x W, estimated independently from the same runs.
    littles = np.array(arrivals_rate) * np.array(stays)
    assert np.mean(occupancy) == pytest.approx(np.mean(littles), rel=0.03)


def test_erlang_b_helper_against_known_values() -> None:
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
