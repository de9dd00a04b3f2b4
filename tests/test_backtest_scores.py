"""The backtest's scores and comparators are computed correctly: pure functions against hand computations, and
the rolling backtest of a hand-made authority whose every figure, forecast and score is known.

These tests check the arithmetic only. They never check that the model scores well.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import calibration.backtest as rolling
from calibration import scores
from calibration.backtest_result import scores_table, table
from calibration.backtest_targets import Observed
from calibration.published_data import CalibrationDataError

Z80 = 1.2815515655446004  # standard normal quantile at 0.90 (tables)
Z90 = 1.6448536269514722  # at 0.95


# ------------------------------------------------------------------------------------------ pure functions


def test_coverage_counts_figures_inside_their_band_edges_included() -> None:
    observed = [10, 20, 30, 40]
    assert scores.coverage(observed, [5, 21, 30, 35], [15, 25, 31, 39]) == 0.5  # 10 in, 20 below, 30 on edge, 40 above
    assert np.isnan(scores.coverage([], [], []))


def test_mape_is_the_mean_absolute_percentage_error_leaving_out_zero_figures() -> None:
    assert scores.mape([100, 50, 0], [110, 40, 5]) == pytest.approx(15.0)  # (10% + 20%) / 2; the zero left out
    assert np.isnan(scores.mape([0, 0], [1, 2]))


def test_interval_score_is_width_plus_two_over_alpha_times_the_miss() -> None:
    observed, low, high = [100, 120, 80], [90, 90, 90], [110, 110, 110]
    assert scores.interval_scores(observed, low, high, 0.2).tolist() == pytest.approx([20, 20 + 10 * 10, 20 + 10 * 10])
    assert scores.interval_scores(observed, low, high, 0.1).tolist() == pytest.approx([20, 220, 220])
    # scaled: each divided by its figure, in percent: (20/100 + 120/120 + 120/80) / 3
    assert scores.scaled_interval_score(observed, low, high, 0.2) == pytest.approx(90.0)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_an_alpha_outside_zero_to_one_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        scores.interval_scores([1], [0], [2], alpha)
    with pytest.raises(ValueError, match="alpha"):
        scores.poisson_band(10, alpha)


def test_arrays_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        scores.coverage([1, 2], [0], [3, 3])


def test_flat_holds_the_last_figure() -> None:
    assert scores.flat([100, 104, 98]) == 98
    with pytest.raises(ValueError):
        scores.flat([])


def test_trend_is_the_least_squares_line_and_flat_without_two_days() -> None:
    assert scores.trend([0, 10], [100, 110], 20) == pytest.approx(120)  # through both points
    # (0, 1), (1, 2), (2, 6): slope 5 / 2 = 2.5 about the means (1, 3), intercept 0.5; at 4: 10.5
    assert scores.trend([0, 1, 2], [1, 2, 6], 4) == pytest.approx(10.5)
    assert scores.trend([0, 10], [10, 5], 40) == 0.0  # -10 is no count of children
    assert not scores.has_trend([5, 5]) and scores.trend([5, 5], [7, 9], 50) == 9  # one day only: held flat
    assert scores.has_trend([0, 1])


def test_poisson_band_is_the_point_plus_or_minus_z_root_point_floored_at_zero() -> None:
    assert scores.poisson_band(100, 0.2) == pytest.approx((100 - Z80 * 10, 100 + Z80 * 10))
    assert scores.poisson_band(100, 0.1) == pytest.approx((100 - Z90 * 10, 100 + Z90 * 10))
    assert scores.poisson_band(1, 0.1) == pytest.approx((0.0, 1 + Z90))


# -------------------------------------------------------------------------------- a hand-made authority
#
# Published stock dates D0, D1, D2 (182 days apart): children in care 100, 110, 130; fostering 50, 54, 60;
# and fostering 52 on M, 91 days after D0 (not a stock date). Later figures are scored from D0 (four) and
# D1 (two); D2 has none after it. The "simulation" gives 11 replications k = 0..10 of known values, so
# P10 is the k = 1 value, P90 k = 9, P5 halfway from k = 0 to 1, P95 halfway from 9 to 10, the mean k = 5.

D0, M, D1, D2 = dt.date(2021, 1, 1), dt.date(2021, 4, 2), dt.date(2021, 7, 2), dt.date(2021, 12, 31)
CARE, FOSTER = ("children in care", None), ("fostering", ("fostering",))
STOCK = {D0: (100, 50), D1: (110, 54), D2: (130, 60)}
REPLICATIONS = 11
# origin -> snapshot (the day after a figure) -> (fostering at k = 0, other at k = 0); each rises 1 a replication
SIMULATED = {
    D0: {M: (47, 50), D1: (50, 50), D2: (52, 52)},
    D1: {D2: (55, 60)},
}


@dataclasses.dataclass(frozen=True)
class HandMade:
    """Just what the backtest reads of an authority."""

    display_name: str
    stock_dates: tuple[dt.date, ...]
    observations: tuple[Observed, ...]

    def targets(self, day: dt.date) -> SimpleNamespace:
        care, foster = STOCK[day]
        return SimpleNamespace(
            stock=SimpleNamespace(value=care), placements={"fostering": SimpleNamespace(value=foster)}
        )


OBSERVATIONS = (
    Observed(M, "fostering", ("fostering",), 52, "hand:M"),
    Observed(D1, "children in care", None, 110, "hand:D1"),
    Observed(D2, "children in care", None, 130, "hand:D2"),
    Observed(D2, "fostering", ("fostering",), 60, "hand:D2"),
)


@dataclasses.dataclass(frozen=True)
class FakeScenario:
    """As much of a scenario as the backtest touches: a horizon it sets the years of."""

    horizon: SimpleNamespace

    def model_copy(self, update: dict) -> FakeScenario:
        return dataclasses.replace(self, **update)


class FakeHorizon(SimpleNamespace):
    def model_copy(self, update: dict) -> FakeHorizon:
        return FakeHorizon(**{**vars(self), **update})


def _stock(origin: dt.date) -> pd.DataFrame:
    rows = []
    for day, (foster, other) in SIMULATED[origin].items():
        for k in range(REPLICATIONS):
            snapshot = pd.Timestamp(day + dt.timedelta(days=1))
            rows.append({"date": snapshot, "pool": "fostering", "replication": k, "children": foster + k})
            rows.append({"date": snapshot, "pool": "other", "replication": k, "children": other + k})
    return pd.DataFrame(rows)


@pytest.fixture
def hand_made(monkeypatch: pytest.MonkeyPatch) -> list[FakeScenario]:
    """The hand-made authority as 'handshire'; returns the scenarios the backtest ran."""
    ran: list[FakeScenario] = []

    def fake_run(scenario: FakeScenario, replications: int, seed=None, jobs: int = 1) -> SimpleNamespace:
        assert replications == REPLICATIONS
        ran.append(scenario)
        bands = SimpleNamespace(band_source="simulation only: parameters fixed")
        return SimpleNamespace(tables={"stock": _stock(scenario.horizon.start)}, run_summary=bands)

    authority = HandMade("Handshire", (D0, D1, D2), OBSERVATIONS)
    monkeypatch.setitem(rolling.AUTHORITIES, "handshire", authority)
    monkeypatch.setattr(
        rolling, "calibrated_scenario", lambda _, as_of: FakeScenario(FakeHorizon(start=as_of, years=9))
    )
    monkeypatch.setattr(rolling, "run", fake_run)
    return ran


def _row(frame: pd.DataFrame, origin: str, figures: str, forecaster: str) -> pd.Series:
    chosen = frame[(frame["origin"] == origin) & (frame["figures"] == figures) & (frame["forecaster"] == forecaster)]
    assert len(chosen) == 1
    return chosen.iloc[0]


def test_hand_made_authority_is_backcast_from_each_stock_date_with_later_figures(hand_made) -> None:
    result = rolling.backtest("handshire", REPLICATIONS)
    assert rolling.rolling_origins(rolling.AUTHORITIES["handshire"]) == [D0, D1]
    assert [(s.horizon.start, s.horizon.years) for s in hand_made] == [(D0, 1), (D1, 1)]  # to D2, within a year
    assert [(row.origin, row.date, row.measure) for row in result.compared] == [
        (D0, M, "fostering"),
        (D0, D1, "children in care"),
        (D0, D2, "children in care"),
        (D0, D2, "fostering"),
        (D1, D2, "children in care"),
        (D1, D2, "fostering"),
    ]
    care = result.compared[2]  # from D0, children in care on D2: 104 + 2k
    assert care.mean == 114 and care.band.low == 106 and care.band.high == 122
    assert {band.label: (band.low, band.high) for band in care.bands} == {"P10-P90": (106, 122), "P5-P95": (105, 123)}


def test_comparators_hold_the_last_figure_flat_and_draw_the_line_through_the_figures_known(hand_made) -> None:
    figures = table(rolling.backtest("handshire", REPLICATIONS))
    # from D0 each measure has one figure known: both comparators hold it flat, and say so
    first = figures[figures["origin"] == D0]
    assert first["naive"].tolist() == [50, 100, 100, 50]
    assert first["trend"].tolist() == [50, 100, 100, 50]
    assert first["trend_note"].str.startswith("flat: fewer than two").all()
    # from D1: children in care 100 on D0 and 110 on D1, so 120 on D2 (182 days on); fostering 50 on D0, the
    # published 52 on M (not a stock date) and 54 on D1: 2 more every 91 days, so 58 on D2
    second = figures[figures["origin"] == D1]
    assert second["naive"].tolist() == [110, 54]
    assert second["trend"].tolist() == pytest.approx([120, 58])
    assert (second["trend_note"] == "").all()
    # Poisson-style intervals: point -/+ z sqrt(point)
    assert second["trend_p10"].tolist() == pytest.approx([120 - Z80 * np.sqrt(120), 58 - Z80 * np.sqrt(58)])
    assert second["flat_p95"].tolist() == pytest.approx([110 + Z90 * np.sqrt(110), 54 + Z90 * np.sqrt(54)])


def test_scores_of_the_model_and_comparators_per_origin_and_overall_are_the_hand_computed_ones(hand_made) -> None:
    frame = scores_table(table(rolling.backtest("handshire", REPLICATIONS)))
    model = _row(frame, str(D0), "all figures", "model")
    # figures 52, 110, 130, 60 against means 52, 110, 114, 57 and P10-P90 48-56, 102-118, 106-122, 53-61
    assert model["count"] == 4
    assert model["inside_p10_p90"] == 0.75 and model["inside_p5_p95"] == 0.75  # 130 is above 122 and 123
    assert model["mape"] == pytest.approx((16 / 130 + 3 / 60) / 4 * 100)
    is80 = (8 / 52 + 16 / 110 + (16 + 10 * 8) / 130 + 8 / 60) / 4 * 100
    is90 = (9 / 52 + 18 / 110 + (18 + 20 * 7) / 130 + 9 / 60) / 4 * 100
    assert model["interval_score_p10_p90"] == pytest.approx(is80)
    assert model["interval_score_p5_p95"] == pytest.approx(is90)

    flat = _row(frame, str(D0), "all figures", "flat")  # 50, 100, 100, 50
    assert flat["inside_p10_p90"] == 0.5  # 130 above 100 + 12.8; 60 above 50 + 9.06
    assert flat["inside_p5_p95"] == 0.75  # 60 inside 50 + 11.6
    assert flat["mape"] == pytest.approx((2 / 52 + 10 / 110 + 30 / 130 + 10 / 60) / 4 * 100)
    width = 2 * Z80 * np.sqrt(100)
    miss = 130 - (100 + Z80 * 10)
    fostering_miss = 60 - (50 + Z80 * np.sqrt(50))
    expected = (
        2 * Z80 * np.sqrt(50) / 52
        + width / 110
        + (width + 10 * miss) / 130
        + (2 * Z80 * np.sqrt(50) + 10 * fostering_miss) / 60
    )
    assert flat["interval_score_p10_p90"] == pytest.approx(expected / 4 * 100)
    assert _row(frame, str(D0), "all figures", "trend")["note"] == (
        "held flat for 4 of 4 figures (fewer than two published figures by the origin)"
    )

    trend = _row(frame, str(D1), "all figures", "trend")  # 120 and 58 against 130 and 60
    assert trend["mape"] == pytest.approx((10 / 130 + 2 / 60) / 2 * 100)
    assert trend["inside_p10_p90"] == 1.0  # 130 inside 120 + 14.04; 60 inside 58 + 9.76
    expected = (2 * Z80 * np.sqrt(120) / 130 + 2 * Z80 * np.sqrt(58) / 60) / 2 * 100  # widths only
    assert trend["interval_score_p10_p90"] == pytest.approx(expected)
    assert trend["note"] == ""

    overall = _row(frame, "all", "all figures", "model")  # the four from D0 and 130, 60 inside 117-133, 56-64
    assert overall["count"] == 6 and overall["inside_p10_p90"] == pytest.approx(5 / 6)
    assert overall["mape"] == pytest.approx((16 / 130 + 3 / 60 + 5 / 130) / 6 * 100)
    care = _row(frame, "all", "children in care", "model")  # 110, 130 from D0 and 130 from D1
    assert care["count"] == 3 and care["mape"] == pytest.approx((16 / 130 + 5 / 130) / 3 * 100)


def test_written_scores_are_the_table_scores_and_pool_across_authorities(hand_made, tmp_path: Path) -> None:
    result = rolling.backtest("handshire", REPLICATIONS)
    paths = rolling.write_published_backtest(result, tmp_path / "out", "handshire")
    assert [path.name for path in paths] == [
        *("backtest_handshire.csv", "backtest_handshire.png", "backtest_scores_handshire.csv"),
        "backtest_scores_handshire.png",
    ]
    written = pd.read_csv(paths[2])
    expected = scores_table(table(result))
    numbers = [c for c in expected.columns if c.startswith(("inside", "mape", "interval"))]
    assert written[numbers].to_numpy() == pytest.approx(expected[numbers].to_numpy(), abs=1e-4)
    # the same figures twice over (two authorities alike): pooled scores are those of one
    pooled = rolling.pooled_scores([paths[0], paths[0]])
    assert list(pooled["origin"].unique()) == ["all"]
    mine = expected[expected["origin"] == "all"].reset_index(drop=True)
    assert pooled["count"].tolist() == (mine["count"] * 2).tolist()
    assert pooled[numbers].to_numpy() == pytest.approx(mine[numbers].to_numpy(), abs=0.01)  # from 2-decimal CSV


def test_an_unknown_authority_is_one_clear_message() -> None:
    with pytest.raises(CalibrationDataError, match="unknown authority 'nowhere'; expected one of: cheshire_east"):
        rolling.backtest("nowhere", REPLICATIONS)


def test_the_run_s_backtest_line_reads_the_authority_s_overall_scores(tmp_path) -> None:
    from calibration.backtest_result import backtest_line

    (tmp_path / "backtest_scores_handshire.csv").write_text(
        "origin,figures,forecaster,count,inside_p10_p90,inside_p5_p95,mape,interval_score_p10_p90,"
        "interval_score_p5_p95,note\n"
        "all,all figures,model,10,0.7,0.8,12.34,1,1,\n"
        "all,all figures,flat,10,0.1,0.1,99,1,1,\n"
        "all,children in care,model,4,0.75,1.0,5.06,1,1,\n",
        encoding="utf-8",
    )
    line = backtest_line("handshire_add_two_homes", tmp_path)
    assert "handshire calibration" in line
    assert "inside the simulated P10-P90 band for 75% of 4 later figures, the mean off by 5.1%" in line
    assert "all published figures 70% inside, off by 12.3%" in line
    assert backtest_line("elsewhere_baseline", tmp_path) is None
