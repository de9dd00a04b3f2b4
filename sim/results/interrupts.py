"""SIGTERM and SIGHUP stop a command as Ctrl-C does: workers stopped, nothing written, `interrupted` printed;
and worker processes die with the process that started them.

Standard library only, so the command line can install it around every command at no import cost.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import sys
import threading
from collections.abc import Iterator


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as Ctrl-C is, so the same clean-up runs: workers are
    stopped, nothing is written, and the command line prints `interrupted` rather than dying silently."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by this signal (143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise `Interrupted`. Only in the main thread (Python runs handlers nowhere
    else), and only for signals still at their default: `nohup`'s ignored SIGHUP, or a handler of the
    caller's own, is kept. Nested uses do nothing; the previous handlers come back on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed = [signum for signum in STOP_SIGNALS if signal.getsignal(signum) == signal.SIG_DFL]
    for signum in installed:
        signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum in installed:
            signal.signal(signum, signal.SIG_DFL)


WORKER_SIGNALS = (signal.SIGINT, *STOP_SIGNALS)


@contextlib.contextmanager
def blocked_for_workers() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait while worker processes are forked: a child forked with this process's
    handlers, signalled before its initializer replaces them, would raise in the parent's copied stack and run
    the parent's clean-up (a second `interrupted`, a traceback). Children start with the signals blocked and
    unblock them in `unblock_in_worker`; here they act as soon as the block ends. POSIX only."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unblock_in_worker() -> None:
    """In a worker, once its own handlers are set: signals that came while it started act now."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def set_parent_death_signal(signum: int) -> None:
    """Linux only: `signum` is sent to this process when the thread that started it ends (a pool starts every
    worker from the thread that runs `run_many`, which outlives the pool; distributed starts a local cluster's
    workers from a thread that lasts as long as each worker's handle)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def die_with_parent_if_spawned() -> None:
    """Called first by the command's module. A process that multiprocessing spawns (a Dask local cluster's
    worker) imports that module again before anything else, and is then marked as still inheriting its
    parent's state (multiprocessing's own test for a module run while a child starts). There, ask the kernel at
    once to end it with its parent: distributed's own watch on its parent starts only after a second or more of
    imports (several on a loaded machine), and a worker orphaned meanwhile would live on until then."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        set_parent_death_signal(signal.SIGKILL)
