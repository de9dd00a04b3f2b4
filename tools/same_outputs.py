"""Are two output folders the same results? `python tools/same_outputs.py BEFORE AFTER`.

Used to show that a change which must not change behaviour (a refactor, a faster table) leaves every file
that `make run` writes as it was:

    make run OUT=/tmp/outputs_before      # on the commit before the change
    make run OUT=/tmp/outputs_after       # on the commit after it
    .venv/bin/python tools/same_outputs.py /tmp/outputs_before /tmp/outputs_after

Each file is compared by what it holds, ignoring only what differs between two runs of the same commit:
- Parquet tables: the same columns, dtypes and values, exactly;
- `run.json`: equal apart from `wall_seconds`; the output marker: equal apart from `written` and
  `command` (which names the `--out` folder);
- the finance workbook: every sheet's cell values (the zip's own timestamps differ run to run);
- SVG charts: equal once matplotlib's random clip-path ids are numbered in order of appearance;
- everything else (CSV, text, the HTML report with its embedded PNG charts, PNG files): byte for byte.
Exits 0 when every file matches, 1 with one line per difference otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd

RUN_TO_RUN = {"run.json": {"wall_seconds"}, ".sufficiency-output.json": {"written", "command"}}
CLIP_ID = re.compile(r"\bp[0-9a-f]{10}\b")


def parquet_same(before: Path, after: Path) -> bool:
    old, new = pd.read_parquet(before), pd.read_parquet(after)
    return list(old.dtypes.astype(str)) == list(new.dtypes.astype(str)) and old.equals(new)


def json_same(before: Path, after: Path) -> bool:
    ignored = RUN_TO_RUN[before.name]
    old, new = (json.loads(p.read_text()) for p in (before, after))
    return {k: v for k, v in old.items() if k not in ignored} == {k: v for k, v in new.items() if k not in ignored}


def workbook_same(before: Path, after: Path) -> bool:
    def cells(path: Path) -> dict[str, list[tuple]]:
        book = openpyxl.load_workbook(path, read_only=True)
        return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}

    return cells(before) == cells(after)


def svg_same(before: Path, after: Path) -> bool:
    def numbered(text: str) -> str:
        ids: dict[str, str] = {}
        return CLIP_ID.sub(lambda m: ids.setdefault(m.group(0), f"clip{len(ids)}"), text)

    return numbered(before.read_text()) == numbered(after.read_text())


def comparer(path: Path) -> Callable[[Path, Path], bool]:
    if path.name in RUN_TO_RUN:
        return json_same
    return {".parquet": parquet_same, ".xlsx": workbook_same, ".svg": svg_same}.get(
        path.suffix, lambda a, b: a.read_bytes() == b.read_bytes()
    )


def differences(before: Path, after: Path) -> list[str]:
    old = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    new = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    found = [f"only in {before}: {p}" for p in sorted(old - new)] + [f"only in {after}: {p}" for p in sorted(new - old)]
    found += [f"differs: {p}" for p in sorted(old & new) if not comparer(p)(before / p, after / p)]
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all(Path(a).is_dir() for a in argv):
        print("usage: python tools/same_outputs.py BEFORE_FOLDER AFTER_FOLDER", file=sys.stderr)
        return 2
    found = differences(Path(argv[0]), Path(argv[1]))
    for line in found:
        print(line)
    count = sum(1 for p in Path(argv[0]).rglob("*") if p.is_file())
    print(f"{count} files compared: " + ("all the same" if not found else f"{len(found)} differences"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
