"""Every chart builds from small runs, shows data, carries its footnote, and saves as PNG and SVG."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.analysis.compare import Comparison, compare
from sim.analysis.sizing import SizingCurve, finite_in_house_pools, sizing_curve
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario
from sim.present import charts
from sim.results.runner import RunResult, run
from sim.results.summary import RunSummary
from tests.builders import build, one_pool_scenario, rich_scenario

REPLICATIONS = 3
PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"


@pytest.fixture(scope="module")
def rich_result() -> RunResult:
    return run(build(rich_scenario(years=3)), replications=REPLICATIONS)


@pytest.fixture(scope="module")
def rich(rich_result: RunResult) -> RunSummary:
    return rich_result.run_summary


@pytest.fixture(scope="module")
def one_pool() -> RunSummary:
    return run(build(one_pool_scenario(years=3)), replications=REPLICATIONS).run_summary


@pytest.fixture(scope="module")
def priced_scenario() -> Scenario:
    return load_scenario(PRICED)


@pytest.fixture(scope="module")
def priced(priced_scenario: Scenario) -> RunSummary:
    return run(priced_scenario, replications=REPLICATIONS).run_summary


@pytest.fixture(scope="module")
def comparison(priced_scenario: Scenario) -> Comparison:
    homes = priced_scenario.pools["homes"].model_copy(update={"capacity": 4})
    bigger = priced_scenario.model_copy(
        update={"name": "more home beds", "pools": {**priced_scenario.pools, "homes": homes}}
    )
    return compare(priced_scenario, [bigger], replications=REPLICATIONS)


@pytest.fixture(scope="module")
def curves(priced_scenario: Scenario) -> list[SizingCurve]:
    return [
        sizing_curve(priced_scenario, pool, replications=REPLICATIONS)
        for pool in finite_in_house_pools(priced_scenario)
    ]


def footnote(figure: Figure) -> str:
    notes = [text.get_text() for text in figure.texts if text.get_gid() == "footnote"]
    assert len(notes) == 1, "every figure has exactly one footnote"
    return notes[0]


def check(figure: Figure, band: str = "P10-P90") -> None:
    """A Figure with data on at least one axes, and a footnote naming the replications and the band."""
    assert isinstance(figure, Figure)
    assert any(ax.lines or ax.patches or ax.collections for ax in figure.axes)
    note = " ".join(footnote(figure).split())
    assert f"{REPLICATIONS} replications" in note
    assert band in note


def test_fan_chart_has_a_panel_per_need_with_children(rich: RunSummary, rich_result: RunResult) -> None:
    figure = charts.fan_chart(rich)
    check(figure)
    needs = set(rich_result.tables["stock"]["need"])
    assert len(figure.axes) == len(needs)
    assert "rich" in footnote(figure)


def test_overlay_draws_what_differs_between_scenarios(comparison: Comparison) -> None:
    """The in-house places occupied (the sum of the finite in-house pools' means) and external spend by year, a
    line per scenario: not children in care, which is the same in every scenario by design."""
    runs = [comparison.base, *comparison.what_ifs]
    figure = charts.overlay(runs)
    check(figure)
    places, spend = figure.axes[:2]
    assert [line.get_label() for line in places.lines] == [r.scenario.name for r in runs]
    for line, summary in zip(places.lines, runs, strict=True):
        occupied = summary.occupancy("occupied")
        in_house = occupied[occupied["pool"].isin(finite_in_house_pools(summary.scenario))]
        expected = in_house.groupby("date")["mean"].sum().to_numpy(float)
        np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), expected)
    base_spend = comparison.base.budget
    external = base_spend[(base_spend["breakdown"] == "provision") & (base_spend["category"] == "external")]
    np.testing.assert_allclose(np.asarray(spend.lines[0].get_ydata(), dtype=float), external["mean"] / 1e6)
    assert not np.allclose(places.lines[0].get_ydata(), places.lines[1].get_ydata())  # the beds show
    with pytest.raises(ValueError):
        charts.overlay([])


def test_the_difference_fan_draws_each_years_mean_difference_per_measure(comparison: Comparison) -> None:
    figure = charts.difference_fan(comparison)
    check(figure, band="95% confidence interval of the mean difference")
    rows = comparison.differences[comparison.differences["category"] == "all"].set_index(["measure", "financial_year"])
    years = comparison.base.calendar.financial_years.labels
    drawn = [ax for ax in figure.axes if ax.lines]
    found = set(rows.index.get_level_values("measure"))
    measures = [next(m for m in group if m in found) for group in charts.FAN_MEASURES]  # children at a time first
    assert measures[1:] == ["spend_external", "spend_total"]
    assert [ax.get_title() for ax in drawn] == [
        f"{charts.MEASURE_LABELS[m]} ({charts.MEASURE_UNITS[m]})" for m in measures
    ]
    for ax, measure in zip(drawn, measures, strict=True):
        scale = 1e6 if measure.startswith("spend") else 1.0
        expected = rows.loc[measure].reindex(years)["difference"].fillna(0.0).to_numpy(float) / scale
        np.testing.assert_allclose(np.asarray(ax.lines[0].get_ydata(), dtype=float), expected)
    empty = dataclasses.replace(comparison, differences=comparison.differences.iloc[:0])
    assert "No what-if" in " ".join(text.get_text() for ax in charts.difference_fan(empty).axes for text in ax.texts)


def test_changed_pools_puts_each_scenario_side_by_side_on_one_scale(comparison: Comparison) -> None:
    runs = [comparison.base, *comparison.what_ifs]
    figure = charts.changed_pools(runs, ["homes", "a pool only a what-if has"])
    check(figure)
    assert len(figure.axes) == 4
    top, bottom = figure.axes[:2], figure.axes[2:]
    assert top[0].get_ylim() == top[1].get_ylim()  # one scale a row: the bigger pool reads as bigger
    capacity = [max(line.get_ydata()) for ax in top for line in ax.lines if line.get_label() == "usable places"]
    assert capacity[1] > capacity[0]
    assert all("Not in this scenario." in [t.get_text() for t in ax.texts] for ax in bottom)


def test_occupancy_has_a_panel_per_finite_in_house_pool(rich: RunSummary) -> None:
    figure = charts.occupancy(rich)
    check(figure)
    assert [ax.get_title() for ax in figure.axes] == finite_in_house_pools(rich.scenario)


def test_occupancy_without_a_finite_in_house_pool_says_so() -> None:
    result = run(build(one_pool_scenario(capacity="unlimited", years=1)), replications=REPLICATIONS)
    figure = charts.occupancy(result.run_summary)
    assert "No finite in-house pool" in " ".join(t.get_text() for ax in figure.axes for t in ax.texts)
    assert f"{REPLICATIONS} replications" in footnote(figure)


def test_gap_by_need_stacks_bars_per_financial_year(rich: RunSummary) -> None:
    figure = charts.gap_by_need(rich)
    check(figure)
    (ax,) = figure.axes
    assert len(ax.get_xticks()) == len(rich.calendar.financial_years.labels)


def test_spend_by_pool_is_none_without_a_price_book(rich: RunSummary, priced: RunSummary) -> None:
    assert charts.spend_by_pool(rich) is None
    figure = charts.spend_by_pool(priced)
    check(figure)
    assert "£ million" in figure.axes[0].get_ylabel()


def test_differences_has_a_panel_per_unit(comparison: Comparison) -> None:
    year = comparison.base.calendar.financial_years.labels[-1]
    figure = charts.differences(comparison, year)
    check(figure, band="95% confidence interval of the mean difference")
    units = [ax.get_xlabel() for ax in figure.axes]
    assert any("£ million" in unit for unit in units)
    single = charts.differences(comparison, year, measures=["placed_in_house"])
    assert len(single.axes) == 1
    with pytest.raises(ValueError, match="available"):
        charts.differences(comparison, "1999-00")


def test_sizing_has_a_panel_per_curve(curves: list[SizingCurve], priced_scenario: Scenario) -> None:
    figure = charts.sizing(curves, priced_scenario.name, REPLICATIONS)
    check(figure, band="No band")
    assert [ax.get_title() for ax in figure.axes] == [curve.pool for curve in curves]


def test_save_writes_png_and_svg(rich: RunSummary, tmp_path: Path) -> None:
    paths = charts.save(charts.gap_by_need(rich), tmp_path / "charts" / "gap.2020")
    assert [path.name for path in paths] == ["gap.2020.png", "gap.2020.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:2000]
    assert all(path.stat().st_size > 1000 for path in paths)


def test_children_by_year_draws_a_point_a_year_at_the_summary_means(rich: RunSummary) -> None:
    """One panel a measure; each panel's line holds the summary's mean for every financial year (NaN where the
    year's 31 March is past the horizon end)."""
    figure = charts.children_by_year(rich)
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert len(axes) == len(charts.CHILDREN_PANELS)
    table = rich.children_by_year
    years = rich.calendar.financial_years.labels
    for ax, (row, _, _) in zip(axes, charts.CHILDREN_PANELS, strict=True):
        expected = table[table["row"] == row].set_index("financial_year")["mean"].reindex(years).to_numpy(float)
        drawn = np.asarray(ax.lines[0].get_ydata(), dtype=float)
        np.testing.assert_allclose(drawn, expected)


@pytest.mark.parametrize(
    "chart", ["fan", "overlay", "occupancy", "spend", "differences", "difference_fan", "changed_pools", "sizing"]
)
def test_every_chart_renders(
    chart: str,
    rich: RunSummary,
    priced: RunSummary,
    comparison: Comparison,
    curves: list[SizingCurve],
    tmp_path: Path,
) -> None:
    """Drawing runs the layout engine, which is where a bad panel or footnote would fail."""
    figures = {
        "fan": lambda: charts.fan_chart(rich),
        "overlay": lambda: charts.overlay([priced, *comparison.what_ifs]),
        "occupancy": lambda: charts.occupancy(priced),
        "spend": lambda: charts.spend_by_pool(priced),
        "differences": lambda: charts.differences(comparison, comparison.base.calendar.financial_years.labels[0]),
        "difference_fan": lambda: charts.difference_fan(comparison),
        "changed_pools": lambda: charts.changed_pools([priced, *comparison.what_ifs], ["homes"]),
        "sizing": lambda: charts.sizing(curves, "priced", REPLICATIONS),
    }
    png, svg = charts.save(figures[chart](), tmp_path / chart)
    assert png.stat().st_size > 0 and svg.stat().st_size > 0


def test_long_text_from_a_scenario_is_cut_short_in_every_footnote_and_label(priced: RunSummary) -> None:
    """A 900 KB description once made one chart take 40 s: it is wrapped into every footnote."""
    words = "a sentence of the description " * 30_000
    name = "N" * 5_000
    long = dataclasses.replace(priced, scenario=priced.scenario.model_copy(update={"description": words, "name": name}))
    for chart in (charts.fan_chart, charts.occupancy, charts.gap_by_need, charts.spend_by_pool):
        figure = chart(long)
        note = " ".join(footnote(figure).split())
        assert f"{REPLICATIONS} replications" in note and "…" in note
        assert note.count("a sentence") <= charts.MAX_DESCRIPTION_CHARS // len("a sentence of the description ") + 1
        assert "N" * (charts.MAX_NAME_CHARS - 1) in note and "N" * charts.MAX_NAME_CHARS not in note
    places = charts.overlay([long]).axes[0]
    assert [len(line.get_label()) for line in places.lines] == [charts.MAX_NAME_CHARS]


def test_short_text_is_kept_whole_and_long_text_ends_in_an_ellipsis() -> None:
    assert charts.short("  Cheshire East\nbaseline  ", 300) == "Cheshire East baseline"
    cut = charts.short("word " * 100, 40)
    assert len(cut) <= 40 and cut.endswith("…") and cut.startswith("word word")


def test_the_sizing_footnote_warns_of_sibling_groups_only_when_children_arrive_in_them() -> None:
    raw = one_pool_scenario(rate_per_year=12.0, capacity=4, years=2)
    alone = sizing_curve(build(raw), "inhouse", 2)
    raw["entries"]["sibling_groups"] = {"size_shares": {"1": 0.5, "2": 0.3, "3": 0.2}, "note": "assumption: test"}
    grouped = sizing_curve(build(raw), "inhouse", 2)
    assert alone.group_peakedness == 1.0
    assert grouped.group_peakedness == pytest.approx((0.5 + 4 * 0.3 + 9 * 0.2) / (0.5 + 2 * 0.3 + 3 * 0.2))
    assert "sibling groups" not in footnote(charts.sizing([alone], "alone", 2))
    note = " ".join(footnote(charts.sizing([grouped], "grouped", 2)).split())
    assert "group of 2.06" in note and "lower bound" in note
