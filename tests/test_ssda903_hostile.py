"""Hostile SSDA903 returns: no child's value in any message, report or written file; each failure one line.

Each case copies the shared samples' 2020 and 2021 returns, adds one marked child (an identifier, birth date,
postcodes, UPN and URN nobody could mistake for anything else), breaks something, and then drives the reader in
process and `sufficiency calibrate` / `sufficiency backtest` in processes of their own (tests/cli_process.py).
Whatever the outcome, no marker may appear in the exception, the quality report, stdout, stderr or any file
written; a failure is exit code 2 with a single line `error: ...`, never a traceback; a fix is counted in the
quality report under its rule.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from calibration.ssda903.quality import QualityReport
from calibration.ssda903.reader import SSDA903Error, read_ssda903
from sim.engine.scenario_files import load_scenario
from tests import cli_process

ROOT = Path(__file__).resolve().parent.parent
WINDOW_REFUSED = "argument --window-years: expected a whole number from 1 to 100"  # refused by the CLI itself
SAMPLES = Path(os.environ.get("SUFFICIENCY_SHARED", ROOT.parent / "shared")) / "ssda903_samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared SSDA903 samples are not here")

CHILD, DOB, DOB_ISO, HOME, PLACED = "ZZ398768QQ", "09/04/2017", "2017-04-09", "V28 5OY", "H8 7NR"
CODE, UPN, URN, NOTE = "LEAKCODE7", "LEAKUPN0001", "LEAKURN99", "LEAKNOTE3"
# Every marker, and recognisable parts of them: none may be said or written anywhere.
SECRETS = (CHILD, "398768", DOB, DOB_ISO, HOME, PLACED, "5OY", "7NR", CODE, UPN, URN, NOTE, "LEAKLA9", "LEAKYEAR")
AS_OF, ORIGIN = "2021-04-01", "2021-04-01"  # the samples' 2021 return runs to 2022-03-27
EPISODES, HEADER, UASC = "2021-episodes.csv", "2021-header.csv", "2021-uasc.csv"
MARKED_EPISODE = {
    "CHILD": CHILD,
    "DECOM": "01/05/2021",
    "RNE": "S",
    "LS": "C2",
    "CIN": "N1",
    "PLACE": "U4",
    "PLACE_PROVIDER": "PR1",
    "DEC": "",
    "REC": "",
    "REASON_PLACE_CHANGE": "",
    "HOME_POST": HOME,
    "PL_POST": PLACED,
    "URN": URN,
}
MARKED_HEADER = {"CHILD": CHILD, "SEX": "1", "DOB": DOB, "ETHNIC": "WBRI", "UPN": UPN, "MOTHER": "", "MC_DOB": ""}


# ---------------------------------------------------------------------------------------------------------
# Editing a copy of the returns


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def _save(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / name, index=False)


def _append(folder: Path, name: str, *rows: dict[str, str]) -> None:
    frame = _read(folder, name)
    _save(folder, name, pd.concat([frame, pd.DataFrame(list(rows))], ignore_index=True).fillna(""))


def _set(folder: Path, name: str, column: str, value: str, child: str = CHILD) -> None:
    """Set `column` on the marked child's rows of one file."""
    frame = _read(folder, name)
    frame.loc[frame["CHILD"] == child, column] = value
    _save(folder, name, frame)


def _marked(**changes: str) -> dict[str, str]:
    return {**MARKED_EPISODE, **changes}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples' 2020 and 2021 returns with the marked child in care from 01/05/2021 (and UASC)."""
    folder = tmp_path_factory.mktemp("base")
    for path in SAMPLES.glob("202[01]-*.csv"):
        shutil.copy(path, folder / path.name)
    _append(folder, HEADER, MARKED_HEADER)
    _append(folder, EPISODES, MARKED_EPISODE)
    _append(folder, UASC, {"CHILD": CHILD, "SEX": "1", "DOB": DOB, "DUC": "09/04/2035"})
    return folder


@pytest.fixture(scope="module")
def base_report(base: Path) -> QualityReport:
    """What cleaning counts in the unbroken base, which each case's rules must exceed."""
    return read_ssda903(base).report


# ---------------------------------------------------------------------------------------------------------
# The cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile folder: how to break it, and what must happen (an error with `fragment`, or counted fixes)."""

    name: str
    edit: Callable[[Path], None]
    fragment: str = ""  # in the one-line error; "" when the commands succeed
    rules: tuple[str, ...] = ()  # quality-report rules that must count rows when the read succeeds
    options: tuple[str, ...] = ()  # more command-line options for both commands
    calibrate: tuple[str, ...] = ("--as-of", AS_OF)
    commands: tuple[str, ...] = ("calibrate", "backtest")  # backtest is slow when it succeeds
    option: bool = False  # only a command-line option is wrong: the returns themselves read

    @property
    def fails(self) -> bool:
        return bool(self.fragment)

    @property
    def read_fails(self) -> bool:
        """The reader itself refuses the returns (else only a calibrate option is wrong)."""
        return self.fails and not self.option


def _nothing(folder: Path) -> None:
    """The marked base as it is."""


def _unknown_codes(folder: Path) -> None:
    _set(folder, EPISODES, "PLACE", CODE)  # the marked episode has no need: dropped
    later = _marked(DECOM="01/06/2021", RNE=CODE, LS=CODE, CIN=CODE, PLACE_PROVIDER=CODE)
    _append(folder, EPISODES, later)
    _set(folder, HEADER, "SEX", CODE)


def _drop_column(folder: Path) -> None:
    _save(folder, EPISODES, _read(folder, EPISODES).drop(columns="PLACE"))


def _no_header_line(name: str) -> Callable[[Path], None]:
    """The file without its header line, the marked child's row first (its values become pandas' column names)."""

    def edit(folder: Path) -> None:
        frame = _read(folder, name)
        frame = pd.concat([frame[frame["CHILD"] == CHILD], frame[frame["CHILD"] != CHILD]])
        frame.to_csv(folder / name, index=False, header=False)

    return edit


def _too_many_fields(folder: Path) -> None:
    with (folder / EPISODES).open("a", encoding="utf-8") as handle:
        handle.write(f"{CHILD},01/07/2021,P,C2,N1,U4,PR1,,,,{HOME},{PLACED},{URN},{NOTE},{CODE}\n")


def _utf16(folder: Path) -> None:
    path = folder / HEADER
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def _binary(folder: Path) -> None:
    (folder / UASC).write_bytes(b"CHILD,DUC\n\x81\x8d\x8f\x90\x9d," + CHILD.encode() + b"," + DOB.encode() + b"\n")


def _windows_1252(folder: Path) -> None:
    frame = _read(folder, HEADER)
    frame.loc[frame["CHILD"] == CHILD, "MOTHER"] = "Zoë"
    frame.to_csv(folder / HEADER, index=False, encoding="cp1252")


def _several_las(folder: Path) -> None:
    for path in folder.glob("*.csv"):
        frame = _read(folder, path.name)
        frame.insert(0, "LA", "E08000001")
        frame.loc[frame["CHILD"] == CHILD, "LA"] = "LEAKLA9"
        _save(folder, path.name, frame)


def _outside_the_return(folder: Path) -> None:
    _append(folder, EPISODES, _marked(DECOM="01/01/2099"))  # after the 2021 return's last day, 01/04/2022
    _append(folder, "2020-header.csv", {**MARKED_HEADER, "DOB": "01/01/1850"})
    frame = _read(folder, EPISODES)
    frame.loc[frame.index[0], ["DEC", "REC"]] = ["01/01/2099", "E13"]  # a sample episode ends in 2099
    _save(folder, EPISODES, frame)


def _only_short_breaks(folder: Path) -> None:
    for path in folder.glob("*-episodes.csv"):
        frame = _read(folder, path.name)
        frame["LS"] = "V3"
        _save(folder, path.name, frame)


def _every(pattern: str, **values: str) -> Callable[[Path], None]:
    """Set columns on every row of every file matching `pattern`."""

    def edit(folder: Path) -> None:
        for path in folder.glob(pattern):
            _save(folder, path.name, _read(folder, path.name).assign(**values))

    return edit


def _all_uasc(folder: Path) -> None:
    children = pd.concat([_read(folder, path.name)["CHILD"] for path in folder.glob("*-header.csv")]).unique()
    _save(folder, UASC, pd.DataFrame({"CHILD": children, "DUC": "01/01/2030"}))


def _semicolons(folder: Path) -> None:
    path = folder / EPISODES
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")


def _remove(*patterns: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        for pattern in patterns:
            for path in folder.glob(pattern):
                path.unlink()

    return edit


def _write(name: str, text: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")

    return edit


def _edits(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        for one in edits:
            one(folder)

    return edit


def _quoted_newline(folder: Path) -> None:
    _set(folder, EPISODES, "REASON_PLACE_CHANGE", f"{NOTE}\n{HOME}, {CHILD}")


def _header_dob(value: str) -> Callable[[Path], None]:
    return lambda folder: _set(folder, HEADER, "DOB", value)


def _episode(column: str, value: str) -> Callable[[Path], None]:
    return lambda folder: _set(folder, EPISODES, column, value)


CASES = [
    Case("marked base, nothing broken", _nothing),
    Case(
        "unknown PLACE, LS, RNE, CIN, PLACE_PROVIDER and SEX codes",
        _unknown_codes,
        rules=(
            "unknown_place",
            "unknown_rne",
            "unknown_legal_status",
            "unknown_cin",
            "unknown_provider",
            "unknown_sex",
        ),
    ),
    Case("unknown REC", _edits(_episode("DEC", "01/06/2021"), _episode("REC", CODE)), "unknown REC code"),
    Case("blank REC with a DEC", _episode("DEC", "01/06/2021"), "REC is blank"),
    Case("missing column", _drop_column, "missing column PLACE"),
    Case("unreadable DECOM", _episode("DECOM", CODE), "could not read DECOM"),
    Case("impossible DEC 31/02", _episode("DEC", "31/02/2022"), "could not read DEC"),
    Case("unreadable DOB", _header_dob(CODE), "could not read DOB"),
    Case("duplicate episodes", lambda folder: _append(folder, EPISODES, MARKED_EPISODE), rules=("duplicate_episodes",)),
    Case(
        "overlapping episodes",
        _edits(
            _episode("DEC", "01/09/2021"),
            _episode("REC", "X1"),
            lambda folder: _append(folder, EPISODES, _marked(DECOM="01/07/2021", RNE="P", PLACE="U5")),
        ),
        rules=("overlapping_episodes",),
        commands=("calibrate",),
    ),
    Case(
        "child in episodes and UASC but in no header",
        lambda folder: _save(folder, HEADER, _read(folder, HEADER).query("CHILD != @CHILD")),
        rules=("child_not_in_header", "uasc_not_in_header"),
        commands=("calibrate",),
    ),
    Case("DEC before DECOM", _episode("DEC", "01/04/2021"), "DEC is before DECOM"),
    Case("DECOM before DOB", _episode("DECOM", "01/01/2016"), "DECOM is before the child's DOB"),
    Case("blank CHILD", lambda folder: _set(folder, HEADER, "CHILD", ""), "CHILD is blank"),
    Case("episodes file without a header line", _no_header_line(EPISODES), "(is the header line missing?)"),
    Case("header file without a header line", _no_header_line(HEADER), "(is the header line missing?)"),
    Case(
        "unrecognisable file with a CHILD column",
        _write("notes.csv", f"CHILD,NOTE\n{CHILD},{NOTE} {HOME}\n"),
        "has a CHILD column but no DECOM",
    ),
    Case(
        "file that is no SSDA903 table",
        _write("contacts.csv", f"NAME,POSTCODE\n{NOTE},{HOME}\n"),
        rules=("unrecognised_file",),
        commands=("calibrate",),
    ),
    Case(
        "extra columns",
        lambda folder: _save(folder, EPISODES, _read(folder, EPISODES).assign(NOTES=f"{NOTE} {CHILD}")),
        commands=("calibrate",),
    ),
    Case("quoted newline in a cell", _quoted_newline, commands=("calibrate",)),
    Case("a row with more fields than the header", _too_many_fields, "row 256 has 15 fields, expected 13"),
    Case("UTF-16 file", _utf16, "not a readable CSV file"),
    Case("undecodable bytes", _binary, "expected text in UTF-8 or Windows-1252"),
    Case("Windows-1252 file", _windows_1252, commands=("calibrate",)),
    Case("empty file", _write(UASC, ""), "the file is empty"),
    Case("header line but no rows", _write(UASC, "CHILD,SEX,DOB,DUC\n"), commands=("calibrate",)),
    Case("several LAs, no --la", _several_las, "rows of 2 local authorities"),
    Case("several LAs, --la given", _several_las, rules=("other_la",), options=("--la", "E08000001")),
    Case("--la not in the returns", _several_las, "LA 'E09999999' not found", options=("--la", "E09999999")),
    Case(
        "YEAR that is no year",
        lambda folder: _save(
            folder,
            EPISODES,
            _read(folder, EPISODES).assign(YEAR=lambda f: f["CHILD"].eq(CHILD).map({True: "LEAKYEAR"})),
        ),
        "column YEAR",
    ),
    Case(
        "dates outside the return (DECOM 2099, DEC 2099, DOB 1850)",
        _outside_the_return,
        rules=("decom_outside_return", "dec_outside_return", "dob_outside_return"),
    ),
    Case("no header table", _remove("*-header.csv"), "no header table"),
    Case("semicolon-separated file", _semicolons, "(is the file separated by semicolons"),
    Case("every PLACE unknown", _every("*-episodes.csv", PLACE=CODE), "no episode rows left to read"),
    Case("every DOB in 1850", _every("*-header.csv", DOB="01/01/1850"), "no episode belongs to a child in a header"),
    Case("no episode ever ends", _every("*-episodes.csv", DEC="", REC=""), "stays cannot be fitted", option=True),
    Case("every CIN unknown", _every("*-episodes.csv", CIN=CODE), "has a known CIN", option=True),
    Case("2020's CIN unknown", _every("2020-episodes.csv", CIN=CODE), rules=("unknown_cin",), commands=("calibrate",)),
    Case("every child UASC", _all_uasc, commands=("calibrate",)),
    Case("every placement for adoption", _every("*-episodes.csv", PLACE="A5"), commands=("calibrate",)),
    Case("only short breaks", _only_short_breaks, "no episode left after cleaning"),
    *(
        Case(
            f"calibrate {' '.join(options)}",
            _nothing,
            fragment,
            calibrate=options,
            commands=("calibrate",),
            option=True,
        )
        for options, fragment in [
            (
                ("--as-of", AS_OF, "--window-years", "0"),
                "argument --window-years: expected a whole number from 1 to 100",
            ),
            (
                ("--as-of", AS_OF, "--window-years", "-1"),
                "argument --window-years: expected a whole number from 1 to 100",
            ),
            (
                ("--as-of", AS_OF, "--window-years", "2000"),
                "argument --window-years: expected a whole number from 1 to 100",
            ),
            (("--as-of", "2023-01-01"), "is after the returns' extract date 2022-03-27"),
            (("--as-of", "1990-04-01"), "no periods of care start in the 3 years before 1990-04-01"),
        ]
    ),
    Case("backtest origin on the extract date", _nothing, "nothing to compare", commands=("backtest",), option=True),
]


# ---------------------------------------------------------------------------------------------------------
# Running and checking


def _leaks(text: str) -> list[str]:
    folded = text.casefold()
    return [secret for secret in SECRETS if secret.casefold() in folded]


def _written(folder: Path) -> dict[str, str]:
    """Every file under `folder` as text; charts embedded in HTML left out (base64 holds any short string)."""
    texts = {str(p): p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()}
    return {path: re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", text) for path, text in texts.items()}


def _start(command: str, folder: Path, out: Path, case: Case) -> cli_process.CliProcess:
    if command == "calibrate":
        args = ["calibrate", "--ssda903", str(folder), *case.calibrate, "--out", str(out / "baseline.toml")]
    else:
        origin = "2022-03-27" if "backtest origin" in case.name else ORIGIN  # the extract date
        args = ["backtest", "--ssda903", str(folder), "--origin", origin, "--horizon", "3", "--replications", "2"]
        args += ["--out", str(out)]
    return cli_process.start([*args, *case.options], cwd=ROOT, env={"MPLBACKEND": "Agg"})


def _check_read(folder: Path, case: Case, before: QualityReport) -> None:
    """In process: the reader's exception or its quality report, and no unknown code left in the history.

    `before` is the unbroken base's report: each rule of the case must count more rows than it did there.
    """
    la = case.options[1] if case.options[:1] == ("--la",) else None
    try:
        history = read_ssda903(folder, la=la)
    except SSDA903Error as error:
        message = str(error)
        assert case.read_fails and case.fragment in message, message
        assert "\n" not in message and not _leaks(message), message
        return
    assert not case.read_fails, f"expected the reader to refuse the returns: {case.fragment}"
    report = history.report
    said = report.to_text() + report.to_frame().to_string()
    assert not _leaks(said), _leaks(said)
    for rule in case.rules:
        assert report.total(rule) > before.total(rule), (rule, report.total(rule))
    text_columns = history.episodes.select_dtypes(exclude=["number", "datetime", "bool"])
    assert not text_columns.isin([CODE]).any().any()


def _check_run(process: cli_process.CliProcess, out: Path, case: Case, command: str) -> None:
    stdout, stderr = process.communicate(timeout=600)
    said = stdout + stderr
    assert "Traceback" not in said, said[-3000:]
    assert not _leaks(said), (_leaks(said), said[-3000:])
    written = _written(out) if out.exists() else {}
    leaked = {path: _leaks(text) for path, text in written.items() if _leaks(text)}
    assert not leaked, leaked
    if case.fails:
        assert process.returncode == 2, (process.returncode, said[-3000:])
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert case.fragment in lines[0], lines[0]
        assert not written, sorted(written)  # nothing written on a failure
    else:
        assert process.returncode == 0, said[-3000:]
        assert not stderr.strip(), stderr


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_returns_leak_nothing_and_fail_in_one_line(
    case: Case, base: Path, base_report: QualityReport, tmp_path: Path
) -> None:
    folder = tmp_path / "returns"
    shutil.copytree(base, folder)
    case.edit(folder)
    runs = {c: (_start(c, folder, tmp_path / c, case), tmp_path / c) for c in case.commands}
    _check_read(folder, case, base_report)
    for command, (process, out) in runs.items():
        _check_run(process, out, case, command)
    if "calibrate" in runs and not case.fails:
        scenario = load_scenario(tmp_path / "calibrate" / "baseline.toml")  # a scenario that validates
        assert scenario.start_population.groups


def test_dates_outside_the_return_set_no_extract_date_and_no_invented_months(base: Path, tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    shutil.copytree(base, folder)
    clean = read_ssda903(folder)
    _outside_the_return(folder)
    history = read_ssda903(folder)
    assert history.extract_date == clean.extract_date == pd.Timestamp("2022-03-27").date()
    out = tmp_path / "backtest"
    process = _start("backtest", folder, out, dataclasses.replace(CASES[0], options=("--horizon", "60")))
    _check_run(process, out, CASES[0], "backtest")
    months = pd.to_datetime(pd.read_csv(out / "backtest_monthly.csv")["month"])
    assert months.max() <= pd.Timestamp(history.extract_date)  # 60 months asked, 11 observed


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    case = Case("missing folder", _nothing, "not a folder")
    for command in ("calibrate", "backtest"):
        process = _start(command, tmp_path / "nowhere", tmp_path / command, case)
        _check_run(process, tmp_path / command, case, command)
