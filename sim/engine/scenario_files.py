"""Reading scenario files: TOML, `extends` chains, the starting-population CSV, and error messages.

Errors name the file, the key path and what was expected, so an analyst can fix the file
without reading code. A scenario may `extends = "other.toml"` and override a few keys (tables
merge key by key; arrays and values replace); a bad value inherited from a parent names the
file it was set in.
"""

from __future__ import annotations

import csv
import difflib
import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from sim.engine import bounded_toml
from sim.engine.errors import InputError
from sim.engine.scenario import MAX_START_CHILDREN, Scenario, ScenarioError, StartChild
from sim.engine.vocabulary import DAYS_PER_YEAR

KeyPath = tuple[str, ...]
MAX_EXTENDS_DEPTH = 20  # files extending one another; the shipped what-ifs use 2 or 3


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge (`extends`) and validate a scenario file; raise ScenarioError on any problem."""
    path = Path(path)
    raw, origins = _load_merged(path, chain=())
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioError(_format_validation_error(path, error, raw, origins)) from None


def load_scenario_text(text: str, path: str | Path) -> Scenario:
    """Validate TOML text as if it were the file `path` (its `extends` is resolved from there)."""
    path = Path(path)
    raw, origins = _load_merged(path, chain=(), text=text)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioError(_format_validation_error(path, error, raw, origins)) from None


def scenario_from_dict(raw: dict[str, Any], label: str = "<scenario>") -> Scenario:
    """Validate an in-memory scenario (tests, the app); errors are labelled with `label`."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioError(_format_validation_error(Path(label), error, raw)) from None


def _load_merged(
    path: Path, chain: tuple[Path, ...], text: str | None = None
) -> tuple[dict[str, Any], dict[KeyPath, Path]]:
    """The scenario at `path` merged over its `extends` parents, and the file that set each value.

    `chain` holds the files already being read (the child that extends this one last), to detect loops.
    """
    if path.resolve() in [p.resolve() for p in chain]:
        loop = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(
            f"{chain[-1]}: extends: the files extend each other in a loop ({loop}); "
            "expected a chain of `extends` that ends in a file without one"
        )
    if text is None and not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        if chain:
            raise ScenarioError(
                f"{chain[-1]}: extends: scenario file {path} {problem}; "
                "expected the name of a scenario file, relative to the folder of the file that extends it"
            )
        raise ScenarioError(f"scenario file {path} {problem}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            f"{chain[-1]}: extends: a chain of more than {MAX_EXTENDS_DEPTH} files (from {chain[0]}); "
            f"expected at most {MAX_EXTENDS_DEPTH} files extending one another"
        )
    raw = parse_toml(_read_text(path) if text is None else text, str(path))
    if not raw:
        raise ScenarioError(f"{path}: the file holds no keys; expected a scenario in TOML (name, horizon, ...)")
    _resolve_start_csv(raw, path)
    origins = {key: path for key in _leaf_paths(raw)}
    parent_name = raw.get("extends")
    if parent_name is None:
        return raw, origins
    if not isinstance(parent_name, str) or not parent_name:
        raise ScenarioError(f"{path}: extends: expected the name of a scenario file (a string), got {parent_name!r}")
    # normalised as text: the folder of a file about to be written may not exist yet (`calibrate --out new/b.toml`)
    parent, parent_origins = _load_merged(Path(os.path.normpath(path.parent / parent_name)), (*chain, path))
    return _deep_merge(parent, raw), parent_origins | origins


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """TOML text parsed within size and depth bounds (see `sim.engine.bounded_toml`); errors start with `label`."""
    try:
        return bounded_toml.parse_toml(text, label)
    except InputError as error:
        raise ScenarioError(str(error)) from None


def _read_text(path: Path) -> str:
    """A scenario file's text, refusing a file too large to be one before reading it."""
    try:
        size = path.stat().st_size
        if size > bounded_toml.MAX_TOML_BYTES:
            raise ScenarioError(
                f"{path}: {size:,} bytes is over the limit of {bounded_toml.MAX_TOML_BYTES:,} bytes for a scenario file"
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(f"{path}: not a text file: expected UTF-8 TOML ({error.reason})") from None
    except OSError as error:
        raise ScenarioError(f"{path}: cannot be read: {error.strerror or error}") from None


def _leaf_paths(table: dict[str, Any], prefix: KeyPath = ()) -> list[KeyPath]:
    """Key paths of the values in a TOML table (arrays count as values, as they replace on merge)."""
    paths = []
    for key, value in table.items():
        if isinstance(value, dict) and value:
            paths += _leaf_paths(value, (*prefix, str(key)))
        else:
            paths.append((*prefix, str(key)))
    return paths


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; values, arrays and whole distributions (tables with `distribution`) replace."""
    merged = dict(base)
    for key, value in override.items():
        replaces = isinstance(value, dict) and "distribution" in value
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not replaces:
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_start_csv(raw: dict[str, Any], path: Path) -> None:
    start = raw.get("start_population")
    if not isinstance(start, dict) or "csv" not in start:
        return
    if not isinstance(start["csv"], str) or not start["csv"]:
        raise ScenarioError(f"{path}: start_population.csv: expected a CSV file name (a string), got {start['csv']!r}")
    csv_path = path.parent / start["csv"]
    start["csv"] = str(csv_path)
    start["children"] = _read_start_csv(csv_path, path)


START_CSV_COLUMNS = ("age_years", "need", "pool", "days_in_care")


def _read_start_csv(path: Path, scenario_path: Path | None = None) -> list[dict[str, Any]]:
    """Children in care at the start, one per CSV row; errors name the CSV file, row and column."""
    source = f" (start_population.csv of {scenario_path})" if scenario_path is not None else ""
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        where = f"{scenario_path}: " if scenario_path is not None else ""
        raise ScenarioError(
            f"{where}start_population.csv: file {path} {problem}; "
            "expected a CSV file name relative to the scenario file's folder"
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _start_children(csv.DictReader(handle), path, source)
    except UnicodeDecodeError as error:
        raise ScenarioError(f"{path}: not a text file: expected UTF-8 CSV ({error.reason}){source}") from None
    except csv.Error as error:
        raise ScenarioError(f"{path}: not valid CSV: {error}{source}") from None
    except OSError as error:
        raise ScenarioError(f"{path}: cannot be read: {error.strerror or error}{source}") from None


def _start_children(reader: csv.DictReader, path: Path, source: str) -> list[dict[str, Any]]:
    columns = list(reader.fieldnames or [])
    expected = ", ".join(START_CSV_COLUMNS)
    missing = [c for c in START_CSV_COLUMNS if c not in columns]
    if missing:
        # The header's cells are not echoed: a file without a header row would show a child's data here.
        got = f"a first row of {len(columns)} cells" if columns else "an empty file"
        raise ScenarioError(
            f"{path}: row 1 (header): missing column(s) {', '.join(missing)}; expected a header row with the "
            f"columns {expected} (got {got}){source}"
        )
    children = []
    for row in reader:
        where = f"{path}: row {reader.line_num}"
        if len(children) == MAX_START_CHILDREN:
            raise ScenarioError(f"{where}: more than {MAX_START_CHILDREN:,} children; expected at most that{source}")
        extra = row.get(None) or []  # cells beyond the header
        if extra or any(row[c] is None for c in START_CSV_COLUMNS):
            count = sum(row[c] is not None for c in columns) + len(extra)
            raise ScenarioError(f"{where}: expected {len(columns)} values ({', '.join(columns)}), got {count}{source}")
        fields: dict[str, Any] = {}
        for column in START_CSV_COLUMNS:
            text = row[column].strip()
            if column in ("age_years", "days_in_care"):
                try:
                    fields[column] = float(text)
                except ValueError:
                    raise ScenarioError(f"{where}: {column}: expected a number{source}") from None
            else:
                fields[column] = text
        try:
            child = StartChild(**fields)
        except ValidationError as error:
            first = error.errors()[0]
            column = ".".join(str(p) for p in first["loc"])
            raise ScenarioError(f"{where}: {column}: {_clean_message(first['msg'])}{source}") from None
        if child.days_in_care > child.age_years * DAYS_PER_YEAR + 1:
            raise ScenarioError(f"{where}: days_in_care: expected no more than the child's age in days{source}")
        children.append(child.model_dump())
    return children


def _format_validation_error(
    path: Path,
    error: ValidationError,
    raw: dict[str, Any] | None = None,
    origins: dict[KeyPath, Path] | None = None,
) -> str:
    """One line per key path: `file: key.path: what was expected (got value)`.

    Pydantic reports one error per member of a union (`capacity` fails both as a number >= 0 and as
    "unlimited"); those are collapsed into one line. Union member names are dropped from key paths.
    """
    groups: dict[str, list[tuple[dict[str, Any], bool]]] = {}
    for item in error.errors():
        parts, in_union = _key_path(item, raw)
        groups.setdefault(_render_key_path(parts), []).append((item, in_union))
    lines = []
    for location, items in groups.items():
        if len(items) > 1 and any(in_union for _, in_union in items):
            lines.append(_line(path, location, _union_message([i for i, _ in items]), items[0][0], raw, origins))
        else:
            lines += [_line(path, location, _item_message(item, location), item, raw, origins) for item, _ in items]
    return "\n".join(lines)


def _line(
    path: Path,
    location: str,
    message: str,
    item: dict[str, Any],
    raw: dict[str, Any] | None,
    origins: dict[KeyPath, Path] | None,
) -> str:
    got = item.get("input")
    quiet = ("extra_forbidden", "missing", "value_error", "union_tag_invalid", "union_tag_not_found")
    is_key = bool(item["loc"]) and item["loc"][-1] == "[key]"  # the message names the key already
    child_row = location.startswith("start_population.children")  # a CSV cell is a child's data
    show_got = item["type"] not in quiet and not is_key and not isinstance(got, dict) and not child_row
    suffix = f" (got {got!r})" if show_got else ""
    origin = _origin(location or message, origins)
    if origin is not None and origin != path:
        suffix += f" (set in {origin})"
    if not location:  # a check across the scenario: the message starts with the key path(s) it is about
        return f"{path}: {message}{suffix}"
    return f"{path}: {location}: {message}{suffix}"


def _key_path(item: dict[str, Any], raw: Any) -> tuple[list[str | int], bool]:
    """The error's location as keys of the scenario file, and whether pydantic named a union member in it.

    A part of pydantic's location is a key of the file if the file has that key there (or it is the
    missing key); otherwise it names a union member (`int`, `literal['unlimited']`, `lognormal`) and is dropped.
    """
    loc = list(item["loc"])
    if loc and loc[-1] == "[key]":  # a dict key that is not allowed: report it at the table
        loc = loc[:-2]
    parts: list[str | int] = []
    in_union = False
    here = raw
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if _has(here, part):
            parts.append(part)
            here = here[part]
        elif _is_union_tag(part) or (raw is not None and not (last and isinstance(here, dict))):
            in_union = True
        else:
            parts.append(part)
            here = None
    return parts, in_union


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return isinstance(container, dict) and part in container


def _render_key_path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix(".")


def _item_message(item: dict[str, Any], location: str) -> str:
    if item["type"] == "extra_forbidden":
        return _unknown_key_message(item["loc"])
    if item["type"] == "missing":
        return "required key is missing"
    if item["type"] in ("union_tag_invalid", "union_tag_not_found"):  # e.g. distribution = "normal"
        context = item.get("ctx", {})
        key = str(context.get("discriminator", "")).strip("'")
        problem = f"{item['ctx']['tag']!r} is not known" if item["type"] == "union_tag_invalid" else "is missing"
        return f"{key} {problem}; expected one of: {context.get('expected_tags', '')}"
    if item["loc"] and item["loc"][-1] == "[key]":
        expected = _clean_message(item["msg"]).replace("Input should be ", "expected ", 1)
        return f"unknown key {item['input']!r}; {expected}"
    return _clean_message(item["msg"])


def _union_message(items: list[dict[str, Any]]) -> str:
    """'Input should be greater than or equal to 0, or 'unlimited'' from one error per union member."""
    options = []
    for item in items:
        text = _clean_message(item["msg"]).removeprefix("Input should be ")
        if item["type"].endswith("_parsing") or item["type"].endswith("_type"):
            text = text.split(",")[0]  # "a valid integer, unable to parse string as an integer"
        if text not in options:
            options.append(text)
    return "Input should be " + ", or ".join(options)


def _clean_message(message: str) -> str:
    """Pydantic's wording in the terms of a TOML file (tables and arrays, not dictionaries and lists)."""
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = re.sub(r"a valid dictionary or instance of \w+", "a table", message)
    return message.replace("a valid dictionary", "a table").replace("a valid list", "an array")


def _unknown_key_message(loc: tuple[Any, ...]) -> str:
    allowed = _allowed_keys(Scenario, [p for p in loc[:-1] if not isinstance(p, int)])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key{hint}; expected one of: {', '.join(allowed)}"


def _allowed_keys(annotation: Any, loc: list[Any]) -> list[str]:
    """The keys a table at `loc` may have (the fields of the model found there; all members of a union)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _allowed_keys(get_args(annotation)[0], loc)
    if origin in (Union, UnionType):
        members = get_args(annotation)
        tagged = [m for m in members if loc and _has_literal(m, loc[0])]
        if tagged:  # a discriminated union: pydantic names the member ('lognormal') in the error's path
            return _allowed_keys(tagged[0], loc[1:])
        keys: list[str] = []
        for member in members:
            keys += [k for k in _allowed_keys(member, loc) if k not in keys]
        return keys
    if origin in (dict, list):
        return _allowed_keys(get_args(annotation)[-1], loc[1:]) if loc else []
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return []
    if not loc:
        return list(annotation.model_fields)
    field = annotation.model_fields.get(loc[0])
    return _allowed_keys(field.annotation, loc[1:]) if field is not None else []


def _has_literal(model: Any, value: Any) -> bool:
    """Whether a model has a field whose type is a Literal allowing `value` (the tag of a tagged union)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    fields = model.model_fields.values()
    return any(get_origin(f.annotation) is Literal and value in get_args(f.annotation) for f in fields)


_KEY_PATH_AT_START = re.compile(r"^([\w-]+(?:\.[\w-]+|\[\d+\])*)")


def _origin(location: str, origins: dict[KeyPath, Path] | None) -> Path | None:
    """The file that set the value at `location` (a key path, or a message starting with one)."""
    match = _KEY_PATH_AT_START.match(location)
    if not origins or match is None:
        return None
    keys = tuple(k for k in re.split(r"\.|\[\d+\]", match.group(1)) if k)
    for length in range(len(keys), 0, -1):
        if keys[:length] in origins:
            return origins[keys[:length]]
    return None


def _is_union_tag(part: Any) -> bool:
    """Pydantic inserts union member names (e.g. 'lognormal', 'int') in error paths; drop them."""
    return isinstance(part, str) and (
        part in ("lognormal", "gamma", "exponential", "weibull", "uniform", "fixed", "int", "float", "str", "bool")
        or part.startswith(("constrained-", "function-", "literal["))
    )
