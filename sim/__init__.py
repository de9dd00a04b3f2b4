"""The care sufficiency simulator: children's journeys through care against finite placement capacity.

The public API, for notebooks and scripts (the README's "Using it from Python"):

    import sim
    base = sim.load_scenario("scenarios/cheshire_east/baseline.toml")
    result = sim.run(base, replications=50)
    summary = sim.summarise(result)              # every summary the charts, report and files read
    comparison = sim.compare(base, [sim.load_scenario("scenarios/cheshire_east/add_two_homes.toml")], 100)

Names load on first use, so `import sim` stays light for worker processes and for `from sim import __version__`
in the layers below. The names are given as strings, so the import contracts (pyproject.toml) see no import from
this package back into the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for readers and type checkers only (the import contracts skip these)
    from sim.results.runner import RunResult
    from sim.results.summary import RunSummary

__version__ = "0.1.0"

_API = {
    "load_scenario": "sim.engine.scenario_files",
    "load_scenario_text": "sim.engine.scenario_files",
    "Scenario": "sim.engine.scenario",
    "ScenarioError": "sim.engine.scenario",
    "run": "sim.results.runner",
    "RunResult": "sim.results.runner",
    "RunSummary": "sim.results.summary",
    "compare": "sim.analysis.compare",
    "Comparison": "sim.analysis.compare",
    "write_run": "sim.present.outputs",
    "write_comparison": "sim.present.outputs",
}

__all__ = ["__version__", "summarise", *_API]


def summarise(result: RunResult) -> RunSummary:
    """A run's summaries across replications (a `RunSummary`), computed once and kept with the run."""
    return result.run_summary


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
