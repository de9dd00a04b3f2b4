"""Calibration from SSDA903 returns: synthetic round trip, the shared samples end to end, no identifiers out."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from calibration.backtest_result import summary
from calibration.ssda903 import estimate
from calibration.ssda903.backtest import backtest_ssda903, write_ssda903_backtest
from calibration.ssda903.calibrate import build_scenario, calibrate, write_calibration
from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from sim.cli import main
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario
from tests.builders import build, one_pool_scenario

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "ssda903_samples"
ROUTES = {
    "return_home": {"distribution": "lognormal", "mean": 200.0, "sd": 250.0},
    "sgo_cao": {"distribution": "gamma", "mean": 600.0, "sd": 250.0},
}


def known_scenario():
    """Two age bands entering at known rates, two exit routes with known stays, no one in care at the start."""
    raw = one_pool_scenario(rate_per_year=0.0, capacity="unlimited", years=9)
    raw["horizon"]["start"] = dt.date(2010, 4, 1)
    raw["entries"]["rate_per_year"] = {"under1": 0, "1-4": 450.0, "5-9": 0, "10-15": 450.0, "16-17": 0}
    journey = {
        "exit_routes": {"return_home": 0.6, "sgo_cao": 0.4},
        "duration": ROUTES,
        "first_need": {"fostering": 1.0},
    }
    raw["journeys"] = {band: journey for band in raw["journeys"]}
    return build(raw)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("synthetic")
    scenario = known_scenario()
    write_synthetic_ssda903(scenario, folder, seed=11, first_year=2014)
    history = read_ssda903(folder)
    return scenario, calibrate(history, history.extract_date, window_years=4)


def test_round_trip_recovers_entry_rates_within_5_percent(round_trip) -> None:
    scenario, result = round_trip
    for band, rate in scenario.entries.rate_per_year.items():
        if rate > 0:
            assert result.entries.rate_by_band[band] == pytest.approx(rate, rel=0.05), band


def test_round_trip_recovers_median_stays_within_10_percent(round_trip) -> None:
    scenario, result = round_trip
    journey = scenario.journeys["1-4"]
    for route, spec in journey.duration.items():
        expected = spec.frozen().median()
        fitted = result.durations["1-4"].fits[route].median_days
        assert fitted == pytest.approx(expected, rel=0.10), route
    shares = result.durations["1-4"].route_shares
    assert shares["return_home"] == pytest.approx(0.6, abs=0.05)


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic returns 2014-2019 (years to 31 March) of the known scenario; copy before changing them."""
    folder = tmp_path_factory.mktemp("returns")
    write_synthetic_ssda903(known_scenario(), folder, seed=3, first_year=2014)
    return folder


def test_calibrate_command_writes_a_valid_scenario_and_report(returns: Path, tmp_path: Path) -> None:
    folder = returns
    out = tmp_path / "fitted" / "baseline.toml"
    assert main(["calibrate", "--ssda903", str(folder), "--as-of", "2018-04-01", "--out", str(out)]) == 0
    scenario = load_scenario(out)
    assert sum(g.count for g in scenario.start_population.groups) > 100
    report = (out.parent / "calibration_report.html").read_text()
    assert "Entries per year" in report and "Kaplan-Meier" in report and "Data cleaning" in report
    # the fitted trend fades toward flat national starts, halving its distance in the 3-year window's length
    fade = scenario.entries.trend_fade
    assert (fade.to_percent_per_year, fade.half_life_years) == (0.0, 3.0)  # 1,096 days from 2015-04-01


def test_a_fit_without_a_trend_writes_no_fade(round_trip) -> None:
    _, result = round_trip
    flat = dataclasses.replace(result, entries=estimate.without_trend(result.entries))
    assert build_scenario(flat, "flat").entries.trend_fade is None
    assert build_scenario(result, "fitted").entries.trend_fade.half_life_years == 4.0


def test_children_placed_in_house_on_the_as_of_date_fit_in_the_capacity(returns: Path, tmp_path: Path) -> None:
    # 30 children enter in-house children's homes on the as-of date itself; the known scenario has no
    # residential placements at all, so the weekly counts of the year before see none of them.
    folder = tmp_path / "returns"
    shutil.copytree(returns, folder)
    with (folder / "2019-episodes.csv").open("a", encoding="utf-8") as episodes:
        episodes.writelines(f"{990000 + i},01/04/2018,S,C2,N1,K2,PR1,,,,,,\n" for i in range(30))
    with (folder / "2019-header.csv").open("a", encoding="utf-8") as header:
        header.writelines(f"{990000 + i},1,01/06/2005,WBRI,,,\n" for i in range(30))
    out = tmp_path / "fitted" / "baseline.toml"
    write_calibration(folder, dt.date(2018, 4, 1), out, command="test")
    scenario = load_scenario(out)  # validates: no pool starts fuller than its capacity
    starting = sum(g.count for g in scenario.start_population.groups if g.pool == "inhouse_homes")
    assert starting == 30 and scenario.pools["inhouse_homes"].capacity == 30


@pytest.mark.parametrize("window", [0, -2])
def test_a_window_of_no_years_is_refused_naming_the_option(round_trip, window: int) -> None:
    _, result = round_trip
    with pytest.raises(ValueError, match=rf"--window-years must be a whole number of years, at least 1; got {window}"):
        calibrate(result.history, result.as_of, window_years=window)


def test_an_as_of_date_after_the_extract_date_is_refused(round_trip) -> None:
    _, result = round_trip
    later = result.history.extract_date + dt.timedelta(days=1)
    with pytest.raises(ValueError, match=r"--as-of .* is after the returns' extract date"):
        calibrate(result.history, later, window_years=3)
    with pytest.raises(ValueError, match=r"reaches back before 1900"):
        calibrate(result.history, result.as_of, window_years=500)


def test_a_fit_the_scenario_rules_refuse_is_one_line(round_trip) -> None:
    _, result = round_trip
    fits = result.durations["1-4"].fits
    century = dataclasses.replace(fits["return_home"], params={"mean": 1e6, "sd": 1e6})
    durations = {
        **result.durations,
        "1-4": dataclasses.replace(result.durations["1-4"], fits={**fits, "return_home": century}),
    }
    with pytest.raises(ScenarioError) as caught:
        build_scenario(dataclasses.replace(result, durations=durations))
    message = str(caught.value)
    assert "\n" not in message and "journeys.1-4.duration.return_home.mean" in message and "(and 1 more)" in message


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared SSDA903 samples are not here")
def test_samples_end_to_end_write_no_identifier_birth_date_or_postcode(tmp_path: Path, capsys) -> None:
    out = tmp_path / "samples" / "baseline.toml"
    write_calibration(SAMPLES, dt.date(2019, 4, 1), out, command="test")
    assert main(["run", str(out), "--replications", "3", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    result = backtest_ssda903(SAMPLES, dt.date(2019, 4, 1), horizon_months=12, replications=5)
    paths = write_ssda903_backtest(result, tmp_path / "backtest")
    assert {"inside_p10_p90", "inside_p5_p95", "mape_model", "mape_naive"} <= set(summary(result).columns)
    printed = capsys.readouterr().out
    secrets = _identifiers(SAMPLES)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".toml", ".html", ".csv", ".json")]
    assert written
    for path in [*written, *paths]:
        text = path.read_text(errors="ignore") if path.suffix != ".png" else ""
        _assert_no_secrets(text, secrets, str(path))
    _assert_no_secrets(printed, secrets, "stdout")


def _identifiers(folder: Path) -> set[str]:
    """CHILD ids, birth dates (both date styles) and postcodes found in the returns."""
    secrets: set[str] = set()
    for path in folder.glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                secrets.update(v for k, v in row.items() if k in ("CHILD", "HOME_POST", "PL_POST", "UPN") and v)
                if row.get("DOB"):
                    day, month, year = row["DOB"].split("/")
                    secrets.update({row["DOB"], f"{year}-{month}-{day}"})
    return {s for s in secrets if len(s) >= 5}


def _assert_no_secrets(text: str, secrets: set[str], where: str) -> None:
    tokens = set(re.findall(r"[A-Za-z0-9/\-]+(?: [0-9][A-Z]{2})?", text))
    leaked = secrets & tokens
    assert not leaked, f"{where} contains {len(leaked)} identifier(s) from the input"


@pytest.mark.parametrize("family", ["lognormal", "gamma", "weibull", "exponential"])
@pytest.mark.parametrize("theta", [(math.log(400.0), math.log(0.8)), (math.log(30.0), math.log(2.5)), (4.0, -1.5)])
def test_closed_form_log_densities_are_scipy_s(family: str, theta: tuple[float, float]) -> None:
    """The fit's own log density and log survival agree with scipy.stats for the same parameters."""
    stays = np.array([0.5, 3.0, 40.0, 365.25, 1500.0, 6000.0])
    theta_array = np.array(theta[:1] if family == "exponential" else theta)
    log_pdf, log_sf = estimate._log_densities(
        family, theta_array, (stays, np.log(stays)), (stays[::-1], np.log(stays[::-1]))
    )
    dist, kwds = estimate._scipy_family(family, theta_array)
    np.testing.assert_allclose(log_pdf, dist.logpdf(stays, **kwds), rtol=1e-10)
    finite = np.isfinite(dist.logsf(stays[::-1], **kwds))
    np.testing.assert_allclose(log_sf[finite], dist.logsf(stays[::-1], **kwds)[finite], rtol=1e-9)
