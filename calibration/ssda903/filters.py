"""Population filters: calibrate on some of an authority's children (by sex, UASC, ethnic group, age at entry).

Why: a service may plan for one group (say, UASC 16-17 year-olds, or girls entering at 10-15) and want that
group's own entry rates, stays and placements, not the whole authority's.

`filter_population` runs on the cleaned history, after every cleaning rule, in this order: sex, UASC and
ethnic group leave out children (with all their periods of care), then age at entry leaves out periods of
care that began at another age (and children with no period left). Each filter counts, in the quality report
under `filter_<name>`, the periods of care it left out (its rows) and the children (in its reason), of what
the filters before it had left. No filter given, no change. Nothing left is an error.

Ethnic groups are the DfE's, from the first letter of the ETHNIC code: W White, M Mixed, A Asian, B Black,
O Other, and R (REFU, refused) and N (NOBT, information not yet obtained) "refused or not obtained". CHNE
(Chinese), the one code whose letter names no group, is Other, as in the DfE's children-looked-after
tables. A blank ETHNIC or a code starting with another letter is "refused or not obtained" (counted by the
reader under `unknown_ethnic`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from calibration.ssda903.errors import SSDA903Error
from calibration.ssda903.quality import QualityReport
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, age_band_index

if TYPE_CHECKING:
    from calibration.ssda903.reader import CareHistory

SEXES = ("male", "female")
NOT_OBTAINED = "refused_or_not_obtained"
ETHNIC_GROUPS = ("white", "mixed", "asian", "black", "other", NOT_OBTAINED)
GROUP_OF_LETTER = {
    "W": "white",
    "M": "mixed",
    "A": "asian",
    "B": "black",
    "C": "other",
    "O": "other",
    "R": NOT_OBTAINED,
    "N": NOT_OBTAINED,
}
NO_ETHNIC_COLUMN = ""  # the child's latest header row came from a table without an ETHNIC column
LISTS = {"ethnicity": ETHNIC_GROUPS, "entry-age": AGE_BANDS}
Keep = Callable[[pd.DataFrame], pd.Series]  # which children a filter keeps


def ethnic_groups(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each ETHNIC code's DfE group, and where the code was blank or started with no group's letter."""
    group = codes.str.upper().str[:1].map(GROUP_OF_LETTER)
    return group.fillna(NOT_OBTAINED), group.isna()


@dataclass(frozen=True)
class Population:
    """Which children to calibrate on; None or () keeps everyone."""

    sex: str | None = None  # one of SEXES
    uasc: bool | None = None
    ethnicity: tuple[str, ...] = ()  # ETHNIC_GROUPS
    entry_age: tuple[str, ...] = ()  # AGE_BANDS

    def __post_init__(self) -> None:
        if self.sex is not None and self.sex not in SEXES:
            raise ValueError(f"sex must be one of {', '.join(SEXES)}, got {self.sex!r}")
        for kind, values in (("ethnicity", self.ethnicity), ("entry-age", self.entry_age)):
            _check_listed(kind, values)


def parse_list(kind: str, text: str) -> tuple[str, ...]:
    """A comma-separated option value ('white,black', '10-15,16-17'), each item checked against its list."""
    values = tuple(dict.fromkeys(item.strip().lower() for item in text.split(",")))
    _check_listed(kind, values)
    return values


def _check_listed(kind: str, values: tuple[str, ...]) -> None:
    unknown = [value for value in values if value not in LISTS[kind]]
    if unknown:
        raise ValueError(f"expected a comma-separated list of {', '.join(LISTS[kind])}; got {unknown[0]!r}")


EVERYONE = Population()  # no filter: every child in the returns


def filter_population(history: CareHistory, population: Population) -> CareHistory:
    """The history of the chosen children only, renumbered, with a report counting what each filter left out."""
    report = dataclasses.replace(history.report, entries=list(history.report.entries))
    children, periods = history.children, history.periods
    for rule, option, keep in _child_filters(children, population):
        left_out = children.loc[~keep(children), "child"]
        out = periods["child"].isin(left_out)
        _count(report, rule, option, int(out.sum()), len(left_out))
        children, periods = children[~children["child"].isin(left_out)], periods[~out]
    if population.entry_age:
        bands = [AGE_BANDS[age_band_index(days / DAYS_PER_YEAR)] for days in periods["age_at_entry_days"]]
        out = ~pd.Series(bands, index=periods.index, dtype=object).isin(population.entry_age)
        periods = periods[~out]
        left = children["child"].isin(periods["child"])
        option = f"--entry-age {','.join(population.entry_age)}"
        _count(report, "filter_entry_age", option, int(out.sum()), int((~left).sum()))
        children = children[left]
    if children.empty:
        raise SSDA903Error(
            f"no child is left after the population filters ({_left_out(report)}); expected filters that some "
            "children in the returns meet"
        )
    return _renumbered(history, children, periods, report)


def keep_periods(history: CareHistory, keep: np.ndarray) -> CareHistory:
    """The history of the periods where `keep` (one flag per period, in order) holds, renumbered; a child left
    with no period is dropped. The report is not changed: the caller says why (remand.py keeps remands apart)."""
    periods = history.periods[keep]
    children = history.children[history.children["child"].isin(periods["child"])]
    report = dataclasses.replace(history.report, entries=list(history.report.entries))
    return _renumbered(history, children, periods, report)


def _left_out(report: QualityReport) -> str:
    return "; ".join(entry.reason for entry in report.entries if entry.rule.startswith("filter_"))


def _child_filters(children: pd.DataFrame, population: Population) -> list[tuple[str, str, Keep]]:
    """(rule, option text, which children to keep) for each child-level filter given, in order."""
    filters = []
    if population.sex is not None:
        filters.append(("filter_sex", f"--sex {population.sex}", lambda c: c["sex"].eq(population.sex)))
    if population.uasc is not None:
        text = f"--uasc {'yes' if population.uasc else 'no'}"
        filters.append(("filter_uasc", text, lambda c: c["uasc"].eq(population.uasc)))
    if population.ethnicity:
        _check_ethnicity_known(children)
        text = f"--ethnicity {','.join(population.ethnicity)}"
        filters.append(("filter_ethnicity", text, lambda c: c["ethnicity"].isin(population.ethnicity)))
    return filters


def _check_ethnicity_known(children: pd.DataFrame) -> None:
    missing = int(children["ethnicity"].eq(NO_ETHNIC_COLUMN).sum())
    if missing:
        raise SSDA903Error(
            f"--ethnicity: {missing} children's latest header row is in a table with no ETHNIC column; expected an "
            "ETHNIC column in every header table"
        )


def _count(report: QualityReport, rule: str, option: str, periods: int, children: int) -> None:
    report.add(rule, periods, "dropped", f"{option}: {children} children and {periods} periods of care left out")


def _renumbered(
    history: CareHistory, children: pd.DataFrame, periods: pd.DataFrame, report: QualityReport
) -> CareHistory:
    """Children and periods numbered 0..n-1 again, in the same order (the reader's promise)."""
    child_ids = pd.Series(range(len(children)), index=children["child"].to_numpy())
    period_ids = pd.Series(range(len(periods)), index=periods["period"].to_numpy())
    episodes = history.episodes[history.episodes["period"].isin(period_ids.index)]
    episodes = episodes.assign(child=episodes["child"].map(child_ids), period=episodes["period"].map(period_ids))
    periods = periods.assign(child=periods["child"].map(child_ids), period=periods["period"].map(period_ids))
    children = children.assign(child=children["child"].map(child_ids))
    report.children, report.episodes, report.periods = len(children), len(episodes), len(periods)
    return dataclasses.replace(
        history,
        children=children.reset_index(drop=True),
        episodes=episodes.reset_index(drop=True),
        periods=periods.reset_index(drop=True),
        report=report,
    )
