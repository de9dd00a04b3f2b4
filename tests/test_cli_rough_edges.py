"""The command line's own behaviour: --version, a --help that lists every command, --jobs values refused in one
line with exit 2 and nothing written, and a progress line on stderr while the files are written."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import sim.present.outputs as outputs
from sim import __version__
from sim.cli import COMMANDS, WRITING_COMPARISON, WRITING_REGION, WRITING_RUN, _parser, main

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "cheshire_east" / "baseline.toml"
TWO_HOMES = ROOT / "scenarios" / "cheshire_east" / "add_two_homes.toml"
REGION_SET = ROOT / "scenarios" / "regions" / "cheshire_east_and_stockport"
# Tests of what the command line says and where it writes need no ten-year baseline: a two-year scenario writes the
# same kinds of files in a fraction of the time.
SMALL = ROOT / "tests" / "bad_scenarios" / "valid_base.toml"
EVERY_COMMAND = ["run", "compare", "region", "validate", "calibrate", "backtest", "peers", "synthetic", "bench", "app"]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    """The parser's own subcommands (not the COMMANDS table), so a command missing from the listing is caught."""
    (action,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_version_prints_the_package_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"sufficiency {__version__}\n" and captured.err == ""


def test_help_names_every_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(_subcommands()) == sorted(EVERY_COMMAND)
    assert main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "usage: sufficiency [-h] [--version] COMMAND ..."
    for name in EVERY_COMMAND:
        (line,) = [i for i, text in enumerate(lines) if text.split()[:1] == [name] and text.startswith(f"  {name} ")]
        # the summary starts on the command's own line (argparse would push long names' help to the next line)
        listed = " ".join([lines[line].split(maxsplit=1)[1], *_continuations(lines, line)])
        assert listed == COMMANDS[name], name
    assert max(map(len, lines)) <= 100


def _continuations(lines: list[str], line: int) -> list[str]:
    """A wrapped summary's further lines: indented past the command names."""
    more = []
    for text in lines[line + 1 :]:
        if not text.startswith(" " * 5) or not text.strip():
            break
        more.append(text.strip())
    return more


@pytest.mark.parametrize("name", EVERY_COMMAND)
def test_every_command_help_opens_with_its_summary_and_documents_every_option(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name, "--help"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: sufficiency {name} ")
    assert f"\n\n{COMMANDS[name]}\n\n" in printed
    assert max(map(len, printed.splitlines())) <= 100
    undocumented = [a.dest for a in _subcommands()[name]._actions if not a.help]
    assert not undocumented, f"{name}: options without help: {undocumented}"


def test_no_command_and_an_unknown_command_exit_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["simulate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and all(line.startswith("error: sufficiency: ") for line in err.splitlines())
    assert "'simulate'" in err and "'app'" in err  # names the bad command and the choices


@pytest.mark.parametrize("value", ["-1", "-2", "1025", "two", "1.5"])
@pytest.mark.parametrize(
    "command",
    [
        ["run", str(BASELINE), "--replications", "2"],
        ["compare", str(BASELINE), str(TWO_HOMES), "--replications", "2"],
        ["region", str(REGION_SET), "--replications", "2"],
        ["backtest", "--authority", "stockport"],
        ["bench", "--quick"],
        ["app"],
    ],
    ids=lambda command: command[0],
)
def test_bad_jobs_exit_2_in_one_line_and_write_nothing(
    command: list[str], value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with_out = [*command, "--out", str(out)] if command[0] not in ("bench", "app") else command
    assert main([*with_out, "--jobs", value]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: sufficiency {command[0]}: argument --jobs: expected a number of worker processes from 1 to 1,024, "
        f"or 0 for one per core; got '{value}' (see sufficiency {command[0]} --help)\n"
    )
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_jobs_0_means_one_per_core_and_is_accepted() -> None:
    for command in (["run", "x.toml"], ["compare", "a.toml", "b.toml"], ["region", "r"], ["app"], ["bench"]):
        assert _parser().parse_args([*command, "--jobs", "0"]).jobs == 0
        assert _parser().parse_args([*command, "--jobs", "1024"]).jobs == 1024


def test_window_years_below_1_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scenario.toml"
    args = ["calibrate", "--ssda903", str(tmp_path), "--as-of", "2020-06-01", "--out", str(out), "--window-years"]
    assert main([*args, "0"]) == 2
    assert main([*args, "-3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("argument --window-years: expected a whole number from 1 to 100" in e for e in err)
    assert not out.exists()


def _watch_writes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], writer: str) -> list[str]:
    """Wrap an output writer so the test sees what stderr held when writing began."""
    seen: list[str] = []
    original = getattr(outputs, writer)

    def watched(*args, **kwargs):
        seen.append(capsys.readouterr().err)
        return original(*args, **kwargs)

    monkeypatch.setattr(outputs, writer, watched)
    return seen


def _progress_then(line: str, err: str, total: int) -> None:
    """The progress bar reached its total, then the writing line came, last and alone on its line."""
    assert f"{total}/{total}" in err, err
    assert err.endswith(f"\n{line}\n") and err.rindex(f"{total}/{total}") < err.rindex(line)


def test_run_says_it_is_writing_before_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _watch_writes(monkeypatch, capsys, "write_run")
    out = tmp_path / "baseline"
    assert main(["run", str(BASELINE), "--replications", "2", "--out", str(out)]) == 0
    _progress_then(WRITING_RUN.format(out=out), seen[0], 2)
    assert "Writing" not in capsys.readouterr().err  # said once, before writing, not again after
    assert (out / "run.json").is_file()


def test_run_quiet_prints_nothing_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "baseline"
    assert main(["run", str(BASELINE), "--replications", "2", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == "" and (out / "run.json").is_file()


def test_compare_says_it_is_writing_before_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _watch_writes(monkeypatch, capsys, "write_comparison")
    out = tmp_path / "comparison"
    what_if = tmp_path / "more_homes.toml"
    what_if.write_text(f'extends = "{SMALL.as_posix()}"\nname = "more homes"\n[pools.homes]\ncapacity = 4\n')
    args = ["compare", str(SMALL), str(what_if), "--replications", "2", "--sizing-replications", "2"]
    assert main([*args, "--out", str(out)]) == 0
    _progress_then(WRITING_COMPARISON.format(sizing=2, out=out), seen[0], 4)  # 2 replications of 2 scenarios
    assert (out / "report.html").is_file()


def test_region_says_it_is_writing_before_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _watch_writes(monkeypatch, capsys, "write_region")
    out = tmp_path / "region"
    assert main(["region", str(REGION_SET), "--replications", "2", "--out", str(out)]) == 0
    _progress_then(WRITING_REGION.format(out=out), seen[0], 4)  # 2 replications of 2 authorities
    assert (out / "region_summary.csv").is_file()
    assert main(["region", str(REGION_SET), "--replications", "2", "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert "Writing" not in capsys.readouterr().err


def test_the_printed_summary_fits_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tables wrap into blocks that repeat their row labels, and prose wraps, within outputs.TERMINAL_WIDTH."""
    assert main(["run", str(BASELINE), "--replications", "2", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 100 and max(len(line) for line in lines) <= outputs.TERMINAL_WIDTH == 100
    assert sum("total" in line for line in lines) > 1  # the children-in-care table, in more than one block


def test_two_authorities_baselines_get_output_folders_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out, the folder name carries the scenario's folder: running one baseline.toml after another
    no longer replaces the first one's results."""
    for authority in ("cheshire_east", "stockport"):
        folder = tmp_path / "scenarios" / authority
        folder.mkdir(parents=True)
        (folder / "baseline.toml").write_text(f'extends = "{SMALL.as_posix()}"\nname = "{authority}"\n')
    monkeypatch.chdir(tmp_path)
    for authority in ("cheshire_east", "stockport"):
        scenario = tmp_path / "scenarios" / authority / "baseline.toml"
        assert main(["run", str(scenario), "--replications", "2", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cheshire_east_baseline", "stockport_baseline"]


def test_compare_prints_a_first_answer_while_it_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first answer comes on stderr once about 50 replications of each scenario have finished, and only the
    whole answer on stdout; --quiet prints neither."""
    what_if = tmp_path / "more_homes.toml"
    what_if.write_text(f'extends = "{SMALL.as_posix()}"\nname = "more homes"\n[pools.homes]\ncapacity = 4\n')
    args = ["compare", str(SMALL), str(what_if), "--replications", "120", "--sizing-replications", "1", "--jobs", "2"]
    assert main([*args, "--out", str(tmp_path / "comparison")]) == 0
    captured = capsys.readouterr()
    interim = [line for line in captured.err.replace("\r", "\n").splitlines() if line.startswith("So far, ")]
    assert interim and all(re.match(r"So far, \d+ of 120 replications: ", line) for line in interim)
    assert 50 <= int(interim[0].split()[2]) < 120
    assert "So far" not in captured.out and "Report: " in captured.out
    assert main([*args, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert "So far" not in capsys.readouterr().err
