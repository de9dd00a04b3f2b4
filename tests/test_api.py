"""The public API in `sim/__init__.py`: every name resolves, and `import sim` alone stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sim
from tests.builders import build, rich_scenario


def test_every_public_name_resolves() -> None:
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    assert sorted(sim.__all__) == dir(sim)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulate'"):
        sim.simulate  # noqa: B018


def test_import_sim_loads_neither_pandas_nor_matplotlib() -> None:
    probe = "import sys, sim; print(sorted({'pandas', 'matplotlib', 'simpy'} & set(sys.modules)))"
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == "[]"


def test_summarise_gives_the_summary_kept_with_the_run() -> None:
    result = sim.run(build(rich_scenario()), replications=2)
    summary = sim.summarise(result)
    assert summary is sim.summarise(result) is result.run_summary
    assert isinstance(summary, sim.RunSummary) and summary.replications == 2
