"""Distance from SSDA903 postcodes: each pool's share of placement-days within 20 miles of home.

Hand-made returns and a hand-made postcode lookup check the distance, the day weighting and the pools; the
lookup's bad input gets one clear line; no postcode leaves the reader or reaches the written scenario.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from calibration.ssda903.calibrate import calibrate, scenario_text
from calibration.ssda903.distances import (
    EARTH_RADIUS_MILES,
    MIN_PLACEMENTS,
    pool_distances,
    read_postcode_lookup,
)
from calibration.ssda903.errors import SSDA903Error
from calibration.ssda903.reader import read_ssda903

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "ssda903_samples"
MILES_PER_DEGREE = 2 * math.pi * EARTH_RADIUS_MILES / 360  # along a meridian
HOME = (53.0, -2.0)
LOOKUP = (
    "pcds,lat,long\n"
    f"AB1 2CD,{HOME[0]},{HOME[1]}\n"
    f"NE1 1AA,{HOME[0] + 10 / MILES_PER_DEGREE},{HOME[1]}\n"  # 10 miles north: within
    f"NE2 2BB,{HOME[0] + 30 / MILES_PER_DEGREE},{HOME[1]}\n"  # 30 miles north: beyond
    f"ED1 9ZZ,{HOME[0] + 19.9 / MILES_PER_DEGREE},{HOME[1]}\n"  # just within
    "NO1 0LL,99.999999,0.000000\n"  # the ONS files' placeholder: no location
)
HEADER = "CHILD,SEX,DOB\n" + "".join(f"{7000 + i},1,01/01/20{10 + i}\n" for i in range(5))
# Agency fostering (U5 or U6, PR4) in 2019: 7000 at 10 miles for 181 days then 30 miles for the rest of the year;
# 7001 at 30 miles all year; 7002 at 19.9 miles all year; 7003 to a postcode with no location (unknown);
# 7004 in-house fostering (U4, PR1) at 10 miles. The year 2019 is the reference period.
EPISODES = """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST
7000,01/01/2019,S,C2,N1,U5,PR4,01/07/2019,X1,CARPL,AB1 2CD,NE1 1AA
7000,01/07/2019,P,C2,N1,U6,PR4,,,,AB1 2CD,ne22bb
7001,01/01/2019,S,C2,N1,U6,PR4,,,,AB1 2CD,NE2 2BB
7002,01/01/2019,S,C2,N1,U6,PR4,,,,AB1 2CD,ED1 9ZZ
7003,01/01/2019,S,C2,N1,U6,PR4,,,,AB1 2CD,NO1 0LL
7004,01/01/2019,S,C2,N1,U4,PR1,,,,AB1 2CD,NE1 1AA
"""
START, END = pd.Timestamp("2019-01-01"), pd.Timestamp("2020-01-01")


@pytest.fixture
def returns(tmp_path: Path) -> Path:
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "header.csv").write_text(HEADER)
    (folder / "episodes.csv").write_text(EPISODES)
    (tmp_path / "lookup.csv").write_text(LOOKUP)
    return folder


def test_each_pools_share_is_its_placement_days_within_20_miles(returns: Path) -> None:
    lookup = read_postcode_lookup(returns.parent / "lookup.csv")
    assert lookup.unlocated == 1
    history = read_ssda903(returns, extract_date=dt.date(2020, 1, 1), postcodes=lookup)
    shares = pool_distances(history.episodes, START, END)
    days_within = 181 + 365  # 7000's first placement, 7002's year
    assert shares["ifa"].share_within == pytest.approx(days_within / (365 * 3))
    assert (shares["ifa"].placements, shares["ifa"].unknown) == (4, 1)
    assert shares["inhouse_fostering"].share_within == 1.0
    assert history.report.total("distance_unknown") == 1
    assert {"home", "placed"}.isdisjoint(history.episodes.columns)


def test_only_the_reference_period_counts(returns: Path) -> None:
    history = read_ssda903(
        returns, extract_date=dt.date(2020, 1, 1), postcodes=read_postcode_lookup(returns.parent / "lookup.csv")
    )
    second_half = pool_distances(history.episodes, pd.Timestamp("2019-07-01"), END)
    assert second_half["ifa"].share_within == pytest.approx(1 / 3)  # 7000 now beyond, 7001 beyond, 7002 within


def test_without_a_lookup_no_distance_is_known_and_the_scenario_keeps_its_default(returns: Path) -> None:
    history = read_ssda903(returns, extract_date=dt.date(2020, 1, 1))
    assert history.episodes["within_20_miles"].isna().all()
    assert history.report.total("distance_unknown") == 0
    assert all(
        math.isnan(d.share_within) and d.placements == 0 for d in pool_distances(history.episodes, START, END).values()
    )


def test_a_pool_with_enough_located_placements_gets_its_share_in_the_scenario(tmp_path: Path) -> None:
    """The shared samples, every home postcode at one place and every placement 30 miles away, or at home."""
    homes, placements = _sample_postcodes()
    for miles, expected in ((30.0, 0.0), (0.0, 1.0)):
        rows = [f"{code},{HOME[0]},{HOME[1]}" for code in homes]
        rows += [f"{code},{HOME[0] + miles / MILES_PER_DEGREE},{HOME[1]}" for code in placements - homes]
        path = tmp_path / f"lookup_{miles:g}.csv"
        path.write_text("postcode,latitude,longitude\n" + "\n".join(rows) + "\n")
        history = read_ssda903(SAMPLES, postcodes=read_postcode_lookup(path))
        result = calibrate(history, dt.date(2020, 4, 1))
        text = scenario_text(result, "samples", "test")
        fitted = {name: d for name, d in result.distances.items() if d.placements >= MIN_PLACEMENTS}
        assert fitted, "no pool has enough placements in the samples"
        for name, distance in fitted.items():
            assert distance.share_within == pytest.approx(expected, abs=0.02)  # homes placed at home, if any
            assert f"[pools.{name}]" in text
        assert "within_20_miles" in text and "placement-days" in text
        assert not any(code in text for code in homes | placements)


def _sample_postcodes() -> tuple[set[str], set[str]]:
    """The samples' postcodes, as the reader normalises them (read here only to write the test's lookup)."""
    frames = [pd.read_csv(path, dtype=str) for path in sorted(SAMPLES.glob("*-episodes.csv"))]
    episodes = pd.concat(frames)

    def codes(column: str) -> set[str]:
        return set(episodes[column].dropna().str.upper().str.replace(" ", "", regex=False))

    return codes("HOME_POST"), codes("PL_POST")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,lat,long\nAB1 2CD,53,-2\n", "no postcode column; expected one named pcds or pcd"),
        ("pcds,lat\nAB1 2CD,53\n", "no longitude column"),
        ("pcds,lat,long\nAB1 2CD,53,-2\nNE1 1AA,north,-2\n", "row 3, column lat: expected a finite number"),
        ("pcds,lat,long\nAB1 2CD,inf,-2\n", "row 2, column lat: expected a finite number"),
        ("pcds,lat,long\nAB1 2CD,53,-2\nNE1 1AA,95,-2\n", "row 3: latitude outside -90 to 90 degrees"),
        ("pcds,lat,long\nAB1 2CD,53,-2\nab12cd,54,-2\n", "row 3, column pcds: a postcode given twice"),
    ],
)
def test_a_bad_lookup_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lookup.csv"
    path.write_text(text)
    with pytest.raises(SSDA903Error, match=message):
        read_postcode_lookup(path)


def test_the_command_line_takes_a_lookup_and_refuses_it_without_ssda903(returns: Path) -> None:
    out = returns.parent / "scenario.toml"
    arguments = ["--as-of", "2020-01-01", "--out", str(out), "--postcodes", str(returns.parent / "lookup.csv")]
    refused = _cli("calibrate", "--authority", "cheshire_east", *arguments)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(
        "these options go with --ssda903, not --authority"
    )
    missing = _cli("calibrate", "--ssda903", str(returns), *arguments[:-1], str(returns.parent / "none.csv"))
    assert missing.returncode == 2 and "postcode lookup not found" in missing.stderr and not out.exists()


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
