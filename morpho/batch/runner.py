"""Run the per-image chain over many items, resumably, and write the run's tables."""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from morpho.batch.items import BatchItem
from morpho.batch.local import WorkerStartError, default_workers, run_local
from morpho.batch.lock import RunLock
from morpho.batch.outputs import (
    failure_table,
    image_table,
    measurement_batches,
    remove_stale_temporaries,
    write_measurements,
    write_tables,
)
from morpho.batch.store import ResultStore, item_fingerprint
from morpho.batch.worker import ImageResult, WorkerFactory, storing_worker
from morpho.errors import MorphoError
from morpho.io.files import output_names
from morpho.stored import publish, remove_staging

STORE_NAME = "state.sqlite"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchSummary:
    total: int
    ok: int
    failed: int
    processed_now: int
    seconds: float
    out_dir: Path
    failures: list[tuple[str, str]]  # (file, cause)


class _RateColumn(ProgressColumn):
    """Images per second processed in this run (resumed images not counted)."""

    def render(self, task: Task) -> Text:
        done, elapsed = task.completed - task.fields.get("resumed", 0), task.elapsed
        if not done or not elapsed:
            return Text("-- img/s", style="progress.data.speed")
        return Text(f"{done / elapsed:.2f} img/s", style="progress.data.speed")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _score(measurements: Path, out_dir: Path, reference: Path) -> None:
    """``morpho stats`` scores of the vertebrae with a level name (others cannot be scored),
    streamed from the run's table."""
    from morpho.stats.workflow import score_files

    levels = pd.read_parquet(measurements, columns=["level"])["level"]
    if not (levels.fillna("").astype(str) != "").any():
        raise MorphoError(out_dir, "no vertebra has a level name, so none can be scored")
    score_files(measurements, out_dir, reference, key="file", parquet=True, named_only=True)


def run_batch(
    items: Sequence[BatchItem],
    out_dir: Path,
    factory: WorkerFactory,
    *,
    engine: str = "local",
    workers: int | None = None,
    chunk_size: int = 4,
    address: str | None = None,
    settings: dict[str, Any] | None = None,
    reference: Path | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Process the items not yet in ``out_dir``'s store, then write the tables of all items.

    ``factory`` builds the per-image worker once per process; a worker that keeps files per
    film (``ChainWorker``) stages them and the driver publishes each film's under
    ``films/`` before committing it (``morpho.stored``). ``settings`` (model, decode
    options) are recorded in the store and ``run.json``; resuming with other settings is
    refused. An item runs again when
    its file changed since (size, modification time or the hash of its first and last
    blocks) or when it failed. One run at a time per ``out_dir`` (``RunLock``). With
    ``reference`` (a ``morpho stats fit`` file), the vertebrae are also scored into
    ``scores.parquet`` and ``subjects.parquet``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    workers = workers or default_workers()
    if reference is not None:
        from morpho.stats.reference import Reference

        Reference.load(reference)  # refused before any work if it is not plain data
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with RunLock(out_dir):
        remove_stale_temporaries(out_dir)
        try:
            storing = functools.partial(storing_worker, factory, str(out_dir))
            execution = _Execution(storing, engine, workers, chunk_size, address)
            images, failures, processed = _run_and_write(
                items, out_dir, execution, settings or {}, progress
            )
        except sqlite3.Error as exc:
            raise MorphoError(out_dir, f"the resume store {STORE_NAME} failed: {exc}") from None
        finally:
            remove_staging(out_dir)  # what failed films left
        write_run_record(out_dir, settings or {}, images)
        if reference is not None:
            _score(out_dir / "measurements.parquet", out_dir, Path(reference))
    return BatchSummary(
        total=len(items),
        ok=int((images["status"] == "ok").sum()),
        failed=len(failures),
        processed_now=processed,
        seconds=time.perf_counter() - start,
        out_dir=out_dir,
        failures=list(failures.itertuples(index=False, name=None)),
    )


def write_run_record(out_dir: Path, settings: dict[str, Any], images: pd.DataFrame) -> Path:
    """run.json: the morpho version, the run's settings, the model version(s) and model file
    hash(es) of its measured films, and the format of the files stored per film."""
    from morpho import __version__
    from morpho.atomic import write_text
    from morpho.stored import FILMS, FORMAT

    ok = images[images["status"] == "ok"]

    def values(column: str) -> list[str]:
        return sorted({str(v) for v in ok[column].dropna()}) if column in ok else []

    record = {"morpho_version": __version__, "settings": settings,
              "model_version": values("model_version"), "model_sha256": values("model_sha256"),
              "stored": {"format": FORMAT, "folder": FILMS,
                         "films": int(ok["stored"].notna().sum())}}  # fmt: skip
    return write_text(Path(out_dir) / "run.json", json.dumps(record, indent=2, default=str))


@dataclass(frozen=True)
class _Execution:
    """Where and how the items run: the worker factory on local processes or Ray."""

    factory: WorkerFactory
    engine: str
    workers: int
    chunk_size: int
    address: str | None

    def run(self, todo: list[BatchItem], commit: Callable[[list[ImageResult]], None]) -> None:
        try:
            if self.engine == "ray" and todo:
                from morpho.batch.ray_engine import run_ray

                run_ray(todo, self.factory, self.workers, self.chunk_size, commit,
                        address=self.address)  # fmt: skip
            else:
                size = self.chunk_size
                chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
                run_local(chunks, self.factory, self.workers, commit)
        except WorkerStartError as exc:
            raise MorphoError(None, f"a worker could not start: {exc}") from None


def _run_and_write(
    items: Sequence[BatchItem],
    out_dir: Path,
    execution: _Execution,
    settings: dict[str, Any],
    progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Run what the store lacks, then write the tables; (images, failures, items run)."""
    with ResultStore(out_dir / STORE_NAME) as store:
        store.check_settings(settings)
        fingerprints = {item.key: item_fingerprint(item) for item in items}
        done = store.done_keys(fingerprints)
        todo = [item for item in items if item.key not in done]
        names = dict(zip(fingerprints, output_names(list(fingerprints)), strict=True))
        with _progress(progress) as bar:
            resumed = len(items) - len(todo)
            task = bar.add_task("batch", total=len(items), completed=resumed, resumed=resumed)

            def commit(results: list[ImageResult]) -> None:
                for result in results:  # each film's files in place before it counts as done
                    prefix = publish(out_dir, result.key, names[result.key]) if (
                        result.status == "ok") else None
                    if prefix is not None:
                        result.facts["stored"] = prefix
                store.add(results, fingerprints)
                bar.advance(task, len(results))

            execution.run(todo, commit)
        outcomes = store.outcomes()
        images = image_table(items, outcomes)
        failures = failure_table(items, outcomes)
        write_measurements(out_dir, measurement_batches(items, store, images))
        write_tables(out_dir, images, failures)
    return images, failures, len(todo)
