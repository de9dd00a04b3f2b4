"""Complexity tiers: shares recovered, odds multipliers as the formula says, pools refusing tiers, no draws without.

The formula (sim.engine.complexity): p[t] proportional to share[band, t] x m_category[t] x m_need[t].
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import stats

from sim.engine.complexity import NO_CATEGORY, draw_tiers, tier_probabilities
from sim.engine.demand import NEED_INDEX, draw_cohort
from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.engine.scenario_files import ScenarioError
from sim.engine.vocabulary import AGE_BANDS, CATEGORIES_OF_NEED
from tests.builders import build, one_pool_scenario, rich_scenario

TIERS = ["standard", "complex", "very_complex"]
SHARES = {"standard": 0.7, "complex": 0.2, "very_complex": 0.1}


def complexity(**extra) -> dict:
    return {"tiers": TIERS, "shares_by_age_band": {band: dict(SHARES) for band in AGE_BANDS}, **extra}


def _binomial_99(successes: int, trials: int, p: float) -> bool:
    low, high = stats.binom.interval(0.99, trials, p)
    return low <= successes <= high


def test_shares_are_recovered_from_a_large_cohort():
    raw = one_pool_scenario(rate_per_year=4000.0, capacity="unlimited", years=5)
    raw["complexity"] = complexity()
    cohort = draw_cohort(build(raw), 11, 0, ["inhouse", "external"])
    n = cohort.size
    assert n > 15_000
    assert cohort.tier.dtype == np.int8
    for index, tier in enumerate(TIERS):
        assert _binomial_99(int(np.sum(cohort.tier == index)), n, SHARES[tier]), tier


def test_odds_multipliers_shift_shares_by_the_formula():
    """N4 doubles the complex odds; residential triples very_complex: hand-computed from the weights."""
    raw = rich_scenario()
    raw["complexity"] = complexity(
        odds_by_category_of_need={"N4": {"complex": 2.0}},
        odds_by_first_need={"residential": {"very_complex": 3.0, "complex": 1.5}},
    )
    c = build(raw).complexity
    band = np.array([3, 3, 3, 3])
    category = np.array([CATEGORIES_OF_NEED.index("N4"), CATEGORIES_OF_NEED.index("N1"), NO_CATEGORY, 3])
    need = np.array([NEED_INDEX["fostering"], NEED_INDEX["fostering"], NEED_INDEX["residential"], 2])
    p = tier_probabilities(c, band, category, need)
    # N4, fostering: weights 0.7, 0.4, 0.1 -> / 1.2
    np.testing.assert_allclose(p[0], [0.7 / 1.2, 0.4 / 1.2, 0.1 / 1.2])
    # N1, fostering: unchanged
    np.testing.assert_allclose(p[1], [0.7, 0.2, 0.1])
    # no category, residential: 0.7, 0.3, 0.3 -> / 1.3
    np.testing.assert_allclose(p[2], [0.7 / 1.3, 0.3 / 1.3, 0.3 / 1.3])
    # N4 and residential together: 0.7, 0.2 x 2 x 1.5 = 0.6, 0.3 -> / 1.6
    np.testing.assert_allclose(p[3], [0.7 / 1.6, 0.6 / 1.6, 0.3 / 1.6])
    # the odds of complex against standard are multiplied exactly by the product
    assert p[3][1] / p[3][0] == pytest.approx((0.2 / 0.7) * 3.0)


def test_entrants_draw_by_their_need_and_category():
    """A large cohort of residential N4 entrants recovers the hand-computed shifted shares."""
    raw = one_pool_scenario(rate_per_year=3000.0, capacity="unlimited", years=5, band="10-15")
    raw["entries"]["need_mix"] = {"N4": 1.0}
    raw["complexity"] = complexity(odds_by_category_of_need={"N4": {"complex": 2.0}})
    cohort = draw_cohort(build(raw), 5, 0, ["inhouse", "external"])
    expected = [0.7 / 1.2, 0.4 / 1.2, 0.1 / 1.2]
    for index, share in enumerate(expected):
        assert _binomial_99(int(np.sum(cohort.tier == index)), cohort.size, share)


def test_draw_never_picks_a_tier_of_zero_probability():
    p = np.array([[0.3, 0.7, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    u = np.array([0.99999999999, 0.5, 0.999999])
    assert draw_tiers(p, u).tolist() == [1, 1, 0]


def _restricted(raw: dict) -> dict:
    """Residential homes taking only the standard tier, the external homes every tier."""
    raw = copy.deepcopy(raw)
    raw["complexity"] = complexity(odds_by_first_need={"residential": {"complex": 2.0, "very_complex": 2.0}})
    raw["pools"]["homes"]["tiers"] = ["standard"]
    raw["pools"]["inhouse"]["tiers"] = ["standard", "complex"]
    return raw


def test_a_pool_refusing_a_tier_never_holds_such_a_child():
    scenario = build(_restricted(rich_scenario()))
    names = list(scenario.pools)
    homes, inhouse = names.index("homes"), names.index("inhouse")
    held = {homes: 0, inhouse: 0}
    for replication in range(3):
        record = simulate_replication(scenario, 3, replication)
        p = record.placements
        tier = record.cohort.tier[p[:, PlacementColumn.CHILD].astype(int)]
        in_care = p[:, PlacementColumn.KIND] == IN_CARE
        assert not np.any((p[:, PlacementColumn.POOL] == homes) & (tier != 0))
        assert not np.any((p[:, PlacementColumn.POOL] == inhouse) & (tier == 2) & in_care)
        # `wanted` is a pool taking the child's tier too
        wanted_homes = (p[:, PlacementColumn.WANTED] == homes) & in_care
        assert not np.any(wanted_homes & (tier != 0))
        held[homes] += int(np.sum(p[:, PlacementColumn.POOL] == homes))
        held[inhouse] += int(np.sum(p[:, PlacementColumn.POOL] == inhouse))
    assert held[homes] > 0 and held[inhouse] > 0  # the pools are used, by the tiers they take


def test_starting_children_get_a_tier_their_pool_takes():
    scenario = build(_restricted(rich_scenario()))
    names = list(scenario.pools)
    cohort = draw_cohort(scenario, 9, 0, names)
    start = cohort.starting
    assert np.all(cohort.tier[start & (cohort.start_pool == names.index("homes"))] == 0)
    assert np.all(cohort.tier[start & (cohort.start_pool == names.index("inhouse"))] <= 1)
    ifa = start & (cohort.start_pool == names.index("ifa"))
    assert len(np.unique(cohort.tier[ifa])) > 1  # unrestricted pools' children draw every tier
    assert np.all(cohort.tier[cohort.staying_put_at_start] == 0)


def test_without_complexity_nothing_is_drawn_and_records_are_unchanged():
    raw = rich_scenario()
    plain = build(raw)
    record = simulate_replication(plain, 4, 0)
    assert np.all(record.cohort.tier == 0)
    # a [complexity] with one tier draws from its own stream only: every other draw and record is the same
    raw["complexity"] = {"tiers": ["standard"], "shares_by_age_band": {band: {"standard": 1.0} for band in AGE_BANDS}}
    one_tier = simulate_replication(build(raw), 4, 0)
    np.testing.assert_array_equal(record.placements, one_tier.placements)
    np.testing.assert_array_equal(record.capacity, one_tier.capacity)
    # tiers drawn but no pool restricted: the same placements, so other draws are untouched
    raw["complexity"] = complexity()
    tiered = simulate_replication(build(raw), 4, 0)
    np.testing.assert_array_equal(record.placements, tiered.placements)
    assert np.any(tiered.cohort.tier != 0)


def test_dump_without_complexity_has_no_key():
    assert "complexity" not in build(rich_scenario()).model_dump()
    raw = _restricted(rich_scenario())
    dumped = build(raw).model_dump()
    assert dumped["complexity"]["tiers"] == TIERS
    assert "tiers" not in dumped["pools"]["ifa"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r["complexity"]["shares_by_age_band"].pop("5-9"), "shares_by_age_band"),
        (lambda r: r["complexity"]["shares_by_age_band"]["5-9"].update(standard=0.5), "shares_by_age_band.5-9"),
        (lambda r: r["complexity"]["shares_by_age_band"]["5-9"].update(heroic=0.0), "shares_by_age_band.5-9"),
        (lambda r: r["complexity"].update(odds_by_first_need={"residential": {"standard": 2.0}}), "odds_by_first"),
        (lambda r: r["complexity"].update(odds_by_first_need={"residential": {"huge": 2.0}}), "odds_by_first"),
        (lambda r: r["complexity"].update(odds_by_category_of_need={"N9": {"complex": 2.0}}), "N9"),
        (lambda r: r["complexity"].update(odds_by_category_of_need={"N1": {"complex": 0.0}}), "odds_by_category"),
        (lambda r: r["complexity"].update(tiers=["standard", "standard"]), "more than once"),
        (lambda r: r["pools"]["ifa"].update(tiers=["nope"]), "pools.ifa.tiers"),
        (lambda r: r["pools"]["ifa"].update(tiers=["standard"]), "matching.fostering"),
    ],
)
def test_bad_complexity_keys_are_refused_naming_the_key(change, key):
    raw = rich_scenario()
    raw["complexity"] = complexity()
    change(raw)
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        build(raw)


def test_pool_tiers_without_complexity_are_refused():
    raw = rich_scenario()
    raw["pools"]["homes"]["tiers"] = ["standard"]
    with pytest.raises(ScenarioError, match=r"pools\.homes\.tiers.*\[complexity\]"):
        build(raw)


def test_last_resort_must_take_every_tier():
    raw = rich_scenario()
    raw["complexity"] = complexity()
    raw["pools"]["external_homes"]["tiers"] = ["standard", "complex"]
    with pytest.raises(ScenarioError, match=r"matching\.residential.*external_homes.*tiers"):
        build(raw)


def test_a_starting_pool_taking_no_tier_its_children_can_have_is_refused():
    raw = rich_scenario()
    raw["complexity"] = complexity()
    raw["complexity"]["shares_by_age_band"]["10-15"] = {"complex": 1.0}
    raw["complexity"]["shares_by_age_band"]["5-9"] = {"complex": 1.0}
    raw["pools"]["homes"]["tiers"] = ["standard"]
    with pytest.raises(ScenarioError, match=r"start_population\.groups\[2\].*homes.*shares_by_age_band"):
        build(raw)


def test_formula_rows_sum_to_one():
    c = build({**rich_scenario(), "complexity": complexity(odds_by_first_need={"secure": {"complex": 5.0}})}).complexity
    rng = np.random.default_rng(0)
    n = 500
    p = tier_probabilities(c, rng.integers(0, 5, n), rng.integers(-1, 8, n), rng.integers(0, 8, n))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.all(p >= 0) and np.all(np.isfinite(p))
