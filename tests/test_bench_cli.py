"""`sufficiency bench --json FILE`: refused before any timing when FILE cannot be written, else written whole with
what was printed. The bench itself is replaced by canned figures here (test_bench.py runs the real quick one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import benchmark
from bench.record import Figure, read_json
from sim.cli import main

ABOUT = {
    "cpu_count": 2,
    "python": "3.11.7",
    "platform": "Linux",
    "machine": "x86_64",
    "git_commit": None,
    "git_dirty": None,
    "date": "2026-12-03T18:00:00+00:00",
    "jobs": 2,
    "quick": True,
}
FIGURE = Figure("a figure", "1.00 s", "at most 2 s", None, 1.0, "s", "1.00 s", {"events": 10})


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """measure() replaced: records its calls, prints the machine line and one figure as the real one does."""
    calls: list[dict] = []

    def measure(jobs: int, quick: bool, echo) -> tuple[dict, list[Figure]]:
        calls.append({"jobs": jobs, "quick": quick})
        echo("machine: x86_64, 2 cores, Python 3.11.7, 2 jobs")
        echo(FIGURE.line())
        return ABOUT, [FIGURE]

    monkeypatch.setattr(benchmark, "measure", measure)
    return calls


@pytest.mark.parametrize("where", ["no such folder/bench.json", "."], ids=["missing folder", "a folder"])
def test_an_unwritable_json_is_refused_before_timing(
    where: str, tmp_path: Path, canned: list[dict], capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / where
    assert main(["bench", "--quick", "--json", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and canned == []  # nothing timed, nothing printed
    assert captured.err.startswith(f"error: --json {target}") and "Traceback" not in captured.err
    assert "does not exist" in captured.err or "is a folder" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_json_holds_what_was_printed(tmp_path: Path, canned: list[dict], capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "bench.json"
    target.write_text("an earlier run\n", encoding="utf-8")  # replaced whole
    assert main(["bench", "--quick", "--jobs", "2", "--json", str(target)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert canned == [{"jobs": 2, "quick": True}]
    assert printed == [*[line for line in printed[:2]], f"Figures written to {target}"]
    assert json.loads(target.read_text(encoding="utf-8"))["figures"][0]["line"] == printed[1]
    assert read_json(target) == (ABOUT, [FIGURE])
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]
