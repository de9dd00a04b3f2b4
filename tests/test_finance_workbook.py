"""The workbooks for a medium-term financial strategy (issue 19): every cell of a table sheet equals the CSV it is
written beside, each price cites its own source, and text from the scenario stays text."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.cli import main
from sim.engine.scenario_files import load_scenario

PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"
SCENARIO = f"""
extends = "{PRICED.as_posix()}"
name = "priced_long"
[horizon]
start = 2020-01-01
years = 4
[prices.pools.inhouse]
sources = {{ staying_put_weekly = "=HYPERLINK(\\"x\\") staying put's own source" }}
[[one_off_costs]]
date = 2021-06-30
amount = 250000
pool = "homes"
note = "@one-off note"
[budget."2021-22"]
total = 1500000
in_house = 900000
note = "-budget note"
"""
WHAT_IF = """
name = "more homes"
[pools.homes]
capacity = 4
"""


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("finance")
    base = folder / "base.toml"
    base.write_text(SCENARIO, encoding="utf-8")
    what_if = folder / "what_if.toml"
    what_if.write_text(f'extends = "base.toml"\n{WHAT_IF}', encoding="utf-8")
    run_out, compare_out = folder / "run", folder / "compare"
    assert main(["run", str(base), "--replications", "4", "--out", str(run_out), "--quiet"]) == 0
    arguments = ["compare", str(base), str(what_if), "--replications", "4", "--sizing-replications", "2"]
    assert main([*arguments, "--out", str(compare_out), "--quiet"]) == 0
    return run_out, compare_out


def _sheet_rows(path: Path, sheet: str) -> list[list]:
    return [[cell.value for cell in row] for row in load_workbook(path)[sheet].iter_rows()]


def _csv_rows(path: Path) -> list[list]:
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    return [list(frame.columns), *frame.to_numpy().tolist()]


def _same(cell, text: str) -> bool:
    """A workbook cell against its CSV text: numbers equal as numbers, text and blanks as written."""
    if cell is None:
        return text == ""
    if isinstance(cell, bool):
        return text == str(cell)
    if isinstance(cell, int | float):
        return text != "" and math.isclose(cell, float(text), rel_tol=1e-12, abs_tol=1e-9)
    return cell == text


@pytest.mark.parametrize(
    ("folder", "workbook", "sheet", "csv"),
    [
        (0, "budget.xlsx", "By financial year", "budget_wide.csv"),
        (0, "budget.xlsx", "Volume and price", "spend_bridge.csv"),
        (0, "budget.xlsx", "Budget check", "budget_check.csv"),
        (1, "comparison.xlsx", "Differences by year", "comparison.csv"),
        (1, "comparison.xlsx", "Medium term", "medium_term.csv"),
    ],
)
def test_every_cell_equals_the_csv_it_comes_from(outputs, folder: int, workbook: str, sheet: str, csv: str) -> None:
    out = outputs[folder]
    cells, texts = _sheet_rows(out / workbook, sheet), _csv_rows(out / csv)
    assert len(cells) == len(texts) > 1
    for row, (cell_row, text_row) in enumerate(zip(cells, texts, strict=True)):
        assert len(cell_row) == len(text_row), row
        for column, (cell, text) in enumerate(zip(cell_row, text_row, strict=True)):
            assert _same(cell, text), (sheet, row, column, cell, text)


def test_years_run_across_the_columns_with_part_years_flagged_and_four_blocks(outputs) -> None:
    header, *rows = _sheet_rows(outputs[0] / "budget.xlsx", "By financial year")
    assert header == [
        "statistic",
        "breakdown",
        "category",
        "2019-20 (part year)",
        "2020-21",
        "2021-22",
        "2022-23",
        "2023-24 (part year)",
    ]
    assert [s for s in dict.fromkeys(row[0] for row in rows)] == ["mean", "p10", "p50", "p90"]
    means = [row for row in rows if row[0] == "mean"]
    by = {(row[1], row[2]): row[3:] for row in means}
    for column in range(5):  # in-house plus external is the total; the pools add up to it too
        total = by[("total", "total")][column]
        assert by[("provision", "in_house")][column] + by[("provision", "external")][column] == pytest.approx(total)
        pools = sum(values[column] for (breakdown, _), values in by.items() if breakdown == "pool")
        assert pools == pytest.approx(total)
    assert by[("component", "one_off")] == [0.0, 0.0, 250000.0, 0.0, 0.0]
    assert {breakdown for breakdown, _ in by} == {"total", "provision", "pool", "need", "component"}


def test_the_budget_check_holds_each_line_the_scenario_sets(outputs) -> None:
    check = pd.read_csv(outputs[0] / "budget_check.csv")
    assert list(check["provision"]) == ["in_house", "total"]
    assert (check["financial_year"] == "2021-22").all()
    assert check["probability_over"].between(0, 1).all()
    assert (check["probability_over"] == check["replications_over"] / 4).all()


def test_each_price_cites_its_own_source_and_notes_stay_text(outputs) -> None:
    rows = _sheet_rows(outputs[0] / "budget.xlsx", "Assumptions")
    header, *rows = rows
    source = header.index("source")
    by_item = {(row[0], row[1]): row[source] for row in rows}
    assert by_item[("inhouse", "Staying Put allowance")] == "'=HYPERLINK(\"x\") staying put's own source"
    assert by_item[("inhouse", "carer fee per child")] == "assumption"  # the pool's source, given no own
    assert by_item[("homes", "one-off cost on 2021-06-30")] == "'@one-off note"
    assert by_item[("in_house", "budget 2021-22")] == "'-budget note"
    workbook = load_workbook(outputs[0] / "budget.xlsx")
    formulas = [
        cell.coordinate for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.data_type == "f"
    ]
    assert formulas == []


def test_the_shipped_price_books_give_staying_put_its_own_source() -> None:
    for authority in ("cheshire_east", "stockport"):
        prices = load_scenario(Path("scenarios") / authority / "baseline.toml").prices
        fostering = prices.pools["inhouse_fostering"]
        assert fostering.source_of("staying_put_weekly") != fostering.source
        assert "PSSRU" not in fostering.source_of("staying_put_weekly")
        assert "check" not in fostering.source_of("staying_put_weekly").split()  # no internal notes


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ('{ nonsense = "x" }', "sources.nonsense: expected the name of a price key"),
        ('{ per_occupied_night = "x" }', "sources.per_occupied_night: the price has no per_occupied_night"),
    ],
)
def test_a_source_for_no_price_is_refused(tmp_path: Path, sources: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{PRICED.as_posix()}"\n[prices.pools.inhouse]\nsources = {sources}\n', encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    with pytest.raises(Exception, match=message):
        load_scenario(path)


def test_every_sheet_prints_one_page_wide_in_landscape(outputs) -> None:
    """A finance officer's printout shows every financial year side by side, the header on every page."""
    run_out, compare_out = outputs
    for path in (run_out / "budget.xlsx", compare_out / "comparison.xlsx"):
        for sheet in load_workbook(path).worksheets:
            setup = sheet.page_setup
            assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0), sheet.title
            assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
