"""The comparison report leads with the what-if: its answer and what it changes first, then its effect year by
year, the pools it changes side by side and how far to trust it; the base's detail after; the assumptions last,
without the authors' own notes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sim.analysis.compare import Comparison, compare
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario
from sim.present import report
from sim.present.trust import backtest_trust

REPLICATIONS = 3
ROOT = Path(__file__).resolve().parent.parent
PRICED = ROOT / "tests" / "bad_scenarios" / "priced_base.toml"
CHESHIRE_EAST = ROOT / "scenarios" / "cheshire_east"


@pytest.fixture(scope="module")
def base() -> Scenario:
    return load_scenario(PRICED)


@pytest.fixture(scope="module")
def comparison(base: Scenario) -> Comparison:
    homes = base.pools["homes"].model_copy(update={"capacity": base.pools["homes"].capacity + 2})
    bigger = base.model_copy(update={"name": "more home beds", "description": "Two more beds in the homes"})
    bigger = bigger.model_copy(update={"pools": {**base.pools, "homes": homes}})
    return compare(base, [bigger], replications=REPLICATIONS)


@pytest.fixture(scope="module")
def page(comparison: Comparison) -> str:
    return report.comparison_report(comparison, [PRICED])


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_what_if_comes_first_then_the_year_by_year_fan_then_the_base_then_the_assumptions(
    page: str, comparison: Comparison
) -> None:
    order = [
        "What if: more home beds",
        comparison.summaries["more home beds"][:60],
        "What changed",
        "How far to trust this",
        "id='year-by-year'",
        "id='changed-pools'",
        "The scenarios overlaid",
        "id='base'",
        "id='assumptions'",
        "<h2>Method</h2>",
    ]
    found = [page.find(marker) for marker in order]
    assert -1 not in found, [marker for marker, at in zip(order, found, strict=True) if at == -1]
    assert found == sorted(found)


def test_what_changed_names_the_setting_with_both_values_and_the_description(page: str, base: Scenario) -> None:
    now = base.pools["homes"].capacity
    text = _text(page)
    assert f"pools.homes.capacity: {now} in the base, {now + 2} in the what-if" in text
    assert "Two more beds in the homes" in text
    assert "pools.homes.description" not in text  # prose is not a change


def test_every_contents_link_has_its_target(page: str) -> None:
    links = re.findall(r"href='#([^']+)'", page)
    assert len(links) == 5
    assert all(f"id='{anchor}'" in page for anchor in links)


def test_the_trust_box_gives_the_authoritys_backtest_scores_or_says_there_are_none(
    comparison: Comparison, page: str
) -> None:
    assert "No backtest of this scenario's authority is recorded" in page  # valid_base has none
    named = comparison.base.scenario.model_copy(update={"name": "cheshire_east_test"})
    cheshire = dataclasses.replace(comparison, base=dataclasses.replace(comparison.base, scenario=named))
    trust = backtest_trust("cheshire_east_test")
    assert trust is not None
    stock = trust.scores["children in care"]
    text = _text(report.comparison_report(cheshire, []))
    assert f"{stock.inside_p10_p90:.0%} of {stock.count} later published counts of children in care" in text
    assert f"off by {stock.mape:.1f}% on average" in text


def test_backtest_scores_are_read_from_the_averaged_rows_and_a_bad_file_reads_as_none(tmp_path: Path) -> None:
    header = "origin,figures,forecaster,count,inside_p10_p90,inside_p5_p95,mape\n"
    rows = [
        "2016-03-31,children in care,model,1,0.0,0.0,50.0",
        "all,children in care,model,4,0.75,1.0,6.5",
        "all,children in care,flat,4,0.25,0.5,9.0",
        "all,all figures,model,9,0.5556,0.7,8.25",
    ]
    (tmp_path / "backtest_scores_somewhere.csv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    trust = backtest_trust("somewhere_baseline", tmp_path)
    assert trust is not None and trust.authority == "somewhere"
    stock, every = trust.scores["children in care"], trust.scores["all figures"]
    assert (stock.count, stock.inside_p10_p90, stock.mape, stock.flat_mape) == (4, 0.75, 6.5, 9.0)
    assert (every.count, every.mape, every.flat_mape) == (9, 8.25, None)
    assert backtest_trust("elsewhere_baseline", tmp_path) is None
    (tmp_path / "backtest_scores_somewhere.csv").write_text(header + "all,all figures,model,x,y,z,w\n")
    assert backtest_trust("somewhere_baseline", tmp_path) is None


def test_the_assumptions_appendix_has_no_internal_notes_and_lists_shared_reasons_once() -> None:
    appendix = " ".join(report._assumptions([CHESHIRE_EAST / "add_two_homes.toml"]))
    text = _text(appendix)
    for note in ("see source", "see above", "check)", "; check", "recalled", "file identifier"):
        assert note not in text, note
    assert text.count("in-house placements are local") == 1  # six pools, one reason
    assert "start_population.staying_put.count (3 entries)" in text
    assert "opening date 1 Oct 2018" in text  # the what-if's own assumptions come first
    assert text.index("add_two_homes.toml") < text.index("baseline.toml") < text.index("prices.toml")


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        ("# assumption: a ten-year planning horizon", "a ten-year planning horizon"),
        ("assumption: see source", ""),
        ("assumption: 0.68 x £646 (see source); no CE kinship allowance", "0.68 x £646; no CE kinship allowance"),
        ("assumption: about £200/wk (recalled, not in the notes; check), uprated", "about £200/wk, uprated"),
        (
            "IPF of 15 (a figure) over age bands (assumption: no age breakdown; X's is used)",
            "no age breakdown; X's is used",
        ),
        (
            "fitted: 17% beyond 20 miles, all external (assumption)",
            "fitted: 17% beyond 20 miles, all external (assumption)",
        ),
    ],
)
def test_a_comment_reads_as_its_reason(comment: str, reason: str) -> None:
    assert report._reason(comment.removeprefix("# ")) == reason


def test_the_run_report_still_shows_a_run_and_its_assumptions(comparison: Comparison) -> None:
    page = report.run_report(comparison.base, PRICED)
    assert page.startswith("<!doctype html>") and "Appendix: assumptions" in page
    assert page.count("<img") >= 4
