"""Workshop levers and the what-if scenario they make from a baseline.

Every lever maps onto a key the scenario schema already has, so a what-if is an ordinary scenario file:
children's homes are a dated `capacity_changes` entry (with `homes`) on the in-house home pool; recruitment is
the in-house fostering pool's `approvals_per_year` (both add APPROVED beds and places: a pool with a
`usable_share` below 1 matches children to floor(approved x usable_share) of them, the engine's conversion);
a step-down programme is a residential-to-fostering entry in every journey's `moves`; entries are
`entries.rate_per_year` and `trend_percent_per_year`; Staying Put is `leaving_care.staying_put.probability`;
prices and inflation scale the `[prices]` book. A baseline's `adjustments` stay in the file and apply on top of
the levers, except where a lever sets the rate they adjust (below).

The what-if is written self-contained (the baseline merged, with the levers applied), so the downloaded file
runs with `sufficiency run` anywhere, without the baseline next to it.
"""

from __future__ import annotations

import copy
import datetime as dt
import textwrap
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim import __version__
from sim.engine.errors import InputError
from sim.engine.price_book import scale_price_document, shift_uplift_documents
from sim.engine.scenario import Scenario
from sim.engine.toml_writer import to_toml
from sim.engine.vocabulary import DAYS_PER_YEAR

DAYS_PER_MONTH = DAYS_PER_YEAR / 12
STEP_DOWN = ("move", "residential", "fostering")  # the adjustment target the step-down lever replaces
# (lowest, highest) of each lever: checked by the model and used as the page's widget limits.
LIMITS: dict[str, tuple[float, float]] = {
    "homes_change": (-10, 10),
    "beds_per_home": (1, 12),
    "extra_foster_approvals_per_year": (-50, 100),
    "step_down_share": (0, 1),
    "step_down_after_months": (0, 60),
    "entries_change_percent": (-50, 100),
    "entries_trend_percent_per_year": (-20, 20),
    "staying_put_probability": (0, 1),
    "external_price_change_percent": (-50, 100),
    "in_house_price_change_percent": (-50, 100),
    "inflation_change_points": (-10, 10),
}


def _within(lever: str) -> Any:
    low, high = LIMITS[lever]
    return Field(ge=low, le=high)


class LeverError(InputError, ValueError):
    """A lever this baseline cannot take (no in-house home pool, more beds closed than it has, ...)."""


class Levers(BaseModel):
    """What a workshop changes relative to the baseline. The defaults change nothing; None keeps the baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    homes_change: Annotated[int, _within("homes_change")] = 0  # homes opened (+) or closed (-)
    beds_per_home: Annotated[int, _within("beds_per_home")] = 2
    homes_date: dt.date | None = None  # None: the first 1 April after the start
    extra_foster_approvals_per_year: Annotated[float, _within("extra_foster_approvals_per_year")] = 0.0
    step_down_share: Annotated[float, _within("step_down_share")] | None = None  # None: the baseline's moves
    step_down_after_months: tuple[
        Annotated[int, _within("step_down_after_months")], Annotated[int, _within("step_down_after_months")]
    ] = (6, 9)
    entries_change_percent: Annotated[float, _within("entries_change_percent")] = 0.0
    entries_trend_percent_per_year: Annotated[float, _within("entries_trend_percent_per_year")] | None = None
    staying_put_probability: Annotated[float, _within("staying_put_probability")] | None = None
    external_price_change_percent: Annotated[float, _within("external_price_change_percent")] = 0.0
    in_house_price_change_percent: Annotated[float, _within("in_house_price_change_percent")] = 0.0
    inflation_change_points: Annotated[float, _within("inflation_change_points")] = 0.0

    @model_validator(mode="after")
    def _timing_is_a_range(self) -> Levers:
        low, high = self.step_down_after_months
        if high <= low:
            raise ValueError(f"step_down_after_months: the end ({high}) must be after the start ({low})")
        return self

    def settings(self) -> list[str]:
        """The levers that differ from their defaults, as `name = value` (for the what-if file's header)."""
        defaults = Levers()
        return [f"{name} = {value}" for name, value in self if value != getattr(defaults, name)]


def home_pool(scenario: Scenario) -> str | None:
    """The pool the homes lever changes: the first finite in-house pool preferred for residential care."""
    matching = scenario.matching.get("residential")
    for name in matching.pools if matching else []:
        pool = scenario.pools[name]
        if pool.in_house and not pool.unlimited and pool.fostering is None:
            return name
    return None


def fostering_pool(scenario: Scenario) -> str | None:
    """The pool the recruitment lever changes: the first in-house fostering pool with foster households."""
    matching = scenario.matching.get("fostering")
    for name in matching.pools if matching else []:
        pool = scenario.pools[name]
        if pool.in_house and pool.fostering is not None:
            return name
    return None


def default_homes_date(scenario: Scenario) -> dt.date:
    """The first 1 April after the start: a new home usually opens with a financial year."""
    start = scenario.horizon.start
    year = start.year if start < dt.date(start.year, 4, 1) else start.year + 1
    return dt.date(year, 4, 1)


def scenario_document(scenario: Scenario, start_csv_name: str | None = None) -> dict[str, Any]:
    """The scenario as a self-contained TOML document: no `extends`, the starting-population CSV by file name."""
    document = scenario.model_dump(exclude_none=True, exclude={"extends": True, "start_population": {"children"}})
    if scenario.start_population.csv is not None:
        if start_csv_name is None:
            raise ValueError("a scenario whose starting population comes from a CSV needs the CSV's file name")
        document["start_population"] = csv_start_population(document["start_population"], start_csv_name)
    return document


def csv_start_population(start: dict[str, Any], csv_name: str) -> dict[str, Any]:
    """A `[start_population]` table reading its children in care from `csv_name`, keeping the young people
    Staying Put from the start (the CSV holds children in care only)."""
    return {"csv": csv_name, **{key: start[key] for key in ("staying_put",) if key in start}}


def what_if_document(baseline: Scenario, levers: Levers, name: str, seed: int, start_csv_name: str | None = None):
    """The baseline with the levers applied; raises LeverError if a lever does not fit this baseline."""
    document = copy.deepcopy(scenario_document(baseline, start_csv_name))
    document.update(name=name, seed=seed, description=describe(baseline, levers))
    _apply_homes(document, baseline, levers)
    _apply_recruitment(document, baseline, levers)
    _apply_step_down(document, levers)
    _apply_entries(document, levers)
    if levers.staying_put_probability is not None:
        document.setdefault("leaving_care", {}).setdefault("staying_put", {})["probability"] = (
            levers.staying_put_probability
        )
    _apply_prices(document, baseline, levers)
    return document


def what_if_toml(
    baseline: Scenario,
    levers: Levers,
    name: str,
    seed: int,
    replications: int,
    source: str,
    start_csv_name: str | None = None,
) -> str:
    """The what-if as a scenario file `sufficiency run` accepts unchanged, with the lever settings in its header."""
    document = what_if_document(baseline, levers, name, seed, start_csv_name)
    header = [
        f"What-if written by the care sufficiency simulator's workshop app (version {__version__}).",
        f"Baseline: {source} ('{baseline.name}'); this file is self-contained: the baseline with the levers applied.",
        "Lever settings: " + ("; ".join(levers.settings()) or "none (the baseline unchanged)"),
        f"Changes: {document['description']}",
        f"Reproduce the app's result: sufficiency run <this file> --replications {replications} (seed {seed} is set).",
    ]
    if start_csv_name is not None:
        header.append(f"The starting population is read from {start_csv_name}: put that CSV next to this file.")
    wrapped = [part for line in header for part in textwrap.wrap(line, 110, subsequent_indent="  ")]
    return to_toml(document, [*wrapped, ""])


def describe(baseline: Scenario, levers: Levers) -> str:
    """Plain English for what the levers change, used as the what-if's description (and so in its summary)."""
    changes = [
        _homes_phrase(baseline, levers),
        _recruitment_phrase(baseline, levers),
        _step_down_phrase(levers),
        _change_phrase("entries into care (UASC unchanged)", levers.entries_change_percent, "%"),
        _trend_phrase(baseline, levers),
        _staying_put_phrase(baseline, levers),
        _change_phrase("external prices", levers.external_price_change_percent, "%"),
        _change_phrase("in-house prices", levers.in_house_price_change_percent, "%"),
        _change_phrase("every inflation rate", levers.inflation_change_points, " percentage points"),
    ]
    listed = [change for change in changes if change]
    return f"{baseline.name} with " + ("; ".join(listed) if listed else "no change")


# ---------------------------------------------------------------------------------------------
# Applying each lever to the document


def _apply_homes(document: dict[str, Any], baseline: Scenario, levers: Levers) -> None:
    if levers.homes_change == 0:
        return
    name = home_pool(baseline)
    if name is None:
        raise LeverError("this baseline has no finite in-house children's home pool preferred for residential care")
    date = levers.homes_date or default_homes_date(baseline)
    horizon = baseline.horizon
    if not horizon.start <= date < horizon.end:
        raise LeverError(f"the homes' date {date} is outside the horizon ({horizon.start} to before {horizon.end})")
    beds = levers.homes_change * levers.beds_per_home
    if beds < 0:
        _check_closure(baseline, name, date, -levers.homes_change, -beds)
    verb = "opened" if beds > 0 else "closed"
    change = {"date": date, "change": beds, "homes": levers.homes_change, "note": f"workshop what-if: homes {verb}"}
    pool = document["pools"][name]
    pool["capacity_changes"] = [*pool.get("capacity_changes", []), change]


def _check_closure(baseline: Scenario, name: str, date: dt.date, homes: int, beds: int) -> None:
    pool = baseline.pools[name]
    open_beds, open_homes = pool.places_on(date), pool.homes_on(date)
    if beds > open_beds or homes > open_homes:
        raise LeverError(
            f"closing {homes} home(s) and {beds} bed(s) on {date}, but pool '{name}' has {open_homes} home(s) "
            f"and {open_beds} bed(s) then"
        )


def _apply_recruitment(document: dict[str, Any], baseline: Scenario, levers: Levers) -> None:
    if levers.extra_foster_approvals_per_year == 0:
        return
    name = fostering_pool(baseline)
    if name is None:
        raise LeverError("this baseline has no in-house fostering pool with foster households to recruit to")
    approvals = baseline.pools[name].fostering.approvals_per_year + levers.extra_foster_approvals_per_year
    if approvals < 0:
        raise LeverError(
            f"{levers.extra_foster_approvals_per_year:g} households a year would leave fewer than none approved "
            f"(the baseline approves {baseline.pools[name].fostering.approvals_per_year:g})"
        )
    document["pools"][name]["fostering"]["approvals_per_year"] = approvals


def _apply_step_down(document: dict[str, Any], levers: Levers) -> None:
    """Replace any residential-to-fostering move in every journey by the programme's (share 0 removes them), and
    drop the baseline's adjustments of that move: the lever sets its share."""
    share = levers.step_down_share
    if share is None:
        return
    _drop_adjustments(document, lambda a: (a["target"], a.get("from_need"), a.get("to_need")) == STEP_DOWN)
    low, high = (float(round(months * DAYS_PER_MONTH)) for months in levers.step_down_after_months)
    move = {
        "from_need": "residential",
        "to_need": "fostering",
        "probability": share,
        "after_days": {"distribution": "uniform", "low": low, "high": high},
    }
    uasc = document["entries"].get("uasc", {}).get("journeys") or {}
    for label, journeys in (("journeys", document["journeys"]), ("entries.uasc.journeys", uasc)):
        for band, journey in journeys.items():
            kept = [m for m in journey.get("moves", []) if ("move", m["from_need"], m["to_need"]) != STEP_DOWN]
            other = sum(m["probability"] for m in kept if m["from_need"] == "residential")
            if other + share > 1 + 1e-9:
                raise LeverError(
                    f"{label}.{band}: other moves from residential care already have probability {other:g}; "
                    f"the step-down share can be at most {1 - other:g}"
                )
            journey["moves"] = kept + ([move] if share > 0 else [])


def _drop_adjustments(document: dict[str, Any], dropped: Callable[[dict[str, Any]], bool]) -> None:
    kept = {name: a for name, a in document.get("adjustments", {}).items() if not dropped(a)}
    if kept:
        document["adjustments"] = kept
    else:
        document.pop("adjustments", None)


def _apply_entries(document: dict[str, Any], levers: Levers) -> None:
    """Entry rates times the lever's factor, and the baseline's entry-rate adjustments that add entries too, so that
    the adjusted rates change by the lever's percentage (adjustments are linear in the rate)."""
    entries = document["entries"]
    factor = 1 + levers.entries_change_percent / 100
    if factor != 1:
        entries["rate_per_year"] = {band: rate * factor for band, rate in entries["rate_per_year"].items()}
        for adjustment in document.get("adjustments", {}).values():
            if adjustment["target"] == "entry_rate" and "add" in adjustment:
                adjustment["add"] *= factor
    if levers.entries_trend_percent_per_year is not None:
        entries["trend_percent_per_year"] = levers.entries_trend_percent_per_year


def _apply_prices(document: dict[str, Any], baseline: Scenario, levers: Levers) -> None:
    factors = {
        True: 1 + levers.in_house_price_change_percent / 100,
        False: 1 + levers.external_price_change_percent / 100,
    }
    points = levers.inflation_change_points
    if factors == {True: 1, False: 1} and points == 0:
        return
    prices = document.get("prices")
    if prices is None:
        raise LeverError("this baseline has no price book ([prices]), so prices and inflation cannot change")
    for name, price in prices["pools"].items():
        factor = factors[baseline.pools[name].in_house]
        if factor != 1:
            _scale_price(price, factor)
        if points and "inflation_percent_per_year" in price:
            price["inflation_percent_per_year"] += points
    if points:
        prices["inflation_percent_per_year"] += points
        prices["inflation_source"] += f" [workshop what-if: every rate {points:+g} points]"
        for group in prices.get("inflation_groups", {}).values():
            group["percent_per_year"] += points
        shift_uplift_documents(prices, points)  # the scheduled years move with every rate


def _scale_price(price: dict[str, Any], factor: float) -> None:
    scale_price_document(price, factor)  # every price form, weekly_by_tier included
    price["source"] += f" [workshop what-if: prices x{factor:g}]"


# ---------------------------------------------------------------------------------------------
# Phrases


def _homes_phrase(baseline: Scenario, levers: Levers) -> str:
    if levers.homes_change == 0:
        return ""
    homes, beds = abs(levers.homes_change), abs(levers.homes_change) * levers.beds_per_home
    date = levers.homes_date or default_homes_date(baseline)
    what = f"{homes} in-house children's home{'s' if homes > 1 else ''} of {levers.beds_per_home} beds"
    verb = "opened" if levers.homes_change > 0 else "closed"
    name = home_pool(baseline)
    pool = baseline.pools[name]
    if pool.usable_share >= 1:
        return f"{what} {verb} on {date} ({beds} beds, pool {name})"
    # The lever changes approved beds; matching uses floor(approved x usable_share) of them (sim.engine.scenario).
    before = pool.places_on(date)
    after = max(before + (beds if levers.homes_change > 0 else -beds), 0)
    usable = f"usable beds {pool.usable(before):.0f} -> {pool.usable(after):.0f} at usable_share {pool.usable_share:g}"
    return f"{what} {verb} on {date} ({beds} approved beds, {usable}, pool {name})"


def _recruitment_phrase(baseline: Scenario, levers: Levers) -> str:
    extra = levers.extra_foster_approvals_per_year
    if extra == 0:
        return ""
    name = fostering_pool(baseline)
    now = baseline.pools[name].fostering.approvals_per_year if name else 0.0
    phrase = f"{extra:+g} in-house foster households approved a year ({now:g} -> {now + extra:g})"
    share = baseline.pools[name].usable_share if name else 1.0
    if share < 1:  # their places are approved places, of which matching uses the usable share
        phrase += f", their places approved places of which {share:.0%} are usable for matching"
    return phrase


def _step_down_phrase(levers: Levers) -> str:
    if levers.step_down_share is None:
        return ""
    if levers.step_down_share == 0:
        return "no step-down from residential care to fostering"
    low, high = levers.step_down_after_months
    return (
        f"step-down: {levers.step_down_share:.0%} of children in residential care move to fostering after "
        f"{low}-{high} months"
    )


def _trend_phrase(baseline: Scenario, levers: Levers) -> str:
    now = baseline.entries.trend_percent_per_year
    wanted = levers.entries_trend_percent_per_year
    if wanted is None or wanted == now:
        return ""
    return f"entries trend {wanted:g}% a year (baseline {now:g}%)"


def _staying_put_phrase(baseline: Scenario, levers: Levers) -> str:
    now = baseline.leaving_care.staying_put.probability
    wanted = levers.staying_put_probability
    if wanted is None or wanted == now:
        return ""
    return f"Staying Put taken up by {wanted:.0%} of fostered 18-year-olds (baseline {now:.0%})"


def _change_phrase(what: str, change: float, unit: str) -> str:
    return f"{what} {change:+g}{unit}" if change else ""
