"""Text from a scenario file reaches budget.xlsx and the CSVs a finance user opens in Excel as text, never a formula."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from sim.analysis.what_if import scenario_document
from sim.app.session import budget_workbook
from sim.cli import main
from sim.engine.scenario_files import load_scenario
from sim.engine.toml_writer import to_toml
from sim.present.workbook import FORMULA_STARTS, spreadsheet_safe, spreadsheet_text
from sim.results.runner import run

ROOT = Path(__file__).resolve().parent.parent
PRICED = ROOT / "tests" / "bad_scenarios" / "priced_base.toml"
HYPERLINK = '=HYPERLINK("http://x","y")'
SOURCES = {  # where a formula-like source goes in the price book: every dangerous start but tab and return
    "ifa": HYPERLINK,
    "homes": "@SUM(1+1)*cmd|' /C calc'!A0",
    "inhouse": "+1+1",
    "external_homes": "-2+3",
}


@pytest.mark.parametrize("start", FORMULA_STARTS, ids=repr)
def test_text_that_could_start_a_formula_gets_a_leading_apostrophe(start: str) -> None:
    text = f"{start}SUM(A1:A9)"
    assert spreadsheet_text(text) == "'" + text
    sheet = Workbook().active
    sheet.append([spreadsheet_text(text)])
    assert sheet["A1"].data_type == "s"


@pytest.mark.parametrize("text", ["assumption: test", "2018-19", "", "£800 a week", "a=b", "'quoted"])
def test_ordinary_text_is_left_as_written(text: str) -> None:
    assert spreadsheet_text(text) == text


def test_control_characters_an_xlsx_cannot_hold_are_replaced_rather_than_failing_the_workbook() -> None:
    sheet = Workbook().active
    sheet.append([spreadsheet_text("source\x01 line\x1f")])
    assert sheet["A1"].value == "source\ufffd line\ufffd"


@pytest.fixture(scope="module")
def formula_scenario(tmp_path_factory) -> Path:
    """The priced test scenario with formula-like sources, as a file `sufficiency run` reads."""
    document = scenario_document(load_scenario(PRICED))
    for pool, source in SOURCES.items():
        document["prices"]["pools"][pool]["source"] = source
    document["prices"]["inflation_source"] = "=1+1"
    path = tmp_path_factory.mktemp("formula") / "formula.toml"
    path.write_text(to_toml(document, []), encoding="utf-8")
    return path


def _cells(data: Path | bytes) -> list:
    workbook = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    return [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]


def _check_no_formula_and_sources_escaped(cells: list) -> None:
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    texts = {cell.value for cell in cells if cell.data_type == "s"}
    assert {"'" + source for source in [*SOURCES.values(), "=1+1"]} <= texts
    assert not texts & {*SOURCES.values(), "=1+1"}
    numbers = [cell.value for cell in cells if cell.data_type == "n"]
    assert 800 in numbers and all(isinstance(value, int | float) for value in numbers)  # prices stay numbers


def test_the_command_lines_workbook_holds_formula_like_sources_as_text(formula_scenario: Path, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(formula_scenario), "--replications", "2", "--out", str(out), "--quiet"]) == 0
    _check_no_formula_and_sources_escaped(_cells(out / "budget.xlsx"))


def test_the_apps_workbook_download_holds_formula_like_sources_as_text(formula_scenario: Path) -> None:
    result = run(load_scenario(formula_scenario), 2)
    _check_no_formula_and_sources_escaped(_cells(budget_workbook(result)))


def test_a_csv_frame_has_its_text_escaped_and_its_numbers_kept() -> None:
    frame = pd.DataFrame(
        {
            "what_if": ["=1+2", "plain"],
            "category": pd.Categorical(["@x", "all"]),
            "difference": [-3.5, np.nan],
        }
    )
    safe = spreadsheet_safe(frame)
    assert list(safe["what_if"]) == ["'=1+2", "plain"]
    assert list(safe["category"]) == ["'@x", "all"]
    pd.testing.assert_series_equal(safe["difference"], frame["difference"])
    assert list(frame["what_if"]) == ["=1+2", "plain"]  # the frame itself is not changed
