"""Turn fitted parameters into a commented scenario file.

The price book is not fitted: it lives in `scenarios/<authority>/prices.toml`, written by hand with a
source for every price, and the generated baseline `extends` it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration import priors
from calibration.fit import FINITE_POOLS, POOL_BY_NAME, POOLS, UASC_BAND, Fit, Targets, TransferScheme, Value
from calibration.market import Market, add_market, fallback_pools
from sim.engine.toml_writer import Comments, to_toml
from sim.engine.vocabulary import AGE_BANDS, DAYS_PER_YEAR, REMAND_BANDS

if TYPE_CHECKING:
    from calibration.authorities import ParentChildAndRemand
    from calibration.history import HistoryFit

MATCHING = {
    "fostering": (["inhouse_fostering", "ifa"], []),
    "kinship_fostering": (["kinship"], []),
    "residential": (["inhouse_homes", "external_homes"], ["emergency"]),
    "secure": (["secure"], []),
    "supported_16plus": (["inhouse_supported", "external_supported"], []),
    "placed_with_parents": (["placed_with_parents"], []),
    "placed_for_adoption": (["adopters"], []),
    "other": (["other_placements"], []),
}
YOUTH_DETENTION = {  # the remand pool, in the published baselines and the SSDA903 calibration alike
    "description": "youth detention accommodation (young offender institutions, secure training centres, secure "
    "children's homes), placed by the Youth Custody Service",
    "serves": ["remand"],
    "in_house": False,
    "capacity": "unlimited",
    "within_20_miles": 1.0,
}
YOUTH_DETENTION_LOCAL = (
    "assumption: the court and the Youth Custody Service choose the place, not the authority's sufficiency: "
    "counted as local so that no remand shows as a gap"
)
SPECIAL_MATCHING = {  # with entries.remand and parent-and-child babies (ParentChildAndRemand)
    "parent_and_child": (["inhouse_parent_child", "external_parent_child"], []),
    "remand": (["youth_detention"], []),
}
ASSESSMENT_DAYS = 84.0
ASSESSMENT_SOURCE = (
    "a residential parenting assessment 'will quite often last for 12 weeks' (https://stephens-scown.co.uk/family/"
    "children-issues/residential-parenting-assessments-within-care-proceedings); assumption: a foster "
    "parent-and-child assessment lasts as long"
)
# Assumption: half the babies stay placed with their parent after the assessment and half are separated into foster
# care (then home, adoption or a guardianship by the band's routes); no outcome split is in the reference documents.
PARENT_CHILD_HOME_SHARE = 0.5
# The mean remand to youth detention accommodation, by Little's law from the Youth Justice Statistics 2019/20 (YJB /
# MoJ, ch. 6, https://www.gov.uk/government/statistics/youth-justice-statistics-2019-to-2020): 240 children on
# remand in youth custody at a time over about 2,300 remands to youth detention a year (12% of 19,200 episodes).
REMAND_MEAN_DAYS = 38.0
REMAND_SOURCE = (
    "derived: Little's law on the Youth Justice Statistics 2019/20, ch. 6 (240 children on remand in youth custody "
    "over 12% of 19,200 remand episodes a year: 240 / 2,304 x 365.25 = 38 days); assumption: exponential"
)
FOSTER_ASSESSMENT_NOTE = "assessment time from approval decision to first placement"
# A Poisson count below one says next to nothing about its rate: assumption, its spread is taken as one count's
# (an sd of 1 on the log scale, a factor of 2.7 either way), and a need with fewer children is not drawn.
MIN_POISSON_COUNT = 1.0


def build_document(
    targets: Targets,
    fitted: Fit,
    command: str,
    prices: str = "prices.toml",
    market: Market | None = None,
    special: ParentChildAndRemand | None = None,
) -> str:
    """The baseline TOML; `market` (calibration/market.py) makes the external pools finite by search, with
    fallbacks; without it every external pool is always found (the history fit's unconstrained origin).
    `special` adds parent-and-child babies and the remand stream, with their pools and matching."""
    document: dict[str, Any] = {}
    comments: Comments = {}
    _top(document, comments, targets, prices)
    _start_population(document, comments, targets, fitted)
    _entries(document, comments, targets, fitted)
    _journeys(document, comments, fitted)
    _pools(document, comments, targets, fitted)
    _matching(document, comments)
    _special_pools(document, comments)  # always: the price book prices them
    if special is not None:
        _parent_and_child(document, comments, special)
        _remand(document, comments, targets, special)
        _special_needs_at_start(document, comments, targets, special)
    if market is not None:
        add_market(document, comments, market)
    _leaving_care_and_adoption(document, comments, fitted)
    _complexity(document, comments)
    if market is not None:  # the history fit's unconstrained origin has no breakdowns either
        _breakdowns(document, comments, targets)
    _uncertainty(document, comments, targets, fitted)
    header = _header(targets, fitted, command, prices, market)
    return to_toml(document, header, comments=comments, significant=6)


def _header(targets: Targets, fitted: Fit, command: str, prices: str, market: Market | None) -> list[str]:
    return [
        "=" * 100,
        f"{targets.display_name}: baseline calibrated from published figures as of {targets.as_of}",
        "",
        f"Written by: {command}",
        "Do not edit by hand: change calibration/data or the fitting code and run the command again.",
        "Every parameter says where it comes from: a source line (document file:line), a derivation, or",
        f"'assumption: why'. The price book is in {prices}, which this file extends.",
        "",
        "How it was fitted (calibration/fit.py):",
        *_entries_and_stays(targets, fitted),
        "- first placement needs by age band reproduce the published stock by need;",
        "- the starting population splits the published stock over age bands and pools (IPF);",
        "- in-house foster places: the Erlang loss capacity that carries the published in-house count.",
        *(_market_lines(market) if market is not None else []),
        *([""] + ["Notes:"] + [f"- {note}" for note in targets.notes] if targets.notes else []),
        "=" * 100,
    ]


def _market_lines(market: Market) -> list[str]:
    return [
        "- the market (calibration/market.py): agency foster and supported places found by "
        f"{market.agencies.value:.1%} of searches, external homes by {market.homes.value:.1%}, secure beds by "
        f"{market.secure.value:.0%}; the rest go to an emergency placement and search again, an unregistered "
        "placement, or a deprivation of liberty order.",
    ]


def _entries_and_stays(targets: Targets, fitted: Fit) -> list[str]:
    """How the entry rate, its trend and the stays were fitted: to the dated history, or by Little's law."""
    entries = sum(v.value for v in fitted.entry_rate.values()) + (fitted.uasc_rate.value if fitted.uasc_rate else 0.0)
    steady = f"entries x mean stay = {fitted.expected_stock:.1f} children against the published {targets.stock.value:g}"
    if fitted.history is None:
        return [
            f"- entries {entries:.1f} a year; mean stay {fitted.mean_stay_days:.0f} days; {steady} (Little's law);",
            f"- durations: national shapes by exit route scaled by {fitted.duration_scale.value:.4f};",
        ]
    history = fitted.history
    sd = history.sd()
    pairs = zip(history.figures, history.fitted, strict=True)
    lines = [
        f"- entries, their trend and the stays fitted together to {len(history.figures)} published figures from "
        f"{history.origin} to {targets.as_of} (calibration/history.py), projected from the stock on {history.origin}:",
        *[f"    {_figure(figure)} -> fitted {value:.1f}" for figure, value in pairs],
        *[f"    not used: {reason}" for reason in history.left_out],
        f"- entries {entries:.1f} a year on {targets.as_of}, trend {fitted.trend_percent.value:.2f}% a year (sd "
        f"{100 * sd[1]:.2f} points); durations: national shapes by exit route scaled by "
        f"{fitted.duration_scale.value:.4f} (sd of the log {sd[2]:.3f}); mean stay {fitted.mean_stay_days:.0f} days;",
        f"- the trend then fades toward the prior's {100 * history.priors.trend.mean:.2f}% a year, halving its "
        f"distance every {_fade_half_life(targets, history):.2f} "
        "years (entries.trend_fade);",
        f"- the stock is not assumed steady: at these rates the steady state is {fitted.expected_stock:.1f} "
        f"children, against the published {targets.stock.value:g};",
        f"- priors: entries {history.priors.log_entries.source}; trend {history.priors.trend.source}; stays "
        f"{history.priors.log_stay_scale.source};",
    ]
    return lines


def _figure(figure) -> str:
    what = {"stock": "children in care", "admissions": "admissions", "discharges": "discharges"}[figure.kind]
    when = f"on {figure.date}" if figure.start is None else f"{figure.start} to {figure.date}"
    return f"{what} {when}: {figure.value:g} ({figure.source})"


def _uncertainty(document: dict, comments: Comments, targets: Targets, fitted: Fit) -> None:
    """Per-replication draws of the fitted parameters: the history fit's covariance for demand, and a Poisson
    spread for the carers' flows and the placement mix (decision 0014)."""
    uncertainty: dict[str, Any] = {}
    if fitted.history is not None:
        uncertainty["demand"] = _demand_spread(targets, fitted.history)
        comments["uncertainty.demand"] = (
            "each replication draws its entry rate, trend and stay scale from these (--fixed-parameters: none)"
        )
    uncertainty["supply"] = _supply_spread(targets)
    comments["uncertainty.supply"] = "each replication draws its carers' approvals and deregistrations a year"
    uncertainty["placement_mix"] = _mix_spread(targets, fitted)
    comments["uncertainty.placement_mix"] = "each replication draws its shares of first placement needs"
    document["uncertainty"] = uncertainty


def _demand_spread(targets: Targets, history: HistoryFit) -> dict[str, Any]:
    """The history fit's covariance, moved from the origin to the as-of date."""
    years = _history_years(targets, history)
    # log rate on the as-of date = log rate on the origin + years x log(1 + trend): its Jacobian
    jacobian = np.array([[1.0, years / (1.0 + history.trend), 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    covariance = jacobian @ history.covariance @ jacobian.T
    sd = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(sd, sd)
    return {
        "entry_rate_sd_log": round(float(sd[0]), 4),
        "trend_sd_points": round(100.0 * float(sd[1]), 3),
        "stay_scale_sd_log": round(float(sd[2]), 4),
        "correlation": [[round(float(c), 4) for c in row] for row in correlation],
        "source": f"the history fit's covariance (calibration/history.py), {len(history.figures)} published "
        f"figures from {history.origin} to {targets.as_of}, moved to {targets.as_of}",
    }


def _supply_spread(targets: Targets) -> dict[str, Any]:
    """A rate seen once as a year's count n is known to about 1/sqrt(n) on the log scale (Poisson)."""
    approvals, leaving = _carer_flows(targets)

    def spread(flow: Value, published: bool) -> tuple[float, str]:
        sd = max(flow.value, MIN_POISSON_COUNT) ** -0.5
        how = "a year's published count" if published else "assumption: the national rate, as if a year's count"
        return round(sd, 4), f"{how} of {flow.value:.3g} households, 1/sqrt(count)"

    approvals_sd, approvals_note = spread(approvals, targets.foster_approvals is not None)
    leaving_sd, leaving_note = spread(leaving, targets.foster_deregistrations is not None)
    return {
        "approvals_sd_log": approvals_sd,
        "deregistrations_sd_log": leaving_sd,
        "source": f"Poisson: approvals {approvals_note} ({approvals.comment}); deregistrations {leaving_note} "
        f"({leaving.comment}); a lower bound where the rate is national, since it may not hold locally",
    }


def _mix_spread(targets: Targets, fitted: Fit) -> dict[str, Any]:
    """The children each drawn first need's share was fitted to (the published stock by need, as of)."""
    first_needs = {need for shares in fitted.first_need.values() for need, share in shares.items() if share > 0}
    children = {
        need: round(count, 1)
        for need, count in sorted(fitted.need_stock.items())
        if need in first_needs and count >= MIN_POISSON_COUNT
    }
    return {
        "children": children,
        "source": f"the children in care by placement need on {targets.as_of} the first-need shares were fitted to "
        "(the start population's sources); Dirichlet: each share's weight is Gamma(children, 1) / children",
    }


def _top(document: dict, comments: Comments, targets: Targets, prices: str) -> None:
    document.update(
        name=f"{targets.authority}_baseline",
        description=f"{targets.display_name} baseline calibrated from published figures as of {targets.as_of}",
        extends=prices,
        seed=targets.seed,
        horizon={"start": targets.as_of, "years": targets.horizon_years},
    )
    comments["extends"] = "the price book, with a source for every price"
    comments["seed"] = "assumption: any fixed seed; results are reproducible for a given seed"
    comments["horizon.start"] = f"the as-of date of the calibration ({targets.stock.comment})"
    comments["horizon.years"] = "assumption: a ten-year planning horizon"


def _start_population(document: dict, comments: Comments, targets: Targets, fitted: Fit) -> None:
    groups = []
    for (band, pool), count in sorted(fitted.start_counts.items(), key=lambda item: (item[0][1], item[0][0])):
        index = len(groups)
        groups.append(
            {
                "age_band": band,
                "need": POOL_BY_NAME[pool].need,
                "pool": pool,
                "count": count,
                "days_in_care": fitted.elapsed_days[band],
            }
        )
        comments[f"start_population.groups.#{index}.count"] = (
            f"IPF of {targets.placements[pool].value:g} in {pool} ({targets.placements[pool].comment}) "
            f"over age bands ({targets.stock_age_shares[band].comment})"
        )
        comments[f"start_population.groups.#{index}.days_in_care"] = (
            "derived: mean time already in care of a stock in equilibrium, E[S^2]/(2E[S]) of the fitted stays"
        )
    document["start_population"] = {"groups": groups}
    if fitted.staying_put_at_start:
        document["start_population"]["staying_put"] = [
            {"pool": pool, "count": count} for pool, count in fitted.staying_put_at_start.items()
        ]
        for index in range(len(fitted.staying_put_at_start)):
            comments[f"start_population.staying_put.#{index}.count"] = (
                f"young people Staying Put on the start date: {fitted.staying_put_at_start_source}"
            )
    older = sum(count for (band, _), count in fitted.start_counts.items() if band == UASC_BAND)
    if targets.uasc_in_care is not None and older:
        document["start_population"]["uasc"] = min(round(targets.uasc_in_care.value), older)
        comments["start_population.uasc"] = (
            f"{targets.uasc_in_care.comment}, latest by the as-of date; assumption: aged 16-17 (chosen at random "
            "among them)"
        )


def _entries(document: dict, comments: Comments, targets: Targets, fitted: Fit) -> None:
    document["entries"] = {
        "trend_percent_per_year": round(fitted.trend_percent.value, 4),
        "male_share": round(targets.male_share.value, 4),
        "rate_per_year": {band: round(fitted.entry_rate[band].value, 4) for band in AGE_BANDS},
        "need_mix": _sum_to_one({code: round(value.value, 6) for code, value in targets.need_mix.items()}),
    }
    comments["entries.trend_percent_per_year"] = fitted.trend_percent.comment
    if fitted.history is not None:
        _trend_fade(document, comments, targets, fitted.history)
    comments["entries.male_share"] = targets.male_share.comment
    for band in AGE_BANDS:
        comments[f"entries.rate_per_year.{band}"] = fitted.entry_rate[band].comment
    for code, value in targets.need_mix.items():
        comments[f"entries.need_mix.{code}"] = value.comment
    if fitted.uasc_rate is not None:
        document["entries"]["uasc"] = {
            "rate_per_year": round(fitted.uasc_rate.value, 4),
            "age_mix": {UASC_BAND: 1.0},
            "trend_percent_per_year": 0.0,
        }
        comments["entries.uasc.rate_per_year"] = fitted.uasc_rate.comment
        comments["entries.uasc.trend_percent_per_year"] = (
            "assumption: UASC arrivals follow Home Office dispersal, not the local trend; held flat"
        )
    if targets.transfer_scheme is not None:
        _transfer_scheme(document, comments, targets.transfer_scheme)


MIN_FADE_HALF_LIFE_YEARS = 1.0  # assumption: a trend fitted to one snapshot (its prior) still holds for a year


def _trend_fade(document: dict, comments: Comments, targets: Targets, history: HistoryFit) -> None:
    """The fitted trend fades toward the trend prior, trusted about as far ahead as its figures reach back
    (decision 0013): a trend fitted to 21 months is no guide to year ten."""
    span = _history_years(targets, history)
    document["entries"]["trend_fade"] = {
        "to_percent_per_year": round(100.0 * history.priors.trend.mean, 4),
        "half_life_years": round(_fade_half_life(targets, history), 2),
    }
    comments["entries.trend_fade.to_percent_per_year"] = f"the history fit's trend prior: {history.priors.trend.source}"
    comments["entries.trend_fade.half_life_years"] = (
        f"assumption (docs/decisions/0013): the fitted trend halves its distance to the prior in as long as its "
        f"figures span, {history.origin} to {targets.as_of} ({span:.2f} years; at least {MIN_FADE_HALF_LIFE_YEARS:g})"
    )


def _fade_half_life(targets: Targets, history: HistoryFit) -> float:
    """As long as the history's figures span, and at least `MIN_FADE_HALF_LIFE_YEARS`."""
    return max(_history_years(targets, history), MIN_FADE_HALF_LIFE_YEARS)


def _history_years(targets: Targets, history: HistoryFit) -> float:
    """Years from the history fit's origin to the as-of date."""
    return (targets.as_of - history.origin).days / DAYS_PER_YEAR


def _transfer_scheme(document: dict, comments: Comments, scheme: TransferScheme) -> None:
    uasc = document["entries"].setdefault("uasc", {"rate_per_year": 0.0, "age_mix": {UASC_BAND: 1.0}})
    if uasc["rate_per_year"] == 0.0:
        comments["entries.uasc.rate_per_year"] = "no asylum-seeking children are published in care: none arrive"
    uasc["national_transfer_scheme"] = {
        "child_population": int(scheme.child_population.value),
        "threshold_share": priors.TRANSFER_SCHEME_THRESHOLD.value,
        "from_date": dt.date.fromisoformat(priors.TRANSFER_SCHEME_FROM),
        "offers_per_year": scheme.offers_per_year.value,
        "note": "the National Transfer Scheme: offered children are taken below the threshold, arrivals at it are "
        "transferred out",
    }
    key = "entries.uasc.national_transfer_scheme"
    comments[f"{key}.child_population"] = scheme.child_population.comment
    comments[f"{key}.threshold_share"] = priors.TRANSFER_SCHEME_THRESHOLD.source
    comments[f"{key}.from_date"] = priors.TRANSFER_SCHEME_FROM_SOURCE
    comments[f"{key}.offers_per_year"] = scheme.offers_per_year.comment


def _journeys(document: dict, comments: Comments, fitted: Fit) -> None:
    shapes = {
        route: {
            **spec,
            "mean": round(spec["mean"] * fitted.duration_scale.value, 2),
            "sd": round(spec["sd"] * fitted.duration_scale.value, 2),
        }
        for route, spec in priors.DURATION_SHAPES.items()
    }
    journeys = {}
    for band in AGE_BANDS:
        routes = {route: round(share, 6) for route, share in fitted.exit_routes[band].items()}
        routes = _sum_to_one(routes)
        duration = {route: shapes[route] for route in routes if route in shapes}
        if "adoption" in routes:
            duration["adoption"] = dict(priors.ADOPTION_READINESS)
        journeys[band] = {
            "exit_routes": routes,
            "duration": duration,
            "first_need": _sum_to_one(fitted.first_need[band]),
        }
        comments[f"journeys.{band}.exit_routes"] = fitted.exit_routes_source
        for route in duration:
            comments[f"journeys.{band}.duration.{route}"] = (
                priors.ADOPTION_SOURCE
                if route == "adoption"
                else f"{priors.DURATION_SOURCE} {fitted.duration_scale.value:.4f} ({fitted.duration_scale.comment})"
            )
        comments[f"journeys.{band}.first_need"] = (
            "fitted: shares that reproduce the published stock by placement need (" + _ALLOWED_NOTE + ")"
        )
    document["journeys"] = journeys


_ALLOWED_NOTE = "assumption: children's homes and secure from 10, supported accommodation from 16"


def _pools(document: dict, comments: Comments, targets: Targets, fitted: Fit) -> None:
    pools: dict[str, Any] = {}
    external_share = fitted.within_20_miles_external
    for spec in POOLS:
        pool: dict[str, Any] = {"description": spec.description, "serves": [spec.need], "in_house": spec.in_house}
        if spec.name == "emergency":
            pool["serves"] = ["residential", "fostering", "supported_16plus"]
        pool["capacity"] = "unlimited"
        if spec.min_age:
            pool["min_age"] = spec.min_age
            comments[f"pools.{spec.name}.min_age"] = "assumption: usual registration age range"
        pool["within_20_miles"] = 1.0 if spec.in_house else external_share.value
        comments[f"pools.{spec.name}.within_20_miles"] = (
            "assumption: in-house placements are local" if spec.in_house else external_share.comment
        )
        pools[spec.name] = pool
    pools["inhouse_fostering"]["capacity"] = int(fitted.inhouse_foster_places.value)
    comments["pools.inhouse_fostering.capacity"] = "approved places: " + fitted.inhouse_foster_places.comment
    _usable(pools, comments, "inhouse_fostering", fitted.foster_usable_share)
    households = targets.foster_households
    approvals, deregistrations = _carer_flows(targets)
    pools["inhouse_fostering"]["fostering"] = {
        "households": round(households.value),
        "places_per_household": fitted.places_per_household,
        "approvals_per_year": round(approvals.value, 3),
        "assessment_delay_days": round(targets.assessment_days.value, 1),
        "deregistrations_per_year": round(deregistrations.value, 3),
    }
    base = "pools.inhouse_fostering.fostering"
    comments[f"{base}.households"] = households.comment
    comments[f"{base}.places_per_household"] = "derived: the approved places per household, as a mix of two sizes"
    comments[f"{base}.approvals_per_year"] = approvals.comment
    comments[f"{base}.assessment_delay_days"] = targets.assessment_days.comment
    comments[f"{base}.deregistrations_per_year"] = deregistrations.comment
    pools["inhouse_homes"]["capacity"] = int(targets.inhouse_home_beds.value)
    pools["inhouse_homes"]["homes"] = int(targets.inhouse_homes.value)
    comments["pools.inhouse_homes.capacity"] = targets.inhouse_home_beds.comment
    comments["pools.inhouse_homes.homes"] = targets.inhouse_homes.comment
    if targets.inhouse_home_usable_share is not None:
        _usable(pools, comments, "inhouse_homes", targets.inhouse_home_usable_share)
    pools["inhouse_supported"]["capacity"] = int(targets.inhouse_supported_beds.value)
    comments["pools.inhouse_supported.capacity"] = targets.inhouse_supported_beds.comment
    for name in FINITE_POOLS:
        _raise_capacity_to_start(pools, name, fitted, comments)
    fallback_pools(pools, comments, external_share)
    document["pools"] = pools


def _breakdowns(document: dict, comments: Comments, targets: Targets) -> None:
    """Unplanned endings of foster placements (Targets.breakdowns); none before a figure is published."""
    if not targets.breakdowns:
        return
    document["breakdowns"] = {
        "note": "unplanned placement endings: each is a new search, an emergency placement when none finds a place",
        "by_pool": {pool: {"per_year": v.value, "note": v.comment} for pool, v in targets.breakdowns.items()},
    }


def _complexity(document: dict, comments: Comments) -> None:
    """The complexity tiers the price book's external homes price by (priors.COMPLEXITY_SOURCE)."""
    document["complexity"] = {
        "tiers": list(priors.COMPLEXITY_TIERS),
        "shares_by_age_band": {band: dict(priors.COMPLEXITY_SHARES) for band in AGE_BANDS},
        "odds_by_first_need": {"residential": dict(priors.COMPLEXITY_RESIDENTIAL_ODDS)},
        "note": priors.COMPLEXITY_SOURCE,
    }
    comments["complexity.odds_by_first_need"] = (
        "derived: the odds of 25% complex and 10% solo against 65% standard over those of 6% and 2% against 92%"
    )


def _usable(pools: dict, comments: Comments, name: str, share: Value) -> None:
    if share.value < 1.0:
        pools[name]["usable_share"] = share.value
        comments[f"pools.{name}.usable_share"] = share.comment


def _carer_flows(targets: Targets) -> tuple[Value, Value]:
    """Households approved and deregistered a year: the published counts, or the national rates x households."""
    households = targets.foster_households
    approvals = targets.foster_approvals or _national_rate(households, priors.FOSTER_JOIN_RATE)
    deregistrations = targets.foster_deregistrations or _national_rate(households, priors.FOSTER_LEAVE_RATE)
    return approvals, deregistrations


def _national_rate(households: Value, rate) -> Value:
    return Value(households.value * rate.value, f"assumption: national rate x households ({rate.source})")


def _raise_capacity_to_start(pools: dict, name: str, fitted: Fit, comments: Comments) -> None:
    """A finite pool cannot start fuller than its usable places: raise its approved places (and say so) if the
    data disagree."""
    starting = sum(count for (_, pool), count in fitted.start_counts.items() if pool == name)
    starting += fitted.staying_put_at_start.get(name, 0)
    share = pools[name].get("usable_share", 1.0)
    if starting > math.floor(pools[name]["capacity"] * share + 1e-9):
        needed = math.ceil(starting / share - 1e-9)
        comments[f"pools.{name}.capacity"] += (
            f"; raised from {pools[name]['capacity']} to {needed}, whose usable places hold the {starting} children "
            "it holds on the start date"
        )
        pools[name]["capacity"] = needed


def _matching(document: dict, comments: Comments) -> None:
    document["matching"] = {
        need: {"pools": pools, "fallback": fallback} for need, (pools, fallback) in MATCHING.items()
    }
    for need in MATCHING:
        comments[f"matching.{need}.pools"] = "assumption: in-house first, then the external market"


def _leaving_care_and_adoption(document: dict, comments: Comments, fitted: Fit) -> None:
    document["step_back"] = {"enabled": False}
    comments["step_back.enabled"] = "assumption: no published step-back practice"
    document["leaving_care"] = {"staying_put": {"probability": fitted.staying_put_probability.value}}
    comments["leaving_care.staying_put.probability"] = fitted.staying_put_probability.comment
    document["adoption"] = {
        "first_need": "fostering",
        "adopter_approvals_per_year": "unlimited",
        "time_to_order": dict(priors.ADOPTION_TIME_TO_ORDER),
    }
    comments["adoption.adopter_approvals_per_year"] = (
        "assumption: the regional adoption agency finds adopters without delay (no approval counts published)"
    )
    comments["adoption.time_to_order"] = priors.ADOPTION_SOURCE


def _parent_and_child(document: dict, comments: Comments, special: ParentChildAndRemand) -> None:
    """Babies entering with a parent for an assessment: a share of the under-1 first need taken from fostering and
    placed with parents (where they go after it), so the stock after the assessment is the fitted one."""
    entries = special.parent_child_in_care.value * DAYS_PER_YEAR / ASSESSMENT_DAYS  # Little's law
    journey = document["journeys"]["under1"]
    not_adopted = 1.0 - journey["exit_routes"].get("adoption", 0.0)  # adoption plans start in adoption.first_need
    first = journey["first_need"]
    wanted = entries / (document["entries"]["rate_per_year"]["under1"] * not_adopted)
    share = min(
        wanted,
        first.get("placed_with_parents", 0.0) / PARENT_CHILD_HOME_SHARE,
        first.get("fostering", 0.0) / (1 - PARENT_CHILD_HOME_SHARE),
    )
    share = round(share, 6)
    first["placed_with_parents"] = round(first["placed_with_parents"] - share * PARENT_CHILD_HOME_SHARE, 6)
    first["fostering"] = round(first["fostering"] - share * (1 - PARENT_CHILD_HOME_SHARE), 6)
    first["parent_and_child"] = share
    journey["first_need"] = _sum_to_one(first)
    after = {"distribution": "fixed", "days": ASSESSMENT_DAYS}
    journey["moves"] = [
        {
            "from_need": "parent_and_child",
            "to_need": "placed_with_parents",
            "probability": PARENT_CHILD_HOME_SHARE,
            "after_days": after,
        },
        {
            "from_need": "parent_and_child",
            "to_need": "fostering",
            "probability": 1 - PARENT_CHILD_HOME_SHARE,
            "after_days": after,
        },
    ]
    comments["journeys.under1.first_need"] += (
        f"; parent_and_child {entries:.2f} babies a year by Little's law ({special.parent_child_in_care.comment}; "
        f"over {ASSESSMENT_DAYS:g} days), taken from fostering and placed_with_parents as they leave it"
    )
    comments["journeys.under1.moves"] = (
        f"the assessment: {ASSESSMENT_SOURCE}; assumption: {PARENT_CHILD_HOME_SHARE:g} stay placed with their parent, "
        "the rest go to foster care (no outcome split is published)"
    )


def _special_pools(document: dict, comments: Comments) -> None:
    """The pools and matching of parent-and-child placements and remand, in every document (the price book prices
    the pools); without ParentChildAndRemand no child needs them."""
    pools, external = document["pools"], document["pools"]["ifa"]["within_20_miles"]
    pools["inhouse_parent_child"] = {
        "description": "in-house parent-and-child foster carers",
        "serves": ["parent_and_child"],
        "in_house": True,
        "capacity": 1,
        "within_20_miles": 1.0,
    }
    comments["pools.inhouse_parent_child.capacity"] = (
        "assumption: one approved parent-and-child household; neither document counts them (Cheshire East plans more, "
        "cheshire_east_sufficiency_2016_2017.md L443-444)"
    )
    comments["pools.inhouse_parent_child.within_20_miles"] = "assumption: in-house placements are local"
    pools["external_parent_child"] = {
        "description": "agency parent-and-child carers and residential family assessment centres",
        "serves": ["parent_and_child"],
        "in_house": False,
        "capacity": "unlimited",
        "within_20_miles": external,
    }
    comments["pools.external_parent_child.capacity"] = (
        "assumption: always found (the North West foster purchasing system has a parent and child lot, "
        "stockport_sufficiency_2019.md L536)"
    )
    comments["pools.external_parent_child.within_20_miles"] = "assumption: as the agency foster carers"
    options, fallback = SPECIAL_MATCHING["parent_and_child"]
    document["matching"]["parent_and_child"] = {"pools": options, "fallback": fallback}
    comments["matching.parent_and_child.pools"] = "assumption: in-house first, then the external market"
    document["pools"]["youth_detention"] = dict(YOUTH_DETENTION)
    comments["pools.youth_detention.capacity"] = "assumption: the Youth Custody Service always places a remanded child"
    comments["pools.youth_detention.within_20_miles"] = YOUTH_DETENTION_LOCAL
    options, fallback = SPECIAL_MATCHING["remand"]
    document["matching"]["remand"] = {"pools": options, "fallback": fallback}
    comments["matching.remand.pools"] = "the Youth Custody Service places every remand to youth detention"


def _remand(document: dict, comments: Comments, targets: Targets, special: ParentChildAndRemand) -> None:
    """Children remanded to youth detention accommodation: a stream of its own (entries.remand), its rate by
    Little's law from the published share on remand, in an unlimited pool of its own."""
    in_care = special.remand_share.value * targets.stock.value
    rate = round(in_care * DAYS_PER_YEAR / REMAND_MEAN_DAYS, 4)
    journey = {
        "exit_routes": {"other": 1.0},
        "duration": {"other": {"distribution": "exponential", "mean": REMAND_MEAN_DAYS}},
        "first_need": {"remand": 1.0},
    }
    document["entries"]["remand"] = {
        "rate_per_year": rate,
        "journeys": {band: journey for band in REMAND_BANDS},
        "note": "remanded to youth detention accommodation; looked after for the remand only, then leaves care (E14)",
    }
    comments["entries.remand.rate_per_year"] = (
        f"derived: {in_care:.2f} children on remand ({special.remand_share.comment} x {targets.stock.value:g} in care) "
        f"over a mean remand of {REMAND_MEAN_DAYS:g} days (Little's law)"
    )
    for band in REMAND_BANDS:
        comments[f"entries.remand.journeys.{band}.duration.other"] = REMAND_SOURCE
        comments[f"entries.remand.journeys.{band}.exit_routes"] = (
            "SSDA903 reason E14, accommodation on remand ended (stockport_sufficiency_2019.md L665), counted as other"
        )


def _special_needs_at_start(
    document: dict, comments: Comments, targets: Targets, special: ParentChildAndRemand
) -> None:
    """The children in a parent-and-child placement or on remand on the start date, moved out of `other_placements`
    (where the placement-code fit counts R3 and R5) into the needs of their own, so they start there."""
    on_remand = Value(
        special.remand_share.value * targets.stock.value,
        f"{special.remand_share.comment} x {targets.stock.value:g} in care",
    )
    moves = (
        (
            "parent_and_child",
            "inhouse_parent_child",
            "under1",
            special.parent_child_in_care,
            ASSESSMENT_DAYS / 2,
            "assumption: a baby, as the entrants with a parent; derived: half of a fixed assessment in care already",
        ),
        (
            "remand",
            "youth_detention",
            "16-17",
            on_remand,
            REMAND_MEAN_DAYS,
            "assumption: aged 16-17; derived: the mean time already on remand of an exponential remand is its mean",
        ),
    )
    groups = document["start_population"]["groups"]
    for need, pool, band, figure, elapsed, why in moves:
        index = next(
            (i for i, g in enumerate(groups) if g["pool"] == "other_placements" and g["age_band"] == band), None
        )
        count = min(round(figure.value), groups[index]["count"]) if index is not None else 0
        if count == 0:
            continue
        groups[index]["count"] -= count
        comments[f"start_population.groups.#{index}.count"] += f"; less {count} starting in {need} (below)"
        groups.append({"age_band": band, "need": need, "pool": pool, "count": count, "days_in_care": elapsed})
        where = f"start_population.groups.#{len(groups) - 1}"
        comments[f"{where}.count"] = f"{figure.comment}, rounded; taken from other_placements aged {band}; {why}"


def _sum_to_one(shares: dict[str, float]) -> dict[str, float]:
    """Rounded shares adjusted on the largest so they sum to 1 within the schema's tolerance."""
    total = sum(shares.values())
    largest = max(shares, key=shares.get)
    adjusted = dict(shares)
    adjusted[largest] = round(adjusted[largest] + 1.0 - total, 6)
    return adjusted
