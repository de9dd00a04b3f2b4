"""Run the DfE's SSDA903 validation rules (csc-validator-be-903) on returns; print rule codes and counts as JSON.

Run by calibration.ssda903.dfe_rules with the side environment's Python (`python -I dfe_rules_runner.py`), not
imported by the product: it needs the validator and its pandas 1.5 (only the tests import it, for
`nearest_ruleset`). It reads a job on stdin (JSON: the returns, each with its files, collection year and last
year's files) and writes one JSON document on stdout holding rule codes, the rules' own messages and counts
only. Nothing from a cell, a child's identifier or an exception's text leaves this process: the validator's log
is silenced, and its prints, warnings and any traceback go to stderr, which the caller discards. What runs only
in the side environment is marked "no cover": coverage is not installed there.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import pkgutil
import sys
import warnings
from typing import Any


def nearest_ruleset(end_year: int, available: list[str]) -> str:
    """The year's own ruleset, else the nearest in years (the later one on a tie: the newer rules)."""
    years = {int(name[3:7]) + 1: name for name in available}  # lac2022_23 ends on 31 March 2023
    return years[min(years, key=lambda year: (abs(year - end_year), -year))]


def _available_rulesets() -> list[str]:  # pragma: no cover
    from lac_validator import rules

    return sorted(module.name for module in pkgutil.iter_modules(rules.__path__) if module.name.startswith("lac"))


def _uploaded(
    paths: list[str], description: str, la: str | None
) -> tuple[list[dict[str, Any]], list[str]]:  # pragma: no cover
    """Each file cut to its DfE table's columns (and to one LA's rows), as the validator's upload dicts."""
    import pandas as pd
    from lac_validator.config import column_names

    files, unknown = [], []
    for path in paths:
        try:  # as the project's reader: UTF-8 with or without BOM, else Windows-1252
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
        frame.columns = [str(column).strip().upper() for column in frame.columns]
        table = max(column_names, key=lambda name: len(set(column_names[name]) & set(frame.columns)))
        if not set(column_names[table]) <= set(frame.columns):
            unknown.append(path)
            continue
        if la is not None and "LA" in frame.columns:
            frame = frame[frame["LA"].str.casefold() == la.casefold()]
        text = frame[column_names[table]].to_csv(index=False).encode()
        files.append({"name": f"{table}.csv", "description": description, "file_content": text})
    return files, unknown


def _failures(results: dict[str, Any], registry: dict[str, Any]) -> list[dict[str, Any]]:  # pragma: no cover
    """Per failing rule: its code and message, the failing rows over all tables and the distinct children."""
    rows: dict[str, int] = {}
    children: dict[str, set[str]] = {}
    for table, frame in results.items():
        if table == "metadata":
            continue
        for column in (c for c in frame.columns if c.startswith("ERR_")):
            failing = frame[column].fillna(False).astype(bool)
            code = column[4:]
            rows[code] = rows.get(code, 0) + int(failing.sum())
            children.setdefault(code, set()).update(frame.loc[failing, "CHILD"].dropna().astype(str))
    return [
        {"code": code, "message": registry[code].message, "rows": rows[code], "children": len(children[code])}
        for code in sorted(rows)
        if rows[code]
    ]


def _validate(job: dict[str, Any], available: list[str], la: str | None) -> dict[str, Any]:  # pragma: no cover
    from lac_validator.lac_validator import LacValidator

    ruleset = nearest_ruleset(job["end_year"], available)
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    this_year, unknown = _uploaded(job["this_year"], "This year", la)
    last_year, _ = _uploaded(job["last_year"], "Prev year", la)
    metadata = {"collectionYear": str(job["end_year"]), "localAuthority": la or ""}
    validator = LacValidator(metadata=metadata, files=this_year + last_year, registry=registry, selected_rules=None)
    return {
        "label": job["label"],
        "ruleset": ruleset,
        "unrecognised_files": len(unknown),
        "rules": len(registry),
        "failures": _failures(validator.ds_results, registry),
        "skipped": sorted(validator.skips),
        "crashed": sorted(validator.fails),
    }


def _one_return(job: dict[str, Any], available: list[str], la: str | None) -> dict[str, Any]:  # pragma: no cover
    """One return's rule results; a crash is named by its exception's type only (its text can quote a cell)."""
    try:
        return _validate(job, available, la)
    except Exception as exc:  # the validator's own errors, pandas' parser errors: any of them ends only this return
        return {"label": job["label"], "problem": type(exc).__name__}


def main() -> None:  # pragma: no cover
    logging.disable(logging.CRITICAL)  # the validator logs postcode letters and row numbers at INFO
    warnings.simplefilter("ignore")
    job = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # the validator's prints must not mix into the JSON
        from importlib.metadata import version

        available = _available_rulesets()
        returns = [_one_return(one, available, job.get("la")) for one in job["returns"]]
    document = {"version": version("csc-validator-be-903"), "rulesets": available, "returns": returns}
    json.dump(document, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    main()
