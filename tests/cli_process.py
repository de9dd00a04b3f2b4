"""The command in a process of its own, forked from a server that has already imported the product.

A cold `python -m sim.cli` spends 1-3 s importing numpy, pandas and scipy (longer under coverage) before it reads
its first byte, and the hostile-input, bad-input and SSDA903 suites start about 200 of them. Here one forkserver
per test worker imports the product once, and each case is a fork of it: its own process, working folder,
stdout and stderr, address-space limit and time limit, running `sim.cli.main` as the console script does. A
crash is a traceback on the case's stderr and a non-zero exit, as it would be from the shell.

What only a cold start shows stays with real subprocesses: which modules load before input is checked, signals
and workers (tests/test_workers.py), kills (tests/test_output_safety.py) and the console entry point itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess, TimeoutExpired

# What the commands import lazily; the server imports it once (a module that fails to import is skipped there
# and then imported by each case, so a wrong name here costs time, never correctness).
PRELOAD = [
    "sim.cli",
    "sim.results.runner",
    "sim.present.outputs",
    "sim.analysis.compare",
    "calibration.ssda903.calibrate",
    "calibration.ssda903.backtest",
    "calibration.backtest",
]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read once, by the server's numpy: threads only slow tiny fits
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def _address_space() -> int:
    """This process's mapped address space in bytes (VmSize), which an RLIMIT_AS counts against."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _redirect(fd: int, path: str) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(handle, fd)
    os.close(handle)


def _case(args: list[str], cwd: str, env: dict[str, str], memory: int | None, streams: str) -> None:
    """In the fork: the case's folder, environment, streams and limit, then the command."""
    os.chdir(cwd)
    os.environ.update(env)
    _redirect(1, os.path.join(streams, "stdout"))
    _redirect(2, os.path.join(streams, "stderr"))
    if memory is not None:  # on top of what the preloaded server already maps
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.argv = ["sufficiency", *args]
    from sim.cli import main

    sys.exit(main(args))


class CliProcess:
    """A started case, read like a `subprocess.Popen` with text streams."""

    def __init__(self, args: list[str], process: multiprocessing.process.BaseProcess, streams: str) -> None:
        self.args = args
        self._process = process
        self._streams = streams
        self.returncode: int | None = None

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Wait for the exit (killing the case after `timeout` seconds) and return stdout and stderr."""
        self._process.join(timeout)
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
            shutil.rmtree(self._streams, ignore_errors=True)
            raise TimeoutExpired(self.args, timeout)
        self.returncode = self._process.exitcode
        stdout, stderr = (Path(self._streams, name).read_text(errors="replace") for name in ("stdout", "stderr"))
        shutil.rmtree(self._streams, ignore_errors=True)
        return stdout, stderr


def start(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, memory: int | None = None
) -> CliProcess:
    """`sufficiency ARGS` in `cwd`, with `env` added to the environment and at most `memory` more bytes mapped."""
    words = [str(arg) for arg in args]
    streams = tempfile.mkdtemp(prefix="cli-streams-")
    process = _CONTEXT.Process(target=_case, args=(words, str(cwd), dict(env or {}), memory, streams))
    with untraced():
        process.start()
    return CliProcess(words, process, streams)


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Inside, processes start without coverage's subprocess hook, so they run untraced: the server here (its
    forks), and the notebooks' kernels. They check what a command or a notebook says and writes; the code they
    run is measured by the in-process tests and the real subprocesses, and the total did not move (96.42%)
    when they stopped being traced."""
    hook = os.environ.pop("COVERAGE_PROCESS_CONFIG", None)
    try:
        yield
    finally:
        if hook is not None:
            os.environ["COVERAGE_PROCESS_CONFIG"] = hook


def run(
    args: list[str | Path],
    cwd: Path,
    env: dict[str, str] | None = None,
    memory: int | None = None,
    timeout: float = 120,
) -> CompletedProcess[str]:
    """Run one case to its end, as `subprocess.run(..., capture_output=True, text=True)` would."""
    case = start(args, cwd, env, memory)
    stdout, stderr = case.communicate(timeout)
    return CompletedProcess(case.args, case.returncode, stdout, stderr)
