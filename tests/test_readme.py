"""The README for a newcomer (issue 19): its worked example is a real run of today's code, it stays short, every
file `run` and `compare` write is described in docs/outputs.md, and its links and those of the reference docs
lead somewhere."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
OUTPUTS = ROOT / "docs" / "outputs.md"
# The README and the reference it links to; every relative link and anchor in them must resolve.
LINKED = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 500  # issue 19: "The README itself stays under 500 lines"

_spec = importlib.util.spec_from_file_location("worked_example", ROOT / "tools" / "worked_example.py")
worked_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worked_example)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """One small run and the worked example's comparison, shared by the tests of this module."""
    folder = tmp_path_factory.mktemp("readme")
    run = folder / "run"
    assert main(["run", str(ROOT / worked_example.BASE), "--replications", "2", "--quiet", "--out", str(run)]) == 0
    comparison = folder / "compare"
    block = worked_example.generate(comparison)
    return {"run": run, "compare": comparison, "block": block}


def test_the_worked_example_is_what_the_code_prints_today(outputs) -> None:
    held = worked_example.readme_block(README.read_text(encoding="utf-8"))
    assert held == outputs["block"], (
        f"README.md's worked example is stale: run `{worked_example.WRITE_COMMAND}` and commit README.md"
    )


def test_the_worked_example_shows_the_comparison_sentence_and_every_financial_year(outputs) -> None:
    block = outputs["block"]
    printed = block.split("```text\n")[1].split("```")[0]
    assert printed.strip() and "Traceback" not in printed
    assert "Report: out/worked_example/report.html" in block
    years = re.findall(r"^\| (\d{4}-\d{2})(?: \(part\))? \|", block, flags=re.MULTILINE)
    assert years == [f"{y}-{str(y + 1)[-2:]}" for y in range(2017, 2028)]  # 31 December 2017 for ten years
    assert sorted(worked_example.part_years()) == ["2017-18", "2027-28"]


def test_the_readme_stays_under_its_length() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_README_LINES, f"README.md has {lines} lines; move reference text into docs/"


def written_files(folder: Path) -> list[str]:
    """Every file an output folder holds, relative to it (the marker included)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("command", ["run", "compare"])
def test_every_file_written_is_described_in_docs_outputs(outputs, command) -> None:
    described = set(re.findall(r"`([^`]+)`", OUTPUTS.read_text(encoding="utf-8")))
    files = written_files(outputs[command])
    assert ".sufficiency-output.json" in files and len(files) > 5
    missing = [name for name in files if _name(name) not in described]
    assert not missing, f"{command} writes files docs/outputs.md does not describe: {missing}"


def _name(file: str) -> str:
    """How docs/outputs.md names a file: itself, or a chart by `charts/<name>` (each chart is a PNG and an SVG)."""
    return file.rsplit(".", 1)[0] if file.startswith("charts/") else file


def test_the_readme_links_to_the_outputs_reference() -> None:
    assert "](docs/outputs.md)" in README.read_text(encoding="utf-8")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (outside code blocks): lower case, punctuation dropped
    except hyphens, spaces as hyphens; a repeated heading gets -1, -2, ..."""
    found: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            candidate, n = slug, 0
            while candidate in found:
                n += 1
                candidate = f"{slug}-{n}"
            found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    """The relative link targets of a Markdown file, outside code blocks."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("path", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    broken = []
    for target in links(path):
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links that lead nowhere: {broken}"


def test_every_command_and_option_is_in_docs_commands() -> None:
    """docs/commands.md names every command and every option the parser has (argparse's own --help aside)."""
    from sim.cli import _parser

    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    commands = next(a for a in _parser()._actions if a.dest == argparse.SUPPRESS and a.choices)
    missing = []
    for name, command in commands.choices.items():
        if f"sufficiency {name}" not in text:
            missing.append(name)
        options = [o for action in command._actions for o in action.option_strings if o.startswith("--")]
        missing += [f"{name} {o}" for o in options if o != "--help" and f"`{o}" not in text]
    assert not missing, f"docs/commands.md does not describe: {missing}"


def test_the_quick_start_says_what_make_run_does() -> None:
    """Each scenario `make run` runs, with its replications and output folder, as the README's Quick start says."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE).group(1)
    quick_start = README.read_text(encoding="utf-8").split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"sufficiency (\w+) (.*)", recipe)
    assert commands, "make run runs no sufficiency command"
    for command, arguments in commands:
        out = re.search(r"--out \$\(OUT\)/(\S+)", arguments).group(1)
        replications = re.search(r"--replications (\d+)", arguments).group(1)
        assert f"out/{out}" in quick_start and f"{replications} replications" in quick_start, (command, arguments)
        for scenario in re.findall(r"scenarios/\S+\.toml", arguments):
            assert scenario in README.read_text(encoding="utf-8"), scenario
