"""Every check of the scenario schema (sim/engine/scenario.py) refuses its bad scenario with one line naming the field.

Each case breaks one thing in tests/builders.py's rich scenario, which uses every mechanism, so the
check's own message is the one that fires: the case asserts the key path and what was expected.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest

from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.vocabulary import AGE_BANDS
from tests.builders import rich_scenario

Raw = dict[str, Any]
LABEL = "<checked>"


def _set(path: str, value: Any) -> Callable[[Raw], None]:
    """Set a value at a dotted path (list items by index), e.g. "pools.homes.capacity_changes.0.change"."""

    def change(raw: Raw) -> None:
        *parents, last = path.split(".")
        target: Any = raw
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value

    return change


def _delete(path: str) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        *parents, last = path.split(".")
        target: Any = raw
        for key in parents:
            target = target[key]
        del target[last]

    return change


def _all(*changes: Callable[[Raw], None]) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        for one in changes:
            one(raw)

    return change


def _start_group(**group: Any) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw["start_population"]["groups"].append({"count": 1, "days_in_care": 100, **group})

    return change


def _without_prices_for(*pools: str) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw["prices"] = {
            "base_date": dt.date(2019, 4, 1),
            "inflation_percent_per_year": 2.0,
            "inflation_source": "assumption: test",
            "pools": {name: {"source": "assumption: test", "weekly": 500.0} for name in raw["pools"]},
        }
        for name in pools:
            del raw["prices"]["pools"][name]

    return change


def _priced(**extra: Any) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        _without_prices_for()(raw)
        raw["prices"].update(extra.get("book", {}))
        for name, price in extra.get("pools", {}).items():
            raw["prices"]["pools"][name] = {"source": "assumption: test", **price}

    return change


TIMED_MOVE = {"distribution": "fixed", "days": 100}
CHANGE_DATE = dt.date(2021, 4, 1)  # inside the rich scenario's horizon, 2019-10-01 to 2025-10-01
UNDEFINED = "nowhere"

# id -> (the one thing broken, fragments the one-line message must contain)
CASES: dict[str, tuple[Callable[[Raw], None], tuple[str, ...]]] = {
    "start before 1990": (_set("horizon.start", dt.date(1985, 1, 1)), ("horizon.start:", "1990 to 2100")),
    "groups and csv": (_set("start_population.csv", "start.csv"), ("start_population:", "either `groups` or `csv`")),
    "move with two timings": (
        _set("journeys.10-15.moves.1.after_days", TIMED_MOVE),
        ("journeys.10-15.moves[1]:", "exactly one of `after_days`", "or `at_age`"),
    ),
    "move to the same need": (
        _set("journeys.10-15.moves.0.to_need", "residential"),
        ("journeys.10-15.moves[0]:", "from_need and to_need must differ"),
    ),
    "exit route without a duration": (
        _delete("journeys.10-15.duration.other"),
        ("journeys.10-15:", "exit route 'other' has probability 0.1 but no duration.other"),
    ),
    "duration for age 18": (
        _set("journeys.10-15.duration.age_18", TIMED_MOVE),
        ("journeys.10-15:", "duration.age_18 is not used"),
    ),
    "moves from one need above 1": (
        _set("journeys.10-15.moves.1.probability", 0.95),
        ("journeys.10-15:", "moves from 'fostering'", "summing to 1.05 > 1"),
    ),
    "uasc age mix": (
        _set("entries.uasc.age_mix", {"16-17": 0.5}),
        ("entries.uasc.age_mix:", "age_mix must sum to 1, got 0.5"),
    ),
    "seasonality average": (_set("entries.seasonality", [1.5] * 12), ("entries.seasonality:", "average 1, got 1.5")),
    "entry change that changes nothing": (
        _set("entries.changes", [{"date": CHANGE_DATE, "note": "hub opens"}]),
        ("entries.changes[0]:", "at least one of rate_multiplier, trend_percent_per_year, stay_multiplier"),
    ),
    "entry step of zero": (
        _set("entries.changes", [{"date": CHANGE_DATE, "rate_multiplier": 0.0}]),
        ("entries.changes[0].rate_multiplier:", "greater than 0"),
    ),
    "entry step above ten": (
        _set("entries.changes", [{"date": CHANGE_DATE, "rate_multiplier": 12.0}]),
        ("entries.changes[0].rate_multiplier:", "less than or equal to 10"),
    ),
    "stay multiplier not finite": (
        _set("entries.changes", [{"date": CHANGE_DATE, "stay_multiplier": math.inf}]),
        ("entries.changes[0].stay_multiplier:", "finite"),
    ),
    "entry change for an unknown band": (
        _set("entries.changes", [{"date": CHANGE_DATE, "rate_multiplier": 0.9, "age_bands": ["10-17"]}]),
        ("entries.changes[0].age_bands[0]:", "'10-15' or '16-17'", "10-17"),
    ),
    "entry change naming a band twice": (
        _set("entries.changes", [{"date": CHANGE_DATE, "rate_multiplier": 0.9, "age_bands": ["5-9", "5-9"]}]),
        ("entries.changes[0]:", "age_bands lists ['5-9'] more than once"),
    ),
    "new trend for some bands": (
        _set("entries.changes", [{"date": CHANGE_DATE, "trend_percent_per_year": 2.0, "age_bands": ["5-9"]}]),
        ("entries.changes[0]:", "applies to every age band", "without age_bands"),
    ),
    "changed first needs not summing to one": (
        _set("entries.changes", [{"date": CHANGE_DATE, "first_need": {"fostering": 0.5, "residential": 0.4}}]),
        ("entries.changes[0]:", "first_need must sum to 1, got 0.9"),
    ),
    "entry changes out of date order": (
        _set(
            "entries.changes",
            [{"date": CHANGE_DATE, "rate_multiplier": 0.9}, {"date": dt.date(2020, 4, 1), "rate_multiplier": 0.9}],
        ),
        ("entries.changes:", "changes[1].date 2020-04-01 is before changes[0].date 2021-04-01", "in date order"),
    ),
    "entry change before the start": (
        _set("entries.changes", [{"date": dt.date(2019, 9, 1), "rate_multiplier": 0.9}]),
        ("entries.changes[0].date:", "2019-09-01 is outside the horizon", "from 2019-10-01 up to (not including)"),
    ),
    "uasc change at the end": (
        _set("entries.uasc.changes", [{"date": dt.date(2025, 10, 1), "rate_multiplier": 2.0}]),
        ("entries.uasc.changes[0].date:", "2025-10-01 is outside the horizon", "2025-10-01"),
    ),
    "uasc new trend without a trend of its own": (
        _set("entries.uasc.changes", [{"date": CHANGE_DATE, "trend_percent_per_year": 5.0}]),
        ("entries.uasc:", "changes[0].trend_percent_per_year needs entries.uasc.trend_percent_per_year"),
    ),
    "uasc trend below -100": (
        _set("entries.uasc.trend_percent_per_year", -100.0),
        ("entries.uasc.trend_percent_per_year:", "greater than -100"),
    ),
    "changed first need without matching": (
        _set("entries.changes", [{"date": CHANGE_DATE, "first_need": {"secure": 1.0}}]),
        ("matching:", "no entry for placement need(s) ['secure']"),
    ),
    "too many children after a step": (
        _all(
            _set("horizon.years", 50),
            _set("entries.rate_per_year", dict.fromkeys(AGE_BANDS, 2_000)),  # 1.2 million without the step
            _set("entries.changes", [{"date": CHANGE_DATE, "rate_multiplier": 10.0}]),
        ),
        ("entries:", "children would enter or start in care", "at most 5,000,000"),
    ),
    "capacity change of zero": (
        _set("pools.homes.capacity_changes.0.change", 0),
        ("pools.homes.capacity_changes[0].change:", "not 0"),
    ),
    "max age below min age": (
        _set("pools.supported.max_age", 15.0),
        ("pools.supported:", "max_age (15.0) must be above min_age (16.0)"),
    ),
    "unlimited pool with changes": (
        _set("pools.ifa.capacity_changes", [{"date": dt.date(2020, 4, 1), "change": 1}]),
        ("pools.ifa:", "an unlimited pool cannot have capacity_changes"),
    ),
    "staying close without a pool": (
        _delete("leaving_care.staying_close.pool"),
        ("leaving_care.staying_close:", "needs a `pool`"),
    ),
    "pool name": (
        lambda raw: raw["pools"].update({"2nd home": raw["pools"]["homes"]}),
        ("pools:", "pool name '2nd home'", "expected a letter"),
    ),
    "journey missing for a band": (
        _delete("journeys.5-9"),
        ("journeys:", "a journey is needed for every age band", "missing ['5-9']"),
    ),
    "uasc journey missing for a band": (
        lambda raw: raw["entries"]["uasc"].update(journeys={"16-17": raw["journeys"]["16-17"]}),
        ("entries.uasc.journeys:", "a journey is needed for every age band", "'under1'"),
    ),
    "adoption without time to order": (
        _delete("adoption.time_to_order"),
        ("journeys.under1:", "adoption is an exit route", "adoption.time_to_order is needed"),
    ),
    "closures below zero places": (
        _set("pools.homes.capacity_changes.1.change", -8),
        ("pools.homes.capacity_changes[1].change:", "leave -1 places", "no more places than the pool has open"),
    ),
    "matching pool not serving its need": (
        _set("matching.fostering.pools", ["homes", "ifa"]),
        ("matching.fostering.pools:", "pool 'homes' does not serve 'fostering'", "put it under fallback"),
    ),
    "matching fallback undefined": (
        _set("matching.residential.fallback", [UNDEFINED]),
        ("matching.residential.fallback:", f"pool '{UNDEFINED}' is not defined under [pools]", "expected one of"),
    ),
    "matching last option with an age limit": (
        _set("matching.supported_16plus.pools", ["external_supported", "supported"]),
        ("matching.supported_16plus.pools:", "'supported', capacity 3", "must be an unlimited pool"),
    ),
    "matching last option unlimited but not all ages": (
        _all(_set("pools.external_supported.min_age", 16.0)),
        ("matching.supported_16plus.pools:", "'external_supported', ages 16 to 18", "taking all ages"),
    ),
    "need in use without matching": (
        _delete("matching.kinship_fostering"),
        ("matching:", "no entry for placement need(s) ['kinship_fostering']"),
    ),
    "start pool undefined": (
        _start_group(age_band="10-15", need="fostering", pool=UNDEFINED),
        ("start_population:", f"pool '{UNDEFINED}' is not defined under [pools]", "expected one of: inhouse"),
    ),
    "start pool outside the need's matching": (
        _start_group(age_band="10-15", need="fostering", pool="kinship"),
        ("start_population:", "children needing 'fostering' are in pool 'kinship'", "matching.fostering options"),
    ),
    "start group outside the pool's ages": (
        _start_group(age_band="1-4", need="supported_16plus", pool="supported"),
        ("start_population.groups[5]:", "aged 1-4", "which takes ages 16 to 18", "overlap the band"),
    ),
    "start population above capacity": (
        _set("start_population.groups.0.count", 25),
        ("start_population:", "25 children start in pool 'inhouse'", "at most pools.inhouse.capacity = 24"),
    ),
    "too many children for one replication": (
        _all(_set("horizon.years", 50), _set("entries.rate_per_year", dict.fromkeys(AGE_BANDS, 100_000))),
        ("entries:", "children would enter or start in care", "at most 5,000,000"),
    ),
    "price for an undefined pool": (
        _priced(pools={UNDEFINED: {"weekly": 1.0}}),
        (f"prices.pools.{UNDEFINED}:", "is not defined under [pools]"),
    ),
    "inflation group of an undefined pool": (
        _priced(book={"inflation_groups": {"market": {"percent_per_year": 5.0, "pools": [UNDEFINED], "source": "x"}}}),
        ("prices.inflation_groups.market.pools:", f"pool '{UNDEFINED}' is not defined"),
    ),
    "used pool without a price": (
        _without_prices_for("kinship"),
        ("prices.pools.kinship:", "is used (matching.kinship_fostering) but has no price"),
    ),
    "closing more homes than open": (
        _all(_set("pools.homes.capacity_changes.1.homes", -1), _priced()),
        ("pools.homes:", "capacity_changes close more homes than the pool has"),
    ),
    "block price without homes": (
        _priced(pools={"homes": {"block_per_home_per_year": 300_000.0}}),
        ("prices.pools.homes.block_per_home_per_year:", "has no homes", "set pools.homes.homes"),
    ),
    "staying put in an undefined pool": (
        _set("leaving_care.staying_put.pools", ["inhouse", UNDEFINED]),
        ("leaving_care.staying_put.pools:", f"pool '{UNDEFINED}' is not defined under [pools]"),
    ),
    "staying put in a children's home": (
        _set("leaving_care.staying_put.pools", ["inhouse", "homes"]),
        ("leaving_care.staying_put.pools:", "pool 'homes' serves ['residential']", "fostering or kinship_fostering"),
    ),
    "staying close in an undefined pool": (
        _set("leaving_care.staying_close.pool", UNDEFINED),
        ("leaving_care.staying_close.pool:", f"pool '{UNDEFINED}' is not defined under [pools]"),
    ),
}


def _base() -> Raw:
    """The rich scenario with a journey object of its own for each band (the builder shares them)."""
    raw = rich_scenario()
    raw["journeys"] = {band: copy.deepcopy(journey) for band, journey in raw["journeys"].items()}
    return raw


def _message(change: Callable[[Raw], None]) -> str:
    raw = _base()
    change(raw)
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(raw, label=LABEL)
    return str(caught.value)


def test_the_base_is_valid() -> None:
    """Otherwise every case below could fail for a reason of the base's own."""
    scenario_from_dict(_base(), label=LABEL)
    _priced()(raw := _base())
    scenario_from_dict(raw, label=LABEL)


@pytest.mark.parametrize("case", CASES)
def test_each_check_names_the_field_in_one_line(case: str) -> None:
    change, fragments = CASES[case]
    message = _message(change)
    assert "\n" not in message
    assert message.startswith(f"{LABEL}: ")
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{message!r} lacks {missing}"
