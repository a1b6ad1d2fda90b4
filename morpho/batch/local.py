"""The default engine: a local pool of processes, each holding one worker (one model)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from morpho.batch.items import BatchItem
from morpho.batch.worker import ImageResult, Worker, WorkerFactory, run_chunk

_worker: Worker | None = None
_start_error: str | None = None


class WorkerStartError(RuntimeError):
    """A worker process could not build its worker (for example, no model)."""


def _start(factory: WorkerFactory) -> None:
    global _worker, _start_error
    try:
        _worker = factory()
    except Exception as exc:  # noqa: BLE001 - reported to the driver by _run
        _start_error = f"{type(exc).__name__}: {exc}"


def _run(chunk: list[BatchItem]) -> list[ImageResult]:
    if _worker is None:
        raise WorkerStartError(_start_error or "worker not started")
    return run_chunk(_worker, chunk)


def run_local(
    chunks: Sequence[list[BatchItem]],
    factory: WorkerFactory,
    workers: int,
    on_results: Callable[[list[ImageResult]], None],
) -> None:
    """Run ``chunks`` on ``workers`` processes (in this process when ``workers`` is 1).

    At most two chunks per worker are in flight, so a worker never waits for its next
    task, and an interrupted run has little work in flight.
    """
    if workers <= 1:
        _start(factory)
        for chunk in chunks:
            on_results(_run(chunk))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(factory,)
    ) as pool:
        queue = list(reversed(chunks))
        in_flight: set[Future] = set()
        while queue or in_flight:
            while queue and len(in_flight) < 2 * workers:
                in_flight.add(pool.submit(_run, queue.pop()))
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                on_results(future.result())
