"""The performance tables of README.md and docs/performance.md, regenerated from a `sufficiency bench --json` file.

A table lists every figure the bench printed: its headline result, its target and whether it was met, under one
line saying which machine, commit and date the figures come from. Only the text between the markers is replaced,
so a table can never drift from the run it names (issue 20: "The README's performance table is regenerated").

    python tools/bench_table.py bench.json            # rewrite the tables in README.md and docs/performance.md
    python tools/bench_table.py bench.json --check    # exit 1 if a table differs from the file's figures
    python tools/bench_table.py bench.json FILE ...   # other files holding the markers

Exit codes: 0 done (or, with --check, every table up to date); 1 a table differs (--check); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.record import Figure, read_json
from sim.engine.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "README.md", ROOT / "docs" / "performance.md")
BEGIN = "<!-- bench-table:begin: written by `python tools/bench_table.py FILE.json`; do not edit by hand -->"
END = "<!-- bench-table:end -->"
HEADER = ("figure", "result", "target", "met")
VERDICTS = {True: "yes", False: "**no**", None: ""}


def rows(figures: list[Figure]) -> list[tuple[str, str, str, str]]:
    """One row a figure, as the table shows it: name, headline (or the whole result), target, met."""
    return [(f.name, f.headline or f.result, f.target, VERDICTS[f.met]) for f in figures]


def provenance(about: dict[str, Any]) -> str:
    """Where and when: a table of figures from a loaded laptop and one from a quiet server must not look alike."""
    commit = (about.get("git_commit") or "unknown")[:7]
    dirty = " with uncommitted changes" if about.get("git_dirty") else ""
    kind = "`sufficiency bench --quick`" if about.get("quick") else "`sufficiency bench`"
    return (
        f"From {kind} with {about['jobs']} jobs at commit {commit}{dirty}, {about['date']}: {about['machine']}, "
        f"{about['cpu_count']} cores, Python {about['python']} ({about['platform']})."
    )


def render(about: dict[str, Any], figures: list[Figure]) -> str:
    """The block between (and with) the markers."""
    lines = [BEGIN, provenance(about), "", _row(HEADER), "|---|---|---|---|"]
    lines += [_row(row) for row in rows(figures)]
    return "\n".join([*lines, END])


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def parse(block: str) -> list[tuple[str, ...]]:
    """The table's rows read back from a block `render` wrote (header and rule left out)."""
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    table = [tuple(_cells(line)) for line in lines]
    if not table or table[0] != HEADER:
        raise InputError(f"no performance table between the markers (expected a header {' | '.join(HEADER)})")
    return table[1:]


def _cells(line: str) -> list[str]:
    """Split on the unescaped pipes only; an escaped pipe is part of its cell."""
    inner = line[2:-2].replace("\\|", "\0")
    return [cell.replace("\0", "|") for cell in inner.split(" | ")]


def block_of(text: str, label: str) -> tuple[int, int]:
    """Where the block starts and ends in `text` (markers included); InputError unless there is exactly one."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise InputError(f"{label}: expected one pair of bench-table markers ({BEGIN} ... {END})")
    start = text.index(BEGIN)
    end = text.index(END, start) + len(END)
    return start, end


def rewritten(text: str, block: str, label: str) -> str:
    start, end = block_of(text, label)
    return text[:start] + block + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a file written by `sufficiency bench --json FILE`")
    parser.add_argument(
        "files", type=Path, nargs="*", help="files with the markers (default README.md and docs/performance.md)"
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs")
    args = parser.parse_args(argv)
    try:
        block = render(*read_json(args.json))
        stale = [path for path in args.files or FILES if _update(path, block, args.check)]
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{path}: {'differs from' if args.check else 'rewritten from'} {args.json}")
    return 1 if args.check and stale else 0


def _update(path: Path, block: str, check: bool) -> bool:
    """Whether the table in `path` differed; rewritten unless `check`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    new = rewritten(text, block, str(path))
    if new != text and not check:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    sys.exit(main())
