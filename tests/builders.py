"""Small scenarios built in code for tests: one place to change when the schema grows."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sim.engine.scenario import Scenario
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.vocabulary import AGE_BANDS


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


def rich_scenario(years: int = 6) -> dict[str, Any]:
    """Every mechanism at once: moves, adoption with finite adopters, Staying Put, step-back,
    dated capacity changes, foster-carer recruitment, a starting population and UASC."""
    young = {
        "exit_routes": {"return_home": 0.4, "adoption": 0.3, "sgo_cao": 0.2, "other": 0.1},
        "duration": {
            "return_home": {"distribution": "lognormal", "mean": 250, "sd": 300},
            "adoption": {"distribution": "gamma", "mean": 400, "sd": 150},
            "sgo_cao": {"distribution": "weibull", "shape": 1.5, "scale": 600},
            "other": {"distribution": "uniform", "low": 30, "high": 900},
        },
        "first_need": {"fostering": 0.7, "kinship_fostering": 0.2, "placed_with_parents": 0.1},
    }
    older = {
        "exit_routes": {"return_home": 0.4, "age_18": 0.5, "other": 0.1},
        "duration": {
            "return_home": {"distribution": "lognormal", "mean": 300, "sd": 500},
            "other": {"distribution": "exponential", "mean": 400},
        },
        "first_need": {"fostering": 0.6, "residential": 0.3, "supported_16plus": 0.1},
        "moves": [
            {
                "from_need": "residential",
                "to_need": "fostering",
                "probability": 0.3,
                "after_days": {"distribution": "uniform", "low": 180, "high": 270},
            },
            {"from_need": "fostering", "to_need": "supported_16plus", "probability": 0.2, "at_age": 17.0},
            {
                "from_need": "fostering",
                "to_need": "residential",
                "probability": 0.1,
                "after_days": {"distribution": "fixed", "days": 120},
            },
        ],
    }
    return {
        "name": "rich",
        "seed": 7,
        "horizon": {"start": dt.date(2019, 10, 1), "years": years},
        "start_population": {
            "groups": [
                {"age_band": "10-15", "need": "fostering", "pool": "inhouse", "count": 20, "days_in_care": 500},
                {"age_band": "16-17", "need": "fostering", "pool": "ifa", "count": 10, "days_in_care": 700},
                {"age_band": "10-15", "need": "residential", "pool": "homes", "count": 4, "days_in_care": 300},
                {"age_band": "1-4", "need": "fostering", "pool": "ifa", "count": 8, "days_in_care": 200},
                {
                    "age_band": "under1",
                    "need": "placed_for_adoption",
                    "pool": "adopters",
                    "count": 3,
                    "days_in_care": 150,
                },
            ]
        },
        "entries": {
            "rate_per_year": {"under1": 15, "1-4": 12, "5-9": 10, "10-15": 25, "16-17": 10},
            "trend_percent_per_year": 3.0,
            "seasonality": [1.1, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 0.9, 1.1, 1.1, 1.0, 1.0],
            "need_mix": {"N1": 0.6, "N4": 0.25, "N2": 0.15},
            "male_share": 0.56,
            "uasc": {"rate_per_year": 5, "age_mix": {"16-17": 0.8, "10-15": 0.2}},
        },
        "journeys": {"under1": young, "1-4": young, "5-9": older, "10-15": older, "16-17": older},
        "pools": {
            "inhouse": {
                "serves": ["fostering"],
                "capacity": 24,
                "in_house": True,
                "within_20_miles": 0.95,
                "fostering": {
                    "households": 18,
                    "places_per_household": {"1": 0.6, "2": 0.4},
                    "approvals_per_year": 4,
                    "assessment_delay_days": 120,
                    "deregistrations_per_year": 3,
                },
            },
            "ifa": {"serves": ["fostering"], "capacity": "unlimited", "in_house": False, "within_20_miles": 0.7},
            "kinship": {"serves": ["kinship_fostering"], "capacity": "unlimited", "in_house": True},
            "homes": {
                "serves": ["residential"],
                "capacity": 5,
                "in_house": True,
                "min_age": 8,
                "capacity_changes": [
                    {"date": dt.date(2020, 4, 1), "change": 2},
                    {"date": dt.date(2022, 4, 1), "change": -3},
                ],
            },
            "external_homes": {
                "serves": ["residential"],
                "capacity": "unlimited",
                "in_house": False,
                "within_20_miles": 0.5,
            },
            "supported": {"serves": ["supported_16plus"], "capacity": 3, "in_house": True, "min_age": 16},
            "external_supported": {"serves": ["supported_16plus"], "capacity": "unlimited", "in_house": False},
            "parents": {"serves": ["placed_with_parents"], "capacity": "unlimited", "in_house": True},
            "adopters": {"serves": ["placed_for_adoption"], "capacity": "unlimited", "in_house": True},
            "emergency": {
                "serves": ["fostering", "residential", "supported_16plus"],
                "capacity": "unlimited",
                "in_house": False,
            },
        },
        "matching": {
            "fostering": {"pools": ["inhouse", "ifa"]},
            "kinship_fostering": {"pools": ["kinship"]},
            "residential": {"pools": ["homes", "external_homes"]},
            "supported_16plus": {"pools": ["supported", "external_supported"]},
            "placed_with_parents": {"pools": ["parents"]},
            "placed_for_adoption": {"pools": ["adopters"]},
        },
        "step_back": {"enabled": True, "min_days": 60, "probability": 0.7},
        "leaving_care": {
            "staying_put": {"probability": 0.5, "pools": ["inhouse", "ifa"]},
            "staying_close": {
                "probability": 0.5,
                "pool": "supported",
                "duration": {"distribution": "exponential", "mean": 200},
            },
        },
        "adoption": {
            "adopter_approvals_per_year": 6,
            "adopters_waiting_at_start": 2,
            "time_to_order": {"distribution": "gamma", "mean": 270, "sd": 90},
        },
    }


def unlimited_rich(years: int = 6) -> dict[str, Any]:
    """The rich scenario with every pool and adopters unlimited (the projection's setting), entries tripled."""
    raw = rich_scenario(years=years)
    for pool in raw["pools"].values():
        pool["capacity"] = "unlimited"
        pool.pop("capacity_changes", None)
        pool.pop("fostering", None)
    raw["adoption"]["adopter_approvals_per_year"] = "unlimited"
    raw["entries"]["rate_per_year"] = {band: 3 * rate for band, rate in raw["entries"]["rate_per_year"].items()}
    return raw


def rich_with_staying_put_at_start() -> dict[str, Any]:
    """The rich scenario with young people already Staying Put on the start date: the in-house pool full from
    day 0 (20 children and 4 young people in its 24 places), 5 more with agency carers."""
    raw = rich_scenario()
    raw["start_population"]["staying_put"] = [{"pool": "inhouse", "count": 4}, {"pool": "ifa", "count": 5}]
    return raw
