"""A scenario document as TOML 1.0 text, for the workshop app's what-ifs and for calibrated baselines.

Numbers are exact by default (Python's shortest form that reads back to the same float), because a what-if
downloaded from the app must reproduce the app's numbers. Calibration asks for `significant` figures instead
(its fitted figures carry no more precision) and for `comments` saying where each parameter comes from.
The text is deterministic (keys in the order built), so a committed baseline can be checked byte for byte.
Tables become `[sections]`, lists of tables `[[arrays]]`, distributions and lognormal prices inline tables.
TOML's `inf` and `nan`, and integers beyond 64 bits (which `tomllib` reads), are written as they are: an
uploaded file holding them must reach the scenario rules, whose message names the key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

Comments = dict[str, str]  # dotted key path -> end-of-line comment; array items as "a.b.#0.key"

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what TOML 1.0 allows in neither comments nor basic strings


def to_toml(
    document: dict[str, Any],
    header: Sequence[str] = (),
    *,
    comments: Comments | None = None,
    significant: int | None = None,
) -> str:
    """The document as TOML with `header` as its opening comment lines.

    A blank line separates the header from the body unless the header ends with its own spacer (an empty
    line, written `#`). Raises TypeError for a value TOML has no type for (None, say) and ValueError for one
    it cannot hold (a lone surrogate, a time of day with a time zone, an offset of seconds).
    """
    writer = _Writer(comments or {}, significant)
    lines = [_comment(line).rstrip() for line in header]
    if header and header[-1]:
        lines.append("")
    writer.table(lines, document, ())
    return "\n".join(lines).strip() + "\n"


class _Writer:
    def __init__(self, comments: Comments, significant: int | None) -> None:
        self.comments = comments
        self.significant = significant

    def table(self, lines: list[str], table: dict[str, Any], path: tuple[str, ...]) -> None:
        """Scalars first (TOML puts every key after a header into that header's table), then sub-tables."""
        for key, value in table.items():
            if not _is_section(value):
                lines.append(self.line(key, value, (*path, key)))
        for key, value in table.items():
            if not _is_section(value):
                continue
            child = (*path, key)
            if isinstance(value, list):
                for index, item in enumerate(value):
                    lines += ["", f"[[{_dotted(child)}]]"]
                    lines += [self.line(k, v, (*child, f"#{index}", k)) for k, v in item.items()]
            else:
                lines += ["", self.annotated(f"[{_dotted(child)}]", child)]
                self.table(lines, value, child)

    def line(self, key: str, value: Any, path: tuple[str, ...]) -> str:
        return self.annotated(f"{_key(key)} = {self.value(value)}", path)

    def annotated(self, text: str, path: tuple[str, ...]) -> str:
        note = self.comments.get(".".join(path))
        return f"{text}  {_comment(note)}" if note else text

    def value(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _float(value, self.significant)
        if isinstance(value, str):
            return _string(value)
        if isinstance(value, dt.date | dt.time):
            return _moment(value)
        if isinstance(value, dict):
            items = ", ".join(f"{_key(k)} = {self.value(v)}" for k, v in value.items())
            return "{ " + items + " }" if value else "{}"
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_section(value: Any) -> bool:
    """Whether a value gets its own header (a table or a list of tables) rather than `key = value`."""
    if isinstance(value, list):
        return bool(value) and all(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and not _is_inline(value)


def _is_inline(table: dict[str, Any]) -> bool:
    """Distributions (`distribution = ...`) and lognormal prices (`median`, `p90`) read best on one line."""
    return "distribution" in table or (bool(table) and set(table) <= {"median", "p90"})


def _float(value: float, significant: int | None) -> str:
    """Exact (shortest round-trip form) or to `significant` figures, always with a `.` or exponent."""
    if significant is None:
        return float.__repr__(value)  # nan, inf and -inf are TOML too; float.__repr__ also for numpy floats
    text = f"{value:.{significant}g}"
    return text if any(mark in text for mark in ("e", ".", "inf", "nan")) else text + ".0"


def _string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters (tab too) escaped."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(_escape(char))
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"cannot write {text[:40]!r} to TOML: a lone surrogate is not a Unicode character")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _moment(value: dt.date | dt.time) -> str:
    """TOML's local date, local time, local date-time or offset date-time (offsets in whole minutes)."""
    offset = value.utcoffset() if isinstance(value, dt.datetime | dt.time) else None
    if isinstance(value, dt.time) and value.tzinfo is not None:
        raise ValueError(f"cannot write {value} to TOML: a time of day has no time zone in TOML")
    if offset is not None and offset % dt.timedelta(minutes=1):
        raise ValueError(f"cannot write {value} to TOML: time-zone offsets are in whole minutes")
    return value.isoformat()


def _comment(text: str) -> str:
    """`# text`; a control character would end or break the comment, so it is shown as its escape."""
    return "# " + _CONTROL.sub(lambda match: _escape(match[0]), text)


def _escape(char: str) -> str:
    return f"\\u{ord(char):04x}"


def _key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"cannot write the key {key!r} to TOML: keys are strings")
    return key if BARE_KEY.fullmatch(key) else _string(key)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)
