"""R3 (family centre or mother and baby unit) and R5 (young offender institution) calibrate to the simulator's
parent_and_child and remand needs: synthetic returns of a scenario with both round-trip to a scenario that holds
the right stock in each, validates and runs."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from calibration.ssda903 import remand
from calibration.ssda903.calibrate import build_scenario, calibrate, scenario_document
from calibration.ssda903.codes import PLACE_TO_NEED
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, simulate_replication
from sim.engine.vocabulary import DAYS_PER_YEAR, PLACEMENT_NEEDS
from tests.builders import build, one_pool_scenario

COL = {name: i for i, name in enumerate(PLACEMENT_COLUMNS)}
STAYS = {
    "return_home": {"distribution": "lognormal", "mean": 200.0, "sd": 250.0},
    "sgo_cao": {"distribution": "gamma", "mean": 600.0, "sd": 250.0},
}
REMAND_RATE, REMAND_DAYS = 40.0, 60.0
PARENT_CHILD_SHARE, ASSESSMENT_DAYS = 0.3, 84.0


def known_scenario():
    """Babies and 10-15s entering at 300 a year; 30% of the babies start with a parent (parent_and_child) and
    move to foster care after 84 days; 40 remands a year of 60 days on average (entries.remand)."""
    raw = one_pool_scenario(rate_per_year=0.0, capacity="unlimited", years=9)
    raw["horizon"]["start"] = dt.date(2010, 4, 1)
    raw["entries"]["rate_per_year"] = {"under1": 300.0, "1-4": 0, "5-9": 0, "10-15": 300.0, "16-17": 0}
    journey = {"exit_routes": {"return_home": 0.6, "sgo_cao": 0.4}, "duration": STAYS, "first_need": {"fostering": 1}}
    raw["journeys"] = {band: journey for band in raw["journeys"]}
    after = {"distribution": "fixed", "days": ASSESSMENT_DAYS}
    move = {"from_need": "parent_and_child", "to_need": "fostering", "probability": 1.0, "after_days": after}
    first = {"fostering": 1 - PARENT_CHILD_SHARE, "parent_and_child": PARENT_CHILD_SHARE}
    raw["journeys"]["under1"] = {**journey, "first_need": first, "moves": [move]}
    raw["pools"]["parent_child"] = {"serves": ["parent_and_child"], "capacity": "unlimited", "in_house": False}
    raw["pools"]["detention"] = {"serves": ["remand"], "capacity": "unlimited", "in_house": False}
    raw["matching"]["parent_and_child"] = {"pools": ["parent_child"]}
    raw["matching"]["remand"] = {"pools": ["detention"]}
    stay = {"other": {"distribution": "exponential", "mean": REMAND_DAYS}}
    remand_journey = {"exit_routes": {"other": 1.0}, "duration": stay, "first_need": {"remand": 1.0}}
    raw["entries"]["remand"] = {
        "rate_per_year": REMAND_RATE,
        "age_mix": {"10-15": 0.4, "16-17": 0.6},
        "journeys": {"10-15": remand_journey, "16-17": remand_journey},
    }
    return build(raw)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("returns")
    write_synthetic_ssda903(known_scenario(), folder, seed=13, first_year=2014)
    history = read_ssda903(folder)
    return folder, calibrate(history, history.extract_date, window_years=4)


def _placed_on(folder: Path, day: dt.date) -> dict[str, int]:
    """Children in each PLACE code at 00:00 on `day`, read straight from the episodes files (not the reader)."""
    latest: dict[tuple[str, str], dict[str, str]] = {}  # an episode open at a year's end is closed in a later file
    for path in sorted(folder.glob("*-episodes.csv")):
        with path.open(newline="") as handle:
            latest.update({(row["CHILD"], row["DECOM"]): row for row in csv.DictReader(handle)})
    codes = []
    for row in latest.values():
        start = dt.datetime.strptime(row["DECOM"], "%d/%m/%Y").date()
        end = dt.datetime.strptime(row["DEC"], "%d/%m/%Y").date() if row["DEC"] else None
        if start <= day and (end is None or end > day):
            codes.append(row["PLACE"])
    return {code: codes.count(code) for code in set(codes)}


def test_r3_and_r5_read_as_the_new_needs() -> None:
    assert PLACE_TO_NEED["R3"] == "parent_and_child"
    assert PLACE_TO_NEED["R5"] == "remand"


def test_stock_of_the_new_needs_is_the_returns_own(fitted) -> None:
    """Children in R3 and R5 on the as-of date start in parent_and_child and remand, in the baselines' pools."""
    folder, result = fitted
    placed = _placed_on(folder, result.as_of)
    document, _ = scenario_document(result, "round_trip")
    groups = document["start_population"]["groups"]
    count = {need: sum(g["count"] for g in groups if g["need"] == need) for need in ("parent_and_child", "remand")}
    assert count["parent_and_child"] == placed["R3"] > 10
    assert count["remand"] == placed.get("R5", 0) > 0
    assert {g["pool"] for g in groups if g["need"] == "parent_and_child"} == {"external_parent_child"}
    assert {g["pool"] for g in groups if g["need"] == "remand"} == {"youth_detention"}


def test_remand_stream_recovers_rate_and_length(fitted) -> None:
    _, result = fitted
    fit = result.remand
    assert fit.rate_per_year == pytest.approx(REMAND_RATE, rel=0.2)
    assert fit.mean_days == pytest.approx(REMAND_DAYS, rel=0.2)
    assert fit.age_mix["16-17"] == pytest.approx(0.6, abs=0.1)
    document, _ = scenario_document(result, "round_trip")
    stream = document["entries"]["remand"]
    assert stream["rate_per_year"] == pytest.approx(fit.rate_per_year, abs=1e-4)
    assert stream["journeys"]["16-17"]["first_need"] == {"remand": 1.0}


def test_remands_are_left_out_of_the_main_stream(fitted) -> None:
    """The 10-15s of the main stream enter at 300 a year and all start in fostering: the remands (a stream of
    their own) neither add to that rate nor give the band a remand first need."""
    _, result = fitted
    assert result.entries.rate_by_band["10-15"] == pytest.approx(300.0, rel=0.06)
    assert "remand" not in result.first_need["10-15"]
    assert result.entries.rate_by_band["16-17"] == pytest.approx(0.0, abs=1.0)
    main = remand.main_stream(result.history)
    assert len(main.periods) < len(result.history.periods)
    assert not main.episodes["need"].eq("remand").any()


def test_parent_and_child_first_need_and_move(fitted) -> None:
    _, result = fitted
    assert result.first_need["under1"]["parent_and_child"] == pytest.approx(PARENT_CHILD_SHARE, abs=0.04)
    document, _ = scenario_document(result, "round_trip")
    moves = document["journeys"]["under1"].get("moves", [])
    assert any(m["from_need"] == "parent_and_child" and m["to_need"] == "fostering" for m in moves)
    assert document["matching"]["parent_and_child"]["pools"] == ["inhouse_parent_child", "external_parent_child"]
    assert document["matching"]["remand"]["pools"] == ["youth_detention"]


def _mean_in_need(scenario, need: str, days: tuple[float, ...], replications: int) -> float:
    index = PLACEMENT_NEEDS.index(need)
    counts = []
    for replication in range(replications):
        placements = simulate_replication(scenario, 1, replication).placements
        rows = placements[(placements[:, COL["kind"]] == IN_CARE) & (placements[:, COL["need"]] == index)]
        counts += [int(((rows[:, COL["start"]] <= d) & (rows[:, COL["end"]] > d)).sum()) for d in days]
    return float(np.mean(counts))


def test_calibrated_scenario_validates_runs_and_keeps_the_new_needs_stock(fitted) -> None:
    """Run the calibrated scenario: its children in remand and parent_and_child over years 1-3 stay near Little's
    law on the fitted flows (rate times mean stay), the stock the returns showed."""
    _, result = fitted
    scenario = build_scenario(result, "round_trip")
    days = tuple(DAYS_PER_YEAR * year for year in (1.0, 2.0, 3.0))
    expected_remand = REMAND_RATE * REMAND_DAYS / DAYS_PER_YEAR  # 6.6
    assert _mean_in_need(scenario, "remand", days, 6) == pytest.approx(expected_remand, rel=0.35)
    expected_babies = 300.0 * PARENT_CHILD_SHARE * ASSESSMENT_DAYS / DAYS_PER_YEAR  # 20.7
    assert _mean_in_need(scenario, "parent_and_child", days, 6) == pytest.approx(expected_babies, rel=0.35)
