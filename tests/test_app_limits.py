"""The app bounds the work of a request: each limit refuses with one line and no traceback, before anything
runs, and a normal request (a shipped baseline at the page's default replications) is accepted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sim.analysis.what_if import Levers, scenario_document
from sim.app.limits import (
    DEFAULT_REPLICATIONS,
    KEPT_BASELINES,
    MAX_REPLICATIONS,
    OCCUPANCY_ROW_LIMIT,
    WORK_LIMIT,
    WorkLimitError,
    check_run,
    check_sizing,
)
from sim.app.messages import plain, problem
from sim.app.session import SIZING_REPLICATIONS, Baseline, Workshop, sizing_curves
from sim.app.uploads import MAX_UPLOAD_BYTES, scenario_from_upload
from sim.cli import main
from sim.engine.errors import InputError
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario
from sim.engine.toml_writer import to_toml
from sim.results.tables import Calendar
from tests.builders import build, one_pool_scenario, rich_scenario

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "sim" / "app" / "streamlit_app.py"
CHESHIRE_EAST = ROOT / "scenarios" / "cheshire_east" / "baseline.toml"
SHIPPED = sorted((ROOT / "scenarios").glob("*/baseline.toml"))
TIMEOUT = 120


def _scenario(rate_per_year: float = 50.0, years: int = 10, in_house_pools: int = 1, pools: int = 2) -> Scenario:
    """The one-pool test scenario with extra pools: finite in-house ones (sized), then unlimited ones."""
    raw = one_pool_scenario(rate_per_year=rate_per_year, years=years)
    for index in range(pools - 2):
        finite = index < in_house_pools - 1
        raw["pools"][f"extra{index}"] = {
            "serves": ["fostering"],
            "capacity": 5 if finite else "unlimited",
            "in_house": finite,
        }
    return build(raw)


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def _shown(text: str) -> str:
    """Page text without its markdown escapes and hard line breaks."""
    return re.sub(r"\\(.)", r"\1", text).replace("  \n", "\n")


# ---------------------------------------------------------------------------------------------
# The estimates


def test_a_run_over_the_work_limit_is_refused_with_the_estimate_the_limit_and_what_to_change() -> None:
    scenario = _scenario(rate_per_year=2_000)  # 20,000 children expected a replication, none at the start
    assert scenario.expected_children() == pytest.approx(20_000)
    with pytest.raises(WorkLimitError) as error:
        check_run("the baseline", scenario, 50)
    message = _one_line(error)
    assert message.startswith("the baseline: about 1,000,000 child-replications (20,000 children expected in each")
    assert f"limit of {WORK_LIMIT:,}" in message
    assert "fewer replications" in message and "shorter horizon" in message
    check_run("the baseline", scenario, WORK_LIMIT // 20_000)  # at the limit: accepted
    with pytest.raises(WorkLimitError):
        check_run("the baseline", scenario, WORK_LIMIT // 20_000 + 1)


def test_foster_carer_and_adopter_changes_count_as_work_like_children() -> None:
    raw = rich_scenario(years=10)
    raw["pools"]["inhouse"]["fostering"] |= {"approvals_per_year": 20_000, "deregistrations_per_year": 10_000}
    scenario = build(raw)  # 6 adopters approved a year too
    changes = 10 * (20_000 + 10_000 + 6)
    with pytest.raises(WorkLimitError) as error:
        check_run("the baseline", scenario, 3)
    children = scenario.expected_children()
    assert f"{children:,.0f} children and {changes:,.0f} foster carer and adopter changes" in _one_line(error)
    check_run("the baseline", scenario, int(WORK_LIMIT // (children + changes)))


def test_many_pools_over_a_long_horizon_are_refused_for_their_occupancy_table() -> None:
    scenario = _scenario(rate_per_year=1, years=50, pools=100)  # few children: only the pools make it big
    snapshots = len(Calendar.for_scenario(scenario).snapshot_days)
    check_run("the baseline", scenario, OCCUPANCY_ROW_LIMIT // (100 * snapshots))
    with pytest.raises(WorkLimitError) as error:
        check_run("the baseline", scenario, MAX_REPLICATIONS)
    message = _one_line(error)
    assert f"{100 * snapshots * MAX_REPLICATIONS:,} rows of pool occupancy (100 pools x {snapshots}" in message
    assert f"limit of {OCCUPANCY_ROW_LIMIT:,}" in message and "shorter horizon" in message


def test_sizing_counts_a_run_per_replication_and_in_house_pool_and_is_refused_before_any_run() -> None:
    scenario = _scenario(rate_per_year=1_000, in_house_pools=5, pools=6)  # 10,000 x 20 x 5 = 1,000,000
    with pytest.raises(WorkLimitError) as error:
        sizing_curves(scenario, seed=1)
    message = _one_line(error)
    assert f"{SIZING_REPLICATIONS} replications x 5 in-house pools" in message and "1,000,000" in message
    workshop = Workshop(Baseline("test", scenario), 2, 1)
    with pytest.raises(WorkLimitError):
        workshop.sizing_for(scenario)
    assert workshop.sizing == {}  # nothing was computed or kept
    check_sizing("sizing", _scenario(rate_per_year=1_000, in_house_pools=3, pools=4), SIZING_REPLICATIONS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_every_shipped_baseline_fits_at_the_pages_replications_and_can_be_sized(path: Path) -> None:
    scenario = load_scenario(path)
    for replications in (DEFAULT_REPLICATIONS, MAX_REPLICATIONS):
        check_run("the baseline", scenario, replications)
    check_sizing("sizing", scenario, SIZING_REPLICATIONS)


def test_a_what_if_over_the_limit_runs_nothing_not_even_the_baseline() -> None:
    cheshire_east = load_scenario(CHESHIRE_EAST)
    workshop = Workshop(Baseline("ce", cheshire_east, CHESHIRE_EAST), MAX_REPLICATIONS, 1)
    check_run("the baseline", cheshire_east, MAX_REPLICATIONS)  # the baseline alone would fit
    with pytest.raises(WorkLimitError, match=r"^the what-if: about"):
        workshop.try_levers(Levers(entries_change_percent=100))
    assert workshop.base is None and workshop.history == []


def test_a_baseline_over_the_limit_is_refused_before_it_runs() -> None:
    workshop = Workshop(Baseline("big", _scenario(rate_per_year=2_000)), DEFAULT_REPLICATIONS, 1)
    with pytest.raises(WorkLimitError, match=r"^the baseline: about 1,000,000"):
        workshop.try_levers(Levers())
    assert workshop.base is None and workshop.history == []


# ---------------------------------------------------------------------------------------------
# Uploads


def test_an_upload_just_over_the_size_limit_says_its_exact_size() -> None:
    with pytest.raises(InputError) as error:
        scenario_from_upload("big.toml", b"#" * (MAX_UPLOAD_BYTES + 1))
    assert _one_line(error) == "big.toml: 1,048,577 bytes is over the 1 MB limit (1,048,576 bytes)"


@pytest.mark.parametrize(
    "data",
    [b"a" + b".a" * 100_000 + b" = 1\n", b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"],
    ids=["dotted key 100,000 parts deep", "arrays 100,000 deep"],
)
def test_a_deeply_nested_upload_is_refused_in_one_line(data: bytes) -> None:
    with pytest.raises(InputError) as error:
        scenario_from_upload("deep.toml", data)
    assert _one_line(error).startswith("deep.toml: ")


# ---------------------------------------------------------------------------------------------
# Messages


def test_bad_input_shows_its_own_message_as_plain_text_and_anything_else_a_generic_line() -> None:
    message = "x.toml: name: ![track](http://example.invalid/a.png) *bold* $x$"
    line = problem("This file cannot be used", InputError(message))
    assert line == "This file cannot be used: " + plain(message)
    assert _shown(line) == "This file cannot be used: " + message
    assert "![" not in line and "](" not in line.replace("\\](", "")  # no image or link left for markdown
    secret = problem("This what-if cannot run", RuntimeError("row 2: 7.5,fostering,inhouse,200"))
    assert "RuntimeError" in secret and "7.5" not in secret and "\n" not in secret


# ---------------------------------------------------------------------------------------------
# The page


def _page(replications: int | None = None) -> AppTest:
    page = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    page.run()
    if replications is not None:
        page.number_input(key="replications").set_value(replications)
    return page


def _upload(page: AppTest, name: str, data: bytes) -> AppTest:
    page.selectbox(key="baseline").set_value("upload").run()
    page.file_uploader(key="upload_toml").set_value((name, data, "application/toml")).run()
    assert not page.exception, [e.value for e in page.exception]
    return page


def _only_error(page: AppTest) -> str:
    assert not page.exception, [e.value for e in page.exception]
    (error,) = page.error
    assert "Traceback" not in error.value
    return _shown(error.value)


def test_a_run_over_the_limit_is_refused_on_the_page_and_the_shipped_baseline_then_runs() -> None:
    big = to_toml(scenario_document(_scenario(rate_per_year=2_000)), []).encode()
    page = _upload(_page(), "big.toml", big)
    assert not page.error  # the file is fine; its run is too big
    page.button(key="run").click().run()
    message = _only_error(page)
    assert message.startswith("This what-if cannot run: the baseline: about 1,000,000 child-replications")
    assert f"limit of {WORK_LIMIT:,} a run" in message
    assert page.session_state["workshop"].base is None

    page.selectbox(key="baseline").set_value("cheshire_east").run()
    assert page.number_input(key="replications").value == DEFAULT_REPLICATIONS
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    assert len(page.session_state["workshop"].history) == 1


def test_sizing_over_the_limit_is_refused_in_its_tab_and_the_other_tabs_still_draw() -> None:
    sized = to_toml(scenario_document(_scenario(rate_per_year=1_000, in_house_pools=5, pools=6)), []).encode()
    page = _upload(_page(replications=2), "sized.toml", sized)
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    page.session_state["tab"] = "Capacity sizing"  # the stateful tabs' value: only the open tab is drawn
    page.run()
    message = _only_error(page)
    assert message.startswith("Capacity sizing cannot be shown: sizing: about 1,000,000 child-replications")
    page.session_state["tab"] = "Differences"
    page.run()
    assert not page.exception and not page.error and page.dataframe


def test_a_session_keeps_only_the_latest_few_baselines_it_has_read() -> None:
    page = _page()
    for index in range(KEPT_BASELINES + 2):
        document = scenario_document(_scenario()) | {"name": f"upload {index}"}
        _upload(page, f"upload{index}.toml", to_toml(document, []).encode())
        assert not page.error
    assert len(page.session_state["baselines"]) == KEPT_BASELINES
    assert page.session_state["workshop"].baseline.scenario.name == f"upload {KEPT_BASELINES + 1}"


def test_a_bad_upload_shows_the_message_the_command_line_prints(tmp_path: Path, monkeypatch, capsys) -> None:
    data = b'name = "x"\n[horizon]\nstart = 2020-04-01\nyears = 0\n'
    (tmp_path / "incomplete.toml").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "incomplete.toml"]) == 2
    printed = capsys.readouterr().err.removeprefix("error: ").rstrip("\n")
    assert printed.count("\n") >= 1  # several key paths: one line each, as the command line prints them
    page = _upload(_page(), "incomplete.toml", data)
    assert _only_error(page) == f"This file cannot be used: {printed}"


def test_a_deeply_nested_upload_on_the_page_is_one_line_and_the_page_keeps_working() -> None:
    page = _upload(_page(), "deep.toml", b"a" + b".a" * 100_000 + b" = 1\n")
    assert _only_error(page).startswith("This file cannot be used: deep.toml: ")


def test_a_lever_the_baseline_cannot_take_is_one_line_on_the_page() -> None:
    page = _page(replications=2)
    page.number_input(key="homes_change").set_value(-6)  # the Cheshire East baseline has 5 homes
    page.button(key="run").click().run()
    assert re.fullmatch(r"This what-if cannot run: closing 6 home\(s\) and 12 bed\(s\) on .*", _only_error(page))


def test_an_unexpected_failure_shows_a_short_generic_line_without_its_message(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise RuntimeError("row 2: 7.5,fostering,inhouse,200")

    monkeypatch.setattr(Workshop, "try_levers", fail)
    page = _page(replications=2)
    page.button(key="run").click().run()
    message = _only_error(page)
    assert message.startswith("This what-if cannot run: something unexpected went wrong (RuntimeError)")
    assert "7.5" not in message and "\n" not in message
