"""How far to trust a run: the rolling backtest scores of its authority's calibration, in a few words.

The scores are the calibration's own record, docs/calibration/backtest_scores_<authority>.csv (written by
`sufficiency backtest --authority`; docs/calibration.md). The product may not import the calibration package
(the import contracts), so the file is read here, as `calibration.backtest_result.backtest_line` reads it for
the terminal; the authority is the one whose name the scenario's name starts with.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SCORES = Path(__file__).resolve().parents[2] / "docs" / "calibration"  # a source checkout's record
FIGURES = ("children in care", "all figures")


@dataclass(frozen=True)
class Score:
    """One row of the scores, averaged over every origin: how many later published figures, the share inside the
    simulated P10-P90 band, the mean absolute percentage error, and that of a flat forecast for scale."""

    count: int
    inside_p10_p90: float
    mape: float
    flat_mape: float | None


@dataclass(frozen=True)
class Trust:
    authority: str
    scores: dict[str, Score]  # by FIGURES


def backtest_trust(scenario_name: str, folder: Path = SCORES) -> Trust | None:
    """The backtest scores of the scenario's authority, or None when none were written (or the file is not
    of the expected shape)."""
    for path in sorted(folder.glob("backtest_scores_*.csv")):
        authority = path.stem.removeprefix("backtest_scores_")
        if scenario_name.startswith(authority):
            return _read(authority, path)
    return None


def _read(authority: str, path: Path) -> Trust | None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("origin") == "all"]
    found = {(row.get("figures"), row.get("forecaster")): row for row in rows}
    scores = {}
    try:
        for figures in FIGURES:
            model, flat = found.get((figures, "model")), found.get((figures, "flat"))
            if model is None:
                return None
            flat_mape = float(flat["mape"]) if flat else None
            scores[figures] = Score(
                int(model["count"]), float(model["inside_p10_p90"]), float(model["mape"]), flat_mape
            )
    except (KeyError, TypeError, ValueError):
        return None
    return Trust(authority, scores)
