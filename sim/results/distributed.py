"""Running batches of replications on a dask.distributed cluster (the optional `dask` extra).

`--dask ADDRESS` connects to a running scheduler (`dask scheduler` plus `dask worker ADDRESS` on each
machine, dask-jobqueue on an HPC system, or the Dask Kubernetes operator); `--dask local` starts a
cluster of worker processes on this machine for the run and stops it afterwards. The workers need
this package installed at the same version. Batches are the same as a local run's, and each
replication draws from its own streams, so the results are identical to a local run with the same seed.

A local cluster's worker processes do not outlive this one: distributed gives each a pipe from its parent
and the worker exits the moment the pipe closes, which the kernel does however the parent ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from sim.engine.errors import InputError

CONNECT_SECONDS = 5  # how long a scheduler has to answer before --dask ADDRESS is refused


@contextlib.contextmanager
def dask_executor(address: str, jobs: int) -> Iterator[tuple[object, int]]:
    """(submit, workers) on a Dask cluster; `workers` counts the cluster's threads."""
    client_class, cluster_class = _distributed()
    with contextlib.ExitStack() as stack:
        if address == "local":
            with _holding_signals():
                cluster = stack.enter_context(_local_cluster(cluster_class, jobs))
                client = stack.enter_context(client_class(cluster))
        else:
            check_scheduler(address)
            client = stack.enter_context(client_class(address, timeout=f"{CONNECT_SECONDS}s"))
        workers = max(1, sum(client.nthreads().values()))

        def submit(function, *args):
            return client.submit(function, *args, pure=False)

        yield submit, workers


def _local_cluster(cluster_class: type, jobs: int) -> object:
    """`jobs` single-threaded worker processes. No dashboard, and the scheduler's web routes on a free local
    port rather than 8787, which warns when taken; warnings off, or a stopped run would print a screenful
    about cancelled tasks."""
    return cluster_class(
        n_workers=jobs,
        threads_per_worker=1,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )


@contextlib.contextmanager
def _holding_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP to this process act only once a local cluster has started: one cut off
    half-way is left to distributed's exit hook, which fails with a traceback. A second signal acts at once.
    Main thread only, where Python runs signal handlers; signals ignored or at their default are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in _HELD_SIGNALS}
    previous = {signum: handler for signum, handler in previous.items() if callable(handler)}

    def hold(signum: int, frame: object) -> None:
        if held:
            previous[signum](signum, frame)
        held.append(signum)

    for signum in previous:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            previous[held[0]](held[0], None)


_HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _distributed() -> tuple[type, type]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "--dask needs dask.distributed, which is not installed: pip install 'care-sufficiency-simulator[dask]'"
        ) from None
    return Client, LocalCluster


def check_scheduler(address: str) -> None:
    """Refuse, within `CONNECT_SECONDS`, an address with no Dask scheduler behind it. A Client alone waits
    30 s where nothing listens, and forever where a program that is not a scheduler does."""
    problem = _scheduler_problem(address)
    if problem:
        raise InputError(
            f"--dask {address}: {problem}; expected the address of a running Dask scheduler (tcp://host:8786) "
            "or 'local'"
        )


def _scheduler_problem(address: str) -> str | None:
    """What is wrong with the address, or None when a scheduler answered. The question is asked on a
    thread of its own, as this may be called where an event loop already runs (a notebook)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dask probe") as thread:
        try:
            identity = thread.submit(asyncio.run, _identity(address)).result()
        except (ValueError, TypeError) as error:  # distributed's own words: "missing port number in address ..."
            return f"not a usable address ({error})"
        except Exception:  # refused, no such host, a timeout, or a reply that is not Dask's
            return f"no Dask scheduler answered within {CONNECT_SECONDS} s"
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind == "Scheduler":
        return None
    return f"a Dask {str(kind).lower()} answered, not a scheduler" if kind else "the program there is not Dask"


async def _identity(address: str) -> object:
    """The reply to Dask's `identity` request, the first thing a client asks a scheduler."""
    from distributed.comm import connect
    from distributed.security import Security

    async with asyncio.timeout(CONNECT_SECONDS):
        comm = await connect(address, timeout=CONNECT_SECONDS, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()
