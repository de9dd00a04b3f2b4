"""Worker processes end with the run that started them, and a stopped run leaves nothing behind.

The end-to-end tests start `sufficiency run` in a session of its own, find its workers through /proc (so
Linux only), signal it as a terminal, a service manager or `kill -9` would, and watch the workers go.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sim.engine.errors import InputError
from sim.engine.scenario_files import load_scenario
from sim.results.distributed import check_scheduler, dask_executor
from sim.results.interrupts import Interrupted, blocked_for_workers, stopping_on_signals
from sim.results.runner import _worker_start, run, run_many

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "bad_scenarios" / "valid_base.toml"
START_SECONDS = 60  # for the command to start its workers on a busy machine
# For every worker to end once the main process is signalled: they end within a second, but the suite's other
# tests load a 2-core machine (a Dask worker still importing missed 5 s there once); one left running would run on
# for minutes.
GONE_SECONDS = 15

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids the test started or found; any still there at the end are killed, so a failure leaks nothing."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _command(out: Path, stderr: Path, replications: int, *options: str) -> subprocess.Popen:
    """A run long enough to be busy when signalled, in a new session so a signal to its group reaches it alone,
    and with SIGHUP at its default, as under a terminal: a suite run under `nohup` would have the run inherit an
    ignored SIGHUP, which it keeps (so the SIGHUP case would wait for the whole run)."""
    arguments = ["run", str(SCENARIO), "--replications", str(replications), "--quiet", "--out", str(out)]
    with stderr.open("w") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "sim.cli", *arguments, *options],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
            preexec_fn=_hang_up_by_default,
        )


def _hang_up_by_default() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid: (parent pid, state, start time) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[0], fields[19])
    return table


def _descendants(root: int) -> dict[int, str]:
    """Live processes below `root`, with their start times: a pid reused later is another process."""
    table = _processes()
    found: dict[int, str] = {}
    parents = {root}
    while parents:
        children = {pid for pid, (parent, state, _) in table.items() if parent in parents and state not in "ZX"}
        found |= {pid: table[pid][2] for pid in children}
        parents = children - parents
    return found


def _remaining(processes: dict[int, str]) -> list[int]:
    """Those still running: a zombie holds no pipe and does no work, so it counts as gone."""
    table = _processes()
    running = {pid: start for pid, (_, state, start) in table.items() if state not in "ZX"}
    return [pid for pid, start in processes.items() if running.get(pid) == start]


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _busy_workers(command: subprocess.Popen, count: int, started: list[int], marker: str = "") -> dict[int, str]:
    """Wait until the command has `count` children whose command line holds `marker`, and give them time
    to start their batches; all of the command's descendants, which must all end with it."""

    def workers() -> int:
        return sum(marker in _command_line(pid) for pid in _descendants(command.pid))

    assert _wait_for(lambda: workers() >= count or command.poll() is not None, START_SECONDS)
    assert command.poll() is None, "the run ended before it could be signalled"
    time.sleep(0.5)
    processes = _descendants(command.pid)
    started.extend([command.pid, *processes])
    return processes


def _command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ")
    return ""


@linux_only
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_workers_end_when_the_main_process_is_killed_or_terminated(
    tmp_path: Path, started: list[int], signum: signal.Signals
) -> None:
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    command = _command(out, stderr, 2000, "--jobs", "2")
    workers = _busy_workers(command, 2, started)
    os.kill(command.pid, signum)
    assert _wait_for(lambda: not _remaining(workers), GONE_SECONDS), f"workers left: {_remaining(workers)}"
    code = command.wait(timeout=20)
    errors = stderr.read_text()
    assert "Traceback" not in errors
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:  # stopped as Ctrl-C stops it, not killed by the signal
        assert code in {130, 128 + signum} and "interrupted" in errors
    assert not out.exists()


WITHOUT_KERNEL_HELP = """
import sys
from pathlib import Path

import sim.results.runner
from sim.engine.scenario_files import load_scenario

sim.results.runner.set_parent_death_signal = lambda signum: None  # forked workers inherit it: only the watcher left
sim.results.runner.run(load_scenario(Path(sys.argv[1])), 2000, jobs=2)
"""


@linux_only
def test_without_the_kernel_s_help_the_watcher_thread_ends_orphaned_workers(tmp_path: Path, started: list[int]) -> None:
    """What stops workers on systems without PR_SET_PDEATHSIG, or whose parent died before asking for it."""
    with (tmp_path / "stderr.txt").open("w") as errors:
        command = subprocess.Popen(
            [sys.executable, "-c", WITHOUT_KERNEL_HELP, str(SCENARIO)], cwd=ROOT, stderr=errors, start_new_session=True
        )
    workers = _busy_workers(command, 2, started)
    os.kill(command.pid, signal.SIGKILL)
    assert _wait_for(lambda: not _remaining(workers), GONE_SECONDS), f"workers left: {_remaining(workers)}"


@linux_only
def test_a_worker_killed_mid_run_is_one_line_exit_2_and_the_other_workers_end(
    tmp_path: Path, started: list[int]
) -> None:
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    command = _command(out, stderr, 2000, "--jobs", "2")
    workers = _busy_workers(command, 2, started)
    os.kill(min(workers), signal.SIGKILL)  # as the out-of-memory killer would
    assert command.wait(timeout=20) == 2
    assert _wait_for(lambda: not _remaining(workers), GONE_SECONDS), f"workers left: {_remaining(workers)}"
    assert stderr.read_text().splitlines() == [
        "error: a worker process ended unexpectedly (killed, or out of memory?); try again with fewer --jobs"
    ]
    assert not out.exists()


@linux_only
@pytest.mark.parametrize("to_group", [True, False], ids=["terminal", "main_only"])
def test_ctrl_c_stops_the_workers_at_once_with_one_line(tmp_path: Path, started: list[int], to_group: bool) -> None:
    """A terminal sends Ctrl-C to every worker too; `kill -INT` or a notebook's interrupt reaches the main
    process only, which must stop the workers itself rather than wait for their batches (about 10 s each)."""
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    command = _command(out, stderr, 2000, "--jobs", "2")
    workers = _busy_workers(command, 2, started)
    (os.killpg if to_group else os.kill)(command.pid, signal.SIGINT)
    assert _wait_for(lambda: not _remaining(workers), GONE_SECONDS), f"workers left: {_remaining(workers)}"
    assert command.wait(timeout=20) == 130
    assert stderr.read_text().strip() == "interrupted"
    assert not out.exists()


@linux_only
def test_dask_local_workers_end_when_the_main_process_is_killed(tmp_path: Path, started: list[int]) -> None:
    pytest.importorskip("distributed")
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    command = _command(out, stderr, 5000, "--jobs", "2", "--dask", "local")
    processes = _busy_workers(command, 2, started, marker="multiprocessing.spawn")
    os.kill(command.pid, signal.SIGKILL)
    assert _wait_for(lambda: not _remaining(processes), GONE_SECONDS), f"left: {_remaining(processes)}"
    assert not out.exists()


@linux_only
def test_dask_local_stopped_while_its_workers_start_exits_cleanly(tmp_path: Path, started: list[int]) -> None:
    """Signalled as soon as its worker processes exist, while they are still importing: stopping the cluster
    half-started would leave it to distributed's exit hook, which fails with a traceback."""
    pytest.importorskip("distributed")
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    command = _command(out, stderr, 5000, "--jobs", "2", "--dask", "local")
    assert _wait_for(lambda: len(_descendants(command.pid)) >= 3 or command.poll() is not None, START_SECONDS)
    processes = _descendants(command.pid)
    started.extend([command.pid, *processes])
    os.kill(command.pid, signal.SIGTERM)
    assert command.wait(timeout=30) in {130, 128 + signal.SIGTERM}
    assert _wait_for(lambda: not _remaining(processes), GONE_SECONDS), f"left: {_remaining(processes)}"
    assert stderr.read_text().strip() == "interrupted"
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_signals_while_a_local_cluster_starts_act_once_it_has_started() -> None:
    pytest.importorskip("distributed")
    from sim.results.distributed import _holding_signals

    reached_the_end = False
    with pytest.raises(Interrupted) as stopped, stopping_on_signals(), _holding_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # a handler would have run by now
        reached_the_end = True
    assert reached_the_end and stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_worker_signalled_before_its_initializer_dies_of_the_signal_not_in_the_parents_handler() -> None:
    """A slow machine widens the window between fork and the pool's initializer. A SIGTERM there, with the
    parent's handler copied by fork, raised `Interrupted` in the child, which then ran the parent's clean-up
    from its copied stack (a second `interrupted`, 'can only join a child process'). Held until the
    initializer has set the worker's own handlers, it ends the worker as the signal's default does."""
    with stopping_on_signals(), blocked_for_workers():
        child = os.fork()
        if child == 0:  # the child never leaves this block, as a pool's worker never returns from its fork
            try:
                time.sleep(1.0)  # starting, as a worker does before its initializer; signalled meanwhile
                _worker_start(os.getppid(), via_fork_server=False)
                time.sleep(5.0)
            finally:
                os._exit(3)  # reached only if the signal was taken by the parent's handler, or not at all
    os.kill(child, signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port where something accepts connections and never answers, as a web server does to Dask."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


def test_an_address_with_no_scheduler_is_one_line_and_exit_2_within_seconds(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_closed_port()}"
    out = tmp_path / "out"
    arguments = ["run", str(SCENARIO), "--replications", "2", "--quiet", "--out", str(out), "--dask", address]
    # under 30 s, the time a Client alone would wait; imports alone take seconds on the loaded CI machine
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=25
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: --dask {address}: no Dask scheduler answered within 5 s; expected the address of a running "
        "Dask scheduler (tcp://host:8786) or 'local'"
    ]
    assert not out.exists()


@pytest.mark.parametrize("address", ["nowhere", "tcp://nowhere", "foo://x:1", ""])
def test_a_malformed_address_is_refused_naming_it(address: str) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=rf"^--dask {re.escape(address)}: not a usable address \(.+\); expected"):
        check_scheduler(address)


def test_a_listener_that_is_not_a_scheduler_is_refused_rather_than_waited_on(silent_port: int) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=f"--dask tcp://127.0.0.1:{silent_port}: no Dask scheduler answered"):
        check_scheduler(f"tcp://127.0.0.1:{silent_port}")


def test_dask_without_distributed_installed_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(InputError, match=r"--dask needs dask.distributed"), dask_executor("local", 1):
        pass


def test_negative_jobs_are_refused_and_zero_means_one_worker_per_core() -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(InputError, match=r"--jobs must be 0 \(one worker per core\).*got -1"):
        run_many([scenario], 2, jobs=-1)
    per_core, one = run(scenario, 2, jobs=0), run(scenario, 2, jobs=1)
    for name, table in one.tables.items():
        assert per_core.tables[name].equals(table), name


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_termination_signals_stop_like_ctrl_c_but_an_ignored_hangup_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stopping_on_signals():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: nothing raised
            with pytest.raises(Interrupted) as stopped:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler runs here at the latest
        assert isinstance(stopped.value, KeyboardInterrupt) and stopped.value.exit_code == 143
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_stopping_the_pool_leaves_no_thread_for_the_exit_hook_to_race() -> None:
    """The pool's manager thread closes its wake-up pipe as it ends; one still running when the interpreter
    exits races concurrent.futures' exit hook, which writes to that pipe (a 'Bad file descriptor' after
    'interrupted', or a hang). Stopping the pool must wait for it."""
    from sim.results.runner import _process_pool

    with pytest.raises(KeyboardInterrupt), _process_pool(2) as pool:
        futures = [pool.submit(time.sleep, 30) for _ in range(6)]
        manager = pool._executor_manager_thread
        _wait_for(lambda: all(f.running() for f in futures[:2]), START_SECONDS)
        raise KeyboardInterrupt
    assert manager is not None and not manager.is_alive()
    assert all(f.done() for f in futures)


ASKS_FOR_PARENT_DEATH = """
import ctypes, multiprocessing, sys
from sim.results.interrupts import die_with_parent_if_spawned

if sys.argv[1] == "spawned":
    multiprocessing.current_process()._inheriting = True  # as multiprocessing marks a child while it starts
die_with_parent_if_spawned()
signal = ctypes.c_int(0)
ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(signal), 0, 0, 0)  # PR_GET_PDEATHSIG
print(signal.value)
"""


@linux_only
@pytest.mark.parametrize(("how", "expected"), [("spawned", signal.SIGKILL), ("a command", 0)])
def test_a_spawned_worker_asks_to_die_with_its_parent_before_its_imports(how: str, expected: int) -> None:
    """A Dask local worker killed while still importing (a second or more, several on a loaded machine) was left
    running until distributed's own watch on its parent started; the command's module asks the kernel first."""
    printed = subprocess.run(
        [sys.executable, "-c", ASKS_FOR_PARENT_DEATH, how], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert int(printed.stdout) == expected
