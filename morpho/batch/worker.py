"""Run one chunk of items through a worker, decoding the next item while this one runs."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

import pandas as pd

from morpho.batch.items import BatchItem
from morpho.errors import MorphoError, scrub


class Worker(Protocol):
    """The per-image work. Built once per process (model loaded once), then reused.

    ``load`` reads and decodes a file (runs in a prefetch thread); ``process`` segments and
    measures it and returns the image's facts (a flat dict) and its measurements table.
    """

    def load(self, item: BatchItem) -> Any: ...

    def process(self, item: BatchItem, loaded: Any) -> tuple[dict[str, Any], pd.DataFrame]: ...


#: A picklable callable with no arguments that builds a Worker (a class, or a partial).
WorkerFactory = Callable[[], Worker]


@dataclass
class ImageResult:
    """The outcome for one item, in a form that travels between processes and into the store."""

    key: str
    status: str  # "ok" or "failed"
    cause: str | None
    facts: dict[str, Any]
    measurements: bytes | None  # the measurements table as Parquet
    # ``cause`` names no path: the file's names become '<file>' (see morpho.errors.scrub)


def storing_worker(factory: WorkerFactory, run_dir: str) -> Worker:
    """Build the worker and tell it the run folder, where a worker that keeps files per film
    (``ChainWorker.run_dir``) stages them (``morpho.stored``); other workers are left as
    they are. Picklable with ``functools.partial``, for worker processes and Ray actors."""
    from pathlib import Path

    worker = factory()
    if hasattr(worker, "run_dir"):
        worker.run_dir = Path(run_dir)
    return worker


def _cause(exc: BaseException) -> str:
    if isinstance(exc, MorphoError):
        return exc.cause
    return f"{type(exc).__name__}: {exc}"


def _timed_load(worker: Worker, item: BatchItem) -> tuple[Any, float]:
    start = time.perf_counter()
    loaded = worker.load(item)
    return loaded, time.perf_counter() - start


def _to_parquet(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def run_chunk(worker: Worker, items: Sequence[BatchItem]) -> list[ImageResult]:
    """Process ``items`` in order; item i+1 is read and decoded while item i is processed."""
    results: list[ImageResult] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="morpho-read") as reader:
        pending: Future | None = reader.submit(_timed_load, worker, items[0]) if items else None
        for position, item in enumerate(items):
            current = pending
            pending = (
                reader.submit(_timed_load, worker, items[position + 1])
                if position + 1 < len(items)
                else None
            )
            results.append(_run_one(worker, item, current))
    return results


def _run_one(worker: Worker, item: BatchItem, load: Future) -> ImageResult:
    try:
        loaded, read_s = load.result()
        start = time.perf_counter()
        facts, table = worker.process(item, loaded)
        process_s = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - every file gets its row in failures.csv
        names = (item.path, item.key, PurePath(item.key).name)
        return ImageResult(item.key, "failed", scrub(_cause(exc), names), {}, None)
    facts = {**facts, "read_s": read_s, "process_s": process_s}
    facts = {k: round(v, 6) if k.endswith("_s") else v for k, v in facts.items()}  # microseconds
    return ImageResult(item.key, "ok", None, facts, _to_parquet(table))
