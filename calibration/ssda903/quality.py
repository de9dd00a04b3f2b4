"""The data-quality report of an SSDA903 read: what came in, and every row the reader dropped, changed or merged.

An analyst must be able to see why the cleaned history differs from the raw returns before trusting a
calibration built on it, so no fix is silent: each cleaning step adds an entry with the rule, the file (or
"all files"), the number of rows affected, the action and a plain-English reason. The report holds counts
only, never a value from a row, so it can be shared or printed in a calibration report without disclosing
a child.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ALL_FILES = "all files"
# "flagged": the rows are kept as they are, but the analyst should know about them.
ACTIONS = ("dropped", "changed", "merged", "flagged")
COLUMNS = ("rule", "file", "rows", "action", "reason")


@dataclass(frozen=True)
class QualityEntry:
    """One cleaning rule's effect on one file (or on all files once they are combined)."""

    rule: str
    file: str
    rows: int
    action: str
    reason: str


@dataclass
class QualityReport:
    """Input counts, output counts and one entry per rule and file that touched any row."""

    entries: list[QualityEntry] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name -> table ("header", "episodes", "uasc")
    file_rows: dict[str, int] = field(default_factory=dict)  # file name -> data rows read
    rows_read: dict[str, int] = field(default_factory=dict)  # table -> data rows read over all its files
    extract_date: str = ""
    children: int = 0
    episodes: int = 0
    periods: int = 0

    def add(self, rule: str, rows: int, action: str, reason: str, file: str = ALL_FILES) -> None:
        """Record a rule's effect; zero rows is not recorded, so the report lists only what happened."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if rows < 0:
            raise ValueError(f"rows must be >= 0, got {rows}")
        if rows:
            self.entries.append(QualityEntry(rule, file, int(rows), action, reason))

    def total(self, rule: str) -> int:
        """Rows affected by a rule over all files (0 when the rule never applied)."""
        return sum(entry.rows for entry in self.entries if entry.rule == rule)

    def dropped_text(self) -> str:
        """One line naming each rule that dropped rows and how many, for an error that must fit on a line."""
        totals = {rule: self.total(rule) for rule in self.rules() if self._action(rule) == "dropped"}
        return "; ".join(f"{n} row{'s' if n > 1 else ''} dropped by {rule}" for rule, n in totals.items()) or (
            "no row was dropped"
        )

    def _action(self, rule: str) -> str:
        return next(entry.action for entry in self.entries if entry.rule == rule)

    def rules(self) -> list[str]:
        """Rules that applied, in the order they ran."""
        return list(dict.fromkeys(entry.rule for entry in self.entries))

    def to_frame(self) -> pd.DataFrame:
        """One row per entry: rule, file, rows, action, reason."""
        return pd.DataFrame([vars(entry) for entry in self.entries], columns=list(COLUMNS))

    def counts_frame(self) -> pd.DataFrame:
        """Input and output counts as a two-column table (what, count)."""
        rows = [(f"{table} rows read", n) for table, n in sorted(self.rows_read.items())]
        rows += [("children", self.children), ("episodes", self.episodes), ("periods of care", self.periods)]
        return pd.DataFrame(rows, columns=["what", "count"])

    def to_text(self) -> str:
        """A readable plain-text table: the counts, then every entry."""
        lines = [f"SSDA903 data-quality report (extract date {self.extract_date or 'unknown'})", ""]
        lines += [f"  {what:<24} {count:>8}" for what, count in self.counts_frame().itertuples(index=False)]
        lines += ["", "Files read:"]
        lines += [f"  {name:<32} {self.files[name]:<9} {n:>6} rows" for name, n in self.file_rows.items()]
        lines.append("")
        if not self.entries:
            lines.append("No rows were dropped, changed or merged.")
            return "\n".join(lines)
        lines.append(_table(self.to_frame()))
        return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    """Fixed-width text table, numbers right-aligned, the reason column last and unpadded."""
    text = frame.astype(str)
    widths = {c: max(len(c), *(len(v) for v in text[c])) for c in frame.columns}
    fmt = {c: (str.rjust if c == "rows" else str.ljust) for c in frame.columns}
    last = frame.columns[-1]

    def line(values: dict[str, str]) -> str:
        cells = [values[c] if c == last else fmt[c](values[c], widths[c]) for c in frame.columns]
        return "  ".join(cells).rstrip()

    out = [line({c: c for c in frame.columns}), line({c: "-" * widths[c] for c in frame.columns})]
    out += [line(dict(zip(frame.columns, row, strict=True))) for row in text.itertuples(index=False)]
    return "\n".join(out)
