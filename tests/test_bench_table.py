"""tools/bench_table.py: the performance tables are what the bench's JSON holds, read back cell for cell.

Round trips only; no figure's size is asserted (timings belong to the machine that measured them).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench.record import Figure, document, not_built, read_json, write_json
from sim.engine.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
LAST_RUN = ROOT / "bench" / "last_run.json"  # the run the committed tables were regenerated from
_spec = importlib.util.spec_from_file_location("bench_table", ROOT / "tools" / "bench_table.py")
bench_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_table)

ABOUT = {
    "cpu_count": 2,
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "machine": "x86_64",
    "git_commit": "0123456789abcdef",
    "git_dirty": True,
    "date": "2026-12-03T18:00:00+00:00",
    "jobs": 2,
    "quick": False,
}
FIGURES = [
    Figure("a met figure", "1.23 s from pressing Run", "at most 1.5 s", True, 1.23, "s", "1.23 s"),
    Figure("a missed | piped figure", "ratio 3.4", "at most 2.5", False, 3.4, "ratio", "3.40 | 3.4"),
    Figure("an unjudged figure", "12 s, 1,084 MB", "", None, 12.0, "s"),  # no headline: the result is shown
    not_built("a figure not built", "at most 0.6", "cohort reuse"),
]


def test_the_table_reads_back_as_the_figures() -> None:
    block = bench_table.render(ABOUT, FIGURES)
    assert bench_table.parse(block) == bench_table.rows(FIGURES)
    assert bench_table.rows(FIGURES)[1] == ("a missed | piped figure", "3.40 | 3.4", "at most 2.5", "**no**")
    assert bench_table.rows(FIGURES)[2][1] == "12 s, 1,084 MB"
    assert bench_table.rows(FIGURES)[3][1:] == ("not built", "at most 0.6", "")
    assert "commit 0123456 with uncommitted changes" in block and "2 cores" in block


def test_rewriting_replaces_only_the_block(tmp_path: Path) -> None:
    source = tmp_path / "bench.json"
    write_json(source, document(ABOUT, FIGURES))
    page = tmp_path / "page.md"
    before, after = "# Title\n\nText before.\n\n", "\n\nText after.\n"
    page.write_text(f"{before}{bench_table.BEGIN}\nold table\n{bench_table.END}{after}", encoding="utf-8")
    assert bench_table.main([str(source), str(page), "--check"]) == 1
    assert bench_table.main([str(source), str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith(before) and text.endswith(after)
    start, end = bench_table.block_of(text, "page")
    assert bench_table.parse(text[start:end]) == bench_table.rows(read_json(source)[1])
    assert bench_table.main([str(source), str(page), "--check"]) == 0  # a second run changes nothing
    assert page.read_text(encoding="utf-8") == text


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bench.json"
    write_json(source, document(ABOUT, FIGURES))
    unmarked = tmp_path / "unmarked.md"
    unmarked.write_text("no markers here\n", encoding="utf-8")
    assert bench_table.main([str(source), str(unmarked)]) == 2
    assert bench_table.main([str(tmp_path / "missing.json"), str(unmarked)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert "expected one pair of bench-table markers" in errors[0] and "cannot be read" in errors[1]
    assert unmarked.read_text(encoding="utf-8") == "no markers here\n"
    with pytest.raises(InputError, match="no performance table"):
        bench_table.parse(f"{bench_table.BEGIN}\n{bench_table.END}")


def test_the_committed_tables_are_the_last_runs_figures() -> None:
    """README.md and docs/performance.md hold the table of bench/last_run.json, untouched by hand."""
    about, figures = read_json(LAST_RUN)
    assert not about["quick"], "the committed tables come from a full bench run"
    for path in bench_table.FILES:
        text = path.read_text(encoding="utf-8")
        start, end = bench_table.block_of(text, path.name)
        assert text[start:end] == bench_table.render(about, figures), f"{path.name}: python tools/bench_table.py"
        assert bench_table.parse(text[start:end]) == bench_table.rows(figures)
