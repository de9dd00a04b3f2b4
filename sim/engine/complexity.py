"""Complexity tiers: what each child needs beyond its placement need, drawn once when it enters the model.

A scenario's `[complexity]` names its tiers in order (the first is the ordinary one, e.g. "standard") and the
tier shares of each age band at entry. The shares are shifted for a child's category of need (CIN code) and
first placement need by odds multipliers, so that, for instance, children entering residential care are more
often complex. For a child of band b, category c and first need n, with shares s[b, t] and multipliers
m_c[c, t] and m_n[n, t] (1 when not given, and always 1 for the first tier):

    w[t] = s[b, t] * m_c[c, t] * m_n[n, t]        p[t] = w[t] / sum over u of w[u]

which multiplies the odds of each later tier against the first by m_c x m_n and renormalises. Children already
in care at the start have no category of need (multiplier 1), their need on the start date is their first need,
and their tier is drawn among the tiers their starting pool takes (their shares restricted to those tiers and
renormalised), since a child the file seats in a pool is one that pool took. The tier decides which pools may
take the child (`pools.<name>.tiers`) and, through the price book, what its placements cost.

Plain numpy, no scenario objects beyond the schema: sim.engine.demand calls `tier_probabilities` and `draw_tiers`
with the cohort's arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.vocabulary import AGE_BANDS, CATEGORIES_OF_NEED, PLACEMENT_NEEDS

if TYPE_CHECKING:
    from sim.engine.scenario import Complexity

NO_CATEGORY = -1  # children in care at the start: no category of need, multiplier 1


def share_table(complexity: Complexity) -> np.ndarray:
    """(bands, tiers) shares at entry, in AGE_BANDS and tier order (a tier a band leaves out has share 0)."""
    tiers = complexity.tiers
    return np.array(
        [[complexity.shares_by_age_band[band].get(tier, 0.0) for tier in tiers] for band in AGE_BANDS], dtype=float
    )


def _multipliers(odds: dict[str, dict[str, float]], keys: tuple[str, ...], tiers: list[str]) -> np.ndarray:
    """(keys, tiers) odds multipliers, 1 where none is given (and for the first tier, which may not take one)."""
    table = np.ones((len(keys), len(tiers)))
    for row, key in enumerate(keys):
        for column, tier in enumerate(tiers):
            table[row, column] = odds.get(key, {}).get(tier, 1.0)
    return table


def tier_probabilities(
    complexity: Complexity,
    band: np.ndarray,
    category: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """(children, tiers) probabilities of each tier by the formula of the module docstring.

    `band`, `category` and `need` index AGE_BANDS, CATEGORIES_OF_NEED (NO_CATEGORY for none) and
    PLACEMENT_NEEDS; `allowed`, (children, tiers) bools, restricts a child to some tiers (its starting pool's).
    A row with no weight left is all zero (the scenario's checks refuse a starting pool that makes one).
    """
    tiers = complexity.tiers
    weights = share_table(complexity)[band]
    by_category = _multipliers(complexity.odds_by_category_of_need, CATEGORIES_OF_NEED, tiers)
    has_category = category != NO_CATEGORY
    weights[has_category] *= by_category[category[has_category]]
    weights *= _multipliers(complexity.odds_by_first_need, PLACEMENT_NEEDS, tiers)[need]
    if allowed is not None:
        weights = np.where(allowed, weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def draw_tiers(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Each child's tier (int8 index into the tiers) by inverse transform of its uniform."""
    if not len(uniforms):
        return np.zeros(0, dtype=np.int8)
    cumulative = np.cumsum(probabilities, axis=1)
    # rounding (a last cumulative share of 0.9999999) never pushes a uniform past the last tier it can have
    last = probabilities.shape[1] - 1 - np.argmax(probabilities[:, ::-1] > 0, axis=1)
    return np.minimum((uniforms[:, None] >= cumulative).sum(axis=1), last).astype(np.int8)
