"""`sufficiency calibrate --ssda903 DIR`: a baseline scenario fitted to SSDA903 returns, with its report.

This module fits (`calibrate`) and turns the fit into a scenario; the report of fitted against observed is
drawn in calibration.ssda903.report. Nothing written carries a child's identifier, birth date or postcode:
the scenario holds rates, distributions and counts of children by age band, need and pool; the report holds
aggregates only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.fit import POOLS
from calibration.scenario_builder import (
    MATCHING,
    SPECIAL_MATCHING,
    YOUTH_DETENTION,
    YOUTH_DETENTION_LOCAL,
    _sum_to_one,
)
from calibration.ssda903 import estimate, moves, remand
from calibration.ssda903.breakdowns import NeedBreakdowns, estimate_breakdowns
from calibration.ssda903.codes import UNPLANNED_PLACEMENT_ENDINGS as UNPLANNED
from calibration.ssda903.dfe_rules import NOT_ASKED, run_dfe_rules
from calibration.ssda903.distances import (
    MIN_PLACEMENTS,
    PARENT_CHILD_POOLS,
    PoolDistance,
    pool_distances,
    read_postcode_lookup,
)
from calibration.ssda903.filters import EVERYONE, Population, filter_population
from calibration.ssda903.reader import EARLIEST, CareHistory, read_ssda903
from calibration.ssda903.report import report_html
from calibration.ssda903.sibling_groups import GroupSizes, estimate_group_sizes
from sim.engine.scenario import Scenario, ScenarioError
from sim.engine.scenario_files import scenario_from_dict
from sim.engine.toml_writer import Comments, to_toml
from sim.engine.vocabulary import AGE_BANDS

POOL_FOR = {
    ("fostering", True): "inhouse_fostering",
    ("fostering", False): "ifa",
    ("kinship_fostering", True): "kinship",
    ("kinship_fostering", False): "kinship",
    ("residential", True): "inhouse_homes",
    ("residential", False): "external_homes",
    ("secure", True): "secure",
    ("secure", False): "secure",
    ("supported_16plus", True): "inhouse_supported",
    ("supported_16plus", False): "external_supported",
    ("placed_with_parents", True): "placed_with_parents",
    ("placed_with_parents", False): "placed_with_parents",
    ("placed_for_adoption", True): "adopters",
    ("placed_for_adoption", False): "adopters",
    ("other", True): "other_placements",
    ("other", False): "other_placements",
    # the shipped baselines' pools (calibration/scenario_builder.py SPECIAL_MATCHING)
    ("parent_and_child", True): "inhouse_parent_child",
    ("parent_and_child", False): "external_parent_child",
    ("remand", True): "youth_detention",
    ("remand", False): "youth_detention",
}
FINITE = ("inhouse_fostering", "inhouse_homes", "inhouse_supported", "inhouse_parent_child")
MIN_BREAKDOWNS = 5  # fewer unplanned endings of a need: the all-needs hazard stands in (as moves' MIN_EVENTS)
SOURCE = "SSDA903 returns"
EARLIEST_YEAR = EARLIEST.year


@dataclass
class Calibration:
    history: CareHistory
    as_of: dt.date
    reference: estimate.Reference
    entries: estimate.EntryEstimate
    durations: dict[str, estimate.BandDurations]
    first_need: dict[str, dict[str, float]]
    moves: moves.MoveEstimate
    stock: pd.DataFrame
    capacities: dict[str, int]
    time_to_order: dict[str, float]
    staying_put: float
    breakdowns: dict[str, NeedBreakdowns]  # unplanned placement endings by need (breakdowns.py)
    group_sizes: GroupSizes  # children arriving together (sibling_groups.py)
    distances: dict[str, PoolDistance]  # each pool's placement-days within 20 miles of home (distances.py)
    remand: remand.RemandEstimate  # remand-only periods of care: the entries.remand stream (remand.py)


def calibrate(
    history: CareHistory,
    as_of: dt.date,
    window_years: int = 3,
    *,
    reference_start: dt.date | None = None,
    reference_end: dt.date | None = None,
    analytic_gradient: bool = True,
) -> Calibration:
    """Every fitted quantity of the scenario, from the reference period: by default the `window_years` before
    as_of (see `reference_period`). `analytic_gradient=False` fits the stays with finite differences (bench).

    Remand-only periods (remand.py) are the entries.remand stream: the main stream's entries, stays, first needs
    and moves are fitted without them; the stock, capacities and distances count every child."""
    reference = reference_period(history, as_of, window_years, reference_start, reference_end)
    stock = estimate.stock_on(history, as_of)
    main = remand.main_stream(history)
    return Calibration(
        history=history,
        as_of=as_of,
        reference=reference,
        entries=estimate.estimate_entries(main, reference),
        durations=estimate.estimate_durations(main, reference, analytic_gradient),
        first_need=estimate.first_needs(main, reference),
        moves=moves.estimate_moves(main, reference),
        stock=stock,
        capacities=_peak_occupancy(history, as_of, stock),
        time_to_order=_time_to_order(main, reference),
        staying_put=_staying_put(main, reference),
        breakdowns=estimate_breakdowns(main, reference),
        group_sizes=estimate_group_sizes(main, reference),
        distances=pool_distances(history.episodes, reference.start, reference.end),
        remand=remand.estimate_remand(history, reference),
    )


def reference_period(
    history: CareHistory,
    as_of: dt.date,
    window_years: int = 3,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> estimate.Reference:
    """The period the fit reads: from `start` (default: `window_years` before its end) to `end` (default and at
    most the as-of date). Refused before anything is fitted when it holds no time or data that cannot be known.

    Why: a window of zero or fewer years divides by zero or fits nothing, a period reaching past the as-of date
    (or an as-of date past the extract date) reads what is not known on the scenario's start date, and unobserved
    months would count as months without entries (a silent under-estimate).
    """
    if isinstance(window_years, bool) or not isinstance(window_years, int) or window_years < 1:
        raise ValueError(f"--window-years must be a whole number of years, at least 1; got {window_years}")
    if as_of > history.extract_date:
        raise ValueError(
            f"--as-of {as_of} is after the returns' extract date {history.extract_date}: nothing is known after it; "
            f"expected --as-of on or before {history.extract_date}"
        )
    if end is not None and end > as_of:
        raise ValueError(
            f"--reference-end {end} is after --as-of {as_of}: the fit would read what is not known on the "
            "scenario's start date; expected --reference-end on or before --as-of"
        )
    last = end or as_of
    if start is None and last.year - window_years < EARLIEST_YEAR:
        raise ValueError(
            f"--as-of {as_of} with --window-years {window_years} reaches back before {EARLIEST_YEAR}; expected a "
            f"window inside the returns (they hold no date before {EARLIEST_YEAR})"
        )
    if start is not None and (start >= last or start.year < EARLIEST_YEAR):
        raise ValueError(
            f"--reference-start {start} must be before the reference end {last} and in {EARLIEST_YEAR} or later"
        )
    window = estimate.Reference.before(last, window_years)
    if start is None:
        return estimate.Reference(window.start, window.end, pd.Timestamp(as_of), window_years)
    return estimate.Reference(pd.Timestamp(start), window.end, pd.Timestamp(as_of))


# National starts were flat: 32,940 in 2016-17, 33,050 in 2024 (national_england.md L29).
LONG_RUN_ENTRY_TREND_PERCENT = 0.0


def _trend_fade(document: dict[str, Any], comments: Comments, reference: estimate.Reference) -> None:
    """The fitted trend fades toward flat national starts, trusted as far ahead as its period reaches back
    (decision 0013): a trend fitted to three years is no guide to year ten."""
    document["entries"]["trend_fade"] = {
        "to_percent_per_year": LONG_RUN_ENTRY_TREND_PERCENT,
        "half_life_years": round(reference.years, 2),
    }
    comments["entries.trend_fade.to_percent_per_year"] = (
        "national_england.md L29: starts 32,940 in 2016-17 and 33,050 in 2024, flat; assumption: the long run of "
        "any authority's entries"
    )
    comments["entries.trend_fade.half_life_years"] = (
        f"assumption (docs/decisions/0013): the fitted trend halves its distance to flat in as long as the "
        f"reference period, {reference.label}"
    )


def scenario_document(result: Calibration, name: str) -> tuple[dict[str, Any], Comments]:
    document: dict[str, Any] = {
        "name": name,
        "description": f"Baseline calibrated from SSDA903 returns as of {result.as_of}",
        "seed": 1,
        "horizon": {"start": result.as_of, "years": 10},
    }
    comments: Comments = {
        "seed": "assumption: any fixed seed",
        "horizon.years": "assumption: a ten-year planning horizon",
    }
    window = f"{SOURCE}: periods of care starting in {result.reference.label}"
    document["start_population"] = {"groups": _start_groups(result)}
    comments["start_population"] = f"{SOURCE}: children in care at 00:00 on {result.as_of}"
    entries = result.entries
    document["entries"] = {
        "rate_per_year": {band: round(entries.rate_by_band[band], 4) for band in AGE_BANDS},
        "trend_percent_per_year": round(entries.trend_percent, 3),
        "need_mix": _sum_to_one({k: round(v, 6) for k, v in entries.cin_mix.items()}),
        "male_share": round(entries.male_share, 4),
        "uasc": {
            "rate_per_year": round(entries.uasc_rate, 4),
            "age_mix": _sum_to_one({k: round(v, 6) for k, v in entries.uasc_age_mix.items()}),
        },
    }
    low, high = entries.trend_ci
    comments["entries.trend_percent_per_year"] = (
        f"{SOURCE}: log-linear Poisson fit of yearly entries {entries.counts}; 95% interval {low:.1f}% to {high:.1f}%"
    )
    if entries.trend_percent != 0:
        _trend_fade(document, comments, result.reference)
    comments["entries.rate_per_year"] = (
        f"{window}, excluding UASC: each band's share of the entrants times the fitted trend's level on "
        f"{result.as_of}, {entries.rate_at_start:.1f} a year in all (sd of the log {entries.rate_log_sd:.3f}; the "
        f"period's mean was {entries.window_rate:.1f} a year)"
    )
    comments["entries.need_mix"] = f"{window}: category of need of entrants"
    comments["entries.uasc"] = f"{window}: UASC entrants' share times the fitted level on {result.as_of}"
    sizes = result.group_sizes
    if sizes.any_together:
        folded = f"; {sizes.folded} groups of 5 or more counted as 4" if sizes.folded else ""
        document["entries"]["sibling_groups"] = {
            "size_shares": _sum_to_one({size: round(share, 6) for size, share in sizes.shares().items()}),
            "note": f"{window}: {sizes.total} groups of children (not UASC) starting on one day from one home "
            f"postcode{folded}",
        }
    if result.remand.periods:
        document["entries"]["remand"] = _remand_stream(result, comments)
    document["journeys"] = {band: _journey(result, band, comments) for band in AGE_BANDS}
    for band in AGE_BANDS:
        fit = result.durations[band]
        chosen = ", ".join(
            f"{r} {f.family} (AIC {f.aic:.0f})" for r, f in fit.fits.items() if fit.route_shares.get(r, 0) > 0
        )
        comments[f"journeys.{band}"] = (
            f"{SOURCE}: {fit.periods} periods ({fit.censored} still open, censored); competing-risks mixture fitted "
            f"by EM, families by AIC: {chosen}"
        )
    document["pools"] = _pools(result)
    comments["pools"] = "in-house capacities: peak occupancy in the year before the as-of date (assumption)"
    for name, distance in _fitted_distances(result).items():
        document["pools"][name]["within_20_miles"] = round(distance.share_within, 4)
        unknown = f"; {distance.unknown} of unknown distance left out" if distance.unknown else ""
        comments[f"pools.{name}.within_20_miles"] = (
            f"{SOURCE}: share of placement-days in {result.reference.label} within 20 miles of home, from "
            f"HOME_POST and PL_POST ({distance.placements} placements{unknown})"
        )
    document["matching"] = {
        need: {"pools": pools, "fallback": fallback}
        for need, (pools, fallback) in {**MATCHING, **SPECIAL_MATCHING}.items()
    }
    comments["pools.youth_detention.within_20_miles"] = YOUTH_DETENTION_LOCAL
    breakdowns = _breakdowns(result)
    if breakdowns:
        document["breakdowns"] = breakdowns
    document["leaving_care"] = {"staying_put": {"probability": round(result.staying_put, 4)}}
    comments["leaving_care.staying_put.probability"] = (
        f"{SOURCE}: share of fostered 18th-birthday leavers whose episode ended E17 (stayed with their carers)"
    )
    document["adoption"] = {
        "first_need": "fostering",
        "adopter_approvals_per_year": "unlimited",
        "time_to_order": result.time_to_order,
    }
    comments["adoption.time_to_order"] = f"{SOURCE}: time placed for adoption before the order (A3-A6 episodes)"
    comments["adoption.adopter_approvals_per_year"] = "assumption: SSDA903 has no adopter approvals"
    return document, comments


def build_scenario(result: Calibration, name: str = "ssda903_baseline") -> Scenario:
    """The fitted scenario, validated. A fit the scenario rules refuse (say, a stay of over a century from a
    route with one exit) is one line naming the first problem: the command line shows errors as one line."""
    document, _ = scenario_document(result, name)
    try:
        return scenario_from_dict(document, label=f"calibration of {name}")
    except ScenarioError as error:
        problems = str(error).splitlines()
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ScenarioError(
            f"the scenario fitted from the returns is not valid: {problems[0]}{more}; the returns may hold too "
            "few periods of care in the reference period to fit it"
        ) from None


def scenario_text(result: Calibration, name: str, command: str) -> str:
    document, comments = scenario_document(result, name)
    header = [
        f"Baseline calibrated from SSDA903 returns as of {result.as_of}",
        f"Written by: {command}",
        "Fitted values say where they come from; see calibration_report.html for fitted against observed.",
        "No price book: add a [prices] table (see docs/scenario-files.md) to get a budget.",
    ]
    return to_toml(document, header, comments=comments, significant=6)


def _remand_stream(result: Calibration, comments: Comments) -> dict[str, Any]:
    """entries.remand from the remand-only periods (remand.py): their rate, age mix and sex, and an exponential
    stay of their mean length, leaving by `other` (the reason E14, accommodation on remand ended)."""
    fit = result.remand
    journey = {
        "exit_routes": {"other": 1.0},
        "duration": {"other": {"distribution": "exponential", "mean": round(fit.mean_days, 2)}},
        "first_need": {"remand": 1.0},
    }
    bands = [band for band, share in fit.age_mix.items() if share > 0]
    comments["entries.remand.rate_per_year"] = (
        f"{SOURCE}: {fit.periods} periods of care wholly in R5 (young offender institution) starting in "
        f"{result.reference.label}"
    )
    comments["entries.remand.age_mix"] = f"{SOURCE}: the remands' age at entry"
    comments["entries.remand.male_share"] = f"{SOURCE}: the remanded children's sex"
    for band in bands:
        comments[f"entries.remand.journeys.{band}.duration.other"] = (
            f"{SOURCE}: exponential MLE, {fit.closed} of {fit.periods} remands ended by {result.reference.end.date()} "
            "(the rest censored there)"
        )
    return {
        "rate_per_year": round(fit.rate_per_year, 4),
        "age_mix": _sum_to_one({band: round(fit.age_mix[band], 6) for band in bands}),
        "male_share": round(fit.male_share, 4),
        "journeys": {band: journey for band in bands},
        "note": "remanded to youth detention accommodation; looked after for the remand only, then leaves care",
    }


def _breakdowns(result: Calibration) -> dict[str, Any]:
    """Each need's unplanned-ending hazard (breakdowns.py). A need with fewer than MIN_BREAKDOWNS endings in the
    reference period takes the hazard of all needs together (a few days at risk would give a rate of noise);
    placements for adoption are left out, as the model's adoption route has no moves."""
    found = {need: b for need, b in result.breakdowns.items() if need != "placed_for_adoption"}
    endings = sum(b.endings for b in found.values())
    years = sum(b.years_at_risk for b in found.values())
    if endings == 0:
        return {}
    codes = ", ".join(sorted(UNPLANNED))
    by_need = {}
    for need, b in sorted(found.items()):
        if b.endings >= MIN_BREAKDOWNS:
            rate, note = (
                b.hazard,
                (
                    f"{SOURCE}: {b.endings} unplanned endings (REASON_PLACE_CHANGE {codes}) over {b.years_at_risk:.1f} "
                    f"placement-years in {result.reference.label}; 95% interval {b.interval[0]:.3f} to "
                    f"{b.interval[1]:.3f}"
                ),
            )
        else:
            rate, note = (
                endings / years,
                (
                    f"{SOURCE}: {b.endings} unplanned endings over {b.years_at_risk:.1f} placement-years, fewer than "
                    f"{MIN_BREAKDOWNS}: all needs' {endings} over {years:.1f} ({result.reference.label})"
                ),
            )
        by_need[need] = {"per_year": round(rate, 4), "note": note}
    return {"note": "unplanned placement endings: each is a new search", "by_need": by_need}


def _start_groups(result: Calibration) -> list[dict]:
    stock = result.stock.copy()
    stock["pool"] = [POOL_FOR[(n, bool(i))] for n, i in zip(stock["need"], stock["in_house"], strict=True)]
    groups = stock.groupby(["pool", "age_band", "need"], sort=True).agg(
        count=("days_in_care", "size"), days_in_care=("days_in_care", "mean")
    )
    return [
        {
            "age_band": band,
            "need": need,
            "pool": pool,
            "count": int(row["count"]),
            "days_in_care": round(max(float(row["days_in_care"]), 1.0), 1),
        }
        for (pool, band, need), row in groups.iterrows()
    ]


def _journey(result: Calibration, band: str, comments: Comments | None = None) -> dict[str, Any]:
    fit = result.durations[band]
    shares = {r: round(s, 6) for r, s in fit.route_shares.items() if s > 1e-6}
    duration = {r: _distribution(f) for r, f in fit.fits.items() if r in shares}
    if "adoption" in duration:
        duration["adoption"] = _readiness(fit.fits["adoption"], result.time_to_order["mean"])
    # The model places a child for adoption from fostering (adoption.first_need), so a band whose children all
    # started placed for adoption starts in fostering.
    first_need = {n: s for n, s in result.first_need[band].items() if n != "placed_for_adoption"} or {"fostering": 1}
    total = sum(first_need.values())
    journey: dict[str, Any] = {
        "exit_routes": _sum_to_one(shares),
        "duration": duration,
        "first_need": _sum_to_one({n: round(s / total, 6) for n, s in first_need.items()}),
    }
    planned = moves.journey_moves(result.moves, band)
    if planned:
        journey["moves"] = [move for move, _ in planned]
    for index, (_, note) in enumerate(planned):
        if comments is not None:
            comments[f"journeys.{band}.moves.#{index}.probability"] = note
    return journey


def _distribution(fit: estimate.DurationFit) -> dict[str, Any]:
    return {"distribution": fit.family, **fit.params}


def _readiness(fit: estimate.DurationFit, order_mean: float) -> dict[str, Any]:
    """The adoption stay less the time placed with adopters (the model adds that time itself)."""
    dist = fit.frozen()
    mean = max(float(dist.mean()) - order_mean, 30.0)
    return {"distribution": "gamma", "mean": round(mean, 3), "sd": round(float(dist.std()), 3)}


def _peak_occupancy(history: CareHistory, as_of: dt.date, stock: pd.DataFrame) -> dict[str, int]:
    """In-house places: the most children placed in each in-house pool at once in the year up to as_of.

    Weekly counts from a year before as_of, and as_of itself (the weeks need not land on it), and never fewer
    places than the children the pool holds on as_of: the scenario starts with those children in it, and a
    start population above a pool's capacity is invalid.
    """
    at = pd.Timestamp(as_of)
    days = pd.date_range(at - pd.DateOffset(years=1), at, freq="7D").union([at])
    episodes = history.episodes
    pools = pd.Series([POOL_FOR[(n, bool(i))] for n, i in zip(stock["need"], stock["in_house"], strict=True)])
    capacity = {}
    for pool in FINITE:
        keys = [k for k, v in POOL_FOR.items() if v == pool and k[1]]
        rows = episodes[[(n, bool(i)) in keys for n, i in zip(episodes["need"], episodes["in_house"], strict=True)]]
        counts = [int(((rows["start"] <= d) & (rows["end"].isna() | (rows["end"] > d))).sum()) for d in days]
        capacity[pool] = max([*counts, int(pools.eq(pool).sum())])
    return capacity


def _pools(result: Calibration) -> dict[str, Any]:
    pools = {}
    for spec in (*POOLS, *PARENT_CHILD_POOLS):
        pool: dict[str, Any] = {
            "description": spec.description,
            "serves": [spec.need],
            "in_house": spec.in_house,
            "capacity": "unlimited",
        }
        if spec.name == "emergency":
            pool["serves"] = ["residential", "fostering", "supported_16plus"]
        if spec.min_age:
            pool["min_age"] = spec.min_age
        if spec.name in FINITE:
            pool["capacity"] = result.capacities[spec.name]
            if spec.name == "inhouse_homes":
                pool["min_age"] = 0.0
            if spec.name == "inhouse_supported":
                pool["min_age"] = 0.0
        pools[spec.name] = pool
    pools["youth_detention"] = dict(YOUTH_DETENTION)
    return pools


def _fitted_distances(result: Calibration) -> dict[str, PoolDistance]:
    """The pools with enough placements of known distance to fit their share within 20 miles; the others keep
    the scenario's default (every placement local), which the calibration report says."""
    return {
        name: distance
        for name, distance in result.distances.items()
        if distance.placements >= MIN_PLACEMENTS and name in {spec.name for spec in (*POOLS, *PARENT_CHILD_POOLS)}
    }


def _time_to_order(history: CareHistory, reference: estimate.Reference) -> dict[str, float]:
    episodes = history.episodes
    adopted = episodes[
        (episodes["need"] == "placed_for_adoption")
        & _ended_in(episodes, reference)
        & episodes["rec"].isin(["E11", "E12"])
    ]
    days = (adopted["end"] - adopted["start"]).dt.days.to_numpy(dtype=float)
    if len(days) < 3:
        return {"distribution": "gamma", "mean": 274.0, "sd": 90.0}
    return {"distribution": "gamma", "mean": round(float(days.mean()), 2), "sd": round(float(max(days.std(), 1.0)), 2)}


def _ended_in(episodes: pd.DataFrame, reference: estimate.Reference) -> pd.Series:
    """Episodes ending inside the reference period (or on its last day)."""
    return episodes["end"].notna() & (episodes["end"] >= reference.start) & (episodes["end"] <= reference.end)


def _staying_put(history: CareHistory, reference: estimate.Reference) -> float:
    episodes = history.episodes
    last = episodes[_ended_in(episodes, reference)]
    fostered = last[last["need"].isin(["fostering", "kinship_fostering"])]
    periods = history.periods.set_index("period")
    at_18 = fostered[periods.loc[fostered["period"], "exit_route"].to_numpy() == "age_18"]
    at_18 = at_18[at_18["rec"] != "X1"]
    if len(at_18) == 0:
        return 0.0
    return float((at_18["rec"] == "E17").mean())


def read_chosen(
    folder: Path,
    la: str | None = None,
    short_breaks: str = "exclude",
    population: Population = EVERYONE,
    postcodes: Path | None = None,
) -> CareHistory:
    """The returns read and cleaned (reader.read_ssda903), then only the chosen children kept (filters.py).
    `postcodes`: a postcode lookup file, to tell which placements are within 20 miles of home (distances.py)."""
    lookup = read_postcode_lookup(postcodes) if postcodes is not None else None
    history = read_ssda903(folder, la=la, short_breaks=short_breaks, postcodes=lookup)
    return history if population == EVERYONE else filter_population(history, population)


def write_calibration(
    folder: Path,
    as_of: dt.date,
    out: Path,
    command: str,
    la: str | None = None,
    window_years: int = 3,
    *,
    reference_start: dt.date | None = None,
    reference_end: dt.date | None = None,
    short_breaks: str = "exclude",
    population: Population = EVERYONE,
    dfe_rules: bool = False,
    postcodes: Path | None = None,
) -> tuple[Path, Path]:
    """Read (`read_chosen`), calibrate (on the reference period, see `reference_period`) and write the scenario and
    calibration_report.html next to it; `dfe_rules` also runs the DfE's validation rules for the report.

    Each file replaces an existing one only if `sufficiency calibrate` wrote it (InputError before anything is
    read otherwise), through a temporary sibling and os.replace (see sim.present.output_folders).
    """
    from sim.present.output_folders import CALIBRATE_HEADER, check_out_file, replace_file

    out = Path(out)
    report = out.with_name("calibration_report.html")
    report_label = f"--out {out}: {report.name} next to it"
    check_out_file(out)
    check_out_file(report, report_label)
    history = read_chosen(folder, la, short_breaks, population, postcodes)
    result = calibrate(history, as_of, window_years, reference_start=reference_start, reference_end=reference_end)
    name = out.stem
    text = scenario_text(result, name, command)
    build_scenario(result, name)  # validate before anything is written
    replace_file(out, text)
    dfe = run_dfe_rules(folder, la) if dfe_rules else (None, NOT_ASKED)
    page = report_html(result, name, dfe)
    replace_file(report, f"<!-- {CALIBRATE_HEADER} -->\n" + page, report_label)
    return out, report
