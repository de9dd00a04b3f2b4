"""TOML parsing with bounds, so that no file or upload can make the parser use unbounded memory or time.

`tomllib` is a correct parser but not a defensive one: a dotted key of 100,000 parts in a 204 KB file took
23 GB (its cost grows with the square of the depth), and deeply nested arrays exhaust the stack. So before
parsing, one linear scan measures the text: its size, how deeply arrays and inline tables nest, and how many
parts a dotted key has. Strings and comments are skipped with TOML's own rules, so a dot or a bracket inside
a string counts for nothing. A text over a bound gets a one-line message naming the line and the limit.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from sim.engine.errors import InputError

MAX_TOML_BYTES = 2 * 1024 * 1024  # the largest shipped scenario is 36 KB
MAX_NESTING = 16  # arrays and inline tables inside one another; scenarios use at most 3
MAX_KEY_PARTS = 16  # parts of one dotted key or table header; scenarios use at most 5

_INTERESTING = re.compile(r"[\"'#\[\]{}=,.\n]")
_STRINGS = {
    '"""': re.compile(r'"""(?:[^\\"]|\\.|"{1,2}(?!"))*"{3,5}', re.DOTALL),
    "'''": re.compile(r"'''(?:[^']|'{1,2}(?!'))*'{3,5}"),
    '"': re.compile(r'"(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"'[^'\n]*'"),
}


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """Parse TOML text after checking its bounds; any problem is an InputError starting with `label`."""
    problem = bounds_problem(text)
    if problem is not None:
        raise InputError(f"{label}: {problem}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{label}: not valid TOML: {error}") from None


def bounds_problem(text: str) -> str | None:
    """What makes `text` too big to parse safely, or None. Malformed text is left for the parser to report."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_TOML_BYTES:
        return f"{size:,} bytes is over the limit of {MAX_TOML_BYTES:,} bytes for a scenario file"
    depth = key_parts = 0
    line = 1
    position = 0
    while (found := _INTERESTING.search(text, position)) is not None:
        char = found.group()
        position = found.end()
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, found.start()) else char
            string = _STRINGS[quote].match(text, found.start())
            if string is None:
                return None  # an unterminated string: the parser says where
            line += string.group().count("\n")
            position = string.end()
        elif char == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
        elif char in "[{":
            depth += 1
            key_parts = 0
            if depth > MAX_NESTING:
                return f"line {line}: arrays or tables nested too deep; expected at most {MAX_NESTING} levels"
        elif char in "]}":
            depth = max(depth - 1, 0)
            key_parts = 0
        elif char == ".":
            key_parts += 1
            if key_parts >= MAX_KEY_PARTS:
                return f"line {line}: a dotted key or table name too long; expected at most {MAX_KEY_PARTS} parts"
        else:  # '=', ',' or a newline ends a key
            key_parts = 0
            line += char == "\n"
    return None
