"""The DfE's own SSDA903 validation rules run on the returns, beside the project's cleaning steps.

Why: an analyst trusts a calibration more when the returns' faults are named in the DfE's terms, the rule
codes and messages an authority's data team already knows from the DfE's validator. The rules come from the
DfE's maintained package, csc-validator-be-903, which pins pandas 1.5 and so cannot live in the project's
environment (pandas 3). It runs in a side environment of its own (`make dfe-rules`, docs/decisions/0008), in a
subprocess with a timeout, through calibration/ssda903/dfe_rules_runner.py.

What crosses back is rule codes, the DfE's rule messages and counts (failing rows and children) only: never a
cell value, a child's identifier or an exception's text. The runner prints only that, as JSON, and this module
rejects any reply that is not exactly that shape.

Each return year is validated on its own (its header, episodes and UASC files, with the year before as "last
year" when the folder has it), with the ruleset of its collection year or, when the package has none for that
year, the nearest one, and the summary says so. A return's label (the year in its file names) names its
collection year, 1 April to 31 March, but not which end (reader.py): it is read as the collection year that
holds most of its episodes' DECOM and DEC dates.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.ssda903.quality import QualityReport
from calibration.ssda903.reader import POOLED

ENVIRONMENT_VARIABLE = "SUFFICIENCY_DFE_RULES_ENV"  # a side environment elsewhere than .venv-dfe-rules
DEFAULT_ENVIRONMENT = Path(__file__).resolve().parents[2] / ".venv-dfe-rules"
RUNNER = Path(__file__).with_name("dfe_rules_runner.py")
TIMEOUT_SECONDS = 600  # about 7 s a return year for the samples
NOT_RUN = "DfE rules not run"
INSTALL = f"{NOT_RUN}: install with make dfe-rules"
NOT_ASKED = f"{NOT_RUN}: add --dfe-rules to run them (about 7 s a return year; needs make dfe-rules once)"
_YEAR_IN_NAME = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_CODE = re.compile(r"[A-Za-z0-9]{1,16}")
_RULESET = re.compile(r"lac\d{4}_\d{2}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,32}")


@dataclass(frozen=True)
class DfeMatch:
    """The DfE rule codes a project step corresponds to (none: no DfE rule does), and why."""

    codes: tuple[str, ...]
    reason: str


# The reader's counted steps (QualityReport rules, in the order they run) and the DfE rules that flag the same
# fault. Codes are from lac2022_23 onwards; tests check each is in every installed ruleset.
CLEANING_TO_DFE: dict[str, DfeMatch] = {
    "unrecognised_file": DfeMatch((), "none: the DfE's tool refuses a file it cannot match to a table (no rule)"),
    "other_la": DfeMatch((), "none: a return is one authority's by construction"),
    "dob_outside_return": DfeMatch(("301", "351"), "DOB after the collection year ends, or over 25 at its start"),
    "decom_outside_return": DfeMatch(("353", "354"), "DECOM before 14 October 1991, or after the collection year"),
    "dec_outside_return": DfeMatch(("385",), "DEC after the end of the collection year"),
    "unknown_rne": DfeMatch(("143",), "RNE not a valid code"),
    "unknown_legal_status": DfeMatch(("144",), "LS not a valid code"),
    "unknown_cin": DfeMatch(("145",), "CIN not a valid code"),
    "unknown_provider": DfeMatch(("178", "526"), "PLACE_PROVIDER not a valid code, or missing"),
    "unknown_place": DfeMatch(("146",), "PLACE not a valid code"),
    "unknown_ethnic": DfeMatch(("103",), "ETHNIC not a valid code, or blank"),
    "unknown_reason_place_change": DfeMatch(("1009",), "REASON_PLACE_CHANGE not a valid code"),
    "header_conflict": DfeMatch(
        ("202", "203", "INT32"), "SEX or DOB differs from last year's header, or a child twice in one header"
    ),
    "unknown_sex": DfeMatch(("101",), "SEX not a valid code"),
    "uasc_not_in_header": DfeMatch(("INT09",), "child in the UASC table but not in the header"),
    "child_not_in_header": DfeMatch(("INT03",), "child in the episodes but not in the header"),
    "duplicate_episodes": DfeMatch(
        ("502", "503A", "503B", "503C", "503D", "503E"),
        "the DfE expects last year's open episode again and checks the copies agree; ours keeps one copy",
    ),
    "rec_on_open_episode": DfeMatch(("148",), "DEC and REC must both be coded or both blank"),
    "after_extract_date": DfeMatch((), "none: the extract date is the calibration's choice, not the return's"),
    "open_at_extract_date": DfeMatch((), "none: the extract date is the calibration's choice, not the return's"),
    "overlapping_episodes": DfeMatch(
        ("501", "142"), "an episode starts before the previous one ends, or while it is still open"
    ),
    "short_breaks": DfeMatch((), "none: leaving short breaks out is the DfE's counting convention, not a rule"),
    "short_break_periods": DfeMatch((), "none: a chain of short breaks only is no period in the DfE's counts"),
    "short_break_bridged": DfeMatch((), "none: how the period around a short break is kept is the model's choice"),
    "short_break_start": DfeMatch((), "none: how the period around a short break is kept is the model's choice"),
    "short_break_exit": DfeMatch((), "none: how the period around a short break is kept is the model's choice"),
    "legal_status_change": DfeMatch(
        (), "none: a valid RNE L; joining it to the previous episode is the model's choice (one stay, one place)"
    ),
    "rne_l_with_move": DfeMatch(("434",), "RNE L (legal status only) but the placement changed"),
    "same_placement": DfeMatch(("435", "436"), "RNE P, T, B or U but the placement did not change"),
    "child_without_episodes": DfeMatch(("EPI",), "child in the header with no episode"),
    "period_without_s": DfeMatch(
        ("357", "432", "433"), "first episode not RNE S: first ever, after care ended, or after a gap"
    ),
    "x1_without_next": DfeMatch(("388",), "REC X1 (new episode begins) but no continuation episode"),
    "filter_sex": DfeMatch((), "none: a population the user chose (--sex), not a fault in the return"),
    "filter_uasc": DfeMatch((), "none: a population the user chose (--uasc), not a fault in the return"),
    "filter_ethnicity": DfeMatch((), "none: a population the user chose (--ethnicity), not a fault in the return"),
    "filter_entry_age": DfeMatch((), "none: a population the user chose (--entry-age), not a fault in the return"),
}
# The reader's checks that stop the read (SSDA903Error): no safe fix, so no count.
STOPPING_CHECKS_TO_DFE: dict[str, DfeMatch] = {
    "unreadable_date": DfeMatch(("102", "141", "147"), "DOB, DECOM or DEC not a valid date"),
    "dec_before_decom": DfeMatch(("356",), "DEC before DECOM"),
    "decom_before_dob": DfeMatch(("302",), "first episode starts before the child was born"),
    "unknown_rec": DfeMatch(("149",), "REC not a valid code"),
    "blank_rec_with_dec": DfeMatch(("148",), "DEC and REC must both be coded or both blank"),
}


@dataclass(frozen=True)
class RuleFailure:
    """One DfE rule that failed on a return: its code, the DfE's message, failing rows and distinct children."""

    code: str
    message: str
    rows: int
    children: int


@dataclass(frozen=True)
class ReturnRules:
    """The DfE rules on one return year; `notes` says what to know (ruleset stood in, files left out, a crash)."""

    label: str  # the year in the return's file names
    collection_year: str  # the DfE's, e.g. "2019/20" (1 April 2019 to 31 March 2020)
    ruleset: str  # e.g. "lac2022_23"; "" when the validator stopped before choosing one
    rules: int  # rules in the ruleset
    failures: tuple[RuleFailure, ...]
    skipped: tuple[str, ...]  # rules whose tables are not in the returns (AD1, OC2, reviews, ...)
    crashed: tuple[str, ...]  # rules that raised on this data (the validator carries on)
    notes: tuple[str, ...]


@dataclass(frozen=True)
class DfeRulesSummary:
    """Every return year's DfE rule results, the package version and its rulesets, and folder-level notes."""

    version: str
    rulesets: tuple[str, ...]
    returns: tuple[ReturnRules, ...]
    notes: tuple[str, ...]


# ---------------------------------------------------------------------------------------------------------
# Running


def find_environment(environment: Path | None = None) -> Path | None:
    """The side environment's Python: `environment`, else $SUFFICIENCY_DFE_RULES_ENV, else .venv-dfe-rules."""
    root = environment or Path(os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT)
    return next((p for p in (root / "bin" / "python", root / "Scripts" / "python.exe") if p.is_file()), None)


def run_dfe_rules(
    folder: Path | str, la: str | None = None, environment: Path | None = None, timeout: float = TIMEOUT_SECONDS
) -> tuple[DfeRulesSummary | None, str]:
    """The DfE rules on each return year in `folder`, or None and a one-line reason why they did not run.

    `la` keeps one authority's rows where files have an LA column, as in read_ssda903, and is given to the
    validator as the authority (its placement-location rules compare with it); "all" (pooled) is refused.
    """
    python = find_environment(environment)
    if python is None:
        return None, INSTALL
    if la is not None and la.strip().casefold() == POOLED:  # CHILD ids of two authorities can collide
        return None, f"{NOT_RUN}: they check one authority's return at a time, not --la {POOLED}"
    jobs, notes = plan_returns(Path(folder).resolve())  # the runner starts in a scratch folder
    if la is None:
        notes.append("no authority given (--la): the rules on where children are placed compare with none")
    if not jobs:
        return None, f"{NOT_RUN}: no file name holds a return year (expected files such as 2019-episodes.csv)"
    try:
        reply = _run_runner(python, {"returns": jobs, "la": la}, timeout)
    except subprocess.TimeoutExpired:
        return None, f"{NOT_RUN}: the validator took longer than {timeout:g} s"
    except OSError:
        return None, f"{NOT_RUN}: the side environment's Python cannot be started; reinstall with make dfe-rules"
    if reply.returncode != 0:
        return None, f"{NOT_RUN}: the validator stopped (exit code {reply.returncode}); reinstall with make dfe-rules"
    try:
        summary = _parse(reply.stdout, jobs, notes)
    except (ValueError, KeyError, TypeError):
        return None, f"{NOT_RUN}: the validator's reply was not codes and counts only, so it was discarded"
    return summary, ""


def _run_runner(python: Path, job: dict[str, Any], timeout: float) -> subprocess.CompletedProcess[str]:
    """The runner in isolated mode (-I: no script folder or PYTHON* variables on its path) in a scratch folder.

    Its stderr (the validator's log, warnings, a traceback) is captured and dropped, never shown: it can quote
    a cell.
    """
    with tempfile.TemporaryDirectory(prefix="dfe-rules-") as scratch:
        return subprocess.run(
            [str(python), "-I", str(RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            cwd=scratch,
            env={"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1"},
            check=False,
        )


def plan_returns(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One job per return year (its files, collection year, last year's files), and notes on files left out."""
    by_year: dict[int, list[Path]] = {}
    notes = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        years = [int(y) for y in _YEAR_IN_NAME.findall(path.name) if 1900 <= int(y) <= 2199]
        if years:
            by_year.setdefault(years[0], []).append(path)
        else:
            notes.append(f"{path.name}: no return year in its name, so not checked against the DfE rules")
    jobs = [
        {
            "label": str(year),
            "end_year": collection_end_year(year, paths),
            "this_year": [str(p) for p in paths],
            "last_year": [str(p) for p in by_year.get(year - 1, [])],
        }
        for year, paths in sorted(by_year.items())
    ]
    return jobs, notes


def collection_end_year(label: int, paths: list[Path]) -> int:
    """The collection year (as the year of its 31 March) a return labelled `label` holds: `label` or the next.

    The one whose 12 months hold more of the episodes' DECOM and DEC dates; `label` (the DfE's own labelling)
    when no date can tell.
    """
    dates = pd.concat([_episode_dates(path) for path in paths] or [pd.Series(dtype="datetime64[ns]")])
    ending = dates.between(pd.Timestamp(label - 1, 4, 1), pd.Timestamp(label, 3, 31)).sum()
    next_year = dates.between(pd.Timestamp(label, 4, 1), pd.Timestamp(label + 1, 3, 31)).sum()
    return label + 1 if next_year > ending else label


def _episode_dates(path: Path) -> pd.Series:
    """A file's DECOM and DEC dates (dd/mm/YYYY, as the DfE's rules read them); none for other tables."""
    wanted = {"DECOM", "DEC"}
    try:
        frame = pd.read_csv(path, dtype=str, usecols=lambda c: str(c).strip().upper() in wanted)
    except (ValueError, OSError):  # unreadable (a decoding error is a ValueError) here too: the validator will say so
        return pd.Series(dtype="datetime64[ns]")
    if frame.columns.empty:
        return pd.Series(dtype="datetime64[ns]")
    return pd.concat([pd.to_datetime(frame[c], format="%d/%m/%Y", errors="coerce") for c in frame.columns])


def _parse(text: str, jobs: list[dict[str, Any]], notes: list[str]) -> DfeRulesSummary:
    """The runner's reply, checked field by field: anything but codes, DfE messages and counts is refused."""
    document = json.loads(text)
    available = [_match(_RULESET, name) for name in document["rulesets"]]
    returns = [_return(one, job) for one, job in zip(document["returns"], jobs, strict=True)]
    return DfeRulesSummary(_match(_VERSION, document["version"]), tuple(available), tuple(returns), tuple(notes))


def _return(one: dict[str, Any], job: dict[str, Any]) -> ReturnRules:
    end = job["end_year"]
    if one["label"] != job["label"]:
        raise ValueError("the reply's returns are not the job's")
    collection = f"{end - 1}/{end % 100:02d}"
    if "problem" in one:
        note = f"the validator stopped on this return ({_match(_NAME, one['problem'])}): no rule results"
        return ReturnRules(job["label"], collection, "", 0, (), (), (), (note,))
    ruleset = _match(_RULESET, one["ruleset"])
    return ReturnRules(
        label=job["label"],
        collection_year=collection,
        ruleset=ruleset,
        rules=_count(one["rules"]),
        failures=tuple(_failure(f) for f in one["failures"]),
        skipped=tuple(_match(_CODE, c) for c in one["skipped"]),
        crashed=tuple(_match(_CODE, c) for c in one["crashed"]),
        notes=tuple(_return_notes(job, ruleset, _count(one["unrecognised_files"]))),
    )


def _return_notes(job: dict[str, Any], ruleset: str, unrecognised: int) -> list[str]:
    notes = []
    own = f"lac{job['end_year'] - 1}_{job['end_year'] % 100:02d}"
    if ruleset != own:
        notes.append(f"no {own} rules in this version: the nearest, {ruleset}, stood in")
    if not job["last_year"]:
        notes.append("no return for the year before in the folder: the rules comparing with last year did not run")
    if unrecognised:
        notes.append(f"{unrecognised} file(s) lack a column the DfE's tables need, so were left out")
    return notes


def _failure(one: dict[str, Any]) -> RuleFailure:
    message = one["message"]
    if not isinstance(message, str):
        raise TypeError("a rule message is not text")
    return RuleFailure(
        _match(_CODE, one["code"]), " ".join(message.split()), _count(one["rows"]), _count(one["children"])
    )


def _match(pattern: re.Pattern[str], value: Any) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError("a field of the reply is not of its expected form")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("a count in the reply is not a whole number >= 0")
    return value


# ---------------------------------------------------------------------------------------------------------
# Presenting


def failures_frame(summary: DfeRulesSummary) -> pd.DataFrame:
    """Failing rows by DfE rule code (rows) and return's collection year (columns), with the rule's message."""
    years = [r.collection_year for r in summary.returns]
    rows: dict[str, dict[str, Any]] = {}
    for one in summary.returns:
        for failure in one.failures:
            row = rows.setdefault(failure.code, {"code": failure.code, **dict.fromkeys(years, 0)})
            row[one.collection_year] = failure.rows
            row["message"] = failure.message  # the latest return's wording
    ordered = sorted(rows.values(), key=lambda row: _code_order(row["code"]))
    return pd.DataFrame(ordered, columns=["code", *years, "message"])


def _code_order(code: str) -> tuple[int, str]:
    digits = re.match(r"\d+", code)
    return (int(digits.group()) if digits else 10**6, code)


def steps_frame(report: QualityReport, summary: DfeRulesSummary | None = None) -> pd.DataFrame:
    """The project's cleaning steps with their rows, their DfE codes and, given a summary, those codes' rows."""
    totals = _dfe_totals(summary)
    mapped = [(rule, report.total(rule), "counted", match) for rule, match in CLEANING_TO_DFE.items()]
    mapped += [(rule, 0, "stops the read", match) for rule, match in STOPPING_CHECKS_TO_DFE.items()]
    unmapped = [(rule, report.total(rule), "counted", None) for rule in report.rules() if rule not in CLEANING_TO_DFE]
    rows = [
        {
            "step": rule,
            "rows": rows,
            "kind": kind,
            "DfE codes": ", ".join(match.codes) if match else "?",
            "DfE failing rows": "; ".join(f"{c}: {totals[c]}" for c in match.codes if c in totals) if match else "",
            "why": match.reason if match else "not in dfe_rules.CLEANING_TO_DFE yet",
        }
        for rule, rows, kind, match in mapped + unmapped
    ]
    frame = pd.DataFrame(rows)
    return frame if summary is not None else frame.drop(columns="DfE failing rows")


def _dfe_totals(summary: DfeRulesSummary | None) -> dict[str, int]:
    """Failing rows by code over every return (an episode repeated in two returns counts in each)."""
    totals: dict[str, int] = {}
    for one in summary.returns if summary else ():
        for failure in one.failures:
            totals[failure.code] = totals.get(failure.code, 0) + failure.rows
    return totals


def summary_lines(summary: DfeRulesSummary | None, reason: str) -> list[str]:
    """One line per return year (ruleset, rules failed, skipped, crashed, notes), or the reason none ran."""
    if summary is None:
        return [reason]
    rulesets = f"rulesets {summary.rulesets[0]} to {summary.rulesets[-1]}" if summary.rulesets else "no ruleset"
    lines = [f"The DfE's SSDA903 validation rules (csc-validator-be-903 {summary.version}, {rulesets}), per return:"]
    for one in summary.returns:
        counts = (
            f"{len(one.failures)} of {one.rules} rules failed, {len(one.skipped)} skipped (their tables are not in "
            f"the returns), {len(one.crashed)} could not run on this data"
        )
        parts = [f"{one.ruleset}: {counts}"] if one.ruleset else []
        text = f"{one.label} return (collection year {one.collection_year}): "
        lines.append(text + "; ".join(parts + list(one.notes)))
    return lines + list(summary.notes)


def summary_text(summary: DfeRulesSummary | None, reason: str, report: QualityReport) -> str:
    """Plain text for a terminal or a log: the per-return lines, failures by code, then the project's steps."""
    parts = summary_lines(summary, reason)
    if summary is not None:
        parts += ["", "Failing rows by DfE rule and collection year:", _text_table(failures_frame(summary))]
    steps = steps_frame(report, summary)
    parts += ["", "The project's cleaning steps and the DfE rules that flag the same fault:", _text_table(steps)]
    return "\n".join(parts)


def _text_table(frame: pd.DataFrame) -> str:
    """Fixed-width columns, numbers right-aligned, the last column (a message or a reason) unpadded."""
    if frame.empty:
        return "  (none)"
    text = frame.astype(str)
    widths = {c: max(len(str(c)), *(len(v) for v in text[c])) for c in frame.columns}
    numeric = {c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])}
    last = frame.columns[-1]

    def line(values: list[str]) -> str:
        cells = [
            v if c == last else (v.rjust if c in numeric else v.ljust)(widths[c])
            for c, v in zip(frame.columns, values, strict=True)
        ]
        return "  " + "  ".join(cells).rstrip()

    out = [line([str(c) for c in frame.columns]), line(["-" * widths[c] for c in frame.columns])]
    return "\n".join(out + [line(list(row)) for row in text.itertuples(index=False)])
