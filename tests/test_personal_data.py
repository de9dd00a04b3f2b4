"""No child's data in anything we print or write: the starting-population CSV, through every reader and path.

A starting-population CSV is a child-level file: one row per child in care. Each case below gives one with
recognisable markers in every cell (an identifier-like pool, a postcode-like need, ages and days that are
unmistakable numbers), breaks it one way, and reads it through the command line (`validate` and `run`, each
in a process of its own) and the app's upload path. No marker may reach stdout, stderr, an exception or a file.
SSDA903 returns have their own suite, tests/test_ssda903_hostile.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sim.analysis.what_if import scenario_document
from sim.app.uploads import scenario_from_upload, start_csv_from_upload
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario
from sim.engine.toml_writer import to_toml
from tests import cli_process

ROOT = Path(__file__).resolve().parent.parent
VALID = ROOT / "tests" / "bad_scenarios" / "valid_base.toml"
PRICED = ROOT / "tests" / "bad_scenarios" / "priced_base.toml"
HEADER = "age_years,need,pool,days_in_care"
AGE, DAYS, POOL, NEED, POSTCODE, BIRTH = "7.3141592", "1618.0339", "ZZ398768QQ", "V28 5OY", "H8 7NR", "09/04/2017"
MARKERS = (AGE, DAYS, POOL, NEED, POSTCODE, BIRTH, "398768")
GOOD = "5.5,fostering,inhouse,300"

# name -> the CSV's text; each breaks one thing (or, for the first, nothing: a run must not echo the rows)
CSVS: dict[str, str] = {
    "valid": f"{HEADER}\n{GOOD}\n{AGE},fostering,ifa,{DAYS}\n",
    "no_header_row": f"398768,{BIRTH},{POSTCODE},{POSTCODE}\n{AGE},{NEED},{POOL},{DAYS}\n",
    "age_not_a_number": f"{HEADER}\n{GOOD}\n{BIRTH},fostering,inhouse,{DAYS}\n",
    "days_not_a_number": f"{HEADER}\n{AGE},fostering,inhouse,{POSTCODE}\n",
    "need_unknown": f"{HEADER}\n{AGE},{NEED},inhouse,{DAYS}\n",
    "pool_unknown": f"{HEADER}\n{GOOD}\n{AGE},fostering,{POOL},{DAYS}\n",
    "pool_not_a_name": f"{HEADER}\n{AGE},fostering,{POSTCODE},{DAYS}\n",
    "age_over_18": f"{HEADER}\n2{AGE},fostering,inhouse,{DAYS}\n",
    "age_negative": f"{HEADER}\n-{AGE},fostering,inhouse,{DAYS}\n",
    "days_negative": f"{HEADER}\n{AGE},fostering,inhouse,-{DAYS}\n",
    "days_beyond_age": f"{HEADER}\n0.{AGE.replace('.', '')},fostering,inhouse,{DAYS}\n",
    "short_row": f"{HEADER}\n{AGE},{NEED}\n",
    "extra_cells": f"{HEADER}\n{AGE},fostering,inhouse,{DAYS},{POSTCODE},{BIRTH}\n",
    "pool_not_matched_for_need": f"{HEADER}\n{AGE},residential,inhouse,{DAYS}\n",
    "above_capacity": f"{HEADER}\n" + f"{AGE},fostering,inhouse,{DAYS}\n" * 9,
    "quote_unclosed": f'{HEADER}\n"{AGE},fostering,inhouse,{DAYS}\n',
}


def _case(tmp_path: Path, name: str, base: Path = VALID) -> Path:
    (tmp_path / "start.csv").write_text(CSVS[name], encoding="utf-8")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'extends = "{base.as_posix()}"\n[start_population]\ncsv = "start.csv"\n', encoding="utf-8")
    return scenario


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_process.run(list(args), cwd=cwd)


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def _written_text(folder: Path) -> str:
    """Every file under `folder` as the text a reader would see: tables and workbooks cell by cell, pages
    without their embedded images (base64 holds any three letters by chance), other files as text."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            parts.append(pd.read_parquet(path).to_csv())
        elif path.suffix == ".xlsx":
            workbook = openpyxl.load_workbook(path)
            parts += [str(cell) for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row]
        else:
            parts.append(re.sub(r"base64,[A-Za-z0-9+/=]+", "", path.read_text(encoding="utf-8")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", CSVS)
def test_no_marker_in_validate_or_run(name: str, tmp_path: Path) -> None:
    scenario = _case(tmp_path, name, PRICED)
    validate = _cli("validate", scenario, cwd=tmp_path)
    run = _cli("run", scenario, "--replications", "2", "--quiet", "--out", tmp_path / "out", cwd=tmp_path)
    for result in (validate, run):
        assert _leaks(result.stdout + result.stderr) == [], result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    if name == "valid":
        assert validate.returncode == 0 and run.returncode == 0, run.stderr
        assert (tmp_path / "out" / "budget.xlsx").is_file()
        assert _leaks(_written_text(tmp_path / "out")) == []
    else:
        assert validate.returncode == 2 and run.returncode == 2
        assert validate.stderr.startswith("error: ") and validate.stderr.count("\n") == 1, validate.stderr
        assert "start.csv" in validate.stderr or "start_population" in validate.stderr
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", [n for n in CSVS if n != "valid"])
def test_no_marker_in_the_app_s_message(name: str) -> None:
    upload = start_csv_from_upload("start.csv", CSVS[name].encode())
    self_contained = to_toml(scenario_document(load_scenario(PRICED)), []).encode()
    with pytest.raises(ScenarioError) as raised:
        scenario_from_upload("base.toml", self_contained, upload)
    assert _leaks(str(raised.value)) == [], str(raised.value)
    assert "start.csv" in str(raised.value) or "start_population" in str(raised.value)
