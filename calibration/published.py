"""Calibrate a baseline from an authority's published figures: the `sufficiency calibrate --authority` job."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from calibration.authorities import AUTHORITIES
from calibration.fit import fit
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
    return build_document(targets, fit(targets), command, prices)


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
