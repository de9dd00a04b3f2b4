"""Supply: the SimPy model deciding where each segment of a child's journey is spent.

Each child's journey, drawn in advance in `sim.engine.demand`, is replayed by SimPy timeouts whose
callbacks move the child on: its arrival, the end of each need segment, adopters found or not,
the end of Staying Put. Capacity changes and adopter approvals are SimPy processes (see
docs/decisions/0003-journeys-as-timeout-callbacks.md for why children are not).

At the start of every segment the matching policy offers the child the pools for its placement
need in order of preference; the first with a free place (and that takes the child's age and
complexity tier) is used. A pool with `availability` below 1 is found only by that share of searches, and an
emergency placement bridges to a new search after its `bridging_days`. A child not placed in its
first choice is a sufficiency gap, recorded on the placement. Capacity moves over time: dated
openings and closures, foster-carer recruitment and deregistration, and young people Staying
Put, who keep their carer's place after leaving care at 18. In-house fostering pools are households one by
one (`sim.engine.households`): a child needs a household with a free place whose approved ages take it, and a
sibling group one household with room for all. Authorities sharing a regional pool
run in one event loop (`simulate_linked`), their pools so named counting the same places. With
[breakdowns], each in-care placement may end unplanned (an exponential clock at its hazard) and the
child is placed by a new search for the same need; its journey is unchanged.

Nothing here uses pandas or formats strings: records are appended to plain lists and turned
into arrays once the replication ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.engine.demand import AGE_18_DAYS, NEED_INDEX, PLACEMENT_DRAWS, ROUTE_INDEX, Cohort, draw_cohort, horizon_day
from sim.engine.households import NO_HOUSEHOLD, FosterHouseholds, starting_households
from sim.engine.scenario import FOSTER_CARE, Pool, Scenario
from sim.engine.streams import pool_stream, stream
from sim.engine.vocabulary import DAYS_PER_YEAR, PLACEMENT_NEEDS

# Placement kinds: in care, or a post-18 arrangement holding a place.
IN_CARE, STAYING_PUT, STAYING_CLOSE = 0, 1, 2
ADOPTION = ROUTE_INDEX["adoption"]
AGE_18 = ROUTE_INDEX["age_18"]
PLACED_FOR_ADOPTION = NEED_INDEX["placed_for_adoption"]
NO_POOL = -1
DRAWS_PER_BLOCK = 256  # availability and bridging draws are made in blocks and read one at a time


def events_scheduled(env: simpy.Environment) -> int:
    """Events the environment has scheduled so far (SimPy numbers each scheduled event from 0).

    Read from the counter SimPy keeps anyway: counting in an overridden `schedule` cost a fifth of
    the event loop.
    """
    return next(env._eid)


class PoolState:
    """Places in one pool during a replication. Unlimited pools have infinite capacity.

    `capacity` is the places matching can use (the usable places, floor(approved x usable_share)); `held_back`
    the approved places beyond them, so `capacity + held_back` are the approved places open now (both change
    together when places open or close, see `CareSystem._change_approved`). A fostering pool's `carers` hold its
    households, and its counters follow them (`CareSystem._refresh_places`; its places closing when vacated are
    `carers.excess`, not `pending_closures`).
    """

    __slots__ = (
        "approved",
        "availability",
        "bridging",
        "capacity",
        "carers",
        "held_back",
        "index",
        "max_age_days",
        "min_age_days",
        "occupied",
        "pending_closures",
        "tiers",
        "waiting",
        "within_20_miles",
    )

    def __init__(self, index: int, capacity: float, pool: Pool):
        """`capacity`: the approved places on the start date (inf for an unlimited pool)."""
        self.index = index
        self.capacity = pool.usable(capacity)
        self.occupied = 0
        self._describe(pool, capacity)

    def _describe(self, pool: Pool, approved: float) -> None:
        """What the pool's scenario entry says of it, beside its places; `approved` its approved places."""
        self.approved = approved  # by the plan and the households' changes (places closing when vacated too)
        self.held_back = approved - pool.usable(approved) if math.isfinite(approved) else 0.0
        self.pending_closures = 0  # places to close as soon as they are vacated
        self.min_age_days = pool.min_age * DAYS_PER_YEAR
        self.max_age_days = pool.max_age * DAYS_PER_YEAR
        self.within_20_miles = pool.within_20_miles
        self.availability = pool.availability  # chance a search finds a free place here
        self.bridging: Iterator[float] | None = None  # emergency pools: the days each placement bridges
        self.waiting: dict[int, int] = {}  # child -> need, children who would step back into this pool
        self.tiers: frozenset[int] | None = None  # the complexity tiers (indices) the pool takes; None: all
        self.carers: FosterHouseholds | None = None  # in-house fostering households, one by one; None: a counter


class SharedPlaces:
    """The places of a regional pool, counted once for every authority sharing it."""

    __slots__ = ("capacity", "occupied")

    def __init__(self, capacity: float):
        self.capacity = capacity
        self.occupied = 0


class SharedPoolState(PoolState):
    """One authority's view of a shared pool: its own ages, locality and draws, the region's places.

    Only pools shared in a linked run pay for the indirection: every other pool stays a plain PoolState.
    """

    __slots__ = ("places",)

    def __init__(self, index: int, places: SharedPlaces, pool: Pool):
        self.index = index
        self.places = places
        self._describe(pool, float(pool.capacity))

    @property
    def capacity(self) -> float:
        return self.places.capacity

    @property
    def occupied(self) -> int:
        return self.places.occupied

    @occupied.setter
    def occupied(self, value: int) -> None:
        self.places.occupied = value


@dataclass
class ReplicationRecord:
    """Raw results of one replication: arrays only, small to pickle between processes."""

    replication: int
    cohort: Cohort
    exit_day: np.ndarray  # per child; NaN if still in care at the horizon end (or Staying Put from the start)
    exit_route: np.ndarray  # per child; -1 if still in care (or Staying Put from the start)
    placements: np.ndarray  # (n, 9) float: see PlacementColumn; `draw` indexes the child's per-placement draws
    capacity: np.ndarray  # (n, 3) float, see LogColumn: usable places after the change (inf for unlimited)
    households: np.ndarray  # (n, 3) float, see LogColumn: in-house fostering households after the change
    events: int
    # (n, 3) float, see LogColumn: approved places after the change, a row for each row of `capacity` (same day
    # and pool); equal to `capacity` where the pool's usable_share is 1
    approved: np.ndarray
    # int64 row indices into `placements` of the placements that broke down (ended unplanned, [breakdowns]), in
    # the order they broke down; each is followed at its end by the child's next placement, of the same need.
    # Empty without [breakdowns].
    breakdowns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # int64 row indices into `placements` of the first placements of sibling-group members placed apart: placed
    # on arrival in another pool (or, in a fostering pool, another household) than the group's first member,
    # because no pool had room for them all ([entries.sibling_groups]). Empty without sibling groups.
    placed_apart: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # (n, 3) float: day, child and direction (+1 taken in, -1 transferred out) of each National Transfer Scheme
    # transfer (entries.uasc.national_transfer_scheme); such a child transferred out never enters care
    # (cohort.absent), nor does an offered child not taken. Empty without the scheme.
    transfers: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


PLACEMENT_COLUMNS = ("child", "pool", "need", "wanted", "start", "end", "kind", "within_20_miles", "draw")
LOG_COLUMNS = ("day", "pool", "value")


class PlacementColumn:
    """Where each of PLACEMENT_COLUMNS sits in a placement row: read the record by these names.

    Plain ints: an IntEnum would miss CPython's fast path for list indexing. CareSystem's event
    loop alone builds and touches rows by position (commented with the column's name): a name
    there is a global lookup on every access, about 1.3 accesses an event. tests/test_engine.py
    checks those positions against these names.
    """

    CHILD, POOL, NEED, WANTED, START, END, KIND, WITHIN_20_MILES, DRAW = range(len(PLACEMENT_COLUMNS))


class LogColumn:
    """Where each of LOG_COLUMNS sits in a row of the capacity or household log.

    A row is a change: its day, the pool, and the pool's places (capacity log) or in-house
    fostering households (household log) from that day on.
    """

    DAY, POOL, VALUE = range(len(LOG_COLUMNS))


class CareSystem:
    """One replication: the pools, the matching policy and the children moving through them."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        replication: int,
        env: simpy.Environment | None = None,
        shared: dict[str, SharedPlaces] | None = None,
        cohort: Cohort | None = None,
    ):
        """`env` and `shared` link this authority to others in one event loop (`simulate_linked`): its pools
        `shared` under a name in `shared` count those places. `cohort`: this replication's children, drawn for a
        scenario of the same `cohort_key` (replayed as a fresh copy); None draws them."""
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.env = env if env is not None else simpy.Environment()
        self.horizon = scenario.horizon.days
        self.pool_names = list(scenario.pools)
        self.pools = [_pool_state(i, p, shared or {}) for i, p in enumerate(scenario.pools.values())]
        self._searching_pools()
        pool_index = {name: i for i, name in enumerate(self.pool_names)}
        self.options = [[] for _ in PLACEMENT_NEEDS]
        self.preferred = [[] for _ in PLACEMENT_NEEDS]
        for need, matching in scenario.matching.items():
            self.options[NEED_INDEX[need]] = [pool_index[name] for name in matching.options]
            self.preferred[NEED_INDEX[need]] = [pool_index[name] for name in matching.pools]
        # pool -> the need recorded for young people Staying Put there from the start (foster care)
        self.staying_put_pools = {
            pool_index[name]: _foster_care_need(scenario.pools[name]) for name in scenario.staying_put_pools()
        }
        self.residential_pools = {i for i, p in enumerate(scenario.pools.values()) if "residential" in p.serves}
        close_pool = scenario.leaving_care.staying_close.pool
        self.staying_close_pool = pool_index[close_pool] if close_pool else NO_POOL
        self.step_back = scenario.step_back
        # Pools children do not wait for: found only by searching (availability below 1, shared places)
        self.unwaited = frozenset(i for i, p in enumerate(scenario.pools.values()) if p.found_by_searching)
        self.cohort = draw_cohort(scenario, seed, replication, self.pool_names) if cohort is None else replayed(cohort)
        self.tier: list[int] = self.cohort.tier.tolist()
        self._tiered_pools()
        n = self.cohort.size
        # The event loop reads one child at a time: Python lists index several times faster than arrays.
        # Segments are read once each, with `item` (a Python scalar): as lists of lists they took
        # 130 MB a worker at England scale.
        self.birth_day: list[float] = self.cohort.birth_day.tolist()
        self.segment_need: Callable[[int, int], int] = self.cohort.seg_need.item
        self.segment_end: Callable[[int, int], float] = self.cohort.seg_end.item
        self.n_segments: list[int] = self.cohort.n_segments.tolist()
        self.route: list[int] = self.cohort.route.tolist()
        self.current = [-1] * n  # child -> index of its open placement record
        self.placement_count = [0] * n
        self.exit_day = [math.nan] * n
        self.exit_route = [-1] * n
        self.placements: list[list[float]] = []
        self.capacity_log: list[tuple[float, int, float]] = [(0.0, p.index, p.capacity) for p in self.pools]
        self.approved_log: list[tuple[float, int, float]] = [
            (0.0, p.index, p.capacity + p.held_back) for p in self.pools
        ]
        self.household_log: list[tuple[float, int, float]] = []
        self.household_of = [NO_HOUSEHOLD] * n  # child -> the household of its open placement (household pools)
        self._foster_households()
        self.entry_day: list[float] = self.cohort.entry_day.tolist()
        self.arriving: Iterator[int] = iter(np.flatnonzero(self.cohort.entrants).tolist())  # in order of entry
        self.segment = [0] * n  # child -> index of its current need segment
        self.adopters_waiting = scenario.adoption.adopters_waiting_at_start
        self.adopter_queue: dict[int, None] = {}  # children waiting for adopters, first come first served
        self.broken: list[int] = []  # placement rows that broke down
        self._breaking_placements()
        self.apart: list[int] = []  # placement rows of sibling-group members placed apart
        self._sibling_groups()
        self.transfers: list[tuple[float, int, int]] = []  # (day, child, +1 taken in / -1 transferred out)
        self._transfer_scheme()

    # -- running ------------------------------------------------------------------------------

    def run(self) -> ReplicationRecord:
        with _collector_paused():  # start() and record() too: the collector ran in them, 6-7% of a replication
            self.start()
            self.env.run(until=self.horizon)
            record = self.record()
        _discard_pending_events(self.env)
        return record

    def start(self) -> None:
        """Seat the people in care or Staying Put on the start date and schedule everything that follows."""
        env = self.env
        cohort = self.cohort
        # Young people Staying Put first: a starting child stepping back must not take the place they hold.
        for young_person in np.flatnonzero(cohort.staying_put_at_start).tolist():
            self._stay_put_from_start(young_person)
        starting = np.flatnonzero(cohort.starting).tolist()
        for child in starting:
            need, pool = self.segment_need(child, 0), int(cohort.start_pool[child])
            wanted = self._first_choice(child, need)
            self._open(child, need, pool, wanted, IN_CARE)
            self._offer_step_back(child, need, pool, wanted)
            self._bridge(child, pool)
        for child in starting:  # the children in care at the start wait for their first segment to end
            self._await_segment_end(child, 0)
        self._schedule_next_arrival()
        env.process(self._capacity_changes(self._capacity_timeline()))
        if self.scenario.adoption.adopter_approvals_per_year != "unlimited":
            env.process(self._adopter_approvals())

    def _after(self, delay: float, callback: Callable[[simpy.Event], None], child: int) -> None:
        """Call `callback` in `delay` days with an event whose value is the child."""
        simpy.Timeout(self.env, delay, child).callbacks.append(callback)

    def _schedule_next_arrival(self) -> None:
        """Only the next arrival waits in the event queue: a queue of every entry would slow each event."""
        child = next(self.arriving, None)
        if child is not None:
            self._after(self.entry_day[child] - self.env.now, self._arrives, child)

    def _arrives(self, event: simpy.Event) -> None:
        child = event.value
        self._schedule_next_arrival()
        self._place(child, self.segment_need(child, 0))
        self._await_segment_end(child, 0)

    def _await_segment_end(self, child: int, segment: int) -> None:
        self.segment[child] = segment
        self._after(self.segment_end(child, segment) - self.env.now, self._segment_ends, child)

    def _segment_ends(self, event: simpy.Event) -> None:
        """Move the child into its next need segment, or end its journey after the last one."""
        child = event.value
        segment = self.segment[child] + 1
        if segment < self.n_segments[child]:
            self._close(child)
            self._place(child, self.segment_need(child, segment))
            self._await_segment_end(child, segment)
        elif self.route[child] == ADOPTION and self.segment_need(child, 0) != PLACED_FOR_ADOPTION:
            self._await_adopters(child)
        else:
            self._leave_care(child, self.route[child])

    def _await_adopters(self, child: int) -> None:
        """Wait in the current placement for an approved adopter, leaving care at 18 if none comes."""
        if self.adopters_waiting > 0:
            self.adopters_waiting -= 1
        elif self.scenario.adoption.adopter_approvals_per_year != "unlimited":
            self.adopter_queue[child] = None
            birthday_18 = self.birth_day[child] + AGE_18_DAYS
            self._after(birthday_18 - self.env.now, self._adopters_not_found, child)
            return
        self._placed_for_adoption(child)

    def _adopters_not_found(self, event: simpy.Event) -> None:
        child = event.value
        if child in self.adopter_queue:
            del self.adopter_queue[child]
            self._leave_care(child, AGE_18)

    def _placed_for_adoption(self, child: int) -> None:
        """Move to the adopters, then leave care at the adoption order (or at 18, whichever is first)."""
        self._close(child)
        self._place(child, PLACED_FOR_ADOPTION)
        birthday_18 = self.birth_day[child] + AGE_18_DAYS
        self._after(min(self.cohort.order_days[child], birthday_18 - self.env.now), self._adoption_order, child)

    def _adoption_order(self, event: simpy.Event) -> None:
        child = event.value
        self._leave_care(child, ADOPTION if self.env.now < self.birth_day[child] + AGE_18_DAYS else AGE_18)

    def _adopter_approvals(self):
        env = self.env
        rate = self.scenario.adoption.adopter_approvals_per_year / DAYS_PER_YEAR
        if rate <= 0:
            return
        generator = stream(self.seed, self.replication, "adopters")
        while True:
            yield env.timeout(generator.exponential(1.0 / rate))
            if self.adopter_queue:
                child = next(iter(self.adopter_queue))
                del self.adopter_queue[child]
                self._placed_for_adoption(child)
            else:
                self.adopters_waiting += 1

    # -- placing children ---------------------------------------------------------------------

    def _place(self, child: int, need: int) -> None:
        """Offer the child the pools for `need` in order: the first with a free place it is eligible for.

        The first pool taking the child's age, free or not, is the one it should have had (`wanted`).
        """
        age = self.env.now - self.birth_day[child]
        wanted = NO_POOL
        for index in self.options[need]:
            pool = self.pools[index]
            if pool.min_age_days <= age < pool.max_age_days:
                if wanted == NO_POOL:
                    wanted = index
                if pool.occupied < pool.capacity and (pool.carers is None or pool.carers.best(age, age, 1) >= 0):
                    self._open(child, need, index, wanted, IN_CARE)
                    self._offer_step_back(child, need, index, wanted)
                    return
        raise AssertionError("matching lists end with an unlimited pool taking all ages")  # checked in scenario

    def _place_searching(self, child: int, need: int, unfound: tuple[int, ...] | list[int] = ()) -> None:
        """`_place` for scenarios with pools found only by some searches, emergency pools, or pools taking some
        complexity tiers only: a pool with a free place takes the child if it takes its tier and this search
        finds it (one draw of its own stream), and an emergency placement is given the day it ends. A separate
        method, so other scenarios' placements pay nothing. `unfound`: pools a sibling group's search on this
        day did not find, not found now either (a sibling placed on its own after it)."""
        age = self.env.now - self.birth_day[child]
        tier = self.tier[child]
        wanted = NO_POOL
        for index in self.options[need]:
            pool = self.pools[index]
            if pool.min_age_days <= age < pool.max_age_days and (pool.tiers is None or tier in pool.tiers):
                if wanted == NO_POOL:
                    wanted = index
                if index in unfound:
                    continue
                if (
                    pool.occupied < pool.capacity
                    and (pool.carers is None or pool.carers.best(age, age, 1) >= 0)
                    and (pool.availability >= 1.0 or self._found(index))
                ):
                    self._open_any(child, need, index, wanted)
                    return
        raise AssertionError("matching lists end with an unlimited pool taking all ages")  # checked in scenario

    def _found(self, pool_index: int) -> bool:
        """Does this search of the pool find its free place? The pool's next availability draw says."""
        return next(self.searches[pool_index]) < self.pools[pool_index].availability

    def _bridge(self, child: int, pool_index: int) -> None:
        """An emergency placement bridges: after its drawn days the child leaves it and a new search runs."""
        bridging = self.pools[pool_index].bridging
        if bridging is not None:
            placement = self.current[child]
            simpy.Timeout(self.env, next(bridging), (child, placement)).callbacks.append(self._bridge_ends)

    def _bridge_ends(self, event: simpy.Event) -> None:
        child, placement = event.value
        if self.current[child] != placement:  # moved on, stepped back or left care before the bridge ended
            return
        need = int(self.placements[placement][2])  # need
        self._close(child)
        self._place(child, need)

    def _searching_pools(self) -> None:
        """Draws for pools found only by some searches, and for emergency pools: each pool's own stream, in
        blocks, read in the order the searches and placements come. Other scenarios make none."""
        self.searches: dict[int, Iterator[float]] = {}
        for index, (name, pool) in enumerate(self.scenario.pools.items()):
            if pool.availability < 1.0:
                generator = pool_stream(self.seed, self.replication, "availability", name)
                self.searches[index] = _drawn(lambda g=generator: g.random(DRAWS_PER_BLOCK))
            if pool.bridging_days is not None:
                generator = pool_stream(self.seed, self.replication, "bridging", name)
                days = pool.bridging_days
                self.pools[index].bridging = _drawn(lambda g=generator, d=days: d.sample(g.random(DRAWS_PER_BLOCK)))
        if self.searches or any(p.bridging is not None for p in self.pools):
            self._place = self._place_searching

    def _tiered_pools(self) -> None:
        """Pools taking some complexity tiers only: matching skips them for a child of another tier, as it skips a
        pool not taking the child's age (in `_place_searching`, so scenarios without them pay nothing)."""
        complexity = self.scenario.complexity
        for pool, settings in zip(self.pools, self.scenario.pools.values(), strict=True):
            if settings.tiers is not None and complexity is not None:
                pool.tiers = frozenset(complexity.tier_index(tier) for tier in settings.tiers)
                self._place = self._place_searching

    # -- breakdowns ---------------------------------------------------------------------------

    def _breaking_placements(self) -> None:
        """With [breakdowns], every in-care placement opened gets a breakdown clock (`_open_breaking`); other
        scenarios keep the plain `_open` and draw nothing from the breakdowns stream."""
        breakdowns = self.scenario.breakdowns
        if breakdowns is None:
            return
        # pool -> need -> hazard per day, read once a placement opens
        self.hazard = [[breakdowns.per_day(pool, need) for need in PLACEMENT_NEEDS] for pool in self.pool_names]
        generator = stream(self.seed, self.replication, "breakdowns")
        self.breakdown_draws = _drawn(lambda: generator.random(DRAWS_PER_BLOCK))
        self._open = self._open_breaking

    def _open_breaking(self, child: int, need: int, pool_index: int, wanted: int, kind: int) -> None:
        """`_open`, then the placement's breakdown clock: an exponential time at its hazard (one uniform of the
        breakdowns stream), scheduled only when it falls before the horizon end."""
        CareSystem._open(self, child, need, pool_index, wanted, kind)
        rate = self.hazard[pool_index][need]
        if kind == IN_CARE and rate > 0.0:
            delay = -math.log(1.0 - next(self.breakdown_draws)) / rate
            if self.env.now + delay < self.horizon:
                placement = self.current[child]
                simpy.Timeout(self.env, delay, (child, placement)).callbacks.append(self._breaks_down)

    def _breaks_down(self, event: simpy.Event) -> None:
        """The placement ends unplanned if the child is still in it; a new search runs for the same need."""
        child, placement = event.value
        if self.current[child] != placement:  # moved on, stepped back, bridged or left care first
            return
        self.broken.append(placement)
        need = int(self.placements[placement][2])  # need
        self._close(child)
        self._place(child, need)

    # -- the National Transfer Scheme ---------------------------------------------------------

    def _transfer_scheme(self) -> None:
        """With entries.uasc.national_transfer_scheme, every asylum-seeking child's arrival from its date goes
        through `_arrives_under_scheme`; other scenarios keep their plain arrivals."""
        scheme = self.scenario.entries.uasc.national_transfer_scheme
        if scheme is None:
            return
        cohort = self.cohort
        self.scheme_from = horizon_day(self.scenario, scheme.from_date)
        self.uasc_threshold = scheme.threshold
        self.uasc: list[bool] = cohort.uasc.tolist()
        self.offered: list[bool] = cohort.offered.tolist()
        self.uasc_in_care_list: list[int] = np.flatnonzero(cohort.uasc & cohort.starting).tolist()
        self._arrives_as_planned = self._arrives
        self._arrives = self._arrives_under_scheme

    def _arrives_under_scheme(self, event: simpy.Event) -> None:
        """An asylum-seeking child arriving while the authority is at its threshold is transferred out, and an
        offered child is taken in only below it (and only once the scheme applies); every other arrival is
        as planned. Few children are asylum-seeking, so counting those in care at each one's arrival is cheap."""
        child = event.value
        if not self.uasc[child]:
            self._arrives_as_planned(event)
            return
        now = self.env.now
        applies = now >= self.scheme_from
        full = applies and self._uasc_in_care() >= self.uasc_threshold
        offered = self.offered[child]
        if full or (offered and not applies):
            self.cohort.absent[child] = True
            if not offered:
                self.transfers.append((now, child, -1))
            self._schedule_next_arrival()
            return
        if offered:
            self.transfers.append((now, child, 1))
        self.uasc_in_care_list.append(child)
        self._arrives_as_planned(event)

    def _uasc_in_care(self) -> int:
        exit_day = self.exit_day
        self.uasc_in_care_list = [c for c in self.uasc_in_care_list if math.isnan(exit_day[c])]
        return len(self.uasc_in_care_list)

    # -- sibling groups -----------------------------------------------------------------------

    def _sibling_groups(self) -> None:
        """With [entries.sibling_groups], only a group's first member waits in the arrival queue and brings its
        siblings (same entry day) with it (`_arrives_grouped`); other scenarios keep the plain `_arrives`."""
        if self.scenario.entries.sibling_groups is None:
            return
        entrants = np.flatnonzero(self.cohort.entrants)  # in order of entry: a group's members are consecutive
        group = self.cohort.sibling_group[entrants]
        first = np.ones(len(entrants), dtype=bool)
        first[1:] = (group[1:] != group[:-1]) | (group[1:] < 0)
        starts = np.flatnonzero(first)
        self.siblings: dict[int, list[int]] = {
            int(entrants[a]): entrants[a + 1 : b].tolist()
            for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(entrants)], strict=True)
            if b - a > 1
        }
        self.arriving = iter(entrants[starts].tolist())
        self._arrives = self._arrives_grouped

    def _arrives_grouped(self, event: simpy.Event) -> None:
        """`_arrives` for a group's first member: the siblings sharing its first need are placed together
        (`_place_together`), the others on their own."""
        child = event.value
        self._schedule_next_arrival()
        siblings = self.siblings.get(child)
        need = self.segment_need(child, 0)
        if siblings is None:
            self._place(child, need)
            self._await_segment_end(child, 0)
            return
        together = [child]
        for sibling in siblings:
            if self.segment_need(sibling, 0) == need:
                together.append(sibling)
            else:
                self._place(sibling, self.segment_need(sibling, 0))
        self._place_together(together, need)
        self._await_segment_end(child, 0)
        for sibling in siblings:
            self._await_segment_end(sibling, 0)

    def _place_together(self, together: list[int], need: int) -> None:
        """Place the siblings in the first of the need's pools (the matching's `pools`, not its fallbacks) that
        takes every one's age and tier and has a free place for each (one availability draw a search, as for one
        child); in a fostering household pool, all in one household with a free place for each whose approved range
        takes every one's age. If none has, each is placed on its own over the whole matching list, and those
        placed in another pool (or another household) than the first member's are placed apart. Fallbacks are left
        out of the search together: an unlimited fallback always has room, so a group would never be placed apart,
        only in emergency beds.
        A pool the search together did not find (its availability draw) is not found by the members' own
        searches either: the same day's search of the same market, not a fresh chance for each child."""
        unfound: list[int] = []
        size = len(together)
        if size > 1:
            now = self.env.now
            ages = [now - self.birth_day[child] for child in together]
            tiers = [self.tier[child] for child in together]
            for index in self.preferred[need]:
                pool = self.pools[index]
                if (
                    pool.min_age_days <= min(ages)
                    and max(ages) < pool.max_age_days
                    and (pool.tiers is None or all(tier in pool.tiers for tier in tiers))
                    and pool.capacity - pool.occupied >= len(together)
                ):
                    household = NO_HOUSEHOLD if pool.carers is None else pool.carers.best(min(ages), max(ages), size)
                    if pool.carers is not None and household == NO_HOUSEHOLD:
                        continue  # no one household has room for them all
                    if pool.availability < 1.0 and not self._found(index):
                        unfound.append(index)
                        continue
                    for child in together:
                        wanted = self._first_choice(child, need)
                        if pool.carers is not None:
                            pool.carers.chosen = household
                        self._open_any(child, need, index, wanted)
                    return
        for child in together:
            if unfound:
                self._place_searching(child, need, unfound)
            else:
                self._place(child, need)
        first_pool = self.placements[self.current[together[0]]][1]  # pool
        first_household = self.household_of[together[0]]
        by_household = self.pools[int(first_pool)].carers is not None
        for child in together[1:]:
            pool = self.placements[self.current[child]][1]  # pool
            if pool != first_pool or (by_household and self.household_of[child] != first_household):
                self.apart.append(self.current[child])

    def _open_any(self, child: int, need: int, index: int, wanted: int) -> None:
        """Open an in-care placement found by a search, as `_place` and `_place_searching` do once they find it."""
        self._open(child, need, index, wanted, IN_CARE)
        self._offer_step_back(child, need, index, wanted)
        self._bridge(child, index)

    def _first_choice(self, child: int, need: int) -> int:
        """The first pool in the matching order that takes the child's age and tier (free or not)."""
        age = self.env.now - self.birth_day[child]
        tier = self.tier[child]
        for index in self.options[need]:
            pool = self.pools[index]
            if pool.min_age_days <= age < pool.max_age_days and (pool.tiers is None or tier in pool.tiers):
                return index
        return NO_POOL

    def _offer_step_back(self, child: int, need: int, placed_in: int, wanted: int) -> None:
        if placed_in != wanted and self.step_back.enabled and self.cohort.step_back_willing[child]:
            self._wait_for_preferred(child, need, placed_in)

    def _open(self, child: int, need: int, pool_index: int, wanted: int, kind: int) -> None:
        pool = self.pools[pool_index]
        pool.occupied += 1
        count = self.placement_count[child]
        self.placement_count[child] = count + 1
        self.current[child] = len(self.placements)
        draw = count % PLACEMENT_DRAWS
        # a row in PLACEMENT_COLUMNS order; within_20_miles is filled in from the child's draws at the end
        self.placements.append([child, pool_index, need, wanted, self.env.now, math.nan, kind, 0.0, draw])
        if pool.carers is not None:
            self._enter_household(child, pool_index)

    def _close(self, child: int) -> None:
        record = self.placements[self.current[child]]
        record[5] = self.env.now  # end
        self.current[child] = -1
        pool_index = int(record[1])  # pool
        if self.pools[pool_index].carers is not None:
            self._leave_household(child, pool_index)
        else:
            self._vacate(pool_index)

    def _vacate(self, pool_index: int) -> None:
        pool = self.pools[pool_index]
        pool.occupied -= 1
        if pool.pending_closures > 0:
            pool.pending_closures -= 1
            pool.capacity -= 1
            self._log_capacity(pool_index)
        elif pool.waiting:
            self._offer_to_waiting(pool_index)

    # -- step-back ----------------------------------------------------------------------------

    def _wait_for_preferred(self, child: int, need: int, placed_in: int) -> None:
        """Register the child with every preferred pool ranked above the one it was placed in."""
        preferred = self.preferred[need]
        for index in preferred[: preferred.index(placed_in)] if placed_in in preferred else preferred:
            if index not in self.unwaited:
                self.pools[index].waiting[child] = need
        if self.step_back.min_days > 0:
            self.env.timeout(self.step_back.min_days).callbacks.append(lambda _: self._try_step_back(child, need))
        else:
            self._try_step_back(child, need)

    def _try_step_back(self, child: int, need: int) -> None:
        for index in self.preferred[need]:
            pool = self.pools[index]
            if child not in pool.waiting or pool.occupied >= pool.capacity:
                continue
            if not self._still_waiting(child, need, index):
                del pool.waiting[child]
            elif self._can_step_back(child, need, index):
                self._step_back(child, need, index)
                return

    def _offer_to_waiting(self, pool_index: int) -> None:
        pool = self.pools[pool_index]
        for child, need in list(pool.waiting.items()):
            if pool.occupied >= pool.capacity:
                return
            if child not in pool.waiting:
                continue  # moved into another pool earlier in this loop
            if not self._still_waiting(child, need, pool_index):
                del pool.waiting[child]
            elif self._can_step_back(child, need, pool_index):
                self._step_back(child, need, pool_index)

    def _still_waiting(self, child: int, need: int, pool_index: int) -> bool:
        """The child is still in care in the same need, in a pool ranked below this one."""
        record_index = self.current[child]
        if record_index < 0:
            return False
        record = self.placements[record_index]
        if record[2] != need or record[6] != IN_CARE:  # need, kind
            return False
        preferred = self.preferred[need]
        used = int(record[1])  # pool
        return used not in preferred or preferred.index(used) > preferred.index(pool_index)

    def _can_step_back(self, child: int, need: int, pool_index: int) -> bool:
        record = self.placements[self.current[child]]
        pool = self.pools[pool_index]
        age = self.env.now - self.birth_day[child]
        settled = self.env.now - record[4] >= self.step_back.min_days  # start
        takes_tier = pool.tiers is None or self.tier[child] in pool.tiers
        has_carer = pool.carers is None or pool.carers.best(age, age, 1) >= 0
        return settled and pool.min_age_days <= age < pool.max_age_days and takes_tier and has_carer

    def _step_back(self, child: int, need: int, pool_index: int) -> None:
        wanted = int(self.placements[self.current[child]][3])  # wanted
        for pool in self.pools:
            pool.waiting.pop(child, None)
        self._close(child)
        self._open(child, need, pool_index, wanted, IN_CARE)
        self._offer_step_back(child, need, pool_index, wanted)
        self._bridge(child, pool_index)

    # -- leaving care -------------------------------------------------------------------------

    def _leave_care(self, child: int, route: int) -> None:
        env = self.env
        self.exit_day[child] = env.now
        self.exit_route[child] = route
        record = self.placements[self.current[child]]
        pool_index = int(record[1])  # pool
        cohort = self.cohort
        if route == AGE_18 and pool_index in self.staying_put_pools and cohort.staying_put[child]:
            record[5] = env.now  # end: the in-care placement ends; the young person keeps the place
            self.current[child] = len(self.placements)
            self.placements.append(  # same need and draw (record[2], record[8]) as the in-care placement
                [child, pool_index, record[2], pool_index, env.now, math.nan, STAYING_PUT, 0.0, record[8]]
            )
            self._after(cohort.staying_put_days[child], self._post_18_ends, child)
            return
        self._close(child)
        if (
            route == AGE_18
            and pool_index in self.residential_pools
            and cohort.staying_close[child]
            and self.staying_close_pool != NO_POOL
        ):
            pool = self.pools[self.staying_close_pool]
            if pool.occupied < pool.capacity:
                self._open(child, record[2], self.staying_close_pool, self.staying_close_pool, STAYING_CLOSE)  # need
                self._after(cohort.staying_close_days[child], self._post_18_ends, child)

    def _stay_put_from_start(self, young_person: int) -> None:
        """Hold the carer's place of a young person already Staying Put on the start date for their days left."""
        pool_index = int(self.cohort.start_pool[young_person])
        need = self.staying_put_pools[pool_index]
        self._open(young_person, need, pool_index, pool_index, STAYING_PUT)
        self._after(self.cohort.staying_put_days[young_person], self._post_18_ends, young_person)

    def _post_18_ends(self, event: simpy.Event) -> None:
        self._close(event.value)

    # -- capacity over time -------------------------------------------------------------------

    def _foster_households(self) -> None:
        """The households of each pool with `[pools.<name>.fostering]`, on the start date (`starting_households`)."""
        for index, pool in enumerate(self.scenario.pools.values()):
            if pool.fostering is not None:
                self.pools[index].carers = starting_households(pool.fostering, int(pool.capacity))
                self.household_log.append((0.0, index, len(self.pools[index].carers.real)))

    def _capacity_timeline(self) -> list[tuple[float, int, int, int, float]]:
        """(day, pool, change in places, change in households, the household's draw), sorted: dated changes and
        fostering supply. The draw is a recruited household's age range, or a uniform choosing the household that
        deregisters."""
        scenario = self.scenario
        events: list[tuple[float, int, int, int, float]] = []
        for index, (name, pool) in enumerate(scenario.pools.items()):
            for change in pool.capacity_changes:
                events.append((horizon_day(scenario, change.date), index, change.change, 0, 0.0))
            if pool.fostering is not None:
                events += self._fostering_events(index, name)
        events.sort(key=lambda e: e[0])
        return events

    def _fostering_events(self, index: int, name: str) -> list[tuple[float, int, int, int, float]]:
        """Approved households join after their assessment, with places and an age range drawn from the mixes
        (stream fostering_recruitment); each deregistration draws one uniform (fostering_deregistration) choosing
        which open household leaves on its day."""
        supply = self.scenario.pools[name].fostering
        sizes = np.array([int(k) for k in supply.places_per_household])
        shares = np.array(list(supply.places_per_household.values()))
        ranges = np.array([share for _, share in supply.age_ranges()])
        recruitment = stream(self.seed, self.replication, "fostering_recruitment")
        delay = supply.assessment_delay_days
        days = _poisson_days(recruitment, supply.approvals_per_year, -delay, self.horizon - delay)
        places = recruitment.choice(sizes, size=len(days), p=shares).tolist()
        age_ranges = recruitment.choice(len(ranges), size=len(days), p=ranges / ranges.sum()).tolist()
        events = [
            (day + delay, index, size, 1, float(age_range))
            for day, size, age_range in zip(days, places, age_ranges, strict=True)
        ]
        leaving = stream(self.seed, self.replication, "fostering_deregistration")
        days = _poisson_days(leaving, supply.deregistrations_per_year, 0.0, self.horizon)
        events += [(day, index, 0, -1, u) for day, u in zip(days, leaving.random(len(days)).tolist(), strict=True)]
        return [e for e in events if e[0] >= 0]

    def _capacity_changes(self, timeline: list[tuple[float, int, int, int, float]]):
        env = self.env
        for day, index, places, households, draw in timeline:
            yield env.timeout(day - env.now)
            if self.pools[index].carers is not None:
                self._households_change(index, places, households, draw)
            else:
                self._change_approved(index, places)

    def _households_change(self, index: int, places: int, households: int, draw: float) -> None:
        """A household joins (its places open) or leaves (its free places close now, the others as their children
        leave: no child is moved); a dated change opens single all-age places or closes places (`shrink`)."""
        pool = self.pools[index]
        carers = pool.carers
        if households > 0:
            carers.add(places, int(draw), real=True)
        elif households < 0:
            household = carers.leaving(draw)
            if household == NO_HOUSEHOLD:
                return  # no household left to deregister
            carers.remove(household)
        elif places > 0:
            for _ in range(places):
                carers.add(1, len(carers.ranges) - 1, real=False)  # the last range takes every age
        else:
            for _ in range(-places):
                if not carers.shrink():
                    break  # closing more places than are open closes them all, and no more
        if households:
            self.household_log.append((self.env.now, index, len(carers.real)))
        self._refresh_places(index)
        self._log_capacity(index)
        if pool.waiting:
            self._offer_to_waiting(index)

    def _refresh_places(self, index: int) -> bool:
        """A household pool's counters from its households. Its approved places are the open households' places and
        the places closing when their child leaves (`excess`: a deregistered household's, or one a closure took):
        approved until vacated, as pending closures are in other pools. Usable: floor(approved x usable_share),
        never below the children there (the rest close as they leave). True if the usable places changed."""
        pool = self.pools[index]
        carers = pool.carers
        approved = float(carers.approved + carers.excess)
        usable = self.scenario.pools[self.pool_names[index]].usable(approved)
        capacity = max(usable, float(pool.occupied))
        pool.approved = approved
        pool.held_back = approved - usable
        changed = capacity != pool.capacity
        pool.capacity = capacity
        return changed

    def _enter_household(self, child: int, pool_index: int) -> None:
        """The household of a placement opening in a household pool: the one a sibling group's search chose, else
        the best for the child's age (`FosterHouseholds.best`), else any with room (a child seated on the start
        date, a young person Staying Put or Close: placed whatever the ranges say)."""
        carers = self.pools[pool_index].carers
        household, carers.chosen = carers.chosen, NO_HOUSEHOLD
        if household == NO_HOUSEHOLD or carers.used[household] >= carers.places[household]:
            age = self.env.now - self.birth_day[child]
            household = carers.best(age, age, 1)
            if household == NO_HOUSEHOLD:
                household = carers.any_free()
        excess = carers.excess
        carers.take(household)
        self.household_of[child] = household
        if carers.excess != excess and self._refresh_places(pool_index):
            self._log_capacity(pool_index)

    def _leave_household(self, child: int, pool_index: int) -> None:
        """`_vacate` for a household pool: the child's household gets its place back, or the place closes (its
        household left, or a closure took it). The counters need refreshing only then, or when the pool holds
        more children than its usable places (`capacity` above approved - held_back)."""
        pool = self.pools[pool_index]
        carers = pool.carers
        excess = carers.excess
        carers.release(self.household_of[child])
        self.household_of[child] = NO_HOUSEHOLD
        pool.occupied -= 1
        closing = carers.excess != excess or pool.capacity != pool.approved - pool.held_back
        if closing and self._refresh_places(pool_index):
            self._log_capacity(pool_index)
        elif pool.waiting:
            self._offer_to_waiting(pool_index)

    def _change_approved(self, index: int, places: int) -> None:
        """Open (+) or close (-) approved places: the usable places move by the change in floor(approved x
        usable_share), the rest are held back. With a usable share of 1 they move by `places` exactly. Closing
        more places than are approved leaves none: the extra closures are dropped, as `_close_places` drops
        them. Pools without fostering households only (those with them: `_households_change`)."""
        pool = self.pools[index]
        settings = self.scenario.pools[self.pool_names[index]]
        usable_before = settings.usable(pool.approved)
        pool.approved = max(pool.approved + places, 0.0)
        usable = settings.usable(pool.approved)
        pool.held_back = pool.approved - usable
        change = int(usable - usable_before)
        if change > 0:
            self._open_places(index, change)
        elif change < 0:
            self._close_places(index, -change)
        else:
            self._log_capacity(index)  # the approved places changed, the usable ones did not

    def _log_capacity(self, index: int) -> None:
        """A row of the capacity (usable) and approved logs: the pool's places from now on."""
        pool = self.pools[index]
        self.capacity_log.append((self.env.now, index, pool.capacity))
        self.approved_log.append((self.env.now, index, pool.capacity + pool.held_back))

    def _open_places(self, index: int, places: int) -> None:
        pool = self.pools[index]
        cancelled = min(places, pool.pending_closures)
        pool.pending_closures -= cancelled
        pool.capacity += places - cancelled
        self._log_capacity(index)
        if pool.waiting:
            self._offer_to_waiting(index)

    def _close_places(self, index: int, places: int) -> None:
        """Close free places now; occupied ones close when their child leaves (no child is moved)."""
        pool = self.pools[index]
        free_now = min(places, int(pool.capacity) - pool.occupied)
        pool.capacity -= free_now
        pool.pending_closures += min(places - free_now, pool.occupied - pool.pending_closures)
        self._log_capacity(index)

    # -- results ------------------------------------------------------------------------------

    def record(self) -> ReplicationRecord:
        """The replication's record, once its event loop has run to the horizon end."""
        column = PlacementColumn
        placements = np.array(self.placements, dtype=float).reshape(-1, len(PLACEMENT_COLUMNS))
        end = placements[:, column.END]  # a view: writing it writes the record
        end[np.isnan(end)] = np.inf  # still open at the horizon end
        child, pool, draw = (placements[:, c].astype(np.int64) for c in (column.CHILD, column.POOL, column.DRAW))
        within_20_miles = np.array([p.within_20_miles for p in self.pools])
        placements[:, column.WITHIN_20_MILES] = self.cohort.locality[child, draw] < within_20_miles[pool]
        return ReplicationRecord(
            replication=self.replication,
            cohort=self.cohort,
            exit_day=np.array(self.exit_day, dtype=float),
            exit_route=np.array(self.exit_route, dtype=np.int64),
            placements=placements,
            capacity=np.array(self.capacity_log, dtype=float).reshape(-1, len(LOG_COLUMNS)),
            households=np.array(self.household_log, dtype=float).reshape(-1, len(LOG_COLUMNS)),
            events=events_scheduled(self.env),
            approved=np.array(self.approved_log, dtype=float).reshape(-1, len(LOG_COLUMNS)),
            breakdowns=np.array(self.broken, dtype=np.int64),
            placed_apart=np.array(self.apart, dtype=np.int64),
            transfers=np.array(self.transfers, dtype=float).reshape(-1, 3),
        )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a replication is set up, runs and is recorded.

    The loop makes no reference cycles that outlive an event (a processed timeout is freed by its
    reference count), but it allocates a container for every placement and event, so the collector
    kept re-walking every live placement record: half the event loop's time at England scale, a
    third at Cheshire East's. Reference counting still frees everything as usual; the collector
    resumes (if it was on) when the loop ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _discard_pending_events(env: simpy.Environment) -> None:
    """Drop the events still scheduled after the horizon's end.

    Their callbacks refer to the CareSystem, which refers to the environment and its queue: left
    scheduled, they make the replication (half a million placement records at England scale) cyclic
    garbage that waits for the collector's next full pass, instead of being freed on return.
    """
    env._queue.clear()


def _pool_state(index: int, pool: Pool, shared: dict[str, SharedPlaces]) -> PoolState:
    if pool.shared is not None and pool.shared in shared:
        return SharedPoolState(index, shared[pool.shared], pool)
    return PoolState(index, math.inf if pool.unlimited else float(pool.capacity), pool)


def _drawn(block: Callable[[], np.ndarray]) -> Iterator[float]:
    """Draws one at a time from blocks made as they are needed: a uniform a call would cost more."""
    return itertools.chain.from_iterable(block().tolist() for _ in itertools.count())


def _foster_care_need(pool: Pool) -> int:
    """The need of a Staying Put placement: the foster care the pool gives (fostering before kinship)."""
    return NEED_INDEX[next(need for need in FOSTER_CARE if need in pool.serves)]


def _poisson_days(generator: np.random.Generator, rate_per_year: float, start: float, end: float) -> list[float]:
    if rate_per_year <= 0 or end <= start:
        return []
    count = generator.poisson(rate_per_year * (end - start) / DAYS_PER_YEAR)
    return sorted((start + generator.random(count) * (end - start)).tolist())


def simulate_replication(
    scenario: Scenario, seed: int, replication: int, cohort: Cohort | None = None
) -> ReplicationRecord:
    """Run one replication of a scenario; `cohort` replays children drawn for a scenario of the same `cohort_key`
    (common random numbers make them the children this scenario would draw), None draws them."""
    return CareSystem(scenario, seed, replication, cohort=cohort).run()


def replayed(cohort: Cohort) -> Cohort:
    """A copy of every array of the cohort: the model writes some (`absent`, under the National Transfer Scheme)
    and each record keeps its own, so a cohort replayed for several scenarios is never shared between them.
    Every ndarray field is copied, whatever fields the Cohort gains."""
    arrays = {f.name: getattr(cohort, f.name) for f in dataclasses.fields(cohort)}
    return dataclasses.replace(cohort, **{k: v.copy() for k, v in arrays.items() if isinstance(v, np.ndarray)})


# What `draw_cohort` (sim.engine.demand) and the demand half of `with_drawn_parameters` (sim.engine.parameters) read
# of a scenario: sections read whole, and the fields read of the rest. tests/test_cohort_reuse.py checks every
# `scenario.` read in those modules against this list, so a new one cannot be missed.
COHORT_SECTIONS = ("horizon", "start_population", "entries", "journeys", "complexity")
COHORT_FIELDS = (
    ("adoption", "first_need"),
    ("adoption", "time_to_order"),
    ("leaving_care", "staying_put"),
    ("leaving_care", "staying_close"),
    ("step_back", "probability"),
)


def cohort_key(scenario: Scenario, seed: int) -> tuple[object, ...]:
    """Everything a replication's children are drawn from, but the replication number: two scenarios with equal
    keys draw identical cohorts in every replication (the same demand, seed and start population), so one draw
    serves both. Compared with ==, never assumed: a what-if changing demand in any way has a key of its own.

    Besides the sections and fields above: the parameter draws' demand and placement-mix spreads (entries, stays
    and first needs move with them), and the pools the start population names, by their index in the scenario
    (children record it) and the complexity tiers they take (a starting child's tier is drawn among them)."""
    fields = tuple(getattr(getattr(scenario, section), name) for section, name in COHORT_FIELDS)
    uncertainty = scenario.uncertainty
    spread = (uncertainty.demand, uncertainty.placement_mix) if uncertainty is not None and uncertainty.active else None
    names = list(scenario.pools)
    population = scenario.start_population
    named = {child.pool for child in population.children} | {group.pool for group in population.groups}
    named |= {group.pool for group in population.staying_put}
    start_pools = tuple((name, names.index(name), scenario.pools[name].tiers) for name in sorted(named))
    sections = tuple(getattr(scenario, section) for section in COHORT_SECTIONS)
    return (seed, *sections, fields, spread, start_pools)


def simulate_linked(scenarios: list[Scenario], seeds: list[int], replication: int) -> list[ReplicationRecord]:
    """One replication of authorities sharing regional pools, in one event loop: their pools `shared` under one
    name count the same places, so together they never hold more than its capacity. Each authority keeps its
    own seed, draws and record; the scenarios are checked together first (`scenario.shared_pool_groups`).

    Every record's `events` is the joint loop's count."""
    env = simpy.Environment()
    shared: dict[str, SharedPlaces] = {}
    for scenario in scenarios:
        for pool in scenario.pools.values():
            if pool.shared is not None:
                shared.setdefault(pool.shared, SharedPlaces(pool.usable_capacity))  # the same share for all
    systems = [CareSystem(s, seed, replication, env, shared) for s, seed in zip(scenarios, seeds, strict=True)]
    for system in systems:
        system.start()
    with _collector_paused():
        env.run(until=scenarios[0].horizon.days)
    records = [system.record() for system in systems]
    _discard_pending_events(env)
    return records
