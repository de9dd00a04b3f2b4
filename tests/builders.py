"""Small scenarios built in code for tests: one place to change when the schema grows."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sim.scenario import Scenario, scenario_from_dict
from sim.vocabulary import AGE_BANDS


def journey(mean_days: float = 300.0, first_need: str = "fostering", **extra: Any) -> dict[str, Any]:
    """Everyone returns home after an exponential stay."""
    return {
        "exit_routes": {"return_home": 1.0},
        "duration": {"return_home": {"distribution": "exponential", "mean": mean_days}},
        "first_need": {first_need: 1.0},
        **extra,
    }


def one_pool_scenario(
    rate_per_year: float = 50.0,
    capacity: int | str = 10,
    mean_days: float = 300.0,
    years: int = 10,
    band: str = "5-9",
    stay: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Children needing fostering offered one in-house pool, then an unlimited external one."""
    rates = {b: (rate_per_year if b == band else 0.0) for b in AGE_BANDS}
    duration = stay or {"distribution": "exponential", "mean": mean_days}
    return {
        "name": "one pool",
        "seed": 1,
        "horizon": {"start": dt.date(2020, 4, 1), "years": years},
        "entries": {"rate_per_year": rates, "need_mix": {"N1": 1.0}},
        "journeys": {b: {**journey(), "duration": {"return_home": duration}} for b in AGE_BANDS},
        "pools": {
            "inhouse": {"serves": ["fostering"], "capacity": capacity, "in_house": True},
            "external": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False},
        },
        "matching": {"fostering": {"pools": ["inhouse", "external"]}},
    }


def build(raw: dict[str, Any], **changes: Any) -> Scenario:
    """Validate a scenario dict after applying dotted-path changes, e.g. build(raw, **{"seed": 3})."""
    raw = copy.deepcopy(raw)
    for path, value in changes.items():
        target = raw
        keys = path.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return scenario_from_dict(raw)
