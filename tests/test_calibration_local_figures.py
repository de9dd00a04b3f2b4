"""The authority's own published figures override the national shapes: adoptions and SGOs set their exit
routes, and the children in care who are asylum seekers become a UASC stream of their own."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from calibration.authorities import cheshire_east_targets
from calibration.fit import fit, total_entry_rate
from calibration.published import calibrated_scenario, history_fit
from sim.analysis.projection import expected_stock
from sim.engine.scenario import RemandStream
from sim.engine.vocabulary import AGE_BANDS

ROOT = Path(__file__).resolve().parent.parent
LATEST = dt.date(2017, 12, 31)


def _implied_per_year(as_of: dt.date, route: str) -> float:
    """Children a year leaving by `route`: entries by age band at entry times the band's share of the route."""
    targets = cheshire_east_targets(as_of)
    routes = fit(targets).exit_routes
    admissions = total_entry_rate(targets).value
    shares = {band: targets.entry_age_shares[band].value for band in AGE_BANDS}
    total = sum(shares.values())
    return sum(admissions * shares[band] / total * routes[band].get(route, 0.0) for band in AGE_BANDS)


def test_published_adoptions_and_sgos_set_their_routes_and_the_other_routes_fill_the_rest() -> None:
    # 13 adoptions and 28 SGOs in April-December 2017 (002 L400): nine months, so 17.3 and 37.3 a year
    assert _implied_per_year(LATEST, "adoption") == pytest.approx(13 * 12 / 9, rel=1e-9)
    assert _implied_per_year(LATEST, "sgo_cao") == pytest.approx(28 * 12 / 9, rel=1e-9)
    routes = fit(cheshire_east_targets(LATEST)).exit_routes
    for band, shares in routes.items():
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12), band
        assert min(shares.values()) >= 0.0, band


def test_before_the_sgo_count_is_published_the_national_sgo_shape_stands() -> None:
    from calibration import priors

    routes = fit(cheshire_east_targets(dt.date(2016, 9, 30))).exit_routes
    national = priors.EXIT_ROUTES_BY_BAND
    # only adoption is scaled (16 in April-September 2016); SGO and the rest keep their national proportions
    for band in AGE_BANDS:
        if "adoption" not in national[band]:
            assert routes[band] == pytest.approx(national[band])
            continue
        ratio = routes[band]["sgo_cao"] / routes[band]["return_home"]
        assert ratio == pytest.approx(national[band]["sgo_cao"] / national[band]["return_home"])


def test_the_uasc_stream_alone_keeps_the_published_uasc_stock() -> None:
    scenario = calibrated_scenario("cheshire_east", LATEST)
    uasc = scenario.entries.uasc
    assert uasc.rate_per_year > 0 and uasc.age_mix == {"16-17": 1.0} and uasc.trend_percent_per_year == 0.0
    only_uasc = scenario.model_copy(
        update={
            "entries": scenario.entries.model_copy(
                # the remand stream (issue 18 item 6) off too: the UASC stream alone
                update={
                    "rate_per_year": dict.fromkeys(AGE_BANDS, 0.0),
                    "trend_percent_per_year": 0.0,
                    "remand": RemandStream(),
                }
            ),
            "start_population": scenario.start_population.model_copy(update={"groups": []}),
            "uncertainty": None,
        }
    )
    day = dt.date(2023, 1, 1)  # five years on: the stream has long reached its steady state
    stock = expected_stock(only_uasc, [day])["children"].sum()
    assert stock == pytest.approx(6.0, rel=0.03)  # 6 cared-for UASC, end of February 2017 (001 L514)


def test_main_and_uasc_entries_add_up_to_the_fitted_entries() -> None:
    scenario = calibrated_scenario("cheshire_east", LATEST)
    total = sum(scenario.entries.rate_per_year.values()) + scenario.entries.uasc.rate_per_year
    fitted = history_fit("cheshire_east", LATEST).entries_per_year(LATEST)
    assert total == pytest.approx(fitted, rel=1e-4)


def test_before_the_uasc_count_is_published_there_is_no_uasc_stream() -> None:
    assert calibrated_scenario("cheshire_east", dt.date(2016, 9, 30)).entries.uasc.rate_per_year == 0.0


def test_young_people_staying_put_start_in_that_state_and_hold_places_on_top_of_the_children() -> None:
    scenario = calibrated_scenario("cheshire_east", LATEST)
    staying = {group.pool: group.count for group in scenario.start_population.staying_put}
    assert sum(staying.values()) == 16  # 'Staying Put arrangements (16)', January 2017 (001 L292)
    assert set(staying) <= {"inhouse_fostering", "ifa", "kinship"}
    children = sum(g.count for g in scenario.start_population.groups if g.pool == "inhouse_fostering")
    assert children == 157  # with Cheshire East foster carers, December 2017 (002 L788)
    pool = scenario.pools["inhouse_fostering"]
    usable = math.floor(pool.capacity * pool.usable_share + 1e-9)
    assert usable == 159 + staying["inhouse_fostering"]  # the Erlang fit for the children alone, plus Staying Put
    assert pool.capacity == math.ceil(usable / 0.82)  # approved: 18% of places not available nationally (L65)
    assert fit(cheshire_east_targets(LATEST)).inhouse_foster_places.value == pool.capacity
