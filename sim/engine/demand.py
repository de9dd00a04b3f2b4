"""Demand: who enters care, when, and what care they will need (drawn before supply is known).

Demand does not depend on capacity, so a replication's whole cohort of children is drawn
here in vectorised numpy from named streams, before the event loop starts. Each child owns
one row of uniforms (see `streams.child_uniforms`), so child k has the same age, need and
journey in every scenario that shares the seed and the entry rates. The supply model
(`sim.engine.model`) then only decides where each segment of the journey is spent.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from sim.engine.complexity import NO_CATEGORY, draw_tiers, tier_probabilities
from sim.engine.distributions import Distribution
from sim.engine.scenario import EntryChange, EntryStream, Journey, Scenario
from sim.engine.streams import child_uniforms, stream
from sim.engine.vocabulary import (
    AGE_BAND_BOUNDS_YEARS,
    AGE_BANDS,
    CATEGORIES_OF_NEED,
    DAYS_PER_YEAR,
    EXIT_ROUTES,
    LEAVING_CARE_AGE_YEARS,
    PLACEMENT_NEEDS,
    age_band_index,
)

MAX_SEGMENTS = 4  # first placement need plus at most three planned moves
PLACEMENT_DRAWS = 8  # per-child uniforms for each placement (locality, price), reused cyclically

# Columns of a child's row of uniforms.
COL_BAND, COL_AGE, COL_SEX, COL_CIN, COL_ROUTE, COL_DURATION, COL_FIRST_NEED = range(7)
COL_MOVE_PICK = 7  # + segment index (MAX_SEGMENTS - 1 columns)
COL_MOVE_TIME = COL_MOVE_PICK + MAX_SEGMENTS - 1
COL_STEP_BACK = COL_MOVE_TIME + MAX_SEGMENTS - 1
COL_STAYING_PUT, COL_STAYING_PUT_DAYS, COL_STAYING_CLOSE, COL_STAYING_CLOSE_DAYS, COL_ORDER = range(
    COL_STEP_BACK + 1, COL_STEP_BACK + 6
)
COL_LOCALITY = COL_ORDER + 1
COL_PRICE = COL_LOCALITY + PLACEMENT_DRAWS
WIDTH = COL_PRICE + PLACEMENT_DRAWS

ROUTE_INDEX = {route: i for i, route in enumerate(EXIT_ROUTES)}
NEED_INDEX = {need: i for i, need in enumerate(PLACEMENT_NEEDS)}
AGE_18_DAYS = LEAVING_CARE_AGE_YEARS * DAYS_PER_YEAR
NO_CIN = NO_CATEGORY  # children already in care at the start: category of need not given


@dataclass
class Cohort:
    """Every child of one replication, as parallel arrays (index = child id)."""

    entry_day: np.ndarray  # days from the horizon start (0 for children in care at the start)
    birth_day: np.ndarray  # days from the horizon start (negative)
    entry_band: np.ndarray  # index into AGE_BANDS of the age at entry
    cin: np.ndarray  # index into CATEGORIES_OF_NEED, or NO_CIN
    uasc: np.ndarray
    male: np.ndarray
    starting: np.ndarray  # in care on the start date
    staying_put_at_start: np.ndarray  # aged 18+ and Staying Put on the start date: holds a place, never in care
    start_pool: np.ndarray  # pool name index for starting children and young people Staying Put, -1 for entrants
    route: np.ndarray  # planned exit route (index into EXIT_ROUTES)
    n_segments: np.ndarray
    seg_need: np.ndarray  # (children, MAX_SEGMENTS) need index, -1 unused
    seg_end: np.ndarray  # (children, MAX_SEGMENTS) absolute day the segment ends
    order_days: np.ndarray  # adoption route: days from placement with adopters to the order
    step_back_willing: np.ndarray
    staying_put: np.ndarray
    staying_put_days: np.ndarray
    staying_close: np.ndarray
    staying_close_days: np.ndarray
    locality: np.ndarray  # (children, PLACEMENT_DRAWS) uniforms: placed within 20 miles?
    price: np.ndarray  # (children, PLACEMENT_DRAWS) uniforms: weekly price of a placement priced per placement
    # index into [complexity].tiers (sim.engine.complexity); all 0 without [complexity], and for young people
    # Staying Put on the start date (never matched: they hold their carer's place)
    tier: np.ndarray
    # the sibling group of each entrant arriving in one ([entries.sibling_groups]): a number shared by the group's
    # members, who are consecutive in order of entry; -1 for a child arriving alone (every child without the key)
    sibling_group: np.ndarray | None = None
    # children the National Transfer Scheme offers (entries.uasc.national_transfer_scheme): they enter only if the
    # authority is below its threshold on their day
    offered: np.ndarray | None = None
    # set by the model: children who never entered care (transferred out by the scheme, or an offer not taken)
    absent: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.entry_day)

    @property
    def birthday_18(self) -> np.ndarray:
        return self.birth_day + AGE_18_DAYS

    @property
    def in_care_at_some_time(self) -> np.ndarray:
        """Children in care on the start date or entering later: neither Staying Put from the start nor absent."""
        outside = self.staying_put_at_start if self.absent is None else self.staying_put_at_start | self.absent
        return ~outside

    @property
    def entrants(self) -> np.ndarray:
        """Children entering care during the run: in care at some time, but not on the start date."""
        return self.in_care_at_some_time & ~self.starting


def draw_cohort(scenario: Scenario, seed: int, replication: int, start_pool_names: list[str]) -> Cohort:
    """Starting population, then young people Staying Put at the start, then entrants (main stream, UASC, the
    scheme's offers, remand) in order of entry."""
    parts = [
        _starting_children(scenario, seed, replication, start_pool_names),
        _staying_put_at_start(scenario, seed, replication, start_pool_names),
        _entrants(scenario, seed, replication, uasc=False),
        _entrants(scenario, seed, replication, uasc=True),
        _entrants(scenario, seed, replication, uasc=True, offered=True),
    ]
    if scenario.entries.remand.used:  # from streams of its own: a scenario without it draws as before
        parts.append(_entrants(scenario, seed, replication, uasc=False, remand=True))
    starting = np.concatenate([part.starting for part in parts])
    staying_put = np.concatenate([part.staying_put_at_start for part in parts])
    entry_day = np.concatenate([part.entry_day for part in parts])
    entrants = np.flatnonzero(~(starting | staying_put))
    by_entry = entrants[np.argsort(entry_day[entrants], kind="stable")]
    order = np.concatenate([np.flatnonzero(starting), np.flatnonzero(staying_put), by_entry])
    return _merge(parts, order)


def _group_days(scenario: Scenario, flow: EntryStream, seed: int, replication: int) -> tuple[np.ndarray, np.ndarray]:
    """Entry days of the main stream's children arriving in sibling groups, and each child's group number.

    Group days are Poisson (non-homogeneous, by the same thinning) at the children's rate over the mean group
    size; each group's size is drawn after all its days, from the `sibling_groups` stream. Poisson group arrivals
    keep the loss-system closed forms (a group offered to a pool is a batch arrival), which grouping
    consecutive Poisson entrants would not (their group days would be a renewal process, not Poisson).
    """
    groups = scenario.entries.sibling_groups
    generator = stream(seed, replication, "sibling_groups")
    days = arrival_days(scenario, flow, generator, 1.0 / groups.mean_size)
    shares = np.array(list(groups.size_shares.values()))
    sizes = np.array(groups.sizes, dtype=np.int64)[_pick(generator.random(len(days)), shares)]
    group = np.repeat(np.arange(len(days), dtype=np.int64), sizes)
    return days[group], group


# ---------------------------------------------------------------------------------------------
# Arrivals


def entry_rate_factor(scenario: Scenario, flow: EntryStream, days: np.ndarray) -> np.ndarray:
    """Multiplier of a stream's start rate at times `days`: trend x seasonality x the mean step in force.

    Without dated changes this is the one compound trend from the start, as it always was, so the thinning
    keeps the same arrivals. The mean step weights each band's product of steps by its start rate.
    """
    entries = scenario.entries
    seasonality = np.asarray(entries.seasonality) / np.mean(entries.seasonality)
    start = np.datetime64(scenario.horizon.start, "D")
    months = (start + np.floor(days).astype("timedelta64[D]")).astype("datetime64[M]").astype(np.int64) % 12
    trend = _trend(scenario, flow, days)
    factor = trend * seasonality[months]
    if flow.rate_steps:
        factor = factor * (_band_steps(scenario, flow, days) @ _band_weights(flow))
    return factor


def _trend(scenario: Scenario, flow: EntryStream, days: np.ndarray) -> np.ndarray:
    """Trend multiplier at `days`: compounded from the start, each new trend from its date (log-linear pieces)."""
    if not flow.trends:
        return (1.0 + flow.trend_percent_per_year / 100.0) ** (days / DAYS_PER_YEAR)
    knots = np.array([0.0] + [horizon_day(scenario, day) for day, _ in flow.trends])
    per_day = np.log1p(np.array([flow.trend_percent_per_year] + [g for _, g in flow.trends]) / 100.0) / DAYS_PER_YEAR
    at_knots = np.concatenate([[0.0], np.cumsum(per_day[:-1] * np.diff(knots))])
    piece = np.searchsorted(knots, days, side="right") - 1
    return np.exp(at_knots[piece] + per_day[piece] * (days - knots[piece]))


def _band_weights(flow: EntryStream) -> np.ndarray:
    rates = np.array([flow.rate_per_year.get(band, 0.0) for band in AGE_BANDS])
    return rates / rates.sum()


def _band_steps(scenario: Scenario, flow: EntryStream, days: np.ndarray) -> np.ndarray:
    """(len(days), bands): the product of each band's rate steps in force at `days`."""
    steps = np.ones((len(days), len(AGE_BANDS)))
    for change in flow.rate_steps:
        bands = [i for i, band in enumerate(AGE_BANDS) if change.applies_to(band)]
        in_force = days >= horizon_day(scenario, change.date)
        steps[np.ix_(in_force, bands)] *= change.rate_multiplier
    return steps


def _peak_factor(scenario: Scenario, flow: EntryStream) -> float:
    """An upper bound of `entry_rate_factor` over the horizon, for thinning.

    Between change dates the steps are constant and the trend monotone, so the largest value is at an end of
    a piece. The bound is never below the one without changes, so a stream whose changes only lower the rate
    thins the same candidates (and keeps a subset of the arrivals it would have had without them).
    """
    horizon = scenario.horizon.days
    entries = scenario.entries
    growth = (1.0 + flow.trend_percent_per_year / 100.0) ** (horizon / DAYS_PER_YEAR)
    seasonal = max(entries.seasonality) / np.mean(entries.seasonality)
    unchanged = max(growth, 1.0) * seasonal
    if not flow.trends and not flow.rate_steps:
        return unchanged
    dated = [horizon_day(scenario, day) for day in [c.date for c in flow.rate_steps] + [d for d, _ in flow.trends]]
    knots = np.unique(np.array([0.0, horizon, *dated]))
    ends = np.maximum(_trend(scenario, flow, knots[:-1]), _trend(scenario, flow, knots[1:]))
    if flow.rate_steps:
        ends = ends * (_band_steps(scenario, flow, knots[:-1]) @ _band_weights(flow))
    return max(unchanged, float(ends.max()) * seasonal)


def arrival_days(
    scenario: Scenario, flow: EntryStream, generator: np.random.Generator, scale: float = 1.0
) -> np.ndarray:
    """Non-homogeneous Poisson arrivals of a stream over the horizon by thinning, at `scale` times its rate
    (sibling groups arrive at the children's rate over the mean group size)."""
    horizon = scenario.horizon.days
    if flow.total_per_year <= 0:
        return np.empty(0)
    peak = _peak_factor(scenario, flow)
    peak_rate = flow.total_per_year * scale / DAYS_PER_YEAR * peak
    candidates = np.cumsum(generator.exponential(1.0 / peak_rate, size=int(peak_rate * horizon * 1.2) + 50))
    while candidates[-1] < horizon:
        more = np.cumsum(generator.exponential(1.0 / peak_rate, size=len(candidates))) + candidates[-1]
        candidates = np.concatenate([candidates, more])
    candidates = candidates[candidates < horizon]
    keep = generator.random(len(candidates)) * peak < entry_rate_factor(scenario, flow, candidates)
    return candidates[keep]


def _entry_bands(scenario: Scenario, flow: EntryStream, days: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Each entrant's age band: by start rate, times the band's steps in force on the entry day if any."""
    shares = np.array([flow.rate_per_year.get(band, 0.0) for band in AGE_BANDS])
    if not len(days):
        return np.zeros(0, dtype=np.int64)
    if not any(change.age_bands is not None for change in flow.rate_steps):
        return _pick(uniforms, shares / shares.sum())
    weights = shares * _band_steps(scenario, flow, days)
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((uniforms[:, None] >= cumulative).sum(axis=1), len(AGE_BANDS) - 1)


# ---------------------------------------------------------------------------------------------
# Entrants


ENTRANT_STREAMS = {  # (uasc, offered, remand): the named streams of arrival days, demand uniforms and tiers
    (False, False, False): ("arrivals", "demand", "complexity"),
    (True, False, False): ("uasc_arrivals", "uasc_demand", "uasc_complexity"),
    (True, True, False): ("uasc_offers", "uasc_offer_demand", "uasc_offer_complexity"),
    (False, False, True): ("remand_arrivals", "remand_demand", "remand_complexity"),
}


def _entry_flow(scenario: Scenario, uasc: bool, offered: bool, remand: bool) -> EntryStream:
    entries = scenario.entries
    if remand:
        return entries.remand_stream()
    return entries.offers_stream() if offered else entries.stream(uasc, scenario.horizon)


def _entrants(
    scenario: Scenario, seed: int, replication: int, uasc: bool, offered: bool = False, remand: bool = False
) -> Cohort:
    """The main stream's entrants, the UASC stream's, the children the National Transfer Scheme offers, or the
    children remanded (entries.remand, with journeys of their own)."""
    entries = scenario.entries
    flow = _entry_flow(scenario, uasc, offered, remand)
    arrivals, demand, complexity = ENTRANT_STREAMS[uasc, offered, remand]
    group = None
    if uasc or remand or entries.sibling_groups is None:
        days = arrival_days(scenario, flow, stream(seed, replication, arrivals))
    else:
        days, group = _group_days(scenario, flow, seed, replication)
    u = child_uniforms(stream(seed, replication, demand), len(days), WIDTH)
    n = len(days)
    band = _entry_bands(scenario, flow, days, u[:, COL_BAND])
    low = np.array([b[0] for b in AGE_BAND_BOUNDS_YEARS])[band]
    high = np.array([b[1] for b in AGE_BAND_BOUNDS_YEARS])[band]
    age_days = (low + u[:, COL_AGE] * (high - low)) * DAYS_PER_YEAR
    cin_shares = np.array([entries.need_mix.get(code, 0.0) for code in CATEGORIES_OF_NEED])
    cohort = _blank(n, u)
    if group is not None:
        cohort.sibling_group[:] = group
    cohort.entry_day[:] = days
    cohort.birth_day[:] = days - age_days
    cohort.entry_band[:] = band
    cohort.cin[:] = _pick(u[:, COL_CIN], cin_shares) if n else 0
    cohort.uasc[:] = uasc
    cohort.offered[:] = offered
    cohort.male[:] = _male(entries.male_shares(uasc, remand), band, u[:, COL_SEX])
    journeys = scenario.journeys_for(uasc, remand)
    for band_index, band_name in enumerate(AGE_BANDS):
        rows = np.flatnonzero(band == band_index)
        if len(rows):
            changes = flow.journey_changes(band_name)
            _draw_new_journeys(scenario, journeys[band_name], cohort, rows, u[rows], changes)
    _draw_leaving_care(scenario, cohort, u)
    _draw_tiers(scenario, cohort, seed, replication, complexity)
    return cohort


def _draw_tiers(
    scenario: Scenario, cohort: Cohort, seed: int, replication: int, name: str, allowed: np.ndarray | None = None
) -> None:
    """Each child's complexity tier from its own named stream (one uniform a child, in the part's order), by
    its band at entry, category of need and first need; nothing is drawn without [complexity]."""
    if scenario.complexity is None or not cohort.size:
        return
    uniforms = stream(seed, replication, name).random(cohort.size)
    probabilities = tier_probabilities(
        scenario.complexity, cohort.entry_band, cohort.cin, cohort.seg_need[:, 0], allowed
    )
    cohort.tier[:] = draw_tiers(probabilities, uniforms)


def _draw_new_journeys(
    scenario: Scenario,
    journey: Journey,
    cohort: Cohort,
    rows: np.ndarray,
    u: np.ndarray,
    changes: tuple[EntryChange, ...] = (),
) -> None:
    """Route, time in care and first need of entrants, with the dated changes in force on their entry day."""
    shares = np.array([journey.exit_routes.get(route, 0.0) for route in EXIT_ROUTES])
    route = _pick(u[:, COL_ROUTE], shares)
    entry_day = cohort.entry_day[rows]
    to_18 = cohort.birth_day[rows] + AGE_18_DAYS - entry_day
    duration = np.full(len(rows), np.inf)
    for name, dist in journey.duration.items():
        chosen = route == ROUTE_INDEX[name]
        if chosen.any():
            duration[chosen] = dist.sample(u[chosen, COL_DURATION])
    first_shares = [journey.first_need]
    first_from = np.zeros(len(rows), dtype=np.int64)  # index into first_shares of the shares in force
    for change in changes:
        in_force = entry_day >= horizon_day(scenario, change.date)
        if change.stay_multiplier is not None:
            duration = np.where(in_force, duration * change.stay_multiplier, duration)
        if change.first_need is not None:
            first_shares.append(change.first_need)
            first_from[in_force] = len(first_shares) - 1
    first_need = np.zeros(len(rows), dtype=np.int64)
    for index, need_shares in enumerate(first_shares):
        chosen = first_from == index
        if chosen.any():
            shares = np.array([need_shares.get(n, 0.0) for n in PLACEMENT_NEEDS])
            first_need[chosen] = _pick(u[chosen, COL_FIRST_NEED], shares)
    _finish_journeys(scenario, journey, cohort, rows, u, route, duration, to_18, first_need, entry_day)


# ---------------------------------------------------------------------------------------------
# Children in care on the start date


def _starting_children(scenario: Scenario, seed: int, replication: int, pool_names: list[str]) -> Cohort:
    population = scenario.start_population
    ages, needs, pools, elapsed = [], [], [], []
    generator = stream(seed, replication, "start_population")
    for group in population.groups:
        low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(group.age_band)]
        ages.append((low + generator.random(group.count) * (high - low)) * DAYS_PER_YEAR)
        needs += [NEED_INDEX[group.need]] * group.count
        pools += [pool_names.index(group.pool)] * group.count
        elapsed.append(np.full(group.count, group.days_in_care))
    for child in population.children:
        ages.append(np.array([child.age_years * DAYS_PER_YEAR]))
        needs.append(NEED_INDEX[child.need])
        pools.append(pool_names.index(child.pool))
        elapsed.append(np.array([child.days_in_care]))
    n = len(needs)
    u = child_uniforms(generator, n, WIDTH)
    cohort = _blank(n, u)
    if n == 0:
        return cohort
    age_days = np.concatenate(ages)
    elapsed_days = np.minimum(np.concatenate(elapsed), age_days)
    need = np.array(needs, dtype=np.int64)
    cohort.birth_day[:] = -age_days
    cohort.entry_band[:] = [age_band_index(a / DAYS_PER_YEAR) for a in age_days - elapsed_days]
    cohort.cin[:] = NO_CIN
    cohort.starting[:] = True
    cohort.start_pool[:] = pools
    now_band = np.array([age_band_index(a / DAYS_PER_YEAR) for a in age_days], dtype=np.int64)
    cohort.male[:] = _male(scenario.entries.male_shares(uasc=False), now_band, u[:, COL_SEX])
    # A child on remand on the start date continues the remand stream's journey (a short stay, then out of care),
    # not the main band's (the stay of care); without entries.remand journeys for its band, the main one.
    remand_journeys = scenario.entries.remand.journeys or {}
    on_remand = need == NEED_INDEX["remand"]
    for band_index, band_name in enumerate(AGE_BANDS):
        in_band = cohort.entry_band == band_index
        own = remand_journeys.get(band_name)
        remanded = in_band & on_remand if own is not None else np.zeros_like(in_band)
        for journey, chosen in ((scenario.journeys[band_name], in_band & ~remanded), (own, remanded)):
            rows = np.flatnonzero(chosen)
            if len(rows):
                _draw_continuing_journeys(scenario, journey, cohort, rows, u[rows], need[rows], elapsed_days[rows])
    _draw_leaving_care(scenario, cohort, u)
    _draw_tiers(scenario, cohort, seed, replication, "start_complexity", _tiers_taken(scenario, pools, pool_names))
    if population.uasc:
        _flag_uasc_at_start(population.uasc, cohort, age_days, stream(seed, replication, "start_uasc"))
        uasc = cohort.uasc
        cohort.male[uasc] = _male(scenario.entries.male_shares(uasc=True), now_band[uasc], u[uasc, COL_SEX])
    return cohort


def _male(shares: tuple[float, ...], band: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Male with the share of each child's band (AGE_BANDS), from the child's own COL_SEX uniform: the draw takes no
    number from any other, so a share changes the sexes and nothing else. Starting children's band is their age on
    the start date (the stock's share, as published); an entrant's is its band at entry."""
    return uniforms < np.asarray(shares)[band]


def _flag_uasc_at_start(count: int, cohort: Cohort, age_days: np.ndarray, generator: np.random.Generator) -> None:
    """Flag `count` of the starting children aged 16 or 17, chosen at random, as asylum-seeking children."""
    older = np.flatnonzero(age_days >= AGE_BAND_BOUNDS_YEARS[-1][0] * DAYS_PER_YEAR)
    cohort.uasc[generator.choice(older, size=count, replace=False)] = True


def _tiers_taken(scenario: Scenario, pools: list[int], pool_names: list[str]) -> np.ndarray | None:
    """(children, tiers): the tiers each starting child's pool takes (its tier is drawn among them)."""
    if scenario.complexity is None:
        return None
    tiers = scenario.complexity.tiers
    takes = np.array([[scenario.pools[name].takes_tier(tier) for tier in tiers] for name in pool_names])
    return takes[np.array(pools, dtype=np.int64)]


def _draw_continuing_journeys(
    scenario: Scenario,
    journey: Journey,
    cohort: Cohort,
    rows: np.ndarray,
    u: np.ndarray,
    need: np.ndarray,
    elapsed: np.ndarray,
) -> None:
    """Route and remaining time of children who have already been in care `elapsed` days.

    The route is weighted by the chance of a stay on it lasting that long (a child long in care
    is more likely heading for 18 than home), and the remaining time is drawn from the tail.
    """
    adoption_first = NEED_INDEX[scenario.adoption.first_need]
    placed_for_adoption = NEED_INDEX["placed_for_adoption"]
    weights = np.zeros((len(rows), len(EXIT_ROUTES)))
    for route, share in journey.exit_routes.items():
        index = ROUTE_INDEX[route]
        survival = 1.0 if route == "age_18" else journey.duration[route].survival(elapsed)
        weights[:, index] = share * survival
    weights[need != adoption_first, ROUTE_INDEX["adoption"]] = 0.0
    weights[need == placed_for_adoption] = 0.0
    weights[need == placed_for_adoption, ROUTE_INDEX["adoption"]] = 1.0
    empty = weights.sum(axis=1) <= 0
    weights[empty, ROUTE_INDEX["age_18"]] = 1.0
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    route = np.minimum((u[:, [COL_ROUTE]] >= cumulative).sum(axis=1), len(EXIT_ROUTES) - 1)
    duration = np.full(len(rows), np.inf)
    for name, dist in journey.duration.items():
        chosen = route == ROUTE_INDEX[name]
        if chosen.any():
            duration[chosen] = dist.sample_given_survived(u[chosen, COL_DURATION], elapsed[chosen])
    already_placed = need == placed_for_adoption
    if already_placed.any():
        duration[already_placed] = scenario.adoption.time_to_order.sample(u[already_placed, COL_ORDER])
    to_18 = cohort.birth_day[rows] + AGE_18_DAYS
    _finish_journeys(scenario, journey, cohort, rows, u, route, duration, to_18, need, np.zeros(len(rows)))


# ---------------------------------------------------------------------------------------------
# Young people Staying Put on the start date


def _staying_put_at_start(scenario: Scenario, seed: int, replication: int, pool_names: list[str]) -> Cohort:
    """Young people who left care at 18 before the start and stay with their carers: an age drawn uniformly
    from 18 to `until_age` and the days left, until `until_age` or from the tail of `duration` given the time
    since 18.

    A bounded `duration` (uniform, fixed) shorter than that caps the time since 18 too: nobody can still be
    staying after the longest stay it allows. From a stream of their own, so a scenario without them draws
    every other number as before.
    """
    groups = scenario.start_population.staying_put
    pools = np.repeat(np.array([pool_names.index(g.pool) for g in groups], dtype=np.int64), [g.count for g in groups])
    u = child_uniforms(stream(seed, replication, "staying_put_at_start"), len(pools), WIDTH)
    cohort = _blank(len(pools), u)
    staying_put = scenario.leaving_care.staying_put
    longest = (staying_put.until_age - LEAVING_CARE_AGE_YEARS) * DAYS_PER_YEAR
    since_18 = u[:, COL_AGE] * min(longest, _longest_stay(staying_put.duration))
    days_left = longest - since_18
    if staying_put.duration is not None:
        tail = staying_put.duration.sample_given_survived(u[:, COL_STAYING_PUT_DAYS], since_18)
        days_left = np.minimum(tail, days_left)
    cohort.birth_day[:] = -(AGE_18_DAYS + since_18)
    cohort.cin[:] = NO_CIN
    cohort.staying_put_at_start[:] = True
    cohort.start_pool[:] = pools
    cohort.route[:] = ROUTE_INDEX["age_18"]  # they left care at 18, before the start
    cohort.staying_put[:] = True
    cohort.staying_put_days[:] = days_left
    return cohort


# ---------------------------------------------------------------------------------------------
# Shared journey construction


def _finish_journeys(
    scenario: Scenario,
    journey: Journey,
    cohort: Cohort,
    rows: np.ndarray,
    u: np.ndarray,
    route: np.ndarray,
    duration: np.ndarray,
    to_18: np.ndarray,
    first_need: np.ndarray,
    segment_start: np.ndarray,
) -> None:
    """Cap at the 18th birthday, lay out the need segments and store them in the cohort."""
    # Children with an adoption plan wait in the adoption first need without planned moves, even when
    # the wait outlasts childhood (they then leave at 18 instead of being adopted).
    adoption = route == ROUTE_INDEX["adoption"]
    route = np.where(duration >= to_18, ROUTE_INDEX["age_18"], route)
    exit_day = segment_start + np.minimum(duration, to_18)
    first_need = np.where(
        adoption & (first_need != NEED_INDEX["placed_for_adoption"]),
        NEED_INDEX[scenario.adoption.first_need],
        first_need,
    )
    seg_need = np.full((len(rows), MAX_SEGMENTS), -1, dtype=np.int64)
    seg_end = np.full((len(rows), MAX_SEGMENTS), np.nan)
    seg_need[:, 0] = first_need
    seg_end[:, 0] = exit_day
    n_segments = np.ones(len(rows), dtype=np.int64)
    current_start = segment_start.astype(float).copy()
    birth = cohort.birth_day[rows]
    for k in range(MAX_SEGMENTS - 1):
        move_time = np.full(len(rows), np.inf)
        move_to = np.full(len(rows), -1, dtype=np.int64)
        pick = u[:, COL_MOVE_PICK + k]
        lower = np.zeros(len(rows))
        active = (n_segments == k + 1) & ~adoption
        current = seg_need[np.arange(len(rows)), k]
        for move in journey.moves:
            chosen = active & (current == NEED_INDEX[move.from_need])
            chosen &= (pick >= lower) & (pick < lower + move.probability)
            lower = np.where(current == NEED_INDEX[move.from_need], lower + move.probability, lower)
            if not chosen.any():
                continue
            if move.after_days is not None:
                when = current_start[chosen] + move.after_days.sample(u[chosen, COL_MOVE_TIME + k])
            else:
                when = birth[chosen] + move.at_age * DAYS_PER_YEAR
                when = np.where(when > current_start[chosen], when, np.inf)
            move_time[chosen] = when
            move_to[chosen] = NEED_INDEX[move.to_need]
        moving = move_time < exit_day
        if not moving.any():
            break
        seg_end[moving, k] = move_time[moving]
        seg_need[moving, k + 1] = move_to[moving]
        seg_end[moving, k + 1] = exit_day[moving]
        n_segments[moving] += 1
        current_start[moving] = move_time[moving]
    cohort.route[rows] = route
    cohort.seg_need[rows] = seg_need
    cohort.seg_end[rows] = seg_end
    cohort.n_segments[rows] = n_segments
    cohort.order_days[rows] = (
        scenario.adoption.time_to_order.sample(u[:, COL_ORDER]) if scenario.adoption.time_to_order else np.inf
    )


def _draw_leaving_care(scenario: Scenario, cohort: Cohort, u: np.ndarray) -> None:
    staying_put = scenario.leaving_care.staying_put
    staying_close = scenario.leaving_care.staying_close
    cohort.step_back_willing[:] = u[:, COL_STEP_BACK] < scenario.step_back.probability
    cohort.staying_put[:] = u[:, COL_STAYING_PUT] < staying_put.probability
    cohort.staying_put_days[:] = _post_18_days(staying_put.until_age, staying_put.duration, u[:, COL_STAYING_PUT_DAYS])
    cohort.staying_close[:] = u[:, COL_STAYING_CLOSE] < staying_close.probability
    cohort.staying_close_days[:] = _post_18_days(
        staying_close.until_age, staying_close.duration, u[:, COL_STAYING_CLOSE_DAYS]
    )


def _longest_stay(duration: Distribution | None) -> float:
    """The longest stay a duration allows (infinite without one, or for an unbounded distribution)."""
    if duration is None:
        return math.inf
    with np.errstate(divide="ignore"):
        return float(duration.quantile(np.array(1.0)))


def _post_18_days(until_age: float, duration, uniforms: np.ndarray) -> np.ndarray:
    longest = (until_age - LEAVING_CARE_AGE_YEARS) * DAYS_PER_YEAR
    if duration is None:
        return np.full(len(uniforms), longest)
    return np.minimum(duration.sample(uniforms), longest)


# ---------------------------------------------------------------------------------------------
# Array helpers


def _pick(uniforms: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Index chosen by each uniform from a probability vector (inverse transform)."""
    cumulative = np.cumsum(shares / shares.sum())
    return np.minimum(np.searchsorted(cumulative, uniforms, side="right"), len(shares) - 1)


def _blank(n: int, u: np.ndarray) -> Cohort:
    return Cohort(
        entry_day=np.zeros(n),
        birth_day=np.zeros(n),
        entry_band=np.zeros(n, dtype=np.int64),
        cin=np.zeros(n, dtype=np.int64),
        uasc=np.zeros(n, dtype=bool),
        male=np.zeros(n, dtype=bool),
        starting=np.zeros(n, dtype=bool),
        staying_put_at_start=np.zeros(n, dtype=bool),
        start_pool=np.full(n, -1, dtype=np.int64),
        route=np.zeros(n, dtype=np.int64),
        n_segments=np.zeros(n, dtype=np.int64),
        seg_need=np.full((n, MAX_SEGMENTS), -1, dtype=np.int64),
        seg_end=np.full((n, MAX_SEGMENTS), np.nan),
        order_days=np.full(n, np.inf),
        step_back_willing=np.zeros(n, dtype=bool),
        staying_put=np.zeros(n, dtype=bool),
        staying_put_days=np.zeros(n),
        staying_close=np.zeros(n, dtype=bool),
        staying_close_days=np.zeros(n),
        locality=u[:, COL_LOCALITY : COL_LOCALITY + PLACEMENT_DRAWS].copy(),
        price=u[:, COL_PRICE : COL_PRICE + PLACEMENT_DRAWS].copy(),
        tier=np.zeros(n, dtype=np.int8),
        sibling_group=np.full(n, -1, dtype=np.int64),
        offered=np.zeros(n, dtype=bool),
        absent=np.zeros(n, dtype=bool),
    )


def _merge(parts: list[Cohort], order: np.ndarray) -> Cohort:
    """The parts concatenated, then reordered; a field at a time, each part's field let go once merged.

    An England-sized cohort is about 130 MB: holding the parts, their concatenation and the
    reordered copy at once tripled a worker's peak memory.
    """
    fields = {}
    for name in Cohort.__dataclass_fields__:
        fields[name] = np.concatenate([getattr(part, name) for part in parts])[order]
        for part in parts:
            setattr(part, name, None)
    return Cohort(**fields)


def horizon_day(scenario: Scenario, day: dt.date) -> float:
    """Days from the horizon start to 00:00 on `day`."""
    return float((day - scenario.horizon.start).days)
