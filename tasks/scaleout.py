"""Fan generation chunks out over a Prefect task runner: Dask (prefect-dask) when configured.

The engine takes any ``map_fn(fn, jobs) -> results``; chunk seeds depend only on the chunk index,
so the files are identical whichever runner computes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.utilities.annotations import unmapped

from tasks.settings import Settings

MapFn = Callable[[Callable[[Any], Any], list], list]


@task(name="generate-chunk")
def chunk_task(fn: Callable[[Any], Any], job: Any) -> Any:
    return fn(job)


def dask_mapper(address: str | None = None, n_workers: int = 2) -> MapFn:
    """A ``map_fn`` that runs each chunk as a Prefect task on a Dask cluster.

    Args:
        address: a running scheduler (``tcp://host:8786``); a local cluster is started when None.
        n_workers: processes of the local cluster.
    """
    from prefect_dask import DaskTaskRunner

    def map_fn(fn: Callable[[Any], Any], jobs: list) -> list:
        if address:
            runner = DaskTaskRunner(address=address)
        else:
            runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": n_workers,
                    "processes": True,
                    "threads_per_worker": 1,
                    "dashboard_address": None,
                }
            )

        @flow(name="generate-chunks", task_runner=runner)
        def generate_chunks() -> list:
            futures = chunk_task.map(unmapped(fn), jobs)
            return [future.result() for future in futures]

        return generate_chunks()

    return map_fn


def mapper_from_settings(settings: Settings) -> MapFn | None:
    """Dask when ``DATAFACTORY_DASK_ADDRESS`` or ``DATAFACTORY_DASK_WORKERS`` is set; else the engine's default."""
    if settings.dask_address or settings.dask_workers:
        return dask_mapper(settings.dask_address, settings.dask_workers or 2)
    return None
