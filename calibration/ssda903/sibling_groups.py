"""Children arriving together, from SSDA903: the sizes of groups of periods of care that start on one day from one
home postcode.

Why: siblings come into care together and an authority tries to place them together, so arrivals in groups need
more free places at once than single arrivals (docs/model.md, sibling groups). The returns do not say who is a
sibling; two children starting a period of care on the same day from the same HOME_POST are the nearest sign.
The reader uses the postcode in memory only, to number the groups (`CareHistory.arrival_groups`); no postcode
reaches this module, and nothing here is tied to a child. Asylum-seeking children are left out (the scenario's
UASC stream arrives alone). A group of five or more counts as four, the largest size the scenario takes, and
the fold is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from calibration.ssda903.estimate import Reference
from calibration.ssda903.reader import CareHistory

LARGEST = 4  # the largest group size [entries.sibling_groups] takes


@dataclass(frozen=True)
class GroupSizes:
    """Groups starting in the reference period by size (LARGEST: that many or more), and how many were larger."""

    groups: dict[int, int]
    folded: int  # groups of more than LARGEST children, counted as LARGEST

    @property
    def total(self) -> int:
        return sum(self.groups.values())

    @property
    def any_together(self) -> bool:
        return any(size > 1 and count for size, count in self.groups.items())

    def shares(self) -> dict[str, float]:
        """Each size's share of the groups (the scenario's size_shares)."""
        return {str(size): count / self.total for size, count in sorted(self.groups.items()) if count}


def estimate_group_sizes(history: CareHistory, reference: Reference) -> GroupSizes:
    """The sizes of the groups whose periods of care start inside the reference period."""
    groups = history.arrival_groups
    inside = groups[(groups["start"] >= reference.start) & (groups["start"] < reference.end)]
    sizes = pd.to_numeric(inside["children"]).astype(int)
    counts = sizes.clip(upper=LARGEST).value_counts()
    return GroupSizes({int(size): int(n) for size, n in counts.items()}, int((sizes > LARGEST).sum()))
