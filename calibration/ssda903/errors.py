"""The one exception the SSDA903 reader raises for bad input.

Kept in its own module so the reader, the cleaner and the quality report can share it without importing
each other. Messages name the file, the 1-based spreadsheet row (the header line is row 1), the column and
what was expected, and never a value from the row: a value could be a child's identifier, date of birth or
postcode.
"""

from __future__ import annotations

from sim.engine.errors import InputError


class SSDA903Error(InputError):
    """Bad SSDA903 input the reader cannot safely fix; the message says where and what was expected.

    An InputError, so every caller that shows bad input as one line (the command line, the app) shows this too.
    """


def where(file: str, rows: list[int], column: str | None = None) -> str:
    """'2019-episodes.csv, row 5, column DECOM' (with '(and 3 more rows)' when several rows share the fault)."""
    text = file
    if rows:
        text += f", row {rows[0]}"
    if column:
        text += f", column {column}"
    if len(rows) > 1:
        text += f" (and {len(rows) - 1} more row{'s' if len(rows) > 2 else ''})"
    return text
