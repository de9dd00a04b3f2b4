"""Expected-value projection of children in care by placement need (and of entries and exits), computed without
the simulation engine.

Why it exists: with every pool unlimited, capacity plays no part, so the simulation's mean stock must equal
the expected value of the same parameters (DESIGN.md, "Habits that make a simulation trustworthy"). This
module computes that expected value by numerical integration instead of sampling. It shares only the
scenario schema, the duration distributions and the vocabulary with the engine (no sim.engine.model, sim.engine.demand
or sim.results.runner), so a slip in the engine's event logic shows up as a gap between the two.

Method. Time t is in days from 00:00 on the start date; a year is 365.25 days. The expected number in
need n at time τ is

    starting children still in care in n at τ  +  ∫_0^τ λ(u) K_n(τ - u) du,

where λ(u) is the entry rate (Poisson, with trend and calendar-month seasonality; main and UASC streams)
and K_n(s) the probability that an entrant is in care in need n s days after entry, averaged over the
entry age band, exit route, duration and need path. The entry integral is a midpoint sum over whole days
(exact for the monthly seasonality steps and the dated changes, which fall at midnight) done as one FFT
convolution per need and piece: a piece is a rate path (trend, and the steps of a band) and a period of
entry days in which the journey is the same (the dated stay multipliers and first needs), so without
dated changes there is one piece.
Exits and need paths are independent, and a move is lost only if it would come at or after the exit, so
P(in care in n at s) = P(under 18 at s) x P(route duration > s) x P(need path is in n at s). The need
path (first need, then at most three planned moves) is walked as a tree; each segment starts at a fixed
time (0, or an `at_age` birthday) plus a sum of `after_days` durations, whose CDF is built on a half-day
grid by convolution (each half-day cell's mass put at its middle: exact for whole-day `fixed`
durations, second-order accurate for smooth ones) and cached, because many children share a path.
Age within a band is integrated over: one slice when nothing depends on age but the 18th birthday (whose
effect is averaged exactly), else slices of 1/24 year, evaluated at their middle except for the 18th
birthday and the birthdays of moves at an age, which are spread uniformly over the slice (so a group's
moves at an age come smoothly, not as a staircase of slices).

Entries and exits. `expected_entries` sums the same rate over the days of a period. `expected_exits` convolves
the entry rate with the chance of having left by each route s days after entry: a route's time (for adoption, ready
then the order) must end before the 18th birthday T, else the child leaves by `age_18` at T, so with G_r the CDF of
the route's time, P(left by r by s) = p_r (E[1{T <= s} G_r(T)] + G_r(s) P(T > s)). T is uniform over the band's
ages, so E[1{T <= s} G_r(T)] is an integral of the CDF; for the starting population the routes are weighted and
the times drawn from the tails as for the stock, and T is averaged over an age slice by quadrature.

Checked against draws from sim.engine.demand (every pool unlimited) on the Cheshire East baseline and on
synthetic scenarios using every feature below: agreement within Monte Carlo error (about 0.1% of the
stock) wherever the engine follows the semantics stated here.

Covered: entries by band with trend and seasonality; the dated changes of `entries.changes` and
`entries.uasc.changes` (rate steps by band, new trends compounded day by day, stay multipliers as the
durations' survival at days / multiplier, first-need shares), for entrants only; the UASC stream (own age
mix, own trend or the main trend with its new trends, own journeys or the main ones); the remand stream
(`entries.remand`: a flat rate, its own age mix and journeys); uniform age within a
band; exit routes with any duration distribution, `age_18` until the 18th birthday; everything capped at
the 18th birthday; planned moves (`after_days` and `at_age`, alternatives per need in list order, up to 4
segments); the adoption route (time in `adoption.first_need` until ready, no wait for an adopter, then
`placed_for_adoption` for `adoption.time_to_order`; a child whose readiness outlasts childhood stays in
`adoption.first_need`, without moves, until 18); the starting population (groups with age uniform in the
band, or single children), with routes weighted by the chance of having lasted `days_in_care` (at most the
child's age) and remaining times drawn from the tail, the current need as the first of the 4 segments with
moves timed from the start date, and children already placed for adoption staying `time_to_order` more
days.

Not modelled because it does not change the in-care stock by need when pools are unlimited: pools,
capacity, matching, step-back moves, staying put / staying close (after 18, off the in-care stock), sex
and category of need. Refused with ValueError: adoption as an exit route with a finite
`adoption.adopter_approvals_per_year` (the wait for an adopter depends on the queue), children starting
`placed_for_adoption` without `adoption.time_to_order`, and dates outside the horizon.

Convention: the stock at 00:00 on a date counts events at exactly that instant as done (a child whose
stay ends at t is not in care at t; a move at t has happened), the same as the survival functions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from sim.engine.distributions import Distribution
from sim.engine.scenario import EntryStream, Journey, Scenario
from sim.engine.vocabulary import (
    AGE_BAND_BOUNDS_YEARS,
    AGE_BANDS,
    DAYS_PER_YEAR,
    EXIT_ROUTES,
    LEAVING_CARE_AGE_YEARS,
    PLACEMENT_NEEDS,
    age_band_index,
)

STEP_DAYS = 0.5  # grid of the sum-of-durations CDFs: holds both whole days (stock) and half days (entries)
AGE_SLICES_PER_YEAR = 24  # age quadrature when moves at a birthday make journeys depend on age
MAX_SEGMENTS = 4  # first need plus at most three planned moves, as in the simulation
NEGLIGIBLE = 1e-15  # path probabilities below this are dropped
PLACED = "placed_for_adoption"

AGE_18_NODES = 16  # quadrature of a starting group's 18th birthdays over an age slice (1/24 year)

Curves = dict[str, np.ndarray]  # placement need (or exit route) -> values at the evaluation times
Kernel = Callable[[Scenario, Journey, str, np.ndarray, "_SumCdfs"], Curves]  # an entrant's state by days since entry
Cdf = Callable[[np.ndarray], np.ndarray]  # P(time left on a route <= x), children on the first axis of x


def expected_stock(scenario: Scenario, dates: Sequence[dt.date]) -> pd.DataFrame:
    """Expected number of children in care in each placement need at 00:00 on each date.

    Columns date (datetime64, like the simulation's stock table, so the two merge), need, children;
    one row per date (in the order given) and placement need (every need of the vocabulary, zero where
    none can be). Pools are ignored: this is the stock when every pool is unlimited, the reference for
    the simulation's mean in that case.
    """
    _check_supported(scenario)
    days_list = [_as_date(day) for day in dates]
    days = _days_from_start(scenario, days_list)
    cdfs = _SumCdfs(float(days.max(initial=0)) + 1.0)
    stock = _starting_stock(scenario, days, cdfs)
    for need, curve in _entrant_curves(scenario, days, cdfs, _entrant_kernel).items():
        _accumulate(stock, need, curve)
    table = np.zeros((len(days), len(PLACEMENT_NEEDS)))
    for column, need in enumerate(PLACEMENT_NEEDS):
        if need in stock:
            table[:, column] = np.maximum(stock[need], 0.0)  # clears FFT round-off below zero
    return pd.DataFrame(
        {
            "date": pd.to_datetime(np.repeat(np.array(days_list, dtype="datetime64[D]"), len(PLACEMENT_NEEDS))),
            "need": list(PLACEMENT_NEEDS) * len(days_list),
            "children": table.ravel(),
        }
    )


def expected_entries(scenario: Scenario, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Expected entries into care from 00:00 on `start` to 00:00 on `end`, by stream and age band at entry.

    Columns uasc, remand, age_band, children: one row per stream (main, UASC, then remand if the scenario has
    it) and band. The reference for the simulation's
    mean `entries` over whole months, and the closed form of an entry-rate adjustment (the rate times the same
    trend, steps and seasonality).
    """
    first, end_day = _days_from_start(scenario, [_as_date(start), _as_date(end)])
    entry_days = np.arange(math.ceil(scenario.horizon.days)) + 0.5
    rows = []
    flows = scenario.entries.streams(scenario.horizon)
    flows = flows if scenario.entries.remand.used else flows[:2]
    for flow in flows:
        for band in AGE_BANDS:
            rate = flow.rate_per_year.get(band, 0.0)
            factor = _rate_factor(scenario, flow, _band_steps(flow, band), entry_days, first, end_day) if rate else 0
            rows.append((flow.uasc, flow.remand, band, rate / DAYS_PER_YEAR * float(np.sum(factor))))
    return pd.DataFrame(rows, columns=["uasc", "remand", "age_band", "children"])


def expected_exits(scenario: Scenario, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Expected exits from care from 00:00 on `start` to 00:00 on `end`, by exit route (the route at exit: a stay
    reaching the 18th birthday leaves by `age_18`).

    Columns route, children: one row per route of the vocabulary. The reference for the simulation's mean `exits`
    over whole months when every pool is unlimited.
    """
    _check_supported(scenario)
    days = _days_from_start(scenario, [_as_date(start), _as_date(end)])
    cdfs = _SumCdfs(float(days.max(initial=0)) + 1.0)
    left = _starting_exits(scenario, days.astype(float), cdfs)
    for route, curve in _entrant_curves(scenario, days, cdfs, _exit_kernel).items():
        _accumulate(left, route, curve)
    children = [float(left[route][1] - left[route][0]) if route in left else 0.0 for route in EXIT_ROUTES]
    return pd.DataFrame({"route": list(EXIT_ROUTES), "children": np.maximum(children, 0.0)})


# ---------------------------------------------------------------------------------------------
# Checks and dates


def _check_supported(scenario: Scenario) -> None:
    """Refuse parameters whose expected value this projection cannot give, rather than give a wrong one."""
    own = (scenario.entries.uasc.journeys or {}, scenario.entries.remand.journeys or {})
    journeys = [*scenario.journeys.values(), *(journey for stream in own for journey in stream.values())]
    uses_adoption = any(journey.exit_routes.get("adoption", 0.0) > 0 for journey in journeys)
    if uses_adoption and scenario.adoption.adopter_approvals_per_year != "unlimited":
        raise ValueError(
            "projection: adoption is an exit route but adoption.adopter_approvals_per_year is "
            f"{scenario.adoption.adopter_approvals_per_year!r}; the expected-value projection only supports "
            "'unlimited' adopters (no wait for an adopter)"
        )
    starting_needs = [need for _, need in scenario.start_population.all_pools_and_needs()]
    if PLACED in starting_needs and scenario.adoption.time_to_order is None:
        raise ValueError(
            "projection: children start placed_for_adoption but adoption.time_to_order is not given, "
            "so their remaining time in care is unknown"
        )


def _as_date(day: dt.date | dt.datetime | pd.Timestamp | str) -> dt.date:
    """Dates arrive as date, datetime, Timestamp or ISO text; the stock is at 00:00 of the day."""
    return pd.Timestamp(day).date()


def _days_from_start(scenario: Scenario, days: list[dt.date]) -> np.ndarray:
    start, end = scenario.horizon.start, scenario.horizon.end
    for day in days:
        if not start <= day <= end:
            raise ValueError(f"projection: date {day} is outside the horizon {start} to {end}")
    return np.array([(day - start).days for day in days], dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Sums of durations


class _SumCdfs:
    """CDFs of sums of independent durations on a half-day grid, cached because many paths share them."""

    def __init__(self, max_days: float) -> None:
        self.grid = np.arange(math.ceil(max_days / STEP_DAYS) + 2) * STEP_DAYS
        self._cache: dict[tuple[Distribution, ...], np.ndarray] = {}
        self._integrals: dict[tuple[Distribution, ...], np.ndarray] = {}

    def at(self, chain: tuple[Distribution, ...], days: np.ndarray) -> np.ndarray:
        """P(sum of the `chain` durations <= days); an empty chain is a point mass at 0."""
        if not chain:
            return (days >= 0).astype(float)
        return np.interp(days, self.grid, self.on_grid(chain), left=0.0)

    def spread(
        self,
        chain: tuple[Distribution, ...],
        days: np.ndarray,
        low: np.ndarray | float,
        high: np.ndarray | float,
        strict: bool = False,
    ) -> np.ndarray:
        """P(U + sum of `chain` <= days) for U uniform on [low, high] (a point where equal).

        `strict` asks for < at a point U with an empty chain (a move at a birthday the child has reached
        does not happen).
        """
        width = np.asarray(high, dtype=float) - np.asarray(low, dtype=float)
        if np.all(width <= 0):
            return self._point(chain, days - low, strict)
        uniform = (self.integral(chain, days - low) - self.integral(chain, days - high)) / np.where(
            width > 0, width, 1.0
        )
        if np.all(width > 0):
            return uniform
        return np.where(width > 0, uniform, self._point(chain, days - low, strict))

    def _point(self, chain: tuple[Distribution, ...], days: np.ndarray, strict: bool) -> np.ndarray:
        if strict and not chain:
            return (days > 0).astype(float)
        return self.at(chain, days)

    def integral(self, chain: tuple[Distribution, ...], days: np.ndarray) -> np.ndarray:
        """Integral of the chain's CDF from 0 to `days` (trapezoid on the grid, linear beyond it)."""
        if not chain:
            return np.maximum(days, 0.0)
        if chain not in self._integrals:
            cdf = self.on_grid(chain)
            steps = (cdf[1:] + cdf[:-1]) / 2 * STEP_DAYS
            self._integrals[chain] = np.concatenate([[0.0], np.cumsum(steps)])
        integral = self._integrals[chain]
        end = self.grid[-1]
        beyond = np.maximum(days - end, 0.0) * self.on_grid(chain)[-1]
        return np.interp(np.minimum(days, end), self.grid, integral, left=0.0) + beyond

    def on_grid(self, chain: tuple[Distribution, ...]) -> np.ndarray:
        if chain not in self._cache:
            if len(chain) == 1:
                self._cache[chain] = 1.0 - chain[0].survival(self.grid)
            else:
                self._cache[chain] = self.convolve(self.on_grid(chain[:-1]), chain[-1])
        return self._cache[chain]

    def convolve(self, cdf: np.ndarray, dist: Distribution) -> np.ndarray:
        """CDF of X + D on the grid from X's CDF on the grid.

        X's mass in each cell (g[i-1], g[i]] is put at the cell's middle: exact when X and D are whole
        days (the jumps stay on the grid), and the midpoint rule otherwise.
        """
        masses = np.diff(cdf, axis=-1, prepend=0.0)
        kernel = 1.0 - dist.survival(self.grid + STEP_DAYS / 2)
        kernel = kernel.reshape((1,) * (masses.ndim - 1) + (-1,))
        return np.clip(fftconvolve(masses, kernel, axes=-1)[..., : len(self.grid)], 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Need paths (planned moves)


@dataclass(frozen=True)
class _Segment:
    """A segment of a need path, for a column of age slices (ages, 1).

    It is taken with `probability` and starts at U + the sum of the `chain` durations, U uniform on
    [low, high] days: 0 at first, and after a move at an age, that birthday for ages spread over the slice.
    Spreading the birthday, rather than putting it at the slice's middle, keeps a group's moves at an
    age smooth in time instead of a staircase of slices.
    """

    need: str
    probability: np.ndarray
    low: np.ndarray | float = 0.0
    high: np.ndarray | float = 0.0
    birthday_age: float | None = None  # age (years) whose birthday U is, if any
    chain: tuple[Distribution, ...] = ()
    number: int = 1

    def started_by(self, days: np.ndarray, cdfs: _SumCdfs) -> np.ndarray:
        """P(path taken and segment started by `days`), (ages, days)."""
        return self.probability * cdfs.spread(self.chain, days, self.low, self.high)

    def moved_at(self, age: float, lows: np.ndarray, highs: np.ndarray, cdfs: _SumCdfs) -> _Segment:
        """The share of this segment's path that reaches the birthday `age` after the segment's start
        (a move at an age needs that), as a segment starting on that birthday.

        Within a slice a later birthday is a fixed time after an earlier one, so after a first move at an
        age this is exact; before it, the birthday is spread uniformly over the slice's ages.
        """
        if self.birthday_age is not None:
            gap = (age - self.birthday_age) * DAYS_PER_YEAR
            before = float(gap > 0) if not self.chain else float(cdfs.at(self.chain, np.array(gap)))
            low, high = self.low + gap, self.high + gap
        else:  # the segment starts at day 0 + chain
            earliest, latest = (age - highs) * DAYS_PER_YEAR, (age - lows) * DAYS_PER_YEAR
            before = cdfs.spread(self.chain, np.zeros(1), -latest, -earliest, strict=True)
            low = np.maximum(earliest, 0.0)
            high = np.maximum(latest, low)
        return replace(self, probability=self.probability * before, low=low, high=high, birthday_age=age, chain=())


def _need_paths(
    journey: Journey, need: str, lows: np.ndarray, highs: np.ndarray, days: np.ndarray, cdfs: _SumCdfs
) -> Curves:
    """P(need path is in each need at `days`), (slices, days), for children starting `need` at day 0
    aged uniformly in [lows, highs) years (one age where equal).

    Exits are left out: a move is lost only if it would come at or after the exit, which cannot change
    the need of a child still in care, so the caller multiplies by P(still in care).
    """
    curves: Curves = {}
    todo = [_Segment(need, np.ones((len(lows), 1)))]
    while todo:
        segment = todo.pop()
        here = segment.started_by(days[None, :], cdfs)
        for following in _next_segments(journey, segment, lows[:, None], highs[:, None], cdfs):
            here = here - following.started_by(days[None, :], cdfs)
            todo.append(following)
        _accumulate(curves, segment.need, here)
    return curves


def _next_segments(
    journey: Journey, segment: _Segment, lows: np.ndarray, highs: np.ndarray, cdfs: _SumCdfs
) -> Iterator[_Segment]:
    """The alternative moves out of a segment (at most one happens, each with its own probability)."""
    if segment.number >= MAX_SEGMENTS:
        return
    for move in journey.moves:
        if move.from_need != segment.need or move.probability <= 0:
            continue
        if move.after_days is not None:
            following = replace(segment, chain=(*segment.chain, move.after_days))
        else:
            following = segment.moved_at(move.at_age, lows, highs, cdfs)
        probability = following.probability * move.probability
        if probability.max() > NEGLIGIBLE:
            yield replace(following, need=move.to_need, probability=probability, number=segment.number + 1)


def _has_birthday_moves(journey: Journey) -> bool:
    return any(move.at_age is not None and move.probability > 0 for move in journey.moves)


# ---------------------------------------------------------------------------------------------
# Exits


def _stay_survival(journey: Journey, elapsed: np.ndarray) -> np.ndarray:
    """Sum over exit routes other than adoption of share x P(duration > elapsed); age_18 never ends early.

    The 18th-birthday cap is applied by the caller, since it depends on age and not on the route.
    """
    total = np.zeros(np.shape(elapsed))
    for route, share in journey.exit_routes.items():
        if route == "adoption" or share <= 0:
            continue
        total = total + share * (1.0 if route == "age_18" else journey.duration[route].survival(elapsed))
    return total


def _share_under_18(low: np.ndarray | float, high: np.ndarray | float, days: np.ndarray) -> np.ndarray:
    """Share under 18 `days` later of children aged uniformly in [low, high) years (one age where equal)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    limit = LEAVING_CARE_AGE_YEARS - np.asarray(days, dtype=float) / DAYS_PER_YEAR
    width = high - low
    ramp = np.clip((limit - low) / np.where(width > 0, width, 1.0), 0.0, 1.0)
    return np.where(width > 0, ramp, (low < limit).astype(float))


def _age_slices(low: float, high: float, fine: bool) -> tuple[np.ndarray, np.ndarray]:
    """Edges (lows, highs) of the age slices of a band: one slice unless journeys depend on age."""
    count = max(1, math.ceil(AGE_SLICES_PER_YEAR * (high - low))) if fine else 1
    edges = np.linspace(low, high, count + 1)
    return edges[:-1], edges[1:]


# ---------------------------------------------------------------------------------------------
# Entrants


def _entrant_curves(scenario: Scenario, days: np.ndarray, cdfs: _SumCdfs, kernel: Kernel) -> Curves:
    """Expected entrants in each state at `days`: each entry rate convolved with its kernel (in care in a need, or
    left care by a route)."""
    last = int(days.max(initial=0))
    if last == 0:
        return {}
    lags = np.arange(last) + 0.5  # midpoints: entries during day i seen at whole day τ are τ - i - 0.5 old
    entry_days = np.arange(min(last, int(scenario.horizon.days))) + 0.5
    index = np.maximum(days - 1, 0)
    stock: Curves = {}
    for factor, curves in _entry_terms(scenario, entry_days, lags, cdfs, kernel):
        for state, curve in curves.items():
            _accumulate(stock, state, np.where(days > 0, fftconvolve(factor, curve)[index], 0.0))
    return stock


def _entry_terms(
    scenario: Scenario, entry_days: np.ndarray, lags: np.ndarray, cdfs: _SumCdfs, kernel: Kernel
) -> list[tuple[np.ndarray, Curves]]:
    """(entry-rate multiplier over `entry_days`, sum of base rate per day x kernel) pairs.

    One pair per distinct rate path and journey period: without dated changes every stream and band shares
    the trend and seasonality, so there is one pair, as there was before changes existed.
    """
    factors: dict[tuple, np.ndarray] = {}
    totals: dict[tuple, Curves] = {}
    kernels: dict[tuple, Curves] = {}
    own_uasc_journeys = scenario.entries.uasc.journeys is not None
    for flow, band, rate_per_year in _entry_rates(scenario):
        steps = _band_steps(flow, band)
        path = (flow.trend_percent_per_year, flow.trends, steps)
        journey = scenario.journeys_for(flow.uasc, flow.remand)[band]
        for first_day, end_day, stay, first_need in _journey_periods(scenario, flow, band, len(entry_days)):
            key = (path, first_day, end_day)
            if key not in factors:
                factors[key] = _rate_factor(scenario, flow, steps, entry_days, first_day, end_day)
            own = (flow.uasc and own_uasc_journeys, flow.remand)
            kernel_key = (own, band, stay, tuple(sorted(first_need.items())))
            if kernel_key not in kernels:
                changed = _changed_journey(journey, stay, first_need)
                kernels[kernel_key] = kernel(scenario, changed, band, lags, cdfs)
            for need, curve in kernels[kernel_key].items():
                _accumulate(totals.setdefault(key, {}), need, rate_per_year / DAYS_PER_YEAR * curve)
    return [(factors[key], totals[key]) for key in factors]


def _entry_rates(scenario: Scenario) -> Iterator[tuple[EntryStream, str, float]]:
    """(stream, age band, entries per year at the start in an average month), positive rates only."""
    flows = scenario.entries.streams(scenario.horizon)
    for band in AGE_BANDS:
        for flow in flows:
            if flow.rate_per_year.get(band, 0.0) > 0:
                yield flow, band, flow.rate_per_year[band]


def _band_steps(flow: EntryStream, band: str) -> tuple[tuple[dt.date, float], ...]:
    """(date, multiplier) of the stream's rate steps that apply to `band`."""
    return tuple((c.date, c.rate_multiplier) for c in flow.rate_steps if c.applies_to(band))


def _journey_periods(
    scenario: Scenario, flow: EntryStream, band: str, days: int
) -> list[tuple[int, int, float, dict[str, float]]]:
    """(first day, end day, stay multiplier, first-need shares) of each period in which entrants in `band` get the
    same journey. Change dates fall at midnight, so a period is whole days of entry."""
    journey = scenario.journeys_for(flow.uasc, flow.remand)[band]
    periods = [(0, days, 1.0, dict(journey.first_need))]
    for change in flow.journey_changes(band):
        first_day, _, stay, first_need = periods[-1]
        day = (change.date - scenario.horizon.start).days
        stay = stay * (change.stay_multiplier or 1.0)
        first_need = dict(change.first_need) if change.first_need is not None else first_need
        periods[-1] = (first_day, day, *periods[-1][2:])
        periods.append((day, days, stay, first_need))
    return [period for period in periods if period[1] > period[0]]


def _changed_journey(journey: Journey, stay: float, first_need: dict[str, float]) -> Journey:
    """The journey with every route's duration scaled by `stay` and the first need from `first_need`."""
    duration = journey.duration if stay == 1.0 else {r: _Scaled(d, stay) for r, d in journey.duration.items()}
    return journey.model_copy(update={"duration": duration, "first_need": first_need})


@dataclass(frozen=True)
class _Scaled:
    """A duration multiplied by `factor`: P(factor x D > days) = P(D > days / factor). Hashable, so the sum CDFs
    can cache it like any distribution."""

    base: Distribution
    factor: float

    def survival(self, days: np.ndarray) -> np.ndarray:
        return self.base.survival(np.asarray(days, dtype=float) / self.factor)


def _rate_factor(
    scenario: Scenario,
    flow: EntryStream,
    steps: tuple[tuple[dt.date, float], ...],
    days: np.ndarray,
    first_day: int,
    end_day: int,
) -> np.ndarray:
    """Trend x steps x seasonality at the middle of each day (`days` = 0.5, 1.5, ...), zero outside the entry
    days [first_day, end_day).

    The trend is compounded day by day at the rate in force that day (new trends start at midnight), and
    each step multiplies every day from its date; seasonality is the calendar month's, scaled to mean 1.
    """
    entries = scenario.entries
    seasonality = np.asarray(entries.seasonality, dtype=float)
    seasonality = seasonality / seasonality.mean()
    dates = np.datetime64(scenario.horizon.start, "D") + np.floor(days).astype("timedelta64[D]")
    months = dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    if flow.trends:
        per_day = np.full(len(days), math.log1p(flow.trend_percent_per_year / 100.0) / DAYS_PER_YEAR)
        for day, percent in flow.trends:
            per_day[(day - scenario.horizon.start).days :] = math.log1p(percent / 100.0) / DAYS_PER_YEAR
        trend = np.exp(np.cumsum(per_day) - per_day * 0.5)  # at the middle of each day
    else:
        trend = (1.0 + flow.trend_percent_per_year / 100.0) ** (days / DAYS_PER_YEAR)
    factor = trend * seasonality[months]
    for day, multiplier in steps:
        factor[(day - scenario.horizon.start).days :] *= multiplier
    factor[:first_day] = 0.0
    factor[end_day:] = 0.0
    return factor


def _entrant_kernel(scenario: Scenario, journey: Journey, band: str, lags: np.ndarray, cdfs: _SumCdfs) -> Curves:
    """P(an entrant in `band` is in care in each need `lags` days after entry), age uniform in the band."""
    low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(band)]
    lows, highs = _age_slices(low, high, fine=_has_birthday_moves(journey))
    weight = ((highs - lows) / (high - low))[:, None] * _share_under_18(lows[:, None], highs[:, None], lags)
    weight = weight * _stay_survival(journey, lags)
    kernel: Curves = {}
    for first, share in journey.first_need.items():
        if share <= 0:
            continue
        for need, curve in _need_paths(journey, first, lows, highs, lags, cdfs).items():
            _accumulate(kernel, need, share * (weight * curve).sum(axis=0))
    adoption = journey.exit_routes.get("adoption", 0.0)
    if adoption > 0:
        ready, order = journey.duration["adoption"], scenario.adoption.time_to_order
        assert order is not None  # the scenario checks require it when adoption is a route
        under_18 = adoption * _share_under_18(low, high, lags)
        is_ready = cdfs.at((ready,), lags)
        _accumulate(kernel, scenario.adoption.first_need, under_18 * (1.0 - is_ready))
        _accumulate(kernel, PLACED, under_18 * (is_ready - cdfs.at((ready, order), lags)))
    return kernel


# ---------------------------------------------------------------------------------------------
# Children in care on the start date


def _starting_stock(scenario: Scenario, days: np.ndarray, cdfs: _SumCdfs) -> Curves:
    """Expected children of the starting population still in care at `days`, by need."""
    t = days.astype(float)
    stock: Curves = {}
    for (need, band), cohort in _starting_cohorts(scenario).items():
        low, high, count, elapsed = (np.array(column) for column in zip(*cohort, strict=True))
        journey = scenario.journeys[band]
        under_18 = count[:, None] * _share_under_18(low[:, None], high[:, None], t)
        curves = _continuing(scenario, journey, need, low, high, elapsed, t, cdfs)
        for to_need, curve in curves.items():
            _accumulate(stock, to_need, (under_18 * curve).sum(axis=0))
    return stock


def _starting_cohorts(scenario: Scenario) -> dict[tuple[str, str], list[tuple[float, float, float, float]]]:
    """Starting children as (age low, age high, count, elapsed days) by (need, entry band).

    A group's age band is cut into slices (its age matters for the 18th birthday, the days it can have
    been in care, the band it entered in and moves at an age); identical slices of groups that differ
    only by pool are merged, because pools play no part here.
    """
    merged: dict[tuple[str, str, float, float, float], float] = {}
    rows: list[tuple[str, float, float, float, float]] = []  # need, age low, age high, count, days in care
    for group in scenario.start_population.groups:
        low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(group.age_band)]
        lows, highs = _age_slices(low, high, fine=True)
        count = group.count * (highs - lows) / (high - low)
        rows += zip([group.need] * len(lows), lows, highs, count, [group.days_in_care] * len(lows), strict=True)
    for child in scenario.start_population.children:
        rows.append((child.need, child.age_years, child.age_years, 1.0, child.days_in_care))
    for need, low, high, count, days_in_care in rows:
        elapsed = min(days_in_care, (low + high) / 2 * DAYS_PER_YEAR)
        band = AGE_BANDS[age_band_index((low + high) / 2 - elapsed / DAYS_PER_YEAR)]
        key = (need, band, float(low), float(high), float(elapsed))
        merged[key] = merged.get(key, 0.0) + float(count)
    cohorts: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    for (need, band, low, high, elapsed), count in merged.items():
        if count > 0:
            cohorts.setdefault((need, band), []).append((low, high, count, elapsed))
    return cohorts


def _continuing(
    scenario: Scenario,
    journey: Journey,
    need: str,
    lows: np.ndarray,
    highs: np.ndarray,
    elapsed: np.ndarray,
    t: np.ndarray,
    cdfs: _SumCdfs,
) -> Curves:
    """P(in care in each need at t), (children, t), of children in `need` at the start, before the cap at 18.

    The route is weighted by the chance of a stay on it lasting `elapsed` days and the remaining time
    comes from the tail, so P(still in care at t) = sum share x S(elapsed + t) / sum share x S(elapsed).
    """
    order = scenario.adoption.time_to_order
    if need == PLACED:
        assert order is not None  # _check_supported
        return {PLACED: np.broadcast_to(order.survival(t), (len(lows), len(t)))}
    adoption = journey.exit_routes.get("adoption", 0.0)
    adopt_now = np.zeros(len(lows))
    if adoption > 0 and need == scenario.adoption.first_need:
        adopt_now = adoption * journey.duration["adoption"].survival(elapsed)
    total = _stay_survival(journey, elapsed) + adopt_now
    lasting = total > 0  # otherwise no route could have lasted this long: the simulation sends them to 18
    divisor = np.where(lasting, total, 1.0)[:, None]
    values, inverse = np.unique(elapsed, return_inverse=True)  # slices of a group mostly share `elapsed`
    later = _stay_survival(journey, values[:, None] + t)[inverse]
    stays = np.where(lasting[:, None], later / divisor, 1.0)
    rows = slice(None) if _has_birthday_moves(journey) else slice(0, 1)  # else one row broadcasts to all
    paths = _need_paths(journey, need, lows[rows], highs[rows], t, cdfs)
    curves = {to_need: stays * curve for to_need, curve in paths.items()}
    adopting = np.where(lasting, adopt_now, 0.0)[:, None] / divisor
    if adopting.any():
        assert order is not None
        waiting, placed = _adoption_continuing(journey, elapsed, order, t, cdfs)
        _accumulate(curves, need, adopting * waiting)
        _accumulate(curves, PLACED, adopting * placed)
    return curves


def _adoption_continuing(
    journey: Journey, elapsed: np.ndarray, order: Distribution, t: np.ndarray, cdfs: _SumCdfs
) -> tuple[np.ndarray, np.ndarray]:
    """P(still in the first need), P(placed for adoption) at t for adoption-route children `elapsed` days in.

    The remaining time until ready comes from the tail of the readiness duration, then the child is
    placed for adoption until the order. Zero where that duration cannot have lasted `elapsed` days.
    """
    ready = journey.duration["adoption"]
    survived, ordered, rows = _adoption_tail(ready, elapsed, order, cdfs)
    positive = np.where(survived > 0, survived, 1.0)[:, None]
    waiting = np.where(survived[:, None] > 0, ready.survival(elapsed[:, None] + t) / positive, 0.0)
    ordered = ordered[:, np.round(t / STEP_DAYS).astype(np.int64)][rows]  # t: whole days
    return waiting, (np.where(survived > 0, 1.0, 0.0)[:, None] - waiting) - ordered


def _adoption_tail(
    ready: Distribution, elapsed: np.ndarray, order: Distribution, cdfs: _SumCdfs
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For children `elapsed` days in care on the adoption route: P(ready takes more than that) each; on the grid,
    for each distinct `elapsed`, the CDF of the time left until the order (the rest of the time until ready, from its
    tail, then the order; zero where ready cannot have lasted so long); and each child's row of that table."""
    values, rows = np.unique(elapsed, return_inverse=True)  # slices of a group mostly share `elapsed`
    survived = ready.survival(values)[:, None]
    positive = np.where(survived > 0, survived, 1.0)
    ready_cdf = np.where(survived > 0, 1.0 - ready.survival(values[:, None] + cdfs.grid) / positive, 0.0)
    return survived[rows, 0], cdfs.convolve(ready_cdf, order), rows


# ---------------------------------------------------------------------------------------------
# Exits by route


def _left_by(weights: Curves, by_t: Curves, by_18: Curves, reached_18: np.ndarray) -> Curves:
    """P(left care by each route by t), for children on route r with weight w_r whose time left ends by t with
    probability G_r(t), unless their 18th birthday T comes first (then they leave by `age_18`):

        C_r(t) = w_r (E[1{T <= t} G_r(T)] + G_r(t) P(T > t)),   C_age_18(t) = P(T <= t) - sum_r w_r E[1{T <= t} G_r(T)]

    `weights`, `by_t` (G_r(t)) and `by_18` (E[1{T <= t} G_r(T)]) by route other than age_18, whose weight is the rest
    and which never ends before T; `reached_18` is P(T <= t).
    """
    left = {"age_18": np.array(reached_18, dtype=float)}
    for route, weight in weights.items():
        left[route] = weight * (by_18[route] + by_t[route] * (1.0 - reached_18))
        left["age_18"] = left["age_18"] - weight * by_18[route]
    return left


def _exit_kernel(scenario: Scenario, journey: Journey, band: str, lags: np.ndarray, cdfs: _SumCdfs) -> Curves:
    """P(an entrant in `band` has left care by each route `lags` days after entry), age uniform in the band, so the
    18th birthday T is uniform on [first, last] days after entry: E[1{T <= t} G(T)] is an integral of the CDF."""
    low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(band)]
    first, last = (LEAVING_CARE_AGE_YEARS - high) * DAYS_PER_YEAR, (LEAVING_CARE_AGE_YEARS - low) * DAYS_PER_YEAR
    reach = np.clip(lags, first, last)
    weights, by_t, by_18 = {}, {}, {}
    for route, share in journey.exit_routes.items():
        if route == "age_18" or share <= 0:
            continue
        chain = (journey.duration[route],)
        if route == "adoption":
            assert scenario.adoption.time_to_order is not None  # the scenario checks require it
            chain = (*chain, scenario.adoption.time_to_order)  # ready, then the order, both before 18
        weights[route], by_t[route] = share, cdfs.at(chain, lags)
        by_18[route] = (cdfs.integral(chain, reach) - cdfs.integral(chain, np.array(first))) / (last - first)
    return _left_by(weights, by_t, by_18, (reach - first) / (last - first))


def _starting_exits(scenario: Scenario, t: np.ndarray, cdfs: _SumCdfs) -> Curves:
    """Expected children of the starting population who have left care by each route by `t`."""
    left: Curves = {}
    for (need, band), cohort in _starting_cohorts(scenario).items():
        low, high, count, elapsed = (np.array(column) for column in zip(*cohort, strict=True))
        curves = _continuing_exits(scenario, scenario.journeys[band], need, low, high, elapsed, t, cdfs)
        for route, curve in curves.items():
            _accumulate(left, route, (count[:, None] * curve).sum(axis=0))
    return left


def _continuing_exits(
    scenario: Scenario,
    journey: Journey,
    need: str,
    lows: np.ndarray,
    highs: np.ndarray,
    elapsed: np.ndarray,
    t: np.ndarray,
    cdfs: _SumCdfs,
) -> Curves:
    """P(left care by each route by t), (children, t), of children `elapsed` days in care in `need` at the start,
    aged uniformly in [lows, highs) years (one age where equal): routes weighted and times left from the tail, as
    in `_continuing`. E[G(T) | T <= t] is the mean over `AGE_18_NODES` birthdays spread over the slice's ages."""
    first = (LEAVING_CARE_AGE_YEARS - highs)[:, None] * DAYS_PER_YEAR
    last = (LEAVING_CARE_AGE_YEARS - lows)[:, None] * DAYS_PER_YEAR
    reach = np.clip(t[None, :], first, last)
    span = last - first
    reached = np.where(span > 0, (reach - first) / np.where(span > 0, span, 1.0), first <= t[None, :])
    nodes = first[..., None] + (reach - first)[..., None] * ((np.arange(AGE_18_NODES) + 0.5) / AGE_18_NODES)
    tails = _continuing_tails(scenario, journey, need, elapsed, cdfs)
    weights = {route: weight[:, None] for route, (weight, _) in tails.items()}
    by_t = {route: cdf(np.broadcast_to(t, reach.shape)) for route, (_, cdf) in tails.items()}
    by_18 = {route: reached * cdf(nodes).mean(axis=-1) for route, (_, cdf) in tails.items()}
    return _left_by(weights, by_t, by_18, reached)


def _continuing_tails(
    scenario: Scenario, journey: Journey, need: str, elapsed: np.ndarray, cdfs: _SumCdfs
) -> dict[str, tuple[np.ndarray, Cdf]]:
    """Route -> (weight, CDF of the time left) of children `elapsed` days in care, for the routes other than
    age_18 (which takes the rest of the weight, all of it where no route could have lasted so long)."""
    order = scenario.adoption.time_to_order
    if need == PLACED:
        assert order is not None  # _check_supported
        return {"adoption": (np.ones(len(elapsed)), lambda x: 1.0 - order.survival(x))}
    adoption = journey.exit_routes.get("adoption", 0.0)
    adopt_now = np.zeros(len(elapsed))
    if adoption > 0 and need == scenario.adoption.first_need:
        adopt_now = adoption * journey.duration["adoption"].survival(elapsed)
    total = _stay_survival(journey, elapsed) + adopt_now
    divisor = np.where(total > 0, total, 1.0)
    tails: dict[str, tuple[np.ndarray, Cdf]] = {}
    for route, share in journey.exit_routes.items():
        if route not in ("age_18", "adoption") and share > 0:
            survived = journey.duration[route].survival(elapsed)
            tails[route] = (share * survived / divisor, _tail_cdf(journey.duration[route], elapsed, survived))
    if adopt_now.any():
        assert order is not None
        _, ordered, rows = _adoption_tail(journey.duration["adoption"], elapsed, order, cdfs)
        tails["adoption"] = (adopt_now / divisor, _on_grid(ordered, rows))
    return tails


def _tail_cdf(duration: Distribution, elapsed: np.ndarray, survived: np.ndarray) -> Cdf:
    """x -> P(D <= elapsed + x | D > elapsed), zero where D cannot have lasted `elapsed`."""

    def cdf(x: np.ndarray) -> np.ndarray:
        shape = (-1,) + (1,) * (x.ndim - 1)
        lasted = survived.reshape(shape)
        later = duration.survival(elapsed.reshape(shape) + x)
        return np.where(lasted > 0, 1.0 - later / np.where(lasted > 0, lasted, 1.0), 0.0)

    return cdf


def _on_grid(table: np.ndarray, rows: np.ndarray) -> Cdf:
    """x -> each child's row of `table` (CDFs on the half-day grid) interpolated at x."""

    def cdf(x: np.ndarray) -> np.ndarray:
        position = np.clip(x / STEP_DAYS, 0.0, table.shape[1] - 1.0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, table.shape[1] - 1)
        row = rows.reshape((-1,) + (1,) * (x.ndim - 1))
        return table[row, below] + (position - below) * (table[row, above] - table[row, below])

    return cdf


def _accumulate(curves: Curves, need: str, values: np.ndarray) -> None:
    curves[need] = curves[need] + values if need in curves else np.asarray(values, dtype=float)
