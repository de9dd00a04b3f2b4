"""Unplanned placement endings (breakdowns) from SSDA903: events over days at risk, by placement need.

Why: a placement that breaks down starts a new search, which may end in an emergency placement (Cheshire East
counted 54 of its 183 emergency placements in 2016/17 as coming from foster placements ending, 002:L929), and
the DfE's stability indicators count the moves. The returns say why a placement ended: REASON_PLACE_CHANGE on
the episode that ends with REC X1 before a new placement (the DfE's rule 225). The endings no plan chose
(codes.UNPLANNED_PLACEMENT_ENDINGS: the carer's request, the child's, an allegation, a standards concern,
approval removed, the provision closing) are the breakdowns; planned moves are the rest.

Hazards are per year at risk, by the need of the placement that ended, from the reference period only: events
are unplanned endings dated inside it; days at risk are every placement's days inside it, left-truncated at
its start and right-censored at its end or the extract. Exact Poisson 95% intervals. Counts only: no child's
row or code leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from calibration.ssda903.codes import CONTINUES, UNPLANNED_PLACEMENT_ENDINGS
from calibration.ssda903.estimate import Reference
from calibration.ssda903.reader import CareHistory
from sim.engine.vocabulary import DAYS_PER_YEAR


@dataclass(frozen=True)
class NeedBreakdowns:
    """Unplanned endings of placements of one need: count, years at risk, hazard a year and its 95% interval."""

    need: str
    endings: int
    planned: int  # placement changes for other reasons, for comparison
    years_at_risk: float
    hazard: float
    interval: tuple[float, float]


def estimate_breakdowns(history: CareHistory, reference: Reference) -> dict[str, NeedBreakdowns]:
    """Each need's unplanned-ending hazard over the reference period (needs with no days at risk left out)."""
    episodes = history.episodes
    start = episodes["start"].clip(lower=reference.start)
    end = episodes["end"].fillna(pd.Timestamp(history.extract_date)).clip(upper=reference.end)
    days = (end - start).dt.days.clip(lower=0)
    ended_inside = episodes["end"].notna() & (episodes["end"] >= reference.start) & (episodes["end"] < reference.end)
    moved = ended_inside & episodes["rec"].eq(CONTINUES) & episodes["reason"].ne("")
    unplanned = moved & episodes["reason"].isin(UNPLANNED_PLACEMENT_ENDINGS)
    frame = pd.DataFrame(
        {"need": episodes["need"], "days": days, "unplanned": unplanned, "planned": moved & ~unplanned}
    )
    by_need = frame.groupby("need")[["days", "unplanned", "planned"]].sum()
    result = {}
    for need, row in by_need.iterrows():
        years = float(row["days"]) / DAYS_PER_YEAR
        if years <= 0:
            continue
        events = int(row["unplanned"])
        result[str(need)] = NeedBreakdowns(
            str(need), events, int(row["planned"]), years, events / years, _poisson_interval(events, years)
        )
    return result


def _poisson_interval(events: int, years: float) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a Poisson rate."""
    low = stats.chi2.ppf(0.025, 2 * events) / 2 if events > 0 else 0.0
    high = stats.chi2.ppf(0.975, 2 * events + 2) / 2
    return float(np.float64(low) / years), float(np.float64(high) / years)
