"""The optional compiled core (docs/decisions/0012-compiled-core.md): the same records as the .py, never stale.

The hook in `sim.engine` is tested on fake build folders (a manifest and files standing in for the binaries): a
build whose recorded hash matches the source is used, a stale one falls back to Python with one warning, and
SUFFICIENCY_CORE forces either side. The records test compiles the real modules with Cython (or reuses a fresh
`make compiled` build) and runs the same scenarios in two subprocesses, one on each core: every array of every
ReplicationRecord must be identical. It is skipped, with the reason, where Cython or a C compiler is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import sim.engine as engine
from tools import build_compiled_core

ROOT = Path(__file__).resolve().parent.parent
MODEL = "sim.engine.model"

# Run in each subprocess: the records of scenarios that between them reach every mechanism of the event loop
# (the golden scenario; tests/builders.py's rich scenario with moves, finite adopters, Staying Put, step-back and
# dated changes; the Cheshire East baseline with its market, tiers, breakdowns and parameter draws; sibling
# groups; the National Transfer Scheme), pickled to stdout with the file the model was loaded from.
RECORDS = """
import dataclasses, datetime as dt, pickle, sys
from pathlib import Path
import numpy as np
from sim.engine import model
from sim.engine.model import simulate_replication
from sim.engine.parameters import with_drawn_parameters
from sim.engine.scenario_files import load_scenario
from tests.builders import build, rich_scenario
from tests.test_sibling_groups import MARKET
from tests.test_transfer_scheme import scheme_scenario

def arrays(record, prefix=""):
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if dataclasses.is_dataclass(value):
            yield from arrays(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", np.asarray(value)

baseline = load_scenario(Path("scenarios/cheshire_east/baseline.toml"))
scenarios = {
    "golden": load_scenario(Path("tests/golden/scenario.toml")),
    "rich": build(rich_scenario(years=3)),
    "cheshire_east": with_drawn_parameters(baseline, baseline.seed, 0),
    "sibling_groups": MARKET,
    "transfer_scheme": scheme_scenario(3, dt.date(2024, 1, 1)),
}
records = {
    f"{name} {replication} {key}": value
    for name, scenario in scenarios.items()
    for replication in range(2)
    for key, value in arrays(simulate_replication(scenario, scenario.seed, replication))
}
pickle.dump((model.__file__, records), sys.stdout.buffer)
"""


# -- the hook, on fake builds ---------------------------------------------------------------------------


def fake_build(tmp_path: Path, source_text: str = "x = 1\n", recorded_text: str | None = None) -> tuple[Path, Path]:
    """A source folder with model.py and a build recording the hash of `recorded_text` (default: the source's)."""
    sources, build = tmp_path / "sources", tmp_path / "build"
    sources.mkdir()
    (sources / "model.py").write_text(source_text)
    binary = build / "sim" / "engine" / "model.cpython-311-x86_64-linux-gnu.so"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"stands in for the extension module")
    recorded = hashlib.sha256((source_text if recorded_text is None else recorded_text).encode()).hexdigest()
    entry = {"sha256": recorded, "binary": str(binary.relative_to(build))}
    (build / "manifest.json").write_text(json.dumps({"python": sys.version, "modules": {MODEL: entry}}))
    return build, sources


@pytest.fixture
def auto(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """SUFFICIENCY_CORE unset, and the coverage run measuring this test not counted (auto uses Python under it)."""
    monkeypatch.delenv(engine.CORE_VARIABLE, raising=False)
    monkeypatch.setattr(engine, "_under_coverage", lambda: False)
    return monkeypatch


def test_a_fresh_build_is_used_for_its_modules_only(auto, tmp_path: Path) -> None:
    build, sources = fake_build(tmp_path)
    core = engine.choose_core(build, sources)
    assert core is not None
    assert core.find_spec(MODEL).origin == str(build / "sim" / "engine" / "model.cpython-311-x86_64-linux-gnu.so")
    assert core.find_spec("sim.engine.scenario") is None


def test_a_stale_build_falls_back_to_python_with_one_warning(auto, tmp_path: Path, capsys) -> None:
    build, sources = fake_build(tmp_path, "x = 2\n", recorded_text="x = 1\n")
    assert engine.choose_core(build, sources) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stale (sim.engine.model changed" in err and "pure-Python" in err


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        ("binary", "sim.engine.model's binary is missing"),
        ("python", "built for Python 3.12.0"),
        ("manifest", "its manifest.json cannot be read"),
    ],
)
def test_a_build_without_its_binary_for_another_python_or_unreadable_is_stale(
    auto, tmp_path: Path, capsys, spoil: str, why: str
) -> None:
    build, sources = fake_build(tmp_path)
    manifest = json.loads((build / "manifest.json").read_text())
    if spoil == "binary":
        next(build.rglob("*.so")).unlink()
    elif spoil == "python":
        (build / "manifest.json").write_text(json.dumps({**manifest, "python": "3.12.0 (main)"}))
    else:
        (build / "manifest.json").write_text("{")
    assert engine.choose_core(build, sources) is None
    assert f"stale ({why}): using the pure-Python engine" in capsys.readouterr().err


def test_no_build_is_the_pure_python_engine_in_silence(auto, tmp_path: Path, capsys) -> None:
    assert engine.choose_core(tmp_path / "none", tmp_path) is None
    assert capsys.readouterr().err == ""


def test_the_variable_forces_either_core(auto, tmp_path: Path) -> None:
    build, sources = fake_build(tmp_path)
    auto.setenv(engine.CORE_VARIABLE, "python")
    assert engine.choose_core(build, sources) is None
    auto.setenv(engine.CORE_VARIABLE, "compiled")
    assert engine.choose_core(build, sources) is not None
    with pytest.raises(ImportError, match=r"no compiled core in .*make compiled"):
        engine.choose_core(tmp_path / "none", sources)
    (sources / "model.py").write_text("x = 3\n")
    with pytest.raises(ImportError, match="stale"):
        engine.choose_core(build, sources)
    auto.setenv(engine.CORE_VARIABLE, "fast")
    with pytest.raises(ImportError, match="SUFFICIENCY_CORE='fast': expected one of auto, python, compiled"):
        engine.choose_core(build, sources)


@pytest.mark.parametrize(
    ("wanted", "said"),
    [("fast", "SUFFICIENCY_CORE='fast': expected one of"), ("compiled", "no compiled core in")],
)
def test_the_command_refuses_a_core_it_cannot_honour_in_one_line(tmp_path: Path, wanted: str, said: str) -> None:
    environment = {**os.environ, "SUFFICIENCY_CORE": wanted, "SUFFICIENCY_CORE_BUILD": str(tmp_path / "none")}
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "--version"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and said in done.stderr and len(done.stderr.splitlines()) == 1


def test_auto_uses_python_under_coverage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Coverage measures the .py lines: a run measuring them on the compiled core would report them unrun."""
    monkeypatch.delenv(engine.CORE_VARIABLE, raising=False)
    monkeypatch.setattr(engine, "_under_coverage", lambda: True)
    assert engine.choose_core(*fake_build(tmp_path)) is None


# -- the real build ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `make compiled` build if it is fresh, else one compiled here without optimisation (faster to build;
    the same C semantics), or a skip saying why none can be."""
    if engine.compiled_build_fresh():
        return engine.BUILD
    why = build_compiled_core.missing_tools()
    if why is not None:
        pytest.skip(f"no compiled core can be built here: {why}")
    out = tmp_path_factory.mktemp("compiled") / "core"
    build_compiled_core.build(out, quiet=True, optimise=False)
    return out


def records(core: str, build: Path) -> tuple[str, dict[str, np.ndarray]]:
    environment = {**os.environ, engine.CORE_VARIABLE: core, "SUFFICIENCY_CORE_BUILD": str(build)}
    done = subprocess.run(
        [sys.executable, "-c", RECORDS], cwd=ROOT, env=environment, capture_output=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def test_the_compiled_and_pure_python_cores_give_identical_records(compiled_build: Path) -> None:
    python_file, python = records("python", compiled_build)
    compiled_file, compiled = records("compiled", compiled_build)
    assert python_file.endswith("model.py") and compiled_file.startswith(str(compiled_build))
    assert python.keys() == compiled.keys() and len(python) > 100
    differing = [key for key, array in python.items() if not _same(array, compiled[key])]
    assert not differing, f"records differ between the cores: {differing[:10]}"


def _same(python: np.ndarray, compiled: np.ndarray) -> bool:
    nan = python.dtype.kind == "f"
    return python.dtype == compiled.dtype and np.array_equal(python, compiled, equal_nan=nan)


@pytest.mark.parametrize("missing", ["cython", "compiler"])
def test_the_build_is_skipped_with_a_message_where_a_tool_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys, missing: str
) -> None:
    if missing == "cython":
        monkeypatch.setitem(sys.modules, "Cython", None)  # import Cython raises ImportError
    else:
        monkeypatch.setitem(sys.modules, "Cython", types.ModuleType("Cython"))  # found, whether installed or not
        monkeypatch.setattr(build_compiled_core.shutil, "which", lambda _: None)
    assert build_compiled_core.main(["--out", str(tmp_path / "core")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("compiled core skipped: ") and (
        "Cython" in printed if missing == "cython" else "C compiler" in printed
    )
    assert not (tmp_path / "core").exists()
