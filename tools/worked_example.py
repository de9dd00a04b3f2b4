"""The README's worked example, regenerated from a real run so that its numbers cannot go stale (issue 19).

It runs `sufficiency compare` on the Cheshire East baseline and its two-homes what-if through the command's own
entry point (`sim.cli.main`), so the sentences are whatever `sim.analysis.compare` writes today, and builds the
README block from what the command printed and from the `differences.csv` it wrote.

    python tools/worked_example.py           # print the block
    python tools/worked_example.py --write   # put it into README.md between the markers
    python tools/worked_example.py --images  # also refresh the README's charts in docs/images/

tests/test_readme.py regenerates the block and checks that README.md holds it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- worked-example:begin: written by `python tools/worked_example.py --write`; do not edit by hand -->"
END = "<!-- worked-example:end -->"
WRITE_COMMAND = ".venv/bin/python tools/worked_example.py --write"

BASE = "scenarios/cheshire_east/baseline.toml"
WHAT_IF = "scenarios/cheshire_east/add_two_homes.toml"
# assumption: 20 paired replications pin the headline differences down (their 95% CIs exclude 0) in about 30 s on
# one core, short enough for the test suite; `make run` uses 100.
REPLICATIONS = 20
# assumption: the example shows no sizing curve, so one replication a point keeps the command quick.
SIZING_REPLICATIONS = 1
SHOWN_OUT = "out/worked_example"
WIDTH = 100  # the printed sentences are one line each; wrapped here to fit the README's code block
# The measures of differences.csv the key-figures table shows, in this order (sim.analysis.compare writes them).
MEASURES = (
    "in_house_at_a_time",
    "placed_in_house",
    "placed_externally",
    "not_sufficient_child_days_total",
    "spend_total",
)
HEADINGS = {
    "in_house_at_a_time": "in-house, children at a time",
    "placed_in_house": "placed in-house (placements started)",
    "placed_externally": "placed externally (placements started)",
    "not_sufficient_child_days_total": "child-days not sufficient",
    "spend_total": "net spend (£m)",
}


def command(out: str) -> list[str]:
    """The arguments of `sufficiency compare` for the example, writing to `out`."""
    return [
        "compare",
        BASE,
        WHAT_IF,
        "--replications",
        str(REPLICATIONS),
        "--jobs",
        "1",
        "--sizing-replications",
        str(SIZING_REPLICATIONS),
        "--quiet",
        "--out",
        out,
    ]


def run_example(out: Path) -> str:
    """Run the example's command into `out` (a new folder) and return what it printed, with `out` shown as
    SHOWN_OUT. Paths are relative to the repository, as the README's command is."""
    from sim.cli import main  # imported here: `--help` of this script needs no simulator

    printed = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(printed):
        code = main(command(str(out)))
    if code != 0:
        raise RuntimeError(f"sufficiency {' '.join(command(str(out)))} exited with {code}")
    return printed.getvalue().replace(str(out), SHOWN_OUT)


def part_years() -> set[str]:
    """The financial years the example's horizon covers only in part (it need not start on 1 April)."""
    from sim.engine.scenario_files import load_scenario

    horizon = load_scenario(ROOT / BASE).horizon
    years = set()
    for year in range(horizon.start.year - 1, horizon.end.year + 1):
        first, last = dt.date(year, 4, 1), dt.date(year + 1, 4, 1)
        if first < horizon.end and last > horizon.start and (first < horizon.start or last > horizon.end):
            years.add(f"{year}-{str(year + 1)[-2:]}")
    return years


def key_figures(differences: pd.DataFrame) -> str:
    """A Markdown table, a row a financial year: each measure's mean difference (what-if minus base) with its
    95% confidence interval, as differences.csv has them."""
    missing = [measure for measure in MEASURES if measure not in set(differences["measure"])]
    if missing:
        raise RuntimeError(f"differences.csv has no {', '.join(missing)}: update MEASURES in {Path(__file__).name}")
    partial = part_years()
    rows = [
        "| financial year | " + " | ".join(HEADINGS[m] for m in MEASURES) + " |",
        "|---" + "|---:" * len(MEASURES) + "|",
    ]
    for year, table in differences.groupby("financial_year", sort=True):
        cells = [_cell(table[table["measure"] == measure].iloc[0], measure) for measure in MEASURES]
        label = f"{year} (part)" if year in partial else year
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(row: pd.Series, measure: str) -> str:
    """'+3.4 (2.9 to 3.9)': the difference and its CI; pounds in millions."""
    scale, places = (1e6, 2) if measure.startswith("spend") else (1.0, 1)
    mean, low, high = (row[column] / scale for column in ("difference", "ci95_low", "ci95_high"))
    return f"{mean:+,.{places}f} ({low:,.{places}f} to {high:,.{places}f})"


def block(printed: str, differences: pd.DataFrame) -> str:
    """The README block between the markers."""
    shown = " ".join(command(SHOWN_OUT)[:3]) + " \\\n    " + " ".join(command(SHOWN_OUT)[3:])
    wrapped = "\n".join(
        textwrap.fill(line, WIDTH, subsequent_indent="    ") if line else "" for line in printed.rstrip().split("\n")
    )
    return "\n".join(
        [
            BEGIN,
            "```sh",
            f"sufficiency {shown}",
            "```",
            "",
            f"prints (each sentence is one line; wrapped here at {WIDTH} columns):",
            "",
            "```text",
            wrapped,
            "```",
            "",
            f"and writes `{SHOWN_OUT}/differences.csv`, from which these are the yearly totals: the what-if minus "
            f"the base, mean difference over {REPLICATIONS} paired replications with its 95% confidence interval "
            "(*part*: the horizon covers only part of the year):",
            "",
            key_figures(differences),
            END,
        ]
    )


IMAGES = ROOT / "docs" / "images"
# The comparison's charts the README shows under "Reading your results" (charts/<name>.png of the example).
CHARTS = ("children_in_care", "occupancy", "gap_ledger", "spend_by_pool", "differences")


def write_images(out: Path) -> list[Path]:
    """Copy the example's charts to docs/images/worked_example_<name>.png. (The report's first screen,
    docs/images/report_first_screen.png, is refreshed by tests/test_report_browser.py with UPDATE_SCREENSHOTS=1.)"""
    written = []
    for name in CHARTS:
        target = IMAGES / f"worked_example_{name}.png"
        shutil.copyfile(out / "charts" / f"{name}.png", target)
        written.append(target)
    return written


def generate(out: Path) -> str:
    """Run the example into `out` and return its README block."""
    printed = run_example(out)
    return block(printed, pd.read_csv(out / "differences.csv"))


def readme_block(text: str) -> str:
    """The block README.md holds now, markers included."""
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, flags=re.DOTALL)
    if found is None:
        raise RuntimeError(f"README.md has no worked-example markers ({BEGIN} ... {END})")
    return found.group(0)


def write(new_block: str) -> None:
    """Replace the block in README.md."""
    text = README.read_text(encoding="utf-8")
    README.write_text(text.replace(readme_block(text), new_block), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the block in README.md (default: print it)")
    parser.add_argument("--images", action="store_true", help="also refresh the README's pictures in docs/images")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="worked_example_") as folder:
        new_block = generate(Path(folder) / "out")
        for path in write_images(Path(folder) / "out") if args.images else []:
            print(f"Wrote {path.relative_to(ROOT)}")
    if args.write:
        write(new_block)
        print(f"Rewrote the worked example in {README}")
    else:
        print(new_block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
