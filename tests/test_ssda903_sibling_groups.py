"""Sibling-group sizes from SSDA903: periods of care starting on one day from one home postcode.

A hand-made return checks the rule and that no postcode leaves the reader; synthetic returns written from a
scenario with known group sizes check that the estimate recovers them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.ssda903.calibrate import calibrate, scenario_text
from calibration.ssda903.estimate import Reference
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.sibling_groups import estimate_group_sizes
from calibration.ssda903.synthetic import write_synthetic_ssda903
from tests.builders import build, one_pool_scenario

HEADER = "CHILD,SEX,DOB\n" + "".join(f"{7000 + i},1,01/01/20{10 + i}\n" for i in range(7))
# 7000 and 7001 arrive together from one home (the postcode written two ways); 7002 the same day from another;
# 7003-7005 a group of three a month later; 7006 alone with no postcode. 7003-7005 share a home with 7000 but
# not the day.
EPISODES = """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,HOME_POST
7000,01/03/2019,S,C2,N1,U4,PR1,,,AB1 2CD
7001,01/03/2019,S,C2,N1,U4,PR1,,,ab12cd
7002,01/03/2019,S,C2,N1,U4,PR1,,,ZZ9 9ZZ
7003,01/04/2019,S,C2,N1,U4,PR1,,,AB1 2CD
7004,01/04/2019,S,C2,N1,U4,PR1,,,AB1 2CD
7005,01/04/2019,S,C2,N1,U4,PR1,,,AB1 2CD
7006,01/04/2019,S,C2,N1,U4,PR1,,,
"""
YEAR = Reference(pd.Timestamp("2019-01-01"), pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-01"))


def test_children_starting_on_one_day_from_one_home_are_one_group(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text(EPISODES)
    history = read_ssda903(tmp_path, extract_date=dt.date(2020, 1, 1))
    sizes = estimate_group_sizes(history, YEAR)
    assert sizes.groups == {1: 2, 2: 1, 3: 1} and sizes.folded == 0
    assert sizes.shares() == {"1": 0.5, "2": 0.25, "3": 0.25}
    assert "home" not in history.episodes.columns and "home" not in history.periods.columns
    assert list(history.arrival_groups.columns) == ["start", "children"]


def test_a_group_of_five_counts_as_four_and_is_counted(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    rows = [f"{7000 + i},01/03/2019,S,C2,N1,U4,PR1,,,AB1 2CD" for i in range(5)]
    (tmp_path / "episodes.csv").write_text(EPISODES.splitlines()[0] + "\n" + "\n".join(rows) + "\n")
    sizes = estimate_group_sizes(read_ssda903(tmp_path, extract_date=dt.date(2020, 1, 1)), YEAR)
    assert sizes.groups == {4: 1} and sizes.folded == 1


def test_returns_without_home_postcodes_have_every_child_alone(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in EPISODES.splitlines()))
    sizes = estimate_group_sizes(read_ssda903(tmp_path, extract_date=dt.date(2020, 1, 1)), YEAR)
    assert sizes.groups == {1: 7} and not sizes.any_together


def test_the_sizes_are_recovered_from_returns_the_model_wrote(tmp_path: Path) -> None:
    shares = {"1": 0.55, "2": 0.25, "3": 0.15, "4": 0.05}
    raw = one_pool_scenario(rate_per_year=300.0, capacity="unlimited", years=6, band="5-9")
    raw["entries"]["sibling_groups"] = {"size_shares": shares, "note": "assumption: a constructed case"}
    scenario = build(raw)
    write_synthetic_ssda903(scenario, tmp_path / "returns", seed=4)
    history = read_ssda903(tmp_path / "returns")
    everything = Reference(pd.Timestamp("2020-04-01"), pd.Timestamp("2026-03-31"), pd.Timestamp("2026-03-31"))
    sizes = estimate_group_sizes(history, everything)
    n = sizes.total
    assert n > 500
    for size, share in shares.items():
        found = sizes.groups.get(int(size), 0) / n
        assert abs(found - share) < 4 * np.sqrt(share * (1 - share) / n), size
    fitted = calibrate(history, history.extract_date, window_years=5)
    text = scenario_text(fitted, "groups", "test")
    assert "[entries.sibling_groups]" in text and "one home postcode" in text
    written = pd.concat(pd.read_csv(path, dtype=str) for path in (tmp_path / "returns").glob("*-episodes.csv"))
    assert not any(postcode in text for postcode in set(written["HOME_POST"].dropna()))
