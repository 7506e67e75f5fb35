"""The partitioned search (:mod:`mrkcheck.check.parallel`) on a Dask distributed cluster.

Each partition is a Dask actor, placed round-robin on the cluster's workers; the driver runs the
same level loop as with local processes, and relays each level's batches from the partition that
generated them to the one that owns them. So the counts and traces are the serial engine's, as
with ``--workers``. The model travels to the workers pickled (cloudpickle, which Dask uses, carries
the closures of action properties); the workers need mrkcheck installed, at the same version.

Why Dask distributed and not Ray: it is pure Python (a few MB with its dependencies, against a
wheel of a few hundred MB with a compiled core for Ray), starts a local cluster of two workers in
a few seconds, and its actors are all this search needs. Loaded only for ``--cluster``.
"""

from __future__ import annotations

import logging
from typing import Any

from mrkcheck.check.parallel import LevelReport, Partition
from mrkcheck.errors import UsageError
from mrkcheck.lang.model import Model

CONNECT_SECONDS = 10


class DaskTeam:
    """``count`` partitions as actors on the Dask scheduler at ``address`` ("local": a cluster
    of ``count`` worker processes on this machine, started here and stopped by :meth:`close`)."""

    def __init__(self, model: Model, symmetry: bool, deadlock: bool, count: int, address: str):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError(
                "--cluster needs Dask distributed: pip install 'mrkcheck[cluster]'"
            ) from None
        self.local: Any = None
        if address == "local":
            self.local = LocalCluster(
                n_workers=max(count, 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client: Any = Client(self.local)
        else:
            try:
                self.client = Client(address, timeout=CONNECT_SECONDS)
            except (OSError, ValueError, TypeError) as exc:
                raise UsageError(
                    f"--cluster: cannot reach a Dask scheduler at {address}: {exc}"
                ) from None
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.close()
            raise UsageError(f"--cluster: the Dask scheduler at {address} has no workers")
        n = count if count > 1 else len(workers)
        futures = [
            self.client.submit(
                Partition,
                model,
                symmetry,
                deadlock,
                i,
                n,
                actor=True,
                workers=[workers[i % len(workers)]],
                pure=False,
            )
            for i in range(n)
        ]
        self.parts = [f.result() for f in futures]

    def start(self) -> list[LevelReport]:
        return [f.result() for f in [p.start() for p in self.parts]]

    def level(self) -> list[LevelReport]:
        outgoing = [f.result() for f in [p.expand() for p in self.parts]]
        n = len(self.parts)
        pending = [
            part.absorb([outgoing[p][q] for p in range(n) if p != q])
            for q, part in enumerate(self.parts)
        ]
        return [f.result() for f in pending]

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()
