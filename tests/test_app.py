"""The workshop app: levers into what-if scenarios, safe uploads, the session, and the page driven by AppTest."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from sim.analysis.what_if import LeverError, Levers, scenario_document, what_if_document
from sim.app import launch
from sim.app.session import Baseline, Workshop, run_baseline, run_what_if
from sim.app.uploads import (
    MAX_UPLOAD_BYTES,
    read_scenario,
    replace_start_population,
    scenario_from_upload,
    start_csv_from_upload,
)
from sim.cli import _parser, main
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario, scenario_from_dict
from sim.engine.toml_writer import to_toml
from sim.results.runner import run
from sim.results.summary import FALLBACKS_TITLE, financial_year

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "sim" / "app" / "streamlit_app.py"
CHESHIRE_EAST = ROOT / "scenarios" / "cheshire_east" / "baseline.toml"
PRICED = ROOT / "tests" / "bad_scenarios" / "priced_base.toml"
START_CSV = b"age_years,need,pool,days_in_care\n7.5,fostering,inhouse,200\n12.0,residential,homes,90\n"
TIMEOUT = 120


@pytest.fixture(scope="module")
def cheshire_east():
    return load_scenario(CHESHIRE_EAST)


def _self_contained(path: Path) -> bytes:
    return to_toml(scenario_document(load_scenario(path)), []).encode()


# ---------------------------------------------------------------------------------------------
# Levers and the what-if file


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*/[!p]*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_reads_back_the_same_from_its_self_contained_file(path: Path) -> None:
    scenario = load_scenario(path)
    again = read_scenario(to_toml(scenario_document(scenario), []), path.name)
    assert again.model_dump(exclude={"extends"}) == scenario.model_dump(exclude={"extends"})


def test_each_lever_changes_its_own_scenario_key(cheshire_east) -> None:
    levers = Levers(
        homes_change=2,
        beds_per_home=3,
        homes_date=dt.date(2018, 1, 1),
        extra_foster_approvals_per_year=10,
        step_down_share=0.3,
        step_down_after_months=(6, 9),
        entries_change_percent=10,
        entries_trend_percent_per_year=1.0,
        staying_put_probability=0.6,
        external_price_change_percent=10,
        in_house_price_change_percent=-5,
        inflation_change_points=1,
    )
    base = cheshire_east
    what_if = scenario_from_dict(what_if_document(base, levers, "w", seed=7))
    assert what_if.seed == 7 and what_if.name == "w"
    assert what_if.pools["inhouse_homes"].capacity_changes[-1].model_dump() == {
        "date": dt.date(2018, 1, 1),
        "change": 6,
        "homes": 2,
        "note": "workshop what-if: homes opened",
    }
    approvals = what_if.pools["inhouse_fostering"].fostering.approvals_per_year
    assert approvals == pytest.approx(base.pools["inhouse_fostering"].fostering.approvals_per_year + 10)
    for journey in what_if.journeys.values():
        (move,) = [m for m in journey.moves if m.from_need == "residential"]
        assert (move.to_need, move.probability) == ("fostering", 0.3)
        assert (move.after_days.low, move.after_days.high) == (183.0, 274.0)
    for band, rate in base.entries.rate_per_year.items():
        assert what_if.entries.rate_per_year[band] == pytest.approx(rate * 1.1)
    assert what_if.entries.trend_percent_per_year == 1.0
    assert what_if.leaving_care.staying_put.probability == 0.6
    prices, base_prices = what_if.prices, base.prices
    assert prices.pools["ifa"].weekly == pytest.approx(base_prices.pools["ifa"].weekly * 1.1)
    for tier, price in prices.pools["external_homes"].weekly_by_tier.items():  # every price form scales
        assert price.median == pytest.approx(base_prices.pools["external_homes"].weekly_by_tier[tier].median * 1.1)
    scheduled = base_prices.inflation_groups["residential_market"].uplift_percent_by_year
    shifted = prices.inflation_groups["residential_market"].uplift_percent_by_year
    assert shifted == {year: pytest.approx(percent + 1) for year, percent in scheduled.items()}  # the schedule too
    block = base_prices.pools["inhouse_homes"].block_per_home_per_year
    assert prices.pools["inhouse_homes"].block_per_home_per_year == pytest.approx(block * 0.95)
    assert prices.inflation_percent_per_year == base_prices.inflation_percent_per_year + 1
    assert prices.inflation_percent("external_homes") == base_prices.inflation_percent("external_homes") + 1
    assert prices.inflation_percent("ifa") == base_prices.inflation_percent("ifa") + 1
    assert "what-if" in prices.pools["ifa"].source


@pytest.mark.parametrize(
    ("levers", "message"),
    [
        (Levers(homes_change=-6, beds_per_home=3), r"has 5 home\(s\) and 14 bed\(s\)"),
        (Levers(homes_change=1, homes_date=dt.date(2030, 1, 1)), "outside the horizon"),
        (Levers(extra_foster_approvals_per_year=-20), "fewer than none"),
    ],
)
def test_a_lever_the_baseline_cannot_take_is_refused_with_the_reason(cheshire_east, levers, message) -> None:
    with pytest.raises(LeverError, match=message):
        what_if_document(cheshire_east, levers, "w", seed=1)


def test_prices_cannot_change_without_a_price_book() -> None:
    unpriced = load_scenario(ROOT / "tests" / "bad_scenarios" / "valid_base.toml")
    with pytest.raises(LeverError, match="no price book"):
        what_if_document(unpriced, Levers(external_price_change_percent=10), "w", seed=1)


@pytest.mark.parametrize(
    "values",
    [{"homes_change": 50}, {"step_down_share": 1.5}, {"step_down_after_months": (9, 6)}, {"homes": 2}],
)
def test_levers_out_of_range_or_unknown_are_refused(values) -> None:
    with pytest.raises(ValidationError):
        Levers(**values)


def test_no_lever_pulled_gives_exactly_the_baseline(cheshire_east) -> None:
    base = run_baseline(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=2)
    what_if = run_what_if(base, Levers())
    assert len(what_if.differences) > 50
    assert (what_if.differences["difference"] == 0).all()


def test_the_first_what_if_runs_beside_the_baseline_and_gives_what_each_run_alone_gives(cheshire_east) -> None:
    """The session's first click runs both on one pool, drawing each replication's children once (issue 20): the
    baseline and the what-if are exactly the runs made one after the other, and the page says the time holds both."""
    workshop = Workshop(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=2, seed=cheshire_east.seed)
    first = workshop.try_levers(Levers(homes_change=2))
    base = run_baseline(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=2, seed=cheshire_east.seed)
    alone = run_what_if(base, Levers(homes_change=2), name=first.name)
    for name, table in base.result.tables.items():
        pd.testing.assert_frame_equal(workshop.base.result.tables[name], table, check_exact=True, obj=name)
        pd.testing.assert_frame_equal(first.result.tables[name], alone.result.tables[name], check_exact=True, obj=name)
    pd.testing.assert_frame_equal(first.differences, alone.differences, check_exact=True)
    assert first.with_baseline and not workshop.try_levers(Levers(homes_change=1)).with_baseline


class LeverChanged(BaseException):
    """What Streamlit raises in the running page when a lever changes (its RerunException is a BaseException)."""


def test_a_what_if_answers_first_on_its_first_replications_then_on_all(cheshire_east) -> None:
    """Issue 20 item 2: a partial answer, on the first 50 or so replications of both runs (the baseline's too,
    on the first click), is the answer a session of that many replications gives; then the whole answer."""
    workshop = Workshop(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=60, seed=1, jobs=2)
    answers = []
    final = workshop.try_levers(Levers(homes_change=2), partial=answers.append)
    (first,) = answers
    count = first.result.replications
    assert 50 <= count < 60 and final.result.replications == 60 and first.seconds <= final.seconds
    small = Workshop(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=count, seed=1, jobs=2)
    expected = small.try_levers(Levers(homes_change=2))
    numbers = ["base_mean", "what_if_mean", "difference", "ci95_low", "ci95_high"]
    pd.testing.assert_frame_equal(first.differences.drop(columns=numbers), expected.differences.drop(columns=numbers))
    pd.testing.assert_frame_equal(first.differences[numbers], expected.differences[numbers], rtol=1e-9)
    later = []
    workshop.try_levers(Levers(homes_change=1), partial=later.append)  # the baseline cached: its first 50 or so
    assert [w.result.replications for w in later] == [count]


def test_a_lever_changed_mid_run_stops_it_leaving_no_worker_and_the_session_as_it_was(cheshire_east) -> None:
    def changed(_: object) -> None:
        raise LeverChanged

    workshop = Workshop(Baseline("ce", cheshire_east, CHESHIRE_EAST), replications=8, seed=1, jobs=2)
    with pytest.raises(LeverChanged):
        workshop.try_levers(Levers(homes_change=2), progress=changed)  # the first click: baseline and what-if
    assert multiprocessing.active_children() == []
    assert workshop.base is None and workshop.history == []
    workshop.try_levers(Levers(homes_change=2))
    with pytest.raises(LeverChanged):
        workshop.try_levers(Levers(homes_change=1), progress=changed)  # the baseline cached
    assert multiprocessing.active_children() == []
    assert len(workshop.history) == 1


# ---------------------------------------------------------------------------------------------
# Uploads


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "big.toml",
            b"#" * (MAX_UPLOAD_BYTES + 1),
            r"^big.toml: 1,048,577 bytes is over the 1 MB limit \(1,048,576 bytes\)",
        ),
        ("empty.toml", b"  \n", "the file is empty"),
        ("binary.toml", b"\xff\xfe\x00name", "not a text file"),
        ("broken.toml", b"name = [", "not valid TOML"),
        ("scenario.txt", b'name = "x"', "expected a TOML file"),
        ("child.toml", b'extends = "../../etc/passwd"\nname = "x"', "must be self-contained"),
        ("csv.toml", b'name = "x"\n[start_population]\ncsv = "/etc/passwd"', "upload that CSV"),
        ("incomplete.toml", b'name = "x"', "incomplete.toml: horizon: required key is missing"),
    ],
)
def test_a_bad_scenario_upload_is_refused_with_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_upload(name, data)


def test_an_uploaded_start_population_replaces_the_baseline_children_and_no_file_is_left(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    csv = start_csv_from_upload("our children.csv", START_CSV)
    assert csv.name == "our_children.csv"
    scenario = scenario_from_upload("base.toml", _self_contained(PRICED), csv)
    assert [(c.need, c.pool) for c in scenario.start_population.children] == [
        ("fostering", "inhouse"),
        ("residential", "homes"),
    ]
    shipped = replace_start_population(load_scenario(PRICED), csv)
    assert len(shipped.start_population.children) == 2
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone


def test_a_bad_start_population_row_is_named_without_the_temporary_folder() -> None:
    csv = start_csv_from_upload("start.csv", b"age_years,need,pool,days_in_care\nten,fostering,inhouse,100\n")
    expected = r"^start.csv: row 2: age_years: expected a number \(start_population.csv of base.toml\)$"
    with pytest.raises(ScenarioError, match=expected) as error:
        scenario_from_upload("base.toml", _self_contained(PRICED), csv)
    assert "sufficiency-app-" not in str(error.value)


# ---------------------------------------------------------------------------------------------
# The command


def test_the_app_listens_on_this_machine_only_unless_told_otherwise(monkeypatch) -> None:
    args = _parser().parse_args(["app"])
    assert (args.host, args.port) == ("127.0.0.1", 8501)
    started = []
    monkeypatch.setattr(launch.os, "execv", lambda path, command: started.append(command))
    main(["app", "--port", "8600", "--jobs", "2"])
    (command,) = [" ".join(c) for c in started]
    assert "streamlit run" in command and str(launch.PAGE) in command
    assert "--server.address 127.0.0.1 --server.port 8600" in command
    assert "--server.maxUploadSize 1" in command and "--browser.gatherUsageStats false" in command
    assert "--client.showErrorDetails none" in command  # Streamlit reads the legacy "false" as "stacktrace"
    assert command.endswith("-- --jobs 2")


def test_without_streamlit_the_app_command_says_how_to_install_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None)
    assert main(["app"]) == 1
    assert "pip install care-sufficiency-simulator[app]" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The page


def _page(replications: int = 4) -> AppTest:
    page = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    page.run()
    page.number_input(key="replications").set_value(replications)
    return page


def _run(page: AppTest) -> AppTest:
    page.button(key="run").click()
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    assert not page.error, [e.value for e in page.error]
    return page


def shown(text: str) -> str:
    """Text as the page shows it: the markdown escapes (`sim.app.messages.plain`) removed."""
    return re.sub(r"\\(.)", r"\1", text)


def _metric(page: AppTest, label: str):
    (metric,) = [m for m in page.metric if m.label == label]
    return metric


def test_more_homes_in_the_page_place_fewer_children_externally(tmp_path: Path) -> None:
    page = _page()
    page.number_input(key="homes_change").set_value(2)
    _run(page)
    assert "fewer" in page.info[0].value and "placed externally" in page.info[0].value
    assert float(_metric(page, "Placed externally").delta) < 0
    assert float(_metric(page, "Placed in-house").delta) > 0
    labels = [metric.label for metric in page.metric]  # each gap figure named, never both summed as "the gap"
    assert {"Not sufficient, child-days", "Bought in, child-days"} <= set(labels)
    assert not [label for label in labels if label.lower().startswith("gap")]
    workshop: Workshop = page.session_state["workshop"]
    settings = "# Lever settings: homes_change = 2; homes_date = 2018-04-01\n"  # only the levers pulled
    assert settings in workshop.history[-1].toml_text
    rows = workshop.history[-1].differences.set_index(["financial_year", "measure", "category"])
    assert rows.loc[("2018-19", "gap_placements", "residential"), "difference"] < 0  # fewer external residential

    page.number_input(key="homes_change").set_value(0)
    page.number_input(key="extra_foster_approvals").set_value(10.0)
    _run(page)
    history = page.table[-1].value
    assert list(history.index) == ["what_if_1", "what_if_2"]
    changes = list(history["changes"])  # named by the settings each changes, which tell them apart
    assert changes[0].startswith("inhouse_homes.capacity_changes = from 2018-04-01: change 4, homes 2")
    assert changes[1].startswith("fostering.approvals_per_year = 21.799")
    numbers = [cell for column in history.columns if "difference" in column for cell in history[column]]
    figure = r"-?£?[\d,]+\.\d{1,2}m?"  # counts to one place, £ million to two: never '11.799'
    assert all(re.fullmatch(rf"\+?{figure} \({figure} to {figure}\)", cell) for cell in numbers), numbers
    assert workshop.base is page.session_state["workshop"].base  # the baseline ran once for both
    _check_download_reproduces_the_page(page, workshop, tmp_path)


def test_the_gap_tab_names_both_gap_figures_and_shows_the_fallbacks_by_year() -> None:
    page = _run(_page(replications=3))
    page.session_state["tab"] = "Sufficiency gap"  # the stateful tabs draw only the open one
    page.run()
    assert not page.exception and not page.error
    assert any(
        "**not sufficient**" in caption.value and "placed externally (right kind)" in caption.value
        for caption in page.caption
    )
    assert any(FALLBACKS_TITLE in text.value for text in page.markdown)
    workshop: Workshop = page.session_state["workshop"]
    years = workshop.run_base().result.calendar.financial_years.labels
    tables = [frame.value for frame in page.dataframe if "financial year" in frame.value.columns]
    assert len(tables) == 2  # the baseline and the what-if
    for table in tables:
        assert len(table) == len(years)
        assert "emergency: placements started" in table.columns and "£10k+ a week: share (%)" in table.columns


def _check_download_reproduces_the_page(page: AppTest, workshop: Workshop, tmp_path: Path) -> None:
    """The scenario file the page offers passes `sufficiency validate` and `sufficiency run` gives its numbers."""
    what_if = workshop.history[-1]
    assert page.selectbox(key=f"download_what_if_{len(workshop.history)}").value == what_if.name
    path = tmp_path / "what_if.toml"
    path.write_text(what_if.toml_text, encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(path), "--replications", str(workshop.replications), "--out", str(out), "--quiet"]) == 0
    placements = pd.read_parquet(out / "placements.parquet")
    year = page.session_state["workshop"].comparison().headline_year
    external = placements[~placements["in_house"] & (financial_year(placements["month"]) == year)]
    assert f"{external['placements'].sum() / workshop.replications:,.1f}" == _metric(page, "Placed externally").value
    again = run(load_scenario(path), workshop.replications)
    for name, table in what_if.result.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], table, obj=name)


def test_a_bad_upload_shows_a_clear_message_and_the_page_keeps_working() -> None:
    page = _page()
    page.selectbox(key="baseline").set_value("upload").run()
    assert not page.error and not page.metric
    for name, data, message in (
        ("big.toml", b"#" * (MAX_UPLOAD_BYTES + 1), "bytes is over the 1 MB limit"),
        ("broken.toml", b"name = [", "not valid TOML"),
    ):
        page.file_uploader(key="upload_toml").set_value((name, data, "application/toml")).run()
        assert not page.exception
        assert message in shown(page.error[0].value)
    page.file_uploader(key="upload_toml").set_value(("priced.toml", _self_contained(PRICED), "application/toml"))
    page.run()
    assert not page.error
    page.number_input(key="homes_change").set_value(1)
    _run(page)
    assert "valid_base with 1 in-house children's home" in shown(page.info[0].value)

    page.selectbox(key="baseline").set_value("cheshire_east")
    _run(page)
    assert page.session_state["workshop"].baseline.scenario.name == "cheshire_east_baseline"
