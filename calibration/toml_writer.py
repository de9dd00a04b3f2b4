"""Write a scenario as TOML with a comment on every parameter saying where it comes from.

The output is deterministic (key order as built, numbers to six significant figures), so a
committed baseline can be checked byte for byte against what `sufficiency calibrate` writes.
Tables of scalars become `[sections]` with one commented line per key; distributions become
inline tables; lists of tables become `[[arrays]]`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Comments = dict[str, str]  # dotted key path -> comment; array items as "a.b.#0.key"


def to_toml(document: dict[str, Any], comments: Comments, header: list[str]) -> str:
    lines = [f"# {line}".rstrip() for line in header]
    lines.append("")
    _write_table(lines, document, (), comments)
    return "\n".join(lines).rstrip() + "\n"


def _write_table(lines: list[str], table: dict[str, Any], path: tuple[str, ...], comments: Comments) -> None:
    scalars = {k: v for k, v in table.items() if not _is_section(v)}
    for key, value in scalars.items():
        lines.append(_line(key, value, comments.get(_dotted((*path, key)))))
    for key, value in table.items():
        if key in scalars:
            continue
        child = (*path, key)
        if isinstance(value, list):
            for index, item in enumerate(value):
                lines.append("")
                lines.append(f"[[{_dotted(child)}]]")
                _write_table_body(lines, item, (*child, f"#{index}"), comments)
            continue
        lines.append("")
        lines.append(f"[{_dotted(child)}]")
        note = comments.get(_dotted(child))
        if note:
            lines[-1] += f"  # {note}"
        _write_table(lines, value, child, comments)


def _write_table_body(lines: list[str], table: dict[str, Any], path: tuple[str, ...], comments: Comments) -> None:
    for key, value in table.items():
        lines.append(_line(key, value, comments.get(".".join((*path, key)))))


def _is_section(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and "distribution" not in value and "median" not in value


def _line(key: str, value: Any, comment: str | None) -> str:
    text = f"{_key(key)} = {_value(value)}"
    return f"{text}  # {comment}" if comment else text


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _number(value: float) -> str:
    text = f"{value:.6g}"
    if "e" in text or "." in text or "inf" in text or "nan" in text:
        return text
    return text + ".0"


def _key(key: str) -> str:
    bare = all(c.isalnum() or c in "-_" for c in key) and key
    return key if bare else f'"{key}"'


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path if not part.startswith("#"))
