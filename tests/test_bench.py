"""The benchmark's tiny version: every figure still runs, and the Erlang-loss peer agrees with Erlang B."""

from __future__ import annotations

import pytest

from bench import benchmark as bench
from bench import peer
from sim.cli import main


def test_quick_bench_prints_every_figure(capsys) -> None:
    assert main(["bench", "--quick", "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    for figure in (
        "model overhead",
        "peer: Erlang loss blocking",
        "peer: wall time ours / ciw",
        "Cheshire East baseline, 10 years",
        "England scale",
        "parallel efficiency",
        "workshop app what-if",
        "cyclic garbage collector",
        "duration draws",
    ):
        assert figure in printed
    assert "peak memory" in printed


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
