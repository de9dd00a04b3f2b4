"""Home Office grant income for unaccompanied asylum-seeking children, by financial year ([prices.uasc_grant]).

The Home Office pays an authority a rate a night for each asylum-seeking child in its care (under 16, and
16-17) and a rate a week for each former UASC care leaver. Here every night a UASC child spends in care earns
the rate for its age on that night, and every week of a UASC young person who left care at 18 earns the care
leaver rate until the 21st birthday (the grant continues to 25 only in education or training, which the model
does not follow; its 13-week eligibility rule is not checked). Rates are nominal: the price draws and inflation
leave them alone. Counted on the placement records, so it is exact for the simulated children.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.engine.price_book import UascGrant
from sim.engine.vocabulary import DAYS_PER_YEAR

GRANT_GROUPS = ("under_16", "aged_16_17", "care_leavers")
UNDER_16_DAYS = 16 * DAYS_PER_YEAR
AGE_21_DAYS = 21 * DAYS_PER_YEAR


@dataclass(frozen=True)
class GrantPeriods:
    """The horizon cut at every financial-year boundary and rate change: each piece's days, year and rates."""

    starts: np.ndarray
    ends: np.ndarray
    year: np.ndarray  # index into the financial years
    per_day: np.ndarray  # (pieces, GRANT_GROUPS): £ a day; 0 before the first rate

    @classmethod
    def of(cls, grant: UascGrant, year_starts: np.ndarray, rate_days: np.ndarray, horizon: float) -> GrantPeriods:
        """`year_starts`: each financial year's first day; `rate_days`: each rate's from_date, in days."""
        cuts = np.unique(np.clip(np.concatenate([[0.0, horizon], year_starts, rate_days]), 0.0, horizon))
        starts, ends = cuts[:-1], cuts[1:]
        year = np.searchsorted(year_starts, starts, side="right") - 1
        rate = np.searchsorted(rate_days, starts, side="right") - 1
        table = np.array(
            [[r.under_16_per_night, r.aged_16_17_per_night, r.care_leaver_per_week / 7.0] for r in grant.rates]
        )
        per_day = np.where((rate >= 0)[:, None], table[np.maximum(rate, 0)], 0.0)
        return cls(starts, ends, np.maximum(year, 0), per_day)

    def income(self, start: np.ndarray, end: np.ndarray, group: int) -> np.ndarray:
        """(intervals, pieces): £ earned by each interval [start, end) in each piece at the group's rate."""
        days = np.minimum(end[:, None], self.ends[None, :]) - np.maximum(start[:, None], self.starts[None, :])
        return np.clip(days, 0.0, None) * self.per_day[None, :, group]


def grant_by_year(
    periods: GrantPeriods,
    in_care: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    leavers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    replications: np.ndarray,
    year_labels: list[str],
) -> pd.DataFrame:
    """Columns replication, financial_year, group (GRANT_GROUPS), income: only combinations earning something.

    `in_care`: (batch position, start, end, birth day) of every in-care placement of a UASC child;
    `leavers`: the same of each UASC young person's time as a care leaver (from leaving care at 18)."""
    position, start, end, birth = in_care
    sixteenth = birth + UNDER_16_DAYS
    parts = [
        (position, periods.income(start, np.minimum(end, sixteenth), 0)),
        (position, periods.income(np.maximum(start, sixteenth), end, 1)),
        (leavers[0], periods.income(leavers[1], np.minimum(leavers[2], leavers[3] + AGE_21_DAYS), 2)),
    ]
    totals = np.zeros((len(replications), len(year_labels), len(GRANT_GROUPS)))
    for group, (who, income) in enumerate(parts):
        by_year = np.zeros((len(who), len(year_labels)))
        np.add.at(by_year.T, periods.year, income.T)
        np.add.at(totals[:, :, group], who, by_year)
    where = np.argwhere(totals > 0)
    return pd.DataFrame(
        {
            "replication": replications[where[:, 0]],
            "financial_year": np.asarray(year_labels, dtype=object)[where[:, 1]].astype(str),
            "group": np.asarray(GRANT_GROUPS, dtype=object)[where[:, 2]].astype(str),
            "income": totals[where[:, 0], where[:, 1], where[:, 2]],
        }
    )
