"""The comparison with cs-demand-model: the shared categories, the table, the project's side, the peer's plumbing.

Most tests run anywhere: the peer's side environment is replaced by a stand-in Python (a shell script printing a
reply), which checks the reply is vetted. The project's side runs on the shared samples. The test marked
`needs_peer` runs the real cs-demand-model (`make peers`) and skips, saying so, where it is not installed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from calibration.ssda903 import peer_comparison
from calibration.ssda903.peer_comparison import (
    MONTHS,
    PEER_CODES,
    PEER_TO_SHARED,
    PROJECT_TO_SHARED,
    SHARED,
    Side,
    code_differences,
    comparison_dates,
    comparison_table,
    configurations,
    find_environment,
    markdown,
    parse_reply,
    project_side,
    reconstructed_stock,
    reference_period,
    run_peer,
    write_comparison,
)
from calibration.ssda903.peer_runner import by_category
from sim.cli import main
from sim.engine.errors import InputError
from sim.engine.vocabulary import PLACEMENT_NEEDS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared")) / "ssda903_samples"
START = dt.date(2021, 4, 1)
DATES = comparison_dates(START)
PEER = find_environment()
needs_peer = pytest.mark.skipif(
    PEER is None, reason="no cs-demand-model side environment (.venv-peers or $SUFFICIENCY_PEERS_ENV): make peers"
)
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared SSDA903 samples are not here")
LIKE_FOR_LIKE = configurations()[1]


def _stock(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([values] * len(DATES), index=pd.to_datetime(DATES))[list(SHARED)]


def _reply(**changes) -> dict:
    run = {"stock": {d.isoformat(): {"FOSTERING": 10.0, "OTHER": 2, "NOT_IN_CARE": 5.0} for d in DATES}}
    run["entries_per_year"] = 12.5
    return {"version": "0.5.1", "categories": {"FOSTERING": ["U1"]}, "runs": [run], **changes}


def _stand_in(folder: Path, script: str) -> Path:
    """A side environment whose Python is a shell script (reads the job, then runs `script`)."""
    python = folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\ncat > /dev/null\n{script}\n")
    python.chmod(0o755)
    return folder


# ---------------------------------------------------------------------------------------------------------
# Categories and dates


def test_every_category_of_both_tools_maps_onto_the_shared_four() -> None:
    assert set(PROJECT_TO_SHARED) == set(PLACEMENT_NEEDS)
    assert set(PROJECT_TO_SHARED.values()) == set(SHARED) == set(PEER_TO_SHARED.values())
    assert set(PEER_CODES) <= set(PEER_TO_SHARED)


def test_only_residential_schools_fall_in_different_shared_categories() -> None:
    assert code_differences() == {"S1": ("residential", "other")}


def test_dates_are_the_months_from_the_start_and_the_reference_ends_the_day_before() -> None:
    assert [d.isoformat() for d in DATES] == ["2021-04-01", "2021-10-01", "2022-04-01", "2022-10-01", "2023-04-01"]
    assert reference_period(START, 24) == (dt.date(2019, 4, 1), dt.date(2021, 3, 31))
    defaults, like = configurations()
    assert (defaults.window_years, defaults.trend, defaults.short_breaks, defaults.peer_months) == (
        3,
        True,
        "exclude",
        6,
    )
    assert (like.window_years, like.trend, like.short_breaks, like.peer_months) == (2, False, "include", 24)


# ---------------------------------------------------------------------------------------------------------
# The table


def test_the_table_has_every_configuration_month_and_category() -> None:
    project = Side(_stock({"fostering": 11.0, "residential": 2.0, "supported": 1.0, "other": 0.0}), 10.0)
    peer = Side(_stock({"fostering": 10.0, "residential": 2.0, "supported": 2.0, "other": 0.0}), 9.0)
    refused = Side(None, 10.0, "refused")
    table = comparison_table(START, {"defaults": (refused, peer), "like_for_like": (project, peer)})
    assert len(table) == 2 * len(MONTHS) * (len(SHARED) + 1)
    assert list(table.columns) == [
        "configuration",
        "month",
        "date",
        "category",
        "project",
        "peer",
        "difference",
        "percent",
    ]
    like = table[table["configuration"] == "like_for_like"].set_index(["month", "category"])
    assert like.loc[(24, "fostering"), "percent"] == pytest.approx(10.0)
    assert like.loc[(24, "total"), ["project", "peer", "difference"]].tolist() == [14.0, 14.0, 0.0]
    assert math.isnan(like.loc[(0, "other"), "percent"])  # no children in the peer: no percentage
    assert table[table["configuration"] == "defaults"]["project"].isna().all()
    text = markdown(table)
    assert text.count("| 24 | 2023-04-01 |") == 2 and "11.0 / 10.0 (+10.0%)" in text and "n/a / 10.0" in text


def test_writing_gives_the_csv_and_the_markdown_with_its_notes(tmp_path: Path) -> None:
    project = Side(_stock({"fostering": 1.0, "residential": 0.0, "supported": 0.0, "other": 0.0}), 1.0)
    table = comparison_table(START, {"like_for_like": (project, project)})
    csv, text = write_comparison(table, ["a note"], tmp_path / "new")
    assert pd.read_csv(csv).shape == (len(MONTHS) * (len(SHARED) + 1), 8)
    assert text.read_text().endswith("\n- a note\n")
    write_comparison(table, ["another note"], tmp_path / "new")  # its own earlier output: replaced
    assert text.read_text().endswith("\n- another note\n")


def test_a_folder_of_someone_else_s_is_never_replaced(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    project = Side(_stock({"fostering": 1.0, "residential": 0.0, "supported": 0.0, "other": 0.0}), 1.0)
    with pytest.raises(InputError, match="--out"):
        write_comparison(comparison_table(START, {"like_for_like": (project, project)}), [], mine)
    assert main(["peers", "--ssda903", str(SAMPLES), "--start", "2021-04-01", "--out", str(mine)]) == 2
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------------------
# The project's side


@pytest.fixture(scope="module")
def like_for_like() -> Side:
    if not SAMPLES.is_dir():
        pytest.skip("the shared SSDA903 samples are not here")
    return project_side(SAMPLES, START, LIKE_FOR_LIKE, DATES)


@needs_samples
def test_the_projection_starts_from_the_stock_reconstructed_from_the_returns(like_for_like: Side) -> None:
    assert like_for_like.stock is not None
    start = like_for_like.stock.loc[pd.Timestamp(START)]
    assert start.to_dict() == pytest.approx(reconstructed_stock(SAMPLES, START, "include").to_dict(), abs=1e-9)
    assert start.sum() > 0


@needs_samples
def test_the_projection_gives_every_category_at_months_0_to_24(like_for_like: Side) -> None:
    stock = like_for_like.stock
    assert (
        stock is not None and list(stock.index) == list(pd.to_datetime(DATES)) and list(stock.columns) == list(SHARED)
    )
    assert stock.notna().all().all() and (stock >= 0).all().all()
    assert like_for_like.entries_per_year > 0


# ---------------------------------------------------------------------------------------------------------
# The peer's plumbing, with a stand-in


def test_no_side_environment_says_how_to_install_it(tmp_path: Path) -> None:
    assert run_peer(SAMPLES, START, [LIKE_FOR_LIKE], DATES, tmp_path / "absent") == (
        None,
        "cs-demand-model not run: install it with make peers",
    )


def test_the_command_stops_with_one_line_when_the_peer_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(peer_comparison.ENVIRONMENT_VARIABLE, str(tmp_path / "absent"))
    monkeypatch.setattr(peer_comparison, "DEFAULT_ENVIRONMENT", tmp_path / "absent")
    code = main(["peers", "--ssda903", str(SAMPLES), "--start", "2021-04-01", "--out", str(tmp_path / "out")])
    assert code == 2 and capsys.readouterr().err == "error: cs-demand-model not run: install it with make peers\n"
    assert not (tmp_path / "out").exists()


def test_the_runner_sums_the_age_brackets_of_each_category() -> None:
    population = {("BIRTH_TO_ONE", "FOSTERING"): 1, ("ONE_TO_FIVE", "FOSTERING"): 2.5, ("ONE_TO_FIVE", "OTHER"): 1}
    assert by_category(population) == {"FOSTERING": 3.5, "OTHER": 1.0}


def test_a_reply_becomes_shared_categories_without_those_out_of_care(tmp_path: Path) -> None:
    side = _stand_in(tmp_path / "env", f"echo '{json.dumps(_reply())}'; echo 'a cell value' >&2")
    reply, reason = run_peer(SAMPLES, START, [LIKE_FOR_LIKE], DATES, side)
    assert reason == "" and reply is not None and reply.version == "0.5.1"
    stock = reply.sides[0].stock
    assert stock is not None and stock.loc[pd.Timestamp(START)].to_dict() == {
        "fostering": 10.0,
        "residential": 0.0,
        "supported": 0.0,
        "other": 2.0,
    }


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("exit 3", "it stopped (exit code 3)"),
        ("sleep 5", "it took longer than 0.5 s"),
        ("echo 'CHILD 918273'", "its reply was not aggregates"),
    ],
)
def test_a_failing_peer_is_one_line(tmp_path: Path, script: str, reason: str) -> None:
    reply, text = run_peer(SAMPLES, START, [LIKE_FOR_LIKE], DATES, _stand_in(tmp_path / "env", script), timeout=0.5)
    assert reply is None and text.startswith("cs-demand-model not run: ") and reason in text


@pytest.mark.parametrize(
    "changes",
    [
        {"version": "0.5.1 CHILD 918273"},
        {"categories": {"FOSTERING": ["01/02/2010"]}},
        {"categories": {"A1 1AA": ["U1"]}},
        {"runs": []},
        {"runs": [{"stock": {"2021-04-01": {"FOSTERING": 1.0}}, "entries_per_year": 1.0}]},
        {"runs": [{"stock": {d.isoformat(): {"FOSTERING": "918273"} for d in DATES}, "entries_per_year": 1.0}]},
        {"runs": [{"stock": {d.isoformat(): {"FOSTERING": 1.0} for d in DATES}, "entries_per_year": float("nan")}]},
    ],
)
def test_a_reply_of_another_shape_is_refused(changes: dict) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_reply(json.dumps(_reply(**changes)), DATES, 1)


# ---------------------------------------------------------------------------------------------------------
# The real peer


@needs_peer
@needs_samples
def test_with_the_peer_like_for_like_starts_equal_and_nothing_personal_is_written(tmp_path: Path) -> None:
    out = tmp_path / "peers"
    assert main(["peers", "--ssda903", str(SAMPLES), "--start", START.isoformat(), "--out", str(out)]) == 0
    table = pd.read_csv(out / "peer_comparison.csv")
    like = table[(table["configuration"] == "like_for_like") & (table["month"] == 0)]
    assert (like["difference"].abs() < 1e-9).all(), "both tools reconstruct the same stock on the start date"
    written = "".join((out / name).read_text() for name in ("peer_comparison.csv", "peer_comparison.md"))
    assert table["peer"].notna().all() and "cs-demand-model 0.5.1" in written and "not like for like" not in written
    headers = [path.read_text().splitlines()[1:] for path in SAMPLES.glob("*-header.csv")]
    children = {line.split(",")[0] for lines in headers for line in lines}
    assert not children & set(re.findall(r"\b\d+\b", written))
    assert not re.search(r"\d{2}/\d{2}/\d{4}|\b[A-Z]{1,2}\d{1,2}[A-Z]? \d[A-Z]{2}\b", written)
