"""The scale-out engine: Ray Data, with an actor pool that holds one worker per actor.

The input list travels through Ray's object store, not the driver's heap: the items are
turned into Arrow tables ``SLAB_ROWS`` at a time and ``ray.put`` (a million paths are a few
dozen objects, about 0.2 GB in the store), and the dataset is a list of block numbers
whose first step fetches its rows from those objects. Each block holds
``chunk_size * CHUNKS_PER_BLOCK`` items, so results still reach the driver (and the resume
store) a few chunks at a time. On a cluster (``address``) the driver writes the store and
the tables; the workers read the files, so every node needs the same paths.

Driver memory for 1,000,000 synthetic items (``analysis/ray_input_memory.py``, 2026-12-06,
the 2-core machine, Ray 2.60, chunk size 4): the list of BatchItems the runner holds is
0.62 GiB. Making the dataset from it took the driver's peak RSS to 1.58 GiB with the dict
rows and ``from_items`` of before, and kept 0.25 GiB of rows and blocks after the list was
dropped; with the slabs the peak is 1.24 GiB and 0.20 GiB stays (the block numbers), and
fed from a generator instead of a list the peak is 0.62 GiB (Ray itself: 0.25 GiB).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from morpho.batch.items import BatchItem
from morpho.batch.worker import ImageResult, WorkerFactory, run_chunk

#: Results reach the driver (and the resume store) one block at a time.
CHUNKS_PER_BLOCK = 4
#: Items per object put in Ray's object store.
SLAB_ROWS = 16_384
ITEM_FIELDS = ("key", "path", "subject", "demographics", "settings")


class _RayWorker:
    """A Ray Data actor: builds the worker (loads the model) once, then maps batches."""

    def __init__(self, factory: WorkerFactory):
        self.worker = factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        items = [
            BatchItem(key=str(k), path=str(p), subject=str(s) or None, demographics=json.loads(d),
                      settings=json.loads(o))
            for k, p, s, d, o in zip(*(batch[f] for f in ITEM_FIELDS), strict=True)
        ]  # fmt: skip
        results = run_chunk(self.worker, items)
        return {
            "key": [r.key for r in results],
            "status": [r.status for r in results],
            "cause": [r.cause or "" for r in results],
            "facts": [json.dumps(r.facts, default=float) for r in results],
            "measurements": [r.measurements or b"" for r in results],
        }


def _fetch(slabs: list, block_rows: int, batch: dict[str, np.ndarray]) -> pa.Table:
    """Ray Data step: block numbers -> those blocks' item rows, read from the slabs."""
    import ray

    parts = []
    for block in batch["id"]:
        slab, offset = divmod(int(block) * block_rows, SLAB_ROWS)
        parts.append(ray.get(slabs[slab]).slice(offset, block_rows))
    return pa.concat_tables(parts)


def item_slabs(items: Iterable[BatchItem]) -> Iterator[pa.Table]:
    """The items as Arrow tables of ``SLAB_ROWS`` rows (text columns; dicts as JSON)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, SLAB_ROWS)):
        yield pa.table({
            "key": [item.key for item in chunk],
            "path": [item.path for item in chunk],
            "subject": [item.subject or "" for item in chunk],
            "demographics": [json.dumps(item.demographics, default=float) for item in chunk],
            "settings": [json.dumps(item.settings) for item in chunk],
        })  # fmt: skip


def put_items(items: Iterable[BatchItem], block_rows: int) -> Any:
    """A Ray dataset of the items (object-store slabs; blocks of ``block_rows``), or None.

    ``SLAB_ROWS`` is a multiple of ``block_rows`` where possible, so no block spans two
    slabs; otherwise blocks are one item."""
    import ray

    if SLAB_ROWS % block_rows:
        block_rows = 1
    slabs, total = [], 0
    for slab in item_slabs(items):
        slabs.append(ray.put(slab))
        total += slab.num_rows
    if not total:
        return None
    blocks = math.ceil(total / block_rows)
    # block numbers made here, not by read tasks: an actor pool that holds every CPU of a
    # one-CPU-per-worker cluster would starve those
    numbers = ray.data.from_items([{"id": b} for b in range(blocks)], override_num_blocks=blocks)
    fetch = functools.partial(_fetch, slabs, block_rows)
    return numbers.map_batches(fetch, batch_size=None, batch_format="numpy", zero_copy_batch=True)


def _results(batch: dict[str, np.ndarray]) -> list[ImageResult]:
    return [
        ImageResult(key=str(key), status=str(status), cause=str(cause) or None,
                    facts=json.loads(facts), measurements=bytes(blob) or None)
        for key, status, cause, facts, blob in zip(
            batch["key"], batch["status"], batch["cause"], batch["facts"],
            batch["measurements"], strict=True)
    ]  # fmt: skip


def run_ray(
    items: Iterable[BatchItem],
    factory: WorkerFactory,
    workers: int,
    chunk_size: int,
    on_results: Callable[[list[ImageResult]], None],
    address: str | None = None,
) -> None:
    """Run ``items`` on Ray: a running instance, a cluster at ``address`` (``"auto"``, or
    ``HOST:PORT`` of its head), or a local one started here with ``workers`` CPUs."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
        )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        dataset = put_items(items, chunk_size * CHUNKS_PER_BLOCK)
        if dataset is None:
            return
        dataset = dataset.map_batches(
            _RayWorker,
            fn_constructor_args=(factory,),
            batch_size=chunk_size,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            on_results(_results(batch))
    finally:
        if started_here:
            ray.shutdown()
