"""The market in the published baselines (calibration/market.py): fitted, derived and borrowed as documented."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from calibration import market
from calibration.authorities import AUTHORITIES
from calibration.fit import Value, fit
from calibration.market import UNREGISTERED_SHARE, Market, fit_market, homes_availability
from calibration.published import SCENARIOS, fitted_market, history_fit
from calibration.scenario_builder import build_document
from sim.engine.scenario_files import load_scenario_text

AS_OF = dt.date(2017, 12, 31)


@pytest.fixture(scope="module")
def cheshire_east():
    targets = AUTHORITIES["cheshire_east"].targets(AS_OF)
    fitted = fit(targets, history_fit("cheshire_east", AS_OF))
    path = SCENARIOS / "cheshire_east" / "baseline.toml"

    def scenario_for(chosen: Market):
        return load_scenario_text(build_document(targets, fitted, "(test)", "prices.toml", chosen), path)

    return targets, scenario_for


def test_a_known_agency_share_is_recovered_from_the_emergency_placements_it_makes(cheshire_east) -> None:
    targets, scenario_for = cheshire_east
    homes = homes_availability(targets)
    known = 0.45
    made = market._emergency_placements(scenario_for(Market(Value(known, ""), homes, market.SECURE_AVAILABILITY)))
    recovered = fit_market(
        dataclasses.replace(targets, emergency_placements_per_year=Value(made, "simulated")), scenario_for
    )
    assert recovered.agencies.value == pytest.approx(known, abs=0.03)
    assert "fitted:" in recovered.agencies.comment


def test_more_available_agencies_make_fewer_emergency_placements(cheshire_east) -> None:
    targets, scenario_for = cheshire_east
    homes = homes_availability(targets)
    counts = [
        market._emergency_placements(scenario_for(Market(Value(p, ""), homes, market.SECURE_AVAILABILITY)))
        for p in (0.2, 0.5, 0.9)
    ]
    assert counts[0] > counts[1] > counts[2] > 0


def test_the_homes_share_leaves_the_national_share_unregistered_by_hand() -> None:
    targets = AUTHORITIES["cheshire_east"].targets(AS_OF)
    external, stock = targets.placements["external_homes"].value, targets.stock.value
    assert homes_availability(targets).value == pytest.approx(1 - UNREGISTERED_SHARE.value * stock / external, abs=1e-4)
    # 0.09 x 470 = 42 in homes and secure care, 13 of them in-house homes, 0.47 in secure care (0.1% nationally)
    assert (external, stock) == (pytest.approx(28.53), 470)  # 1 - 4.7 / 28.53 = 0.835


def test_without_a_published_figure_agencies_are_always_found_and_stockport_borrows_cheshire_east() -> None:
    early = fitted_market("cheshire_east", dt.date(2016, 9, 30))  # the first figure is dated 2017-03-31
    assert early.agencies.value == 1.0 and "no emergency placements published" in early.agencies.comment
    stockport = fitted_market("stockport", dt.date(2018, 3, 31))
    assert stockport.agencies.value == fitted_market("cheshire_east", AS_OF).agencies.value
    assert "Cheshire East's share on 2017-12-31" in stockport.agencies.comment
    assert stockport.homes.value != fitted_market("cheshire_east", AS_OF).homes.value  # its own homes


def test_the_shipped_baselines_end_every_market_in_its_fallback() -> None:
    for authority in AUTHORITIES:
        scenario = load_scenario_text(
            (SCENARIOS / authority / "baseline.toml").read_text(), SCENARIOS / authority / "b.toml"
        )
        assert scenario.matching["fostering"].options[-1] == "emergency"
        assert scenario.matching["residential"].options[-1] == "unregistered"
        assert scenario.matching["secure"].options[-1] == "deprivation_of_liberty"
        assert scenario.pools["emergency"].kind == "emergency" and scenario.pools["emergency"].bridging_days
        assert 0 < scenario.pools["ifa"].availability < 1 and 0 < scenario.pools["external_homes"].availability < 1
