"""Uploaded files, read safely: a scenario as TOML and a starting population as CSV, nothing else.

Why so strict: the app may face a room, or a network if told to listen on one. An upload is size-limited,
decoded as UTF-8 text and parsed by `parse_toml` (tomllib within size and depth bounds: a dotted key 100,000
parts deep once took the server down) or the scenario loader's CSV reader; nothing is executed or
unpickled. An uploaded scenario may not `extends` another file or name its own CSV, so no upload can make the
app read a file of the server's. The only file ever written is the CSV, into a temporary folder that is
removed as soon as the scenario is read; everything else stays in memory.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.analysis.what_if import csv_start_population, scenario_document
from sim.engine.scenario import Scenario, ScenarioError
from sim.engine.scenario_files import load_scenario_text, parse_toml
from sim.engine.toml_writer import to_toml

MAX_UPLOAD_MB = 1  # also Streamlit's server.maxUploadSize, set by `sufficiency app`
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024


class UploadError(ScenarioError):
    """An upload that cannot be used; the message names the file and what was expected."""


@dataclass(frozen=True)
class StartCsv:
    """An uploaded starting-population CSV (one row per child in care), kept in memory only."""

    name: str  # a safe file name, used in the what-if file's `start_population.csv`
    data: bytes


def start_csv_from_upload(name: str, data: bytes) -> StartCsv:
    """Check size, type and encoding; the rows are checked when a scenario reads the CSV."""
    _text(name, data, ".csv", "CSV")
    return StartCsv(_safe_name(name, ".csv"), data)


def scenario_from_upload(name: str, data: bytes, start_csv: StartCsv | None = None) -> Scenario:
    """A self-contained scenario file; with a CSV, its children replace the file's children in care at the start."""
    raw = parse_toml(_text(name, data, ".toml", "TOML"), name)
    if "extends" in raw:
        raise UploadError(
            f"{name}: extends: an uploaded scenario must be self-contained (no `extends`); "
            "upload a what-if downloaded from this app, or merge the file with its parent first"
        )
    start = raw.get("start_population")
    if start_csv is not None:
        raw["start_population"] = csv_start_population(start if isinstance(start, dict) else {}, start_csv.name)
    elif isinstance(start, dict) and "csv" in start:
        raise UploadError(
            f"{name}: start_population.csv: the scenario reads its starting population from a CSV; "
            "upload that CSV in the starting-population box"
        )
    return read_scenario(_toml_of(raw, name), name, start_csv)


def replace_start_population(scenario: Scenario, start_csv: StartCsv) -> Scenario:
    """A shipped baseline with the children in care at the start read from an uploaded CSV instead."""
    document = scenario_document(scenario, start_csv.name)
    document["start_population"] = csv_start_population(document.get("start_population", {}), start_csv.name)
    return read_scenario(to_toml(document, []), f"{scenario.name}.toml", start_csv)


def read_scenario(text: str, name: str, start_csv: StartCsv | None = None) -> Scenario:
    """Validate scenario text (with its starting-population CSV in a temporary folder removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="sufficiency-app-") as folder:
        if start_csv is not None:
            (Path(folder) / start_csv.name).write_bytes(start_csv.data)
        try:
            return load_scenario_text(text, Path(folder) / _safe_name(name, ".toml"))
        except ScenarioError as error:  # name the files as the user knows them, not the temporary folder
            raise ScenarioError(str(error).replace(folder + os.sep, "")) from None


def _text(name: str, data: bytes, suffix: str, kind: str) -> str:
    if not name.lower().endswith(suffix):
        raise UploadError(f"{name}: expected a {kind} file ({suffix})")
    if len(data) > MAX_UPLOAD_BYTES:
        limit = f"the {MAX_UPLOAD_MB} MB limit ({MAX_UPLOAD_BYTES:,} bytes)"
        raise UploadError(f"{name}: {len(data):,} bytes is over {limit}")
    if not data.strip():
        raise UploadError(f"{name}: the file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadError(f"{name}: not a text file: expected UTF-8 {kind} ({error.reason})") from None


def _toml_of(raw: dict[str, Any], name: str) -> str:
    try:
        return to_toml(raw, [])
    except TypeError as error:
        raise UploadError(f"{name}: {error}") from None


def _safe_name(name: str, suffix: str) -> str:
    """The file's own name without folders or unusual characters (it is only ever used inside a temporary folder)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name.removesuffix(suffix))
    return (stem.strip(".") or "upload") + suffix
