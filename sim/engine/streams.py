"""Named random streams seeded from (seed, replication, stream name).

Each source of randomness has its own stream, so changing one part of a scenario (a pool's
capacity) leaves every other draw untouched: two scenarios with the same seed see the same
children (common random numbers), and a replication's results do not depend on which worker
process ran it.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAM_NAMES = (
    "arrivals",
    "uasc_arrivals",
    "demand",
    "uasc_demand",
    "start_population",
    "staying_put_at_start",
    "fostering_recruitment",
    "fostering_deregistration",
    "adopters",
    "parameters",
    "availability",  # per pool (pool_stream): does a search of a pool with availability below 1 find a place?
    "bridging",  # per pool (pool_stream): how long each emergency placement bridges
    "complexity",  # complexity tier of each entrant of the main stream (scenarios with [complexity] only)
    "uasc_complexity",  # complexity tier of each UASC entrant
    "start_complexity",  # complexity tier of each child in care on the start date
    "breakdowns",  # one uniform per in-care placement with a breakdown hazard, in the order they open
    "sibling_groups",  # the main stream's group days, then each group's size ([entries.sibling_groups] only)
    "uasc_offers",  # days of the children the National Transfer Scheme offers (with the scheme only)
    "uasc_offer_demand",  # their journeys
    "uasc_offer_complexity",  # their complexity tiers
    "start_uasc",  # which children aged 16-17 on the start date are asylum-seeking (start_population.uasc)
    "remand_arrivals",  # days of the children remanded to youth detention accommodation (entries.remand only)
    "remand_demand",  # their journeys
    "remand_complexity",  # their complexity tiers
)


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for one named stream of one replication."""
    if name not in STREAM_NAMES:
        raise KeyError(f"unknown random stream {name!r}")
    key = (replication, zlib.crc32(name.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key)))


def pool_stream(seed: int, replication: int, name: str, pool: str) -> np.random.Generator:
    """One named stream of one pool of one replication: a pool's searches or bridging stays draw apart from
    every other pool's, so changing one pool leaves the others' draws alone (and scenarios without these
    pools draw nothing from them)."""
    if name not in STREAM_NAMES:
        raise KeyError(f"unknown random stream {name!r}")
    key = (replication, zlib.crc32(name.encode("utf-8")), zlib.crc32(pool.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key)))


def child_uniforms(generator: np.random.Generator, children: int, width: int) -> np.ndarray:
    """One row of `width` uniforms per child, filled row by row.

    Row k depends only on the stream and k, not on how many children there are, so child k
    draws the same journey whatever else changes in the scenario.
    """
    return generator.random((children, width))
