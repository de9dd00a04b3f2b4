"""Running batches of replications on a dask.distributed cluster (the optional `dask` extra).

`--dask ADDRESS` connects to a running scheduler (`dask scheduler` plus `dask worker ADDRESS` on each
machine, dask-jobqueue on an HPC system, or the Dask Kubernetes operator); `--dask local` starts a
cluster of worker processes on this machine for the run and stops it afterwards. The workers need
this package installed at the same version. Batches are the same as a local run's, and each
replication draws from its own streams, so the results are identical to a local run with the same seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def dask_executor(address: str, jobs: int) -> Iterator[tuple[object, int]]:
    """(submit, workers) on a Dask cluster; `workers` counts the cluster's threads."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise RuntimeError("--dask needs dask.distributed: pip install 'care-sufficiency-simulator[dask]'") from error
    with contextlib.ExitStack() as stack:
        if address == "local":
            cluster = stack.enter_context(
                LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(address, timeout="30s"))
        workers = max(1, sum(client.nthreads().values()))

        def submit(function, *args):
            return client.submit(function, *args, pure=False)

        yield submit, workers
