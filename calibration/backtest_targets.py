"""A published figure a backcast is compared with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Observed:
    """Children in care on a date: all of them (`pools` None) or those in a group of pools."""

    date: dt.date
    label: str
    pools: tuple[str, ...] | None
    value: float
    source: str
