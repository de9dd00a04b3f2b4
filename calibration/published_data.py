"""Published figures transcribed into `calibration/data/<authority>/*.csv`, with their source lines.

Each figure keeps its `source` (document file and line), so every fitted parameter can say
which published numbers it rests on.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
COLUMNS = ("date", "period_start", "measure", "category", "value", "unit", "source", "note")


class CalibrationDataError(Exception):
    """A published-data table that cannot be used, or a figure the fit needs that is missing."""


@dataclass(frozen=True)
class Figure:
    date: dt.date
    period_start: dt.date | None
    measure: str
    category: str
    value: float
    unit: str
    source: str
    note: str
    table: str

    def cite(self) -> str:
        return f"{self.source} ({self.value:g} {self.unit}, {self.date})"


class PublishedData:
    """All figures of one authority (or of England), looked up by measure, category and date."""

    def __init__(self, folder: str):
        self.folder = folder
        self.figures = _read_folder(DATA / folder)

    def all(self, measure: str, category: str | None = None, unit: str | None = None) -> list[Figure]:
        return sorted(
            (
                f
                for f in self.figures
                if f.measure == measure
                and (category is None or f.category == category)
                and (unit is None or f.unit == unit)
            ),
            key=lambda f: f.date,
        )

    def latest(self, measure: str, category: str, as_of: dt.date, unit: str | None = None) -> Figure:
        """The most recent figure dated on or before `as_of`."""
        candidates = [f for f in self.all(measure, category, unit) if f.date <= as_of]
        if not candidates:
            raise CalibrationDataError(
                f"calibration/data/{self.folder}: no figure for measure '{measure}', category '{category}'"
                f"{f', unit {unit}' if unit else ''} dated on or before {as_of}"
            )
        return candidates[-1]

    def nearest(self, measure: str, category: str, as_of: dt.date, unit: str | None = None) -> Figure:
        """The figure dated closest to `as_of` (before or after)."""
        candidates = self.all(measure, category, unit)
        if not candidates:
            raise CalibrationDataError(
                f"calibration/data/{self.folder}: no figure for measure '{measure}', category '{category}'"
            )
        return min(candidates, key=lambda f: (abs((f.date - as_of).days), f.date))

    def get(self, measure: str, category: str, date: dt.date | None = None, unit: str | None = None) -> Figure:
        """Exactly one figure (on `date` if given)."""
        found = [f for f in self.all(measure, category, unit) if date is None or f.date == date]
        if len(found) != 1:
            raise CalibrationDataError(
                f"calibration/data/{self.folder}: expected one figure for '{measure}' / '{category}'"
                f"{f' on {date}' if date else ''}{f' in {unit}' if unit else ''}, found {len(found)}"
            )
        return found[0]


def _read_folder(folder: Path) -> list[Figure]:
    if not folder.is_dir():
        raise CalibrationDataError(f"no calibration data folder {folder}")
    figures = []
    for path in sorted(folder.glob("*.csv")):
        figures += _read_table(path)
    return figures


def _read_table(path: Path) -> list[Figure]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise CalibrationDataError(f"{path}: expected the columns {', '.join(COLUMNS)}, got {reader.fieldnames}")
        figures = []
        for line, row in enumerate(reader, start=2):
            try:
                figures.append(
                    Figure(
                        date=dt.date.fromisoformat(row["date"]),
                        period_start=dt.date.fromisoformat(row["period_start"]) if row["period_start"] else None,
                        measure=row["measure"],
                        category=row["category"],
                        value=float(row["value"]),
                        unit=row["unit"],
                        source=row["source"],
                        note=row["note"],
                        table=path.stem,
                    )
                )
            except ValueError as error:
                raise CalibrationDataError(f"{path}: row {line}: {error}") from None
    return figures
