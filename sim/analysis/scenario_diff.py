"""What a what-if changes: the settings where its validated scenario differs from the base's, in words.

Why from the validated models and not the TOML text: a what-if file states only the keys it overrides over the
file it `extends` (or, written by the workshop, everything merged), so the two texts cannot be compared line by
line; the two scenarios' dumps hold every setting with its default, whichever way each was written.
Prose (descriptions, notes, sources) and the file's own identity (name, extends) are not settings: a changed
note changes no result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sim.engine.scenario import Scenario

IDENTITY = ("name", "description", "extends")  # the file's own name and words, not what it simulates
PROSE = ("description", "note", "source")  # prose at any depth


class _Absent:
    """A setting one of the two scenarios does not have (a pool only the what-if adds)."""

    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


@dataclass(frozen=True)
class Change:
    """One setting that differs: its path in the scenario document and its value in each scenario."""

    path: tuple[str, ...]
    base: Any
    what_if: Any

    @property
    def setting(self) -> str:
        return ".".join(self.path)

    @property
    def words(self) -> str:
        """'pools.inhouse_fostering.usable_share: 0.82 in the base, 0.902 in the what-if' (or added, removed)."""
        if self.base is ABSENT:
            return f"{self.setting} added: {value_words(self.what_if)}"
        if self.what_if is ABSENT:
            return f"{self.setting} removed (in the base: {value_words(self.base)})"
        return f"{self.setting}: {value_words(self.base)} in the base, {value_words(self.what_if)} in the what-if"

    @property
    def outcome(self) -> str:
        """What the what-if has: 'added', 'removed' or '= <its value>' (a table added is not spelled out)."""
        if self.base is ABSENT:
            return "added"
        if self.what_if is ABSENT:
            return "removed"
        return f"= {value_words(self.what_if)}"


def scenario_changes(base: Scenario, what_if: Scenario) -> list[Change]:
    """Every setting of `what_if` that differs from `base`, in the order of the scenario document."""
    dumped_base, dumped_what_if = base.model_dump(mode="json"), what_if.model_dump(mode="json")
    for key in IDENTITY:
        dumped_base.pop(key, None)
        dumped_what_if.pop(key, None)
    return _differences((), dumped_base, dumped_what_if)


def changes_in_brief(changes: list[Change], limit: int = 160) -> str:
    """The changes as one short line (each change's `brief`, '; ' between), cut at `limit` characters."""
    if not changes:
        return "no setting changed"
    groups: dict[tuple[str, str], list[str]] = {}  # the same change in several tables said once: moves of 5-9, 10-15
    for change in changes:
        where = change.path[-2] if len(change.path) > 1 else ""
        places = groups.setdefault((change.path[-1], change.outcome), [])
        places += [where] if where not in places else []
    text = "; ".join(
        f"{'.'.join(filter(None, [', '.join(places), key]))} {outcome}" for (key, outcome), places in groups.items()
    )
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _differences(path: tuple[str, ...], base: Any, what_if: Any) -> list[Change]:
    if len(path) == 1 and {type(base), type(what_if)} == {dict, _Absent}:  # a section dumped only when used
        base, what_if = base if isinstance(base, dict) else {}, what_if if isinstance(what_if, dict) else {}
    if isinstance(base, dict) and isinstance(what_if, dict):
        found: list[Change] = []
        for key in [*base, *(k for k in what_if if k not in base)]:
            if key in PROSE:
                continue
            found += _differences((*path, str(key)), base.get(key, ABSENT), what_if.get(key, ABSENT))
        return found
    if _without_prose(base) == _without_prose(what_if):
        return []
    return [Change(path, base, what_if)]


def _without_prose(value: Any) -> Any:
    """The value with its prose left out, so two lists differing only in their notes compare equal."""
    if isinstance(value, dict):
        return {k: _without_prose(v) for k, v in value.items() if k not in PROSE}
    if isinstance(value, list):
        return [_without_prose(item) for item in value]
    return value


def value_words(value: Any) -> str:
    """A setting's value as a reader would say it: 'none' for an empty list, a table as 'key value, ...' without
    its prose or unset keys, a dated entry led by its date."""
    if value is ABSENT or value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    if isinstance(value, list):
        if not value:
            return "none"
        separator = "; " if any(isinstance(item, dict) for item in value) else " and "
        return separator.join(value_words(item) for item in value)
    if isinstance(value, dict):
        return _table_words(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _table_words(table: dict[str, Any]) -> str:
    shown = {k: v for k, v in table.items() if k not in PROSE and v not in (None, [], {})}
    date = shown.pop("date", None)
    text = ", ".join(f"{key.replace('_', ' ')} {value_words(value)}" for key, value in shown.items())
    return f"from {date}: {text}" if date is not None else text or "empty"
