"""Cleaning rules that turn validated SSDA903 episode rows into placements and periods of care.

Each rule is a short function that returns the new table and the number of rows it affected, so the reader
can put every fix in the quality report. The rules run in this order (reader.read_ssda903 runs them), and
the order matters:

1. `deduplicate_episodes`: yearly returns repeat the episodes still open at the start of the year. An
   episode is identified by its child and start date (DECOM); the copy kept is the one with an end date if
   any copy has one, else the latest return's (a later return corrects an earlier one).
2. `clear_rec_of_open_episodes`: an episode with no end date (DEC) has not ceased, so a REC on it means
   nothing yet; it is cleared.
3. `drop_after_extract_date` / `open_at_extract_date`: what happened after the extract date is unknown
   (this is how a backtest reads the returns "as they stood" on an earlier date).
4. `resolve_overlaps`: a child is in one placement at a time; an episode starting before the previous one
   ends cuts the previous one at that start (an open one too, which then continues into the next: REC X1).
5. `bridge_short_breaks` (the reader's `short_breaks="exclude"`, its default; "include" skips this rule and
   keeps them as care): legal statuses V3/V4 are short breaks, and the DfE does not count children looked
   after solely under a series of short-term placements. The returns still link a short break into the chain
   of episodes around it (REC X1, next DECOM on that DEC, next RNE not S: the DfE's rule for one continuous
   period looked after), so each chain of linked episodes is read whole before the breaks are removed:
   - breaks between two ordinary episodes of one chain neither end the period nor start a new one: the
     episode after them continues the period across the gap they leave (column `bridged`); the days of
     the breaks are not care (the child is in no placement on them, so not in the stock);
   - breaks that open a chain: the period starts at its first ordinary episode, whose RNE becomes S (the
     day the child became looked after in the DfE's sense);
   - breaks that close a chain: the period ends at the end of its last ordinary episode, with the exit
     (REC) the chain ended with; a chain whose breaks are still open, or end X1 with nothing after, keeps
     the X1 and is censored there by rule 8;
   - a chain made only of breaks is no period of care: dropped (and counted).
6. `merge_legal_status_changes`: RNE L means only the legal status changed: the placement continues, so
   the episode joins the previous one (when it follows on directly, in the same period, at the same
   PLACE and PLACE_PROVIDER). `reclassify_legal_status_moves` counts RNE L episodes whose placement did
   change; they stay separate placements (the codes say the child moved, RNE L is taken to be wrong).
   `merge_same_placement` then joins any directly following episode at the same PLACE and PLACE_PROVIDER.
   A merged placement keeps the first episode's legal status and category of need (the placement as it
   began) and takes the last episode's end and REC.
7. `assign_periods`: episodes follow on in one period of care when the next starts on the previous end
   date, the previous REC is X1 and the next RNE is not S, or when rule 5 bridged short breaks between
   them. A new period starts at RNE S, at a gap, or after a REC that ends care.
8. `summarise_periods`: a period's exit route comes from its last REC, or is "age_18" when the child is
   AGE_18_YEARS or older at its end. A period still open at the extract date is censored (end NaT). A period
   whose last episode ended with REC X1 but has no following episode is censored too, at that episode's end
   date (its end is kept): what happened next is unknown, and counting the child in care up to the extract
   date would overstate stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.ssda903.codes import (
    AGE_18_YEARS,
    CONTINUES,
    LEGAL_STATUS_ONLY,
    REC_TO_ROUTE,
    SHORT_BREAK_STATUSES,
    START_OF_PERIOD,
)
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR

# Order of copies of one episode: the latest return last. `year` is the return's year, `file_index` the
# file's position in the folder listing, `row` the spreadsheet row.
RETURN_ORDER = ["year", "file_index", "row"]
BIRTHDAYS = tuple(int(lower) for lower, _ in AGE_BAND_BOUNDS_YEARS[1:])  # 1, 5, 10, 16


def _sorted(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes by child and start, with a fresh 0..n-1 index (the rules compare neighbouring rows)."""
    return episodes.sort_values(["child", "start"], kind="stable").reset_index(drop=True)


def _same_child_as_previous(episodes: pd.DataFrame) -> pd.Series:
    return episodes["child"].eq(episodes["child"].shift(1))


def _continues_previous(episodes: pd.DataFrame) -> pd.Series:
    """True where an episode carries on the previous one's period: same child, no gap, REC X1, RNE not S."""
    return (
        _same_child_as_previous(episodes)
        & episodes["start"].eq(episodes["end"].shift(1))
        & episodes["rec"].shift(1).eq(CONTINUES)
        & episodes["rne"].ne(START_OF_PERIOD)
    )


def _same_placement_as_previous(episodes: pd.DataFrame) -> pd.Series:
    return episodes["place"].eq(episodes["place"].shift(1)) & episodes["provider"].eq(episodes["provider"].shift(1))


def _merge_into_previous(episodes: pd.DataFrame, joins: pd.Series) -> pd.DataFrame:
    """Join each run of rows marked `joins` onto the row before it: first row's values, last row's end and REC.

    Positional, not groupby-last: pandas' `last` skips missing values and would lose an open end.
    """
    if episodes.empty:  # nothing to join (np.append below would make one row of nothing)
        return episodes.reset_index(drop=True)
    joins = joins.to_numpy(dtype=bool)
    first = ~joins
    last = np.append(first[1:], True)
    merged = episodes[first].copy()
    merged["end"] = episodes["end"].to_numpy()[last]
    merged["rec"] = episodes["rec"].to_numpy()[last]
    if "reason" in episodes:  # why the joined placement ended: its last episode says
        merged["reason"] = episodes["reason"].to_numpy()[last]
    return merged.reset_index(drop=True)


def deduplicate_episodes(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one copy of each (child, start): a copy with an end date if any, else the latest return's."""
    closed = episodes["end"].notna().rename("_closed")
    ordered = episodes.assign(_closed=closed).sort_values(["child", "start", "_closed", *RETURN_ORDER], kind="stable")
    kept = ordered.drop_duplicates(["child", "start"], keep="last").drop(columns="_closed")
    return _sorted(kept), len(episodes) - len(kept)


def clear_rec_of_open_episodes(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """An episode without an end date has not ceased: a REC on it is cleared."""
    stray = episodes["end"].isna() & episodes["rec"].ne("")
    return episodes.assign(rec=episodes["rec"].mask(stray, "")), int(stray.sum())


def drop_after_extract_date(episodes: pd.DataFrame, extract_date: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Episodes starting after the extract date were not yet known on it."""
    late = episodes["start"] > extract_date
    return episodes[~late].reset_index(drop=True), int(late.sum())


def open_at_extract_date(episodes: pd.DataFrame, extract_date: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Episodes ending after the extract date were still open on it: end and REC are cleared."""
    late = episodes["end"] > extract_date
    opened = episodes.assign(end=episodes["end"].mask(late), rec=episodes["rec"].mask(late, ""))
    return opened, int(late.sum())


def resolve_overlaps(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """End an episode at the next one's start when the next starts before it ends (or it is open)."""
    episodes = _sorted(episodes)
    next_start = episodes.groupby("child", sort=False)["start"].shift(-1)
    overlaps = next_start.notna() & (episodes["end"].isna() | (episodes["end"] > next_start))
    was_open = overlaps & episodes["rec"].eq("")
    fixed = episodes.assign(
        end=episodes["end"].mask(overlaps, next_start),
        rec=episodes["rec"].mask(was_open, CONTINUES),
    )
    return fixed, int(overlaps.sum())


@dataclass(frozen=True)
class ShortBreaks:
    """What `bridge_short_breaks` did, for the quality report."""

    episodes: int  # short-break episodes removed
    periods: int  # chains made only of short breaks: no period of care
    bridged: int  # runs of breaks inside a period: the care either side stays one period
    starts: int  # periods whose chain began with breaks: RNE S set on the first ordinary episode
    exits: int  # periods whose chain ended with breaks: the chain's exit REC moved to the last ordinary episode


def bridge_short_breaks(episodes: pd.DataFrame) -> tuple[pd.DataFrame, ShortBreaks]:
    """Remove short breaks (V3/V4) without splitting or ending the period of care around them (rule 5)."""
    episodes = _sorted(episodes)
    short = episodes["legal_status"].isin(SHORT_BREAK_STATUSES)
    chain = (~_continues_previous(episodes)).cumsum()
    ordinary = ~short
    ordinary_before = ordinary.groupby(chain).cumsum() - ordinary
    after_break = short.shift(1, fill_value=False) & chain.eq(chain.shift(1))
    bridged = ordinary & after_break & ordinary_before.gt(0)
    starts = ordinary & after_break & ordinary_before.eq(0)
    last_rec = episodes["rec"].groupby(chain).transform("last")
    last_ordinary = ordinary & ordinary.groupby(chain).transform("sum").eq(ordinary_before + 1)
    exits = last_ordinary & short.groupby(chain).transform("last") & ~last_rec.isin(["", CONTINUES])
    kept = episodes.assign(
        rne=episodes["rne"].mask(starts, START_OF_PERIOD),
        rec=episodes["rec"].mask(exits, last_rec),
        bridged=bridged,
    )[ordinary]
    counts = ShortBreaks(
        episodes=int(short.sum()),
        periods=int((~ordinary.groupby(chain).any()).sum()),
        bridged=int(bridged.sum()),
        starts=int(starts.sum()),
        exits=int(exits.sum()),
    )
    return kept.reset_index(drop=True), counts


def merge_legal_status_changes(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """RNE L at the same place and provider: the placement continues, so the episode joins the previous one."""
    episodes = _sorted(episodes)
    joins = (
        _continues_previous(episodes) & episodes["rne"].eq(LEGAL_STATUS_ONLY) & _same_placement_as_previous(episodes)
    )
    return _merge_into_previous(episodes, joins), int(joins.sum())


def reclassify_legal_status_moves(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """RNE L but a different place or provider: the child moved, so it is treated as RNE P (a new placement)."""
    episodes = _sorted(episodes)
    moved = (
        _continues_previous(episodes) & episodes["rne"].eq(LEGAL_STATUS_ONLY) & ~_same_placement_as_previous(episodes)
    )
    return episodes.assign(rne=episodes["rne"].mask(moved, "P")), int(moved.sum())


def merge_same_placement(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A directly following episode at the same PLACE and PLACE_PROVIDER is the same placement."""
    episodes = _sorted(episodes)
    joins = _continues_previous(episodes) & _same_placement_as_previous(episodes)
    return _merge_into_previous(episodes, joins), int(joins.sum())


def assign_periods(episodes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Number the periods of care (global ids from 0); count the periods not opened by RNE S.

    Those are kept (the count is for the report): the first one of a child usually began before the earliest
    return, so its start is the first episode seen, not the day the child came into care.
    """
    episodes = _sorted(episodes)
    bridged = episodes.get("bridged", False)
    new_period = ~(_continues_previous(episodes) | (_same_child_as_previous(episodes) & bridged))
    not_s = new_period & episodes["rne"].ne(START_OF_PERIOD)
    return episodes.assign(period=new_period.cumsum() - 1), int(not_s.sum())


def summarise_periods(episodes: pd.DataFrame, children: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per period: dates, censoring, exit route, age at entry, first CIN, UASC; count X1-ended ones.

    `children` needs child, dob, uasc. The count is of periods censored because their last episode ended
    with REC X1 and nothing followed.
    """
    episodes = episodes.sort_values(["period", "start"], kind="stable")
    grouped = episodes.groupby("period", sort=True)
    periods = grouped.agg(child=("child", "first"), start=("start", "first"), cin=("cin", "first"))
    last = episodes.drop_duplicates("period", keep="last").set_index("period")
    periods["end"] = last["end"]
    periods["last_rec"] = last["rec"]
    periods = periods.reset_index().merge(children[["child", "dob", "uasc"]], on="child", how="left")
    periods["age_at_entry_days"] = (periods["start"] - periods["dob"]).dt.days.astype(float)
    age_at_end = (periods["end"] - periods["dob"]).dt.days / DAYS_PER_YEAR
    is_open = periods["end"].isna()
    at_18 = ~is_open & (age_at_end >= AGE_18_YEARS)
    dangling = ~is_open & ~at_18 & periods["last_rec"].eq(CONTINUES)
    periods["censored"] = is_open | dangling
    route = periods["last_rec"].map(REC_TO_ROUTE).fillna("other")
    periods["exit_route"] = np.where(periods["censored"], "", np.where(at_18, "age_18", route))
    columns = ["child", "period", "start", "end", "censored", "exit_route", "age_at_entry_days", "cin", "uasc"]
    return periods[columns], int(dangling.sum())


def _birthday(dob: pd.Series, years: int) -> pd.Series:
    """Calendar birthday (29 February birthdays fall on 28 February in common years)."""
    return dob + pd.DateOffset(years=years)


def split_at_age_bands(episodes: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Cut each placement at the 1st, 5th, 10th and 16th birthdays and label each piece with its DfE age band.

    Why: rates by age band (days in each need, moves, exits) need the days a placement spent in each band,
    not just the band it started in. A piece keeps the placement's columns; only the last piece keeps the
    end and REC of the placement, earlier pieces end at a birthday with REC "" (the placement carries on).
    Ages of 18 and over stay in the last band, as in sim.engine.vocabulary.age_band_index.
    """
    base = episodes.reset_index(drop=True).rename_axis("_piece_of").reset_index()
    dob = base[["child"]].merge(children[["child", "dob"]], on="child", how="left")["dob"]
    horizon = base["end"].fillna(pd.Timestamp.max)
    cuts = [
        base.loc[inside, ["_piece_of"]].assign(start=birthday[inside])
        for birthday in (_birthday(dob, years) for years in BIRTHDAYS)
        for inside in [(birthday > base["start"]) & (birthday < horizon)]
    ]
    starts = pd.concat([base[["_piece_of", "start"]], *cuts], ignore_index=True)
    starts = starts.sort_values(["_piece_of", "start"], kind="stable").reset_index(drop=True)
    pieces = starts.merge(base.drop(columns="start"), on="_piece_of", how="left")
    next_start = pieces.groupby("_piece_of", sort=False)["start"].shift(-1)
    is_last = next_start.isna()
    pieces["end"] = pieces["end"].where(is_last, next_start)
    pieces["rec"] = pieces["rec"].where(is_last, "")
    piece_dob = pieces[["child"]].merge(children[["child", "dob"]], on="child", how="left")["dob"]
    band = sum((pieces["start"] >= _birthday(piece_dob, years)).astype(int) for years in BIRTHDAYS)
    pieces["age_band"] = [AGE_BANDS[i] for i in band]
    return pieces[[*episodes.columns, "age_band"]]
