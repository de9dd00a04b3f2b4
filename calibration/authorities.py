"""Each authority's published figures mapped onto the quantities the fit needs, and its backcast targets.

Documents differ in what they publish, so this is the one place with authority-specific choices;
each choice is written into the comment the fitted parameter carries.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from calibration.backtest_targets import Observed
from calibration.fit import Targets, TransferScheme, Value
from calibration.history import Dated, Prior
from calibration.published_data import CalibrationDataError, Figure, PublishedData
from sim.engine.vocabulary import CATEGORIES_OF_NEED

STOCKPORT_DOC = "004_375ba0091dd72cb5.txt"


@dataclass(frozen=True)
class ParentChildAndRemand:
    """The published figures behind the two placement needs of their own (issue 18 item 6), which the fit's
    placement codes count in `other_placements` (R3, R5) or not at all (the J1 legal status)."""

    parent_child_in_care: Value  # children in a parent-and-child placement (R3) on one date
    remand_share: Value  # share of the children in care on remand (SSDA903 legal status J1)


STOCKPORT_PARENT_CHILD_AND_REMAND = ParentChildAndRemand(
    Value(
        1.0, "stockport_sufficiency_2019.md L235, L594: R3 family centre or mother and baby unit = 1 (31 March 2018)"
    ),
    Value(
        0.0027,
        "stockport_sufficiency_2019.md L122, L392: J1 remand legal status 0.27% of children in care (March 2018)",
    ),
)
CE_PARENT_CHILD_AND_REMAND = ParentChildAndRemand(
    Value(
        1.0,
        "assumption: Cheshire East publishes no count but plans parent and child carers and 'mother and baby' "
        "placements in Fostering Plus (cheshire_east_sufficiency_2016_2017.md L443-444); Stockport's one child "
        "(stockport_sufficiency_2019.md L235), a neighbour of a similar size",
    ),
    Value(
        0.0027,
        "assumption: Cheshire East publishes no remand figure; Stockport's J1 share of 0.27% "
        "(stockport_sufficiency_2019.md L122)",
    ),
)


@dataclass(frozen=True)
class Authority:
    display_name: str
    targets: Callable[[dt.date], Targets]
    backtest_origin: dt.date
    observations: tuple[Observed, ...]
    stock_dates: tuple[dt.date, ...]  # dates with a published count of children in care by placement
    folder: str  # calibration/data/<folder>
    trend_prior: Prior  # what is known of the entry trend before the history is fitted
    market_from: str | None = None  # an authority whose fitted market stands in (calibration/market.py)
    parent_child_and_remand: ParentChildAndRemand | None = None  # None: neither need in the baseline

    def history(self, as_of: dt.date) -> list[Dated]:
        """Every figure the history fit uses, dated up to `as_of` (published projections are not figures)."""
        data = PublishedData(self.folder)
        stocks = [Dated("stock", f.date, f.value, f.source) for f in data.all("children_in_care", "total", "children")]
        known = {figure.date for figure in stocks}
        stocks += [  # a stock only derived (Stockport's March 2016 area table)
            Dated("stock", day, self.targets(day).stock.value, self.targets(day).stock.comment)
            for day in self.stock_dates
            if day not in known
        ]
        flows = [
            Dated(measure, f.date, f.value, f.source, f.period_start)
            for measure in ("admissions", "discharges")
            for f in data.all(measure, "total", "children")
            if f.period_start is not None
        ]
        return sorted((f for f in stocks + flows if f.date <= as_of), key=lambda f: (f.date, f.kind))

    def check_as_of(self, as_of: dt.date) -> None:
        """An as-of date from the first published count to the last; else say which dates there are."""
        if not self.stock_dates[0] <= as_of <= self.stock_dates[-1]:
            dates = ", ".join(day.isoformat() for day in self.stock_dates)
            raise CalibrationDataError(
                f"--as-of {as_of}: {self.display_name} publishes children in care on {dates}; expected an as-of "
                f"date from {self.stock_dates[0]} to {self.stock_dates[-1]}"
            )


def _value(figure: Figure, scale: float = 1.0) -> Value:
    return Value(figure.value * scale, figure.source)


def _interpolated(data: PublishedData, measure: str, category: str, day: dt.date, unit: str = "children") -> Value:
    """Linear interpolation between the published figures either side of `day` (else the nearest)."""
    figures = data.all(measure, category, unit)
    before = [f for f in figures if f.date <= day]
    after = [f for f in figures if f.date >= day]
    if before and after and before[-1].date != after[0].date:
        a, b = before[-1], after[0]
        weight = (day - a.date).days / (b.date - a.date).days
        value = a.value + weight * (b.value - a.value)
        return Value(value, f"interpolated between {a.cite()} and {b.cite()}")
    figure = data.nearest(measure, category, day, unit)
    note = "" if figure.date == day else f"; nearest published figure to {day}"
    return Value(figure.value, f"{figure.cite()}{note}")


def _age_shares_from_stock(data: PublishedData, day: dt.date, label: str) -> dict[str, Value]:
    """Stock by age band (percent), with the published 0-4 band split 1:4 into under 1 and 1-4."""
    shares = {band: data.latest("children_in_care", band, day, "percent") for band in ("0-4", "5-9", "10-15", "16-17")}
    young = shares["0-4"]
    split = "assumption: 0-4 split 1:4 into under 1 and 1-4 (ages spread evenly)"
    return {
        "under1": Value(young.value * 0.2, f"{label}{young.source}; {split}"),
        "1-4": Value(young.value * 0.8, f"{label}{young.source}; {split}"),
        **{band: Value(shares[band].value, f"{label}{shares[band].source}") for band in ("5-9", "10-15", "16-17")},
    }


def _entry_age_shares(data: PublishedData, day: dt.date, label: str) -> dict[str, Value]:
    """Age at entry of the children in care (single years) summed into bands."""
    bands = {
        "under1": range(0, 1),
        "1-4": range(1, 5),
        "5-9": range(5, 10),
        "10-15": range(10, 16),
        "16-17": range(16, 18),
    }
    year_end = (
        max(f.date for f in data.all("age_at_entry", "0") if f.date <= day)
        if any(f.date <= day for f in data.all("age_at_entry", "0"))
        else data.nearest("age_at_entry", "0", day).date
    )
    shares = {}
    for band, ages in bands.items():
        figures = [data.get("age_at_entry", str(age), year_end, "percent") for age in ages]
        lines = ", ".join(sorted({f.source.split(":")[1] for f in figures}))
        shares[band] = Value(
            sum(f.value for f in figures), f"{label}{STOCKPORT_DOC}:{lines} age at entry of the stock, {year_end}"
        )
    return shares


# ---------------------------------------------------------------------------------------------
# Stockport


def stockport_targets(as_of: dt.date) -> Targets:
    data = PublishedData("stockport")
    stock, placements, notes = _stockport_stock(data, as_of)
    households = (
        data.latest("foster_households", "mainstream", as_of, "households")
        if any(f.date <= as_of for f in data.all("foster_households", "mainstream"))
        else None
    )
    if households is not None:
        specialist = data.get("foster_households", "specialist", households.date, "households")
        foster_households = Value(
            households.value + specialist.value, f"{households.cite()} mainstream + {specialist.cite()} specialist"
        )
    else:
        total = data.latest("foster_households", "total", as_of, "households")
        later_total = data.get("foster_households", "total", dt.date(2018, 3, 31), "households")
        later = data.get("foster_households", "mainstream", dt.date(2018, 3, 31), "households")
        share = (later.value + 4) / later_total.value
        foster_households = Value(
            round(total.value * share),
            f"{total.cite()} all households x mainstream+specialist share in 2018 "
            f"({later.source}: {later.value:g}+4 of {later_total.value:g}); assumption: same share",
        )
    adoptions = data.latest("adoptions", "total", as_of, "children")
    ce = PublishedData("cheshire_east")
    approvals, deregistrations = _stockport_foster_flows(data, as_of)
    return Targets(
        authority="stockport",
        display_name="Stockport",
        as_of=as_of,
        seed=20180331,
        stock=stock,
        placements=placements,
        stock_age_shares=_age_shares_from_stock(data, as_of, ""),
        entry_age_shares=_entry_age_shares(data, as_of, ""),
        admissions=None,
        trend_percent=_national_trend(),
        need_mix=_need_mix_proxy(
            ce,
            "assumption: Stockport publishes only 'almost 60%' abuse or neglect "
            f"({STOCKPORT_DOC}:L85); Cheshire East's March 2016 mix used as a proxy: ",
        ),
        male_share=Value(
            data.get("children_in_care", "male", dt.date(2018, 3, 31), "percent").value / 100,
            f"{STOCKPORT_DOC}:L97 'a higher number of male looked after children (56%)'",
        ),
        foster_households=foster_households,
        assessment_days=_ce_assessment(ce, "assumption: Stockport publishes no assessment time; Cheshire East's "),
        inhouse_homes=Value(2, f"{STOCKPORT_DOC}:L339 'two children's homes, Dial Park and Broadfields'"),
        inhouse_home_beds=_value(data.nearest("beds", "inhouse_residential", as_of, "beds")),
        inhouse_supported_beds=Value(
            data.nearest("beds", "supported_lodgings", as_of, "beds").value,
            f"{data.nearest('beds', 'supported_lodgings', as_of, 'beds').cite()}: supported lodgings hosts",
        ),
        foster_approvals=approvals,
        foster_deregistrations=deregistrations,
        staying_put=None,
        adoptions_per_year=Value(adoptions.value, adoptions.cite()),
        foster_approved_places=_stockport_approved_places(data, foster_households),
        breakdowns=emergency_moves_per_child(
            as_of, "assumption: Cheshire East's rates, a North West neighbour (Stockport publishes none); "
        ),
        inhouse_home_usable_share=_stockport_home_usable_share(data),
        beyond_20_miles_share=None,
        transfer_scheme=_stockport_transfer_scheme(data, _ce_transfer_scheme(ce)),
        notes=notes,
    )


def _ce_transfer_scheme(data: PublishedData) -> TransferScheme:
    """Children aged 0-17 from the 2014 bands (0-4, 5-11 and three-quarters of 12-19, an even spread by age
    assumed), and the six children the scheme brought in 2016 (000 L664) as the yearly offer."""
    bands = [data.get("population", band, unit="children") for band in ("0-4", "5-11", "12-19")]
    population = bands[0].value + bands[1].value + bands[2].value * 6 / 8
    arrivals = data.get("uasc_arrivals", "government_scheme", unit="children")
    return TransferScheme(
        Value(
            round(population),
            f"derived: {bands[0].cite()} 0-4 + {bands[1].cite()} 5-11 + 6/8 of {bands[2].cite()} 12-19 "
            "(assumption: the 12-19s spread evenly by age)",
        ),
        Value(
            arrivals.value,
            f"assumption: {arrivals.cite()}, the children 'welcomed ... as part of the government' scheme in its "
            "first months, taken as the children it offers a year",
        ),
    )


def _stockport_transfer_scheme(data: PublishedData, ce: TransferScheme) -> TransferScheme:
    """Children under 18 from the published rate per 10,000 and the count it is the rate of (November 2018), and
    Cheshire East's offer scaled by child population: Stockport publishes no UASC figures."""
    rate = data.get("children_in_care_rate", "total", unit="per_10000")
    count = data.get("children_in_care", "total", rate.date, "children")
    population = round(count.value / rate.value * 10_000)
    offers = ce.offers_per_year.value * population / ce.child_population.value
    source = f"{count.cite()} / {rate.cite()}"
    return TransferScheme(
        Value(population, f"derived: {source}"),
        Value(
            round(offers, 2),
            f"assumption: Cheshire East's {ce.offers_per_year.value:g} a year (000_f3e7ed591fa8ff51.txt:L664) "
            f"scaled by child population ({population:,} against "
            f"{ce.child_population.value:,.0f}); Stockport publishes no UASC figures",
        ),
    )


def _stockport_foster_flows(data: PublishedData, as_of: dt.date) -> tuple[Value | None, Value | None]:
    """Mainstream and specialist approvals and all deregistrations in the year, when published by the as-of date."""
    year = [f for f in data.all("foster_approvals", "mainstream", "households") if f.date <= as_of]
    if not year:
        return None, None
    day = year[-1].date
    mainstream, specialist = year[-1], data.get("foster_approvals", "specialist", day, "households")
    leaving = data.get("foster_deregistrations", "total", day, "households")
    return (
        Value(mainstream.value + specialist.value, f"{mainstream.cite()} mainstream + {specialist.cite()} specialist"),
        Value(leaving.value, f"{leaving.cite()}; assumption: all from mainstream and specialist households"),
    )


def _stockport_approved_places(data: PublishedData, households: Value) -> Value:
    """Approved places of the mainstream and specialist households: all households' approved places, shared out
    by households (assumption: kinship, short-break and Reg 24 households hold as many places each)."""
    places = data.get("foster_places_approved", "total", unit="places")
    every = data.get("foster_households", "total", dt.date(2018, 3, 31), "households")
    return Value(
        round(places.value * households.value / every.value, 1),
        f"derived: {places.cite()} x {households.value:g} of {every.value:g} households ({every.cite()}); "
        "assumption: every kind of household holds as many places",
    )


def _stockport_home_usable_share(data: PublishedData) -> Value:
    """The share of council home beds filled when they could have been: 7 of 10 with 3 vacancies unused."""
    filled = data.get("placements", "residential_inhouse", dt.date(2018, 3, 31), "children")
    beds = data.nearest("beds", "inhouse_residential", dt.date(2018, 3, 31), "beds")
    return Value(
        round(filled.value / beds.value, 4),
        f"derived: {filled.cite()} filled of {beds.cite()}, '3 vacancies were unused' (L107); assumption: the "
        "beds a home can fill at once, for matching and solo placements",
    )


def _stockport_stock(data: PublishedData, as_of: dt.date) -> tuple[Value, dict[str, Value], list[str]]:
    """Children in care by pool from the SSDA903 placement-code table (and providers in March 2018)."""
    day = max(f.date for f in data.all("placements_by_code") if f.date <= as_of)
    code = {f.category: f for f in data.all("placements_by_code") if f.date == day}

    def codes(*names: str) -> tuple[float, str]:
        found = [code[n] for n in names if n in code]
        return sum(f.value for f in found), "+".join(f"{f.category} {f.value:g}" for f in found) + f" ({day})"

    kinship, kinship_note = codes("U1", "U2", "U3")
    fostering, fostering_note = codes("U4", "U5", "U6")
    homes, homes_note = codes("K2")
    secure, secure_note = codes("K1")
    supported, supported_note = codes("H5")
    parents, parents_note = codes("P1")
    adoption, adoption_note = codes("A3", "A4", "A5", "A6")
    other, other_note = codes("R1", "R2", "R3", "R5", "S1", "Z1", "P2", "T4", "null")
    ifa = data.latest("placements", "ifa", day, "children")
    inhouse_homes = data.get("placements", "residential_inhouse", dt.date(2018, 3, 31), "children")
    table = f"{STOCKPORT_DOC} placement-code table"
    placements = {
        "inhouse_fostering": Value(fostering - ifa.value, f"{table}: {fostering_note} less IFA {ifa.cite()}"),
        "ifa": Value(ifa.value, ifa.cite()),
        "kinship": Value(kinship, f"{table}: {kinship_note}"),
        "inhouse_homes": Value(inhouse_homes.value, f"{inhouse_homes.cite()}; assumption: same in earlier years"),
        "external_homes": Value(homes - inhouse_homes.value, f"{table}: {homes_note} less in-house homes"),
        "secure": Value(secure, f"{table}: {secure_note}"),
        "external_supported": Value(supported, f"{table}: {supported_note}"),
        "placed_with_parents": Value(parents, f"{table}: {parents_note}"),
        "adopters": Value(adoption, f"{table}: {adoption_note}"),
        "other_placements": Value(other, f"{table}: {other_note}"),
    }
    coded = sum(v.value for v in placements.values())
    totals = [f for f in data.all("children_in_care", "total", "children") if f.date == day]
    notes = []
    if totals:
        stock = Value(totals[-1].value, totals[-1].cite())
    else:
        areas = [f for f in data.all("children_in_care") if f.date == day and f.category.startswith("area:")]
        lines = sorted({f.source.split(":")[1] for f in areas})
        stock = Value(
            sum(f.value for f in areas),
            f"derived: sum of the priority-area table ({STOCKPORT_DOC}:{lines[0]}-{lines[-1]}, {day})",
        )
    if coded != stock.value:
        extra = stock.value - coded
        placements["other_placements"] = Value(
            placements["other_placements"].value + extra,
            placements["other_placements"].comment + f"; plus {extra:g} children the code table leaves out "
            f"(it sums to {coded:g} against the stock of {stock.value:g}; assumption: placed in other placements)",
        )
        notes.append(
            f"The placement-code table for {day} sums to {coded:g}, against {stock.value:g} children in "
            "care; the difference is counted in other placements."
        )
    return stock, placements, notes


# ---------------------------------------------------------------------------------------------
# Shared proxies


def _national_trend() -> Value:
    from calibration import priors

    return Value(priors.NATIONAL_TREND_PERCENT.value, priors.NATIONAL_TREND_PERCENT.source)


def _need_mix_proxy(ce: PublishedData, label: str) -> dict[str, Value]:
    figures = {code: ce.get("children_in_care", code, dt.date(2016, 3, 31), "children") for code in CATEGORIES_OF_NEED}
    total = sum(f.value for f in figures.values())
    return {
        code: Value(f.value / total, f"{label}{f.source} ({f.value:g} of {total:g})") for code, f in figures.items()
    }


def _ce_assessment(ce: PublishedData, label: str) -> Value:
    low = ce.get("foster_assessment", "low", unit="weeks")
    high = ce.get("foster_assessment", "high", unit="weeks")
    return Value(
        (low.value + high.value) / 2 * 7, f"{label}{low.source} '{low.value:g}-{high.value:g} weeks' (midpoint)"
    )


def _ce_age_proxy(label: str) -> tuple[dict[str, Value], dict[str, Value]]:
    stockport = PublishedData("stockport")
    day = dt.date(2016, 3, 31)
    return _age_shares_from_stock(stockport, day, label), _entry_age_shares(stockport, day, label)


def stockport_observations() -> tuple[Observed, ...]:
    data = PublishedData("stockport")
    march_2018 = dt.date(2018, 3, 31)

    def provider(*categories: str) -> tuple[float, str]:
        figures = [data.get("placements_by_provider", c, march_2018, "children") for c in categories]
        return sum(f.value for f in figures), " + ".join(f"{f.source} ({f.category} {f.value:g})" for f in figures)

    own_foster, own_note = provider("PR1:foster_placement:all:total")
    agency, agency_note = provider("PR4:foster_placement:all:total", "PR5:foster_placement:all:total")
    own_homes, homes_note = provider("PR1:secure_units_childrens_homes_hostels:all:total")
    external, external_note = provider(
        "PR2:secure_units_childrens_homes_hostels:all:total",
        "PR4:secure_units_childrens_homes_hostels:all:total",
        "PR5:secure_units_childrens_homes_hostels:all:total",
    )
    parents, parents_note = provider("PR0:placement_with_parents:all:total")
    # March 2017: the prose total (L63); the CSE table's 331 (L889) disagrees by two and is left out.
    totals = [
        Observed(f.date, "children in care", None, f.value, f.source)
        for f in data.all("children_in_care", "total", "children")
        if (f.date, f.source.rsplit(":", 1)[1]) in ((dt.date(2017, 3, 31), "L63"), (march_2018, "L889"))
    ]
    return (
        *totals,
        Observed(
            march_2018, "own foster carers (incl. kinship)", ("inhouse_fostering", "kinship"), own_foster, own_note
        ),
        Observed(march_2018, "agency foster carers", ("ifa",), agency, agency_note),
        Observed(march_2018, "own children's homes", ("inhouse_homes",), own_homes, homes_note),
        Observed(
            march_2018, "external homes and secure", ("external_homes", "secure", "emergency"), external, external_note
        ),
        Observed(march_2018, "placed with parents", ("placed_with_parents",), parents, parents_note),
    )


# ---------------------------------------------------------------------------------------------
# Cheshire East

CE_PROXY = "assumption: Cheshire East publishes no age breakdown; Stockport's (a North West neighbour) is used: "


def cheshire_east_targets(as_of: dt.date) -> Targets:
    data = PublishedData("cheshire_east")
    england = PublishedData("england")
    stock_figure = data.latest("children_in_care", "total", as_of, "children")
    stock = Value(stock_figure.value, stock_figure.cite())
    stock_ages, entry_ages = _ce_age_proxy(CE_PROXY)
    households = data.nearest("foster_households", "mainstream", as_of, "households")
    beds = [f for f in data.all("beds", unit="beds") if f.category.startswith("inhouse_residential_home")]
    open_beds = [f for f in beds if f.date <= as_of] or [f for f in beds if f.date == beds[0].date]
    homes = data.nearest("homes", "inhouse", as_of, "homes")
    supported = [
        data.nearest("beds", c, as_of, "beds") for c in ("watermill_house", "west_street", "ymca_ignition_flats")
    ]
    staying_put = data.nearest("staying_put", "total", as_of, "young_people")
    beyond = data.latest("beyond_20_miles", "total", as_of, "percent")
    stockport = PublishedData("stockport")
    placements, contradictions = _ce_placements(data, england, as_of, stock, sum(f.value for f in open_beds))
    return Targets(
        authority="cheshire_east",
        display_name="Cheshire East",
        as_of=as_of,
        seed=20160930,
        stock=stock,
        placements=placements,
        stock_age_shares=stock_ages,
        entry_age_shares=entry_ages,
        admissions=_ce_admissions(data, as_of),
        trend_percent=_national_trend(),
        need_mix=_need_mix_proxy(data, "March 2016 stock by category of need, used for entrants (assumption): "),
        male_share=Value(
            stockport.get("children_in_care", "male", dt.date(2018, 3, 31), "percent").value / 100,
            f"assumption: Stockport's share ({STOCKPORT_DOC}:L97, 56%); Cheshire East publishes none",
        ),
        foster_households=Value(households.value, f"{households.cite()}; nearest published figure to {as_of}"),
        assessment_days=_ce_assessment(data, ""),
        inhouse_homes=Value(homes.value, homes.cite()),
        inhouse_home_beds=Value(sum(f.value for f in open_beds), " + ".join(f.cite() for f in open_beds)),
        inhouse_supported_beds=Value(sum(f.value for f in supported), " + ".join(f.cite() for f in supported)),
        staying_put=Value(staying_put.value, staying_put.cite()),
        adoptions_per_year=_annual(data, "adoptions", as_of),
        sgo_per_year=_annual(data, "sgo", as_of),
        uasc_in_care=_latest_or_none(data, "children_in_care", "uasc", as_of),
        transfer_scheme=_ce_transfer_scheme(data),
        beyond_20_miles_share=Value(beyond.value, beyond.cite()),
        emergency_placements_per_year=_annual(data, "emergency_placements", as_of, "placements"),
        breakdowns=emergency_moves_per_child(as_of),
        inhouse_home_usable_share=_ce_home_usable_share(data, as_of),
        notes=[
            "Cheshire East publishes no ages, durations or exit routes: Stockport's age mix and national duration "
            "shapes and exit routes stand in for them (each marked assumption below).",
            "The 36 external children's-home placements (000_f3e7ed591fa8ff51.txt:L593) do not fit 'around 9%' in "
            "residential (L402) with 10 in-house beds; the 9% share is used and the table is left as a check.",
            *contradictions,
        ],
    )


def emergency_moves_per_child(as_of: dt.date, who: str = "") -> dict[str, Value]:
    """Unplanned endings a placement-year of in-house and agency foster placements: Cheshire East's emergency
    moves "coming from" each (002_834b48a4b269ace3.txt:L929-931, latest by the as-of date) over its children
    placed there then. A lower bound: only the endings that needed an emergency placement were counted, and
    the document does not define them (reference L237). `who`: another authority borrowing the rates."""
    ce = PublishedData("cheshire_east")
    rates = {}
    for pool, category in (("inhouse_fostering", "from_inhouse_fostering"), ("ifa", "from_ifa")):
        moves = _annual(ce, "emergency_placements", as_of, "placements", category)
        if moves is None:
            return {}
        figures = [f for f in ce.all("emergency_placements", category, "placements") if f.date <= as_of]
        children = ce.nearest("placements", pool, figures[-1].date, "children")
        rates[pool] = Value(
            round(moves.value / children.value, 4),
            f"{who}derived: emergency moves from these placements ({moves.comment}) / the children in them "
            f"({children.cite()}); a lower bound (only endings that needed an emergency placement)",
        )
    return rates


def _ce_home_usable_share(data: PublishedData, as_of: dt.date) -> Value:
    """Cheshire East's occupancy target for its homes, as the share of beds the matching can fill at once."""
    target = data.nearest("occupancy_target", "inhouse_residential", as_of, "percent")
    return Value(target.value / 100, f"assumption: the occupancy target ({target.cite()}) as the usable share of beds")


def _ce_admissions(data: PublishedData, as_of: dt.date) -> Value:
    """Admissions a year: the financial year containing the as-of date (actual if complete, else the
    projection published for it); else the latest count published by its end, scaled up if it covers part of
    a year (77 in April-August 2016 is 185 a year, not 77)."""
    year_end = dt.date(as_of.year if as_of.month < 4 else as_of.year + 1, 3, 31)
    counts = [
        figure
        for measure in ("admissions", "admissions_projected")
        for figure in data.all(measure, "total", "children")
        if figure.date <= year_end
    ]
    if not counts:
        raise CalibrationDataError(f"calibration/data/{data.folder}: no admissions published by {year_end}")
    for figure in counts:  # actual admissions come first in `counts`
        if figure.date == year_end and _months(figure) == 12:
            return Value(figure.value, f"{figure.cite()}, financial year to {year_end}")
    figure = max(counts, key=lambda f: (f.date, _months(f)))
    months = _months(figure)
    return Value(
        figure.value * 12 / months,
        f"{figure.cite()} over {months} months, as a yearly rate; the latest published by {year_end}",
    )


def _months(figure: Figure) -> int:
    """Months a count covers (a year when its start is not given)."""
    return 12 if figure.period_start is None else round((figure.date - figure.period_start).days / 30.44)


def _annual(
    data: PublishedData, measure: str, as_of: dt.date, unit: str = "children", category: str = "total"
) -> Value | None:
    """A count a year: the latest figure on or before the as-of date, scaled up if it covers part of a year."""
    figures = [f for f in data.all(measure, category, unit) if f.date <= as_of]
    if not figures:
        return None
    figure = figures[-1]
    months = _months(figure)
    return Value(figure.value * 12 / months, f"{figure.cite()} over {months} months, as a yearly rate")


def _latest_or_none(data: PublishedData, measure: str, category: str, as_of: dt.date) -> Value | None:
    """The latest count on or before the as-of date, or None when none is published by then."""
    figures = [f for f in data.all(measure, category, "children") if f.date <= as_of]
    return Value(figures[-1].value, figures[-1].cite()) if figures else None


def _ce_placements(data: PublishedData, england: PublishedData, as_of: dt.date, stock: Value, beds: float):
    residential = data.nearest("residential_share", "total", as_of, "percent")
    all_homes = round(residential.value / 100 * stock.value)
    occupancy = data.nearest("occupancy_target", "inhouse_residential", as_of, "percent")
    inhouse_homes = int(beds * occupancy.value / 100)
    living = data.get("placements", "independent_living", dt.date(2017, 12, 31), "percent")
    rise = data.get("placements_share_change", "independent_living", dt.date(2017, 12, 31), "percent")
    supported = round((living.value - rise.value) / 100 * stock.value)
    national_secure = england.get("placements_share", "secure", unit="percent")
    secure = Value(
        round(national_secure.value / 100 * stock.value, 2),
        f"assumption: the national share ({national_secure.cite()}) x stock, inside the residential share "
        "(Cheshire East publishes no secure count)",
    )
    supported_beds = sum(
        data.nearest("beds", c, as_of, "beds").value for c in ("watermill_house", "west_street", "ymca_ignition_flats")
    )
    parents = england.latest("placements_share", "placed_with_parents", dt.date(2019, 3, 31), "percent")
    adopters = data.nearest("placed_with_adopters", "total", as_of, "children")
    placements = {
        "inhouse_fostering": _interpolated(data, "placements", "inhouse_fostering", as_of),
        "ifa": _interpolated(data, "placements", "ifa", as_of),
        "kinship": _interpolated(data, "placements", "kinship_fostering", as_of),
        "inhouse_homes": Value(
            inhouse_homes, f"assumption: in-house beds ({beds:g}) x occupancy target ({occupancy.cite()}), rounded down"
        ),
        "external_homes": Value(
            all_homes - inhouse_homes - secure.value,
            f"residential share {residential.cite()} x stock, less the in-house homes and secure care",
        ),
        "secure": secure,
        "inhouse_supported": Value(min(supported, supported_beds), f"in-house beds ({supported_beds:g}) filled first"),
        "external_supported": Value(max(supported - supported_beds, 0), "the rest of the 16+ supported group"),
        "placed_with_parents": Value(
            round(parents.value / 100 * stock.value), f"assumption: national share {parents.cite()} x stock"
        ),
        "adopters": Value(adopters.value, adopters.cite()),
    }
    for pool in ("inhouse_fostering", "ifa", "kinship"):
        placements[pool] = Value(round(placements[pool].value), placements[pool].comment)
    supported_note = (
        f"16+ independent living {living.cite()} less the rise {rise.cite()} since April 2017, x stock (derived)"
    )
    for pool in ("inhouse_supported", "external_supported"):
        placements[pool] = Value(placements[pool].value, f"{supported_note}; {placements[pool].comment}")
    schools = data.nearest("placements", "residential_school", as_of, "children")
    rest = stock.value - sum(v.value for v in placements.values())
    notes = [] if rest >= 0 else _fit_fostering_to_stock(placements, -rest, stock, as_of)
    placements["other_placements"] = Value(
        max(rest, 0.0), f"the rest of the stock, including {schools.value:g} in residential schools ({schools.cite()})"
    )
    return placements, notes


def _fit_fostering_to_stock(placements: dict[str, Value], excess: float, stock: Value, as_of: dt.date) -> list[str]:
    """The interpolated foster counts, less `excess` children pro rata, when the placements add up to more than
    the stock (both are kept in the data; the contradiction is flagged in the scenario's notes)."""
    pools = ("inhouse_fostering", "ifa", "kinship")
    total = sum(placements[pool].value for pool in pools)
    kept = _largest_remainders([placements[pool].value * (1 - excess / total) for pool in pools], round(total - excess))
    for pool, count in zip(pools, kept, strict=True):
        placements[pool] = Value(count, f"{placements[pool].comment}; less {excess:g} pro rata (see the notes)")
    return [
        f"The placements published or interpolated for {as_of} add up to "
        f"{stock.value + excess:g} children against {stock.value:g} in care ({stock.comment}); the interpolated "
        f"foster counts are reduced by {excess:g} pro rata and no one is counted in other placements."
    ]


def _largest_remainders(values: list[float], total: int) -> list[int]:
    """Whole numbers summing to `total`, each the floor of its value or one more."""
    floors = [math.floor(v) for v in values]
    order = sorted(range(len(values)), key=lambda i: floors[i] - values[i])
    for i in order[: total - sum(floors)]:
        floors[i] += 1
    return floors


def cheshire_east_observations() -> tuple[Observed, ...]:
    data = PublishedData("cheshire_east")
    origin = dt.date(2016, 3, 31)
    observed = []
    for label, measure, category, pools in (
        ("children in care", "children_in_care", "total", None),
        ("own foster carers", "placements", "inhouse_fostering", ("inhouse_fostering",)),
        ("agency foster carers", "placements", "ifa", ("ifa",)),
        ("family and friends carers", "placements", "kinship_fostering", ("kinship",)),
    ):
        for figure in data.all(measure, category, "children"):
            if figure.date > origin:
                observed.append(Observed(figure.date, label, pools, figure.value, figure.source))
    return tuple(observed)


def _dates(folder: str, measure: str, category: str | None = None) -> tuple[dt.date, ...]:
    return tuple(sorted({f.date for f in PublishedData(folder).all(measure, category, "children")}))


def _national_trend_prior() -> Prior:
    from calibration import priors

    return Prior(
        priors.NATIONAL_TREND_PERCENT.value / 100,
        0.05,
        f"{priors.NATIONAL_TREND_PERCENT.source}; assumption: a local trend within 5 percentage points (1 sd)",
    )


AUTHORITIES = {
    "cheshire_east": Authority(
        "Cheshire East",
        cheshire_east_targets,
        dt.date(2016, 3, 31),
        cheshire_east_observations(),
        _dates("cheshire_east", "children_in_care", "total"),
        "cheshire_east",
        _national_trend_prior(),
        parent_child_and_remand=CE_PARENT_CHILD_AND_REMAND,
    ),
    "stockport": Authority(
        "Stockport",
        stockport_targets,
        dt.date(2016, 3, 31),
        stockport_observations(),
        _dates("stockport", "placements_by_code"),
        "stockport",
        Prior(
            0.0,
            0.03,
            f"{STOCKPORT_DOC}:L89 'current figures [of admissions] remain quite similar to 2015'; assumption: "
            "within 3 percentage points a year (1 sd)",
        ),
        market_from="cheshire_east",
        parent_child_and_remand=STOCKPORT_PARENT_CHILD_AND_REMAND,
    ),
}
