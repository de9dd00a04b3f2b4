"""The fixed domain vocabulary: age bands, placement needs, exit routes, categories of need.

These are the names used in scenario files and in every output table. They follow the
DfE's children-looked-after statistics (age bands, SSDA903 category-of-need codes) so
outputs line up with published figures.
"""

from __future__ import annotations

DAYS_PER_YEAR = 365.25

# DfE age bands (age in completed years). Upper bounds are exclusive.
AGE_BANDS: tuple[str, ...] = ("under1", "1-4", "5-9", "10-15", "16-17")
AGE_BAND_BOUNDS_YEARS: tuple[tuple[float, float], ...] = ((0, 1), (1, 5), (5, 10), (10, 16), (16, 18))
LEAVING_CARE_AGE_YEARS = 18.0

PLACEMENT_NEEDS: tuple[str, ...] = (
    "fostering",
    "kinship_fostering",
    "residential",
    "secure",
    "supported_16plus",
    "placed_with_parents",
    "placed_for_adoption",
    "other",
)

# Labels used for places held by young people who have left care (kept off the in-care stock).
POST_18_ARRANGEMENTS: tuple[str, ...] = ("staying_put", "staying_close")

EXIT_ROUTES: tuple[str, ...] = ("return_home", "adoption", "sgo_cao", "age_18", "other")

# SSDA903 CIN codes: N1 abuse or neglect ... N8 absent parenting.
CATEGORIES_OF_NEED: tuple[str, ...] = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")

SEXES: tuple[str, ...] = ("male", "female")


def age_band_index(age_years: float) -> int:
    """Index in AGE_BANDS of an age in years (ages of 18 and over fall in the last band)."""
    for index, (_, upper) in enumerate(AGE_BAND_BOUNDS_YEARS):
        if age_years < upper:
            return index
    return len(AGE_BANDS) - 1
