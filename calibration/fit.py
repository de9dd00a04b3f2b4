"""Fitting a scenario to published aggregates: stocks, flows, placement mix, capacity.

Most authorities publish only totals, so each parameter is fitted by a step that can be explained
in a sentence and checked:

- entry rates by age band: the published admissions (or, lacking them, the stock over the national
  mean stay), split by age at entry so that the stock's age-at-entry mix is reproduced;
- durations: national shapes by exit route, scaled by one factor so that Little's law holds
  (stock = entries x mean stay) at the as-of date;
- first placement needs: shares by age band that reproduce the published stock by need;
- the starting population: iterative proportional fitting of the age-band and placement margins;
- in-house foster capacity: the capacity at which an Erlang loss pool carries the published in-house
  count out of the published fostering demand;
- Staying Put: the probability that gives the published number staying put.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from calibration import priors
from calibration.history import HistoryFit
from calibration.published_data import CalibrationDataError
from sim.analysis.sizing import erlang_b
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR

AGE_POINTS = 24  # ages per band over which stays capped at the 18th birthday are averaged
SCALE_BOUNDS = (0.02, 50.0)  # the duration scale searched: stays of 1/50 to 50 times the national shapes
STAYING_PUT_YEARS = 3.0  # 18 to 21, the schema's default until_age, with no duration drawn
STAYING_PUT_POOLS = ("inhouse_fostering", "ifa", "kinship")  # the pools serving fostering or kinship fostering
UASC_BAND = "16-17"  # assumption: unaccompanied asylum-seeking children arrive aged 16-17 (the schema's default mix)


@dataclass(frozen=True)
class Value:
    """A number and where it comes from (a source line, a derivation, or 'assumption: why')."""

    value: float
    comment: str


@dataclass(frozen=True)
class PoolSpec:
    """One pool of the fitted scenario, mapped to the placement need it serves."""

    name: str
    need: str
    in_house: bool
    description: str
    min_age: float = 0.0
    max_age: float = 18.0


POOLS = (
    PoolSpec("inhouse_fostering", "fostering", True, "the authority's own foster carers"),
    PoolSpec("ifa", "fostering", False, "independent fostering agencies"),
    PoolSpec("kinship", "kinship_fostering", True, "family and friends (kinship) foster carers"),
    PoolSpec("inhouse_homes", "residential", True, "in-house children's homes", min_age=8.0),
    PoolSpec("external_homes", "residential", False, "private and voluntary children's homes, residential schools"),
    PoolSpec("secure", "secure", False, "secure children's homes"),
    PoolSpec("inhouse_supported", "supported_16plus", True, "in-house supported accommodation 16+", min_age=16.0),
    PoolSpec("external_supported", "supported_16plus", False, "external supported accommodation 16+"),
    PoolSpec("placed_with_parents", "placed_with_parents", True, "placed with parents"),
    PoolSpec("adopters", "placed_for_adoption", True, "placed with adopters"),
    PoolSpec("other_placements", "other", False, "other placements"),
    PoolSpec("emergency", "residential", False, "emergency / unregistered placements (last resort)"),
)
POOL_BY_NAME = {pool.name: pool for pool in POOLS}
FINITE_POOLS = ("inhouse_fostering", "inhouse_homes", "inhouse_supported")

# Which placement needs each age band's entrants can start in (structural zeros of the fit).
ALLOWED_NEEDS: dict[str, tuple[str, ...]] = {
    "under1": ("fostering", "kinship_fostering", "placed_with_parents", "other"),
    "1-4": ("fostering", "kinship_fostering", "placed_with_parents", "other"),
    "5-9": ("fostering", "kinship_fostering", "placed_with_parents", "other"),
    "10-15": ("fostering", "kinship_fostering", "residential", "secure", "placed_with_parents", "other"),
    "16-17": (
        "fostering",
        "kinship_fostering",
        "residential",
        "secure",
        "supported_16plus",
        "placed_with_parents",
        "other",
    ),
}
STOCK_NEEDS_BY_BAND: dict[str, tuple[str, ...]] = {
    band: (*needs, "placed_for_adoption") if band in ("under1", "1-4") else needs
    for band, needs in ALLOWED_NEEDS.items()
}
ALLOWED_NEEDS_SOURCE = (
    "assumption: structural zeros: children's homes and secure care from 10, supported accommodation from 16, "
    "placement for adoption under 10"
)


@dataclass
class Targets:
    """What an authority publishes (or what stands in for it), as fitted quantities with their sources."""

    authority: str
    display_name: str
    as_of: dt.date
    seed: int
    stock: Value
    placements: dict[str, Value]  # pool name -> children in it on the as-of date (sums to the stock)
    stock_age_shares: dict[str, Value]
    entry_age_shares: dict[str, Value]  # age at entry of the children in care
    admissions: Value | None
    trend_percent: Value
    need_mix: dict[str, Value]
    male_share: Value
    foster_households: Value
    assessment_days: Value
    inhouse_homes: Value
    inhouse_home_beds: Value
    inhouse_supported_beds: Value
    foster_approvals: Value | None = None  # households a year; national rate x households when None
    foster_deregistrations: Value | None = None
    staying_put: Value | None = None
    adoptions_per_year: Value | None = None
    sgo_per_year: Value | None = None  # special guardianship orders on leaving care
    uasc_in_care: Value | None = None  # unaccompanied asylum-seeking children in care (a dated stock)
    beyond_20_miles_share: Value | None = None
    emergency_placements_per_year: Value | None = None  # emergency placements sourced a year (calibration/market.py)
    foster_approved_places: Value | None = None  # approved in-house places; None: the national usable share stands in
    inhouse_home_usable_share: Value | None = None  # the share of in-house beds the matching can fill at once
    breakdowns: dict[str, Value] = field(default_factory=dict)  # pool -> unplanned endings a placement-year
    transfer_scheme: TransferScheme | None = None  # the National Transfer Scheme's local figures
    horizon_years: int = 10
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TransferScheme:
    """The National Transfer Scheme's local figures: the child population (its threshold is 0.1% of it) and
    the children the scheme offers a year while the authority is below it."""

    child_population: Value
    offers_per_year: Value


@dataclass
class Fit:
    """Fitted parameters, each with the comment the scenario file will carry."""

    entry_rate: dict[str, Value]  # the main stream, by age band
    uasc_rate: Value | None  # unaccompanied asylum-seeking children a year, all aged 16-17 (None: no stream)
    trend_percent: Value
    duration_scale: Value
    exit_routes: dict[str, dict[str, float]]
    exit_routes_source: str
    first_need: dict[str, dict[str, float]]
    need_stock: dict[str, float]  # children in care by placement need on the as-of date: what first_need fits
    start_counts: dict[tuple[str, str], int]  # (age band, pool) -> children
    elapsed_days: dict[str, float]  # age band -> typical days already in care
    inhouse_foster_places: Value  # approved places (usable ones: floor(approved x usable share))
    foster_usable_share: Value
    places_per_household: dict[str, float]
    staying_put_probability: Value
    staying_put_at_start: dict[str, int]  # pool -> young people Staying Put on the as-of date
    staying_put_at_start_source: str
    within_20_miles_external: Value
    mean_stay_days: float
    expected_stock: float
    history: HistoryFit | None = None  # the fit to the dated figures, when there was one


# ---------------------------------------------------------------------------------------------
# Stays


def scaled_shapes(scale: float) -> dict[str, dict[str, float]]:
    return {
        route: {**shape, "mean": shape["mean"] * scale, "sd": shape["sd"] * scale}
        for route, shape in priors.DURATION_SHAPES.items()
    }


def _frozen(spec: dict[str, float]):
    if spec["distribution"] == "lognormal":
        sigma2 = math.log(1 + (spec["sd"] / spec["mean"]) ** 2)
        return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(spec["mean"]) - sigma2 / 2))
    shape = (spec["mean"] / spec["sd"]) ** 2
    return stats.gamma(a=shape, scale=spec["mean"] / shape)


def _survival(spec: dict[str, float], days: np.ndarray) -> np.ndarray:
    """P(stay > days) for a lognormal or gamma shape given by mean and sd: `_frozen(spec).sf` in closed form,
    because the scale search evaluates it thousands of times and freezing took two thirds of a fit."""
    if spec["distribution"] == "lognormal":
        sigma2 = math.log(1 + (spec["sd"] / spec["mean"]) ** 2)
        with np.errstate(divide="ignore"):
            z = (np.log(days) - (math.log(spec["mean"]) - sigma2 / 2)) / math.sqrt(sigma2)
        return special.ndtr(-z)
    shape = (spec["mean"] / spec["sd"]) ** 2
    return special.gammaincc(shape, days / (spec["mean"] / shape))


def _capped_mean(spec: dict[str, float], caps: np.ndarray) -> np.ndarray:
    """E[min(D, cap)] = integral of the survival function from 0 to cap, for each cap."""
    grid = np.linspace(0.0, caps.max(), 2000)
    survival = _survival(spec, grid)
    cumulative = np.concatenate([[0.0], np.cumsum((survival[1:] + survival[:-1]) / 2 * np.diff(grid))])
    return np.interp(caps, grid, cumulative)


def _caps(band: str) -> np.ndarray:
    low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(band)]
    ages = low + (np.arange(AGE_POINTS) + 0.5) / AGE_POINTS * (high - low)
    return (18.0 - ages) * DAYS_PER_YEAR


def stay_by_route(band: str, scale: float) -> dict[str, float]:
    """Mean days in care of an entrant of the band on each route (capped at 18)."""
    caps = _caps(band)
    shapes = scaled_shapes(scale)
    stays = {route: float(np.mean(_capped_mean(shapes[route], caps))) for route in shapes}
    stays["age_18"] = float(np.mean(caps))
    adoption = _sum_of(priors.ADOPTION_READINESS, priors.ADOPTION_TIME_TO_ORDER)
    stays["adoption"] = float(np.mean(_capped_mean(adoption, caps)))
    return stays


def _sum_of(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {"distribution": "gamma", "mean": a["mean"] + b["mean"], "sd": math.hypot(a["sd"], b["sd"])}


def mean_stay(band: str, routes: dict[str, float], scale: float) -> float:
    stays = stay_by_route(band, scale)
    return sum(share * stays[route] for route, share in routes.items())


def reach_18_share(band: str, routes: dict[str, float], scale: float) -> float:
    """Share of the band's entrants still in care on their 18th birthday."""
    caps = _caps(band)
    shapes = scaled_shapes(scale)
    share = routes.get("age_18", 0.0)
    for route, spec in shapes.items():
        share += routes.get(route, 0.0) * float(np.mean(_survival(spec, caps)))
    return share


# ---------------------------------------------------------------------------------------------
# Fitting steps


def fit(targets: Targets, history: HistoryFit | None = None) -> Fit:
    """The scenario's parameters. With `history`, the entry rate, its trend and the stay scale come from the
    fit to the dated figures (calibration/history.py); without, from Little's law on the as-of date."""
    routes, routes_source = _exit_routes(targets)
    if history is None:
        total_rate = total_entry_rate(targets)
        rates, scale = _rates_and_scale(targets, routes, total_rate.value)
        trend, scale_comment = targets.trend_percent, "fitted: Little's law, stock = entries x mean stay"
    else:
        total_rate, trend, scale_comment = _from_history(history, targets.as_of)
        scale = history.stay_scale
        rates = _rates_by_band(targets, routes, total_rate.value, scale)
    stays = {band: mean_stay(band, routes[band], scale) for band in AGE_BANDS}
    expected = sum(rates[band] * stays[band] / DAYS_PER_YEAR for band in AGE_BANDS)
    mean_stay_days = expected / total_rate.value * DAYS_PER_YEAR
    need_targets = _stock_by_need(targets)
    first_need = _first_need(rates, routes, scale, need_targets)
    start = _start_counts(targets)
    staying_put = _staying_put(targets, rates, routes, scale, first_need)
    staying_put_start, staying_put_source = _staying_put_at_start(
        targets, rates, routes, scale, first_need, start, staying_put
    )
    usable, _ = _inhouse_foster_places(targets, staying_put_start.get("inhouse_fostering", 0))
    places, usable_share, per_household = _approved_foster_places(targets, usable)
    uasc = _uasc_rate(targets, routes, scale)
    entry_rate = {
        band: Value(rates[band], f"{total_rate.comment}; age split fitted to {_entry_mix_comment(targets)}")
        for band in AGE_BANDS
    }
    if uasc is not None:  # the published entries include them: the main stream is the rest
        band = UASC_BAND
        entry_rate[band] = Value(
            max(rates[band] - uasc.value, 0.0), f"{entry_rate[band].comment}; less the UASC stream (entries.uasc)"
        )
    return Fit(
        entry_rate=entry_rate,
        uasc_rate=uasc,
        trend_percent=trend,
        duration_scale=Value(scale, scale_comment),
        exit_routes=routes,
        exit_routes_source=routes_source,
        first_need=first_need,
        need_stock=need_targets,
        start_counts=start,
        elapsed_days={band: _elapsed_days(band, routes[band], scale) for band in AGE_BANDS},
        inhouse_foster_places=places,
        foster_usable_share=usable_share,
        places_per_household=per_household,
        staying_put_probability=staying_put,
        staying_put_at_start=staying_put_start,
        staying_put_at_start_source=staying_put_source,
        within_20_miles_external=_within_20_miles(targets),
        mean_stay_days=mean_stay_days,
        expected_stock=expected,
        history=history,
    )


def _exit_routes(targets: Targets) -> tuple[dict[str, dict[str, float]], str]:
    """National route shares by band, with each route the authority counts (adoptions, SGOs a year) scaled to
    its published count; the other routes share what is left in their national proportions."""
    routes = {band: dict(shares) for band, shares in priors.EXIT_ROUTES_BY_BAND.items()}
    local = [
        (route, count)
        for route, count in (("adoption", targets.adoptions_per_year), ("sgo_cao", targets.sgo_per_year))
        if count is not None
    ]
    notes = []
    admissions = total_entry_rate(targets).value if local else 0.0
    shares = {band: float(targets.entry_age_shares[band].value) for band in AGE_BANDS}
    total_share = sum(shares.values())
    fixed: list[str] = []
    for route, count in local:
        implied = sum(admissions * shares[b] / total_share * routes[b].get(route, 0.0) for b in AGE_BANDS)
        factor = count.value / implied if implied > 0 else 1.0
        for band in AGE_BANDS:
            routes[band] = _with_route_scaled(routes[band], route, factor, fixed)
        fixed.append(route)
        notes.append(f"{route} scaled by {factor:.3f} to {count.value:.1f} a year ({count.comment})")
    source = priors.EXIT_ROUTES_SOURCE
    return routes, source + ("; local counts: " + "; ".join(notes) if notes else "")


def _with_route_scaled(shares: dict[str, float], route: str, factor: float, fixed: list[str]) -> dict[str, float]:
    """One band's shares with `route` times `factor` (at most 0.8), the routes not in `fixed` rescaled."""
    old = shares.get(route, 0.0)
    if old == 0:
        return shares
    kept = sum(shares.get(r, 0.0) for r in fixed)
    new = min(old * factor, 0.8, 1.0 - kept)
    rescale = (1.0 - kept - new) / sum(s for r, s in shares.items() if r != route and r not in fixed)
    return {r: new if r == route else s if r in fixed else s * rescale for r, s in shares.items()}


def total_entry_rate(targets: Targets) -> Value:
    if targets.admissions is not None:
        return targets.admissions
    mean_years = priors.NATIONAL_MEAN_STAY_YEARS.value
    return Value(
        targets.stock.value / mean_years,
        f"derived: stock {targets.stock.value:g} ({targets.stock.comment}) / national mean stay {mean_years:.2f} "
        f"years ({priors.NATIONAL_MEAN_STAY_YEARS.source}); assumption: no local admissions published",
    )


def _from_history(history: HistoryFit, as_of: dt.date) -> tuple[Value, Value, str]:
    """The entry rate on the as-of date, the trend and the stay scale's comment, from the history fit."""
    sd = history.sd()
    figures = f"{len(history.figures)} published figures from {history.origin} to {as_of} (calibration/history.py)"
    rate = Value(
        history.entries_per_year(as_of),
        f"fitted to {figures}: {history.entries_per_year(history.origin):.1f} a year on {history.origin} "
        f"(sd of its log {sd[0]:.3f}), compounded by the trend",
    )
    trend = Value(100.0 * history.trend, f"fitted to {figures}; sd {100.0 * sd[1]:.2f} percentage points")
    return rate, trend, f"fitted to {figures}; sd of its log {sd[2]:.3f}"


def _rates_by_band(targets: Targets, routes: dict, total_rate: float, scale: float) -> dict[str, float]:
    """Entries by band from the stock's age-at-entry mix (entries x mean stay by band), summing to `total_rate`."""
    mix = {band: float(targets.entry_age_shares[band].value) for band in AGE_BANDS}
    weights = {band: mix[band] / mean_stay(band, routes[band], scale) for band in AGE_BANDS}
    total = sum(weights.values())
    return {band: total_rate * weights[band] / total for band in AGE_BANDS}


def _rates_and_scale(targets: Targets, routes: dict, total_rate: float) -> tuple[dict[str, float], float]:
    """Entry rates by band and the duration scale, solved together.

    The stock's age-at-entry mix is entries x mean stay by band, so entries by band are the mix
    divided by the mean stay; the scale makes the total stock equal the published one.
    """
    scale = 1.0
    for _ in range(8):
        rates = _rates_by_band(targets, routes, total_rate, scale)

        def gap(k: float, rates: dict[str, float] = rates) -> float:
            stock = sum(rates[b] * mean_stay(b, routes[b], k) / DAYS_PER_YEAR for b in AGE_BANDS)
            return stock - targets.stock.value

        low, high = gap(SCALE_BOUNDS[0]), gap(SCALE_BOUNDS[1])
        if low > 0 or high < 0:
            raise CalibrationDataError(_unreachable_stock(targets, total_rate, low if low > 0 else high))
        scale = optimize.brentq(gap, *SCALE_BOUNDS, xtol=1e-10)
    return rates, scale


def _unreachable_stock(targets: Targets, total_rate: float, gap: float) -> str:
    """Why no duration scale gives the published stock from the entries (which figure, and how far off)."""
    reached = targets.stock.value + gap
    side = "even the shortest" if gap > 0 else "even the longest"
    return (
        f"{targets.display_name} as of {targets.as_of}: {total_rate:.1f} entries a year cannot give "
        f"{targets.stock.value:g} children in care ({targets.stock.comment}): {side} stays the national shapes "
        f"allow, capped at the 18th birthday, give {reached:.0f}; expected admissions and a stock that agree "
        "(check the admissions figure and its period in calibration/data)"
    )


def _stock_by_need(targets: Targets) -> dict[str, float]:
    needs: dict[str, float] = {}
    for pool, count in targets.placements.items():
        need = POOL_BY_NAME[pool].need
        needs[need] = needs.get(need, 0.0) + count.value
    return needs


def _first_need(rates, routes, scale, need_targets: dict[str, float]) -> dict[str, dict[str, float]]:
    """Shares of first placement needs by band that reproduce the stock by need (iterative scaling)."""
    stays = {band: stay_by_route(band, scale) for band in AGE_BANDS}
    adoption_waiting = {band: _adoption_split(band) for band in AGE_BANDS}
    volume = {}  # band -> child-years of stay not on the adoption route
    targets = dict(need_targets)
    for band in AGE_BANDS:
        route_shares = routes[band]
        volume[band] = (
            rates[band]
            / DAYS_PER_YEAR
            * sum(share * stays[band][route] for route, share in route_shares.items() if route != "adoption")
        )
        adopted = rates[band] / DAYS_PER_YEAR * route_shares.get("adoption", 0.0) * stays[band]["adoption"]
        waiting, placed = adoption_waiting[band]
        targets["fostering"] = targets.get("fostering", 0.0) - adopted * waiting
        targets["placed_for_adoption"] = targets.get("placed_for_adoption", 0.0) - adopted * placed
    needs = sorted({n for allowed in ALLOWED_NEEDS.values() for n in allowed})
    weights = {need: 1.0 for need in needs}
    for _ in range(500):
        shares = _shares(weights)
        fitted = {n: sum(volume[b] * shares[b].get(n, 0.0) for b in AGE_BANDS) for n in needs}
        for need in needs:
            goal = max(targets.get(need, 0.0), 1e-6)
            weights[need] *= goal / max(fitted[need], 1e-12)
    return {band: {n: round(s, 6) for n, s in shares.items() if s >= 5e-7} for band, shares in _shares(weights).items()}


def _shares(weights: dict[str, float]) -> dict[str, dict[str, float]]:
    shares = {}
    for band, allowed in ALLOWED_NEEDS.items():
        total = sum(weights[n] for n in allowed)
        shares[band] = {n: weights[n] / total for n in allowed}
    return shares


def _adoption_split(band: str) -> tuple[float, float]:
    """Shares of an adoption-route stay spent waiting (in foster care) and placed with adopters."""
    ready, order = priors.ADOPTION_READINESS["mean"], priors.ADOPTION_TIME_TO_ORDER["mean"]
    return ready / (ready + order), order / (ready + order)


def _elapsed_days(band: str, routes: dict[str, float], scale: float) -> float:
    """Mean time already spent in care by a stock in equilibrium: E[S^2] / (2 E[S]) over routes and ages."""
    caps = _caps(band)
    shapes = scaled_shapes(scale)
    first, second = 0.0, 0.0
    for route, share in routes.items():
        if route == "age_18":
            first += share * float(np.mean(caps))
            second += share * float(np.mean(caps**2))
            continue
        spec = (
            _sum_of(priors.ADOPTION_READINESS, priors.ADOPTION_TIME_TO_ORDER) if route == "adoption" else shapes[route]
        )
        samples = np.minimum(_frozen(spec).ppf((np.arange(400) + 0.5) / 400)[:, None], caps[None, :])
        first += share * float(samples.mean())
        second += share * float((samples**2).mean())
    return round(second / (2 * first), 1)


def _start_counts(targets: Targets) -> dict[tuple[str, str], int]:
    """Children in care on the as-of date by age band and pool: IPF of the two published margins."""
    bands = list(AGE_BANDS)
    pools = [p for p in targets.placements if targets.placements[p].value > 0]
    allowed = np.array([[POOL_BY_NAME[p].need in STOCK_NEEDS_BY_BAND[b] for p in pools] for b in bands], dtype=float)
    for index, pool in enumerate(pools):
        low = POOL_BY_NAME[pool].min_age
        allowed[:, index] *= [AGE_BAND_BOUNDS_YEARS[i][1] > low for i in range(len(bands))]
    band_total = np.array([float(targets.stock_age_shares[b].value) for b in bands])
    band_total = band_total / band_total.sum() * sum(targets.placements[p].value for p in pools)
    pool_total = np.array([targets.placements[p].value for p in pools])
    matrix = allowed.copy()
    for _ in range(500):
        matrix *= (band_total / np.maximum(matrix.sum(axis=1), 1e-12))[:, None]
        matrix *= (pool_total / np.maximum(matrix.sum(axis=0), 1e-12))[None, :]
    counts = {}
    for j, pool in enumerate(pools):
        column = _round_to_total(matrix[:, j], round(pool_total[j]))
        for i, band in enumerate(bands):
            if column[i]:
                counts[(band, pool)] = int(column[i])
    return counts


def _round_to_total(values: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers summing to `total`, by largest remainders."""
    floors = np.floor(values).astype(int)
    short = total - floors.sum()
    order = np.argsort(-(values - floors), kind="stable")
    floors[order[:short]] += 1
    return floors


def _inhouse_foster_places(targets: Targets, staying_put: int) -> tuple[Value, dict[str, float]]:
    """Places at which an Erlang loss pool offered the whole fostering demand carries the in-house count, plus
    the places young people Staying Put hold on the as-of date (the published count is of children in care)."""
    inhouse = targets.placements["inhouse_fostering"].value
    offered = inhouse + targets.placements["ifa"].value
    places = next(c for c in range(int(inhouse), int(offered) + 2) if offered * (1 - erlang_b(c, offered)) >= inhouse)
    households = targets.foster_households.value
    mean = min(max((places + staying_put) / households, 1.0), 2.0)
    comment = (
        f"fitted: an Erlang loss pool offered the fostering stock ({offered:g} = in-house {inhouse:g} + agency "
        f"{targets.placements['ifa'].value:g}) carries {inhouse:g} with {places} places "
        f"({targets.placements['inhouse_fostering'].comment}; {targets.placements['ifa'].comment})"
    )
    if staying_put:
        comment += f"; plus the {staying_put} places held by young people Staying Put on the start date"
    return Value(places + staying_put, comment), {"1": round(2.0 - mean, 6), "2": round(mean - 1.0, 6)}


def _approved_foster_places(targets: Targets, usable: Value) -> tuple[Value, Value, dict[str, float]]:
    """Approved places, the usable share and the places-per-household mix that give the fitted usable places.

    The Erlang fit gives the places the matching can use; approved places are more, since some are not
    available at any time (carers on a break, matching: Stockport's "need for careful matching",
    004_375ba0091dd72cb5.txt:L304). With a published approved count the share is derived from it; without,
    the national share stands in and the approved places are derived. Either way floor(approved x share)
    is the fitted usable count, so the in-house fit is unchanged.
    """
    if targets.foster_approved_places is not None:
        approved = targets.foster_approved_places
        share = math.ceil(usable.value / approved.value * 10_000) / 10_000
        share_value = Value(
            min(share, 1.0),
            f"derived: the fitted usable places ({usable.value:g}) / approved places ({approved.value:g}); "
            "compare 'around 38 (10%) unfilled' with long-term carers (004_375ba0091dd72cb5.txt:L248) and 'over "
            "100 unfilled placements' (L304)",
        )
        places = Value(math.ceil(approved.value), f"{approved.comment}; usable: {usable.comment}")
    else:
        share_value = Value(priors.FOSTER_USABLE_SHARE.value, priors.FOSTER_USABLE_SHARE.source)
        places = Value(
            math.ceil(usable.value / share_value.value),
            f"derived: the fitted usable places ({usable.value:g}) / the national usable share; usable: "
            f"{usable.comment}",
        )
    mean = min(max(places.value / targets.foster_households.value, 1.0), 4.0)
    low = min(int(mean), 3)
    mix = {str(low): round(low + 1 - mean, 6), str(low + 1): round(mean - low, 6)}
    return places, share_value, mix


def _uasc_rate(targets: Targets, routes: dict[str, dict[str, float]], scale: float) -> Value | None:
    """UASC arrivals a year that keep the published UASC stock (Little's law on that small stream)."""
    if targets.uasc_in_care is None:
        return None
    stay_years = mean_stay(UASC_BAND, routes[UASC_BAND], scale) / DAYS_PER_YEAR
    return Value(
        targets.uasc_in_care.value / stay_years,
        f"derived: {targets.uasc_in_care.value:g} UASC in care ({targets.uasc_in_care.comment}) / a mean stay of "
        f"{stay_years:.2f} years; assumption: they arrive aged 16-17 and follow the {UASC_BAND} journeys (no local "
        "UASC ages or stays are published), a steady stream",
    )


def _staying_put(targets, rates, routes, scale, first_need) -> Value:
    """Probability that gives the published number staying put (until 21: three years each)."""
    if targets.staying_put is None:
        return Value(priors.STAYING_PUT_SHARE.value, priors.STAYING_PUT_SHARE.source)
    fostered_18 = _fostered_18th_birthdays(rates, routes, scale, first_need)
    probability = min(targets.staying_put.value / (STAYING_PUT_YEARS * fostered_18), 1.0)
    return Value(
        round(probability, 4),
        f"fitted: {targets.staying_put.value:g} staying put ({targets.staying_put.comment}) = "
        f"{fostered_18:.1f} fostered 18th birthdays a year x p x {STAYING_PUT_YEARS:g} years",
    )


def _fostered_18th_birthdays(rates, routes, scale, first_need) -> float:
    """Children a year reaching 18 in care whose first need was fostering or kinship fostering."""
    return sum(
        rates[b]
        * reach_18_share(b, routes[b], scale)
        * (first_need[b].get("fostering", 0.0) + first_need[b].get("kinship_fostering", 0.0))
        for b in AGE_BANDS
    )


def _staying_put_at_start(targets, rates, routes, scale, first_need, start, probability: Value):
    """Young people Staying Put on the as-of date, by pool: the published number, else the steady state of the
    probability; split over the foster pools pro rata to the 16-17 year-olds starting in each."""
    if targets.staying_put is not None:
        total, source = targets.staying_put.value, f"{targets.staying_put.comment}"
    else:
        total = probability.value * STAYING_PUT_YEARS * _fostered_18th_birthdays(rates, routes, scale, first_need)
        source = f"derived: the steady state of p = {probability.value:g} ({probability.comment})"
    older = {pool: start.get(("16-17", pool), 0) for pool in STAYING_PUT_POOLS}
    if sum(older.values()) == 0:
        return {}, source
    shares = np.array([older[p] for p in STAYING_PUT_POOLS], dtype=float) / sum(older.values())
    counts = _round_to_total(shares * total, round(total))
    split = f"{source}; split pro rata to the 16-17 year-olds starting in each foster pool (assumption)"
    return {pool: int(n) for pool, n in zip(STAYING_PUT_POOLS, counts, strict=True) if n}, split


def _within_20_miles(targets: Targets) -> Value:
    """Share of external placements within 20 miles that gives the published share beyond 20 miles."""
    if targets.beyond_20_miles_share is None:
        return Value(0.51, "national_england.md:L62: 49% of children in children's homes over 20 miles away (2025)")
    external = sum(v.value for p, v in targets.placements.items() if not POOL_BY_NAME[p].in_house)
    beyond = targets.beyond_20_miles_share.value / 100 * targets.stock.value
    share = min(max(1 - beyond / external, 0.0), 1.0)
    return Value(
        round(share, 4),
        f"fitted: {targets.beyond_20_miles_share.value:g}% of all children beyond 20 miles "
        f"({targets.beyond_20_miles_share.comment}), all of them in external placements (assumption)",
    )


def _entry_mix_comment(targets: Targets) -> str:
    return targets.entry_age_shares[AGE_BANDS[0]].comment
