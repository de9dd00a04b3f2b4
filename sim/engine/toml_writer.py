"""A scenario document as TOML text that `sufficiency run` reads back to exactly the same scenario.

Why not `calibration.toml_writer`: it rounds numbers to six significant figures (right for a calibrated
baseline, whose figures carry no more precision than that), and the simulation package does not import
`calibration`. A what-if downloaded from the workshop app must reproduce the app's numbers exactly, so
numbers are written with Python's shortest round-trip form.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def to_toml(document: dict[str, Any], header: list[str]) -> str:
    """Tables become `[sections]`, lists of tables `[[arrays]]`, distributions inline tables."""
    lines = [f"# {line}".rstrip() for line in header]
    _write_table(lines, document, ())
    return "\n".join(lines).strip() + "\n"


def _write_table(lines: list[str], table: dict[str, Any], path: tuple[str, ...]) -> None:
    for key, value in table.items():
        if not _is_section(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if not _is_section(value):
            continue
        child = (*path, str(key))
        if isinstance(value, list):
            for item in value:
                lines += ["", f"[[{_dotted(child)}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items()]
        else:
            lines += ["", f"[{_dotted(child)}]"]
            _write_table(lines, value, child)


def _is_section(value: Any) -> bool:
    """Whether a value gets its own header (a table or a list of tables) rather than `key = value`."""
    if isinstance(value, list):
        return bool(value) and all(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and not _is_inline(value)


def _is_inline(table: dict[str, Any]) -> bool:
    """Distributions (`distribution = ...`) and lognormal prices (`median`, `p90`) read best on one line."""
    return "distribution" in table or (bool(table) and set(table) <= {"median", "p90"})


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float; nan and inf are TOML too
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _key(key: Any) -> str:
    key = str(key)
    return key if BARE_KEY.fullmatch(key) else _string(key)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)
