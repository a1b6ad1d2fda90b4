"""The default engine: a local pool of processes, each holding one worker (one model)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from morpho.batch.items import BatchItem
from morpho.batch.worker import ImageResult, Worker, WorkerFactory, run_chunk

_worker: Worker | None = None
_start_error: str | None = None
WORKER_MEMORY = 1.1e9  # bytes a worker holds at its peak on 4k films (decode, maps, model)
WATCH_INTERVAL_S = 0.5


def available_memory() -> float | None:
    """Bytes this process may still use: MemAvailable, capped by a cgroup v2 limit."""
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    values = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    kib = values.get("MemAvailable")
    available = float(kib.split()[0]) * 1024 if kib else None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = float(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return available
    if limit == "max":
        return available
    left = float(limit) - used
    return left if available is None else min(available, left)


def default_workers() -> int:
    """Worker processes: the usable cores, fewer where memory holds fewer workers."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = available_memory()
    by_memory = int(memory // WORKER_MEMORY) if memory is not None else cores or 1
    return max(1, min(cores or 1, by_memory))


def _watch_parent(parent: int) -> None:
    """Exit this worker as soon as the process that started the pool is gone (killed with
    -9, say), so that no orphan keeps a model loaded and a core busy."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)


class WorkerStartError(RuntimeError):
    """A worker process could not build its worker (for example, no model)."""


def _start(factory: WorkerFactory, parent: int) -> None:
    """Pool initializer: build this worker process's one worker (its state lives in the
    process, which the pool discards with it)."""
    global _worker, _start_error
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _worker, _start_error = None, None
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
    if workers <= 1:  # in this process, with a worker of this run's own
        try:
            worker = factory()
        except Exception as exc:  # noqa: BLE001 - one clear cause for the driver
            raise WorkerStartError(f"{type(exc).__name__}: {exc}") from exc
        for chunk in chunks:
            on_results(run_chunk(worker, chunk))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(factory, os.getpid())
    ) as pool:
        queue = list(reversed(chunks))
        in_flight: set[Future] = set()
        while queue or in_flight:
            while queue and len(in_flight) < 2 * workers:
                in_flight.add(pool.submit(_run, queue.pop()))
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                on_results(future.result())
