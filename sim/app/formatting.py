"""Numbers as the workshop page shows them: pounds with thousands separators, counts to one decimal place.

Why one decimal for counts: a figure on the page is a mean across replications (11.8 households approved a year,
84.3 placements), so a whole number would hide a real difference and three decimals ("11.799") only noise.
Why strings: the page's tables then show exactly these, whatever the browser's locale or column width.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.analysis.compare import MEASURE_LABELS


def is_money(measure: str) -> bool:
    return measure.startswith("spend")


def amount(value: float, money: bool = False, sign: bool = False) -> str:
    """'£1,234,567' or '-£708,774' (to the pound), '11.8' (counts); with `sign`, '+' in front of a rise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    plus = "+" if sign and value > 0 else ""
    if money:
        return f"{plus}{'-' if value < 0 else ''}£{abs(value):,.0f}"
    return f"{plus}{value:,.1f}"


def millions(value: float, sign: bool = False) -> str:
    """'£1.05m', '-£0.67m': pounds in millions to two places (the headline and history's unit)."""
    plus = "+" if sign and value > 0 else ""
    return f"{plus}{'-' if value < 0 else ''}£{abs(value) / 1e6:,.2f}m"


def headline(value: float, money: bool, sign: bool = False) -> str:
    """A headline figure: money in £ million ('£1.05m'), counts to one place."""
    return millions(value, sign) if money else amount(value, sign=sign)


def differences_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of `compare.paired_differences` as the page shows them: the measure in words, each figure formatted,
    the 95% CI as one 'low to high' column."""
    money = [is_money(m) for m in rows["measure"]]

    def column(name: str, sign: bool = False) -> list[str]:
        return [amount(v, m, sign) for v, m in zip(rows[name], money, strict=True)]

    return pd.DataFrame(
        {
            "what-if": rows["what_if"].to_numpy(),
            "measure": [MEASURE_LABELS.get(m, m) for m in rows["measure"]],
            "category": rows["category"].to_numpy(),
            "baseline mean": column("base_mean"),
            "what-if mean": column("what_if_mean"),
            "mean difference": column("difference", sign=True),
            "95% CI": [f"{a} to {b}" for a, b in zip(column("ci95_low"), column("ci95_high"), strict=True)],
        }
    )


def sizing_shown(table: pd.DataFrame) -> pd.DataFrame:
    """`sizing.sizing_table` with shares as percentages and the dispersion to two places."""
    shown = table.copy()
    for column in ("usable_share", "share_placed_at_it"):
        shown[column] = [f"{v:.0%}" for v in shown[column]]
    shown["dispersion"] = [f"{v:.2f}" for v in shown["dispersion"]]
    for column in shown.columns:
        if column.startswith("places_for_") or column in ("capacity_in_window", "usable_in_window"):
            shown[column] = [_places(v) for v in shown[column]]
    return shown.rename(columns=lambda c: c.replace("_", " "))


def _places(value: object) -> str:
    """A number of places: whole numbers without '.0', a mean to one place, 'n/a' when there is none."""
    if value is None or pd.isna(value):
        return "n/a"
    return amount(float(value)).removesuffix(".0")
