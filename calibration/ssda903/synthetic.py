"""Synthetic SSDA903 returns: simulate a scenario and write its children's journeys as yearly return tables.

The files look like an authority's own children-looked-after returns (`YYYY-header.csv`, `YYYY-episodes.csv`,
`YYYY-uasc.csv`, dates dd/mm/YYYY), so the reader, the cleaner and the estimation can be tested end to end,
and a fit can be checked against the parameters that made the data, with no real child in it. Identifiers,
postcodes, ethnicity and URNs are random draws; DOB, sex, UASC status, category of need, placements and exit
routes come from the simulation.

Mapping of one replication (`sim.engine.model.ReplicationRecord`) onto the return:

- one episode per in-care placement (kind 0; Staying Put and Staying Close are after care and not written);
  RNE "S" opens the period of care, "P" is a placement change (REASON_PLACE_CHANGE "CARPL");
- LS "V2" when the child was 16 or over at the start of the period of care (the horizon start for children
  already in care then), else "C2": one legal status for the whole period, so no "L" episodes;
- PLACE and PLACE_PROVIDER from `codes.NEED_TO_PLACE[(kind, pool in-house)]`, where kind is the placement need
  if the pool serves it, else the first need the pool serves (a child needing fostering placed in a children's
  home by a fallback stands in the return as K2, as a real return would show it);
- REC "X1" when the period continues in another placement, `codes.ROUTE_TO_REC[exit route]` on the last
  episode, except "E17" (aged 18 and remained with current carers, inc. Staying Put) for a young person the
  simulation kept Staying Put with their carers; blank while the period is open;
- with `short_break_share` above 0 (default 0: none), short breaks inside periods: at that share of the
  moves between two placements, the last 1-7 days of the earlier placement (never all of it) become a short
  break, an episode with LS V3 or V4 at K2/PR1 (a short-break unit), RNE "T", REC "X1", and the placement
  after it opens with RNE "T" (legal status and placement both change back). Their draws come from a
  generator of their own, so identifiers, postcodes and URNs are the same with or without them;
- the simulator has no re-entry (each entry is a new child), so every CHILD has one period of care.

Days are floored to whole days from the horizon start. Consecutive episodes share the instant of the move,
so the next DECOM always equals the previous DEC, and DEC >= DECOM.

Years: the return for year YYYY covers 1 April YYYY-1 to 31 March YYYY and holds every child looked after on
any day of it, with every episode overlapping it (episodes repeat across years, as in real returns). An
episode still open on 31 March has blank DEC and REC in that year's file and gets its end in a later one. Only
years whose 31 March falls inside the horizon are written; the last file is therefore censored at its own
year end, which is the horizon end when the horizon ends on 1 April.

Children already in care at the horizon start (`cohort.starting`) have no known entry date. Recommended:
simulate a scenario with an empty `start_population` and a warm-up of a few years (extend the horizon
backwards), and write only the years from `first_year` (default: the first full year after the start), by which
time most written children entered inside the simulation. If starting children are still in care in a written
year, their first episode is written from the horizon start with RNE "S" and a CIN drawn from the scenario's
need_mix: their true start is unknown (left-censored), and the summary counts them in `starting_children`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.ssda903.codes import CONTINUES, NEED_TO_PLACE, ROUTE_TO_REC, SHORT_BREAK_STATUSES, START_OF_PERIOD
from sim.engine.demand import NO_CIN
from sim.engine.model import IN_CARE, PLACEMENT_COLUMNS, STAYING_PUT, simulate_replication
from sim.engine.scenario import Scenario
from sim.engine.vocabulary import CATEGORIES_OF_NEED, DAYS_PER_YEAR, EXIT_ROUTES, PLACEMENT_NEEDS
from sim.present.output_folders import check_out_folder, replaced_folder

HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_COLUMNS = (
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
)
UASC_COLUMNS = ("CHILD", "SEX", "DOB", "DUC")
TABLES = ("header", "episodes", "uasc")

PLACEMENT_CHANGE = "P"
LEGAL_STATUS_AND_PLACEMENT_CHANGE = "T"
STAYED_WITH_CARERS = "E17"  # aged 18 and remained with current carers (inc. Staying Put)
SHORT_BREAK_PLACE = ("K2", "PR1")  # a short-break unit of the authority's own
SHORT_BREAK_DAYS = 7  # the longest short break written
PLACEMENT_CHANGE_REASON = "CARPL"  # change to, or implementation of, the care plan
LEGAL_STATUS_CARE_ORDER = "C2"
LEGAL_STATUS_ACCOMMODATED = "V2"
ACCOMMODATED_FROM_AGE = 16.0
SEX_CODE = {True: "1", False: "2"}

# Ethnicity codes (DfE) with rough weights: the draw is decoration, not a model of any population.
ETHNIC_CODES = ("WBRI", "WIRI", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH")
ETHNIC_CODES += ("BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT")
ETHNIC_WEIGHTS = (60, 1, 5, 1, 3, 1, 2, 2, 1, 2, 1, 1, 1, 3, 1, 1, 2, 1, 1)
LETTERS = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
GENERATOR_TAG = 903  # mixed into the seed so identifiers never share a stream with the simulation

_COL = {name: i for i, name in enumerate(PLACEMENT_COLUMNS)}


@dataclass
class SyntheticSummary:
    """What `write_synthetic_ssda903` wrote."""

    out_dir: Path
    files: list[Path]
    years: list[int]
    children: int  # distinct children in the written files
    episodes: int  # distinct episodes (an episode standing in two years counts once)
    episode_rows: int  # rows over all episodes files
    periods: int  # periods of care in the files (one per child: the simulator has no re-entry)
    starting_children: int  # written children in care at the horizon start: their true start is unknown
    short_breaks: int = 0  # distinct short-break episodes (V3/V4) written inside periods
    notes: list[str] = field(default_factory=list)


@dataclass
class _Episode:
    child: int  # index in the cohort
    decom: int  # whole days from the horizon start
    dec: int | None  # None while open at the horizon end
    rne: str
    ls: str
    cin: str
    place: str
    provider: str
    rec: str  # reason ceased, shown only with DEC
    reason_change: str
    pl_post: str
    urn: str


@dataclass
class _Identities:
    """Random identifiers of every child of the cohort (index = child)."""

    child: list[str]
    upn: list[str]
    ethnic: list[str]
    home_post: list[str]
    cin: np.ndarray  # category of need drawn from need_mix, used for children without one


def write_synthetic_ssda903(
    scenario: Scenario,
    out_dir: Path,
    seed: int,
    replication: int = 0,
    first_year: int | None = None,
    short_break_share: float = 0.0,
) -> SyntheticSummary:
    """Simulate one replication of `scenario` and write it as yearly SSDA903 returns in `out_dir`.

    Writes `YYYY-header.csv`, `YYYY-episodes.csv` and `YYYY-uasc.csv` for each year ending 31 March YYYY inside
    the horizon, from `first_year` (default: the first year starting on or after the horizon start), with a
    short break at `short_break_share` of the moves between placements (see the module docstring).

    Prefer a scenario with an empty start population and a warm-up before `first_year` (see the module
    docstring): children in care at the horizon start have no known entry date, so they are written from the
    horizon start with RNE "S" and counted in `SyntheticSummary.starting_children`.

    Identifiers (CHILD, UPN, postcodes, URN, ETHNIC) come from a generator of their own,
    `numpy.random.default_rng([seed, replication, 903])`, separate from the simulation's streams: the same
    arguments give byte-identical files, and nothing is read from any real return. Files are written in a
    staging folder that replaces `out_dir` whole at the end, so a failure leaves no partial output; `out_dir`
    must be new, empty or an earlier output of this tool (with its marker file), else InputError before
    anything is simulated: a folder of real returns is never overwritten (see sim.present.output_folders).
    """
    out_dir = Path(out_dir)
    if not 0.0 <= short_break_share <= 1.0:
        raise ValueError(f"short_break_share must be from 0 to 1, got {short_break_share}")
    years = _years(scenario, first_year)
    names = [f"{year}-{table}.csv" for year in years for table in TABLES]
    check_out_folder(out_dir)
    record = simulate_replication(scenario, seed, replication)
    cohort = record.cohort
    identities = _identities(scenario, cohort.size, np.random.default_rng([seed, replication, GENERATOR_TAG]))
    _siblings_share_a_home(identities, cohort)
    episodes = _episodes(scenario, record, identities, np.random.default_rng([seed, replication, GENERATOR_TAG, 1]))
    if short_break_share:
        breaks = np.random.default_rng([seed, replication, GENERATOR_TAG, 2])
        episodes = _with_short_breaks(episodes, short_break_share, breaks)
    start = scenario.horizon.start

    written_children: set[int] = set()
    written_episodes: set[tuple[int, int]] = set()
    rows = 0
    with replaced_folder(out_dir, "synthetic") as temporary:
        for year in years:
            year_start = (dt.date(year - 1, 4, 1) - start).days
            year_end = (dt.date(year, 3, 31) - start).days
            in_year = [e for e in episodes if e.decom <= year_end and (e.dec is None or e.dec >= year_start)]
            children = sorted({e.child for e in in_year})
            episode_rows = [_episode_row(e, identities, start, year_end) for e in in_year]
            header_rows = [_header_row(c, cohort, identities, start) for c in children]
            uasc_rows = [_uasc_row(c, cohort, identities, start) for c in children if cohort.uasc[c]]
            _write(temporary / f"{year}-episodes.csv", EPISODE_COLUMNS, episode_rows)
            _write(temporary / f"{year}-header.csv", HEADER_COLUMNS, header_rows)
            _write(temporary / f"{year}-uasc.csv", UASC_COLUMNS, uasc_rows)
            written_children.update(children)
            written_episodes.update((e.child, e.decom) for e in in_year)
            rows += len(in_year)

    starting = int(np.count_nonzero(cohort.starting[sorted(written_children)])) if written_children else 0
    notes = []
    if starting:
        notes.append(
            f"{starting} children were in care at the horizon start: their first episode is written from "
            f"{_date(start, 0)} with RNE S, but their true start is unknown (simulate with an empty start "
            "population and a warm-up to avoid this)"
        )
    return SyntheticSummary(
        out_dir=out_dir,
        files=[out_dir / name for name in names],
        years=years,
        children=len(written_children),
        episodes=len(written_episodes),
        episode_rows=rows,
        periods=len(written_children),
        starting_children=starting,
        short_breaks=sum(1 for e in episodes if e.ls in SHORT_BREAK_STATUSES and _written(e, written_episodes)),
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# Years


def _years(scenario: Scenario, first_year: int | None) -> list[int]:
    """Years ending 31 March YYYY inside the horizon, from `first_year` on."""
    start, last_day = scenario.horizon.start, scenario.horizon.end - dt.timedelta(days=1)
    last_year = last_day.year if last_day >= dt.date(last_day.year, 3, 31) else last_day.year - 1
    earliest = start.year if start <= dt.date(start.year, 3, 31) else start.year + 1
    if first_year is None:
        first_year = start.year + 1 if start <= dt.date(start.year, 4, 1) else start.year + 2
    elif first_year < earliest:
        raise ValueError(f"first_year {first_year} ends on 31 March {first_year}, before the horizon start {start}")
    if first_year > last_year:
        raise ValueError(
            f"no year ending 31 March from {first_year} on lies inside the horizon ({start} to "
            f"{scenario.horizon.end}): lengthen the horizon or choose an earlier first_year"
        )
    return list(range(first_year, last_year + 1))


# ---------------------------------------------------------------------------------------------
# Episodes from the simulated record


def _identities(scenario: Scenario, n: int, generator: np.random.Generator) -> _Identities:
    """Draws for every child, written or not, in a fixed order: identifiers do not depend on the years."""
    ids = generator.choice(900_000, size=n, replace=False) + 100_000
    letters = _letters(generator, n)
    numbers = generator.integers(0, 10**12, size=n, dtype=np.int64)
    weights = np.array(ETHNIC_WEIGHTS, dtype=float)
    ethnic = generator.choice(len(ETHNIC_CODES), size=n, p=weights / weights.sum())
    home_post = _postcodes(generator, n)
    shares = np.array([scenario.entries.need_mix.get(code, 0.0) for code in CATEGORIES_OF_NEED])
    return _Identities(
        child=[str(i) for i in ids],
        upn=[f"{letter}{number:012d}" for letter, number in zip(letters, numbers, strict=True)],
        ethnic=[ETHNIC_CODES[i] for i in ethnic],
        home_post=home_post,
        cin=generator.choice(len(CATEGORIES_OF_NEED), size=n, p=shares / shares.sum()),
    )


def _siblings_share_a_home(identities: _Identities, cohort) -> None:
    """A sibling group's members ([entries.sibling_groups]) take the first member's home postcode: with their
    shared entry day, that is how a reader of the returns can tell they arrived together."""
    group = cohort.sibling_group
    for members in np.split(np.flatnonzero(group >= 0), np.flatnonzero(np.diff(group[group >= 0])) + 1):
        for child in members[1:].tolist():
            identities.home_post[child] = identities.home_post[members[0]]


def _episodes(scenario: Scenario, record, identities: _Identities, generator: np.random.Generator) -> list[_Episode]:
    """Every in-care episode of the replication, in child then time order."""
    cohort = record.cohort
    placements = record.placements
    in_care = placements[placements[:, _COL["kind"]] == IN_CARE]
    in_care = in_care[np.argsort(in_care[:, _COL["child"]], kind="stable")]  # records are in time order
    pl_post = _postcodes(generator, len(in_care))
    urn = generator.integers(1_000_000, 10_000_000, size=len(in_care))
    pools = list(scenario.pools.values())
    children = in_care[:, _COL["child"]].astype(np.int64)
    stayed = set(placements[placements[:, _COL["kind"]] == STAYING_PUT, _COL["child"]].astype(np.int64).tolist())
    episodes: list[_Episode] = []
    legal_status, cin = "", ""
    for row, placement in enumerate(in_care):
        child = int(children[row])
        first = row == 0 or children[row - 1] != child
        last = row + 1 == len(in_care) or children[row + 1] != child
        start, end = float(placement[_COL["start"]]), float(placement[_COL["end"]])
        pool = pools[int(placement[_COL["pool"]])]
        need = PLACEMENT_NEEDS[int(placement[_COL["need"]])]
        place, provider = NEED_TO_PLACE[(need if need in pool.serves else pool.serves[0], pool.in_house)]
        if first:
            period_start = 0.0 if cohort.starting[child] else float(cohort.entry_day[child])
            age = (period_start - float(cohort.birth_day[child])) / DAYS_PER_YEAR
            legal_status = LEGAL_STATUS_ACCOMMODATED if age >= ACCOMMODATED_FROM_AGE else LEGAL_STATUS_CARE_ORDER
            cin_index = int(cohort.cin[child])
            cin = CATEGORIES_OF_NEED[int(identities.cin[child]) if cin_index == NO_CIN else cin_index]
        if math.isinf(end):
            rec = ""
        elif not last:
            rec = CONTINUES
        else:
            route = int(record.exit_route[child])
            if route < 0:
                raise AssertionError(f"child {child}: its last in-care placement ended without an exit route")
            rec = STAYED_WITH_CARERS if child in stayed else ROUTE_TO_REC[EXIT_ROUTES[route]]
        episodes.append(
            _Episode(
                child=child,
                decom=math.floor(start),
                dec=None if math.isinf(end) else math.floor(end),
                rne=START_OF_PERIOD if first else PLACEMENT_CHANGE,
                ls=legal_status,
                cin=cin,
                place=place,
                provider=provider,
                rec=rec,
                reason_change="" if first else PLACEMENT_CHANGE_REASON,
                pl_post=pl_post[row],
                urn=str(urn[row]),
            )
        )
    return episodes


def _with_short_breaks(episodes: list[_Episode], share: float, generator: np.random.Generator) -> list[_Episode]:
    """A short break cut from the end of the placement before `share` of the moves (whole days, at least one
    day of the placement left); the same draws are made for every episode, so each move's fate is its own."""
    out: list[_Episode] = []
    for episode, following in zip(episodes, [*episodes[1:], None], strict=True):
        out.append(episode)
        moves = following is not None and following.child == episode.child and episode.rec == CONTINUES
        draw, days, status = generator.random(), generator.integers(1, SHORT_BREAK_DAYS + 1), generator.integers(2)
        post, urn = _postcodes(generator, 1)[0], generator.integers(1_000_000, 10_000_000)
        length = (episode.dec or 0) - episode.decom
        if not moves or draw >= share or length < 2:
            continue
        days = min(int(days), length - 1)
        episode.dec -= days
        out.append(_short_break(episode, days, sorted(SHORT_BREAK_STATUSES)[int(status)], post, str(urn)))
        following.rne = LEGAL_STATUS_AND_PLACEMENT_CHANGE
    return out


def _short_break(before: _Episode, days: int, status: str, post: str, urn: str) -> _Episode:
    """The short-break episode that follows `before` (already shortened) for `days` days."""
    place, provider = SHORT_BREAK_PLACE
    return _Episode(
        child=before.child,
        decom=before.dec,
        dec=before.dec + days,
        rne=LEGAL_STATUS_AND_PLACEMENT_CHANGE,
        ls=status,
        cin=before.cin,
        place=place,
        provider=provider,
        rec=CONTINUES,
        reason_change=PLACEMENT_CHANGE_REASON,
        pl_post=post,
        urn=urn,
    )


def _written(episode: _Episode, written: set[tuple[int, int]]) -> bool:
    return (episode.child, episode.decom) in written


def _letters(generator: np.random.Generator, n: int) -> np.ndarray:
    return LETTERS[generator.integers(0, len(LETTERS), size=n)]


def _postcodes(generator: np.random.Generator, n: int) -> list[str]:
    """Fake postcodes shaped like "K1 5CB": area letter, district, space, sector digit, two letters."""
    area = _letters(generator, n)
    district = generator.integers(1, 30, size=n)
    sector = generator.integers(0, 10, size=n)
    unit = _letters(generator, 2 * n).reshape(n, 2)
    return [f"{a}{d} {s}{u[0]}{u[1]}" for a, d, s, u in zip(area, district, sector, unit, strict=True)]


# ---------------------------------------------------------------------------------------------
# Rows and files


def _date(start: dt.date, day: float) -> str:
    """The date `day` whole days (floored) after `start`, as dd/mm/YYYY."""
    return (start + dt.timedelta(days=math.floor(day))).strftime("%d/%m/%Y")


def _episode_row(e: _Episode, identities: _Identities, start: dt.date, year_end: int) -> list[str]:
    ended = e.dec is not None and e.dec <= year_end
    return [
        identities.child[e.child],
        _date(start, e.decom),
        e.rne,
        e.ls,
        e.cin,
        e.place,
        e.provider,
        _date(start, e.dec) if ended else "",
        e.rec if ended else "",
        e.reason_change,
        identities.home_post[e.child],
        e.pl_post,
        e.urn,
    ]


def _header_row(child: int, cohort, identities: _Identities, start: dt.date) -> list[str]:
    dob = _date(start, cohort.birth_day[child])
    return [
        identities.child[child],
        SEX_CODE[bool(cohort.male[child])],
        dob,
        identities.ethnic[child],
        identities.upn[child],
        "",
        "",
    ]


def _uasc_row(child: int, cohort, identities: _Identities, start: dt.date) -> list[str]:
    born = start + dt.timedelta(days=math.floor(cohort.birth_day[child]))
    try:
        turns_18 = born.replace(year=born.year + 18)
    except ValueError:  # born on 29 February
        turns_18 = born.replace(year=born.year + 18, day=28)
    return [
        identities.child[child],
        SEX_CODE[bool(cohort.male[child])],
        born.strftime("%d/%m/%Y"),
        turns_18.strftime("%d/%m/%Y"),
    ]


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
