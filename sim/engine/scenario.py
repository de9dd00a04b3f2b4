"""The scenario schema: typed, validated models of everything a scenario file can say.

A scenario is checked once, at the boundary (`sim.engine.scenario_files` reads the TOML): every later
stage trusts it. Cross-references (pools named in matching, dates inside the horizon, starting
children within capacity) are checked here too, so a run never starts on an inconsistent file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from sim.engine.distributions import Distribution
from sim.engine.errors import InputError
from sim.engine.parameters import Uncertainty
from sim.engine.price_book import (
    MAX_ONE_OFF_COSTS,
    BudgetYear,
    OneOffCost,
    PriceBook,
    check_budget,
    check_one_off_costs,
    check_pool_prices,
)
from sim.engine.schema import (
    MAX_ENTRIES_PER_YEAR,
    MAX_HOUSEHOLDS,
    MAX_HOUSEHOLDS_PER_YEAR,
    MAX_PLACES,
    DaysOrZero,
    Name,
    Note,
    PercentPerYear,
    PerYear,
    ScenarioModel,
    Source,
    Text,
)
from sim.engine.vocabulary import (
    AGE_BAND_BOUNDS_YEARS,
    AGE_BANDS,
    CATEGORIES_OF_NEED,
    DAYS_PER_YEAR,
    EXIT_ROUTES,
    LEAVING_CARE_AGE_YEARS,
    PLACEMENT_NEEDS,
    REMAND_BANDS,
    Need,
)

FIRST_START_YEAR, LAST_START_YEAR = 1990, 2100  # SSDA903 returns begin in the 1990s; 2100 + 50 years fits a date
MAX_HOMES = 10_000  # homes in one pool
MAX_LIST = 1_000  # capacity changes of a pool, moves of a journey, starting groups
MAX_POOLS = 100
MAX_START_CHILDREN = 200_000  # rows of a starting-population CSV: more than England's children in care
MAX_SEED = 2**63 - 1
# Children one replication may simulate (starting population and expected entries). An England-sized
# replication holds about 460,000 (docs/performance.md); ten times that is a slip, not a plan.
MAX_EXPECTED_CHILDREN = 5_000_000
POOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

Probability = Annotated[float, Field(ge=0, le=1)]
Places = Annotated[int, Field(ge=0, le=MAX_PLACES)]
Homes = Annotated[int, Field(ge=0, le=MAX_HOMES)]
AgeBand = Literal["under1", "1-4", "5-9", "10-15", "16-17"]
# The share male of children in care by age band: Stockport's children in care on 31 March 2018 by sex and age
# (../shared/reference/stockport_sufficiency_2019.md section 2.9, source L735-L746: male 43 of 81 aged 0-4, 43 of
# 81 aged 5-9, 74 of 132 aged 10-15, 43 of 67 aged 16-17; 56% overall, L97), the one published split by age in the
# reference documents; 0-4 stands for under1 and 1-4. Sex changes no stay, so a stock share stands for an entry share.
MALE_SHARE_BY_BAND = {"under1": 0.5309, "1-4": 0.5309, "5-9": 0.5309, "10-15": 0.5606, "16-17": 0.6418}
# Assumption: the reference documents give no sex split of unaccompanied asylum-seeking children, who are mostly
# boys aged 16-17; 0.9 is a round "mostly", to be replaced by the authority's own share (calibrate --ssda903).
UASC_MALE_SHARE = 0.9
# Children remanded to youth detention accommodation are nearly all boys: 28 of the 870 under-18s in youth custody
# in February 2018 were girls (Youth Custody Service, youth custody data, https://www.gov.uk/government/statistics/
# youth-custody-data, as quoted at https://johnohowson.wordpress.com/tag/custody/): 842 / 870 = 0.968.
REMAND_MALE_SHARE = 0.968
# Assumption: three in four children remanded are 16-17 and one in four 10-15 (the youth custody population is mostly
# 16-17; no split of remands by these bands is in the reference documents); an authority's own split replaces it.
REMAND_AGE_MIX = {"10-15": 0.25, "16-17": 0.75}
ExitRoute = Literal["return_home", "adoption", "sgo_cao", "age_18", "other"]
CategoryOfNeed = Literal["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"]
SUM_TOLERANCE = 1e-6
# Dated multipliers of the entry rate or of stays: assumption, a tenfold step is a slip, not a plan (halving or
# doubling is the scale of the changes the sufficiency statements describe).
MAX_MULTIPLIER = 10.0
Multiplier = Annotated[float, Field(gt=0, le=MAX_MULTIPLIER)]
# What a placement in a pool is: a proper placement, or one of the fallbacks the gap ledger counts as not
# sufficient whatever the pool serves (sim.engine.vocabulary.GAP_KINDS).
PoolKind = Literal["placement", "emergency", "unregistered", "deprivation_of_liberty"]
FOSTER_CARE = ("fostering", "kinship_fostering")  # the placements Staying Put continues

assert set(AGE_BANDS) == set(AgeBand.__args__)  # the Literal mirrors the vocabulary
assert set(EXIT_ROUTES) == set(ExitRoute.__args__)
assert set(CATEGORIES_OF_NEED) == set(CategoryOfNeed.__args__)


class ScenarioError(InputError):
    """A scenario file that cannot be used; the message names file, key path and expectation."""


def _check_sums_to_one(shares: dict[str, float], what: str) -> None:
    total = sum(shares.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{what} must sum to 1, got {total:.6g}")


class Horizon(ScenarioModel):
    start: dt.date
    years: Annotated[int, Field(ge=1, le=50)]

    @field_validator("start")
    @classmethod
    def _plausible_start(cls, value: dt.date) -> dt.date:
        if not FIRST_START_YEAR <= value.year <= LAST_START_YEAR:
            raise ValueError(f"expected a start date in the years {FIRST_START_YEAR} to {LAST_START_YEAR}")
        return value

    @property
    def end(self) -> dt.date:
        return _add_years(self.start, self.years)

    @property
    def days(self) -> float:
        return float((self.end - self.start).days)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class StartGroup(ScenarioModel):
    """Children in care on the start date, by current age band, placement need and pool."""

    age_band: AgeBand
    need: Need
    pool: str
    count: Places
    # The model caps a group's days in care at each child's drawn age (sim.engine.demand), so only a value no child
    # in care can have, beyond 18 years, is refused here.
    days_in_care: Annotated[float, Field(gt=0, le=LEAVING_CARE_AGE_YEARS * DAYS_PER_YEAR)]


class StartChild(ScenarioModel):
    """One child in care on the start date (from the starting-population CSV)."""

    age_years: Annotated[float, Field(ge=0, lt=LEAVING_CARE_AGE_YEARS)]
    need: Need
    pool: str
    days_in_care: Annotated[float, Field(ge=0, le=LEAVING_CARE_AGE_YEARS * DAYS_PER_YEAR)]


class StayingPutGroup(ScenarioModel):
    """Young people already Staying Put with their foster carers on the start date: they left care at 18, so
    they are not in the stock, but they hold places (an authority reports them apart from its children in care)."""

    pool: str
    count: Places


class StartPopulation(ScenarioModel):
    groups: list[StartGroup] = Field([], max_length=MAX_LIST)
    csv: str | None = None
    children: list[StartChild] = Field([], max_length=MAX_START_CHILDREN)  # filled from `csv` when it is read
    staying_put: list[StayingPutGroup] = Field([], max_length=MAX_LIST)
    # of the children aged 16-17 on the start date, how many are unaccompanied asylum-seeking children (they
    # follow the same journeys; the flag puts them in the UASC stock and the transfer scheme's count)
    uasc: Places = 0

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unused(handler(self), staying_put=self.staying_put, uasc=self.uasc or None)

    def aged_16_or_over(self) -> int:
        """Children in care on the start date aged 16 or 17 (those that may be flagged `uasc`)."""
        grouped = sum(group.count for group in self.groups if group.age_band == "16-17")
        return grouped + sum(1 for child in self.children if child.age_years >= 16)

    @model_validator(mode="after")
    def _one_source(self) -> StartPopulation:
        if self.csv is not None and self.groups:
            raise ValueError("give either `groups` or `csv`, not both")
        return self

    def all_pools_and_needs(self) -> list[tuple[str, str]]:
        return [(g.pool, g.need) for g in self.groups] + [(c.pool, c.need) for c in self.children]


class Move(ScenarioModel):
    """A planned move between placement needs (step-down, step-up, move to 16+ accommodation)."""

    from_need: Need
    to_need: Need
    probability: Probability
    after_days: Distribution | None = None
    at_age: Annotated[float, Field(gt=0, lt=LEAVING_CARE_AGE_YEARS)] | None = None

    @model_validator(mode="after")
    def _one_timing(self) -> Move:
        if (self.after_days is None) == (self.at_age is None):
            raise ValueError("give exactly one of `after_days` (a distribution) or `at_age` (years)")
        if self.from_need == self.to_need:
            raise ValueError("from_need and to_need must differ")
        return self


class Journey(ScenarioModel):
    """Care journeys of children entering in one age band."""

    exit_routes: dict[ExitRoute, Probability]
    duration: dict[ExitRoute, Distribution] = {}
    first_need: dict[Need, Probability]
    moves: list[Move] = Field([], max_length=MAX_LIST)

    @model_validator(mode="after")
    def _consistent(self) -> Journey:
        _check_sums_to_one(self.exit_routes, "exit_routes")
        _check_sums_to_one(self.first_need, "first_need")
        for route, share in self.exit_routes.items():
            if share > 0 and route != "age_18" and route not in self.duration:
                raise ValueError(f"exit route '{route}' has probability {share} but no duration.{route}")
        if "age_18" in self.duration:
            raise ValueError("duration.age_18 is not used: that route lasts until the 18th birthday")
        for need in PLACEMENT_NEEDS:
            total = sum(m.probability for m in self.moves if m.from_need == need)
            if total > 1 + SUM_TOLERANCE:
                raise ValueError(f"moves from '{need}' have probabilities summing to {total:.4g} > 1")
        return self


TARGET_KEYS = {"entry_rate": (), "exit_route": ("route",), "move": ("from_need", "to_need")}


class Adjustment(ScenarioModel):
    """A rate multiplied or added to, as the peer tools allow, without rewriting the journey: an age band's entry
    rate (the main stream: UASC have `entries.uasc.rate_per_year`), an exit route's share or a move's probability.

    Applied once, when the scenario is validated (`_adjusted_sections`), so the engine, the projection and the
    parameter draws all read the adjusted rates; the dump keeps the rates as written and the adjustments, so it
    reads back the same.
    """

    target: Literal["entry_rate", "exit_route", "move"]
    age_bands: Annotated[list[AgeBand], Field(min_length=1, max_length=len(AGE_BANDS))] | None = None  # None: all
    route: ExitRoute | None = None
    from_need: Need | None = None
    to_need: Need | None = None
    multiply: Annotated[float, Field(ge=0, le=MAX_MULTIPLIER)] | None = None
    add: Annotated[float, Field(ge=-MAX_ENTRIES_PER_YEAR, le=MAX_ENTRIES_PER_YEAR)] | None = None
    note: Note = ""

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        unused = {key: getattr(self, key) for key in ("age_bands", "route", "from_need", "to_need", "multiply", "add")}
        return _drop_unused(handler(self), **unused)

    @model_validator(mode="after")
    def _consistent(self) -> Adjustment:
        if self.multiply is None and self.add is None:
            raise ValueError("give one of `multiply` or `add`")
        if self.multiply is not None and self.add is not None:
            raise ValueError(
                "give one of `multiply` or `add`, not both (a what-if changing its parent's adjustment gives the "
                "parent's operation)"
            )
        for key in ("route", "from_need", "to_need"):
            if (getattr(self, key) is None) == (key in TARGET_KEYS[self.target]):
                needed = "needs" if key in TARGET_KEYS[self.target] else "does not take"
                raise ValueError(f"target = '{self.target}' {needed} `{key}`")
        if self.target == "move" and self.from_need == self.to_need:
            raise ValueError("from_need and to_need must differ")
        if self.target != "entry_rate" and self.add is not None and not -1 <= self.add <= 1:
            raise ValueError(f"add = {self.add:g}: expected from -1 to 1 (a change of a share or a probability)")
        bands = self.age_bands or []
        repeated = sorted({band for band in bands if bands.count(band) > 1})
        if repeated:
            raise ValueError(f"age_bands lists {repeated} more than once")
        return self

    def apply(self, name: str, rates: dict[str, float], journeys: dict[str, Journey]) -> None:
        """Change `rates` (entries by band) or `journeys` in place; ValueError, naming the adjustment, if a rate,
        share or probability would leave its range."""
        key = f"adjustments.{name}.{self.operation}"
        if self.target == "entry_rate":
            self._adjust_entries(key, rates)
        elif self.target == "exit_route":
            self._adjust_routes(key, journeys)
        else:
            self._adjust_moves(key, journeys)

    @property
    def operation(self) -> str:
        return "multiply" if self.multiply is not None else "add"

    def _bands(self) -> list[str]:
        return [band for band in AGE_BANDS if self.age_bands is None or band in self.age_bands]

    def _changed(self, value: float) -> float:
        return value * self.multiply if self.multiply is not None else value + self.add

    def _shown(self, value: float) -> str:
        """`value x 1.2` or `value + 0.1`, for messages."""
        if self.multiply is not None:
            return f"{value:.4g} x {self.multiply:g}"
        return f"{value:.4g} {'-' if self.add < 0 else '+'} {abs(self.add):g}"

    def _adjust_entries(self, key: str, rates: dict[str, float]) -> None:
        for band in self._bands():
            old = rates.get(band, 0.0)
            new = self._changed(old)
            if not 0 <= new <= MAX_ENTRIES_PER_YEAR:
                raise ValueError(
                    f"{key}: entries.rate_per_year.{band} would be {new:.4g} ({self._shown(old)}); expected from 0 "
                    f"to {MAX_ENTRIES_PER_YEAR:,} entries a year"
                )
            if band in rates or new > 0:
                rates[band] = new

    def _adjust_routes(self, key: str, journeys: dict[str, Journey]) -> None:
        for band in self._bands():
            old = journeys[band].exit_routes.get(self.route, 0.0)
            new = self._changed(old)
            if new != old:
                where = f"{key}: journeys.{band}.exit_routes.{self.route} would be {new:.4g} ({self._shown(old)})"
                journeys[band] = _with_route_share(journeys[band], self.route, new, where)

    def _adjust_moves(self, key: str, journeys: dict[str, Journey]) -> None:
        """The bands named (each must have the move), else every band whose journey has it (one at least)."""
        bands = [band for band in self._bands() if self.age_bands is not None or self._moves(journeys[band])]
        if not bands:
            raise ValueError(
                f"{key}: no journey has a move from '{self.from_need}' to '{self.to_need}'; expected a move the "
                "journeys have (an adjustment changes a move's probability: new moves go in `moves`)"
            )
        for band in bands:
            journeys[band] = self._adjusted_moves(f"{key}: journeys.{band}", journeys[band])

    def _moves(self, journey: Journey) -> list[int]:
        return [i for i, m in enumerate(journey.moves) if (m.from_need, m.to_need) == (self.from_need, self.to_need)]

    def _adjusted_moves(self, where: str, journey: Journey) -> Journey:
        """The matching moves' total probability changed, shared among them in proportion (equally from zero)."""
        indices = self._moves(journey)
        if not indices:
            raise ValueError(
                f"{where} has no move from '{self.from_need}' to '{self.to_need}'; expected a move the journey has "
                "(add it to its `moves`) or age_bands without this band"
            )
        old = sum(journey.moves[i].probability for i in indices)
        new = self._changed(old)
        if new < 0:
            raise ValueError(
                f"{where}: the move's probability would be {new:.4g} ({self._shown(old)}); expected 0 or more"
            )
        moves = list(journey.moves)
        for i in indices:
            share = moves[i].probability / old if old > 0 else 1 / len(indices)
            moves[i] = moves[i].model_copy(update={"probability": new * share})
        total = sum(m.probability for m in moves if m.from_need == self.from_need)
        if total > 1 + SUM_TOLERANCE:
            raise ValueError(
                f"{where}: the moves from '{self.from_need}' would have probabilities summing to {total:.4g} "
                f"({self._shown(old)} for this one); expected at most 1"
            )
        return journey.model_copy(update={"moves": moves})


def _with_route_share(journey: Journey, route: str, share: float, where: str) -> Journey:
    """`route` at `share`, the other routes scaled to fill 1 - share in their proportions."""
    if not 0 <= share <= 1:
        raise ValueError(f"{where}; expected a share from 0 to 1")
    rest = sum(p for r, p in journey.exit_routes.items() if r != route)
    if rest <= 0 and share < 1 - SUM_TOLERANCE:
        raise ValueError(f"{where}, but no other route has a share to take the rest; expected another route")
    if share > 0 and route not in ("age_18", *journey.duration):
        raise ValueError(f"{where}, but the journey has no duration.{route}; expected one for a route with a share")
    scale = (1 - share) / rest if rest > 0 else 0.0
    routes = {r: (share if r == route else p * scale) for r, p in journey.exit_routes.items()}
    routes.setdefault(route, share)
    return journey.model_copy(update={"exit_routes": routes})


class EntryChange(ScenarioModel):
    """What changes for children entering care on or after `date`: how many come (a step), how fast that grows
    (a new trend), how long they stay and the need they start in.

    Dated, because demand changes when a service opens or a law starts (an edge-of-care hub, the National
    Transfer Scheme made mandatory), not only by a steady trend. Multipliers accumulate; a trend or a set of
    first-need shares replaces the one before. Children already in care on the start date are unaffected.
    """

    date: dt.date
    age_bands: Annotated[list[AgeBand], Field(min_length=1, max_length=len(AGE_BANDS))] | None = None  # None: all
    rate_multiplier: Multiplier | None = None
    trend_percent_per_year: PercentPerYear | None = None
    stay_multiplier: Multiplier | None = None
    first_need: dict[Need, Probability] | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _consistent(self) -> EntryChange:
        if all(v is None for v in (self.rate_multiplier, self.trend_percent_per_year, self.stay_multiplier)) and (
            self.first_need is None
        ):
            raise ValueError(
                "a change needs at least one of rate_multiplier, trend_percent_per_year, stay_multiplier, first_need"
            )
        if self.trend_percent_per_year is not None and self.age_bands is not None:
            raise ValueError("trend_percent_per_year applies to every age band; give it in a change without age_bands")
        bands = self.age_bands or []
        repeated = sorted({band for band in bands if bands.count(band) > 1})
        if repeated:
            raise ValueError(f"age_bands lists {repeated} more than once")
        if self.first_need is not None:
            _check_sums_to_one(self.first_need, "first_need")
        return self

    def applies_to(self, band: str) -> bool:
        return self.age_bands is None or band in self.age_bands


def _check_date_order(changes: list[EntryChange]) -> list[EntryChange]:
    """In date order as written, so that the file reads as the history it describes (ties keep file order)."""
    for index in range(1, len(changes)):
        if changes[index].date < changes[index - 1].date:
            raise ValueError(
                f"changes[{index}].date {changes[index].date} is before changes[{index - 1}].date "
                f"{changes[index - 1].date}; expected the changes in date order"
            )
    return changes


class TransferScheme(ScenarioModel):
    """The National Transfer Scheme: from `from_date`, an authority caring for as many unaccompanied
    asylum-seeking children as its threshold (the child population x `threshold_share`) transfers each new
    spontaneous arrival out to another authority, and one below it takes the children the scheme offers
    (`offers_per_year`, arriving with the stream's age mix and journeys) until it reaches the threshold."""

    child_population: Annotated[int, Field(ge=1, le=20_000_000)]  # aged 0-17
    threshold_share: Annotated[float, Field(gt=0, le=0.05)] = 0.001  # 0.1% of the child population
    from_date: dt.date
    offers_per_year: PerYear = 0.0
    note: Source  # where the figures come from, or "assumption: why"

    @property
    def threshold(self) -> float:
        """UASC in care at which the authority stops taking children (transfers its own arrivals out)."""
        return self.child_population * self.threshold_share


class RemandStream(ScenarioModel):
    """Children remanded to youth detention accommodation (entries.remand): looked after for the remand only
    (LASPO 2012 s.104), so a stream of its own with its own rate, age mix and journeys rather than a share of
    the main stream's bands, whose exit routes and stays are those of care, not of a remand.

    Drawn from its own named streams, so a scenario without it draws every other number as before. Its rate is
    flat (the courts decide remands, not the authority's trend) and seasonal like every stream.
    """

    rate_per_year: PerYear = 0.0
    age_mix: dict[AgeBand, Probability] = REMAND_AGE_MIX
    male_share: Probability = REMAND_MALE_SHARE
    journeys: dict[AgeBand, Journey] | None = None  # one for each band of the age mix; needed with a rate above 0
    note: Note = ""

    @field_validator("age_mix")
    @classmethod
    def _remand_ages(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(value, "age_mix")
        outside = [band for band, share in value.items() if share > 0 and band not in REMAND_BANDS]
        if outside:
            raise ValueError(
                f"band(s) {outside} are below 10; a child can be remanded from 10 (the age of criminal "
                f"responsibility) to 17, so expected only {list(REMAND_BANDS)}"
            )
        return value

    @model_validator(mode="after")
    def _journeys_for_rate(self) -> RemandStream:
        if self.rate_per_year > 0 and self.journeys is None:
            raise ValueError("rate_per_year is above 0, so journeys are needed (first_need remand, a short stay)")
        missing = [b for b, share in self.age_mix.items() if share > 0 and b not in (self.journeys or {b: None})]
        if missing:
            raise ValueError(f"journeys: a journey is needed for every band of the age mix; missing {missing}")
        return self

    @property
    def used(self) -> bool:
        """Whether the scenario has the stream at all (a rate or journeys): without it nothing is drawn or dumped."""
        return self.rate_per_year > 0 or self.journeys is not None


class UascStream(ScenarioModel):
    """Unaccompanied asylum-seeking children: their own arrival rate, age mix, trend, dated changes and
    (optionally) journeys, and the National Transfer Scheme if it applies."""

    rate_per_year: PerYear = 0.0
    age_mix: dict[AgeBand, Probability] = {"16-17": 1.0}
    male_share: Probability = UASC_MALE_SHARE
    # None: the stream follows the main trend (entries.trend_percent_per_year and the new trends of
    # entries.changes), as every scenario did before the stream had a trend of its own.
    trend_percent_per_year: PercentPerYear | None = None
    changes: list[EntryChange] = Field([], max_length=MAX_LIST)
    journeys: dict[AgeBand, Journey] | None = None
    national_transfer_scheme: TransferScheme | None = None  # None: every arrival stays, none is offered

    @field_validator("age_mix")
    @classmethod
    def _mix_sums(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(value, "age_mix")
        return value

    @field_validator("changes")
    @classmethod
    def _in_order(cls, value: list[EntryChange]) -> list[EntryChange]:
        return _check_date_order(value)

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unused(
            handler(self),
            changes=self.changes,
            trend_percent_per_year=self.trend_percent_per_year,
            national_transfer_scheme=self.national_transfer_scheme,
        )

    @model_validator(mode="after")
    def _own_trend_for_new_trends(self) -> UascStream:
        for index, change in enumerate(self.changes):
            if change.trend_percent_per_year is not None and self.trend_percent_per_year is None:
                raise ValueError(
                    f"changes[{index}].trend_percent_per_year needs entries.uasc.trend_percent_per_year as well "
                    "(without it the UASC stream follows the main trend)"
                )
        return self


def _drop_unused(dumped: dict[str, Any], **values: Any) -> dict[str, Any]:
    """A dump without the later keys (dated changes, parameter draws, Staying Put at the start, adjustments) a
    scenario does not use, so that the record of such a scenario (run.json) is the one it had before those keys
    existed; their defaults read back the same."""
    for key, value in values.items():
        if value is None or (isinstance(value, list | dict) and not value):
            dumped.pop(key, None)
    return dumped


@dataclass(frozen=True)
class EntryStream:
    """One stream of entrants (main or UASC) as the engine and the projection both read it.

    `trends` are the new trends from their dates and `changes` the stream's own dated changes, both in date
    order. The UASC stream without a trend of its own takes the main trends but none of the main changes.
    """

    uasc: bool
    total_per_year: float  # entries per year at the start in an average month
    rate_per_year: dict[str, float]  # by age band
    trend_percent_per_year: float
    trends: tuple[tuple[dt.date, float], ...]
    changes: tuple[EntryChange, ...]
    remand: bool = False  # the remand stream (entries.remand): its own journeys, flat rate

    @property
    def rate_steps(self) -> tuple[EntryChange, ...]:
        return tuple(change for change in self.changes if change.rate_multiplier is not None)

    def journey_changes(self, band: str) -> tuple[EntryChange, ...]:
        """The changes to the journeys of entrants in `band` (stays or first needs)."""
        return tuple(
            change
            for change in self.changes
            if change.applies_to(band) and (change.stay_multiplier is not None or change.first_need is not None)
        )


def _new_trends(changes: list[EntryChange]) -> tuple[tuple[dt.date, float], ...]:
    return tuple((c.date, c.trend_percent_per_year) for c in changes if c.trend_percent_per_year is not None)


MAX_SIBLING_GROUP = 4  # assumption: the brief's sizes 1-4; larger groups are rare and would be placed as 4


class SiblingGroups(ScenarioModel):
    """Children of the main stream arriving together as a sibling group.

    Groups arrive as a compound Poisson process: group days are Poisson at the main stream's rate divided by
    the mean size (with the same trend, seasonality and steps), each group's size drawn from `size_shares`,
    so the expected children a year are unchanged while their count per month is overdispersed (variance over
    mean E[size^2]/E[size]). Every member draws its own age, need and journey; the matching policy places the
    members sharing the first member's first need together where one pool has room for all. UASC arrive alone.
    """

    size_shares: dict[Literal["1", "2", "3", "4"], Probability]
    note: Source  # where the sizes come from, or "assumption: why"

    @field_validator("size_shares")
    @classmethod
    def _shares_sum(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(value, "size_shares")
        return value

    @property
    def sizes(self) -> list[int]:
        return [int(size) for size in self.size_shares]

    @property
    def mean_size(self) -> float:
        return sum(int(size) * share for size, share in self.size_shares.items())

    @property
    def peakedness(self) -> float:
        """E[size^2]/E[size]: the variance over mean of the children arriving in a period, and the size of group
        the average child arrives in (1 when every child arrives alone)."""
        return sum(int(size) ** 2 * share for size, share in self.size_shares.items()) / self.mean_size


FADE_STEP_DAYS = DAYS_PER_YEAR / 4  # a fading trend is applied in quarterly steps, each at its mid-quarter value
FADE_DONE_POINTS = 0.005  # a fade this close to its long-run rate (percentage points) is taken as arrived


class TrendFade(ScenarioModel):
    """The main trend fading from `entries.trend_percent_per_year` on the start date toward a long-run rate.

    A trend fitted to a year or two of figures is a poor guide to year ten (decision 0013): the trend in force
    t years after the start is `to_percent_per_year` + (start trend - `to_percent_per_year`) x 2^(-t /
    `half_life_years`), applied in quarterly steps. A new trend in `entries.changes` replaces the fade from its
    date. A replication's drawn trend (parameter uncertainty) fades the same way.
    """

    to_percent_per_year: PercentPerYear
    half_life_years: Annotated[float, Field(gt=0, le=100)]
    note: Note = ""

    def steps(self, start_trend: float, horizon: Horizon, until: dt.date) -> tuple[tuple[dt.date, float], ...]:
        """The quarterly new trends from the start up to `until` (or the horizon end), then the long-run rate."""
        steps, gap = [], start_trend - self.to_percent_per_year
        for quarter in itertools.count():
            day = horizon.start + dt.timedelta(days=round(quarter * FADE_STEP_DAYS))
            if day >= min(until, horizon.end):
                break
            remaining = gap * 2.0 ** (-(quarter + 0.5) * FADE_STEP_DAYS / DAYS_PER_YEAR / self.half_life_years)
            if abs(remaining) < FADE_DONE_POINTS:
                steps.append((day, self.to_percent_per_year))
                break
            steps.append((day, self.to_percent_per_year + remaining))
        return tuple(steps)


class Entries(ScenarioModel):
    rate_per_year: dict[AgeBand, PerYear]
    trend_percent_per_year: PercentPerYear = 0.0  # on the start date
    trend_fade: TrendFade | None = None  # None: the trend holds (until a new trend in changes)
    seasonality: list[Annotated[float, Field(ge=0, le=12)]] = [1.0] * 12
    need_mix: dict[CategoryOfNeed, Probability]
    male_share: Probability | dict[AgeBand, Probability] = MALE_SHARE_BY_BAND  # one share, or one by age band
    changes: list[EntryChange] = Field([], max_length=MAX_LIST)
    uasc: UascStream = UascStream()
    remand: RemandStream = RemandStream()  # children remanded to youth detention accommodation; default none
    sibling_groups: SiblingGroups | None = None  # None: every child arrives alone

    @field_validator("changes")
    @classmethod
    def _in_order(cls, value: list[EntryChange]) -> list[EntryChange]:
        return _check_date_order(value)

    @field_validator("male_share")
    @classmethod
    def _every_band(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        missing = [band for band in AGE_BANDS if isinstance(value, dict) and band not in value]
        if missing:
            raise ValueError(f"a table of male_share by age band needs every band; missing {', '.join(missing)}")
        return value

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        remand = self.remand if self.remand.used else None
        return _drop_unused(
            handler(self),
            changes=self.changes,
            sibling_groups=self.sibling_groups,
            remand=remand,
            trend_fade=self.trend_fade,
        )

    def male_shares(self, uasc: bool, remand: bool = False) -> tuple[float, ...]:
        """The share male of each band of AGE_BANDS: the UASC or remand stream's own share in every band, else
        male_share."""
        if remand:
            return (self.remand.male_share,) * len(AGE_BANDS)
        if uasc:
            return (self.uasc.male_share,) * len(AGE_BANDS)
        share = self.male_share
        return tuple(share[band] for band in AGE_BANDS) if isinstance(share, dict) else (share,) * len(AGE_BANDS)

    def offers_stream(self) -> EntryStream:
        """The children the National Transfer Scheme offers, a flat rate with the UASC age mix (none without it)."""
        scheme = self.uasc.national_transfer_scheme
        rate = scheme.offers_per_year if scheme is not None else 0.0
        return EntryStream(True, rate, {band: rate * share for band, share in self.uasc.age_mix.items()}, 0.0, (), ())

    def remand_stream(self) -> EntryStream:
        """Children remanded to youth detention accommodation: a flat rate with the remand age mix."""
        rate = self.remand.rate_per_year
        rates = {band: rate * share for band, share in self.remand.age_mix.items()}
        return EntryStream(False, rate, rates, 0.0, (), (), remand=True)

    def streams(self, horizon: Horizon) -> tuple[EntryStream, ...]:
        """Every stream that enters care whatever the capacity: main, UASC, remand (the scheme's offers apart)."""
        return self.stream(False, horizon), self.stream(True, horizon), self.remand_stream()

    def stream(self, uasc: bool, horizon: Horizon) -> EntryStream:
        """The main stream, or the UASC one (its own trend if given, else the main trend and its new trends)."""
        if not uasc:
            rates = dict(self.rate_per_year)
            trend, trends = self._main_trends(horizon)
            return EntryStream(False, sum(rates.values()), rates, trend, trends, tuple(self.changes))
        own = self.uasc.trend_percent_per_year
        trend, trends = self._main_trends(horizon) if own is None else (own, _new_trends(self.uasc.changes))
        return EntryStream(
            True,
            self.uasc.rate_per_year,
            {band: self.uasc.rate_per_year * share for band, share in self.uasc.age_mix.items()},
            trend,
            trends,
            tuple(self.uasc.changes),
        )

    def _main_trends(self, horizon: Horizon) -> tuple[float, tuple[tuple[dt.date, float], ...]]:
        """The main trend in force from the start, and the new trends after it: with a fade, its quarterly
        steps up to the first new trend of `changes`."""
        written = _new_trends(self.changes)
        if self.trend_fade is None:
            return self.trend_percent_per_year, written
        steps = self.trend_fade.steps(self.trend_percent_per_year, horizon, written[0][0] if written else horizon.end)
        if not steps:
            return self.trend_percent_per_year, written
        return steps[0][1], steps[1:] + written

    @field_validator("need_mix")
    @classmethod
    def _need_mix_sums(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(value, "need_mix")
        return value

    @field_validator("seasonality")
    @classmethod
    def _seasonality_mean_one(cls, value: list[float]) -> list[float]:
        if len(value) != 12:
            raise ValueError(f"seasonality needs 12 monthly multipliers (January first), got {len(value)}")
        if abs(sum(value) / 12 - 1.0) > 0.01:
            raise ValueError(f"seasonality multipliers must average 1, got {sum(value) / 12:.4g}")
        return value


class CapacityChange(ScenarioModel):
    date: dt.date
    change: Annotated[int, Field(ge=-MAX_PLACES, le=MAX_PLACES)]
    homes: Annotated[int, Field(ge=-MAX_HOMES, le=MAX_HOMES)] = 0  # homes opened (+) or closed (-), for block costs
    note: Note = ""

    @field_validator("change")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("change must open (+N) or close (-N) places, not 0")
        return value


MAX_AGE_RANGES = 10  # assumption: carers' approvals are reported in a handful of ranges, not dozens
ADULT_AGE = int(LEAVING_CARE_AGE_YEARS)  # approved ranges end by 18 at most
AGE_RANGE_PATTERN = re.compile(r"^(\d{1,2})-(\d{1,2})$")


class FosteringSupply(ScenarioModel):
    """In-house fostering as households, each with its places and its approved age range, followed one by one.

    `approved_ages` is the mix of the households' approved age ranges, "min-max" in whole years (a child of age a
    fits when min <= a < max), e.g. {"0-18" = 0.7, "2-13" = 0.3}. Left out, every household takes any age 0-18:
    an assumption, since no source publishes approved age ranges by household (Stockport notes only its new
    carers' ranges, stockport_sufficiency_2019.md L300, the document's L252).
    """

    households: Annotated[int, Field(ge=0, le=MAX_HOUSEHOLDS)]
    places_per_household: dict[Literal["1", "2", "3", "4"], Probability] = {"1": 1.0}
    approvals_per_year: Annotated[float, Field(ge=0, le=MAX_HOUSEHOLDS_PER_YEAR)] = 0.0
    assessment_delay_days: DaysOrZero = 0.0
    deregistrations_per_year: Annotated[float, Field(ge=0, le=MAX_HOUSEHOLDS_PER_YEAR)] = 0.0
    approved_ages: dict[str, Probability] = {}  # empty: every household takes any age 0-18 (assumption, above)

    @field_validator("places_per_household")
    @classmethod
    def _mix_sums(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sums_to_one(value, "places_per_household")
        return value

    @field_validator("approved_ages")
    @classmethod
    def _ranges(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) > MAX_AGE_RANGES:
            raise ValueError(f"approved_ages: at most {MAX_AGE_RANGES} ranges, got {len(value)}")
        for key in value:
            match = AGE_RANGE_PATTERN.match(key)
            low, high = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            if not match or not 0 <= low < high <= ADULT_AGE:
                raise ValueError(
                    f"approved_ages: '{key}' is not an age range 'min-max' in whole years with "
                    f"0 <= min < max <= {ADULT_AGE}"
                )
        if value:
            _check_sums_to_one(value, "approved_ages")
        return value

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unused(handler(self), approved_ages=self.approved_ages)

    def age_ranges(self) -> tuple[tuple[tuple[int, int], float], ...]:
        """((min, max) years, share) of each approved age range; every age 0-18 when `approved_ages` is empty."""
        if not self.approved_ages:
            return (((0, ADULT_AGE), 1.0),)
        return tuple(((int(k.split("-")[0]), int(k.split("-")[1])), share) for k, share in self.approved_ages.items())


TierName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
MAX_TIERS = 10  # assumption: the LGA high-cost survey and price books name a handful of tiers, not dozens
# assumption: an odds ratio beyond 100 would make a tier certain for a whole category, a slip rather than a plan
OddsMultiplier = Annotated[float, Field(gt=0, le=100)]


class Complexity(ScenarioModel):
    """Complexity tiers: what a child needs beyond its placement need, drawn per child (sim.engine.complexity).

    `tiers` in order, the first the ordinary one; `shares_by_age_band` the tier shares of children entering in
    each age band (every band, each summing to 1; a tier left out has share 0); `odds_by_category_of_need` and
    `odds_by_first_need` multiply the odds of a later tier against the first for children of that CIN code or
    first placement need (then the shares are renormalised: p[t] proportional to share[t] x m_category[t] x
    m_need[t]). A tier decides which pools may take the child (`pools.<name>.tiers`) and its price
    (`prices.pools.<name>.weekly_by_tier`).
    """

    tiers: list[TierName] = Field(min_length=1, max_length=MAX_TIERS)
    shares_by_age_band: dict[AgeBand, dict[str, Probability]]
    odds_by_category_of_need: dict[CategoryOfNeed, dict[str, OddsMultiplier]] = {}
    odds_by_first_need: dict[Need, dict[str, OddsMultiplier]] = {}
    note: Note = ""

    @model_validator(mode="after")
    def _consistent(self) -> Complexity:
        repeated = sorted({tier for tier in self.tiers if self.tiers.count(tier) > 1})
        if repeated:
            raise ValueError(f"tiers lists {repeated} more than once")
        missing = [band for band in AGE_BANDS if band not in self.shares_by_age_band]
        if missing:
            raise ValueError(
                f"shares_by_age_band: a share of each tier is needed for every age band; missing {missing}"
            )
        for band, shares in self.shares_by_age_band.items():
            self._check_tiers(f"shares_by_age_band.{band}", shares, self.tiers)
            _check_sums_to_one(shares, f"shares_by_age_band.{band}")
        for key in ("odds_by_category_of_need", "odds_by_first_need"):
            for group, odds in getattr(self, key).items():
                self._check_tiers(f"{key}.{group}", odds, self.tiers[1:])
        return self

    def _check_tiers(self, key: str, given: dict[str, float], expected: list[str]) -> None:
        unknown = sorted(set(given) - set(expected))
        if unknown:
            first = (
                f" (the first tier, '{self.tiers[0]}', is the one the odds are against)"
                if self.tiers[0] in unknown
                else ""
            )
            raise ValueError(f"{key}: unknown tier(s) {unknown}{first}; expected some of {expected}")

    def tier_index(self, tier: str) -> int:
        return self.tiers.index(tier)


# assumption: a placement breaking down more than monthly on average (12 a year) is a slip, not a plan; the
# national 10% of children with 3 or more placements in a year (national_england.md L120) is far below it
MAX_BREAKDOWNS_PER_YEAR = 12.0


class Hazard(ScenarioModel):
    """One breakdown hazard: placements ending unplanned at `per_year` a placement-year, with its source."""

    per_year: Annotated[float, Field(ge=0, le=MAX_BREAKDOWNS_PER_YEAR)]
    note: Source  # where the rate comes from, or "assumption: why"


class Breakdowns(ScenarioModel):
    """Unplanned endings: each in-care placement breaks down at a constant hazard (an exponential clock from the
    day it starts), and the child then leaves it for a new search for the same need over the matching list
    (which may end in a fallback, or in an emergency placement that bridges). The child's journey is unchanged.

    The hazard of a placement in pool p of need n is `by_pool[p]` when given (every need the pool serves), else
    `by_need[n]`, else 0. Staying Put and Staying Close never break down.
    """

    by_need: dict[Need, Hazard] = Field({}, max_length=len(PLACEMENT_NEEDS))
    by_pool: dict[str, Hazard] = Field({}, max_length=MAX_POOLS)
    note: Note = ""

    def per_day(self, pool: str, need: str) -> float:
        """The hazard per day of a placement in `pool` for `need` (0: it never breaks down)."""
        hazard = self.by_pool[pool] if pool in self.by_pool else self.by_need.get(need)
        return hazard.per_year / DAYS_PER_YEAR if hazard is not None else 0.0


USABLE_ROUNDING = 1e-9  # floor(approved x share) must not lose a place to rounding (10 x 0.9 = 8.999...)


class Pool(ScenarioModel):
    """A source of placements. `kind` says whether a placement here is a proper one or a fallback the ledger
    counts as not sufficient; `availability` and `shared` make an external market that can run out.

    `capacity` counts APPROVED places (foster places, registered beds): real places, as a sufficiency statement
    or a what-if counts them, and so do the places its fostering households give and its `capacity_changes`.
    Matching can use only the usable places, floor(approved x `usable_share`): not every approved place is
    fillable at any time (careful matching leaves about 10% of Stockport's approved foster places unfilled,
    stockport_sufficiency_2019.md L297-L298; nationally 18% of approved places were not available,
    national_england.md L65; a home keeps a bed free for matching or takes a child alone). The usable places
    are recomputed whenever the approved ones change; occupancy (the capacity log) is measured against them.
    """

    serves: list[Need] = Field(min_length=1, max_length=len(PLACEMENT_NEEDS))
    capacity: Places | Literal["unlimited"]  # approved places or beds (see usable_share)
    # Share of approved places matching can use at any time (finite pools only); 1: every approved place.
    usable_share: Annotated[float, Field(gt=0, le=1)] = 1.0
    in_house: bool
    min_age: Annotated[float, Field(ge=0, lt=LEAVING_CARE_AGE_YEARS)] = 0.0
    max_age: Annotated[float, Field(gt=0, le=LEAVING_CARE_AGE_YEARS)] = LEAVING_CARE_AGE_YEARS
    within_20_miles: Probability = 1.0
    homes: Homes = 0  # homes on the start date, for block costs
    capacity_changes: list[CapacityChange] = Field([], max_length=MAX_LIST)
    fostering: FosteringSupply | None = None
    kind: PoolKind = "placement"
    availability: Probability = 1.0  # chance that one search of the pool finds a place (when it has one free)
    bridging_days: Distribution | None = None  # emergency pools: how long a placement bridges to the next search
    shared: str | None = None  # a regional pool's name: in a region run, every pool so named is one pool
    # The complexity tiers ([complexity].tiers) the pool takes; None: every tier. Matching skips a pool that does
    # not take the child's tier as it skips one that does not take its age.
    tiers: Annotated[list[TierName], Field(min_length=1, max_length=MAX_TIERS)] | None = None
    description: Text = ""

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped = handler(self)
        for key, default in (("kind", "placement"), ("availability", 1.0), ("usable_share", 1.0)):
            if dumped.get(key) == default:
                dumped.pop(key)
        return _drop_unused(dumped, bridging_days=self.bridging_days, shared=self.shared, tiers=self.tiers)

    @model_validator(mode="after")
    def _consistent(self) -> Pool:
        if self.max_age <= self.min_age:
            raise ValueError(f"max_age ({self.max_age}) must be above min_age ({self.min_age})")
        if self.unlimited and (self.capacity_changes or self.fostering):
            raise ValueError("an unlimited pool cannot have capacity_changes or fostering supply")
        if self.unlimited and self.usable_share < 1:
            raise ValueError(
                f"usable_share: {self.usable_share:g} on an unlimited pool; a usable share applies to a finite "
                "number of approved places, so expected 1 (or leave it out) here"
            )
        if self.kind == "emergency" and self.bridging_days is None:
            raise ValueError(
                "bridging_days: needed for kind = 'emergency' (a distribution of days, e.g. { distribution = "
                '"fixed", days = 28 }): an emergency placement bridges to a new search after that long'
            )
        if self.kind != "emergency" and self.bridging_days is not None:
            raise ValueError(f"bridging_days: only an emergency pool bridges to a new search; this is '{self.kind}'")
        if self.shared is not None:
            self._check_shared()
        return self

    def _check_shared(self) -> None:
        if not POOL_NAME.fullmatch(self.shared):
            raise ValueError(
                f"shared {self.shared[:40]!r}: expected a letter, then up to 63 letters, digits, '_' or '-'"
            )
        if self.unlimited or self.capacity_changes or self.fostering:
            raise ValueError(
                "shared: a shared pool has a fixed number of places, so expected a whole-number capacity and no "
                "capacity_changes or fostering supply (authorities competing for an unlimited pool never meet)"
            )

    @property
    def unlimited(self) -> bool:
        return self.capacity == "unlimited"

    @property
    def proper(self) -> bool:
        """A placement here is a proper placement of the needs it serves (not a fallback kind)."""
        return self.kind == "placement"

    @property
    def found_by_searching(self) -> bool:
        """Its places are found only by a search (availability below 1, or shared with other authorities), so
        children do not wait for them: each new search tries them again."""
        return self.availability < 1.0 or self.shared is not None

    @property
    def last_resort(self) -> bool:
        """It can always place any child: unlimited, every age and complexity tier, found at every search."""
        return self.unlimited and self.takes_all_ages and self.availability >= 1.0 and self.tiers is None

    def takes_tier(self, tier: str) -> bool:
        return self.tiers is None or tier in self.tiers

    @property
    def takes_all_ages(self) -> bool:
        return self.min_age == 0 and self.max_age >= LEAVING_CARE_AGE_YEARS

    def usable(self, approved: float) -> float:
        """The places matching can use out of `approved` approved places: floor(approved x usable_share)."""
        if math.isinf(approved) or self.usable_share >= 1:
            return approved
        return float(math.floor(approved * self.usable_share + USABLE_ROUNDING))

    @property
    def usable_capacity(self) -> float:
        """Usable places on the start date (inf for an unlimited pool)."""
        return math.inf if self.unlimited else self.usable(float(self.capacity))

    def places_on(self, day: dt.date) -> int:
        """Approved places (beds) open on `day` by the plan: the starting capacity with the dated changes up to
        that day (foster-carer recruitment and deregistration, drawn per replication, are not in it; the usable
        places are `usable(places_on(day))`). Finite pools only."""
        return int(self.capacity) + sum(c.change for c in self.capacity_changes if c.date <= day)

    def homes_on(self, day: dt.date) -> int:
        """Homes open on `day` by the plan, as `places_on` counts beds."""
        return self.homes + sum(c.homes for c in self.capacity_changes if c.date <= day)


class Matching(ScenarioModel):
    """Where children with one placement need go: preferred pools in order, then fallbacks."""

    pools: list[str] = Field(min_length=1, max_length=MAX_POOLS)
    fallback: list[str] = Field([], max_length=MAX_POOLS)

    @property
    def options(self) -> list[str]:
        return self.pools + self.fallback


class StepBack(ScenarioModel):
    """Move a child from a less-preferred placement when a preferred place frees."""

    enabled: bool = False
    min_days: DaysOrZero = 0.0
    probability: Probability = 1.0


class StayingPut(ScenarioModel):
    probability: Probability = 0.0
    until_age: Annotated[float, Field(gt=LEAVING_CARE_AGE_YEARS, le=25)] = 21.0
    duration: Distribution | None = None
    pools: list[str] | None = None  # default: every pool serving fostering or kinship fostering


class StayingClose(ScenarioModel):
    probability: Probability = 0.0
    until_age: Annotated[float, Field(gt=LEAVING_CARE_AGE_YEARS, le=25)] = 21.0
    duration: Distribution | None = None
    pool: str | None = None

    @model_validator(mode="after")
    def _pool_when_used(self) -> StayingClose:
        if self.probability > 0 and self.pool is None:
            raise ValueError("staying_close needs a `pool` when its probability is above 0")
        return self


class LeavingCare(ScenarioModel):
    staying_put: StayingPut = StayingPut()
    staying_close: StayingClose = StayingClose()


class Adoption(ScenarioModel):
    """Children whose exit route is adoption wait in `first_need` for an approved adopter."""

    first_need: Need = "fostering"
    adopter_approvals_per_year: PerYear | Literal["unlimited"] = "unlimited"
    adopters_waiting_at_start: Places = 0
    time_to_order: Distribution | None = None


class Scenario(ScenarioModel):
    name: Name
    description: Text = ""
    extends: str | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    horizon: Horizon
    start_population: StartPopulation = StartPopulation()
    entries: Entries
    journeys: dict[AgeBand, Journey]
    adjustments: dict[str, Adjustment] = Field({}, max_length=MAX_LIST)  # applied in order, the parents' first
    pools: dict[str, Pool] = Field(min_length=1, max_length=MAX_POOLS)
    matching: dict[Need, Matching]
    step_back: StepBack = StepBack()
    leaving_care: LeavingCare = LeavingCare()
    adoption: Adoption = Adoption()
    complexity: Complexity | None = None  # complexity tiers drawn per child; None: one tier, nothing drawn
    breakdowns: Breakdowns | None = None  # unplanned endings of placements; None: placements never break down
    prices: PriceBook | None = None
    one_off_costs: list[OneOffCost] = Field([], max_length=MAX_ONE_OFF_COSTS)  # capital and start-up, by date
    budget: dict[str, BudgetYear] = Field({}, max_length=MAX_LIST)  # by financial year label ("2019-20")
    uncertainty: Uncertainty | None = None  # parameter draws per replication (sim.engine.parameters)
    _written: tuple[Entries, dict[str, Journey]] | None = PrivateAttr(None)  # before the adjustments

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped = handler(self._as_written())
        return _drop_unused(
            dumped,
            uncertainty=self.uncertainty,
            adjustments=self.adjustments,
            complexity=self.complexity,
            breakdowns=self.breakdowns,
            one_off_costs=self.one_off_costs,
            budget=self.budget,
        )

    @model_validator(mode="wrap")
    @classmethod
    def _with_adjustments(cls, data: Any, handler: ModelWrapValidatorHandler[Scenario]) -> Scenario:
        """The scenario as written, checked, then with its adjustments applied and checked again.

        So every reader (the engine, the projection, the parameter draws) sees the adjusted rates, and a rate
        made invalid by an adjustment is refused, naming the adjustment.
        """
        scenario = handler(data)
        if isinstance(data, Scenario) or not scenario.adjustments:
            return scenario
        adjusted = scenario.model_copy(update=_adjusted_sections(scenario))
        try:
            adjusted._cross_references()
        except ValueError as error:
            raise ValueError(f"{error} (with the adjustments applied)") from None
        adjusted._written = (scenario.entries, scenario.journeys)
        return adjusted

    def _as_written(self) -> Scenario:
        """This scenario with the entries and journeys before its adjustments: its dump then reads back the same
        (the adjustments apply once) and records what the file said next to the adjustments."""
        entries, journeys = self._written or (self.entries, self.journeys)
        written = self.model_copy(update={"entries": entries, "journeys": journeys})
        if self.adjustments and _adjusted_sections(written) != {"entries": self.entries, "journeys": self.journeys}:
            raise ValueError(
                "a scenario whose adjustments, entries or journeys changed after validation cannot be written: "
                "validate the changed document instead"
            )
        return written

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        _check_journeys(self)
        _check_entry_changes(self)
        _check_pools(self)
        _check_tiers(self)
        _check_breakdowns(self)
        _check_matching(self)
        _check_start_population(self)
        _check_leaving_care(self)
        _check_prices(self)
        _check_money_keys(self)
        _check_work(self)
        return self

    @field_validator("pools", "adjustments")
    @classmethod
    def _names(cls, named: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        what = "pool" if info.field_name == "pools" else "adjustment"
        for name in named:
            if not POOL_NAME.fullmatch(name):
                raise ValueError(
                    f"{what} name {name[:40]!r}: expected a letter, then up to 63 letters, digits, '_' or '-'"
                )
        return named

    def expected_children(self) -> float:
        """Children one replication is expected to simulate: the starting population and the entries over the
        horizon (the rate compounded by the trends, with the dated steps; seasonality averages one)."""
        population = self.start_population
        start = sum(g.count for g in (*population.groups, *population.staying_put)) + len(population.children)
        streams = (*self.entries.streams(self.horizon), self.entries.offers_stream())
        return start + sum(_expected_entries(stream, self.horizon) for stream in streams)

    @property
    def tier_names(self) -> list[str]:
        """The complexity tiers in order (Cohort.tier indexes them); one unnamed tier without [complexity]."""
        return list(self.complexity.tiers) if self.complexity is not None else [""]

    def journeys_for(self, uasc: bool, remand: bool = False) -> dict[str, Journey]:
        """The journeys of a stream's entrants: the remand stream's own, the UASC stream's own if given, else the
        main ones."""
        if remand:
            return self.entries.remand.journeys or {}
        if uasc and self.entries.uasc.journeys is not None:
            return self.entries.uasc.journeys
        return self.journeys

    def pools_in_use(self) -> dict[str, str]:
        """Every pool a child or young person can occupy, with where it is used (for error messages)."""
        used: dict[str, str] = {}
        for need in sorted(self.needs_in_use()):
            for name in self.matching[need].options if need in self.matching else []:
                used.setdefault(name, f"matching.{need}")
        for name, _ in self.start_population.all_pools_and_needs():
            used.setdefault(name, "start_population")
        for group in self.start_population.staying_put:
            used.setdefault(group.pool, "start_population.staying_put")
        if self.leaving_care.staying_close.probability > 0 and self.leaving_care.staying_close.pool:
            used.setdefault(self.leaving_care.staying_close.pool, "leaving_care.staying_close.pool")
        return used

    def staying_put_pools(self) -> list[str]:
        """The pools where Staying Put is possible: `leaving_care.staying_put.pools`, else every foster-care pool."""
        pools = self.leaving_care.staying_put.pools
        if pools is None:
            return [name for name, pool in self.pools.items() if set(FOSTER_CARE) & set(pool.serves) and pool.proper]
        return pools

    def needs_in_use(self) -> set[str]:
        """Every placement need a child can be in: each must have a matching entry."""
        needs: set[str] = set()
        for change in (*self.entries.changes, *self.entries.uasc.changes):
            needs |= {n for n, p in (change.first_need or {}).items() if p > 0}
        remand = self.entries.remand.journeys or {}
        for journeys in (self.journeys, self.entries.uasc.journeys or {}, remand):
            for journey in journeys.values():
                needs |= {n for n, p in journey.first_need.items() if p > 0}
                needs |= {m.to_need for m in journey.moves if m.probability > 0}
                if journey.exit_routes.get("adoption", 0) > 0:
                    needs |= {self.adoption.first_need, "placed_for_adoption"}
        needs |= {need for _, need in self.start_population.all_pools_and_needs()}
        return needs


def _adjusted_sections(s: Scenario) -> dict[str, Any]:
    """The entries and journeys with every adjustment applied, in order (a model_copy update)."""
    rates, journeys = dict(s.entries.rate_per_year), dict(s.journeys)
    for name, adjustment in s.adjustments.items():
        adjustment.apply(name, rates, journeys)
    entries = s.entries if rates == s.entries.rate_per_year else s.entries.model_copy(update={"rate_per_year": rates})
    return {"entries": entries, "journeys": journeys}


def _check_journeys(s: Scenario) -> None:
    every_band = (("journeys", s.journeys), ("entries.uasc.journeys", s.entries.uasc.journeys))
    for label, journeys in (*every_band, ("entries.remand.journeys", s.entries.remand.journeys)):
        if journeys is None:
            continue
        missing = [band for band in AGE_BANDS if band not in journeys]
        if missing and label != "entries.remand.journeys":  # the remand stream needs its age mix's bands only
            raise ValueError(f"{label}: a journey is needed for every age band; missing {missing}")
        for band, journey in journeys.items():
            if journey.exit_routes.get("adoption", 0) > 0 and s.adoption.time_to_order is None:
                raise ValueError(f"{label}.{band}: adoption is an exit route, so adoption.time_to_order is needed")


def _check_entry_changes(s: Scenario) -> None:
    """Dated changes inside the horizon: one before the start would be in the start's rates already, or not
    (which is unclear), and one from the end on would change nothing."""
    for label, changes in (("entries.changes", s.entries.changes), ("entries.uasc.changes", s.entries.uasc.changes)):
        for index, change in enumerate(changes):
            if not s.horizon.start <= change.date < s.horizon.end:
                raise ValueError(
                    f"{label}[{index}].date: {change.date} is outside the horizon; expected a date from "
                    f"{s.horizon.start} up to (not including) {s.horizon.end}"
                )


def _expected_entries(stream: EntryStream, horizon: Horizon) -> float:
    """A stream's expected entries over the horizon: its rate integrated in closed form between change dates.

    The horizon counts as `years` whole years, as this estimate always has (the work limits are set on it)."""
    end = float(horizon.years)

    def years(day: dt.date) -> float:
        return min((day - horizon.start).days / DAYS_PER_YEAR, end)

    knots = sorted({0.0, end, *(years(c.date) for c in stream.changes), *(years(day) for day, _ in stream.trends)})
    total, level = 0.0, 1.0
    for low, high in itertools.pairwise(knots):
        trend = [stream.trend_percent_per_year] + [g for day, g in stream.trends if years(day) <= low]
        growth = math.log1p(trend[-1] / 100.0)
        rate = 0.0
        for band, base in stream.rate_per_year.items():
            steps = [c.rate_multiplier for c in stream.rate_steps if c.applies_to(band) and years(c.date) <= low]
            rate += base * math.prod(steps)
        span = high - low
        total += rate * level * (span if abs(growth) < 1e-12 else math.expm1(growth * span) / growth)
        level *= math.exp(growth * span)
    return total


def _check_pools(s: Scenario) -> None:
    for name, pool in s.pools.items():
        for index, change in enumerate(pool.capacity_changes):
            if not s.horizon.start <= change.date < s.horizon.end:
                raise ValueError(
                    f"pools.{name}.capacity_changes[{index}].date: {change.date} is outside the horizon; expected "
                    f"a date from {s.horizon.start} up to (not including) {s.horizon.end}"
                )
        _check_places_never_negative(name, pool)


def _check_places_never_negative(name: str, pool: Pool) -> None:
    """Dated closures may not close more places than the pool has then (the extra would vanish silently)."""
    if pool.unlimited:
        return
    for index, change in sorted(enumerate(pool.capacity_changes), key=lambda item: item[1].date):
        places = pool.places_on(change.date)
        if places < 0:
            raise ValueError(
                f"pools.{name}.capacity_changes[{index}].change: the changes up to {change.date} leave {places} "
                "places; expected closures of no more places than the pool has open"
            )


def _check_tiers(s: Scenario) -> None:
    """A pool's `tiers` are tiers the scenario names: without [complexity] every child is of one tier."""
    for name, pool in s.pools.items():
        if pool.tiers is None:
            continue
        if s.complexity is None:
            raise ValueError(f"pools.{name}.tiers: the scenario has no [complexity] tiers; add [complexity] first")
        unknown = [tier for tier in pool.tiers if tier not in s.complexity.tiers]
        repeated = sorted({tier for tier in pool.tiers if pool.tiers.count(tier) > 1})
        if unknown or repeated:
            what = f"unknown tier(s) {unknown}" if unknown else f"lists {repeated} more than once"
            raise ValueError(f"pools.{name}.tiers: {what}; expected some of [complexity].tiers {s.complexity.tiers}")


def _check_breakdowns(s: Scenario) -> None:
    """`breakdowns.by_pool` names pools of the scenario."""
    if s.breakdowns is None:
        return
    unknown = sorted(set(s.breakdowns.by_pool) - set(s.pools))
    if unknown:
        raise ValueError(f"breakdowns.by_pool: unknown pool(s) {unknown}; expected some of {sorted(s.pools)}")


def _check_matching(s: Scenario) -> None:
    for need, matching in s.matching.items():
        for name in matching.options:
            if name not in s.pools:
                key = "pools" if name in matching.pools else "fallback"
                raise ValueError(
                    f"matching.{need}.{key}: pool '{name}' is not defined under [pools]; "
                    f"expected one of: {', '.join(s.pools)}"
                )
        for name in matching.pools:
            if need not in s.pools[name].serves:
                raise ValueError(
                    f"matching.{need}.pools: pool '{name}' does not serve '{need}' "
                    f"(it serves {s.pools[name].serves}); put it under fallback instead"
                )
        last = s.pools[matching.options[-1]]
        if not last.last_resort:
            key = "fallback" if matching.fallback else "pools"
            raise ValueError(
                f"matching.{need}.{key}: the last option ('{matching.options[-1]}', {_why_not_last_resort(last)}) "
                "must be an unlimited pool taking all ages and every complexity tier (no `tiers`) with availability "
                "1 (a last resort of any kind), so that every child can be placed somewhere"
            )
    missing = sorted(s.needs_in_use() - set(s.matching))
    if missing:
        raise ValueError(f"matching: no entry for placement need(s) {missing}, which children can have")


def _why_not_last_resort(pool: Pool) -> str:
    if not pool.unlimited:
        return f"capacity {pool.capacity}"
    if not pool.takes_all_ages:
        return f"ages {pool.min_age:g} to {pool.max_age:g}"
    if pool.tiers is not None:
        return f"tiers {pool.tiers}"
    return f"availability {pool.availability:g}"


def _check_start_population(s: Scenario) -> None:
    children: dict[str, int] = {}
    for group in s.start_population.groups:
        children[group.pool] = children.get(group.pool, 0) + group.count
    for child in s.start_population.children:
        children[child.pool] = children.get(child.pool, 0) + 1
    for index, group in enumerate(s.start_population.groups):
        _check_start_place(s, group.pool, group.need, f"pool '{group.pool}'")
        _check_start_ages(s, index, group)
        low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(group.age_band)]
        _check_start_tiers(s, group.pool, low, high, group.days_in_care, f"start_population.groups[{index}]")
    for number, child in enumerate(s.start_population.children, start=1):
        # A CSV cell is a child's data: name the row, never the value.
        _check_start_place(s, child.pool, child.need, f"the pool of the CSV's child {number}")
        where = f"start_population: the CSV's child {number}"
        _check_start_tiers(s, child.pool, child.age_years, child.age_years, child.days_in_care, where)
    staying_put: dict[str, int] = {}
    for index, group in enumerate(s.start_population.staying_put):
        _check_staying_put_place(s, index, group.pool)
        staying_put[group.pool] = staying_put.get(group.pool, 0) + group.count
    for pool_name in {**children, **staying_put}:
        _check_start_capacity(s, pool_name, children.get(pool_name, 0), staying_put.get(pool_name, 0))
    older = s.start_population.aged_16_or_over()
    if s.start_population.uasc > older:
        raise ValueError(
            f"start_population.uasc: {s.start_population.uasc} asylum-seeking children, but only {older} children "
            "in care on the start date are aged 16 or 17"
        )


def _check_staying_put_place(s: Scenario, index: int, pool_name: str) -> None:
    key = f"start_population.staying_put[{index}].pool"
    if pool_name not in s.pools:
        pools = ", ".join(s.pools)
        raise ValueError(f"{key}: pool '{pool_name}' is not defined under [pools]; expected one of: {pools}")
    pools = s.staying_put_pools()
    if pool_name not in pools:
        where = (
            "leaving_care.staying_put.pools"
            if s.leaving_care.staying_put.pools is not None
            else f"by default the pools serving {' or '.join(FOSTER_CARE)}"
        )
        raise ValueError(
            f"{key}: pool '{pool_name}' is not a Staying Put pool; expected one of the pools where Staying Put is "
            f"possible ({where}): {', '.join(pools) or 'none'}"
        )


def _check_start_capacity(s: Scenario, pool_name: str, children: int, staying_put: int) -> None:
    """Everyone starting in a pool has a usable place there: the model seats them where the file says."""
    pool = s.pools[pool_name]
    if pool.unlimited or children + staying_put <= pool.usable_capacity:
        return
    who = []
    if children:
        who.append(f"{children} children" + (" in care" if staying_put else ""))
    if staying_put:
        who.append(f"{staying_put} young people Staying Put (start_population.staying_put)")
    if pool.usable_share < 1:
        raise ValueError(
            f"start_population: {' and '.join(who)} start in pool '{pool_name}', above its usable places; "
            f"expected at most {pool.usable_capacity:.0f} (pools.{pool_name}.capacity = {pool.capacity} approved "
            f"places x usable_share {pool.usable_share:g}, rounded down)"
        )
    raise ValueError(
        f"start_population: {' and '.join(who)} start in pool '{pool_name}', above its capacity; "
        f"expected at most pools.{pool_name}.capacity = {pool.capacity}"
    )


def _check_start_place(s: Scenario, pool_name: str, need: str, what: str) -> None:
    if pool_name not in s.pools:
        pools = ", ".join(s.pools)
        raise ValueError(f"start_population: {what} is not defined under [pools]; expected one of: {pools}")
    if need in s.matching and pool_name not in s.matching[need].options:
        raise ValueError(
            f"start_population: children needing '{need}' are in pool '{pool_name}', "
            f"which is not among matching.{need} options"
        )


def _check_start_tiers(s: Scenario, pool_name: str, low: float, high: float, days: float, where: str) -> None:
    """A starting child's tier is drawn among the tiers its pool takes (sim.engine.complexity), so each age band
    it can have entered care in (aged `low` to `high` now, `days` in care) needs a share of one of them."""
    pool = s.pools[pool_name]
    if pool.tiers is None or s.complexity is None:
        return
    years = days / DAYS_PER_YEAR
    first, last = max(low - years, 0.0), max(high - years, 0.0)
    for band, (band_low, band_high) in zip(AGE_BANDS, AGE_BAND_BOUNDS_YEARS, strict=True):
        if band_high <= first or (band_low > last or (band_low == last and high > low)):
            continue  # the band cannot be the band at entry
        shares = s.complexity.shares_by_age_band[band]
        if sum(shares.get(tier, 0.0) for tier in pool.tiers) <= 0:
            raise ValueError(
                f"{where}: children start in pool '{pool_name}', which takes tiers {pool.tiers} (pools.{pool_name}"
                f".tiers), but children entering care aged {band} have no share of them "
                f"([complexity].shares_by_age_band.{band}); expected a pool taking a tier they can have"
            )


def _check_start_ages(s: Scenario, index: int, group: StartGroup) -> None:
    """A group's band must overlap its pool's ages: the model seats starting children where the file says,
    so a band the pool cannot take would put them there anyway. Partial overlap is allowed (calibration
    spreads published margins over every pool a band reaches)."""
    pool = s.pools[group.pool]
    low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(group.age_band)]
    if high <= pool.min_age or low >= pool.max_age:
        raise ValueError(
            f"start_population.groups[{index}]: children aged {group.age_band} start in pool '{group.pool}', "
            f"which takes ages {pool.min_age:g} to {pool.max_age:g}; expected a pool whose ages overlap the band"
        )


def _check_work(s: Scenario) -> None:
    expected = s.expected_children()
    if expected > MAX_EXPECTED_CHILDREN:
        raise ValueError(
            f"entries: about {expected:,.0f} children would enter or start in care in one replication; expected at "
            f"most {MAX_EXPECTED_CHILDREN:,} (check entries.rate_per_year, trend_percent_per_year and horizon.years)"
        )


def _check_prices(s: Scenario) -> None:
    if s.prices is None:
        return
    for name in s.prices.pools:
        if name not in s.pools:
            raise ValueError(f"prices.pools.{name}: pool '{name}' is not defined under [pools]")
    for group_name, group in s.prices.inflation_groups.items():
        for name in group.pools:
            if name not in s.pools:
                raise ValueError(f"prices.inflation_groups.{group_name}.pools: pool '{name}' is not defined")
    for name, where in s.pools_in_use().items():
        if name not in s.prices.pools:
            raise ValueError(f"prices.pools.{name}: pool '{name}' is used ({where}) but has no price")
    for name, price in s.prices.pools.items():
        pool = s.pools[name]
        homes = [pool.homes]
        for change in sorted(pool.capacity_changes, key=lambda c: c.date):
            homes.append(homes[-1] + change.homes)
        if min(homes) < 0:
            raise ValueError(f"pools.{name}: capacity_changes close more homes than the pool has")
        if price.block_per_home_per_year is not None and max(homes) == 0:
            raise ValueError(
                f"prices.pools.{name}.block_per_home_per_year: pool '{name}' has no homes "
                f"(set pools.{name}.homes or `homes` on its capacity_changes)"
            )
    check_pool_prices(s.prices, s.pools, s.tier_names)


def _check_money_keys(s: Scenario) -> None:
    priced = s.prices is not None
    check_one_off_costs(s.one_off_costs, s.pools, s.horizon.start, s.horizon.end, priced)
    check_budget(s.budget, s.horizon.start, s.horizon.end, priced)


def _check_leaving_care(s: Scenario) -> None:
    for name in s.leaving_care.staying_put.pools or []:
        if name not in s.pools:
            raise ValueError(f"leaving_care.staying_put.pools: pool '{name}' is not defined under [pools]")
        if not set(FOSTER_CARE) & set(s.pools[name].serves):
            raise ValueError(
                f"leaving_care.staying_put.pools: pool '{name}' serves {s.pools[name].serves}; Staying Put is with "
                f"foster carers, so expected pools serving {' or '.join(FOSTER_CARE)} (Staying Close is for homes)"
            )
        if not s.pools[name].proper:
            raise ValueError(
                f"leaving_care.staying_put.pools: pool '{name}' is of kind '{s.pools[name].kind}'; Staying Put is "
                "with foster carers, so expected a pool of kind 'placement'"
            )
    close_pool = s.leaving_care.staying_close.pool
    if close_pool is not None and close_pool not in s.pools:
        raise ValueError(f"leaving_care.staying_close.pool: pool '{close_pool}' is not defined under [pools]")


def shared_pool_groups(scenarios: list[Scenario], labels: list[str]) -> list[list[int]]:
    """The authorities of a region that must run in one simulation: those linked by pools `shared` under one
    name (groups of one run alone). ScenarioError, naming the key, when linked authorities disagree on what
    they share: its places, the horizon, or more children starting in it than it has places."""
    holders: dict[str, list[int]] = {}
    for index, scenario in enumerate(scenarios):
        for pool in scenario.pools.values():
            if pool.shared is not None and index not in holders.setdefault(pool.shared, []):
                holders[pool.shared].append(index)
    group = list(range(len(scenarios)))  # union-find over the authorities
    for shared, indices in holders.items():
        if len(indices) > 1:
            _check_shared(shared, [scenarios[i] for i in indices], [labels[i] for i in indices])
            for other in indices[1:]:
                group[_root(group, other)] = _root(group, indices[0])
    groups: dict[int, list[int]] = {}
    for index in range(len(scenarios)):
        groups.setdefault(_root(group, index), []).append(index)
    return list(groups.values())


def _root(group: list[int], index: int) -> int:
    while group[index] != index:
        index = group[index]
    return index


def _check_shared(shared: str, scenarios: list[Scenario], labels: list[str]) -> None:
    pools = [
        (label, scenario, name, pool)
        for label, scenario in zip(labels, scenarios, strict=True)
        for name, pool in scenario.pools.items()
        if pool.shared == shared
    ]
    capacity = pools[0][3].capacity
    if any(pool.capacity != capacity for *_, pool in pools):
        listed = ", ".join(f"{label}: pools.{name}.capacity = {pool.capacity}" for label, _, name, pool in pools)
        raise ScenarioError(f"shared pool '{shared}': its authorities give different places ({listed}); expected one")
    if len({pool.usable_share for *_, pool in pools}) > 1:
        listed = ", ".join(
            f"{label}: pools.{name}.usable_share = {pool.usable_share:g}" for label, _, name, pool in pools
        )
        raise ScenarioError(
            f"shared pool '{shared}': its authorities give different usable shares ({listed}); expected one"
        )
    usable = pools[0][3].usable_capacity
    if len({(s.horizon.start, s.horizon.years) for s in scenarios}) > 1:
        spans = zip(labels, scenarios, strict=True)
        listed = ", ".join(f"{label}: {s.horizon.start} for {s.horizon.years} years" for label, s in spans)
        raise ScenarioError(
            f"shared pool '{shared}': authorities sharing a pool run in one simulation, so expected the same "
            f"[horizon] start and years ({listed})"
        )
    starting = sum(_starting_in(scenario, name) for _, scenario, name, _ in pools)
    if starting > usable:
        raise ScenarioError(
            f"shared pool '{shared}': {starting} children and young people start in it across {', '.join(labels)}; "
            f"expected at most its usable places, {usable:.0f} ({capacity} approved x usable_share "
            f"{pools[0][3].usable_share:g}; start_population of each)"
        )


def _starting_in(scenario: Scenario, pool_name: str) -> int:
    """Children in care and young people Staying Put who start in the pool."""
    population = scenario.start_population
    groups = sum(g.count for g in (*population.groups, *population.staying_put) if g.pool == pool_name)
    return groups + sum(1 for child in population.children if child.pool == pool_name)
