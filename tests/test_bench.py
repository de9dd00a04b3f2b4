"""The benchmark's tiny version: every figure still runs, its JSON carries what it printed, and the Erlang-loss peer
agrees with Erlang B. No timing is asserted: the figures are only checked to be there, whole and consistent."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from unittest import mock

import pytest

from bench import benchmark as bench
from bench import peer
from bench.record import NOT_BUILT, Figure, check_json_path, document, read_json, write_json
from sim import engine
from sim.cli import main
from sim.engine.errors import InputError

# Every figure of issue 20's targets table, then the peer and the before/after lines the bench kept.
FIGURES = (
    "workshop what-if, Cheshire East",
    "workshop what-if, first answer (50 replications)",
    "Cheshire East baseline, 10 years",
    "writing a run's files as a share of its simulation time",
    "whole `sufficiency run` of",
    "England scale",
    "model overhead, pure Python: cost per event against bare SimPy",
    "model overhead, compiled: cost per event against bare SimPy",
    "compare of a base and 3 supply what-ifs",
    "parallel efficiency",
    "peer: Erlang loss blocking",
    "peer: wall time ours / ciw",
    "cyclic garbage collector",
    "duration draws",
)
# The compiled figure is measured only where `make compiled` has built the core from the current source.
NOT_YET_BUILT = () if engine.compiled_build_fresh() else ("compiled",)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[str, Path]:
    """One quick bench for the module, through `sufficiency bench --quick --jobs 2`: what it printed, and the JSON
    file written from what `bench.measure` returned to it (as `--json FILE` writes it)."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    printed, returned, measure = io.StringIO(), [], bench.measure

    def measuring(*args, **kwargs):
        returned.append(measure(*args, **kwargs))
        return returned[-1]

    with mock.patch.object(bench, "measure", measuring), contextlib.redirect_stdout(printed):
        assert main(["bench", "--quick", "--jobs", "2"]) == 0
    write_json(path, document(*returned[0]))
    return printed.getvalue(), path


def _figure_lines(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith("- ")]


def test_quick_bench_prints_every_figure(quick) -> None:
    lines = _figure_lines(quick[0])
    for name in FIGURES:
        assert sum(line.startswith(f"- {name}") for line in lines) == 1, name
    assert len(lines) == len(FIGURES)
    assert "peak memory" in quick[0]
    for line in lines:
        if any(part in line.split(":")[0] for part in NOT_YET_BUILT):
            assert f": {NOT_BUILT} (" in line, line  # never a made-up number


def test_json_carries_every_printed_figure(quick) -> None:
    printed, path = quick
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [entry["line"] for entry in data["figures"]] == _figure_lines(printed)
    about, figures = read_json(path)
    assert [figure.line() for figure in figures] == _figure_lines(printed)  # round trip: the same lines
    assert printed.splitlines()[0] == f"machine: {about['machine']}, {about['cpu_count']} cores, Python " + (
        f"{about['python']}, 2 jobs"
    )
    assert about["quick"] is True and about["jobs"] == 2 and about["cpu_count"] == os.cpu_count()
    assert {"platform", "git_commit", "date"} <= set(about)
    for figure in figures:
        if figure.name.startswith("workshop what-if, first answer"):  # 4 replications: done before 50 are
            assert figure.result == "no partial answer: the run finished first" and figure.value is None
        elif figure.built:
            assert isinstance(figure.value, float) and figure.unit and figure.headline, figure
        else:
            assert (figure.value, figure.met) == (None, None), figure
        assert figure.met is None or figure.name.startswith("peer:"), "the quick bench judges no timing target"


def test_json_values_are_the_printed_ones(quick) -> None:
    """The headline value is the number the line prints (to its printed precision), not another measurement."""
    _, figures = read_json(quick[1])
    overhead = next(f for f in figures if f.name.startswith("model overhead, pure Python"))
    assert f"ratio {overhead.value:.2f}" in overhead.result
    assert f"{overhead.details['events']:,.0f} events" in overhead.result
    together = next(f for f in figures if f.name.startswith("compare of a base"))
    assert together.value == pytest.approx(together.details["compare_seconds"] / together.details["separate_seconds"])
    assert together.details["cohort_families"] == 1  # the three what-ifs change supply only: the base's children
    whole = next(f for f in figures if f.name.startswith("whole `sufficiency run`"))
    assert whole.value == pytest.approx(whole.details["seconds"] / whole.details["bare_simpy_seconds"])
    files = next(f for f in figures if f.name.startswith("writing a run's files"))
    assert files.value == pytest.approx(100 * files.details["files_seconds"] / files.details["simulation_seconds"])


def test_bad_json_path_refused(tmp_path) -> None:
    missing = tmp_path / "no such folder" / "bench.json"
    with pytest.raises(InputError, match=r"the folder .* does not exist; expected a file in an existing folder"):
        check_json_path(missing)
    with pytest.raises(InputError, match="is a folder; expected a file name"):
        check_json_path(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        write_json(missing, {"machine": {}, "figures": []})
    assert list(tmp_path.iterdir()) == []  # nothing written, no folder made


def test_json_written_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    path = tmp_path / "bench.json"
    path.write_text("earlier run\n", encoding="utf-8")
    figure = Figure("a figure", "1.0 s", "at most 2 s", True, 1.0, "s", "1.0 s", {"events": 3})

    def failing(*_: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", failing)
        with pytest.raises(InputError, match="could not be written"):
            write_json(path, {"machine": {}, "figures": [figure.as_json()]})
    assert path.read_text(encoding="utf-8") == "earlier run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary left behind
    write_json(path, {"machine": {"cpu_count": 2}, "figures": [figure.as_json()]})
    assert read_json(path) == ({"cpu_count": 2}, [figure])


def test_not_a_bench_file_is_refused(tmp_path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"figures": []}', encoding="utf-8")
    with pytest.raises(InputError, match="not a `sufficiency bench --json` file"):
        read_json(path)


@pytest.mark.parametrize("system", [peer.LossSystem(), peer.LossSystem(places=4, load=4.0, mean_days=20.0)])
def test_both_simulators_agree_with_erlang_b(system: peer.LossSystem) -> None:
    """Blocking in our engine and in ciw: each 95% interval of the mean covers the closed form."""
    exact = system.erlang_b
    for estimate in (peer.ours(system, 20), peer.ciw_blocking(system, 20)):
        assert estimate.arrivals > 10_000
        assert estimate.covers(exact), (estimate, exact)


def test_england_scenario_has_england_size() -> None:
    scenario = bench.england_scenario()
    in_care = sum(g.count for g in scenario.start_population.groups)
    entries = sum(scenario.entries.rate_per_year.values()) + scenario.entries.uasc.rate_per_year
    assert in_care == pytest.approx(bench.ENGLAND_IN_CARE, rel=0.01)
    assert entries == pytest.approx(bench.ENGLAND_ENTRIES_PER_YEAR, rel=0.01)
