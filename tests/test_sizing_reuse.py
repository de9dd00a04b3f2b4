"""Sizing several pools replays each replication's children for every pool (issue 20) with the curves unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.analysis.sizing import finite_in_house_pools, sizing_curve, sizing_curves
from sim.engine.scenario_files import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_curves_sized_together_equal_each_pool_sized_alone() -> None:
    """Cheshire East (transfer scheme, complexity tiers, three finite in-house pools): one cohort a replication."""
    scenario = load_scenario(ROOT / "scenarios" / "cheshire_east" / "baseline.toml")
    pools = finite_in_house_pools(scenario)
    assert len(pools) > 1
    together = sizing_curves(scenario, pools, 3)
    for curve, pool in zip(together, pools, strict=True):
        alone = sizing_curve(scenario, pool, 3)
        assert curve.pool == alone.pool == pool
        for name in ("capacities", "share_placed", "occupancy"):
            np.testing.assert_array_equal(getattr(curve, name), getattr(alone, name), err_msg=f"{pool} {name}")
        assert (curve.capacity_in_window, curve.usable_share) == (alone.capacity_in_window, alone.usable_share)
