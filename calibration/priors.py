"""National priors used where an authority publishes nothing, each with its source or marked an assumption.

Line numbers point into `../shared/reference/national_england.md` (copied into
`calibration/data/england/` with the same lines where a figure is used directly).
"""

from __future__ import annotations

from dataclasses import dataclass

NATIONAL = "national_england.md"


@dataclass(frozen=True)
class Sourced:
    value: float
    source: str

    def __float__(self) -> float:
        return self.value


# Exit routes by age band at entry: shares of children leaving care. National reasons for ceasing
# (2018: 31% returned home, 13% adopted; about 11% SGO in 2024; 65% of "other reasons" left at 18,
# national_england.md:L34-37) spread over age bands by where each route happens: adoption and SGO for
# young children, the 18th birthday for teenagers.
EXIT_ROUTES_BY_BAND: dict[str, dict[str, float]] = {
    "under1": {"return_home": 0.22, "adoption": 0.45, "sgo_cao": 0.23, "other": 0.10},
    "1-4": {"return_home": 0.35, "adoption": 0.30, "sgo_cao": 0.25, "other": 0.10},
    "5-9": {"return_home": 0.50, "adoption": 0.04, "sgo_cao": 0.21, "age_18": 0.10, "other": 0.15},
    "10-15": {"return_home": 0.45, "sgo_cao": 0.05, "age_18": 0.35, "other": 0.15},
    "16-17": {"return_home": 0.27, "age_18": 0.58, "other": 0.15},
}
EXIT_ROUTES_SOURCE = (
    f"assumption: national reasons for ceasing ({NATIONAL}:L34-37: 31% home, 13% adopted 2018; ~11% SGO 2024; "
    "65% of 'other' left at 18) spread over age bands by where each route happens"
)

# Duration shapes by exit route (days), before the Little's-law scale factor. Short returns home make
# up much of the flow (2013 leavers: 11% in care under 2 weeks, 46% under 1 year, national_england.md:L118).
DURATION_SHAPES: dict[str, dict[str, float]] = {
    "return_home": {"distribution": "lognormal", "mean": 240.0, "sd": 420.0},
    "sgo_cao": {"distribution": "lognormal", "mean": 700.0, "sd": 450.0},
    "other": {"distribution": "lognormal", "mean": 420.0, "sd": 560.0},
}
DURATION_SOURCE = (
    f"assumption: national shape ({NATIONAL}:L118: 11% of 2013 leavers in care under 2 weeks, 46% under 1 year; "
    f"bimodal by age, L119), scaled by the Little's-law factor"
)

# Adoption: entry to placement with adopters about 1 year 7 months, then about 9 months to the order (2024).
ADOPTION_READINESS = {"distribution": "gamma", "mean": 578.0, "sd": 200.0}
ADOPTION_TIME_TO_ORDER = {"distribution": "gamma", "mean": 274.0, "sd": 90.0}
ADOPTION_SOURCE = f"{NATIONAL}:L39: entry to placed for adoption 1 year 7 months (2024), about 9 months to the order"

# Foster-carer households: 4,055 joined and 4,820 left of 42,615 in 2023-24 (national_england.md:L69-72).
FOSTER_JOIN_RATE = Sourced(4055 / 42615, f"{NATIONAL}:L69, L72: 4,055 households joined of 42,615 (2023-24)")
FOSTER_LEAVE_RATE = Sourced(4820 / 42615, f"{NATIONAL}:L69, L72: 4,820 households left of 42,615 (2023-24)")

# Staying Put: 49% of eligible young people in 2017-18 (national_england.md:L76).
STAYING_PUT_SHARE = Sourced(0.49, f"{NATIONAL}:L76: Staying Put 1,695 young people (49%) in 2017-18")

# Mean stay implied nationally: 75,420 children looked after (2018) over 32,050 starts (2018).
NATIONAL_MEAN_STAY_YEARS = Sourced(75420 / 32050, f"{NATIONAL}:L12 (75,420 CLA 2018) and L29 (32,050 starts 2018)")

# Long-run growth of children looked after 2017-2022: 72,670 -> 82,170 (national_england.md:L11, L16).
# Share of usable in-house foster places filled: about 60% filled and 16% vacant in LAs (2023-24, L71).
FOSTER_USABLE_SHARE = Sourced(
    0.82, f"{NATIONAL}:L65: 18% of approved foster places 'not available' (Ofsted 2017), so 82% usable for matching"
)
INHOUSE_FOSTER_FILLED_SHARE = Sourced(60 / 76, f"{NATIONAL}:L71: LA places about 60% filled, 16% vacant (2023-24)")

NATIONAL_TREND_PERCENT = Sourced(
    100 * ((82170 / 72670) ** (1 / 5) - 1),
    f"{NATIONAL}:L11, L16: children looked after 72,670 (2017) to 82,170 (2022), "
    "about 2.5% a year (assumption: applied as the long-run trend of entries)",
)


# Complexity tiers: what a child's placement costs beyond its need (sim.engine.complexity). Only the external
# children's homes price by tier (prices.toml weekly_by_tier); the tier mix there gives the heavy price tail.
COMPLEXITY_TIERS = ("standard", "complex", "solo")
COMPLEXITY_SHARES = {"standard": 0.92, "complex": 0.06, "solo": 0.02}  # every age band at entry
COMPLEXITY_RESIDENTIAL_ODDS = {
    "complex": round((0.25 / 0.65) / (0.06 / 0.92), 3),
    "solo": round((0.10 / 0.65) / (0.02 / 0.92), 3),
}
COMPLEXITY_SOURCE = (
    "assumption: children entering residential care are 65% standard, 25% complex and 10% solo (a placement alone "
    "with its own staff, Lincolnshire FOI solo £10,631/wk, national_england.md:L88); 10% solo matches the share "
    "of residential placements at £10k/wk or more in 2022/23 (LGA 1,510, L87, of 14,580 children in secure units, "
    "homes and semi-independent living, L44); 25% complex is an assumption; every other child 92/6/2 (tiers "
    "matter only where a pool or a price names them)"
)

# The National Transfer Scheme. An authority caring for unaccompanied asylum-seeking children up to 0.1% of its
# child population takes no more and transfers its new arrivals out; below that it takes the children the
# scheme offers. The threshold is the scheme's own (0.07% when it began in 2016, later 0.1%: the gap list of
# ../shared/reference/cheshire_east_sufficiency_2016_2017.md:L510). The scheme has been mandatory since 2022
# (a direction under section 72(3) of the Immigration Act 2016: the Home Office's National Transfer Scheme
# protocol, gov.uk, version 7.0); the baselines apply it from the start of the 2022-23 financial year.
TRANSFER_SCHEME_THRESHOLD = Sourced(
    0.001, "the scheme's threshold, 0.1% of the child population (cheshire_east_sufficiency_2016_2017.md:L510)"
)
TRANSFER_SCHEME_FROM = "2022-04-01"
TRANSFER_SCHEME_FROM_SOURCE = (
    "assumption: the scheme is mandatory from 2022 (Home Office NTS protocol, version 7.0: every authority is "
    "directed under section 72(3) of the Immigration Act 2016); applied from the 2022-23 financial year, and not "
    "before: until then taking part was voluntary"
)
