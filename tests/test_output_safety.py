"""`--out` never destroys what this tool did not write, and replacing an earlier output survives a kill.

Refusals: `--out .`, `--out ..`, a home-like folder, a folder of scenarios, a file, a path under a file, an
unwritable folder, an output holding a file of the user's: exit 2, one line, no traceback, every file as it
was. Accepted: a new or empty folder, an earlier output (with the marker, or in the exact shape of an output
written before the marker existed). Kill injection: a subprocess replacing an earlier output SIGKILLs itself
at each named step of sim.present.output_folders; the path then holds the old or the new folder whole (or, between
the two renames, nothing, with the old one whole aside), and the next write recovers and tidies up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.engine.errors import InputError
from sim.present import output_folders
from sim.present.output_folders import MARKER, SIBLING, check_out_folder, recover, replace_file, replaced_folder

ROOT = Path(__file__).resolve().parent.parent
VALID = ROOT / "tests" / "bad_scenarios" / "valid_base.toml"
PRICED = ROOT / "tests" / "bad_scenarios" / "priced_base.toml"
PYTHON = sys.executable
RUN = ["run", str(VALID), "--replications", "2", "--quiet"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `root`, hidden ones included."""
    found: dict[str, bytes | None] = {}
    for folder, folders, files in os.walk(root):
        for name in folders:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            found[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return found


def contents(folder: Path) -> dict[str, bytes | None]:
    """A written folder without its marker (whose time stamp differs from one write to the next)."""
    return {k: v for k, v in snapshot(folder).items() if k != MARKER}


def refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert error.startswith("error: ") and "\n" not in error, error
    assert "Traceback" not in captured.err
    return error


def home_like(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / ".bashrc").write_text("export PS1='$ '\n")
    (folder / ".ssh").mkdir()
    (folder / ".ssh" / "id_ed25519").write_text("not a real key\n")
    (folder / "Documents").mkdir()
    (folder / "Documents" / "budget 2025.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")


# ------------------------------------------------------------------------------------------------ refusals


def test_out_dot_is_refused_and_every_file_is_kept(tmp_path, monkeypatch, capsys) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "scenarios" / "cheshire_east", work / "scenarios")
    (work / "notes.txt").write_text("my notes\n")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    error = refused(capsys, [*RUN, "--out", "."])
    assert error.startswith("error: --out .: the folder holds files this tool did not write (notes.txt, scenarios/)")
    assert MARKER in error and "expected a new folder, an empty one, or an earlier output" in error
    assert snapshot(tmp_path) == before  # nothing deleted, nothing written next to it either


def test_out_dot_dot_is_refused(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "project" / "here").mkdir(parents=True)
    (tmp_path / "project" / "README.md").write_text("# mine\n")
    monkeypatch.chdir(tmp_path / "project" / "here")
    before = snapshot(tmp_path)
    error = refused(capsys, [*RUN, "--out", ".."])
    assert error.startswith("error: --out ..: the folder holds files this tool did not write (README.md, here/)")
    assert snapshot(tmp_path) == before


def test_a_home_like_folder_is_refused(tmp_path, capsys) -> None:
    home = tmp_path / "home" / "someone"
    home_like(home)
    before = snapshot(tmp_path)
    error = refused(capsys, [*RUN, "--out", str(home)])
    assert "(.bashrc, .ssh/, Documents/)" in error
    assert "not a real key" not in error  # names only, never contents
    assert snapshot(tmp_path) == before


def test_a_scenario_folder_is_refused_by_every_writer(tmp_path, capsys) -> None:
    scenarios = tmp_path / "cheshire_east"
    shutil.copytree(ROOT / "scenarios" / "cheshire_east", scenarios)
    other = tmp_path / "other_seed.toml"  # a region needs authorities with seeds of their own
    other.write_text(f'extends = "{VALID.as_posix()}"\nname = "other"\nseed = 4\n')
    before = snapshot(tmp_path)
    for argv in (
        [*RUN, "--out", str(scenarios)],
        ["compare", str(VALID), str(PRICED), "--replications", "2", "--sizing-replications", "2", "--quiet"],
        ["region", str(VALID), str(other), "--replications", "2", "--quiet"],
        ["synthetic", str(VALID), "--seed", "1"],
    ):
        if "--out" not in argv:
            argv = [*argv, "--out", str(scenarios)]
        error = refused(capsys, argv)
        assert "add_two_homes.toml, baseline.toml, better_matching.toml, entries_plus_10.toml, ..." in error
    from calibration.backtest import write_published_backtest
    from calibration.backtest_result import Backtest
    from calibration.ssda903.backtest import write_ssda903_backtest

    nothing = Backtest("nothing", dt.date(2020, 1, 1), 1, (), pd.DataFrame())
    with pytest.raises(InputError, match="did not write"):
        write_published_backtest(nothing, scenarios, "cheshire_east")
    with pytest.raises(InputError, match="did not write"):
        write_ssda903_backtest(nothing, scenarios)
    assert snapshot(tmp_path) == before


def test_a_file_a_path_under_a_file_and_a_symbolic_link_are_refused(tmp_path, capsys) -> None:
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    before = snapshot(tmp_path)
    assert "results.csv: is a file, not a folder" in refused(capsys, [*RUN, "--out", str(tmp_path / "results.csv")])
    error = refused(capsys, [*RUN, "--out", str(tmp_path / "results.csv" / "run")])
    assert "results.csv is a file, not a folder" in error
    assert "is a symbolic link" in refused(capsys, [*RUN, "--out", str(tmp_path / "link")])
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write in any folder")
def test_an_unwritable_folder_is_refused(tmp_path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        error = refused(capsys, [*RUN, "--out", str(locked / "run")])
        assert "permission denied" in error
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_an_output_holding_a_file_of_the_users_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main([*RUN, "--out", str(out)]) == 0
    (out / "my notes.docx").write_text("mine")
    before = snapshot(tmp_path)
    error = refused(capsys, [*RUN, "--out", str(out)])
    assert "is an earlier output of `sufficiency` but also holds files it did not write (my notes.docx)" in error
    assert snapshot(tmp_path) == before
    (out / "my notes.docx").unlink()
    (out / MARKER).write_text('{"tool": "something else"}')
    assert f"its {MARKER} is not a marker file" in refused(capsys, [*RUN, "--out", str(out)])


def test_the_current_folder_is_refused_even_when_empty(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert "is the current folder" in refused(capsys, [*RUN, "--out", "."])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- what is accepted


def test_an_empty_folder_is_accepted_and_marked(tmp_path, capsys) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert main([*RUN, "--seed", "4", "--out", str(out)]) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "sufficiency" and marker["writer"] == "run" and marker["complete"] is True
    assert set(marker["files"]) == {p.name for p in out.iterdir()} - {MARKER}
    assert {"run.json", "summary.csv", "report.html", "stock.parquet"} <= set(marker["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no staging folder left


def test_an_earlier_output_is_replaced_whole(tmp_path, capsys) -> None:
    out = tmp_path / "deep" / "run"
    assert main([*RUN, "--seed", "4", "--out", str(out)]) == 0
    (out / "stock_summary.parquet").unlink()  # a file the user deleted: still our folder
    assert main([*RUN, "--seed", "5", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["seed"] == 5
    assert (out / "stock_summary.parquet").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_an_output_written_before_the_marker_existed_is_replaced(tmp_path, capsys) -> None:
    """`make run` yesterday, `make run` today: a run folder with no marker but a run's exact shape."""
    out = tmp_path / "cheshire_east_baseline"
    assert main([*RUN, "--seed", "4", "--out", str(out)]) == 0
    (out / MARKER).unlink()
    assert check_out_folder(out) == "legacy"
    assert main([*RUN, "--seed", "5", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["seed"] == 5 and (out / MARKER).is_file()
    (out / MARKER).unlink()
    (out / "run.json").write_text('{"mine": true}')  # not a run.json this tool wrote
    before = snapshot(tmp_path)
    assert "is not recognisably an earlier output" in refused(capsys, [*RUN, "--out", str(out)])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("files", "accepted"),
    [
        ({"report.html", "differences.csv", "summary.txt", "sizing.csv", "charts/overlay.png"}, True),
        ({"report.html", "differences.csv", "summary.txt", "charts/mine.docx"}, False),
        ({"report.html", "summary.txt"}, False),
        ({"region_summary.csv", "stockport/run.json", "stockport/stock.parquet", "stockport/summary.csv"}, True),
        ({"region_summary.csv", "stockport/notes.txt", "stockport/run.json"}, False),
        ({"backtest_cheshire_east.csv", "backtest_cheshire_east.png", "backtest_stockport.csv"}, False),
        ({"backtest_cheshire_east.csv", "backtest_cheshire_east.png"}, True),
        ({"backtest_summary.csv", "backtest_monthly.csv", "backtest.png"}, True),
        ({"2021-header.csv", "2021-episodes.csv", "2021-uasc.csv"}, False),  # real returns look the same
        ({"summary.csv", "report.html"}, False),
        (  # a run with a price book, less its marker
            {
                "run.json",
                "report.html",
                "summary.csv",
                "statement.csv",
                "budget.xlsx",
                "budget_wide.csv",
                "spend_bridge.csv",
                "budget_check.csv",
                "grant.csv",
                "stock.parquet",
            },
            True,
        ),
    ],
)
def test_outputs_from_before_the_marker_are_recognised_by_their_exact_shape(tmp_path, files, accepted) -> None:
    out = tmp_path / "out"
    for name in files:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        run = {"version": "0.1.0", "replications": 2, "scenario": {}}
        (out / name).write_text(json.dumps(run) if name.endswith("run.json") else "x")
    if accepted:
        assert check_out_folder(out) == "legacy"
    else:
        with pytest.raises(InputError):
            check_out_folder(out)


def test_old_style_staging_folders_and_live_writers_are_left_alone(tmp_path) -> None:
    out = tmp_path / "run"
    old_style = tmp_path / ".run.k3j4h5g2"  # staging of the code before the marker: not provably ours
    old_style.mkdir()
    (old_style / "stock.parquet").write_text("x")
    live = tmp_path / f".other.sufficiency-staging-{output_folders._host_tag()}-{os.getpid()}-0badcafe"
    live.mkdir()
    (live / "partial.csv").write_text("x")
    output_folders._write_marker(live, "run", complete=False)
    not_ours = tmp_path / f".other.sufficiency-staging-{output_folders._host_tag()}-999999999-0badcafe"
    not_ours.mkdir()
    (not_ours / "mine.txt").write_text("no marker: not provably ours")
    before = snapshot(tmp_path)
    with replaced_folder(out, "run") as staging:
        (staging / "a.csv").write_text("new")
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("run")} == before
    assert contents(out) == {"a.csv": b"new"}


def test_a_disk_error_while_writing_names_the_out_folder_and_leaves_nothing(tmp_path) -> None:
    out = tmp_path / "run"
    with pytest.raises(InputError) as raised, replaced_folder(out, "run") as staging:
        (staging / "a.csv").write_text("x")
        raise OSError(28, "No space left on device", str(staging / "b.csv"))
    assert str(raised.value) == f"--out {out}: could not be written (no space left on device)"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------- calibrate


def test_calibrate_never_replaces_a_file_it_did_not_write(tmp_path, capsys) -> None:
    mine = tmp_path / "my_ce.toml"
    mine.write_text('name = "mine"\n')
    (tmp_path / "folder.toml").mkdir()
    before = snapshot(tmp_path)
    calibrate = ["calibrate", "--authority", "cheshire_east", "--as-of", "2016-09-30", "--out"]
    error = refused(capsys, [*calibrate, str(mine)])
    assert error.startswith(f"error: --out {mine}: the file was not written by `sufficiency calibrate`")
    assert "is a folder" in refused(capsys, [*calibrate, str(tmp_path / "folder.toml")])
    assert snapshot(tmp_path) == before
    # A price book that is not there: the message names the user's file, never a temporary one.
    error = refused(capsys, [*calibrate, str(tmp_path / "new_ce.toml"), "--prices", str(tmp_path / "prices.toml")])
    assert error.startswith(f"error: {tmp_path / 'new_ce.toml'}: extends:")
    assert ".new_ce.toml" not in error and "sufficiency-tmp" not in error
    assert snapshot(tmp_path) == before
    shutil.copy(ROOT / "scenarios" / "cheshire_east" / "prices.toml", tmp_path / "prices.toml")
    assert main([*calibrate, str(tmp_path / "new_ce.toml"), "--prices", str(tmp_path / "prices.toml")]) == 0
    assert main([*calibrate, str(tmp_path / "new_ce.toml")]) == 0  # its own file: replaced (the shipped book)
    assert "# Written by: sufficiency calibrate --authority cheshire_east" in (tmp_path / "new_ce.toml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.toml", "my_ce.toml", "new_ce.toml", "prices.toml"]


def test_calibrate_ssda903_never_replaces_a_report_it_did_not_write(tmp_path) -> None:
    from calibration.ssda903.calibrate import write_calibration

    (tmp_path / "calibration_report.html").write_text("<html>my own report</html>")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match=r"calibration_report\.html next to it: the file was not written"):
        write_calibration(
            tmp_path / "no_returns", dt.date(2021, 4, 1), tmp_path / "baseline.toml", "sufficiency calibrate"
        )
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------ kill injection

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sim.present import output_folders

    target, step = Path(sys.argv[1]), sys.argv[2]

    def hook(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    output_folders._step_hook = hook
    with output_folders.replaced_folder(target, "run") as staging:
        for i in range(6):
            (staging / f"table_{i}.csv").write_text(f"new {i}\\n")
            if step == "body" and i == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        (staging / "charts").mkdir()
        (staging / "charts" / "a.png").write_bytes(b"new png")
    """
)
STEPS = ["body", "staging_created", "staged", "old_aside", "new_in_place", "old_trashed", "removing", "done"]


def old_output(target: Path, marked: bool = True) -> dict[str, bytes | None]:
    with replaced_folder(target, "run") as staging:
        for i in range(4):
            (staging / f"old_{i}.csv").write_text(f"old {i}\n")
        (staging / "charts").mkdir()
        (staging / "charts" / "a.png").write_bytes(b"old png")
    if not marked:  # shaped like a comparison written before the marker existed
        (target / MARKER).unlink()
        for name in ("report.html", "differences.csv", "summary.txt"):
            (target / name).write_text(f"old {name}")
        for i in range(4):
            (target / f"old_{i}.csv").unlink()
        assert check_out_folder(target) == "legacy"
    return contents(target)


def kill_at(step: str, target: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([PYTHON, "-c", KILLER, str(target), step], env=env, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr


def siblings(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if SIBLING.match(p.name))


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "before-the-marker"])
@pytest.mark.parametrize("step", [*STEPS, "old_adopted"])
def test_a_kill_at_any_step_leaves_a_whole_folder_and_the_next_run_recovers(tmp_path, step, marked) -> None:
    if step == "old_adopted" and marked:
        pytest.skip("only an output from before the marker is adopted")
    parent = tmp_path / "out"
    target = parent / "baseline"
    old = old_output(target, marked)
    (parent / "keep.txt").write_text("the user's")
    new = {f"table_{i}.csv": f"new {i}\n".encode() for i in range(6)} | {"charts": None, "charts/a.png": b"new png"}
    kill_at(step, target)

    if step == "old_aside":  # between the two renames: nothing at the path, the old output whole aside
        assert not target.exists()
        (aside,) = [p for p in parent.iterdir() if SIBLING.match(p.name) and "-aside-" in p.name]
        assert contents(aside) == old
    else:
        expected = old if step in ("body", "staging_created", "staged", "old_adopted") else new
        assert contents(target) == expected
        assert (target / MARKER).is_file() or step in ("body", "staging_created", "staged")
    assert (parent / "keep.txt").read_text() == "the user's"

    recover(parent)  # what the next write to this parent does first
    after = contents(target)
    assert after == (new if step in ("new_in_place", "old_trashed", "removing", "done") else old)
    assert siblings(parent) == []

    if step == "old_aside":  # the recovery is also what the next write does when it names another folder
        kill_at(step, target)
        with replaced_folder(parent / "other", "run") as staging:
            (staging / "x.csv").write_text("x")
        assert contents(target) == old and siblings(parent) == []

    with replaced_folder(target, "run") as staging:
        (staging / "newest.csv").write_text("newest")
    assert contents(target) == {"newest.csv": b"newest"}
    assert siblings(parent) == [] and (parent / "keep.txt").read_text() == "the user's"


FILE_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sim.present import output_folders

    def hook(name):
        if name == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    output_folders._step_hook = hook
    output_folders.replace_file(Path(sys.argv[1]), "# Written by: sufficiency calibrate (new)\\nname = 'new'\\n")
    """
)


@pytest.mark.parametrize("step", ["file_written", "file_replaced"])
def test_a_kill_while_calibrate_replaces_its_file_leaves_one_whole_file(tmp_path, step) -> None:
    target = tmp_path / "baseline.toml"
    old = "# Written by: sufficiency calibrate (old)\nname = 'old'\n"
    replace_file(target, old)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([PYTHON, "-c", FILE_KILLER, str(target), step], env=env, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert target.read_text() in (old, old.replace("old", "new"))
    assert target.read_text() == (old if step == "file_written" else old.replace("old", "new"))
    replace_file(target, old)  # the next write removes the dead writer's temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.toml"]


# ------------------------------------------------------------------------------------------ the real CLI


def test_the_real_command_replaces_refuses_and_recovers_from_a_kill(tmp_path) -> None:
    cli = [PYTHON, "-m", "sim.cli", "run", str(VALID), "--replications", "2", "--quiet"]
    out = tmp_path / "out" / "valid_base"
    (tmp_path / "mine.txt").write_text("mine")
    first = subprocess.run([*cli, "--seed", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert json.loads((out / "run.json").read_text())["seed"] == 1
    assert json.loads((out / MARKER).read_text())["command"].startswith("sufficiency run ")

    before = snapshot(tmp_path)
    for place in (tmp_path, tmp_path / "mine.txt"):
        done = subprocess.run([*cli, "--out", str(place)], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.startswith(f"error: --out {place}: ")
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert snapshot(tmp_path) == before

    old = contents(out)
    killed = textwrap.dedent(
        f"""
        import os, signal, sys
        from sim.present import output_folders
        from sim.cli import main
        output_folders._step_hook = lambda step: step == "old_aside" and os.kill(os.getpid(), signal.SIGKILL)
        sys.exit(main({[*cli[3:], "--seed", "2", "--out", str(out)]!r}))
        """
    )
    done = subprocess.run([PYTHON, "-c", killed], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not out.exists() and len(siblings(out.parent)) == 2  # the old output aside, the new one staged

    again = subprocess.run([*cli, "--seed", "3", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "run.json").read_text())["seed"] == 3 and contents(out).keys() == old.keys()
    assert sorted(p.name for p in out.parent.iterdir()) == ["valid_base"]
