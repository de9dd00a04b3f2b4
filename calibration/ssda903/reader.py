"""Read a local authority's SSDA903 returns into a cleaned care history: children, placements, periods of care.

Input: a folder of CSV files, one per table and year (`2019-header.csv`, `2019-episodes.csv`,
`2019-uasc.csv`) or combined over years (`header.csv`, `episodes.csv`, `uasc.csv`). A file's table is
recognised from its columns (DECOM: episodes; DUC: UASC; DOB or SEX: header), then from its name. Every cell
is read as text and validated here; dates are dd/mm/YYYY or YYYY-MM-DD. Extra columns are ignored; `LA`
selects one authority when `la` is a code, and `la="all"` pools every authority (the regional layout:
combined files with LA and YEAR columns), each child then keyed by (LA, CHILD), since two authorities may
use the same CHILD id; `YEAR` (else a 4-digit year in the file name) orders the returns, so the latest
return's copy of a repeated row wins. ETHNIC, when present, gives each child the DfE ethnic group of
filters.py.

What happens to bad input. Errors (SSDA903Error) stop the read where no safe fix exists; fixes are counted
in the quality report with the rule, file and number of rows. No message and no report entry contains a value
from a row (CHILD, DOB, UPN and postcodes are personal data): rows are named by file and spreadsheet row
(header line = row 1).

| fault                                                    | decision                                              |
|----------------------------------------------------------|-------------------------------------------------------|
| folder missing, no CSV file, no episodes or header table | error                                                 |
| no episode rows in any episodes file                     | error                                                 |
| file with no header line (zero bytes), unreadable CSV    | error (pandas' own text is never shown: it can quote  |
| (ragged rows, UTF-16, binary bytes)                      | a cell); the row when pandas gives one                |
| file with a header line but no rows                      | accepted (a year without UASC children is normal); its |
|                                                          | 0 rows show in the report's file list                 |
| CSV that is not an SSDA903 table and has no CHILD column | ignored, listed in the report ("unrecognised_file")   |
| CSV with a CHILD column but no way to tell its table     | error                                                 |
| required column missing                                  | error naming the missing columns; when all are, a hint |
|                                                          | (no header line, or not separated by commas)          |
| `la` given but a file has no LA column, or LA not found  | error; other authorities' rows dropped and counted    |
| no `la` but the LA columns name several authorities      | error listing their codes (a value not shaped like an |
|                                                          | ONS or DfE LA code is counted, never shown): children |
|                                                          | of two authorities are not one authority's history    |
| `la="all"` but a file has no LA column, or a blank LA    | error: the row's authority is unknown                 |
| YEAR not starting with a year from 1900 to 2199          | error                                                 |
| blank CHILD, blank or unreadable DOB or DECOM            | error (file, row, column, expected format)            |
| unreadable DEC                                           | error                                                 |
| DECOM outside its return (see below)                     | episode dropped, counted ("decom_outside_return")     |
| DEC outside its return                                   | DEC and REC cleared: the episode is open at the       |
|                                                          | return's end, counted ("dec_outside_return")          |
| DOB outside its return                                   | header row dropped, counted ("dob_outside_return");   |
|                                                          | a child with no header row left loses its episodes    |
| DEC before DECOM, DECOM before the child's DOB           | error: dates are the backbone of every estimate       |
| REC not X1 or a known E code; blank REC with a DEC       | error: the exit route is a calibration target         |
| unknown or blank PLACE                                   | row dropped, counted ("unknown_place")                |
| unknown or blank PLACE_PROVIDER, LS, CIN, RNE            | value set to "", counted (provider "": in_house False; |
|                                                          | LS "": not a short break; RNE "": not S, not L)       |
| SEX not 1 or 2                                           | sex "unknown", counted                                |
| ETHNIC blank, or not starting with a group's letter      | group "refused or not obtained", counted               |
| a child's DOB or SEX differing between header rows       | the latest return's values kept, counted              |
| child in episodes but in no header                       | that child's episodes dropped, counted                |
| child in a UASC table but in no header                   | UASC row dropped, counted                             |
| child left with no episode after cleaning                | not in `children`, counted                            |

A date is outside its return when it is before 1900 or after the last day its return can hold. A return's
label (YEAR, else the file name's year) names its collection year, 1 April to 31 March, but not which end:
the DfE and the synthetic writer call the year to 31 March 2019 "2019", while the shared samples and a YEAR
of "2019/20" call the year from 1 April 2019 "2019". So the last day of a return labelled YYYY is taken as
1 April YYYY+1: the later reading's 31 March, and the day after it, because returns are extracted after the
year ends and the samples carry events of that day. A file with no year can hold nothing after today. Such a
date is a typo or a placeholder (01/01/2099), and trusting it would move the extract date and invent years
of observations, so it is counted and dropped, never used.

Then the cleaning rules of `cleaning.py` run in order (see its docstring), each counted. The extract date
(censoring date) is the one given; else, where the episodes carry a YEAR, the end of the latest return year
it names (31 March of YEAR: the DfE's "2019" is the year to 31 March 2019, "2019/20" or "2019-20" the year to
31 March 2020), since a return vouches for its whole year even if its last events came earlier, and what it
holds after that day is cut as after the extract date (counted); else the latest DECOM or DEC left after the
checks above, so never a date outside its return (DUC is a projected 18th birthday and DOB is no event in
care, so neither counts).

Child ids are internal: 0..n-1 in order of each child's first placement start; the SSDA903 CHILD value is not
kept anywhere in the result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from calibration.ssda903 import cleaning
from calibration.ssda903.codes import (
    CATEGORIES_OF_NEED,
    CONTINUES,
    IN_HOUSE_PROVIDERS,
    LEGAL_STATUSES,
    PLACE_TO_NEED,
    PLACEMENT_CHANGE_REASONS,
    PROVIDERS,
    REC_TO_ROUTE,
    RNE_CODES,
    SEX_CODES,
)
from calibration.ssda903.distances import PostcodeLookup
from calibration.ssda903.errors import SSDA903Error, where
from calibration.ssda903.filters import NO_ETHNIC_COLUMN, ethnic_groups
from calibration.ssda903.quality import QualityReport

__all__ = ["TABLES", "CareHistory", "SSDA903Error", "read_ssda903"]

TABLES: dict[str, tuple[str, ...]] = {
    "header": ("CHILD", "SEX", "DOB"),
    "episodes": ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC"),
    "uasc": ("CHILD", "DUC"),
}
DATE_FORMATS = "a date as dd/mm/YYYY or YYYY-MM-DD"
_UK_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_YEAR_IN_NAME = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_YEAR_VALUE = re.compile(r"(\d{4})")
_YEAR_SPAN = re.compile(r"\d{4}\s*[/-]\s*\d{2}(?:\d{2})?")  # 2019/20, 2019-2020: the year to 31 March 2020
_LA_CODE = re.compile(r"[EWSN]\d{8}|\d{3}", re.IGNORECASE)  # ONS code (E06000049) or DfE number (895)
POOLED = "all"  # la="all": every authority's children, keyed by (LA, CHILD)
SHORT_BREAK_RULES = ("exclude", "include")
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
EXIT_CODES = frozenset({CONTINUES, *REC_TO_ROUTE})
EPISODE_COLUMNS = [
    "child",
    "period",
    "start",
    "end",
    "need",
    "in_house",
    "place",
    "provider",
    "legal_status",
    "cin",
    "rec",
    "reason",  # REASON_PLACE_CHANGE of a placement that ended in a new one ("" otherwise or when not given)
    "within_20_miles",  # 1.0 within 20 miles of home, 0.0 beyond, NaN unknown or no postcode lookup (distances.py)
]
HEADER_COLUMNS = ["child", "dob", "sex_code", "ethnic", "file", "row", "year", "file_index"]
EARLIEST = pd.Timestamp("1900-01-01")
FIRST_YEAR, LAST_YEAR = 1900, 2199  # a 4-digit number outside these is not a return year
OUTSIDE = "before 1900 or after the last day its return can hold"


@dataclass
class CareHistory:
    """The cleaned returns: one row per child, per placement (episodes) and per period of care."""

    extract_date: dt.date
    children: pd.DataFrame
    episodes: pd.DataFrame
    periods: pd.DataFrame
    report: QualityReport
    # children arriving together: one row per group of periods of care starting on one day from one home
    # postcode (start, children); numbers only, in memory only (calibration/ssda903/sibling_groups.py)
    arrival_groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["start", "children"]))


@dataclass
class _Table:
    """One CSV file's rows as text, with its table kind and the row provenance columns."""

    name: str
    kind: str
    frame: pd.DataFrame


# ---------------------------------------------------------------------------------------------------------
# Files


def _file_year(name: str) -> int:
    """The first plausible year in a file name (2019-episodes.csv: 2019), else -1."""
    years = (int(match) for match in _YEAR_IN_NAME.findall(name))
    return next((year for year in years if FIRST_YEAR <= year <= LAST_YEAR), -1)


def _read_csv(path: Path) -> pd.DataFrame:
    """All cells as stripped text ('' when blank); a UTF-8 file with or without BOM, else Windows-1252."""
    options = {"dtype": str, "keep_default_na": False, "skip_blank_lines": False}
    try:
        if b"\x00" in path.read_bytes()[:65536]:  # UTF-16, a spreadsheet or a zip: pandas would read garbage
            raise SSDA903Error(f"{path.name}: not a readable CSV file (expected text in UTF-8 or Windows-1252)")
        try:
            frame = pd.read_csv(path, encoding="utf-8-sig", **options)
        except UnicodeDecodeError:
            frame = pd.read_csv(path, encoding="cp1252", **options)
    except pd.errors.EmptyDataError:
        raise SSDA903Error(f"{path.name}: the file is empty; expected a header line naming the columns") from None
    except OSError as exc:
        raise SSDA903Error(f"{path.name}: cannot be read ({exc.strerror or 'input/output error'})") from None
    except ValueError as exc:  # pandas' parser errors and undecodable bytes
        raise SSDA903Error(f"{path.name}: not a readable CSV file ({_csv_problem(exc)})") from None
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return frame.apply(lambda column: column.fillna("").astype(str).str.strip())


def _csv_problem(exc: ValueError) -> str:
    """What is wrong, with a row number where pandas gives one; never pandas' own text, which can quote a cell."""
    if isinstance(exc, UnicodeDecodeError):
        return "expected text in UTF-8 or Windows-1252"
    fields = _FIELDS_ERROR.search(str(exc))
    if fields:
        expected, line, seen = fields.groups()
        return f"row {line} has {seen} fields, expected {expected} as in the header line"
    return "expected comma-separated text with a header line"


def _table_kind(name: str, columns: list[str]) -> str | None:
    """Which SSDA903 table a file holds: from its columns first, then from its name."""
    present = set(columns)
    if "DECOM" in present:
        return "episodes"
    if "DUC" in present:
        return "uasc"
    if present & {"DOB", "SEX"}:
        return "header"
    return next((kind for kind in TABLES if kind in name.lower()), None)


def _load(path: Path, index: int, report: QualityReport) -> _Table | None:
    frame = _read_csv(path)
    kind = _table_kind(path.name, list(frame.columns))
    nonblank = frame.ne("").any(axis=1)
    if kind is None:
        if "CHILD" in frame.columns:
            raise SSDA903Error(
                f"{path.name}: has a CHILD column but no DECOM, DUC, DOB or SEX column, so it is not recognisable "
                "as an SSDA903 header, episodes or UASC table"
            )
        report.add("unrecognised_file", int(nonblank.sum()), "dropped", "not an SSDA903 table: ignored", path.name)
        return None
    missing = [c for c in TABLES[kind] if c not in frame.columns]
    if missing:
        hint = _missing_hint(list(frame.columns)) if len(missing) == len(TABLES[kind]) else ""
        raise SSDA903Error(
            f"{path.name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hint}; "
            f"an SSDA903 {kind} table needs {', '.join(TABLES[kind])}"
        )
    frame = frame.assign(row=frame.index + 2, file=path.name, file_index=index)[nonblank]
    frame["year"] = _row_years(frame, path.name)
    frame["year_end"] = _year_ends(frame)
    report.files[path.name] = kind
    report.file_rows[path.name] = len(frame)
    report.rows_read[kind] = report.rows_read.get(kind, 0) + len(frame)
    return _Table(path.name, kind, frame.reset_index(drop=True))


def _missing_hint(columns: list[str]) -> str:
    """Why a file has none of its table's columns: another separator, or no header line (data in its place)."""
    if len(columns) == 1 and any(separator in columns[0] for separator in ";\t|"):
        return " (is the file separated by semicolons, tabs or bars instead of commas?)"
    return " (is the header line missing?)"


def _row_years(frame: pd.DataFrame, name: str) -> pd.Series:
    """Each row's return year: YEAR when given (its first 4 digits), else the file name's, else -1."""
    default = _file_year(name)
    if "YEAR" not in frame.columns:
        return pd.Series(default, index=frame.index, dtype="int64")
    text = frame["YEAR"].str.extract(_YEAR_VALUE, expand=False)
    years = text.fillna(str(default)).astype("int64")
    bad = frame["YEAR"].ne("") & (text.isna() | ~years.between(FIRST_YEAR, LAST_YEAR))
    _fail_if(bad, frame, "YEAR", f"a return year from {FIRST_YEAR} to {LAST_YEAR} such as 2019 or 2019/20")
    return years


def _year_ends(frame: pd.DataFrame) -> pd.Series:
    """31 March at the end of each row's YEAR (2019: 31 March 2019; 2019/20: 31 March 2020); NaT without a YEAR."""
    if "YEAR" not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    labelled = frame["YEAR"].ne("")
    end_year = frame["year"] + frame["YEAR"].str.fullmatch(_YEAR_SPAN.pattern).astype(int)
    ends = [pd.Timestamp(year, 3, 31) if known else pd.NaT for year, known in zip(end_year, labelled, strict=True)]
    return pd.Series(ends, index=frame.index, dtype="datetime64[ns]")


def _read_folder(folder: Path, report: QualityReport) -> list[_Table]:
    if not folder.is_dir():
        raise SSDA903Error(f"{folder}: not a folder; expected a folder of SSDA903 CSV files")
    try:
        paths = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"]
    except OSError as exc:
        raise SSDA903Error(f"{folder}: cannot list the folder ({exc.strerror or 'input/output error'})") from None
    paths.sort(key=lambda p: (_file_year(p.name), p.name))
    if not paths:
        raise SSDA903Error(
            f"{folder}: no CSV files; expected SSDA903 tables such as 2019-header.csv, 2019-episodes.csv and "
            "2019-uasc.csv, or header.csv, episodes.csv and uasc.csv"
        )
    tables = [table for i, path in enumerate(paths) if (table := _load(path, i, report)) is not None]
    for kind in ("episodes", "header"):
        if not any(t.kind == kind for t in tables):
            raise SSDA903Error(f"{folder}: no {kind} table; expected a CSV file with columns {', '.join(TABLES[kind])}")
    return tables


def _authorities(tables: list[_Table], la: str | None, folder: Path, report: QualityReport) -> list[_Table]:
    """One authority's rows (`la` a code), every authority's pooled (`la` "all"), or the one the returns hold."""
    if la is None:
        _check_one_la(tables, folder)
        return tables
    if la.strip().casefold() == POOLED:
        return [_pooled(table) for table in tables]
    return _keep_la(tables, la, report)


def _require_la_column(table: _Table, why: str) -> None:
    if "LA" not in table.frame.columns:
        raise SSDA903Error(f"{table.name}: no LA column; needed to {why}")


def _pooled(table: _Table) -> _Table:
    """Every row kept, its CHILD made unique across authorities: the same CHILD in two LAs is two children.

    The key is the LA's length, the LA and the CHILD ("9:e08000001:1234"), so no two (LA, CHILD) pairs meet;
    a blank CHILD stays blank for the blank-CHILD error.
    """
    _require_la_column(table, "pool the authorities (--la all): each row must say whose child it is")
    frame = table.frame
    _fail_if(
        frame["LA"].eq(""), frame, "LA", "the authority's code on every row when --la all pools them", "LA is blank"
    )
    la = frame["LA"].str.casefold()
    key = la.str.len().astype(str) + ":" + la + ":" + frame["CHILD"]
    return _Table(table.name, table.kind, frame.assign(CHILD=key.mask(frame["CHILD"].eq(""), "")))


def _keep_la(tables: list[_Table], la: str, report: QualityReport) -> list[_Table]:
    """Only the rows of one local authority; every file must say which authority each row belongs to."""
    kept = []
    for table in tables:
        _require_la_column(table, f"keep only the rows of LA {la!r}")
        mine = table.frame["LA"].str.casefold().eq(la.strip().casefold())
        report.add(
            "other_la", int((~mine).sum()), "dropped", f"row of another local authority (LA is not {la})", table.name
        )
        kept.append(_Table(table.name, table.kind, table.frame[mine].reset_index(drop=True)))
    if not any(len(t.frame) for t in kept if t.kind == "episodes"):
        names = ", ".join(t.name for t in kept if t.kind == "episodes")
        raise SSDA903Error(f"{names}: LA {la!r} not found in the LA column of any episodes file")
    return kept


def _check_one_la(tables: list[_Table], folder: Path) -> None:
    """Without `la`, the LA columns (where there are any) must all name the same authority."""
    seen: set[str] = set()
    for table in tables:
        if "LA" in table.frame.columns:
            seen |= set(table.frame["LA"].str.casefold()) - {""}
    if len(seen) > 1:
        raise SSDA903Error(
            f"{folder}, column LA: rows of {len(seen)} local authorities in the returns ({_la_list(seen)}); expected "
            f"one authority's returns, --la CODE to keep one of them, or --la {POOLED} to pool them"
        )


def _la_list(values: set[str]) -> str:
    """The authorities' codes; a value not shaped like a code is only counted (it could be any cell)."""
    codes = sorted(value.upper() for value in values if _LA_CODE.fullmatch(value))
    others = len(values) - len(codes)
    if not others:
        return ", ".join(codes)
    counted = (
        f"{others} value{'s' if others > 1 else ''} not shaped like an LA code such as E06000049 or 895, not shown"
    )
    return ", ".join([*codes, counted])


# ---------------------------------------------------------------------------------------------------------
# Validation


def _fail_if(bad: pd.Series, frame: pd.DataFrame, column: str, expected: str, problem: str = "") -> None:
    """Raise naming the first bad row (and how many more) without showing any value."""
    if bad.any():
        rows = frame.loc[bad, "row"].tolist()
        what = problem or f"could not read {column}"
        raise SSDA903Error(f"{where(frame['file'].iloc[0], rows, column)}: {what}; expected {expected}")


def _dates(frame: pd.DataFrame, column: str, required: bool) -> tuple[pd.Series, pd.Series]:
    """Parse one date column (dd/mm/YYYY or ISO); blank is NaT unless required.

    Returns the dates and where a readable date lies outside its return (see the module docstring); those
    dates are NaT, so no caller can use one by mistake.
    """
    text = frame[column]
    uk = text.where(text.str.fullmatch(_UK_DATE.pattern))
    iso = text.where(text.str.fullmatch(_ISO_DATE.pattern)).str[:10]
    parsed = pd.to_datetime(uk, format="%d/%m/%Y", errors="coerce").fillna(
        pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    )
    blank = text.eq("")
    if required:
        _fail_if(blank, frame, column, DATE_FORMATS, f"{column} is blank")
    _fail_if(~blank & parsed.isna(), frame, column, DATE_FORMATS)
    outside = parsed.notna() & ((parsed < EARLIEST) | (parsed > _last_days(frame)))
    return parsed.mask(outside).astype("datetime64[ns]"), outside


def _last_days(frame: pd.DataFrame) -> pd.Series:
    """The last day each row's return can hold: 1 April after the year its label can end in, else today."""
    today = pd.Timestamp.today().normalize()
    last = [pd.Timestamp(year + 1, 4, 1) if year > 0 else today for year in frame["year"]]
    return pd.Series(last, index=frame.index, dtype="datetime64[ns]")


def _require(frame: pd.DataFrame, column: str, what: str) -> None:
    _fail_if(frame[column].eq(""), frame, column, what, f"{column} is blank")


def _blank_unknown(
    frame: pd.DataFrame, column: str, allowed: frozenset[str], rule: str, report: QualityReport, reason: str
) -> pd.Series:
    """Codes outside `allowed` become '' (counted): the row is still a usable placement without them."""
    unknown = ~frame[column].isin(allowed)
    report.add(rule, int(unknown.sum()), "changed", reason, frame["file"].iloc[0] if len(frame) else "")
    return frame[column].mask(unknown, "")


def _placement_change_reason(frame: pd.DataFrame, report: QualityReport) -> pd.Series:
    """REASON_PLACE_CHANGE where the file has it (an optional column: blank where it has not); unknown codes
    become '' (counted), so a placement's end is then not classed planned or unplanned."""
    if "REASON_PLACE_CHANGE" not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    given = frame["REASON_PLACE_CHANGE"].ne("")
    unknown = given & ~frame["REASON_PLACE_CHANGE"].isin(PLACEMENT_CHANGE_REASONS)
    report.add(
        "unknown_reason_place_change",
        int(unknown.sum()),
        "changed",
        f"REASON_PLACE_CHANGE not one of {_codes(PLACEMENT_CHANGE_REASONS)}: set to ''",
        frame["file"].iloc[0] if len(frame) else "",
    )
    return frame["REASON_PLACE_CHANGE"].mask(unknown, "")


def _postcode(frame: pd.DataFrame, column: str) -> pd.Series:
    """HOME_POST or PL_POST where the file has it, upper case without spaces ('' where blank or absent). Read
    only to tell which children arrived together (arrival_groups) and how far from home they were placed
    (_with_distances): both are dropped before anything leaves the reader."""
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].str.upper().str.replace(" ", "", regex=False)


def _with_distances(episodes: pd.DataFrame, postcodes: PostcodeLookup | None, report: QualityReport) -> pd.DataFrame:
    """Whether each placement is within 20 miles of home, from the two postcodes and the lookup (NaN without
    one); placements whose distance cannot be told are counted, not dropped."""
    if postcodes is None:
        return episodes.assign(within_20_miles=float("nan"))
    within = postcodes.within(episodes["home"], episodes["placed"])
    report.add(
        "distance_unknown",
        int(within.isna().sum()),
        "flagged",
        f"HOME_POST or PL_POST blank, or not located by {postcodes.source}: distance unknown, left out of "
        "each pool's share within 20 miles",
    )
    return episodes.assign(within_20_miles=within)


def _arrival_groups(episodes: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Periods of care starting on the same day from the same home postcode, one row per group: its start and
    its number of children. Periods whose first episode has no postcode are groups of one; asylum-seeking
    children's are left out (the scenario's UASC stream arrives alone). No postcode or child leaves this
    function: the groups are numbered by pandas, not named."""
    periods = periods[~periods["uasc"].astype(bool)]
    first = episodes.sort_values(["period", "start"], kind="stable").drop_duplicates("period")
    home = periods["period"].map(first.set_index("period")["home"]).fillna("")
    known = home.ne("")
    keys = pd.DataFrame({"start": periods["start"], "home": home.where(known, periods["period"].astype(str))})
    sizes = keys.groupby(["start", "home"], sort=True).size()
    return pd.DataFrame({"start": sizes.index.get_level_values("start"), "children": sizes.to_numpy()})


def _codes(allowed: frozenset[str] | dict[str, str]) -> str:
    return ", ".join(sorted(allowed))


def _header_rows(table: _Table, report: QualityReport) -> pd.DataFrame:
    """One header file validated; a row whose DOB lies outside its return is dropped (counted)."""
    frame = table.frame
    if frame.empty:
        return pd.DataFrame(columns=HEADER_COLUMNS)
    _require(frame, "CHILD", "the child's SSDA903 identifier")
    dob, outside = _dates(frame, "DOB", required=True)
    why = "header row dropped (another return's header row, if any, gives the child's DOB)"
    report.add("dob_outside_return", int(outside.sum()), "dropped", f"DOB {OUTSIDE}: {why}", table.name)
    rows = pd.DataFrame(
        {
            "child": frame["CHILD"],
            "dob": dob,
            "sex_code": frame["SEX"],
            "ethnic": _ethnic_groups(table, report),
            **{c: frame[c] for c in ("file", "row", "year", "file_index")},
        }
    )
    return rows[~outside]


def _ethnic_groups(table: _Table, report: QualityReport) -> pd.Series | str:
    """Each row's DfE ethnic group (see filters.py); a blank or unknown code counted; NO_ETHNIC_COLUMN without one."""
    if "ETHNIC" not in table.frame.columns:
        return NO_ETHNIC_COLUMN
    groups, unknown = ethnic_groups(table.frame["ETHNIC"])
    reason = "ETHNIC blank or not starting with W, M, A, B, C, O, R or N: group 'refused or not obtained'"
    report.add("unknown_ethnic", int(unknown.sum()), "changed", reason, table.name)
    return groups


def _starts_inside(frame: pd.DataFrame, report: QualityReport, file: str) -> tuple[pd.DataFrame, pd.Series]:
    """The rows whose DECOM lies inside their return, and those DECOMs: an episode the return cannot hold is
    dropped (counted), since its start is all a placement is built on."""
    start, outside = _dates(frame, "DECOM", required=True)
    report.add("decom_outside_return", int(outside.sum()), "dropped", f"DECOM {OUTSIDE}: episode dropped", file)
    return frame[~outside], start[~outside]


def _ends_inside(frame: pd.DataFrame, report: QualityReport, file: str) -> tuple[pd.Series, pd.Series]:
    """DEC and REC, with a DEC outside its return cleared (and its REC): the episode is open at the return's end.

    Why open and not dropped: the DECOM is good, so the placement happened; what the return can vouch for is
    that it had not ended by the return's end. A later return's copy with a real DEC then wins (rule 1).
    """
    end, outside = _dates(frame, "DEC", required=False)
    why = "taken as open at the return's end, DEC and REC cleared"
    report.add("dec_outside_return", int(outside.sum()), "changed", f"DEC {OUTSIDE}: {why}", file)
    return end, frame["REC"].mask(outside, "")


def _episode_rows(table: _Table, report: QualityReport) -> pd.DataFrame:
    """One episodes file validated: errors for what cannot be fixed, counted fixes for the rest."""
    frame = table.frame
    if frame.empty:
        return pd.DataFrame()
    _require(frame, "CHILD", "the child's SSDA903 identifier")
    frame, start = _starts_inside(frame, report, table.name)
    end, rec = _ends_inside(frame, report, table.name)
    _fail_if(end < start, frame, "DEC", "a DEC on or after DECOM", "DEC is before DECOM")
    _fail_if(rec.ne("") & ~rec.isin(EXIT_CODES), frame, "REC", f"one of {_codes(EXIT_CODES)}", "unknown REC code")
    _fail_if(rec.eq("") & end.notna(), frame, "REC", "a REC code when DEC is given", "REC is blank")
    episodes = pd.DataFrame(
        {
            "child": frame["CHILD"],
            "start": start,
            "end": end,
            "rne": _blank_unknown(
                frame,
                "RNE",
                RNE_CODES,
                "unknown_rne",
                report,
                f"RNE blank or not one of {_codes(RNE_CODES)}: set to ''",
            ),
            "legal_status": _blank_unknown(
                frame,
                "LS",
                LEGAL_STATUSES,
                "unknown_legal_status",
                report,
                f"LS blank or not one of {_codes(LEGAL_STATUSES)}: set to ''",
            ),
            "cin": _blank_unknown(
                frame,
                "CIN",
                CATEGORIES_OF_NEED,
                "unknown_cin",
                report,
                f"CIN blank or not one of {_codes(CATEGORIES_OF_NEED)}: set to ''",
            ),
            "place": frame["PLACE"],
            "provider": _blank_unknown(
                frame,
                "PLACE_PROVIDER",
                PROVIDERS,
                "unknown_provider",
                report,
                f"PLACE_PROVIDER blank or not one of {_codes(PROVIDERS)}: set to '' (counted as not in-house)",
            ),
            "rec": rec,
            "reason": _placement_change_reason(frame, report),
            "home": _postcode(frame, "HOME_POST"),
            "placed": _postcode(frame, "PL_POST"),
            **{c: frame[c] for c in ("file", "row", "year", "file_index", "year_end")},
        }
    )
    unknown_place = ~episodes["place"].isin(PLACE_TO_NEED)
    report.add(
        "unknown_place",
        int(unknown_place.sum()),
        "dropped",
        f"PLACE blank or not one of {_codes(PLACE_TO_NEED)}: no placement need",
        table.name,
    )
    return episodes[~unknown_place]


def _uasc_children(tables: list[_Table]) -> pd.DataFrame:
    frames = []
    for table in tables:
        if table.kind == "uasc" and not table.frame.empty:
            _require(table.frame, "CHILD", "the child's SSDA903 identifier")
            frames.append(table.frame[["CHILD", "file"]].rename(columns={"CHILD": "child"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["child", "file"])


# ---------------------------------------------------------------------------------------------------------
# Children


def _children(header: pd.DataFrame, uasc: pd.DataFrame, report: QualityReport) -> pd.DataFrame:
    """One row per child (latest return's DOB and SEX); uasc when the child is in any UASC table."""
    ordered = header.sort_values(["child", *cleaning.RETURN_ORDER], kind="stable")
    differing = ordered.groupby("child")[["dob", "sex_code"]].nunique().gt(1).any(axis=1)
    report.add(
        "header_conflict",
        int(differing.sum()),
        "changed",
        "child's DOB or SEX differs between header rows: the latest return's values kept",
    )
    latest = ordered.drop_duplicates("child", keep="last")
    sex = latest["sex_code"].map(SEX_CODES)
    for file, n in latest.loc[sex.isna(), "file"].value_counts(sort=False).items():
        report.add("unknown_sex", int(n), "changed", "SEX is not 1 (male) or 2 (female): set to unknown", file)
    orphans = uasc[~uasc["child"].isin(latest["child"])]
    for file, n in orphans["file"].value_counts(sort=False).items():
        report.add("uasc_not_in_header", int(n), "dropped", "UASC row for a child in no header table", file)
    return pd.DataFrame(
        {
            "child": latest["child"],
            "dob": latest["dob"],
            "sex": sex.fillna("unknown"),
            "uasc": latest["child"].isin(uasc["child"]),
            "ethnicity": latest["ethnic"],
        }
    ).reset_index(drop=True)


def _drop_children_without_header(
    episodes: pd.DataFrame, children: pd.DataFrame, report: QualityReport
) -> pd.DataFrame:
    orphan = ~episodes["child"].isin(children["child"])
    for file, n in episodes.loc[orphan, "file"].value_counts(sort=False).items():
        report.add(
            "child_not_in_header", int(n), "dropped", "episode of a child in no header table (no date of birth)", file
        )
    return episodes[~orphan].reset_index(drop=True)


def _check_started_after_birth(episodes: pd.DataFrame, children: pd.DataFrame) -> None:
    """An episode cannot start before birth; the first file with such rows is named."""
    dob = episodes["child"].map(children.set_index("child")["dob"])
    early = episodes["start"] < dob
    if early.any():
        rows = episodes[early & episodes["file"].eq(episodes.loc[early, "file"].iloc[0])]
        expected = "a DECOM on or after the child's DOB"
        _fail_if(rows["row"].notna(), rows, "DECOM", expected, "DECOM is before the child's DOB in the header")


# ---------------------------------------------------------------------------------------------------------
# Cleaning


def _duplicates_by_file(before: pd.DataFrame, after: pd.DataFrame) -> pd.Series:
    """Rows dropped as duplicates, counted by (file dropped from, file whose copy was kept)."""
    keys = ["file_index", "row"]
    dropped = before.merge(after[keys], on=keys, how="left", indicator=True).query("_merge == 'left_only'")
    kept = after[["child", "start", "file"]].rename(columns={"file": "kept"})
    pairs = dropped[["child", "start", "file", "file_index"]].merge(kept, on=["child", "start"], how="left")
    return pairs.groupby(["file", "kept"]).size()


def _clean(episodes: pd.DataFrame, extract: pd.Timestamp, report: QualityReport, short_breaks: str) -> pd.DataFrame:
    """Cleaning rules 1-6 of cleaning.py, each counted in the report (periods come after)."""
    before = episodes
    episodes, _ = cleaning.deduplicate_episodes(episodes)
    for (file, kept), n in _duplicates_by_file(before, episodes).items():
        report.add(
            "duplicate_episodes",
            int(n),
            "dropped",
            f"same episode (child and DECOM) also in {kept}, whose copy was kept (the copy with a DEC, "
            "else the latest return's)",
            file,
        )
    episodes = _run(episodes, _dates_steps(extract), report)
    if short_breaks == "exclude":
        episodes = _bridge_short_breaks(episodes, report)
    return _run(episodes, MERGE_STEPS, report)


Step = tuple[Callable[[pd.DataFrame], tuple[pd.DataFrame, int]], str, str, str]  # rule, action, reason
MERGE_STEPS: list[Step] = [
    (
        cleaning.merge_legal_status_changes,
        "legal_status_change",
        "merged",
        "RNE L at the same PLACE and PLACE_PROVIDER: the placement continues, joined to the previous episode",
    ),
    (
        cleaning.reclassify_legal_status_moves,
        "rne_l_with_move",
        "changed",
        "RNE L but PLACE or PLACE_PROVIDER changed: kept as a new placement (treated as RNE P)",
    ),
    (
        cleaning.merge_same_placement,
        "same_placement",
        "merged",
        "follows on at the same PLACE and PLACE_PROVIDER: joined to the previous episode as one placement",
    ),
]


def _dates_steps(extract: pd.Timestamp) -> list[Step]:
    return [
        (
            cleaning.clear_rec_of_open_episodes,
            "rec_on_open_episode",
            "changed",
            "REC given but no DEC: the episode has not ceased, REC cleared",
        ),
        (
            lambda e: cleaning.drop_after_extract_date(e, extract),
            "after_extract_date",
            "dropped",
            "episode starts after the extract date",
        ),
        (
            lambda e: cleaning.open_at_extract_date(e, extract),
            "open_at_extract_date",
            "changed",
            "episode ends after the extract date: open on it, DEC and REC cleared",
        ),
        (
            cleaning.resolve_overlaps,
            "overlapping_episodes",
            "changed",
            "episode ends after (or is open when) the child's next episode starts: ended at that start",
        ),
    ]


def _run(episodes: pd.DataFrame, steps: list[Step], report: QualityReport) -> pd.DataFrame:
    for step, rule, action, reason in steps:
        episodes, n = step(episodes)
        report.add(rule, n, action, reason)
    return episodes


def _bridge_short_breaks(episodes: pd.DataFrame, report: QualityReport) -> pd.DataFrame:
    """Rule 5 (--short-breaks exclude): short breaks removed, the periods around them kept whole, all counted."""
    episodes, counts = cleaning.bridge_short_breaks(episodes)
    not_care = "not care in the DfE's looked-after counts (--short-breaks exclude)"
    report.add("short_breaks", counts.episodes, "dropped", f"legal status V3/V4 (short break): {not_care}")
    report.add(
        "short_break_periods",
        counts.periods,
        "dropped",
        "period of care made only of short breaks: no period of care (its episodes are counted in short_breaks)",
    )
    report.add(
        "short_break_bridged",
        counts.bridged,
        "changed",
        "short breaks between two episodes of one period of care: one period across them, their days not care",
    )
    report.add(
        "short_break_start",
        counts.starts,
        "changed",
        "period of care that began with short breaks: starts at its first other episode, RNE set to S",
    )
    report.add(
        "short_break_exit",
        counts.exits,
        "changed",
        "period of care that ended with short breaks: ends at its last other episode, with the REC they ended with",
    )
    return episodes


def _number_children(
    episodes: pd.DataFrame, children: pd.DataFrame, report: QualityReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace CHILD values by ids 0..n-1 in order of first placement start; drop children with no episode."""
    first = episodes.groupby("child")["start"].min().sort_index().sort_values(kind="stable")
    ids = pd.Series(range(len(first)), index=first.index, dtype="int64")
    kept = children[children["child"].isin(ids.index)]
    report.add(
        "child_without_episodes",
        len(children) - len(kept),
        "dropped",
        "child in a header table with no episode left after cleaning (e.g. only short breaks)",
    )
    kept = kept.assign(child=kept["child"].map(ids)).sort_values("child").reset_index(drop=True)
    return episodes.assign(child=episodes["child"].map(ids)), kept


def _periods(
    episodes: pd.DataFrame, children: pd.DataFrame, report: QualityReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    episodes, not_s = cleaning.assign_periods(episodes)
    report.add(
        "period_without_s",
        not_s,
        "flagged",
        "period of care whose first episode is not RNE S (care began before the earliest return, or after "
        "a gap): its start is that episode's DECOM",
    )
    periods, dangling = cleaning.summarise_periods(episodes, children)
    report.add(
        "x1_without_next",
        dangling,
        "changed",
        "period's last episode ended with REC X1 but no episode follows: period censored at that end",
    )
    return episodes, periods


def _final_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    out = episodes.assign(
        need=episodes["place"].map(PLACE_TO_NEED), in_house=episodes["provider"].isin(IN_HOUSE_PROVIDERS)
    )
    out = out.sort_values(["child", "start"], kind="stable").reset_index(drop=True)
    return out[EPISODE_COLUMNS].astype({"child": "int64", "period": "int64"})


# ---------------------------------------------------------------------------------------------------------
# Entry point


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty file adds nothing); the first frame's columns when all are empty."""
    full = [f for f in frames if not f.empty]
    return pd.concat(full, ignore_index=True) if full else (frames[0] if frames else pd.DataFrame())


def read_ssda903(
    folder: Path | str,
    la: str | None = None,
    extract_date: dt.date | None = None,
    short_breaks: str = "exclude",
    postcodes: PostcodeLookup | None = None,
) -> CareHistory:
    """Read, validate and clean a folder of SSDA903 returns (see the module docstring for every decision).

    `la`: an authority's code keeps its rows; "all" pools every authority's children, keyed by (LA, CHILD).
    `short_breaks`: "exclude" (default) removes short breaks without splitting periods; "include" keeps them
    as care (cleaning.py, rule 5). `postcodes`: a lookup (distances.read_postcode_lookup) to tell which
    placements are within 20 miles of home.
    """
    if short_breaks not in SHORT_BREAK_RULES:
        raise SSDA903Error(f"short breaks: expected one of {', '.join(SHORT_BREAK_RULES)}, got {short_breaks!r}")
    folder = Path(folder)
    report = QualityReport()
    tables = _authorities(_read_folder(folder, report), la, folder, report)
    header = _concat([_header_rows(t, report) for t in tables if t.kind == "header"])
    episodes = _concat([_episode_rows(t, report) for t in tables if t.kind == "episodes"])
    if episodes.empty:
        if not report.rows_read.get("episodes"):
            raise SSDA903Error(f"{folder}: no episode rows to read; the episodes tables are empty")
        raise SSDA903Error(f"{folder}: no episode rows left to read ({report.dropped_text()})")
    children = _children(header, _uasc_children(tables), report)
    episodes = _drop_children_without_header(episodes, children, report)
    if episodes.empty:
        raise SSDA903Error(f"{folder}: no episode belongs to a child in a header table ({report.dropped_text()})")
    _check_started_after_birth(episodes, children)
    extract = pd.Timestamp(extract_date).normalize() if extract_date else _extract_date(episodes)
    report.extract_date = extract.date().isoformat()
    episodes = _clean(episodes, extract, report, short_breaks)
    if episodes.empty:
        raise SSDA903Error(f"{folder}: no episode left after cleaning ({report.dropped_text()})")
    episodes, children = _number_children(episodes, children, report)
    episodes, periods = _periods(episodes, children, report)
    report.children, report.episodes, report.periods = len(children), len(episodes), len(periods)
    groups = _arrival_groups(episodes, periods)
    episodes = _with_distances(episodes, postcodes, report)
    return CareHistory(extract.date(), children, _final_episodes(episodes), periods, report, groups)


def _extract_date(episodes: pd.DataFrame) -> pd.Timestamp:
    """The end of the latest return year a YEAR names, or the latest DECOM or DEC of rows without a YEAR."""
    labelled = episodes["year_end"].notna()
    unlabelled = episodes[~labelled]
    candidates = pd.concat([episodes.loc[labelled, "year_end"], unlabelled["start"], unlabelled["end"]])
    return candidates.max()
