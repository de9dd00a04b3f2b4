"""What every scenario model shares: strict types, finite numbers, no unknown keys, and bounds on size.

Strict, because a scenario is read once at the boundary and trusted afterwards: `years = true` must not run
one year, `capacity = "10"` must not pass as a number and `in_house = "no"` must not read as false. Finite,
because TOML allows `inf` and `nan`, which would pass `ge=0` and reach the budget. The upper bounds keep a
typing slip (an extra three zeros) from becoming an hour's run or a memory failure; each is set well above
an England-sized system, so no real authority meets one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# England started 33,050 children in care in 2024 (../shared/reference/national_england.md L29); a bound of
# three times that per age band and stream still admits an England-sized scenario.
MAX_ENTRIES_PER_YEAR = 100_000
# 83,840 children were looked after in England on 31 March 2023 (national_england.md L17); a pool of twice that.
MAX_PLACES = 200_000
# England had 43,475 fostering households in 2018 (national_england.md L66).
MAX_HOUSEHOLDS = 100_000
# 4,055 households joined and 4,820 left in a year (national_england.md L72).
MAX_HOUSEHOLDS_PER_YEAR = 20_000
# The highest weekly price the LGA found in 2022/23 was £63,000 (national_england.md L87).
MAX_WEEKLY_PRICE = 1_000_000.0
MAX_YEARLY_PRICE = MAX_WEEKLY_PRICE * 52 * 100  # a block contract for a home of up to 100 beds
MAX_DAYS = 36_525.0  # 100 years: a stay, delay or duration parameter beyond it is a slip, not a plan
MAX_PERCENT_PER_YEAR = 100.0  # a trend or inflation rate; compounding beyond doubling a year is a slip
MAX_NAME = 200
MAX_TEXT = 5_000  # a description; longer text belongs in a document, not a scenario
MAX_NOTE = 1_000  # a note or a source line

Days = Annotated[float, Field(gt=0, le=MAX_DAYS)]
DaysOrZero = Annotated[float, Field(ge=0, le=MAX_DAYS)]
PerYear = Annotated[float, Field(ge=0, le=MAX_ENTRIES_PER_YEAR)]
PercentPerYear = Annotated[float, Field(gt=-100, le=MAX_PERCENT_PER_YEAR)]
Money = Annotated[float, Field(ge=0, le=MAX_WEEKLY_PRICE)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Note = Annotated[str, Field(max_length=MAX_NOTE)]
Source = Annotated[str, Field(min_length=1, max_length=MAX_NOTE)]


class ScenarioModel(BaseModel):
    """A table of a scenario file: strict types, finite numbers, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
