"""`make compiled`: build the optional compiled core, the engine's event logic compiled by Cython from its own .py.

There is no second copy of the source: each module of `MODULES` is copied as it is into a staging folder,
hashed there and compiled from that copy, so the hash recorded in the manifest is the hash of exactly what was
compiled, even while someone edits the source. `sim.engine` loads a compiled module only while that hash
matches the .py beside it (docs/decisions/0012-compiled-core.md); the pure-Python engine stays the default
wherever the build is missing or stale, and is what `make run` and `make test` need.

Where Cython, a C compiler or the Python headers are missing, this prints what is missing and exits 0: the
compiled core is optional. The finished build replaces the old one in one rename, so a half-built folder is
never read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "compiled_core"
MANIFEST = "manifest.json"
# The module holding the per-event time: cProfile of 10 Cheshire East replications put 55% of the run's own time
# in model.py (the callbacks and the placement search), 3% in demand.py, 2.5% in distributions.py and under 1% in
# streams.py, the rest in SimPy (never compiled: the target is a ratio against bare SimPy) and NumPy. Compiled
# too, demand.py and streams.py drew the children no faster (their work is vectorised NumPy) and made the build
# half as long again (docs/performance.md), so they stay Python. households.py holds the in-house fostering
# households' index, which the placement search calls per event (it was part of model.py until it moved out).
MODULES = ("sim.engine.model", "sim.engine.households")
# Python semantics kept whole: annotations are not C types (a float passed where `int` is annotated stays
# legal, as in Python), and methods are ordinary functions (the engine rebinds some per scenario).
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True}


def missing_tools() -> str | None:
    """Why the compiled core cannot be built here, or None when Cython, a C compiler and Python.h are all found."""
    try:
        import Cython  # noqa: F401
    except ImportError:
        return "Cython is not installed (pip install -e '.[compiled]')"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler!r} is not on PATH)"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return f"no Python headers (Python.h not in {sysconfig.get_paths()['include']})"
    return None


def source_path(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
    out: Path = DEFAULT_OUT, modules: tuple[str, ...] = MODULES, quiet: bool = False, optimise: bool = True
) -> dict:
    """Compile `modules` into `out` (replaced whole) and return the manifest written there.

    `optimise=False` compiles with -O0: gcc takes a quarter of the time, with the same C semantics (no -ffast-math
    either way), for tests that check records rather than speed. The manifest says which it was."""
    from Cython import __version__ as cython_version
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    flags = [] if optimise else ["-O0"]  # after Python's own flags, so it wins over their -O
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as work:
        staging, built = Path(work) / "src", Path(work) / "out"
        sources = {module: _stage(module, staging) for module in modules}
        extensions = cythonize(
            [Extension(module, [str(path)], extra_compile_args=flags) for module, path in sources.items()],
            compiler_directives=DIRECTIVES,
            build_dir=str(Path(work) / "c"),
            quiet=quiet,
            force=True,
        )
        command = Distribution({"ext_modules": extensions, "script_args": ["-q"] if quiet else []}).get_command_obj(
            "build_ext"
        )
        command.build_lib, command.build_temp, command.parallel = str(built), str(Path(work) / "tmp"), os.cpu_count()
        command.ensure_finalized()
        command.run()
        manifest = {
            "python": sys.version,
            "cython": cython_version,
            "optimised": optimise,
            "modules": {
                module: {
                    "source": str(source_path(module, Path())),
                    "sha256": sha256(path),
                    "binary": str(Path(command.get_ext_fullpath(module)).relative_to(built)),
                }
                for module, path in sources.items()
            },
        }
        (built / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace(out, built)
    return manifest


def _stage(module: str, staging: Path) -> Path:
    """Copy the module's source into the staging tree, with the packages' __init__ files its name needs."""
    target = source_path(module, staging)
    target.parent.mkdir(parents=True, exist_ok=True)
    for package in target.relative_to(staging).parents:
        (staging / package / "__init__.py").touch()
    shutil.copyfile(source_path(module), target)
    return target


def _replace(out: Path, built: Path) -> None:
    """Swap the finished build in: the old one is renamed away first, so `out` is always a whole build or none."""
    old = out.with_name(f".{out.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    built.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"build folder (default {DEFAULT_OUT})")
    parser.add_argument("--quiet", action="store_true", help="print only the outcome")
    arguments = parser.parse_args(argv)
    why = missing_tools()
    if why is not None:
        print(f"compiled core skipped: {why}. The pure-Python engine is used: make run and make test need no more.")
        return 0
    manifest = build(arguments.out, quiet=arguments.quiet)
    print(
        f"compiled core built in {arguments.out} (Cython {manifest['cython']}): {', '.join(manifest['modules'])}. "
        "sim.engine loads it while each module's source is unchanged; SUFFICIENCY_CORE=python turns it off."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
