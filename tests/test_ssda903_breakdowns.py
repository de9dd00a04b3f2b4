"""Unplanned placement endings from SSDA903 (calibration/ssda903/breakdowns.py), hand-counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from calibration.ssda903.breakdowns import estimate_breakdowns
from calibration.ssda903.estimate import Reference
from calibration.ssda903.reader import read_ssda903

HEADER = "CHILD,SEX,DOB\n7001,1,01/01/2008\n7002,2,01/01/2006\n"
# 7001: fostered, the carer asks for the placement to end (CREQB) on 1 July, fostered again after.
# 7002: a children's home until 1 September, moved by the care plan (CARPL), then fostered; a reason
# code nobody knows on its last episode is blanked and counted.
EPISODES = """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE
7001,01/01/2019,S,C2,N1,U4,PR1,01/07/2019,X1,CREQB
7001,01/07/2019,P,C2,N1,U4,PR4,,,
7002,01/03/2019,S,C2,N1,K2,PR4,01/09/2019,X1,CARPL
7002,01/09/2019,P,C2,N1,U4,PR1,,,NOPE
"""


@pytest.fixture
def history(tmp_path: Path):
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text(EPISODES)
    return read_ssda903(tmp_path, extract_date=dt.date(2020, 1, 1))


def test_unplanned_endings_over_days_at_risk_by_need(history) -> None:
    year = Reference(pd.Timestamp("2019-01-01"), pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-01"))
    found = estimate_breakdowns(history, year)
    fostering, residential = found["fostering"], found["residential"]
    days = 181 + 184 + 122  # 1 Jan-1 Jul, 1 Jul-1 Jan, 1 Sep-1 Jan
    assert (fostering.endings, fostering.planned) == (1, 0)
    assert fostering.years_at_risk == pytest.approx(days / 365.25)
    assert fostering.hazard == pytest.approx(1 / (days / 365.25))
    assert fostering.interval[0] < fostering.hazard < fostering.interval[1]
    assert (residential.endings, residential.planned) == (0, 1)
    assert residential.years_at_risk == pytest.approx(184 / 365.25) and residential.hazard == 0.0
    assert history.report.total("unknown_reason_place_change") == 1


def test_a_shorter_reference_period_counts_only_what_falls_inside_it(history) -> None:
    spring = Reference(pd.Timestamp("2019-01-01"), pd.Timestamp("2019-06-01"), pd.Timestamp("2019-06-01"))
    found = estimate_breakdowns(history, spring)
    assert found["fostering"].endings == 0  # the breakdown on 1 July is after the period
    assert found["fostering"].years_at_risk == pytest.approx(151 / 365.25)
    assert found["residential"].years_at_risk == pytest.approx(92 / 365.25)


def test_returns_without_the_column_have_no_breakdowns(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text(
        "\n".join(line.rsplit(",", 1)[0] for line in EPISODES.strip().splitlines()) + "\n"
    )
    history = read_ssda903(tmp_path, extract_date=dt.date(2020, 1, 1))
    year = Reference(pd.Timestamp("2019-01-01"), pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-01"))
    assert all(need.endings == need.planned == 0 for need in estimate_breakdowns(history, year).values())


def test_the_calibrated_scenario_carries_the_hazards_pooling_the_rare_needs() -> None:
    import os

    from calibration.ssda903.calibrate import MIN_BREAKDOWNS, build_scenario, calibrate

    samples = Path(os.environ.get("SUFFICIENCY_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    samples = samples / "ssda903_samples"
    if not samples.is_dir():
        pytest.skip("the shared SSDA903 samples are not here")
    fitted = calibrate(read_ssda903(samples), dt.date(2020, 4, 1))
    scenario = build_scenario(fitted)
    found = {n: b for n, b in fitted.breakdowns.items() if n != "placed_for_adoption"}
    pooled = sum(b.endings for b in found.values()) / sum(b.years_at_risk for b in found.values())
    for need, b in found.items():
        expected = b.hazard if b.endings >= MIN_BREAKDOWNS else pooled
        assert scenario.breakdowns.by_need[need].per_year == pytest.approx(expected, abs=1e-4), need
    assert "placed_for_adoption" not in scenario.breakdowns.by_need
    assert any(b.endings < MIN_BREAKDOWNS for b in found.values())  # the samples' one secure ending is pooled
