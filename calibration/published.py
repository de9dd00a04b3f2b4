"""Calibrate a baseline from an authority's published figures: the `sufficiency calibrate --authority` job."""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
from pathlib import Path

from calibration.authorities import AUTHORITIES
from calibration.fit import fit, total_entry_rate
from calibration.history import HistoryFit, HistoryModel, HistoryPriors, Prior, fit_history
from calibration.market import Market, borrowed_market, fit_market
from calibration.published_data import CalibrationDataError
from calibration.scenario_builder import build_document
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario_text

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def calibrate_text(authority: str, as_of: dt.date, command: str, prices: str = "prices.toml") -> str:
    """The commented baseline TOML for an authority as of a date, extending the price book `prices` (a path
    relative to the folder the baseline is written to)."""
    if authority not in AUTHORITIES:
        raise CalibrationDataError(f"unknown authority '{authority}'; expected one of: {', '.join(AUTHORITIES)}")
    AUTHORITIES[authority].check_as_of(as_of)
    targets = AUTHORITIES[authority].targets(as_of)
    fitted = fit(targets, history_fit(authority, as_of))
    market = fitted_market(authority, as_of)
    return build_document(targets, fitted, command, prices, market, AUTHORITIES[authority].parent_child_and_remand)


@functools.cache  # a neighbour's market is fitted once for every calibration that borrows it
def fitted_market(authority: str, as_of: dt.date) -> Market:
    """The authority's market on the as-of date (calibration/market.py): fitted to its emergency placements, or
    borrowed from `market_from` on the latest of its dates up to the as-of date."""
    spec = AUTHORITIES[authority]
    targets = spec.targets(as_of)
    donor = AUTHORITIES[spec.market_from] if spec.market_from else None
    if targets.emergency_placements_per_year is None and donor is not None and donor.stock_dates[0] <= as_of:
        day = max(d for d in donor.stock_dates if d <= as_of)
        return borrowed_market(fitted_market(spec.market_from, day), targets, donor.display_name, day.isoformat())
    fitted = fit(targets, history_fit(authority, as_of))
    path = SCENARIOS / authority / "baseline.toml"  # where the shipped price book is found while fitting

    def scenario_for(market: Market) -> Scenario:
        special = spec.parent_child_and_remand
        text = build_document(targets, fitted, "(the market fit)", "prices.toml", market, special)
        return load_scenario_text(text, path)

    return fit_market(targets, scenario_for)


def history_fit(authority: str, as_of: dt.date) -> HistoryFit:
    """Entries, trend and stays fitted to every published figure up to `as_of` (calibration/history.py)."""
    model, priors = history_model(authority)
    return fit_history(model, AUTHORITIES[authority].history(as_of), priors)


@functools.cache  # the same for every as-of date: calibrations and backtests of one authority share it
def history_model(authority: str) -> tuple[HistoryModel, HistoryPriors]:
    """The projection from the authority's first published snapshot (the origin), started as a steady state,
    and the priors of the history fit: that steady state (Little's law there) and the authority's trend prior."""
    spec = AUTHORITIES[authority]
    origin = spec.stock_dates[0]
    targets = spec.targets(origin)
    steady = fit(targets)
    text = build_document(targets, steady, "(the origin of the history fit)", special=spec.parent_child_and_remand)
    scenario = load_scenario_text(text, SCENARIOS / authority / "baseline.toml")
    entries = sum(scenario.entries.rate_per_year.values())
    priors = HistoryPriors(
        log_entries=Prior(
            math.log(entries), math.log(2.0), f"{total_entry_rate(targets).comment}; assumption: within a factor of 2"
        ),
        trend=spec.trend_prior,
        log_stay_scale=Prior(
            math.log(steady.duration_scale.value),
            math.log(2.0),
            f"assumption: the stock on {origin} in a steady state (Little's law), within a factor of 2 (1 sd)",
        ),
    )
    return HistoryModel(scenario, entries, steady.duration_scale.value), priors


def price_book_reference(authority: str, out: Path, prices: Path | None = None) -> str:
    """How a baseline written to `out` names its price book: `prices` (default the authority's shipped one,
    scenarios/<authority>/prices.toml) relative to the folder of `out`, so it is found wherever it is written."""
    book = (prices or SCENARIOS / authority / "prices.toml").resolve()
    try:
        return Path(os.path.relpath(book, out.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return book.as_posix()


def calibrated_scenario(authority: str, as_of: dt.date) -> Scenario:
    """The calibrated baseline as a validated scenario (its price book resolved from scenarios/<authority>)."""
    text = calibrate_text(authority, as_of, command="(in memory)")
    return load_scenario_text(text, SCENARIOS / authority / "baseline.toml")


def calibrate_command(authority: str, as_of: dt.date, out: Path, prices: Path | None = None) -> str:
    """How the committed baseline is regenerated (the command line, with paths as given)."""
    book = f" --prices {prices.as_posix()}" if prices is not None else ""
    return f"sufficiency calibrate --authority {authority} --as-of {as_of.isoformat()} --out {out.as_posix()}{book}"
