"""Capacity sizing: how many places an in-house pool needs to place a given share of its demand.

One run with the pool unlimited gives the distribution of how many of its places would be occupied. For
a loss system with Poisson arrivals the occupancy of capacity c is that distribution truncated at c
(Erlang's truncation identity, which holds whatever the length of stay), so the share of arrivals turned
away is B(c) = p(c) / P(N <= c), and the share placed in-house is 1 - B(c); with the unlimited occupancy
Poisson (M/G/infinity) this is Erlang B at the run's mean occupancy. A trend in entries, Staying Put and
step-back bend this (the `dispersion` says how far from Poisson the run was); `share_placed` runs the
finite pool directly so the curve can be checked at any capacity.

Sibling groups bend it too, always the same way: a group is placed only where one pool has a free place for
each member, so more children are turned away than Erlang B counts at the same occupancy (in a 6-place pool
offered 3.4 children's worth of places in groups of 1, 2 and 3, 21% of children against Erlang's 8%;
tests/test_sibling_groups.py). The curve then overstates the share placed, and the places needed are a lower
bound; the chart says so, and `share_placed` measures it with the groups.

The curve is read in APPROVED places (beds, foster places), as the pool's `capacity` counts them: a pool with
a `usable_share` below 1 serves children from floor(approved x usable_share) places, so B is taken at those
servers and "4 more places" means 4 more approved places, the usable ones following through the share.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.demand import draw_cohort
from sim.engine.model import IN_CARE, PlacementColumn, cohort_key, simulate_replication
from sim.engine.scenario import USABLE_ROUNDING, Scenario

TARGETS = (0.80, 0.90, 0.95)


def erlang_b(capacity: int, load: float) -> float:
    blocking = 1.0
    for k in range(1, capacity + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def window(scenario: Scenario) -> tuple[float, float]:
    """The second half of the horizon: past the start-up transient (children placed before the start)."""
    return scenario.horizon.days / 2, scenario.horizon.days


@dataclass
class SizingCurve:
    pool: str
    capacities: np.ndarray  # approved places 0, 1, 2, ...
    share_placed: np.ndarray  # share of the pool's demand placed in it, for each number of approved places
    occupancy: np.ndarray  # P(N = n) in the unlimited run, n = 0..len-1 (occupied places, so usable ones)
    capacity_in_window: int  # approved places when the window opens (see `capacity_in_window`)
    usable_share: float = 1.0  # the pool's usable_share: usable places are floor(approved x usable_share)
    # E[size^2]/E[size] of the scenario's sibling groups (1 when children arrive alone). Above 1 the curve is
    # optimistic: a group needs a free place for each member at once, which Erlang B does not count.
    group_peakedness: float = 1.0

    def usable(self, approved: int) -> int:
        """The usable places (servers) that `approved` approved places give."""
        return usable_places(approved, self.usable_share)

    @property
    def dispersion(self) -> float:
        """Variance over mean of the unlimited occupancy: near 1 when the Poisson form holds; above 1 (a
        trend, bursts of arrivals) the curve overstates the share placed."""
        n = np.arange(len(self.occupancy))
        mean = float(np.dot(n, self.occupancy))
        return float(np.dot((n - mean) ** 2, self.occupancy) / mean) if mean > 0 else float("nan")

    def share_placed_at(self, capacity: int) -> float:
        """The curve at `capacity` approved places; beyond its last point (six standard deviations past the mean
        in usable places) it is flat."""
        return float(self.share_placed[min(capacity, len(self.share_placed) - 1)])

    def places_needed(self, target: float) -> int:
        """The fewest approved places placing `target` of the demand."""
        meeting = self.capacities[self.share_placed >= target]
        return int(meeting[0]) if len(meeting) else int(self.capacities[-1])


def usable_places(approved: int, share: float) -> int:
    """floor(approved x share), as the engine rounds it (sim.engine.scenario.Pool.usable)."""
    return math.floor(approved * share + USABLE_ROUNDING) if share < 1 else approved


def unlimited(scenario: Scenario, pool: str) -> Scenario:
    """The scenario with one pool's capacity lifted (and its dated changes and recruitment removed)."""
    changed = scenario.pools[pool].model_copy(
        update={"capacity": "unlimited", "capacity_changes": [], "fostering": None, "usable_share": 1.0}
    )
    return scenario.model_copy(update={"pools": {**scenario.pools, pool: changed}})


def sizing_curve(scenario: Scenario, pool: str, replications: int, seed: int | None = None) -> SizingCurve:
    """Share of demand placed in `pool` against its capacity, from one run with the pool unlimited."""
    return sizing_curves(scenario, [pool], replications, seed)[0]


def sizing_curves(
    scenario: Scenario, pools: list[str], replications: int, seed: int | None = None
) -> list[SizingCurve]:
    """A sizing curve for each of `pools`, each from runs with that pool unlimited. Lifting a pool's places
    changes supply only, so each replication's children are drawn once and replayed for every pool (common random
    numbers make them the children each run would draw: `cohort_key`, checked here rather than assumed)."""
    seed = scenario.seed if seed is None else seed
    frees = [unlimited(scenario, pool) for pool in pools]
    key = cohort_key(scenario, seed)
    shared = len(pools) > 1 and all(cohort_key(free, seed) == key for free in frees)
    days = np.arange(*window(scenario), 1.0)
    counts: list[list[np.ndarray]] = [[] for _ in pools]
    for replication in range(replications):
        cohort = draw_cohort(scenario, seed, replication, list(scenario.pools)) if shared else None
        for held, pool, free in zip(counts, pools, frees, strict=True):
            placements = simulate_replication(free, seed, replication, cohort).placements
            held.append(_occupied(placements, list(scenario.pools).index(pool), days))
    return [_curve(scenario, pool, held) for pool, held in zip(pools, counts, strict=True)]


def _occupied(placements: np.ndarray, index: int, days: np.ndarray) -> np.ndarray:
    """Places of pool `index` occupied on each of `days`."""
    p = placements[placements[:, PlacementColumn.POOL] == index]
    starts, ends = np.sort(p[:, PlacementColumn.START]), np.sort(p[:, PlacementColumn.END])
    return np.searchsorted(starts, days, side="right") - np.searchsorted(ends, days, side="right")


def _curve(scenario: Scenario, pool: str, counts: list[np.ndarray]) -> SizingCurve:
    """The curve from the unlimited pool's daily occupancy in each replication."""
    occupancy = np.bincount(np.concatenate(counts)) / sum(len(c) for c in counts)
    # With Poisson arrivals the unlimited pool's occupancy is Poisson (M/G/infinity) with the run's mean;
    # truncated at c it is the finite pool's occupancy, and Erlang B is its share of arrivals turned away.
    # Using the mean rather than the day-by-day histogram avoids the histogram's sampling noise in the tails.
    mean = float(np.dot(np.arange(len(occupancy)), occupancy))
    # Erlang B at the usable places each number of approved places gives, up to six standard deviations past
    # the mean occupancy in usable places.
    share = scenario.pools[pool].usable_share
    capacities = np.arange(math.ceil(int(mean + 6 * np.sqrt(mean) + 10) / share - USABLE_ROUNDING))
    blocking = np.array([erlang_b(usable_places(int(c), share), mean) for c in capacities])
    groups = scenario.entries.sibling_groups
    peakedness = groups.peakedness if groups is not None else 1.0
    in_window = capacity_in_window(scenario, pool)
    return SizingCurve(pool, capacities, 1.0 - blocking, occupancy, in_window, share, peakedness)


def capacity_in_window(scenario: Scenario, pool: str) -> int:
    """Approved places in the pool when the sizing window opens: the starting capacity and the dated openings and
    closures up to then, so a what-if opening homes mid-horizon is read where it stands. Foster-carer
    recruitment and deregistration, which differ between replications, are left out."""
    settings = scenario.pools[pool]
    if settings.unlimited:
        return 0
    opens = scenario.horizon.start + dt.timedelta(days=int(window(scenario)[0]))
    return max(settings.places_on(opens), 0)


def share_placed(scenario: Scenario, pool: str, capacity: int, replications: int, seed: int | None = None):
    """Direct runs with `capacity` approved places (the pool's usable_share kept): mean share of the placements
    wanting `pool` that got it, with a 95% CI (same window)."""
    seed = scenario.seed if seed is None else seed
    fixed = scenario.pools[pool].model_copy(update={"capacity": capacity, "capacity_changes": [], "fostering": None})
    fixed_scenario = scenario.model_copy(update={"pools": {**scenario.pools, pool: fixed}})
    index = list(scenario.pools).index(pool)
    shares = []
    for replication in range(replications):
        p = simulate_replication(fixed_scenario, seed, replication).placements
        in_window = (p[:, PlacementColumn.KIND] == IN_CARE) & (p[:, PlacementColumn.START] >= window(scenario)[0])
        wanted = p[(p[:, PlacementColumn.WANTED] == index) & in_window]
        shares.append(np.mean(wanted[:, PlacementColumn.POOL] == index) if len(wanted) else np.nan)
    shares = np.array(shares)
    half = stats.t.ppf(0.975, len(shares) - 1) * np.nanstd(shares, ddof=1) / np.sqrt(len(shares))
    return float(np.nanmean(shares)), float(np.nanmean(shares) - half), float(np.nanmean(shares) + half)


def sizing_table(curves: list[SizingCurve]) -> pd.DataFrame:
    """A row a pool: its approved places when the window opens, the usable share and the usable places they give,
    the share placed there, and the approved places needed for each target."""
    return pd.DataFrame(
        [
            {
                "pool": curve.pool,
                "capacity_in_window": curve.capacity_in_window,
                "usable_share": curve.usable_share,
                "usable_in_window": curve.usable(curve.capacity_in_window),
                "share_placed_at_it": round(curve.share_placed_at(curve.capacity_in_window), 3),
                "dispersion": round(curve.dispersion, 2),
                **{f"places_for_{int(t * 100)}%": curve.places_needed(t) for t in TARGETS},
            }
            for curve in curves
        ]
    )


def finite_in_house_pools(scenario: Scenario) -> list[str]:
    return [name for name, pool in scenario.pools.items() if pool.in_house and not pool.unlimited]
