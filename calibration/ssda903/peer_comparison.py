"""This project's unconstrained projection against cs-demand-model's, on the same SSDA903 returns (issue 16).

Why: cs-demand-model (Social Finance / Data to Insight, PyPI 0.5.1) is the sector's open demand model. An analyst
who knows it trusts this projection more when the two agree where their methods agree, and when each gap is
explained. cs-demand-model pins pandas 1.5, so it runs in a side environment of its own (`make peers`,
docs/decisions/0008), in a subprocess with a timeout, through peer_runner.py; only its children in care by
placement category on the dates asked for, its entrants a year and its category codes cross back, as JSON,
checked field by field.

Two configurations, on one start date: each tool's defaults as a user would run them, and a like-for-like one
(the same reference period ending the day before the start, short breaks kept, no trend). Both tools' categories
are mapped onto four shared ones (SHARED). docs/calibration.md, "Against cs-demand-model", holds the table on the
shared samples and every method difference that remains.

    sufficiency peers --ssda903 DIR --start YYYY-MM-DD --out DIR
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.ssda903.calibrate import build_scenario, calibrate
from calibration.ssda903.codes import PLACE_TO_NEED
from calibration.ssda903.estimate import stock_on, without_trend
from calibration.ssda903.reader import SSDA903Error, read_ssda903
from sim.analysis.projection import expected_stock
from sim.engine.scenario import ScenarioError
from sim.present.output_folders import replaced_folder

ENVIRONMENT_VARIABLE = "SUFFICIENCY_PEERS_ENV"  # a side environment elsewhere than .venv-peers
DEFAULT_ENVIRONMENT = Path(__file__).resolve().parents[2] / ".venv-peers"
RUNNER = Path(__file__).with_name("peer_runner.py")
TIMEOUT_SECONDS = 600  # the shared samples take about 4 s
NOT_RUN = "cs-demand-model not run"
CSV_NAME, MARKDOWN_NAME = "peer_comparison.csv", "peer_comparison.md"
MONTHS = (0, 6, 12, 18, 24)
SHARED = ("fostering", "residential", "supported", "other")
TOTAL = "total"
# This project's placement needs (sim.engine.vocabulary) and cs-demand-model's categories (its standard-v1
# configuration; NOT_IN_CARE holds the children it has projected out of care) onto the shared four.
PROJECT_TO_SHARED = {
    "fostering": "fostering",
    "kinship_fostering": "fostering",
    "residential": "residential",
    "secure": "other",
    "supported_16plus": "supported",
    "placed_with_parents": "other",
    "placed_for_adoption": "other",
    "other": "other",
    "parent_and_child": "other",  # R3, which cs-demand-model counts as OTHER too
    "remand": "other",  # R5, the same
}
PEER_TO_SHARED = {"FOSTERING": "fostering", "RESIDENTIAL": "residential", "SUPPORTED": "supported", "OTHER": "other"}
OUT_OF_CARE = "NOT_IN_CARE"
# The PLACE codes of cs-demand-model 0.5.1's named categories; every other code is its OTHER. The peer test checks
# this against the installed model's own configuration.
PEER_CODES = {
    "FOSTERING": ("U1", "U2", "U3", "U4", "U5", "U6"),
    "RESIDENTIAL": ("K2", "R1"),
    "SUPPORTED": ("H5", "P2"),
}
_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,32}")
_CODE = re.compile(r"[A-Z0-9]{1,4}")


@dataclass(frozen=True)
class Configuration:
    """How each tool is run: the project's window, trend and short breaks; the peer's reference months."""

    name: str
    window_years: int  # the project's calibration window, ending on the start date
    trend: bool  # the project's fitted entry trend kept (False: held at 0, as the peer has none)
    short_breaks: str  # the project's reader: "exclude" (its default) or "include" (kept as care, as the peer does)
    peer_months: int  # the peer's reference period: these months up to the day before the start


def configurations(reference_years: int = 2) -> tuple[Configuration, Configuration]:
    """Each tool's defaults (project: 3 years, trend, short breaks out; peer: 6 months, its CLI's reference
    length), and like for like: both on the same `reference_years`, short breaks in, no trend."""
    return (
        Configuration("defaults", 3, True, "exclude", 6),
        Configuration("like_for_like", reference_years, False, "include", 12 * reference_years),
    )


def comparison_dates(start: dt.date, months: tuple[int, ...] = MONTHS) -> list[dt.date]:
    return [(pd.Timestamp(start) + pd.DateOffset(months=m)).date() for m in months]


def reference_period(start: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The peer's reference period: `months` months up to the day before `start` (the project's window too)."""
    return (pd.Timestamp(start) - pd.DateOffset(months=months)).date(), start - dt.timedelta(days=1)


def code_differences() -> dict[str, tuple[str, str]]:
    """PLACE codes the two tools put in different shared categories: code -> (project's, peer's)."""
    peer = {code: PEER_TO_SHARED[category] for category, codes in PEER_CODES.items() for code in codes}
    project = {code: PROJECT_TO_SHARED[need] for code, need in PLACE_TO_NEED.items()}
    return {
        code: (shared, peer.get(code, "other"))
        for code, shared in sorted(project.items())
        if shared != peer.get(code, "other")
    }


# ---------------------------------------------------------------------------------------------------------
# This project's side


@dataclass(frozen=True)
class Side:
    """One tool's children in care by shared category on each date (a frame: date x SHARED), or why not."""

    stock: pd.DataFrame | None
    entries_per_year: float
    note: str = ""
    reference: str = ""  # the period the rates were read from, as the calibration names it


def project_side(folder: Path, start: dt.date, configuration: Configuration, dates: list[dt.date]) -> Side:
    """The calibration on `start` and its expected-value (unconstrained) projection, by shared category.

    The one place that calls the SSDA903 calibration, so a change of its options is made here only. Like for
    like, the reference period is the peer's own days (`reference_period`: its last day is the day before the
    start, where the project's period, [start, end), ends); the defaults keep the project's
    window ending on the start date. A fit the scenario rules refuse is reported, not raised: the other
    configuration may still compare.
    """
    history = read_ssda903(folder, short_breaks=configuration.short_breaks)
    first = reference_period(start, configuration.peer_months)[0] if not configuration.trend else None
    fitted = calibrate(history, start, configuration.window_years, reference_start=first)  # [first, start)
    if not configuration.trend:
        fitted = replace(fitted, entries=without_trend(fitted.entries))
    entries = sum(fitted.entries.rate_by_band.values()) + fitted.entries.uasc_rate
    try:
        scenario = build_scenario(fitted, "peer_comparison")
    except ScenarioError as error:
        return Side(None, entries, f"the project's calibration was refused: {error}", fitted.reference.label)
    stock = shared_stock(expected_stock(scenario, dates), PROJECT_TO_SHARED, "need")
    return Side(stock, entries, reference=fitted.reference.label)


def reconstructed_stock(folder: Path, day: dt.date, short_breaks: str) -> pd.Series:
    """Children in care in the returns at 00:00 on `day` by shared category (the project's reconstruction)."""
    needs = stock_on(read_ssda903(folder, short_breaks=short_breaks), day)["need"].map(PROJECT_TO_SHARED)
    return needs.value_counts().reindex(SHARED, fill_value=0).astype(float)


def shared_stock(frame: pd.DataFrame, mapping: dict[str, str], column: str) -> pd.DataFrame:
    """Long (date, `column`, children) rows summed into a date x SHARED frame; unmapped categories left out."""
    rows = frame[frame[column].isin(list(mapping))]
    wide = rows.assign(shared=rows[column].map(mapping)).pivot_table(
        index="date", columns="shared", values="children", aggfunc="sum"
    )
    wide.index = pd.to_datetime(wide.index)
    return wide.reindex(columns=list(SHARED), fill_value=0.0).fillna(0.0).rename_axis(columns=None)


# ---------------------------------------------------------------------------------------------------------
# The peer's side


def find_environment(environment: Path | None = None) -> Path | None:
    """The side environment's Python: `environment`, else $SUFFICIENCY_PEERS_ENV, else .venv-peers."""
    root = environment or Path(os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT)
    return next((p for p in (root / "bin" / "python", root / "Scripts" / "python.exe") if p.is_file()), None)


@dataclass(frozen=True)
class PeerReply:
    version: str
    categories: dict[str, tuple[str, ...]]  # the installed model's named categories and their PLACE codes
    sides: tuple[Side, ...]  # one per configuration, in order


def run_peer(
    folder: Path,
    start: dt.date,
    runs: list[Configuration],
    dates: list[dt.date],
    environment: Path | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> tuple[PeerReply | None, str]:
    """cs-demand-model on `folder` for each configuration, or None and a one-line reason why it did not run."""
    python = find_environment(environment)
    if python is None:
        return None, f"{NOT_RUN}: install it with make peers"
    job = {"folder": str(Path(folder).resolve()), "runs": [_peer_job(start, run, dates) for run in runs]}
    try:
        reply = _run_runner(python, job, timeout)
    except subprocess.TimeoutExpired:
        return None, f"{NOT_RUN}: it took longer than {timeout:g} s"
    except OSError:
        return None, f"{NOT_RUN}: the side environment's Python cannot be started; reinstall with make peers"
    if reply.returncode != 0:
        return None, f"{NOT_RUN}: it stopped (exit code {reply.returncode}); reinstall with make peers"
    try:
        return parse_reply(reply.stdout, dates, len(runs)), ""
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, f"{NOT_RUN}: its reply was not aggregates of the expected shape, so it was discarded"


def _peer_job(start: dt.date, configuration: Configuration, dates: list[dt.date]) -> dict[str, Any]:
    first, last = reference_period(start, configuration.peer_months)
    return {
        "reference_start": first.isoformat(),
        "reference_end": last.isoformat(),
        "start": start.isoformat(),
        "dates": [day.isoformat() for day in dates],
    }


def _run_runner(python: Path, job: dict[str, Any], timeout: float) -> subprocess.CompletedProcess[str]:
    """The runner in isolated mode (-I) in a scratch folder; its stderr (the model's prints, warnings, a
    traceback) is captured and dropped, never shown: it can quote a cell."""
    with tempfile.TemporaryDirectory(prefix="peers-") as scratch:
        return subprocess.run(
            [str(python), "-I", str(RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            cwd=scratch,
            env={"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1"},
            check=False,
        )


def parse_reply(text: str, dates: list[dt.date], runs: int) -> PeerReply:
    """The runner's reply, checked field by field: anything but category names, codes and numbers is refused."""
    document = json.loads(text)
    version = document["version"]
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ValueError("the version is not of its expected form")
    categories = {_category(name): tuple(_code(c) for c in codes) for name, codes in document["categories"].items()}
    if len(document["runs"]) != runs:
        raise ValueError("the reply's runs are not the job's")
    return PeerReply(version, categories, tuple(_peer_side(run, dates) for run in document["runs"]))


def _peer_side(run: dict[str, Any], dates: list[dt.date]) -> Side:
    if sorted(run["stock"]) != sorted(day.isoformat() for day in dates):
        raise ValueError("the reply's dates are not the job's")
    rows = [
        {"date": day, "category": _category(category), "children": _number(children)}
        for day, by_category in run["stock"].items()
        for category, children in by_category.items()
    ]
    stock = shared_stock(pd.DataFrame(rows, columns=["date", "category", "children"]), PEER_TO_SHARED, "category")
    return Side(stock.reindex(pd.to_datetime(dates), fill_value=0.0), _number(run["entries_per_year"]))


def _category(name: Any) -> str:
    if name not in (*PEER_TO_SHARED, OUT_OF_CARE):
        raise ValueError("an unknown placement category")
    return name


def _code(value: Any) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError("a placement code is not of its expected form")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("a number in the reply is not finite")
    return float(value)


# ---------------------------------------------------------------------------------------------------------
# The table


def comparison_table(start: dt.date, sides: dict[str, tuple[Side, Side]]) -> pd.DataFrame:
    """Configuration x month x category (SHARED and total): project, peer, difference and percent of the peer.

    `sides` maps each configuration's name to its (project, peer) sides; a side without a stock gives NaN.
    """
    rows = []
    for name, (project, peer) in sides.items():
        for month, day in zip(MONTHS, comparison_dates(start), strict=True):
            for category in (*SHARED, TOTAL):
                mine, theirs = _value(project, day, category), _value(peer, day, category)
                rows.append(
                    {
                        "configuration": name,
                        "month": month,
                        "date": day.isoformat(),
                        "category": category,
                        "project": mine,
                        "peer": theirs,
                        "difference": mine - theirs,
                        "percent": 100 * (mine / theirs - 1) if theirs else math.nan,
                    }
                )
    return pd.DataFrame(rows)


def _value(side: Side, day: dt.date, category: str) -> float:
    if side.stock is None:
        return math.nan
    row = side.stock.loc[pd.Timestamp(day)]
    return float(row.sum() if category == TOTAL else row[category])


def markdown(table: pd.DataFrame) -> str:
    """One table per configuration: a row per month, each cell 'project / peer (percent)'."""
    parts = []
    for name, rows in table.groupby("configuration", sort=False):
        header = ["month", "date", *SHARED, TOTAL]
        lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
        for (month, day), cells in rows.groupby(["month", "date"], sort=False):
            by_category = cells.set_index("category")
            values = [_cell(by_category.loc[c]) for c in (*SHARED, TOTAL)]
            lines.append(f"| {month} | {day} | " + " | ".join(values) + " |")
        parts.append(f"{name}:\n\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _cell(row: pd.Series) -> str:
    """'project / peer (percent)'; n/a for a side that gave no stock (a refused calibration)."""
    mine, theirs = (("n/a" if math.isnan(row[k]) else f"{row[k]:.1f}") for k in ("project", "peer"))
    percent = "" if math.isnan(row["percent"]) else f" ({row['percent']:+.1f}%)"
    return f"{mine} / {theirs}{percent}"


def write_comparison(table: pd.DataFrame, notes: list[str], out: Path) -> list[Path]:
    """peer_comparison.csv and peer_comparison.md (the tables and the notes) in `out`, which is replaced whole
    and only when it is new, empty or this tool's own earlier output (sim.present.output_folders)."""
    with replaced_folder(out, "peers") as staging:
        table.round(4).to_csv(staging / CSV_NAME, index=False)
        text = markdown(table) + "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")
        (staging / MARKDOWN_NAME).write_text(text, encoding="utf-8")
    return [Path(out) / CSV_NAME, Path(out) / MARKDOWN_NAME]


# ---------------------------------------------------------------------------------------------------------
# Both tools, and the command


def compare(
    folder: Path, start: dt.date, reference_years: int = 2, environment: Path | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The comparison table for both configurations and its notes (entries a year, refusals, the peer's version).

    Raises SSDA903Error when the peer did not run: a comparison without it is nothing to write.
    """
    runs = list(configurations(reference_years))
    dates = comparison_dates(start)
    reply, reason = run_peer(folder, start, runs, dates, environment)
    if reply is None:
        raise SSDA903Error(reason)
    sides, notes = {}, [f"cs-demand-model {reply.version}"]
    if {name: reply.categories.get(name) for name in PEER_CODES} != PEER_CODES:
        notes.append(f"its categories' PLACE codes are not those mapped here ({PEER_CODES}): not like for like")
    for run, peer in zip(runs, reply.sides, strict=True):
        project = project_side(folder, start, run, dates)
        sides[run.name] = (project, peer)
        first, last = reference_period(start, run.peer_months)
        notes.append(
            f"{run.name}: entries a year, project {project.entries_per_year:.1f} ({project.reference}), "
            f"peer {peer.entries_per_year:.1f} ({first} to {last}, both days in)"
        )
        notes += [f"{run.name}: {project.note}"] if project.note else []
    return comparison_table(start, sides), notes
