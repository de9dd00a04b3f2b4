"""Remands to youth detention accommodation in the returns: the `[entries.remand]` stream of the scenario.

A child remanded to youth detention accommodation is looked after for the remand only (LASPO 2012 s.104) and
leaves care when it ends, so the engine draws remands as a stream of their own with a flat rate and a short stay
(docs/scenario-files.md, `[entries.remand]`), not as a share of the main stream, whose exit routes and stays are
those of care. Here a remand is a period of care all of whose placements are R5 (young offender institution,
codes.PLACE_TO_NEED: `remand`); such periods are taken out of the main stream's estimates (`main_stream`) and
give the stream's rate, ages, sex and mean length (`estimate_remand`). An R5 placement inside a longer period
(a child on a care order sent to custody) stays a `remand` placement of the main stream, with its moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.ssda903.estimate import Reference
from calibration.ssda903.filters import keep_periods
from calibration.ssda903.reader import CareHistory
from sim.engine.scenario import REMAND_AGE_MIX, REMAND_MALE_SHARE
from sim.engine.vocabulary import DAYS_PER_YEAR, REMAND_BANDS

REMAND = "remand"
OLDEST_YOUNGER_BAND = 16.0  # years: 10-15 below, 16-17 from; a remand below 10 (none lawful) counts as 10-15
MIN_DAYS = 1.0  # assumption: a remand lasts at least a day (the engine needs a positive mean)


@dataclass(frozen=True)
class RemandEstimate:
    """The remand stream fitted to the reference period; `periods` 0 means the returns hold no remand."""

    periods: int  # remand-only periods of care starting in the reference period
    closed: int  # of them, ended by the reference end
    rate_per_year: float
    mean_days: float  # exponential MLE with right-censoring: days at risk over remands ended
    age_mix: dict[str, float]
    male_share: float


def remand_only(history: CareHistory) -> pd.Series:
    """Per period of care (indexed by period), whether every placement of it is a remand (R5)."""
    episodes = history.episodes
    every = episodes["need"].eq(REMAND).groupby(episodes["period"]).all()
    return every.reindex(history.periods["period"], fill_value=False)


def main_stream(history: CareHistory) -> CareHistory:
    """The history without its remand-only periods: what the main stream's entries, stays and moves are fitted to."""
    remand = remand_only(history)
    if not remand.any():
        return history
    return keep_periods(history, ~remand.to_numpy())


def estimate_remand(history: CareHistory, reference: Reference) -> RemandEstimate:
    """Rate, age mix, sex and mean length of the remands starting in the reference period.

    The mean is the exponential MLE with right-censoring (days in remand up to the reference end over the remands
    that ended by then), matching the engine's exponential stay; a period with no ended remand takes its days at
    risk as the mean (assumption: one remand's worth, so the stock is not lost)."""
    periods = history.periods.set_index("period")
    remand = periods[remand_only(history).to_numpy() & reference.holds(periods["start"]).to_numpy()]
    if remand.empty:
        return RemandEstimate(0, 0, 0.0, MIN_DAYS, dict(REMAND_AGE_MIX), REMAND_MALE_SHARE)  # no stream written
    end = remand["end"].where(remand["end"].notna() & (remand["end"] <= reference.end), reference.end)
    closed = int((remand["end"].notna() & (remand["end"] <= reference.end)).sum())
    days = float((end - remand["start"]).dt.days.clip(lower=0).sum())
    older = (remand["age_at_entry_days"].to_numpy() / DAYS_PER_YEAR) >= OLDEST_YOUNGER_BAND
    younger, oldest = REMAND_BANDS
    children = history.children.set_index("child")
    male = children.loc[remand["child"], "sex"].eq("male").to_numpy()
    return RemandEstimate(
        periods=len(remand),
        closed=closed,
        rate_per_year=len(remand) / reference.years,
        mean_days=max(days / max(closed, 1), MIN_DAYS),
        age_mix={younger: float(np.mean(~older)), oldest: float(np.mean(older))},
        male_share=float(male.mean()),
    )
