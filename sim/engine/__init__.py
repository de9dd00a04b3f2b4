"""The engine: scenarios, demand drawn before supply, and the SimPy model of supply.

Importing the package installs the optional compiled core (docs/decisions/0012-compiled-core.md): when
`make compiled` has built the event logic into build/compiled_core and every compiled module's recorded source
hash matches its .py here, those modules load from the build; otherwise the .py files do, as always. The
environment variable SUFFICIENCY_CORE chooses: `python` (never the build), `compiled` (the build, or an
ImportError saying why not), unset or `auto` (the build when it is fresh, and not under coverage, which measures
the .py lines). A stale build is never used: the engine falls back to Python with one warning on stderr.
SUFFICIENCY_CORE_BUILD names another build folder (the tests build one in a temporary folder).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

CORE_VARIABLE = "SUFFICIENCY_CORE"
CORES = ("auto", "python", "compiled")
# tools/build_compiled_core.py's default folder, in the checkout
BUILD = Path(
    os.environ.get("SUFFICIENCY_CORE_BUILD") or Path(__file__).resolve().parents[2] / "build" / "compiled_core"
)
SOURCES = Path(__file__).resolve().parent


class CompiledCore:
    """A `sys.meta_path` finder loading the build's extension module for each module it holds, nothing else."""

    def __init__(self, binaries: dict[str, Path]):
        self.binaries = binaries

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        binary = self.binaries.get(name)
        return None if binary is None else importlib.util.spec_from_file_location(name, binary)


def fresh_binaries(build: Path, sources: Path = SOURCES) -> tuple[dict[str, Path], list[str]]:
    """The build's extension modules by module name, and what makes the build stale (empty when it is fresh).

    A build is stale when a module's source hash differs, its binary is missing, it was made for another Python
    or its manifest cannot be read: any of these and nothing is loaded from it (a partly compiled core would
    make the bench's compiled figure mean nothing)."""
    try:
        manifest = json.loads((build / "manifest.json").read_text())
        entries, python = manifest["modules"], manifest["python"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}, ["its manifest.json cannot be read"]
    binaries, stale = {}, [] if python == sys.version else [f"built for Python {python.split()[0]}"]
    for name, entry in entries.items():
        source, binaries[name] = sources / f"{name.rpartition('.')[2]}.py", build / entry["binary"]
        if not source.exists() or hashlib.sha256(source.read_bytes()).hexdigest() != entry["sha256"]:
            stale.append(f"{name} changed since it was built")
        elif not binaries[name].exists():
            stale.append(f"{name}'s binary is missing")
    return binaries, stale


def compiled_build_fresh(build: Path = BUILD) -> bool:
    """Whether `build` holds a compiled core of the current source: what SUFFICIENCY_CORE=compiled would load."""
    return (build / "manifest.json").exists() and not fresh_binaries(build)[1]


def choose_core(build: Path = BUILD, sources: Path = SOURCES) -> CompiledCore | None:
    """The finder to install, or None for the pure-Python engine (see the module docstring for the rules)."""
    wanted = os.environ.get(CORE_VARIABLE, "auto") or "auto"
    if wanted not in CORES:
        raise _refused(f"{CORE_VARIABLE}={wanted!r}: expected one of {', '.join(CORES)}")
    if wanted == "python" or (wanted == "auto" and _under_coverage()):
        return None
    if not (build / "manifest.json").exists():
        if wanted == "compiled":
            raise _refused(f"{CORE_VARIABLE}=compiled, but there is no compiled core in {build}: run make compiled")
        return None
    binaries, stale = fresh_binaries(build, sources)
    if not stale:
        return CompiledCore(binaries)
    message = f"the compiled core in {build} is stale ({'; '.join(stale)}): "
    if wanted == "compiled":
        raise _refused(message + "run make compiled")
    print(f"warning: {message}using the pure-Python engine; run make compiled to rebuild it", file=sys.stderr)
    return None


def _refused(message: str) -> ImportError:
    """An ImportError named after the variable, so the command line can tell it from a missing dependency and
    end with this one line rather than a traceback."""
    return ImportError(message, name=CORE_VARIABLE)


def _under_coverage() -> bool:
    coverage = sys.modules.get("coverage")
    return coverage is not None and coverage.Coverage.current() is not None


def _install() -> None:
    core = choose_core()
    if core is not None:
        sys.meta_path.insert(0, core)


_install()
