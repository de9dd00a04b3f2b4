"""The market that can run out, in the baselines fitted to published figures (issue 17, decision 0009).

Why: in-house places full, a child goes to an agency, and the agency market is not unlimited either.
Cheshire East sourced 183 emergency placements in 2016/17 and 66 in June-November 2017
(002_834b48a4b269ace3.txt:L923-925), agency places are "rarely available when placement searches are made"
(004_375ba0091dd72cb5.txt:L335), and there was "only 1 secure placement available to the whole country"
(000_f3e7ed591fa8ff51.txt:L500). So each baseline's external pools are found
only by some searches (`availability`), and each matching list ends in a fallback recorded in the gap ledger:

- fostering and supported accommodation: agency places are found by a share of searches, fitted so that the
  emergency placements a year match the published rate; a search that finds nothing ends in an emergency
  placement that bridges for about a week, then a new search (`emergency`, kind emergency);
- children's homes: external homes are found by the share of searches that leaves the national share of
  children in unregistered placements (1% of children in care, national_england.md:L56); the rest go to an
  unregistered placement for the segment (`unregistered`);
- secure care: a secure bed is found by half of searches (an assumption: the documents say beds are scarce, not
  how scarce); the rest are placed under a deprivation of liberty order (`deprivation_of_liberty`), a secure
  shortage in the ledger.

The fostering share is fitted by simulating the first year (the only figure here a closed form cannot give:
a bridged child's new search may find an in-house place freed meanwhile). Without a published emergency
figure by the as-of date, agency foster places are always found (availability 1) and the header says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calibration.fit import Targets, Value
from sim.engine.scenario import Scenario
from sim.engine.toml_writer import Comments

AGENCY_POOLS = ("ifa", "external_supported")  # found by `Market.agencies` of searches
BRIDGING_DAYS = {"distribution": "gamma", "mean": 7.0, "sd": 4.0}
BRIDGING_SOURCE = (
    "assumption: emergency beds are 'for up to a week' (The Bridges, 002_834b48a4b269ace3.txt:L625) and the "
    "E-bed is 'emergency provision' (L639): a week on average, then a new search"
)
SECURE_AVAILABILITY = Value(
    0.5,
    "assumption: half of secure searches find a bed; 'only 1 secure placement available to the whole country' "
    "in one month (000_f3e7ed591fa8ff51.txt:L500), 'often no available beds across the country' "
    "(004_375ba0091dd72cb5.txt:L387): scarce, by how much is not published",
)
UNREGISTERED_SHARE = Value(
    0.01, "national_england.md:L56: 1% of children in care in unregulated placements (FOI of all 150 LAs, 2024)"
)
FIT_REPLICATIONS = 40  # a year of the authority, 40 times: the fitted count within a few percent
FIT_TOLERANCE = 0.03  # relative distance from the published rate at which the search stops
FIT_STEPS = 6
FALLBACK_POOLS: dict[str, dict[str, Any]] = {
    "unregistered": {
        "description": "unregistered placements (bespoke, no registered home found)",
        "serves": ["residential"],
        "kind": "unregistered",
    },
    "deprivation_of_liberty": {
        "description": "placements under a deprivation of liberty order (no secure bed found)",
        "serves": ["secure"],
        "kind": "deprivation_of_liberty",
    },
}


@dataclass(frozen=True)
class Market:
    """The share of searches that find a free place, by market, each with where it comes from."""

    agencies: Value  # agency foster places and external supported accommodation
    homes: Value  # external children's homes
    secure: Value  # secure children's homes


def emergency_target(targets: Targets) -> Value | None:
    """Emergency placements a year the baseline should make (None: not published by the as-of date)."""
    return targets.emergency_placements_per_year


def homes_availability(targets: Targets) -> Value:
    """External homes found by the share of searches that leaves UNREGISTERED_SHARE of the stock unregistered.

    A child in an external home or an unregistered placement stays for its residential segment either way, so
    (Little's law on the same stays) the unregistered stock is the failed share of the external one.
    """
    external = targets.placements["external_homes"].value
    unregistered = UNREGISTERED_SHARE.value * targets.stock.value
    if external <= unregistered:
        return Value(1.0, "assumption: too few external home placements to leave any unregistered")
    share = 1.0 - unregistered / external
    return Value(
        round(share, 4),
        f"derived: 1 - unregistered / external homes = 1 - {UNREGISTERED_SHARE.value:g} x {targets.stock.value:g} / "
        f"{external:g} ({UNREGISTERED_SHARE.comment}; external homes {targets.placements['external_homes'].comment})",
    )


def fallback_pools(pools: dict[str, Any], comments: Comments, external_within_20: Value) -> None:
    """The unregistered and deprivation-of-liberty pools, in every baseline (so its price book prices them), used
    only once `add_market` ends matching lists in them."""
    for name, spec in FALLBACK_POOLS.items():
        pools[name] = {**spec, "in_house": False, "capacity": "unlimited", "within_20_miles": external_within_20.value}
        comments[f"pools.{name}.within_20_miles"] = external_within_20.comment


def add_market(document: dict[str, Any], comments: Comments, market: Market) -> None:
    """The availabilities, the emergency pool's bridging, and matching lists ending in the fallback pools."""
    pools = document["pools"]
    for name in AGENCY_POOLS:
        _available(pools, comments, name, market.agencies)
    _available(pools, comments, "external_homes", market.homes)
    _available(pools, comments, "secure", market.secure)
    emergency = pools["emergency"]
    emergency.update(
        {"description": "emergency placements, bridging to a new search", "kind": "emergency"},
        serves=["fostering", "supported_16plus"],
        bridging_days=dict(BRIDGING_DAYS),
    )
    comments["pools.emergency.bridging_days"] = BRIDGING_SOURCE
    matching = document["matching"]
    for need, last in (
        ("fostering", "emergency"),
        ("supported_16plus", "emergency"),
        ("residential", "unregistered"),
        ("secure", "deprivation_of_liberty"),
    ):
        matching[need]["fallback"] = [last]
        comments[f"matching.{need}.fallback"] = f"the last resort when no search finds a place: see pools.{last}"


def _available(pools: dict[str, Any], comments: Comments, name: str, availability: Value) -> None:
    if availability.value < 1.0:
        pools[name]["availability"] = availability.value
        comments[f"pools.{name}.availability"] = availability.comment


def fit_market(targets: Targets, scenario_for: Callable[[Market], Scenario]) -> Market:
    """The market whose first simulated year makes the published emergency placements a year.

    `scenario_for` builds the baseline with a market. Secant steps on the log-odds of the agencies' share,
    started from the share a geometric count of repeated failures gives with every agency search counted.
    """
    homes, target = homes_availability(targets), emergency_target(targets)
    if target is None:
        always = Value(1.0, "assumption: no emergency placements published by the as-of date, so always found")
        return Market(always, homes, SECURE_AVAILABILITY)
    searches = _agency_searches(scenario_for(Market(Value(1.0, ""), homes, SECURE_AVAILABILITY)))
    guess = min(searches / (searches + target.value), 0.999)
    tried: list[tuple[float, float]] = []
    for _ in range(FIT_STEPS):
        made = _emergency_placements(scenario_for(Market(Value(guess, ""), homes, SECURE_AVAILABILITY)))
        tried.append((guess, made))
        if abs(made - target.value) <= FIT_TOLERANCE * target.value:
            break
        guess = _next_guess(tried, target.value)
    share, made = min(tried, key=lambda pair: abs(pair[1] - target.value))
    comment = (
        f"fitted: agency searches that find a place, so that the first simulated year makes {made:.0f} emergency "
        f"placements against {target.value:.0f} a year ({target.comment}; {FIT_REPLICATIONS} replications)"
    )
    return Market(Value(round(share, 4), comment), homes, SECURE_AVAILABILITY)


def borrowed_market(donor: Market, targets: Targets, donor_name: str, donor_date: str) -> Market:
    """An authority without an emergency figure takes its neighbour's fitted share of agency searches that find
    a place: the same regional market (the North West fostering framework), its own homes and secure shares."""
    agencies = Value(
        donor.agencies.value,
        f"assumption: {donor_name}'s share on {donor_date}, the same North West agency market "
        f"(004_375ba0091dd72cb5.txt:L335 'rarely available when placement searches are made'); there: "
        f"{donor.agencies.comment}",
    )
    return Market(agencies, homes_availability(targets), SECURE_AVAILABILITY)


def _next_guess(tried: list[tuple[float, float]], target: float) -> float:
    """A secant step on log-odds(share) against log(emergency placements), which fall as the share rises."""
    if len(tried) == 1:
        share, made = tried[0]
        return _from_logit(_logit(share) + math.log(max(made, 1.0) / target))
    (s0, m0), (s1, m1) = tried[-2], tried[-1]
    slope = (_logit(s1) - _logit(s0)) / (math.log(max(m1, 1.0)) - math.log(max(m0, 1.0)) or -1e-9)
    return _from_logit(_logit(s1) + slope * (math.log(target) - math.log(max(m1, 1.0))))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _from_logit(x: float) -> float:
    return min(max(1.0 / (1.0 + math.exp(-x)), 0.01), 0.999)


def _first_year(scenario: Scenario) -> Any:
    """The gap ledger of the scenario's first year, simulated without parameter draws."""
    from sim.results.runner import run  # the simulator only when a market is fitted

    one_year = scenario.model_copy(
        update={"horizon": scenario.horizon.model_copy(update={"years": 1}), "uncertainty": None}
    )
    return run(one_year, FIT_REPLICATIONS).tables["gap_ledger"]


def _agency_searches(scenario: Scenario) -> float:
    """Placements a year started in agency pools by children who wanted an in-house place (all of them)."""
    ledger = _first_year(scenario)
    return float(ledger.loc[ledger["used_pool"].isin(AGENCY_POOLS), "placements"].sum()) / FIT_REPLICATIONS


def _emergency_placements(scenario: Scenario) -> float:
    ledger = _first_year(scenario)
    return float(ledger.loc[ledger["kind"] == "emergency", "placements"].sum()) / FIT_REPLICATIONS
