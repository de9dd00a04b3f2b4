"""Golden results: a small synthetic scenario's key tables, checked in, regenerated and compared.

The scenario (tests/golden/scenario.toml) runs 3 replications; its summaries (stock, occupancy and
households at year ends, gaps, placements, exits and spend by financial year, and each replication's
flows and event count) are written as CSV with sorted rows and a fixed float format, so a change to the
random-number layout, the replication record or the tables shows as a diff to review, not as silence.

When a change is meant to move the numbers, regenerate the files on purpose and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
    git diff tests/golden/
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from sim.engine.scenario_files import load_scenario
from sim.results.runner import RunResult, run
from sim.results.tables import summarise

GOLDEN = Path(__file__).parent / "golden"
REPLICATIONS = 3
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
FLOAT_FORMAT = "%.4f"
SHOWN_ROWS = 8  # differing rows quoted in a failure message


def _financial_year(months: pd.Series) -> pd.Series:
    """April-March year of each month, labelled as the spend table labels it (2021-22)."""
    first = months.dt.year - (months.dt.month < 4)
    return first.astype(str) + "-" + ((first + 1) % 100).astype(str).str.zfill(2)


def _at_year_ends(result: RunResult, table: str) -> pd.DataFrame:
    frame = result.tables[table]
    return frame[frame["date"].isin(pd.to_datetime(result.calendar.year_end_dates))]


def _by_year(result: RunResult, table: str) -> pd.DataFrame:
    frame = result.tables[table]
    return frame.assign(financial_year=_financial_year(frame["month"]))


def _summaries(result: RunResult, frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Summaries of several values by the same keys, stacked with a `value` column naming each."""
    parts = [summarise(frame, keys, value, result.replications) for value in values]
    for part, value in zip(parts, values, strict=True):
        part.insert(0, "value", value)
    return pd.concat(parts, ignore_index=True)


def _stock(result: RunResult) -> pd.DataFrame:
    return _summaries(result, _at_year_ends(result, "stock"), ["date", "need", "pool"], ["children"])


def _occupancy(result: RunResult) -> pd.DataFrame:
    frame = _at_year_ends(result, "occupancy")
    finite = frame[frame["capacity"].notna()]
    return pd.concat(
        [
            _summaries(result, frame, ["date", "pool"], ["occupied", "post_18"]),
            _summaries(result, finite, ["date", "pool"], ["capacity"]),
        ],
        ignore_index=True,
    )


def _households(result: RunResult) -> pd.DataFrame:
    return _summaries(result, _at_year_ends(result, "households"), ["date", "pool"], ["households"])


def _gaps(result: RunResult) -> pd.DataFrame:
    keys = ["financial_year", "need", "wanted_pool", "used_pool"]
    return _summaries(result, _by_year(result, "gaps"), keys, ["placements", "child_days"])


def _placements(result: RunResult) -> pd.DataFrame:
    keys = ["financial_year", "pool", "need", "fallback"]
    return _summaries(result, _by_year(result, "placements"), keys, ["placements"])


def _exits(result: RunResult) -> pd.DataFrame:
    return _summaries(result, _by_year(result, "exits"), ["financial_year", "route"], ["children"])


def _spend(result: RunResult) -> pd.DataFrame:
    keys = ["financial_year", "pool", "component"]
    return _summaries(result, result.tables["spend"], keys, ["spend", "occupied_days"])


def _flows(result: RunResult) -> pd.DataFrame:
    return result.tables["flows"]


GOLDEN_TABLES: dict[str, Callable[[RunResult], pd.DataFrame]] = {
    "flows": _flows,
    "stock": _stock,
    "occupancy": _occupancy,
    "households": _households,
    "gaps": _gaps,
    "placements": _placements,
    "exits": _exits,
    "spend": _spend,
}


def csv_text(frame: pd.DataFrame) -> str:
    """Deterministic CSV: labels and dates as text, rows sorted by every column, floats to 4 decimals."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype) or frame[column].dtype == bool:
            frame[column] = frame[column].astype(str)
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    frame = frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def difference(name: str, expected: str, actual: str) -> str:
    """Which rows of a golden table changed: the header, then rows only in the golden file or only now."""
    old, new = expected.splitlines(), actual.splitlines()
    if old[:1] != new[:1]:
        return f"{name}.csv: columns changed from {old[:1]} to {new[:1]}"
    gone = [row for row in old[1:] if row not in set(new[1:])]
    added = [row for row in new[1:] if row not in set(old[1:])]
    lines = [f"{name}.csv ({old[0]}): {len(gone)} row(s) only in the golden file, {len(added)} only in this run"]
    lines += [f"  - {row}" for row in gone[:SHOWN_ROWS]] + [f"  + {row}" for row in added[:SHOWN_ROWS]]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def golden_result() -> RunResult:
    return run(load_scenario(GOLDEN / "scenario.toml"), replications=REPLICATIONS)


@pytest.mark.parametrize("name", GOLDEN_TABLES)
def test_tables_match_the_golden_files(golden_result: RunResult, name: str) -> None:
    actual = csv_text(GOLDEN_TABLES[name](golden_result))
    path = GOLDEN / f"{name}.csv"
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; write it with UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        pytest.fail(
            f"{difference(name, expected, actual)}\n"
            "If the change is meant, regenerate with UPDATE_GOLDEN=1 pytest tests/test_golden.py and review git diff",
            pytrace=False,
        )


def test_golden_tables_are_not_empty(golden_result: RunResult) -> None:
    """A golden file of headers only would pass whatever the model did."""
    empty = [name for name, table in GOLDEN_TABLES.items() if len(table(golden_result)) < 2]
    assert not empty


def test_csv_text_does_not_depend_on_row_order() -> None:
    frame = pd.DataFrame({"pool": pd.Categorical(["b", "a"]), "value": [2.0, 1.0 / 3.0]})
    assert csv_text(frame) == csv_text(frame.iloc[::-1]) == "pool,value\na,0.3333\nb,2.0000\n"
