"""The fixed domain vocabulary: age bands, placement needs, exit routes, categories of need.

These are the names used in scenario files and in every output table. They follow the
DfE's children-looked-after statistics (age bands, SSDA903 category-of-need codes) so
outputs line up with published figures.
"""

from __future__ import annotations

from typing import Literal, get_args

DAYS_PER_YEAR = 365.25

# DfE age bands (age in completed years). Upper bounds are exclusive.
AGE_BANDS: tuple[str, ...] = ("under1", "1-4", "5-9", "10-15", "16-17")
AGE_BAND_BOUNDS_YEARS: tuple[tuple[float, float], ...] = ((0, 1), (1, 5), (5, 10), (10, 16), (16, 18))
LEAVING_CARE_AGE_YEARS = 18.0
# The bands a child can be remanded in: from 10, the age of criminal responsibility in England (Children and Young
# Persons Act 1933 s.50, https://www.legislation.gov.uk/ukpga/Geo5/23-24/12/section/50), to 17.
REMAND_BANDS: tuple[str, ...] = ("10-15", "16-17")

# The placement needs, as the type every scenario model names and as the tuple outputs iterate.
Need = Literal[
    "fostering",
    "kinship_fostering",
    "residential",
    "secure",
    "supported_16plus",
    "placed_with_parents",
    "placed_for_adoption",
    "other",
    # Appended, so the needs before keep their indices (and every record of a scenario without them its codes).
    "parent_and_child",  # a parent placed with their baby for an assessment (a foster carer or a family centre)
    "remand",  # remanded to youth detention accommodation: looked after for the remand only (entries.remand)
]
PLACEMENT_NEEDS: tuple[str, ...] = get_args(Need)

# Labels used for places held by young people who have left care (kept off the in-care stock).
POST_18_ARRANGEMENTS: tuple[str, ...] = ("staying_put", "staying_close")

EXIT_ROUTES: tuple[str, ...] = ("return_home", "adoption", "sgo_cao", "age_18", "other")

# The gap ledger's kinds (sim.results.tables): every day a child in care spends outside a first-choice placement
# within 20 miles counts under exactly one, the first that applies in this order. The first six are not
# sufficient (the sufficiency duty is not met); the last two are the right kind of placement from a pool below
# the first choice: a question of cost, not of sufficiency. `placed_apart` counts a sibling group's member placed
# in another pool than its first member on arrival ([entries.sibling_groups]), unless an earlier kind applies.
GAP_KINDS: tuple[str, ...] = (
    "secure_shortage",  # needs secure care and is not in a proper secure placement (e.g. a Deprivation of Liberty)
    "emergency",  # in a pool of kind emergency (bridging to a new search)
    "unregistered",  # in a pool of kind unregistered
    "wrong_kind",  # in a pool that is not a proper placement of the child's need
    "placed_apart",  # placed apart from its sibling group on arrival
    "beyond_20_miles",  # the right kind, more than 20 miles from home
    "external_right_kind",  # placed externally: the right kind, bought in, below the first choice
    "in_house_right_kind",  # the right kind, in another in-house pool below the first choice
)
SUFFICIENT_GAP_KINDS: tuple[str, ...] = ("external_right_kind", "in_house_right_kind")

# SSDA903 CIN codes: N1 abuse or neglect ... N8 absent parenting.
CATEGORIES_OF_NEED: tuple[str, ...] = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")

SEXES: tuple[str, ...] = ("male", "female")


def age_band_index(age_years: float) -> int:
    """Index in AGE_BANDS of an age in years (ages of 18 and over fall in the last band)."""
    for index, (_, upper) in enumerate(AGE_BAND_BOUNDS_YEARS):
        if age_years < upper:
            return index
    return len(AGE_BANDS) - 1
