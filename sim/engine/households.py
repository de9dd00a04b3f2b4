"""In-house fostering households one by one: each household's places, the children placed with it and its
approved age range, and the households an authority reports on the start date.

The event loop (sim.engine.model) asks a pool's `FosterHouseholds` which household takes a child, a sibling group
or a deregistration; this module keeps the index that answers quickly at England's size (tens of thousands of
households) and knows nothing of SimPy.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math

from sim.engine.demand import AGE_18_DAYS
from sim.engine.scenario import FosteringSupply
from sim.engine.vocabulary import DAYS_PER_YEAR

GOLDEN_RATIO_STEP = (math.sqrt(5.0) - 1.0) / 2.0  # spreads starting households' age ranges evenly over sizes
COMPACT_SLACK = 64  # deletions a free-place bucket may hold before it is copied (FosterHouseholds._unfile)
NO_HOUSEHOLD = -1  # a child in a household pool whose place is in no open household (its place closes when it leaves)


class FosterHouseholds:
    """The fostering households of one in-house pool, one by one: each household's places, the children placed
    with it and its approved age range (an index into `ranges`).

    `idle` lists, by number of places, the households (not planned places) with no child placed, which deregister
    in place of a household of the same size with children (`leaving`). Households that leave (`remove`) keep their
    children until they leave: those children, and children beyond a
    household's places after a closure (`shrink`), are `excess`, in places that close when they leave. `free`
    finds a household quickly: range -> free places -> the open households with that many (dicts as ordered
    sets, the longest there first), so a search reads a few dicts, not every household. `planned` households are single
    places added by a pool's dated `capacity_changes`: counted in its places, not in its households.
    """

    __slots__ = (
        "active",
        "approved",
        "chosen",
        "counted",
        "deleted",
        "excess",
        "free",
        "idle",
        "idle_at",
        "places",
        "planned",
        "range_of",
        "ranges",
        "real",
        "used",
    )

    def __init__(self, ranges: list[tuple[float, float]]):
        self.ranges = ranges  # (min, max) age in days of each approved range; a child fits when min <= age < max
        self.places: list[int] = []
        self.used: list[int] = []
        self.range_of: list[int] = []
        self.active: list[bool] = []
        self.real: list[int] = []  # open households counted as households, in household order
        self.counted: list[bool] = []  # whether each household is counted as one (not a planned place)
        self.idle: dict[int, list[int]] = {}  # places -> open counted households with no child placed (any order)
        self.idle_at: dict[int, int] = {}  # each idle household's index in its list of `idle`
        self.planned: list[int] = []  # open single places of dated capacity_changes, oldest first
        self.free: list[dict[int, dict[int, None]]] = [{} for _ in ranges]
        self.deleted: list[dict[int, int]] = [{} for _ in ranges]  # each bucket's deletions since it was copied
        self.excess = 0
        self.approved = 0  # places of the open households
        self.chosen = NO_HOUSEHOLD  # the household a sibling group's search chose, for its next member

    def add(self, places: int, age_range: int, real: bool) -> int:
        household = len(self.places)
        self.places.append(places)
        self.used.append(0)
        self.range_of.append(age_range)
        self.active.append(True)
        self.counted.append(real)
        (self.real if real else self.planned).append(household)
        if real:
            self._idle_add(household)
        self.approved += places
        self._file(household)
        return household

    def leaving(self, draw: float) -> int:
        """The household a deregistration removes: an open household chosen by `draw` (uniform), or in its place
        one of the same size with no child placed (assumption: carers stop between placements; a child is not left
        with a carer who has deregistered). Same size, so that the places leaving are those of a household chosen
        at random. With no such household, the chosen one leaves and its children keep their places until they
        leave. NO_HOUSEHOLD if none is open."""
        if not self.real:
            return NO_HOUSEHOLD
        chosen = self.real[int(draw * len(self.real))]
        same = self.idle.get(self.places[chosen])
        return chosen if not same or chosen in self.idle_at else same[-1]

    def best(self, youngest: float, oldest: float, size: int) -> int:
        """The open household with the fewest free places of at least `size` whose range takes both ages (among
        equals, the first range's, longest at that number), or NO_HOUSEHOLD. Fewest: a household with room for a
        sibling group is kept for one (an assumption: no source describes how a fostering team chooses among
        carers with room)."""
        found, fewest = NO_HOUSEHOLD, math.inf
        for age_range, (low, high) in enumerate(self.ranges):
            if low <= youngest and oldest < high:
                for free, households in self.free[age_range].items():
                    if size <= free < fewest and households:
                        found, fewest = next(iter(households)), free
        return found

    def any_free(self) -> int:
        """An open household with a free place whatever its range (children seated on the start date, young
        people Staying Put or Staying Close), else the open household with the most places, else NO_HOUSEHOLD."""
        for by_free in self.free:
            for households in by_free.values():
                if households:
                    return next(iter(households))
        return max([*self.real, *self.planned], key=self.places.__getitem__, default=NO_HOUSEHOLD)

    def take(self, household: int) -> None:
        if household == NO_HOUSEHOLD:
            self.excess += 1
            return
        self._unfile(household)
        if self.used[household] == 0 and household in self.idle_at:
            self._idle_drop(household)
        self.used[household] += 1
        if self.used[household] > self.places[household]:
            self.excess += 1
        self._file(household)

    def release(self, household: int) -> None:
        if household == NO_HOUSEHOLD or not self.active[household] or self.used[household] > self.places[household]:
            self.excess -= 1
        if household == NO_HOUSEHOLD:
            return
        self._unfile(household)
        self.used[household] -= 1
        if self.used[household] == 0 and self.active[household] and self.counted[household]:
            self._idle_add(household)
        self._file(household)

    def remove(self, household: int) -> None:
        """The household leaves: its free places close now, its children keep theirs until they leave."""
        self._unfile(household)
        if household in self.idle_at:
            self._idle_drop(household)
        self.active[household] = False
        listed = self.real  # both lists are in household order (numbers grow as households are added): bisect
        at = bisect.bisect_left(listed, household)
        if at == len(listed) or listed[at] != household:
            listed = self.planned
            at = bisect.bisect_left(listed, household)
        del listed[at]
        self.approved -= self.places[household]
        self.excess += min(self.used[household], self.places[household])

    def shrink(self) -> bool:
        """Close one place for a dated closure: a planned place first (the newest), else a free place of the
        household with the most free places, else an occupied place of the household with the most places (it
        closes when a child there leaves). False when no household is open."""
        if self.planned:
            self.remove(self.planned[-1])
            return True
        most, household = 0, NO_HOUSEHOLD
        for by_free in self.free:  # no planned place is left: these are real households
            for free, households in by_free.items():
                if free > most and households:
                    most, household = free, next(iter(households))
        if household == NO_HOUSEHOLD:
            household = max(self.real, key=self.places.__getitem__, default=NO_HOUSEHOLD)
        if household == NO_HOUSEHOLD or self.places[household] == 0:
            return False
        self._unfile(household)
        idle = household in self.idle_at
        if idle:
            self._idle_drop(household)  # filed by its number of places
        self.places[household] -= 1
        if idle:
            self._idle_add(household)
        self.approved -= 1
        if self.used[household] > self.places[household]:
            self.excess += 1
        self._file(household)
        return True

    def _idle_add(self, household: int) -> None:
        same = self.idle.setdefault(self.places[household], [])
        self.idle_at[household] = len(same)
        same.append(household)

    def _idle_drop(self, household: int) -> None:
        at = self.idle_at.pop(household)
        same = self.idle[self.places[household]]
        last = same.pop()
        if last != household:
            same[at] = last
            self.idle_at[last] = at

    def _file(self, household: int) -> None:
        free = self.places[household] - self.used[household]
        if free > 0 and self.active[household]:
            self.free[self.range_of[household]].setdefault(free, {})[household] = None

    def _unfile(self, household: int) -> None:
        """Take the household out of the free-place index. A dict keeps a slot for each deleted key until it
        grows, and `next(iter(...))` steps over those slots: a bucket is copied (same order) once its deletions
        outnumber its households, or a search of a pool of 20,000 households would take microseconds."""
        free = self.places[household] - self.used[household]
        if free > 0 and self.active[household]:
            age_range = self.range_of[household]
            bucket = self.free[age_range][free]
            del bucket[household]
            deleted = self.deleted[age_range]
            deleted[free] = deleted.get(free, 0) + 1
            if deleted[free] > len(bucket) + COMPACT_SLACK:
                self.free[age_range][free] = dict(bucket)
                deleted[free] = 0


def starting_households(supply: FosteringSupply, approved: int) -> FosterHouseholds:
    """The households on the start date, giving exactly the pool's approved places: `households` of them, sized
    in proportion to `places_per_household` (largest remainders), then evened out one place at a time (the smallest
    households grow, the largest shrink, to 0 places if need be) until their places are the pool's `capacity`. Age
    ranges in proportion to `approved_ages`, spread over the sizes by a golden-ratio sequence. The same every
    replication: the start is what the authority reports, not a draw. With no households, the places are single
    all-age places. The last range of the result takes every age 0-18, for the places of dated changes."""
    ranges = [(low * DAYS_PER_YEAR, high * DAYS_PER_YEAR) for (low, high), _ in supply.age_ranges()]
    carers = FosterHouseholds([*ranges, (0.0, AGE_18_DAYS)])
    cumulative = list(itertools.accumulate(share for _, share in supply.age_ranges()))
    for number, size in enumerate(_starting_sizes(supply, approved)):
        position = (number * GOLDEN_RATIO_STEP + 0.5) % 1.0 * cumulative[-1]
        carers.add(size, min(bisect.bisect_right(cumulative, position), len(ranges) - 1), real=True)
    if supply.households == 0:
        for _ in range(approved):
            carers.add(1, len(ranges), real=False)
    return carers


def _starting_sizes(supply: FosteringSupply, approved: int) -> list[int]:
    """Each starting household's places: see `starting_households`."""
    count = supply.households
    mix = [(int(size), share * count) for size, share in supply.places_per_household.items()]
    whole = [int(quota) for _, quota in mix]
    by_remainder = sorted(range(len(mix)), key=lambda i: whole[i] - mix[i][1])  # largest remainder first
    for i in by_remainder[: count - sum(whole)]:
        whole[i] += 1
    sizes = sorted(size for (size, _), n in zip(mix, whole, strict=True) for _ in range(n))
    if not sizes:
        return []
    gap = approved - sum(sizes)
    step = 1 if gap > 0 else -1  # grow the smallest households first, or shrink the largest
    heap = [(size * step, i) for i, size in enumerate(sizes)]
    heapq.heapify(heap)
    while gap != 0:
        i = heapq.heappop(heap)[1]
        if sizes[i] + step < 0:
            break  # every household is down to no places: the pool has fewer places than households
        sizes[i] += step
        gap -= step
        heapq.heappush(heap, (sizes[i] * step, i))
    return sizes
