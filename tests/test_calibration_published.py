"""Calibration from published figures: traceable data, reproducible baselines, targets reproduced."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.history import Dated
from calibration.published import calibrate_command, calibrate_text
from calibration.published_data import CalibrationDataError
from sim.analysis.projection import expected_stock
from sim.engine.scenario_files import load_scenario, load_scenario_text
from sim.results.runner import run
from tests import cli_process

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "calibration" / "data"
SHARED = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared"))
BASELINES = {
    "cheshire_east": (dt.date(2017, 12, 31), ROOT / "scenarios" / "cheshire_east" / "baseline.toml"),
    "stockport": (dt.date(2018, 3, 31), ROOT / "scenarios" / "stockport" / "baseline.toml"),
}


def _rows() -> list[tuple[str, int, dict[str, str]]]:
    rows = []
    for path in sorted(DATA.glob("*/*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                rows.append((f"{path.relative_to(DATA)}:{number}", number, row))
    return rows


def _document(name: str) -> Path:
    return SHARED / "reference" / name if name == "national_england.md" else SHARED / "seeds" / name


NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
NUMBER_WORDS += [f"twenty {unit}" for unit in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")]


def _join_thousands(line: str) -> str:
    """'1,918' and '2,773, 996' become one number; '2010,181' (two numbers) does not."""
    return re.sub(r"\b\d{1,3}(?:,\d{3})+(?:, \d{3})*\b", lambda m: re.sub(r", ?", "", m.group(0)), line)


def _in_words(value: str, line: str) -> bool:
    number = float(value)
    return number == int(number) < len(NUMBER_WORDS) and NUMBER_WORDS[int(number)] in line.lower().replace("-", " ")


def _written_forms(value: str) -> set[str]:
    number = float(value)
    forms = {value, f"{number:g}", f"{number:.2f}", f"{number:.1f}"}
    if number == int(number):
        forms.add(str(int(number)))
    return forms


@pytest.mark.skipif(not (SHARED / "seeds").is_dir(), reason="the source documents (../shared/seeds) are not here")
def test_every_published_figure_is_on_the_line_its_source_names() -> None:
    rows = _rows()
    assert len(rows) > 200
    failures = []
    for where, _, row in rows:
        match = re.fullmatch(r"([\w.]+):L(\d+)", row["source"])
        if not match:
            failures.append(f"{where}: source {row['source']!r} is not FILE:Lnnn")
            continue
        document = _document(match.group(1))
        lines = document.read_text(encoding="utf-8").splitlines() if document.is_file() else []
        line_number = int(match.group(2))
        if not 1 <= line_number <= len(lines):
            failures.append(f"{where}: {row['source']} does not exist")
            continue
        line = lines[line_number - 1]
        numbers = set(re.findall(r"\d+(?:\.\d+)?", _join_thousands(line)))
        in_words = "written in words" in row["note"].lower() and _in_words(row["value"], line)
        if not (_written_forms(row["value"]) & numbers or in_words):
            failures.append(f"{where}: {row['value']} not on {row['source']}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("authority", BASELINES)
def test_calibrate_reproduces_the_committed_baseline_byte_for_byte(authority: str) -> None:
    as_of, path = BASELINES[authority]
    out = Path("scenarios") / authority / "baseline.toml"
    assert calibrate_text(authority, as_of, calibrate_command(authority, as_of, out)) == path.read_text("utf-8")


@pytest.mark.parametrize("authority", BASELINES)
def test_the_baseline_goes_on_as_the_history_fit_projected(authority: str) -> None:
    """The written scenario means what the fit meant: projected a year and two years on from its as-of date
    (every pool unlimited), it gives the stock that the fit's own projection from the origin gives then.
    The two differ only where the published stock on the as-of date differs from the fitted one."""
    from calibration.published import history_fit, history_model

    as_of, path = BASELINES[authority]
    baseline = load_scenario(path)
    fitted = history_fit(authority, as_of)
    model, _ = history_model(authority)
    later = [dt.date(as_of.year + 1, as_of.month, as_of.day), dt.date(as_of.year + 2, as_of.month, as_of.day)]
    figures = tuple(Dated("stock", day - dt.timedelta(days=1), 0.0, "test") for day in later)
    from_origin = model.values(fitted.estimate, figures)
    from_as_of = expected_stock(baseline, later).groupby("date")["children"].sum().to_numpy()
    assert from_as_of == pytest.approx(from_origin, rel=0.03)


@pytest.mark.parametrize("authority", BASELINES)
def test_baseline_reproduces_its_targets_inside_p10_p90(authority: str) -> None:
    _, path = BASELINES[authority]
    scenario = load_scenario(path)
    result = run(scenario.model_copy(update={"horizon": scenario.horizon.model_copy(update={"years": 1})}), 100)
    # Admissions in the first year against the fitted (published or derived) yearly rate.
    entries = result.tables["flows"]["entries"].to_numpy()
    rate = sum(scenario.entries.rate_per_year.values()) * (1 + scenario.entries.trend_percent_per_year / 200)
    assert np.percentile(entries, 10) <= rate <= np.percentile(entries, 90)
    # The published placement mix is the start; a year on, each main group (5% or more of children)
    # is still inside the band. Smaller groups (placed for adoption, secure, supported 16+) are a handful
    # of children whose year-one path depends on how the starting children's remaining stays were drawn.
    stock = result.tables["stock"]
    end = stock[stock["date"] == stock["date"].max()]
    start = pd.Series({g.pool: 0 for g in scenario.start_population.groups}, dtype=float)
    for group in scenario.start_population.groups:
        start[group.pool] += group.count
    shares = end.groupby(["replication", "need"])["children"].sum().unstack(fill_value=0)
    shares = shares.div(shares.sum(axis=1), axis=0)
    published = start.groupby([scenario.pools[p].serves[0] for p in start.index]).sum() / start.sum()
    for need, share in published.items():
        if share < 0.05:
            continue
        low, high = np.percentile(shares.get(need, pd.Series(0.0, index=shares.index)), [10, 90])
        assert low <= share <= high, f"{authority}: {need} share {share:.3f} outside {low:.3f}-{high:.3f}"


def test_backtest_runs_from_every_origin_and_compares_every_later_published_figure(tmp_path: Path) -> None:
    from calibration.authorities import AUTHORITIES
    from calibration.backtest import backtest, write_published_backtest

    result = backtest("cheshire_east", replications=4)
    spec = AUTHORITIES["cheshire_east"]
    origins = [day for day in spec.stock_dates if any(o.date > day for o in spec.observations)]
    assert origins == [dt.date(2016, 3, 31), dt.date(2016, 9, 30)]  # 2017-12-31 has no later figure
    assert [(row.origin, row.measure, row.date, row.observed) for row in result.compared] == [
        (origin, o.label, o.date, o.value) for origin in origins for o in spec.observations if o.date > origin
    ]
    assert all(row.band.label == "P10-P90" and row.band.low <= row.band.high for row in result.compared)
    paths = write_published_backtest(result, tmp_path, "cheshire_east")
    assert [path.name for path in paths] == [
        *("backtest_cheshire_east.csv", "backtest_cheshire_east.png"),
        *("backtest_scores_cheshire_east.csv", "backtest_scores_cheshire_east.png"),
    ]
    assert all(path.stat().st_size > 0 for path in paths)
    written = pd.read_csv(paths[0])
    # one row per origin and later figure: the origin first, and the P5-P95 band beside the P10-P90 one
    assert list(written.columns[:10]) == [
        *("origin", "date", "measure", "observed", "simulated_mean", "p5", "p10", "p90", "p95", "naive")
    ]
    scores = pd.read_csv(paths[2])
    assert set(scores["origin"]) == {"2016-03-31", "2016-09-30", "all"}
    assert set(scores["forecaster"]) == {"model", "flat", "trend"}
    assert written["inside"].tolist() == [row.inside for row in result.compared]
    assert written["naive"].tolist() == pytest.approx([row.naive for row in result.compared], abs=0.005)


@pytest.mark.parametrize("authority", BASELINES)
def test_every_published_date_calibrates_to_a_valid_scenario_with_the_stock_of_that_date(authority: str) -> None:
    from calibration.authorities import AUTHORITIES

    spec = AUTHORITIES[authority]
    for as_of in spec.stock_dates:
        text = calibrate_text(authority, as_of, "(test)")
        scenario = load_scenario_text(text, ROOT / "scenarios" / authority / "baseline.toml")
        assert scenario.horizon.start == as_of
        assert sum(g.count for g in scenario.start_population.groups) == spec.targets(as_of).stock.value


@pytest.mark.parametrize(("authority", "as_of"), [("cheshire_east", "2016-03-30"), ("stockport", "2018-04-01")])
def test_an_as_of_date_outside_the_published_counts_names_the_dates_there_are(authority: str, as_of: str) -> None:
    with pytest.raises(CalibrationDataError) as raised:
        calibrate_text(authority, dt.date.fromisoformat(as_of), "(test)")
    message = str(raised.value)
    assert message.startswith(f"--as-of {as_of}: ") and "expected an as-of date from " in message
    assert "2016-03-31" in message  # the first published count of both


def test_admissions_counted_over_part_of_a_year_are_made_a_yearly_rate() -> None:
    from calibration.authorities import cheshire_east_targets

    admissions = cheshire_east_targets(dt.date(2017, 12, 31)).admissions
    assert admissions is not None and admissions.value == 185  # the 2016-17 figure, not 77 in five months


def test_a_stock_the_entries_cannot_reach_is_one_clear_message_naming_both_figures() -> None:
    from calibration.authorities import cheshire_east_targets
    from calibration.fit import Value, fit

    targets = cheshire_east_targets(dt.date(2016, 9, 30))
    few = dataclasses.replace(targets, admissions=Value(5.0, "test: five a year"))
    with pytest.raises(CalibrationDataError) as raised:
        fit(few)
    message = str(raised.value)
    assert "5.0 entries a year cannot give 398 children in care" in message and "even the longest" in message


def test_calibrate_into_a_folder_of_ones_own_finds_the_price_book(tmp_path: Path) -> None:
    command = ["calibrate", "--authority", "cheshire_east", "--as-of", "2017-12-31", "--out", "ce.toml"]
    own = cli_process.run(command, tmp_path)
    assert own.returncode == 0, own.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name != "ce.toml"]  # no stray copy, no temporary file
    scenario = load_scenario(tmp_path / "ce.toml")
    assert scenario.prices is not None and scenario.horizon.start == dt.date(2017, 12, 31)
    book = tmp_path / "books" / "prices.toml"
    book.parent.mkdir()
    book.write_text((ROOT / "scenarios" / "stockport" / "prices.toml").read_text("utf-8"), encoding="utf-8")
    chosen = cli_process.run(
        ["calibrate", "--authority", "stockport", "--as-of", "2017-03-31", "--out", "sp.toml", "--prices", book],
        tmp_path,
    )
    assert chosen.returncode == 0, chosen.stderr
    assert 'extends = "books/prices.toml"' in (tmp_path / "sp.toml").read_text("utf-8")
    shipped = load_scenario(ROOT / "scenarios" / "stockport" / "baseline.toml")
    assert load_scenario(tmp_path / "sp.toml").prices == shipped.prices
