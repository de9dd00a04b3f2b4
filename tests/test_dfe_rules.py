"""The DfE's SSDA903 rules in their side environment: found or not, codes and counts only back, the mapping real.

Most tests run anywhere: the side environment is replaced by a stand-in Python (a shell script printing a
reply), which checks the reply is vetted and that stderr never shows. The tests marked `needs_side` run the
real validator (`make dfe-rules`) on two sample years and skip, saying so, where it is not installed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from calibration.ssda903 import dfe_rules
from calibration.ssda903.dfe_rules import (
    CLEANING_TO_DFE,
    INSTALL,
    STOPPING_CHECKS_TO_DFE,
    failures_frame,
    find_environment,
    run_dfe_rules,
    steps_frame,
    summary_text,
)
from calibration.ssda903.dfe_rules_runner import nearest_ruleset
from calibration.ssda903.quality import QualityReport
from calibration.ssda903.reader import read_ssda903

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared")) / "ssda903_samples"
SIDE = find_environment()
needs_side = pytest.mark.skipif(
    SIDE is None, reason="no DfE rules side environment (.venv-dfe-rules or $SUFFICIENCY_DFE_RULES_ENV): make dfe-rules"
)
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared SSDA903 samples are not here")
HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"
CHILD_ID = "918273"  # the stand-in returns' child


def _returns(folder: Path, years: dict[int, tuple[str, str]]) -> Path:
    """One child's header and one episode per return year; `years` gives each year's DECOM and DEC."""
    folder.mkdir()
    for year, (decom, dec) in years.items():
        (folder / f"{year}-header.csv").write_text(HEADER + f"{CHILD_ID},1,01/02/2010,WBRI,UN1,,\n")
        (folder / f"{year}-episodes.csv").write_text(
            EPISODES + f"{CHILD_ID},{decom},S,C2,N1,U1,PR1,{dec},E11,,A1 1AA,A1 1AB,\n"
        )
    return folder


ONE_YEAR = {2020: ("01/05/2019", "01/02/2020")}


def _stand_in(root: Path, reply: str, exit_code: int = 0, sleep: float = 0) -> Path:
    """A fake side environment whose Python prints `reply`, with a child's identifier on stderr."""
    python = root / "bin" / "python"
    python.parent.mkdir(parents=True)
    script = f"#!/bin/sh\ncat > /dev/null\nsleep {sleep}\ncat <<'EOF'\n{reply}\nEOF\n"
    script += f"echo 'Traceback: KeyError {CHILD_ID} 01/02/2010' >&2\nexit {exit_code}\n"
    python.write_text(script)
    python.chmod(0o755)
    return root


def _reply(failures: list[dict], label: str = "2020", code_field: str = "148") -> str:
    one = {"label": label, "ruleset": "lac2022_23", "unrecognised_files": 0, "rules": 293}
    one |= {"failures": failures, "skipped": ["101"], "crashed": [code_field]}
    return json.dumps({"version": "0.1.17", "rulesets": ["lac2022_23", "lac2023_24"], "returns": [one]})


FAILURE = {"code": "148", "message": "Date episode ceased and REC must both be coded.", "rows": 3, "children": 2}


def test_no_side_environment_gives_none_and_the_install_line(tmp_path, monkeypatch) -> None:
    summary, reason = run_dfe_rules(tmp_path, environment=tmp_path / "absent")
    assert summary is None
    assert reason == INSTALL == "DfE rules not run: install with make dfe-rules"
    monkeypatch.setenv(dfe_rules.ENVIRONMENT_VARIABLE, str(tmp_path / "elsewhere"))
    assert find_environment() is None
    text = summary_text(None, reason, QualityReport())
    assert text.splitlines()[0] == INSTALL
    assert "rec_on_open_episode" in text and "DfE failing rows" not in text


def test_a_reply_of_codes_and_counts_becomes_the_summary(tmp_path) -> None:
    folder = _returns(tmp_path / "returns", ONE_YEAR)
    summary, reason = run_dfe_rules(folder, environment=_stand_in(tmp_path / "side", _reply([FAILURE])))
    assert reason == "" and summary is not None
    (one,) = summary.returns
    assert (one.label, one.collection_year, one.ruleset) == ("2020", "2019/20", "lac2022_23")
    assert one.failures == (dfe_rules.RuleFailure("148", FAILURE["message"], 3, 2),)
    assert one.skipped == ("101",) and one.crashed == ("148",)
    assert any("no lac2019_20 rules" in note for note in one.notes)
    assert any("year before" in note for note in one.notes)
    frame = failures_frame(summary)
    assert list(frame.columns) == ["code", "2019/20", "message"] and frame.loc[0, "2019/20"] == 3
    steps = steps_frame(QualityReport(), summary).set_index("step")
    assert steps.loc["rec_on_open_episode", "DfE failing rows"] == "148: 3"


@pytest.mark.parametrize(
    ("reply", "exit_code", "expected"),
    [
        (_reply([FAILURE]), 1, "the validator stopped (exit code 1)"),
        (_reply([FAILURE | {"code": f"{CHILD_ID} 01/02/2010"}]), 0, "not codes and counts only"),
        (_reply([FAILURE | {"rows": "3"}]), 0, "not codes and counts only"),
        (_reply([FAILURE | {"message": [CHILD_ID]}]), 0, "not codes and counts only"),
        (_reply([FAILURE], code_field="A1 1AA"), 0, "not codes and counts only"),
        (_reply([FAILURE], label="2019"), 0, "not codes and counts only"),
        ("Traceback (most recent call last): 918273", 0, "not codes and counts only"),
    ],
)
def test_a_crash_or_an_unexpected_reply_is_one_line_without_data(tmp_path, reply, exit_code, expected) -> None:
    folder = _returns(tmp_path / "returns", ONE_YEAR)
    summary, reason = run_dfe_rules(folder, environment=_stand_in(tmp_path / "side", reply, exit_code))
    assert summary is None and expected in reason
    assert reason.startswith(dfe_rules.NOT_RUN) and "\n" not in reason
    assert CHILD_ID not in reason and "01/02/2010" not in reason and "1AA" not in reason


def test_a_return_the_validator_stopped_on_is_a_note_and_the_text_says_it(tmp_path) -> None:
    folder = _returns(tmp_path / "returns", {2019: ("01/05/2018", "01/06/2018")} | ONE_YEAR)
    stopped = {"label": "2019", "problem": "UploadError"}
    reply = json.loads(_reply([FAILURE]))
    reply["returns"] = [stopped, reply["returns"][0] | {"unrecognised_files": 1}]
    summary, reason = run_dfe_rules(folder, la="E06000049", environment=_stand_in(tmp_path / "side", json.dumps(reply)))
    assert summary is not None and summary.notes == ()
    first, second = summary.returns
    assert (first.ruleset, first.notes) == (
        "",
        ("the validator stopped on this return (UploadError): no rule results",),
    )
    assert second.notes[-1] == "1 file(s) lack a column the DfE's tables need, so were left out"
    lines = summary_text(summary, reason, QualityReport()).splitlines()
    assert lines[0].startswith("The DfE's SSDA903 validation rules (csc-validator-be-903 0.1.17, rulesets lac2022_23")
    assert (
        lines[1]
        == "2019 return (collection year 2018/19): the validator stopped on this return (UploadError): no rule results"
    )
    assert lines[2].startswith("2020 return (collection year 2019/20): lac2022_23: 1 of 293 rules failed, 1 skipped")
    assert "  148         0        3  Date episode ceased and REC must both be coded." in lines


def test_pooled_authorities_are_not_run(tmp_path) -> None:
    side = _stand_in(tmp_path / "side", _reply([FAILURE]))
    summary, reason = run_dfe_rules(_returns(tmp_path / "returns", ONE_YEAR), la="all", environment=side)
    assert summary is None and reason == "DfE rules not run: they check one authority's return at a time, not --la all"


def test_a_side_python_that_cannot_start_is_one_line(tmp_path) -> None:
    folder = _returns(tmp_path / "returns", ONE_YEAR)
    side = _stand_in(tmp_path / "side", _reply([FAILURE]))
    (side / "bin" / "python").chmod(0o644)
    summary, reason = run_dfe_rules(folder, environment=side)
    assert summary is None and "cannot be started" in reason


def test_a_slow_validator_is_stopped_at_the_timeout(tmp_path) -> None:
    folder = _returns(tmp_path / "returns", ONE_YEAR)
    side = _stand_in(tmp_path / "side", _reply([FAILURE]), sleep=2)
    assert run_dfe_rules(folder, environment=side, timeout=0.5) == (
        None,
        "DfE rules not run: the validator took longer than 0.5 s",
    )


def test_a_folder_without_return_years_is_said_in_one_line(tmp_path) -> None:
    (tmp_path / "episodes.csv").write_text(EPISODES)
    summary, reason = run_dfe_rules(tmp_path, environment=_stand_in(tmp_path / "side", _reply([])))
    assert summary is None and "no file name holds a return year" in reason
    assert dfe_rules.plan_returns(tmp_path)[1] == [
        "episodes.csv: no return year in its name, so not checked against the DfE rules"
    ]


def test_a_label_names_the_collection_year_holding_most_of_its_dates(tmp_path) -> None:
    folder = _returns(tmp_path / "returns", {2019: ("01/05/2019", "01/06/2019")} | ONE_YEAR)
    both = dfe_rules.plan_returns(folder)[0]
    assert [(j["label"], j["end_year"]) for j in both] == [("2019", 2020), ("2020", 2020)]
    assert both[1]["last_year"] == [str(folder / "2019-episodes.csv"), str(folder / "2019-header.csv")]
    (folder / "2021-header.csv").write_text(HEADER)
    assert dfe_rules.collection_end_year(2021, [folder / "2021-header.csv"]) == 2021  # no date: the DfE's labels
    (folder / "2021-episodes.csv").write_bytes(b"\xff\xfe\x00C\x00H")
    assert dfe_rules.collection_end_year(2021, [folder / "2021-episodes.csv"]) == 2021


def test_the_nearest_ruleset_stands_in_for_a_missing_year() -> None:
    available = ["lac2022_23", "lac2023_24", "lac2025_26"]
    assert nearest_ruleset(2024, available) == "lac2023_24"
    assert nearest_ruleset(2018, available) == "lac2022_23"
    assert nearest_ruleset(2025, available) == "lac2025_26"  # a tie: the newer rules
    assert nearest_ruleset(2030, available) == "lac2025_26"


@needs_samples
def test_every_step_the_reader_counts_on_the_samples_is_mapped() -> None:
    report = read_ssda903(SAMPLES).report
    assert set(report.rules()) <= set(CLEANING_TO_DFE)
    for match in [*CLEANING_TO_DFE.values(), *STOPPING_CHECKS_TO_DFE.values()]:
        assert "\n" not in match.reason and match.reason
        assert match.reason.startswith("none") == (not match.codes)
    steps = steps_frame(report).set_index("step")
    assert steps.loc["duplicate_episodes", "rows"] == report.total("duplicate_episodes") > 0
    assert steps.loc["dec_before_decom", "DfE codes"] == "356"


def test_a_step_missing_from_the_mapping_still_shows() -> None:
    report = QualityReport()
    report.add("a_new_step", 4, "changed", "a reason")
    row = steps_frame(report).set_index("step").loc["a_new_step"]
    assert (row["rows"], row["DfE codes"]) == (4, "?")


# ---------------------------------------------------------------------------------------------------------
# The real validator


@pytest.fixture(scope="module")
def on_samples(tmp_path_factory: pytest.TempPathFactory):
    """The DfE rules on the samples' 2020 and 2021 returns, with every reply the runner printed."""
    folder = tmp_path_factory.mktemp("samples")
    for path in SAMPLES.glob("202[01]-*.csv"):
        shutil.copy(path, folder)
    replies: list[str] = []
    run = dfe_rules._run_runner

    def recording(*args, **kwargs):
        completed = run(*args, **kwargs)
        replies.append(completed.stdout)
        return completed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dfe_rules, "_run_runner", recording)
        summary, reason = run_dfe_rules(folder)
    return folder, summary, reason, replies


@needs_side
@needs_samples
def test_the_samples_give_a_rule_summary_per_return_year(on_samples) -> None:
    _, summary, reason, _ = on_samples
    assert reason == "" and summary is not None
    assert [(r.label, r.collection_year) for r in summary.returns] == [("2020", "2020/21"), ("2021", "2021/22")]
    for one in summary.returns:
        assert one.ruleset == summary.rulesets[0] == "lac2022_23"
        assert one.failures and not one.crashed and one.rules > len(one.skipped)
        assert any("stood in" in note for note in one.notes)
    codes = {f.code: f for f in summary.returns[1].failures}
    assert codes["148"].rows >= codes["148"].children > 0
    assert "both be coded" in codes["148"].message
    assert len(summary.returns[0].skipped) > len(summary.returns[1].skipped)  # 2021 has last year's return


@needs_side
@needs_samples
def test_nothing_back_from_the_validator_carries_a_child_identifier_birth_date_or_postcode(on_samples) -> None:
    folder, summary, reason, replies = on_samples
    report = read_ssda903(folder).report
    shown = [*replies, reason, summary_text(summary, reason, report), repr(summary)]
    shown += [failures_frame(summary).to_csv(), steps_frame(report, summary).to_csv()]
    text = "\n".join(shown)
    secrets = _personal_values(folder)
    # Identifiers of 5 or more digits: shorter ones cannot be told from the counts and rule codes beside them.
    ids = {value for value in secrets["CHILD"] if len(value) >= 5}
    assert ids and not ids & set(re.findall(r"\d+", text))
    assert secrets["DOB"] and secrets["HOME_POST"] and secrets["PL_POST"]
    for column in ("DOB", "MC_DOB", "DUC", "HOME_POST", "PL_POST", "UPN"):
        assert not [value for value in secrets.get(column, ()) if value in text], column
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}", text)  # no date as the returns write them


def _personal_values(folder: Path) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for path in folder.glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                for column, value in row.items():
                    if value:
                        values.setdefault(column, set()).add(value)
    return values


@needs_side
def test_a_return_the_validator_cannot_take_is_a_note_without_data(tmp_path) -> None:
    tmp_path.joinpath("2020-episodes.csv").write_text(f"CHILD,DECOM\n{CHILD_ID},01/05/2019\n")
    summary, reason = run_dfe_rules(tmp_path)
    assert reason == "" and summary is not None
    (one,) = summary.returns
    assert one.failures == () and one.ruleset == ""
    assert one.notes == ("the validator stopped on this return (UploadError): no rule results",)
    assert CHILD_ID not in summary_text(summary, reason, QualityReport())


@needs_side
def test_the_mapping_names_only_codes_in_every_installed_ruleset() -> None:
    program = (
        "import importlib, json, logging, pkgutil; logging.disable(50); from lac_validator import rules; "
        "names = [m.name for m in pkgutil.iter_modules(rules.__path__) if m.name.startswith('lac')]; "
        "print(json.dumps({n: sorted(importlib.import_module('lac_validator.rules.' + n).registry) for n in names}))"
    )
    listed = subprocess.run([str(SIDE), "-I", "-c", program], capture_output=True, text=True, check=True, timeout=120)
    registries = json.loads(listed.stdout)
    assert registries
    mapped = {code for m in [*CLEANING_TO_DFE.values(), *STOPPING_CHECKS_TO_DFE.values()] for code in m.codes}
    for ruleset, codes in registries.items():
        assert not mapped - set(codes), ruleset


def test_the_text_table_right_aligns_counts() -> None:
    frame = pd.DataFrame({"code": ["148", "EPI"], "2020/21": [3, 120], "message": ["a", "b"]})
    lines = dfe_rules._text_table(frame).splitlines()
    assert lines[2] == "  148         3  a" and lines[3] == "  EPI       120  b"


# ---------------------------------------------------------------------------------------------------------
# In the calibration report


@needs_samples
def test_the_calibration_report_shows_the_rules_when_asked(tmp_path, monkeypatch, capsys) -> None:
    from calibration.ssda903 import calibrate
    from sim.cli import main

    side = _stand_in(tmp_path / "side", _reply([FAILURE]))
    summary, _ = run_dfe_rules(_returns(tmp_path / "returns", ONE_YEAR), environment=side)
    asked = []
    monkeypatch.setattr(calibrate, "run_dfe_rules", lambda folder, la: asked.append(la) or (summary, ""))
    command = ["calibrate", "--ssda903", str(SAMPLES), "--as-of", "2020-04-01"]

    monkeypatch.setenv(dfe_rules.ENVIRONMENT_VARIABLE, str(tmp_path / "absent"))
    assert main([*command, "--out", str(tmp_path / "refused" / "s.toml"), "--dfe-rules"]) == 2
    assert capsys.readouterr().err == f"error: --dfe-rules: {INSTALL}\n"
    assert not (tmp_path / "refused").exists()

    assert main([*command, "--out", str(tmp_path / "plain" / "s.toml")]) == 0
    plain = (tmp_path / "plain" / "calibration_report.html").read_text()
    assert "add --dfe-rules to run them" in plain and "rec_on_open_episode" in plain and not asked

    monkeypatch.setenv(dfe_rules.ENVIRONMENT_VARIABLE, str(side))
    assert main([*command, "--out", str(tmp_path / "asked" / "s.toml"), "--dfe-rules"]) == 0
    asked_page = (tmp_path / "asked" / "calibration_report.html").read_text()
    assert asked == [None] and "1 of 293 rules failed" in asked_page
    assert "<td>148</td>" in asked_page and "REC must both be coded" in asked_page
    assert "<td>148: 3</td>" in asked_page  # the cleaning step beside the DfE rule's failing rows
